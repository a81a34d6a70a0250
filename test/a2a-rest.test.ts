// The a2a receiver over the HTTP+JSON (REST) binding, against a real agent built with @a2a-js/sdk
// 1.3.0 whose card offers only HTTP+JSON interfaces, served by the SDK's Express `restHandler`
// (v1.0 paths `/tasks...`, v0.3 paths `/v1/tasks...` through its compat layer): tasks listed with
// `GET /tasks`, followed with `GET /tasks/{id}:subscribe` to their end, a task that ended before it
// was followed settled with `GET /tasks/{id}`; the records and spans are those of JSON-RPC.
import t, { type Test } from 'tap';
import { metricValue, startDaemon, startSink, waitFor, type Daemon, type Sink } from './helper.js';
import { TRACEPARENT, recordsOf, sendTask, spansOf, startAgent, type Rec, type TestAgent } from './a2a-support.js';

async function setup(t: Test, agent: TestAgent, extra: string, listEvery = '100ms'): Promise<{ daemon: Daemon; sink: Sink }> {
  const sink = await startSink();
  const daemon = await startDaemon(`
receivers:
  a2a:
    agents: [ { url: "${agent.url}", name: planner${extra} } ]
    list_tasks_interval: ${listEvery}
    reconnect: { initial_interval: 50ms, max_interval: 400ms }
exporters:
  otlp: { endpoint: ${sink.endpoint}, tls: { insecure: true } }
service:
  pipelines:
    logs: { receivers: [a2a], exporters: [otlp] }
    traces: { receivers: [a2a], exporters: [otlp] }
`);
  t.teardown(async () => {
    await daemon.stop();
    await sink.close();
  });
  return { daemon, sink };
}

const recs = (sink: Sink) => recordsOf(sink.received.logs);
const ofTask = (sink: Sink, id: string): Rec[] => recs(sink).filter((r) => r.attrs['a2a.task.id'] === id);
const states = (sink: Sink, id: string) => ofTask(sink, id).filter((r) => r.event === 'a2a.task.status').map((r) => r.attrs['a2a.task.state']);

t.test('v1.0 REST: tasks listed with GET /tasks, followed with GET /tasks/{id}:subscribe to completed and failed', async (t) => {
  const agent = await startAgent({ binding: 'HTTP+JSON' });
  t.teardown(() => agent.kill());
  const { daemon, sink } = await setup(t, agent, '');
  await waitFor(() => recs(sink).some((r) => r.event === 'a2a.agent.card'), 10_000, 'agent card record');
  const ok = await sendTask(agent, 'trace:ok:a');
  const bad = await sendTask(agent, 'fail:b');
  await waitFor(() => states(sink, ok.id).includes('working') && states(sink, bad.id).includes('working'), 10_000, 'both tasks followed in working');
  agent.gates.open('a');
  agent.gates.open('b');
  await waitFor(() => spansOf(sink.received.traces).length >= 2, 10_000, 'two task spans');
  await waitFor(() => states(sink, bad.id).includes('failed'), 5000, 'failed record');

  t.ok(agent.requests.some((r) => r.startsWith('GET /a2a/rest/tasks?') || r === 'GET /a2a/rest/tasks'), 'ListTasks as GET /tasks');
  t.ok(agent.requests.includes(`GET /a2a/rest/tasks/${ok.id}:subscribe`), 'SubscribeToTask as GET /tasks/{id}:subscribe');
  t.notOk(agent.requests.some((r) => r.includes('jsonrpc')), 'no JSON-RPC request');

  const card = recs(sink).find((r) => r.event === 'a2a.agent.card')!;
  t.equal(card.attrs['a2a.protocol.version'], '1.0');
  const okStates = states(sink, ok.id);
  t.equal(okStates.at(-1), 'completed');
  t.ok(okStates.includes('working'));
  t.equal(okStates.filter((s) => s === 'completed').length, 1, 'completed reported once');
  const artifacts = ofTask(sink, ok.id).filter((r) => r.event === 'a2a.task.artifact');
  t.equal(artifacts.length, 1, 'one artifact record');
  t.equal(artifacts[0]!.attrs['a2a.artifact.id'], 'answer');
  const done = ofTask(sink, ok.id).find((r) => r.attrs['a2a.task.state'] === 'completed' && r.event === 'a2a.task.status')!;
  t.equal(done.severity, 9);
  t.equal(done.body, 'done');
  t.equal(done.attrs['a2a.protocol.version'], '1.0');
  t.equal(done.attrs['gen_ai.agent.id'], 'planner');
  t.equal(done.attrs['gen_ai.conversation.id'], ok.contextId);
  t.equal(done.resource['service.name'], 'Planner Agent');
  const failed = ofTask(sink, bad.id).find((r) => r.attrs['a2a.task.state'] === 'failed')!;
  t.equal(failed.severity, 17);
  t.equal(failed.body, 'model refused');

  const spans = spansOf(sink.received.traces);
  t.equal(spans.length, 2, 'one span per task');
  const okSpan = spans.find((s) => s.attrs['a2a.task.id'] === ok.id)!;
  t.equal(okSpan.status, 1);
  t.equal(okSpan.traceId, TRACEPARENT.split('-')[1], 'trace id from the traceparent in task metadata');
  t.equal(spans.find((s) => s.attrs['a2a.task.id'] === bad.id)!.status, 2);
  t.equal(metricValue(await daemon.metrics(), 'fleetcol_receiver_a2a_malformed_events'), 0);
});

t.test('v0.3 REST (SDK compat layer, /v1 paths): a task named in config followed; one that had ended is settled with GET', async (t) => {
  const agent = await startAgent({ name: 'Legacy Agent', binding: 'HTTP+JSON' });
  t.teardown(() => agent.kill());
  const live = await sendTask(agent, 'ok:c');
  const over = await sendTask(agent, 'ok:e');
  agent.gates.open('e');
  await waitFor(async () => ((await (await fetch(`${agent.url}/a2a/rest/tasks/${over.id}`, { headers: { 'a2a-version': '1.0' } })).json()) as { status?: { state?: string } }).status?.state === 'TASK_STATE_COMPLETED', 5000, 'task e completed before fleetcol starts');
  const { sink } = await setup(t, agent, `, protocol_version: "0.3" } ]\n    tasks: [ { agent: planner, id: "${live.id}" }, { agent: planner, id: "${over.id}"`, '0s');
  await waitFor(() => states(sink, live.id).includes('working'), 10_000, 'v0.3 task followed');
  agent.gates.open('c');
  await waitFor(() => states(sink, live.id).includes('completed'), 10_000, 'completed over v0.3 REST');
  await waitFor(() => states(sink, over.id).includes('completed'), 10_000, 'the ended task settled');
  await waitFor(() => spansOf(sink.received.traces).length === 2, 5000, 'two spans');
  t.ok(agent.requests.includes(`POST /a2a/rest/v1/tasks/${live.id}:subscribe`), 'tasks/resubscribe as POST /v1/tasks/{id}:subscribe');
  t.ok(agent.requests.includes(`GET /a2a/rest/v1/tasks/${over.id}`), 'tasks/get as GET /v1/tasks/{id}');
  const r = ofTask(sink, live.id);
  t.ok(r.every((x) => x.attrs['a2a.protocol.version'] === '0.3'), 'records say v0.3 (the version spoken; v0.3 REST sends proto-shaped JSON)');
  t.equal(r.filter((x) => x.event === 'a2a.task.artifact').length, 1, 'artifact-update read by kind');
  t.equal(states(sink, live.id).filter((s) => s === 'completed').length, 1);
  t.equal(states(sink, over.id).filter((s) => s === 'completed').length, 1, 'ended task reported once');
});
