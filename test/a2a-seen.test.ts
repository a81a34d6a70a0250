// Tasks seen in the pipeline: spans and log records carrying `a2a.task.id` come in over OTLP/HTTP,
// pass the genai processor, which publishes each (agent, task) it reads as a sighting
// (src/a2a/sightings.ts); the a2a receiver, watching a real @a2a-js/sdk agent with ListTasks off,
// starts following the tasks named with a watched agent (by card name on a span, by configured
// name on a record) and not the one named with another agent. Plus the sightings module itself.
import t from 'tap';
import { freePort, metricValue, startDaemon, startSink, waitFor } from './helper.js';
import { recordsOf, sendTask, spansOf, startAgent } from './a2a-support.js';
import { TaskSightings, MAX_SIGHTING_ID, type TaskSighting } from '../src/a2a/sightings.js';

const str = (key: string, v: string) => ({ key, value: { stringValue: v } });
const hex = (n: number, len: number) => n.toString(16).padStart(len, '0');

t.test('a2a.task.id on spans and records through otlp → genai: the a2a receiver follows those tasks', async (t) => {
  const agent = await startAgent();
  t.teardown(() => agent.kill());
  const bySpan = await sendTask(agent, 'ok:s');
  const byRecord = await sendTask(agent, 'ok:r');
  const stranger = await sendTask(agent, 'ok:x');
  const sink = await startSink();
  const httpPort = await freePort();
  const daemon = await startDaemon(`
receivers:
  otlp: { protocols: { http: { endpoint: 127.0.0.1:${httpPort} } } }
  a2a:
    agents: [ { url: "${agent.url}", name: planner } ]
    list_tasks_interval: 0s
    reconnect: { initial_interval: 50ms, max_interval: 400ms }
processors:
  genai: {}
exporters:
  otlp: { endpoint: ${sink.endpoint}, tls: { insecure: true } }
service:
  pipelines:
    traces: { receivers: [otlp, a2a], processors: [genai], exporters: [otlp] }
    logs: { receivers: [otlp, a2a], processors: [genai], exporters: [otlp] }
`);
  t.teardown(async () => {
    await daemon.stop();
    await sink.close();
  });
  const states = (id: string) => recordsOf(sink.received.logs).filter((r) => r.attrs['a2a.task.id'] === id && r.event === 'a2a.task.status').map((r) => r.attrs['a2a.task.state']);
  await waitFor(() => recordsOf(sink.received.logs).some((r) => r.event === 'a2a.agent.card'), 10_000, 'agent card read (its name is known)');
  t.same(states(bySpan.id), [], 'nothing followed before the task is seen (ListTasks off)');

  const now = BigInt(Date.now()) * 1_000_000n;
  const post = (path: string, body: unknown) => fetch(`http://127.0.0.1:${httpPort}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const span = (i: number, task: string, agentName: string) => ({
    traceId: hex(i, 32), spanId: hex(i, 16), name: 'invoke_agent', kind: 3,
    startTimeUnixNano: String(now), endTimeUnixNano: String(now + 1_000_000n),
    attributes: [str('gen_ai.operation.name', 'invoke_agent'), str('gen_ai.agent.name', agentName), str('a2a.task.id', task)],
  });
  const traces = await post('/v1/traces', { resourceSpans: [{ resource: { attributes: [str('service.name', 'client')] }, scopeSpans: [{ scope: { name: 't' }, spans: [span(1, bySpan.id, 'Planner Agent'), span(2, stranger.id, 'Someone Else')] }] }] });
  t.equal(traces.status, 200);
  const logs = await post('/v1/logs', { resourceLogs: [{ resource: { attributes: [str('service.name', 'client'), str('gen_ai.agent.id', 'planner')] }, scopeLogs: [{ scope: { name: 't' }, logRecords: [{ timeUnixNano: String(now), severityNumber: 9, body: { stringValue: 'asked the planner' }, attributes: [str('a2a.task.id', byRecord.id)] }] }] }] });
  t.equal(logs.status, 200);

  await waitFor(() => states(bySpan.id).includes('working') && states(byRecord.id).includes('working'), 10_000, 'both seen tasks followed');
  agent.gates.open('s');
  agent.gates.open('r');
  await waitFor(() => states(bySpan.id).includes('completed') && states(byRecord.id).includes('completed'), 10_000, 'followed to completed');
  await waitFor(() => spansOf(sink.received.traces).filter((s) => s.name === 'a2a.task').length === 2, 5000, 'two task spans');
  const m = await daemon.metrics();
  t.equal(metricValue(m, 'fleetcol_receiver_a2a_seen_tasks_followed'), 2, 'two tasks followed because they were seen');
  t.same(states(stranger.id), [], 'a task seen with an agent not watched is not followed');
  t.equal(states(bySpan.id).filter((s) => s === 'completed').length, 1, 'completed once (the receiver\'s own records, seen again, start nothing)');
});

t.test('TaskSightings: publishes to listeners once per pair, bounded, clipped, needs an agent', async (t) => {
  const s = new TaskSightings(3);
  const got: TaskSighting[] = [];
  s.publish('a', undefined, 'early');
  t.equal(s.size, 0, 'nothing remembered without listeners');
  const off = s.subscribe((x) => got.push(x));
  t.ok(s.wanted);
  s.publish('a', undefined, 't1');
  s.publish('a', undefined, 't1');
  s.publish(undefined, undefined, 't2');
  s.publish('a', 'A', '');
  t.same(got, [{ agentId: 'a', agentName: undefined, taskId: 't1' }], 'repeat, agentless and empty task dropped');
  for (const id of ['t2', 't3', 't4', 't5']) s.publish(undefined, 'A', id);
  t.equal(s.size, 3, 'at most capacity pairs remembered');
  s.publish('a', undefined, 't1');
  t.equal(got.filter((x) => x.taskId === 't1').length, 2, 'a pair forgotten is published again');
  s.publish('x'.repeat(1000), undefined, 'y'.repeat(1000));
  t.equal(got.at(-1)!.agentId!.length, MAX_SIGHTING_ID);
  t.equal(got.at(-1)!.taskId.length, MAX_SIGHTING_ID);
  const thrower = s.subscribe(() => {
    throw new Error('listener failed');
  });
  t.doesNotThrow(() => s.publish('b', undefined, 't9'), 'a listener that throws does not reach the publisher');
  t.equal(got.at(-1)!.taskId, 't9', 'other listeners still told');
  thrower();
  off();
  t.notOk(s.wanted);
  t.equal(s.size, 0, 'forgotten when the last listener leaves');
});
