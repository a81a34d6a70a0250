// sending_queue.block_on_overflow: a full queue makes consume() wait a bounded time for room, then
// refuse as back-pressure (UNAVAILABLE with RetryInfo / 503 with Retry-After), which is not a drop.
// In-process against the exporter helper (memory and persistent queues), then end to end: the
// OpenTelemetry JS SDK sends through a running fleetcol to a slow backend and every span arrives.
import t from 'tap';
import { pino } from 'pino';
import type { ExportResult } from '@opentelemetry/core';
import { ExportResultCode } from '@opentelemetry/core';
import { BatchSpanProcessor, InMemorySpanExporter, SimpleSpanProcessor, TracerProvider, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace';
import { OTLPTraceExporter as GrpcTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as ProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { OtlpExporterConfig } from '../exporters/otlp/exporter.js';
import { otlpExporterFactory } from '../exporters/otlp/factory.js';
import { fileStorageExtensionFactory } from '../extensions/file_storage/factory.js';
import { RetryableError } from '../src/consumer.js';
import type { QueueSettings } from '../src/exporterhelper/config.js';
import { MemoryQueue } from '../src/exporterhelper/memory_queue.js';
import { BlockingOffer } from '../src/exporterhelper/overflow.js';
import type { Queue } from '../src/exporterhelper/queue.js';
import { memoryAccounting } from '../src/memory.js';
import { retryDelayFromStatus } from '../src/pdata/rpc.js';
import type { Telemetry } from '../src/pdata/telemetry.js';
import { MetricsRegistry } from '../src/telemetry/metrics.js';
import { freePort, metricValue, settings, sleep, startDaemon, startSink, waitFor, type Sink } from './helper.js';
import { traceRequestOf, traces } from './data.js';

const MiB = 1024 * 1024;

function exporterConfig(endpoint: string, queue: Partial<QueueSettings> = {}): OtlpExporterConfig {
  const d = otlpExporterFactory.createDefaultConfig();
  return {
    ...d,
    endpoint,
    tls: { insecure: true },
    compression: 'none',
    timeout: 5000,
    retry_on_failure: { ...d.retry_on_failure, initial_interval: 50, max_interval: 200, max_elapsed_time: 0 },
    sending_queue: { enabled: true, num_consumers: 1, queue_size: 1, sizer: 'requests', block_on_overflow: true, block_timeout: 300, ...queue },
  };
}

// ---------------------------------------------------------------------------------------------
// The waiting line on its own.

t.test('BlockingOffer: served in order as room is made; bounded; refused on timeout and close', async (t) => {
  const q = new MemoryQueue<string>(2);
  const b = new BlockingOffer<string>(q, 200, 2);
  t.equal(b.offer('a', 1), true, 'room: straight in');
  t.equal(b.offer('b', 1), true);
  const c = b.offer('c', 1);
  const d = b.offer('d', 1);
  t.not(c, true, 'full: c waits');
  t.not(d, true, 'full: d waits');
  t.equal(await b.offer('e', 1), 'full', 'two units already wait (the bound): e is refused at once');
  const order: string[] = [];
  void (c as Promise<string>).then((o) => order.push(`c:${o}`));
  void (d as Promise<string>).then((o) => order.push(`d:${o}`));
  await q.take(); // room for one: c, the first waiter, goes in
  await sleep(5);
  t.same(order, ['c:accepted'], 'the first waiter went in');
  t.equal(q.size, 2);
  t.equal(await d, 'timeout', 'no more room within the timeout: refused');
  const f = b.offer('f', 1);
  b.close();
  t.equal(await f, 'closed', 'closing refuses the waiters');
  t.equal(await b.offer('g', 1), 'closed', 'and every later offer');
});

t.test('BlockingOffer polls a queue that has no onSpace', async (t) => {
  const inner = new MemoryQueue<string>(1);
  const plain: Queue<string> = {
    offer: (i, s) => inner.offer(i, s),
    take: () => inner.take(),
    ready: () => inner.ready(),
    close: () => inner.close(),
    drain: () => inner.drain(),
    get size() { return inner.size; },
    capacity: 1,
  };
  const b = new BlockingOffer<string>(plain, 1000, 1);
  t.equal(b.offer('a', 1), true);
  const w = b.offer('b', 1);
  setTimeout(() => void inner.take(), 50);
  t.equal(await w, 'accepted');
  b.close();
});

// ---------------------------------------------------------------------------------------------
// The exporter helper against a slow backend.

t.test('memory queue: waits for room, then refuses as back-pressure (not enqueue_failed)', async (t) => {
  const sink = await startSink({ delayMs: 500 });
  t.teardown(() => sink.close());
  const set = settings('exporter', 'otlp');
  const exp = otlpExporterFactory.createExporter!(set, exporterConfig(sink.endpoint), ['traces']);
  await exp.start({ extension: () => undefined });
  await exp.consume(traces(1)); // taken at once: in flight for 500 ms
  await sleep(50);
  await exp.consume(traces(2)); // queued
  const heldBefore = metricValue(await set.registry.prom.metrics(), 'fleetcol_exporter_queue_bytes');
  t.ok(heldBefore > 0, `queued and in-flight bytes are reported (${heldBefore})`);
  t.ok(memoryAccounting.snapshot().some((h) => h.kind === 'exporter' && h.id === 'otlp' && h.bytes === heldBefore), 'and registered with the process-wide accounting');

  // Full. Waits up to 300 ms: nothing frees in time (the backend answers at 500 ms).
  const t0 = Date.now();
  const err = await exp.consume(traces(3)).then(() => undefined, (e: unknown) => e);
  const waited = Date.now() - t0;
  t.type(err, RetryableError, 'refused as retryable');
  t.match((err as RetryableError).message, /sending queue is full \(waited 300 ms/);
  t.equal((err as RetryableError).retryAfterMs, 1000, 'with a retry delay for the client');
  t.ok(waited >= 280 && waited < 450, `waited the bound, no longer (${waited} ms)`);

  // Full again, but the backend answers within the wait: accepted.
  await waitFor(() => sink.requests >= 2, 2000, 'the second batch in flight');
  await exp.consume(traces(1)); // the queue is full again
  await sleep(300); // the batch in flight is answered ~200 ms from now
  const t1 = Date.now();
  await exp.consume(traces(4));
  t.ok(Date.now() - t1 >= 50, `waited for room (${Date.now() - t1} ms), then accepted`);

  await waitFor(() => sink.items('traces') === 8, 5000, 'all accepted spans delivered');
  const m = await set.registry.prom.metrics();
  t.equal(metricValue(m, 'fleetcol_exporter_enqueue_failed_spans'), 0, 'back-pressure is not counted as enqueue_failed');
  t.equal(metricValue(m, 'fleetcol_exporter_queue_blocked_total', 'outcome="refused"'), 1);
  t.equal(metricValue(m, 'fleetcol_exporter_queue_blocked_total', 'outcome="accepted"'), 1);
  await exp.shutdown();
  t.notOk(memoryAccounting.snapshot().some((h) => h.kind === 'exporter' && h.id === 'otlp'), 'unregistered at shutdown');
});

t.test('shutdown refuses a waiting request at once', async (t) => {
  const sink = await startSink({ delayMs: 400 });
  t.teardown(() => sink.close());
  const set = settings('exporter', 'otlp', 5000);
  const exp = otlpExporterFactory.createExporter!(set, exporterConfig(sink.endpoint, { block_timeout: 10_000 }), ['traces']);
  await exp.start({ extension: () => undefined });
  await exp.consume(traces(1));
  await sleep(20);
  await exp.consume(traces(1));
  const waiting = exp.consume(traces(1)).then(() => 'accepted', (e: Error) => e.message);
  await sleep(20);
  const t0 = Date.now();
  const stopping = exp.shutdown();
  t.equal(await waiting, 'exporter is stopping', 'the waiter is refused (the client retries elsewhere or later)');
  t.ok(Date.now() - t0 < 2000, 'at once, not after the 10 s block_timeout');
  await stopping;
  t.equal(sink.items('traces'), 2, 'what was accepted was drained to the backend');
});

t.test('persistent queue: the same, through file_storage', async (t) => {
  const sink = await startSink({ delayMs: 400 });
  t.teardown(() => sink.close());
  const reg = new MetricsRegistry();
  const ext = fileStorageExtensionFactory.createExtension!(
    { id: 'file_storage', kind: 'extension', logger: pino({ level: 'silent' }), metrics: reg.scoped('extension', 'file_storage'), shutdownTimeoutMs: 5000 },
    { directory: t.testdir(), fsync: false, max_size: 64 * MiB, segment_size: MiB, compaction: { on_start: false, on_rebound: false, check_interval: 5000 } },
  );
  await ext.start({ extension: () => undefined });
  const set = settings('exporter', 'otlp');
  const exp = otlpExporterFactory.createExporter!(set, exporterConfig(sink.endpoint, { storage: 'file_storage', block_timeout: 1000 }), ['traces']);
  await exp.start({ extension: (id) => (id === 'file_storage' ? ext : undefined) });
  await exp.consume(traces(1));
  await sleep(50);
  await exp.consume(traces(2));
  const t0 = Date.now();
  await exp.consume(traces(3));
  const waited = Date.now() - t0;
  t.ok(waited >= 250 && waited < 900, `waited until a record was handed out (${waited} ms), then accepted`);
  const err = await exp.consume(traces(4)).then(() => undefined, (e: unknown) => e);
  t.equal(err, undefined, 'a second waiter is accepted too once the next record goes out');
  await waitFor(() => sink.items('traces') === 10, 5000, 'all delivered');
  const m = await set.registry.prom.metrics();
  t.equal(metricValue(m, 'fleetcol_exporter_enqueue_failed_spans'), 0);
  t.equal(metricValue(m, 'fleetcol_exporter_queue_blocked_total', 'outcome="accepted"'), 2);
  await exp.shutdown();
  await ext.shutdown();
});

// ---------------------------------------------------------------------------------------------
// End to end with the OpenTelemetry JS SDK.
//
// The installed SDK's OTLP/gRPC trace exporter (0.301) does not retry: its gRPC transport is not
// wrapped in the RetryingTransport its OTLP/HTTP exporters use, and the BatchSpanProcessor drops
// a batch whose export failed. The OTLP spec asks clients to retry UNAVAILABLE after the
// RetryInfo delay, so the gRPC case wraps the SDK exporter in the few lines an application needs
// for that (RetryOnUnavailable, below); the HTTP/protobuf case uses the SDK's own retry (503 with
// Retry-After) unchanged.

const UNAVAILABLE = 14;

/** Retries an export the SDK's gRPC exporter reported as UNAVAILABLE, after the server's
 *  RetryInfo delay; records every attempt's gRPC code and the delays the server asked for. */
class RetryOnUnavailable implements SpanExporter {
  readonly codes: number[] = [];
  readonly retryDelays: number[] = [];
  readonly results: ExportResult[] = [];
  constructor(private readonly inner: GrpcTraceExporter, private readonly giveUpMs: number) {}

  export(spans: ReadableSpan[], done: (r: ExportResult) => void): void {
    const started = Date.now();
    const attempt = () =>
      this.inner.export(spans, (r) => {
        const e = r.error as (Error & { code?: number; metadata?: { get(k: string): unknown[] } }) | undefined;
        this.codes.push(r.code === ExportResultCode.SUCCESS ? 0 : (e?.code ?? -1));
        if (r.code !== ExportResultCode.SUCCESS && e?.code === UNAVAILABLE && Date.now() - started < this.giveUpMs) {
          const details = e.metadata?.get('grpc-status-details-bin')[0];
          const delay = Buffer.isBuffer(details) ? retryDelayFromStatus(details) : undefined;
          if (delay !== undefined) this.retryDelays.push(delay);
          setTimeout(attempt, delay ?? 1000);
          return;
        }
        this.results.push(r);
        done(r);
      });
    attempt();
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }
}

class RecordingExporter implements SpanExporter {
  readonly results: ExportResult[] = [];
  constructor(private readonly inner: ProtoTraceExporter) {}
  export(spans: ReadableSpan[], done: (r: ExportResult) => void): void {
    this.inner.export(spans, (r) => {
      this.results.push(r);
      done(r);
    });
  }
  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }
}

function spanIdsAtSink(sink: Sink): string[] {
  const ids: string[] = [];
  for (const b of sink.received.traces as Telemetry[]) {
    for (const rs of traceRequestOf(b).resourceSpans) for (const ss of rs.scopeSpans) for (const s of ss.spans) ids.push(Buffer.from(s.spanId).toString('hex'));
  }
  return ids;
}

async function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not done after ${ms} ms`)), ms)));
  try {
    return await Promise.race([p, limit]);
  } finally {
    clearTimeout(timer);
  }
}

const SPANS = 240;
const BATCH = 20; // 12 concurrent Export calls on forceFlush

for (const transport of ['grpc', 'http'] as const) {
  t.test(`OTel SDK over OTLP/${transport === 'grpc' ? 'gRPC' : 'HTTP protobuf'} → fleetcol (tiny queue, block_on_overflow) → slow backend: refused, retried, nothing lost`, async (t) => {
    const sink = await startSink({ delayMs: 150 });
    t.teardown(() => sink.close());
    const port = await freePort();
    const daemon = await startDaemon(`
receivers:
  otlp:
    protocols:
      ${transport}: { endpoint: 127.0.0.1:${port} }
exporters:
  otlp:
    endpoint: ${sink.endpoint}
    tls: { insecure: true }
    compression: none
    retry_on_failure: { initial_interval: 50ms, max_interval: 200ms, max_elapsed_time: 0s }
    sending_queue: { queue_size: 2, num_consumers: 1, block_on_overflow: true, block_timeout: 250ms }
service:
  pipelines:
    traces: { receivers: [otlp], exporters: [otlp] }
`);
    t.teardown(() => daemon.stop());

    const grpcExporter = transport === 'grpc' ? new RetryOnUnavailable(new GrpcTraceExporter({ url: `http://127.0.0.1:${port}`, timeoutMillis: 10_000 }), 25_000) : undefined;
    const httpExporter = transport === 'http' ? new RecordingExporter(new ProtoTraceExporter({ url: `http://127.0.0.1:${port}/v1/traces`, timeoutMillis: 25_000 })) : undefined;
    const exporter: SpanExporter = grpcExporter ?? httpExporter!;
    const recorded = new InMemorySpanExporter();
    const provider = new TracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'block-on-overflow' }),
      spanProcessors: [
        new BatchSpanProcessor({ exporter, maxExportBatchSize: BATCH, maxQueueSize: 10_000, scheduledDelayMillis: 60_000, exportTimeoutMillis: 30_000 }),
        new SimpleSpanProcessor({ exporter: recorded }),
      ],
    });
    t.teardown(() => provider.shutdown().catch(() => {}));
    const tracer = provider.getTracer('block-on-overflow');
    for (let i = 0; i < SPANS; i++) tracer.startSpan(`work ${i}`, { attributes: { seq: i } }).end();
    const sent = recorded.getFinishedSpans().map((s) => s.spanContext().spanId);
    t.equal(sent.length, SPANS);

    // Every batch at once (forceFlush exports them concurrently): far more than the queue holds.
    // The BatchSpanProcessor already started exporting the first batch when it filled, during the
    // loop above, and forceFlush does not wait for that one: if fleetcol refused it, its retry may
    // still be pending when forceFlush resolves. So wait for a final result of every batch.
    await bounded(provider.forceFlush(), 40_000, 'SDK flush');
    const results = grpcExporter?.results ?? httpExporter!.results;
    await waitFor(() => results.length >= SPANS / BATCH, 30_000, 'a final result for every batch');
    t.equal(results.length, SPANS / BATCH, 'one final result per batch');
    t.strictSame(results.filter((r) => r.code !== ExportResultCode.SUCCESS).map((r) => String(r.error)), [], 'every export succeeded in the end');

    const m = await daemon.metrics();
    const refused = metricValue(m, 'fleetcol_receiver_refused_spans', `transport="${transport}"`);
    const blockedRefused = metricValue(m, 'fleetcol_exporter_queue_blocked_total', 'outcome="refused"');
    const blockedAccepted = metricValue(m, 'fleetcol_exporter_queue_blocked_total', 'outcome="accepted"');
    t.ok(refused > 0, `fleetcol refused spans with back-pressure (${refused} spans, ${blockedRefused} requests) and the SDK sent them again`);
    t.ok(blockedAccepted > 0, `some requests waited for room and were accepted (${blockedAccepted})`);
    t.equal(metricValue(m, 'fleetcol_exporter_enqueue_failed_spans'), 0, 'nothing counted as dropped');
    t.equal(metricValue(m, 'fleetcol_receiver_accepted_spans', `transport="${transport}"`), SPANS, 'every span accepted exactly once');
    if (grpcExporter) {
      const unavailable = grpcExporter.codes.filter((c) => c === UNAVAILABLE).length;
      t.ok(unavailable > 0, `the SDK's gRPC exporter saw UNAVAILABLE ${unavailable} times`);
      t.equal(grpcExporter.retryDelays.length, unavailable, 'each with RetryInfo');
      t.ok(grpcExporter.retryDelays.every((d) => d === 1000), 'asking for 1 s');
    }

    await waitFor(() => sink.items('traces') >= SPANS, 15_000, `${SPANS} spans at the backend`);
    await sleep(200);
    const arrived = spanIdsAtSink(sink);
    const counts = new Map<string, number>();
    for (const id of arrived) counts.set(id, (counts.get(id) ?? 0) + 1);
    t.strictSame(sent.filter((id) => !counts.has(id)), [], 'no span lost');
    t.strictSame([...counts].filter(([, n]) => n > 1), [], 'none twice');
    t.equal(arrived.length, SPANS);
  });
}
