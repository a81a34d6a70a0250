// The a2a receiver against a real agent built with @a2a-js/sdk 1.3.0 (v1.0 server, its Express
// JSON-RPC and agent-card handlers, its v0.3 compatibility layer on): tasks found by ListTasks and
// followed with SubscribeToTask (v1.0), a task named in config followed with tasks/resubscribe
// (v0.3), the agent killed mid-task and restarted. fleetcol sends to a sink (otlp exporter) and
// serves an sse feed, which a plain HTTP SSE client follows.
import t, { type Test } from 'tap';
import { createHash } from 'node:crypto';
import { freePort, metricValue, startDaemon, startSink, waitFor, type Daemon, type Sink } from './helper.js';
import { openStream, type RawStream } from './sse-stream.js';
import { TRACEPARENT, recordsOf, sendTask, spansOf, startAgent, type Rec, type TestAgent } from './a2a-support.js';

async function setup(t: Test, agent: TestAgent, extra: string): Promise<{ daemon: Daemon; sink: Sink; feed: RawStream }> {
  const sink = await startSink();
  const ssePort = await freePort();
  const daemon = await startDaemon(`
receivers:
  a2a:
    agents: [ { url: "${agent.url}", name: planner${extra} } ]
    list_tasks_interval: 100ms
    reconnect: { initial_interval: 50ms, max_interval: 400ms }
exporters:
  otlp: { endpoint: ${sink.endpoint}, tls: { insecure: true } }
  sse: { endpoint: 127.0.0.1:${ssePort} }
service:
  pipelines:
    logs: { receivers: [a2a], exporters: [otlp, sse] }
    traces: { receivers: [a2a], exporters: [otlp, sse] }
`);
  const feed = await openStream(`http://127.0.0.1:${ssePort}/v1/events`);
  t.teardown(async () => {
    feed.close();
    await daemon.stop();
    await sink.close();
  });
  return { daemon, sink, feed };
}

const recs = (sink: Sink) => recordsOf(sink.received.logs);
const ofTask = (sink: Sink, id: string): Rec[] => recs(sink).filter((r) => r.attrs['a2a.task.id'] === id);
const states = (sink: Sink, id: string) => ofTask(sink, id).filter((r) => r.event === 'a2a.task.status').map((r) => r.attrs['a2a.task.state']);
const derivedTraceId = (id: string) => createHash('sha256').update(id).digest().subarray(0, 16).toString('hex');

t.test('v1.0: tasks listed, followed to completed and failed; records, spans and the sse feed', async (t) => {
  const agent = await startAgent();
  t.teardown(() => agent.kill());
  const { daemon, sink, feed } = await setup(t, agent, '');
  await waitFor(() => recs(sink).some((r) => r.event === 'a2a.agent.card'), 10_000, 'agent card record');
  const ok = await sendTask(agent, 'trace:ok:a');
  const bad = await sendTask(agent, 'fail:b');
  await waitFor(() => states(sink, ok.id).includes('working') && states(sink, bad.id).includes('working'), 10_000, 'both tasks followed in working');
  agent.gates.open('a');
  agent.gates.open('b');
  await waitFor(() => spansOf(sink.received.traces).length >= 2, 10_000, 'two task spans');
  await waitFor(() => states(sink, bad.id).includes('failed'), 5000, 'failed record');

  const card = recs(sink).find((r) => r.event === 'a2a.agent.card')!;
  t.equal(card.attrs['gen_ai.agent.id'], 'planner');
  t.equal(card.attrs['gen_ai.agent.name'], 'Planner Agent');
  t.equal(card.attrs['a2a.protocol.version'], '1.0', 'v1.0 interface chosen from the card');
  t.equal(card.attrs['a2a.agent.version'], '1.2.3');

  const okStates = states(sink, ok.id);
  t.equal(okStates.at(-1), 'completed');
  t.ok(okStates.includes('working'));
  t.equal(okStates.filter((s) => s === 'completed').length, 1, 'completed reported once');
  const artifacts = ofTask(sink, ok.id).filter((r) => r.event === 'a2a.task.artifact');
  t.equal(artifacts.length, 1, 'one artifact record');
  t.equal(artifacts[0]!.attrs['a2a.artifact.id'], 'answer');
  const done = ofTask(sink, ok.id).find((r) => r.attrs['a2a.task.state'] === 'completed' && r.event === 'a2a.task.status')!;
  t.equal(done.severity, 9, 'completed is INFO');
  t.equal(done.attrs['a2a.protocol.version'], '1.0');
  t.equal(done.attrs['gen_ai.agent.id'], 'planner');
  t.equal(done.attrs['gen_ai.agent.name'], 'Planner Agent');
  t.equal(done.attrs['gen_ai.conversation.id'], ok.contextId);
  t.equal(done.resource['service.name'], 'Planner Agent');
  t.equal(done.body, 'done');
  const failed = ofTask(sink, bad.id).find((r) => r.attrs['a2a.task.state'] === 'failed')!;
  t.equal(failed.severity, 17, 'failed is ERROR');
  t.equal(failed.body, 'model refused');

  const spans = spansOf(sink.received.traces);
  const okSpan = spans.find((s) => s.attrs['a2a.task.id'] === ok.id)!;
  const badSpan = spans.find((s) => s.attrs['a2a.task.id'] === bad.id)!;
  t.equal(okSpan.status, 1, 'completed span OK');
  t.equal(okSpan.traceId, TRACEPARENT.split('-')[1], 'trace id from the traceparent in task metadata');
  t.equal(okSpan.parentSpanId, TRACEPARENT.split('-')[2], 'parented on the traceparent span');
  t.ok(okSpan.end > okSpan.start, 'span covers first seen → last event');
  t.equal(badSpan.status, 2, 'failed span ERROR');
  t.equal(badSpan.traceId, derivedTraceId(bad.id), 'trace id derived from the task id');
  t.equal(done.traceId, okSpan.traceId, 'records carry the task span trace id');
  t.equal(spans.length, 2, 'one span per task');

  // The sse exporter's feed, read by a plain HTTP client.
  await waitFor(() => feed.events.some((e) => e.type === 'task_failed'), 5000, 'task_failed on the feed');
  const ev = (type: string, id: string) => feed.events.find((e) => e.type === type && (e.data as { task_id?: string }).task_id === id);
  t.ok(ev('task_started', ok.id), 'task_started');
  t.ok(ev('task_completed', ok.id), 'task_completed');
  t.ok(ev('task_started', bad.id), 'task_started (failing task)');
  t.ok(ev('task_failed', bad.id), 'task_failed');
  t.equal(feed.events.filter((e) => e.type === 'task_completed').length, 1, 'no second task_completed (the span does not end the task again)');
  t.equal(metricValue(await daemon.metrics(), 'fleetcol_receiver_a2a_malformed_events'), 0);
});

t.test('v0.3 (SDK compat layer): a task named in config, followed with tasks/resubscribe', async (t) => {
  const agent = await startAgent({ name: 'Legacy Agent' });
  t.teardown(() => agent.kill());
  const task = await sendTask(agent, 'ok:c');
  const { sink, feed } = await setup(t, agent, `, protocol_version: "0.3" } ]\n    tasks: [ { agent: planner, id: "${task.id}"`);
  await waitFor(() => states(sink, task.id).includes('working'), 10_000, 'v0.3 task followed');
  agent.gates.open('c');
  await waitFor(() => states(sink, task.id).includes('completed'), 10_000, 'completed over v0.3');
  const r = ofTask(sink, task.id);
  t.ok(r.every((x) => x.attrs['a2a.protocol.version'] === '0.3'), 'records say v0.3');
  t.equal(r.filter((x) => x.event === 'a2a.task.artifact').length, 1, 'artifact-update read by kind');
  t.equal(states(sink, task.id).filter((s) => s === 'completed').length, 1);
  await waitFor(() => spansOf(sink.received.traces).length === 1, 5000, 'span');
  await waitFor(() => feed.events.some((e) => e.type === 'task_completed'), 5000, 'task_completed on the feed');
});

t.test('agent killed mid-task and restarted: reconnects with backoff, follows the task to its end', async (t) => {
  const agent = await startAgent();
  t.teardown(() => agent.kill());
  const { daemon, sink } = await setup(t, agent, '');
  const task = await sendTask(agent, 'ok:d');
  await waitFor(() => states(sink, task.id).includes('working'), 10_000, 'task followed');
  await agent.kill();
  await waitFor(async () => metricValue(await daemon.metrics(), 'fleetcol_receiver_a2a_reconnects', 'source="task"') >= 2, 10_000, 'reconnect attempts while down');
  await agent.restart();
  await waitFor(async () => metricValue(await daemon.metrics(), 'fleetcol_receiver_a2a_sources_down') === 0, 10_000, 'source up again');
  agent.gates.open('d');
  await waitFor(() => states(sink, task.id).includes('completed'), 10_000, 'completed after restart');
  await waitFor(() => spansOf(sink.received.traces).length === 1, 5000, 'one span');
  t.equal(states(sink, task.id).filter((s) => s === 'working').length, 1, 'working not reported again after resubscribing');
  t.equal(ofTask(sink, task.id).filter((r) => r.event === 'a2a.task.artifact').length, 1, 'artifact once');
  t.equal(states(sink, task.id).filter((s) => s === 'completed').length, 1, 'completed once');
});
