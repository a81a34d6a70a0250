// The backend is down for 20 s, then up. fleetcol (in-memory sending queue) keeps accepting,
// retries, and once the backend is back every span arrives, none twice.
import t from 'tap';
import { Buffer } from 'node:buffer';
import { freePort, metricValue, OtlpGrpcClient, sleep, startDaemon, startSink, waitFor, type Sink } from './helper.js';
import { traceRequestOf, traces } from './data.js';

const OUTAGE_MS = 20_000;
const REQUESTS = 60;
const SPANS_PER_REQUEST = 25;
const SEND_EVERY_MS = 250; // the requests go out over the first 15 s of the outage

function spanIdsOf(b: ReturnType<typeof traces>): string[] {
  const ids: string[] = [];
  for (const rs of traceRequestOf(b).resourceSpans) for (const ss of rs.scopeSpans) for (const s of ss.spans) ids.push(Buffer.from(s.spanId).toString('hex'));
  return ids;
}

t.test('backend down for 20 s, then up: every span arrives, none twice (in-memory queue)', async (t) => {
  const backendPort = await freePort(); // nothing listens here for the first 20 s
  const grpcPort = await freePort();
  const daemon = await startDaemon(`
receivers:
  otlp:
    protocols:
      grpc: { endpoint: 127.0.0.1:${grpcPort} }
exporters:
  otlp:
    endpoint: 127.0.0.1:${backendPort}
    tls: { insecure: true }
    compression: none
    timeout: 2s
    retry_on_failure: { initial_interval: 200ms, max_interval: 2s, max_elapsed_time: 0s }
    sending_queue: { queue_size: 1000, num_consumers: 4 }
service:
  shutdown_timeout: 5s
  pipelines:
    traces: { receivers: [otlp], exporters: [otlp] }
`);
  t.teardown(() => daemon.stop());
  const client = new OtlpGrpcClient(grpcPort);
  t.teardown(() => client.close());
  let sink: Sink | undefined;
  t.teardown(() => sink?.close());

  const downSince = Date.now();
  const sent: string[] = [];
  const refused: string[] = [];
  for (let i = 0; i < REQUESTS; i++) {
    const batch = traces(SPANS_PER_REQUEST);
    const bytes = batch.toProto();
    const r = await client.export('traces', Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    if (r.err) refused.push(`${r.err.code}: ${r.err.details}`);
    else sent.push(...spanIdsOf(batch));
    await sleep(SEND_EVERY_MS);
  }
  t.strictSame(refused, [], 'fleetcol accepted every request while the backend was down');
  t.equal(sent.length, REQUESTS * SPANS_PER_REQUEST);

  const m = await daemon.metrics();
  t.ok(metricValue(m, 'fleetcol_exporter_retries_total') > 0, `the exporter is retrying (${metricValue(m, 'fleetcol_exporter_retries_total')} retries so far)`);
  t.equal(metricValue(m, 'fleetcol_exporter_sent_spans'), 0, 'nothing sent yet');

  await sleep(Math.max(0, OUTAGE_MS - (Date.now() - downSince)));
  sink = await startSink({ port: backendPort });
  const upAt = Date.now();
  const s = sink;
  await waitFor(() => s.items('traces') >= sent.length, 40_000, `${sent.length} spans at the backend`);
  const recoveredMs = Date.now() - upAt;
  await sleep(1500); // anything sent twice would show up by now

  const counts = new Map<string, number>();
  for (const b of s.received.traces) for (const id of spanIdsOf(b)) counts.set(id, (counts.get(id) ?? 0) + 1);
  t.strictSame(sent.filter((id) => !counts.has(id)), [], 'no span lost');
  t.strictSame([...counts].filter(([, n]) => n > 1).map(([id, n]) => `${id} x${n}`), [], 'none twice');
  t.equal(s.items('traces'), sent.length, `${sent.length} spans delivered`);
  // Reconnect backoff capped at min(retry max_interval, 5 s), plus one retry wait (max_interval 2 s).
  t.ok(recoveredMs < 10_000, `delivered ${recoveredMs} ms after the backend came up`);

  const after = await daemon.metrics();
  t.equal(metricValue(after, 'fleetcol_exporter_sent_spans'), sent.length, 'counted as sent');
  t.equal(metricValue(after, 'fleetcol_exporter_send_failed_spans'), 0, 'no send counted as failed');
  t.equal(metricValue(after, 'fleetcol_exporter_enqueue_failed_spans'), 0, 'nothing refused by the queue');
  t.equal(metricValue(after, 'fleetcol_exporter_queue_size'), 0, 'the queue is empty');
  t.equal(metricValue(after, 'fleetcol_exporter_queue_bytes'), 0, 'and holds no bytes');
  t.comment(`backend down ${OUTAGE_MS} ms; all ${sent.length} spans delivered ${recoveredMs} ms after it came up`);
});
