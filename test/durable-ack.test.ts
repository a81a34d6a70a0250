// "An OK is a promise": which stages answer when, in-process. The batch processor waits for a
// durable next stage; a fan-out refuses when a durable branch refused; sending_queue.batch merges
// what it reads from the queue; `fleetcol validate` warns about a stage that holds items in front
// of a persistent queue. The kill -9 tests are in durability-kill.test.ts.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { batchProcessorFactory } from '../processors/batch/factory.js';
import { otlpExporterFactory } from '../exporters/otlp/factory.js';
import { fileStorageExtensionFactory } from '../extensions/file_storage/factory.js';
import type { Consumer } from '../src/consumer.js';
import { RetryableError, consumerOf } from '../src/consumer.js';
import type { Extension, Host } from '../src/component.js';
import { fanout } from '../src/service/fanout.js';
import { loadConfig } from '../src/config/load.js';
import { registry } from '../src/components.js';
import type { Telemetry } from '../src/pdata/telemetry.js';
import type { BatchSettings } from '../src/exporterhelper/config.js';
import { MetricsRegistry } from '../src/telemetry/metrics.js';
import { settings, sleep, startSink, tempFile, waitFor } from './helper.js';
import { traces } from './data.js';

const logger = pino({ level: 'silent' });
const host: Host = { extension: () => undefined };
const batchCfg = (o: Partial<{ send_batch_size: number; timeout: number; send_batch_max_size: number; max_pending_items: number }> = {}) => ({
  send_batch_size: 100,
  timeout: 10_000,
  send_batch_max_size: 0,
  max_pending_items: 0,
  ...o,
});
const durable = (fn: (b: Telemetry) => Promise<void>): Consumer => ({ consume: fn, mutatesData: false, durable: true });

t.test('batch processor before a durable stage: callers are answered once their batch was taken', async (t) => {
  const out: Telemetry[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const p = batchProcessorFactory.createProcessor!(settings('processor', 'batch'), batchCfg({ send_batch_size: 30 }), 'traces', durable(async (b) => {
    await gate;
    out.push(b);
  }));
  await p.start(host);
  t.equal(p.durable, true, 'durable, since it waits');
  const answered: number[] = [];
  const calls = [0, 1, 2].map((i) => p.consume(traces(10)).then(() => answered.push(i)));
  await sleep(30);
  t.same(answered, [], 'nobody is answered before the next stage took the batch');
  release();
  await Promise.all(calls);
  t.same(answered.sort(), [0, 1, 2], 'all three answered together');
  t.equal(out.length, 1);
  t.equal(out[0]!.itemCount, 30, 'one merged batch');
  await p.shutdown();
});

t.test('batch processor before a durable stage: a refusal reaches every caller of the batch, nothing is kept', async (t) => {
  let calls = 0;
  const s = settings('processor', 'batch');
  const p = batchProcessorFactory.createProcessor!(s, batchCfg({ send_batch_size: 20, send_batch_max_size: 10 }), 'traces', durable(async () => {
    calls++;
    throw new RetryableError('queue full', { retryAfterMs: 7 });
  }));
  await p.start(host);
  const a = p.consume(traces(10));
  const b = p.consume(traces(10));
  await t.rejects(a, RetryableError);
  const err = await b.catch((e: unknown) => e);
  t.type(err, RetryableError);
  t.equal((err as RetryableError).retryAfterMs, 7, 'the retry delay is passed on');
  t.equal(calls, 1, 'the second part of the refused cut is not sent: its callers send it again');
  t.match(await s.registry.prom.metrics(), /processor_batch_pending_items\{[^}]*\} 0/, 'nothing held after the refusal');
  await p.shutdown();
});

t.test('batch processor before a durable stage: the timeout cuts, and shutdown answers the callers', async (t) => {
  const out: Telemetry[] = [];
  const p = batchProcessorFactory.createProcessor!(settings('processor', 'batch'), batchCfg({ timeout: 50 }), 'traces', durable(async (b) => void out.push(b)));
  await p.start(host);
  const t0 = Date.now();
  await p.consume(traces(5));
  t.ok(Date.now() - t0 >= 40, 'answered at the timeout cut');
  const late = p.consume(traces(5));
  await p.shutdown();
  await late;
  t.equal(out.length, 2);
});

t.test('batch processor before an in-memory stage: answers at once (what a crash loses is in the README)', async (t) => {
  const p = batchProcessorFactory.createProcessor!(settings('processor', 'batch'), batchCfg(), 'traces', consumerOf(async () => {}));
  t.equal(p.durable, false);
  const t0 = Date.now();
  await p.consume(traces(5));
  t.ok(Date.now() - t0 < 1000, 'not held for the 10 s timeout');
  await p.shutdown();
});

t.test('fan-out: a durable branch that refuses refuses the caller; an in-memory one does not', async (t) => {
  const taken: string[] = [];
  const ok = consumerOf(async () => void taken.push('memory'));
  const refusing = durable(async () => {
    throw new RetryableError('disk budget spent');
  });
  const f = fanout([ok, refusing], logger);
  t.equal(f.durable, true);
  await t.rejects(f.consume(traces(1)), RetryableError, 'refused: the retry duplicates it in the other branch');
  t.same(taken, ['memory']);
  const g = fanout([consumerOf(async () => { throw new RetryableError('full'); }), durable(async () => {})], logger);
  await g.consume(traces(1));
  t.pass('an in-memory branch refusing while the durable one took it: OK (as before)');
});

async function storage(dir: string): Promise<Extension> {
  const registry = new MetricsRegistry();
  const set = { id: 'file_storage', kind: 'extension' as const, logger, metrics: registry.scoped('extension', 'file_storage'), shutdownTimeoutMs: 5000 };
  const ext = fileStorageExtensionFactory.createExtension!(set, {
    directory: dir,
    fsync: false,
    max_size: 64 << 20,
    segment_size: 1 << 20,
    compaction: { on_start: false, on_rebound: true, check_interval: 5000 },
  });
  await ext.start(host);
  return ext;
}

function exporterConfig(endpoint: string, queue: { storage?: string; batch?: BatchSettings }) {
  const d = otlpExporterFactory.createDefaultConfig();
  return {
    ...d,
    endpoint,
    tls: { insecure: true },
    timeout: 2000,
    retry_on_failure: { ...d.retry_on_failure, initial_interval: 50, max_interval: 200, max_elapsed_time: 0 },
    sending_queue: { enabled: true, num_consumers: 2, queue_size: 1000, sizer: 'requests' as const, ...queue },
  };
}

for (const persistent of [false, true]) {
  t.test(`sending_queue.batch (${persistent ? 'file_storage' : 'in memory'}): merged by min_size, flushed by flush_timeout, split by max_size`, async (t) => {
    const sink = await startSink();
    const dir = mkdtempSync(join(tmpdir(), 'fleetcol-qbatch-'));
    const ext = persistent ? await storage(dir) : undefined;
    t.teardown(async () => {
      await sink.close();
      await ext?.shutdown();
      rmSync(dir, { recursive: true, force: true });
    });
    const batch = { flush_timeout: 300, min_size: 50, max_size: 80, sizer: 'items' as const };
    const cfg = exporterConfig(sink.endpoint, { ...(persistent ? { storage: 'file_storage' } : {}), batch });
    const e = otlpExporterFactory.createExporter!(settings('exporter', 'otlp'), cfg, ['traces', 'logs']);
    t.equal(e.durable, persistent, 'durable with storage');
    await e.start({ extension: (id) => (id === 'file_storage' ? ext : undefined) });
    const t0 = Date.now();
    for (let i = 0; i < 5; i++) await e.consume(traces(10));
    t.ok(Date.now() - t0 < 250, 'each consume answered without waiting for a batch');
    await waitFor(() => sink.requests === 1, 5000, 'the min_size batch');
    t.equal(sink.items('traces'), 50, 'five requests merged into one of 50');
    await e.consume(traces(10));
    await sleep(150);
    t.equal(sink.requests, 1, 'below min_size: waiting');
    await waitFor(() => sink.requests === 2, 5000, 'the flush_timeout batch');
    t.equal(sink.received.traces[1]!.itemCount, 10);
    await e.consume(traces(200));
    await waitFor(() => sink.items('traces') === 260, 5000, 'the oversized request');
    t.same(sink.received.traces.slice(2).map((b) => b.itemCount), [80, 80, 40], 'split at max_size');
    await e.consume(traces(30));
    await e.shutdown();
    t.equal(sink.items('traces'), 290, 'shutdown sends what was gathered');
  });
}

t.test('sending_queue.batch with storage: what was gathered and not sent is sent after a restart', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fleetcol-qbatch-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const batch = { flush_timeout: 60_000, min_size: 1000, max_size: 0, sizer: 'items' as const };
  const ext1 = await storage(dir);
  const e1 = otlpExporterFactory.createExporter!(settings('exporter', 'otlp', 200), exporterConfig('127.0.0.1:1', { storage: 'file_storage', batch }), ['traces']);
  await e1.start({ extension: () => ext1 });
  for (let i = 0; i < 3; i++) await e1.consume(traces(10));
  await e1.shutdown(); // the backend is down: one attempt, kept
  await ext1.shutdown();
  const sink = await startSink();
  t.teardown(() => sink.close());
  const ext2 = await storage(dir);
  const e2 = otlpExporterFactory.createExporter!(settings('exporter', 'otlp'), exporterConfig(sink.endpoint, { storage: 'file_storage', batch: { ...batch, flush_timeout: 100 } }), ['traces']);
  await e2.start({ extension: () => ext2 });
  await waitFor(() => sink.items('traces') >= 30, 5000, 'the kept requests');
  t.equal(sink.items('traces'), 30);
  t.equal(sink.requests, 1, 'sent merged');
  await e2.shutdown();
  await ext2.shutdown();
});

t.test('validate warns about a stage that holds items in front of a persistent queue', async (t) => {
  const file = tempFile('held.yaml', `receivers: { otlp: { protocols: { grpc: {} } } }
processors:
  batch: {}
  coalesce: {}
extensions: { file_storage: { directory: /tmp/fleetcol-held } }
exporters:
  otlp: { endpoint: 127.0.0.1:4317, sending_queue: { storage: file_storage, batch: {} } }
  debug: {}
service:
  extensions: [file_storage]
  pipelines:
    logs: { receivers: [otlp], processors: [batch, coalesce], exporters: [otlp] }
    metrics: { receivers: [otlp], processors: [coalesce, batch], exporters: [otlp] }
    traces: { receivers: [otlp], processors: [batch, coalesce], exporters: [debug] }
`);
  const r = loadConfig({ files: [file], registry });
  t.same(r.errors, []);
  const held = r.warnings.filter((w) => w.code === 'FLEETCOL_CONFIG_HELD_BEFORE_PERSISTENT_QUEUE');
  const of = (pipeline: string) => held.filter((w) => w.path === `service.pipelines.${pipeline}.processors`).map((w) => w.message);
  t.equal(of('logs').length, 2, 'logs: coalesce, and the batch processor before it (which then answers at once)');
  t.ok(of('logs').some((m) => /processor "coalesce" answers before the persistent queue of "otlp" has the items it holds: a crash loses/.test(m)));
  t.ok(of('logs').some((m) => /processor "batch" answers at once, since "coalesce" after it does not wait for the persistent queue of "otlp": a crash loses .*put "batch" after "coalesce", or batch in the exporter/.test(m)));
  t.equal(of('metrics').length, 1, 'metrics: coalesce only; batch after it waits for the queue');
  t.equal(of('traces').length, 0, 'no persistent queue, no warning');
  t.match(held[0]?.location, /held\.yaml:\d+:\d+/);
  const q = r.config?.exporters.get('otlp')?.config as { sending_queue: { batch: Record<string, unknown> } };
  t.same(q.sending_queue.batch, { flush_timeout: 200, min_size: 8192, max_size: 0, sizer: 'items' }, 'batch: {} takes the defaults');
});
