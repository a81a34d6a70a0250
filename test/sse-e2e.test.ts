// The daemon end to end: OTLP/HTTP logs through coalesce into sse, traces straight into sse; the
// stream, /v1/agents and fleetcol's own metrics.
import t from 'tap';
import { freePort, metricValue, sleep, startDaemon, waitFor } from './helper.js';
import { openStream, records, spans, waitEvent } from './sse-support.js';

t.test('OTLP in, coalesced feed out', async (t) => {
  const [otlp, sse] = [await freePort(), await freePort()];
  const d = await startDaemon(`
receivers:
  otlp:
    protocols:
      http: { endpoint: 127.0.0.1:${otlp} }
processors:
  coalesce: { window: 300ms }
exporters:
  sse: { endpoint: 127.0.0.1:${sse}, heartbeat_interval: 0s, flush_interval: 10ms }
service:
  pipelines:
    logs: { receivers: [otlp], processors: [coalesce], exporters: [sse] }
    traces: { receivers: [otlp], exporters: [sse] }
`);
  t.teardown(() => d.stop());
  const st = await openStream(`http://127.0.0.1:${sse}/v1/events`);
  t.teardown(() => st.close());
  await waitEvent(st, (e) => e.type === 'subscription_confirmed');
  const post = (path: string, body: string) => fetch(`http://127.0.0.1:${otlp}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const burst = (from: number) =>
    records(Array.from({ length: 50 }, (_, i) => ({ agent: 'e2e', event: 'a2a.task.status', state: 'working', task: 'T', attrs: [{ key: 'a2a.task.progress', value: { intValue: BigInt(from + i) } }] }))).toJSON();
  t.equal((await post('/v1/logs', burst(0))).status, 200);
  await waitEvent(st, (e) => e.type === 'task_started', 'task_started', 5000);
  t.equal((await post('/v1/logs', burst(50))).status, 200);
  await post('/v1/traces', spans([{ agent: 'e2e', inTokens: 7 }]).toJSON());
  await waitEvent(st, (e) => e.type === 'span');
  await waitEvent(st, (e) => e.type === 'progress_update', 'coalesced progress', 5000);
  await sleep(400);
  const tasks = st.events.filter((e) => e.type === 'task_started' || e.type === 'progress_update');
  t.same(tasks.map((e) => e.type), ['task_started', 'progress_update'], 'two bursts of 50 updates: one event each');
  t.equal(tasks[1]!.data.progress, 99, 'the latest update');
  const agents = (await (await fetch(`http://127.0.0.1:${sse}/v1/agents`)).json()) as any;
  t.equal(agents.agents[0].id, 'e2e');
  t.equal(agents.agents[0].status, 'working');
  await waitFor(async () => metricValue(await d.metrics(), 'fleetcol_exporter_sse_events_published') > 0, 5000, 'metrics');
  const m = await d.metrics();
  t.ok(metricValue(m, 'fleetcol_processor_coalesce_coalesced') === 98);
  t.equal(metricValue(m, 'fleetcol_exporter_sse_clients'), 1);
  t.equal(await d.stop(), 0, 'clean stop');
  await st.ended;
  t.ok(st.retries.length === 2, 'retry: before the planned shutdown');
});
