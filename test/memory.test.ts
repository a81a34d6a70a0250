// Memory: what the pipeline holds is bounded by config and accounted, process-wide, in one place a
// memory_limiter can read (src/memory.ts): receiver requests in flight (max_inflight_bytes),
// the batch processor's pending batches, exporter queues (queued, in flight, waiting for room).
import t from 'tap';
import { batchProcessorFactory } from '../processors/batch/factory.js';
import { otlpExporterFactory } from '../exporters/otlp/factory.js';
import { consumerOf, RetryableError } from '../src/consumer.js';
import { memoryAccounting } from '../src/memory.js';
import { Telemetry } from '../src/pdata/telemetry.js';
import { freePort, metricValue, OtlpGrpcClient, settings, sleep, startDaemon, startSink, waitFor } from './helper.js';
import { traces } from './data.js';

const host = { extension: () => undefined };
const held = (kind: string, id: string) => memoryAccounting.snapshot().filter((h) => h.kind === kind && h.id === id).reduce((a, h) => a + h.bytes, 0);

t.test('exporter queue bytes: queued and in flight, back to 0 once sent', async (t) => {
  const sink = await startSink({ delayMs: 300 });
  t.teardown(() => sink.close());
  const set = settings('exporter', 'otlp/mem');
  const d = otlpExporterFactory.createDefaultConfig();
  const exp = otlpExporterFactory.createExporter!(set, { ...d, endpoint: sink.endpoint, tls: { insecure: true }, sending_queue: { ...d.sending_queue, num_consumers: 1, queue_size: 10, block_timeout: 1000 } }, ['traces']);
  await exp.start(host);
  const batches = [traces(5), traces(7), traces(9)];
  const total = batches.reduce((a, b) => a + b.byteSize, 0);
  for (const b of batches) await exp.consume(b);
  t.equal(held('exporter', 'otlp/mem'), total, `one in flight + two queued = ${total} bytes`);
  t.equal(metricValue(await set.registry.prom.metrics(), 'fleetcol_exporter_queue_bytes'), total, 'published as fleetcol_exporter_queue_bytes');
  await waitFor(() => sink.items('traces') === 21, 5000, 'all sent');
  await waitFor(() => held('exporter', 'otlp/mem') === 0, 2000, 'released once acknowledged');
  await exp.shutdown();
});

t.test('batch processor bytes: pending batches, split parts included, back to 0 once passed on', async (t) => {
  let refuse = true;
  const out: Telemetry[] = [];
  const next = consumerOf(async (b) => {
    if (refuse) throw new RetryableError('not now', { retryAfterMs: 50 });
    out.push(b);
  });
  const set = settings('processor', 'batch/mem');
  const p = batchProcessorFactory.createProcessor!(set, { send_batch_size: 10, timeout: 10_000, send_batch_max_size: 4, max_pending_items: 1000 }, 'traces', next);
  await p.start(host);
  const a = traces(6);
  const b = traces(6);
  await p.consume(a);
  t.equal(held('processor', 'batch/mem'), a.byteSize, 'a buffered batch');
  await p.consume(b); // 12 >= 10: cut, merged, split into parts of at most 4
  await sleep(20);
  const parts = Telemetry.merge([a, b]).split(4);
  t.equal(parts.length, 3);
  t.equal(held('processor', 'batch/mem'), parts.reduce((x, y) => x + y.byteSize, 0), 'the split parts (resource and scope repeated in each)');
  t.equal(metricValue(await set.registry.prom.metrics(), 'fleetcol_processor_batch_pending_bytes'), held('processor', 'batch/mem'));
  refuse = false;
  await waitFor(() => out.length === 3, 3000, 'passed on');
  t.equal(held('processor', 'batch/mem'), 0);
  await p.shutdown();
  t.equal(memoryAccounting.snapshot().filter((h) => h.id === 'batch/mem').length, 0, 'unregistered at shutdown');
});

// A slow backend behind a one-request queue that blocks: requests wait in the pipeline, so the
// receiver holds them, and max_inflight_bytes decides when the next one is refused.
for (const transport of ['grpc', 'http'] as const) {
  t.test(`receiver max_inflight_bytes over ${transport}: past it, refused as retryable while being read; all accounted`, async (t) => {
    const sink = await startSink({ delayMs: 3000 });
    t.teardown(() => sink.close());
    const port = await freePort();
    const body = Buffer.from(traces(100).toProto()); // ~32 KB
    const d = await startDaemon(`
receivers:
  otlp:
    protocols:
      ${transport}: { endpoint: 127.0.0.1:${port} }
    max_inflight_bytes: ${Math.round(body.length * 1.5)}
exporters:
  otlp:
    endpoint: ${sink.endpoint}
    tls: { insecure: true }
    compression: none
    sending_queue: { queue_size: 1, num_consumers: 1, block_on_overflow: true, block_timeout: 8s }
service:
  shutdown_timeout: 2s
  pipelines:
    traces: { receivers: [otlp], exporters: [otlp] }
`);
    t.teardown(() => d.stop());
    const client = transport === 'grpc' ? new OtlpGrpcClient(port) : undefined;
    t.teardown(() => client?.close());
    const send = async (): Promise<string> => {
      if (client) {
        const r = await client.export('traces', body);
        return r.err ? `${r.err.code} ${r.err.details}` : 'ok';
      }
      const r = await fetch(`http://127.0.0.1:${port}/v1/traces`, { method: 'POST', body, headers: { 'content-type': 'application/x-protobuf' } });
      return r.status === 200 ? 'ok' : `${r.status} retry-after=${r.headers.get('retry-after')} ${await r.text()}`;
    };
    t.equal(await send(), 'ok', 'first: taken by the exporter (in flight to the slow backend)');
    await waitFor(() => sink.requests >= 1, 5000, 'the first at the backend');
    t.equal(await send(), 'ok', 'second: queued');
    const third = send(); // waits for room in the queue: the receiver holds it meanwhile
    await waitFor(async () => metricValue(await d.metrics(), 'fleetcol_receiver_inflight_bytes') >= body.length, 5000, 'the third held by the receiver');
    const m = await d.metrics();
    const inflight = metricValue(m, 'fleetcol_receiver_inflight_bytes');
    t.ok(inflight >= body.length && inflight <= body.length + 5, `the receiver holds one request (${inflight} bytes; gRPC counts its 5-byte frame prefix)`);
    const buffered = metricValue(m, 'fleetcol_process_buffered_bytes');
    const queue = metricValue(m, 'fleetcol_exporter_queue_bytes');
    t.ok(queue >= 3 * body.length - 64, `the exporter holds the in-flight, queued and waiting batches (${queue} bytes)`);
    t.equal(buffered, inflight + queue, `fleetcol_process_buffered_bytes adds them up (${buffered})`);

    const fourth = await send();
    if (transport === 'grpc') t.match(fourth, /^14 receiver holds max_inflight_bytes/, 'fourth: UNAVAILABLE while being read');
    else t.match(fourth, /^503 retry-after=1 .*max_inflight_bytes/, 'fourth: 503 with Retry-After while being read');
    t.equal(await third, 'ok', 'the third went in once the queue had room');
    await waitFor(() => sink.items('traces') === 300, 15_000, 'the three accepted requests delivered');
    await waitFor(async () => metricValue(await d.metrics(), 'fleetcol_process_buffered_bytes') === 0, 5000, 'nothing held any more');
  });
}
