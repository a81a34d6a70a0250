// A plain named-event SSE feed with ids, cut mid-stream: the a2a receiver resumes with
// Last-Event-ID, and every event reaches the sink exactly once; multi-line data, unknown event
// names and a malformed frame are handled as the README says.
import t from 'tap';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { metricValue, startDaemon, startSink, waitFor } from './helper.js';
import { recordsOf } from './a2a-support.js';

const EVENTS: [string, string][] = [
  ['subscription_confirmed', '{"agent":"scout"}'],
  ['task_started', '{"agent":"scout","task_id":"t1"}'],
  ['progress_update', '{"agent":"scout",\ndata: "task_id":"t1","progress":0.5}'],
  ['heartbeat', '{"agent":"scout"}'],
  ['alert', '{"agent":"scout","name":"cost","message":"over budget"}'],
  ['mystery_event', '{"agent":"scout","x":1}'],
  ['warning', '{"agent":"scout","message":"slow"}'],
  ['task_failed', '{"agent":"scout","task_id":"t1","message":"boom"}'],
  ['error_occurred', '{"agent":"scout","message":"boom"}'],
  ['agent_offline', '{"agent":"scout"}'],
];

t.test('a feed cut mid-stream is resumed with Last-Event-ID: nothing lost, nothing repeated', async (t) => {
  const lastIds: (string | undefined)[] = [];
  const server = http.createServer((req, res) => {
    const last = req.headers['last-event-id'] as string | undefined;
    lastIds.push(last);
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('retry: 50\n\n');
    const from = last === undefined ? 0 : Number(last);
    const first = lastIds.length === 1;
    const upto = first ? 5 : EVENTS.length;
    for (let i = from; i < upto; i++) {
      const [name, data] = EVENTS[i]!;
      res.write(`id: ${i + 1}\nevent: ${name}\ndata: ${data}\n\n`);
      if (first && i === 1) res.write('event: task_started\ndata: {not json\n\n');
    }
    if (first) setTimeout(() => res.socket?.destroy(), 50);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  const sink = await startSink();
  const daemon = await startDaemon(`
receivers:
  a2a:
    feeds: [ { url: "http://127.0.0.1:${port}/events", name: feedy } ]
    reconnect: { initial_interval: 20ms, max_interval: 200ms }
exporters:
  otlp: { endpoint: ${sink.endpoint}, tls: { insecure: true } }
service:
  pipelines:
    logs: { receivers: [a2a], exporters: [otlp] }
`);
  t.teardown(async () => {
    await daemon.stop();
    await sink.close();
    server.closeAllConnections();
    server.close();
  });
  await waitFor(() => recordsOf(sink.received.logs).length >= EVENTS.length, 10_000, 'every feed event');
  await new Promise((r) => setTimeout(r, 300));
  const recs = recordsOf(sink.received.logs);
  // The exporter sends with several consumers, so batches may arrive out of order: compare as sets.
  t.same(recs.map((r) => Number(r.attrs['fleet.feed.event_id'])).sort((a, b) => a - b), EVENTS.map((_, i) => i + 1), 'ids 1..10, once each');
  t.same(lastIds.slice(0, 2), [undefined, '5'], 'reconnected with Last-Event-ID: 5');
  const by = (type: string) => recs.find((r) => r.attrs['fleet.feed.event_type'] === type)!;
  t.equal(by('task_started').event, 'a2a.task.status');
  t.equal(by('task_started').attrs['a2a.task.state'], 'submitted');
  t.equal(by('progress_update').attrs['a2a.task.progress'], '0.5', 'JSON over two data: lines');
  t.equal(by('task_failed').attrs['a2a.task.state'], 'failed');
  t.equal(by('task_failed').severity, 17);
  t.equal(by('heartbeat').event, 'fleet.agent.heartbeat');
  t.equal(by('alert').event, 'fleet.alert');
  t.equal(by('alert').attrs['alert.name'], 'cost');
  t.equal(by('mystery_event').event, 'fleet.feed.event', 'unknown names become generic records');
  t.equal(by('warning').severity, 13);
  t.equal(by('error_occurred').severity, 17);
  t.ok(recs.every((r) => r.attrs['gen_ai.agent.id'] === 'scout' && r.resource['service.name'] === 'scout'), 'agent from the data');
  t.equal(metricValue(await daemon.metrics(), 'fleetcol_receiver_a2a_malformed_events', 'source="feed"'), 1, 'the bad-JSON frame counted and skipped');
});
