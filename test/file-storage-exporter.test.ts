// The exporter helper with `sending_queue.storage`: the OTLP exporter in-process against a real
// gRPC sink, with a file_storage extension as its host's extension.
import t from 'tap';
import { pino } from 'pino';
import type { OtlpExporterConfig } from '../exporters/otlp/exporter.js';
import { otlpExporterFactory } from '../exporters/otlp/factory.js';
import { fileStorageExtensionFactory } from '../extensions/file_storage/factory.js';
import type { Extension, Host } from '../src/component.js';
import type { QueueSettings } from '../src/exporterhelper/config.js';
import { MetricsRegistry } from '../src/telemetry/metrics.js';
import { freePort, metricValue, settings, startSink, waitFor } from './helper.js';
import { traces } from './data.js';

const MiB = 1024 * 1024;

async function storage(dir: string, registry = new MetricsRegistry()): Promise<Extension> {
  const set = { id: 'file_storage', kind: 'extension' as const, logger: pino({ level: 'silent' }), metrics: registry.scoped('extension', 'file_storage'), shutdownTimeoutMs: 5000 };
  const ext = fileStorageExtensionFactory.createExtension!(set, {
    directory: dir,
    fsync: false,
    max_size: 64 * MiB,
    segment_size: MiB,
    compaction: { on_start: false, on_rebound: true, check_interval: 5000 },
  });
  await ext.start({ extension: () => undefined });
  return ext;
}

const hostWith = (ext: Extension | undefined): Host => ({ extension: (id) => (id === 'file_storage' ? ext : undefined) });

function exporterConfig(endpoint: string, queue: Partial<QueueSettings> = {}): OtlpExporterConfig {
  const d = otlpExporterFactory.createDefaultConfig();
  return {
    ...d,
    endpoint,
    tls: { insecure: true },
    timeout: 2000,
    retry_on_failure: { ...d.retry_on_failure, initial_interval: 50, max_interval: 200, max_elapsed_time: 0 },
    sending_queue: { enabled: true, num_consumers: 4, queue_size: 1000, sizer: 'requests', storage: 'file_storage', ...queue },
  };
}

t.test('a missing or wrong storage extension is a start error that says so', async (t) => {
  const cfg = exporterConfig('127.0.0.1:1');
  const a = otlpExporterFactory.createExporter!(settings('exporter', 'otlp'), cfg, ['traces']);
  await t.rejects(a.start(hostWith(undefined)), /sending_queue.storage: extension "file_storage" is not running/);
  await a.shutdown();
  const b = otlpExporterFactory.createExporter!(settings('exporter', 'otlp'), cfg, ['traces']);
  const notStorage: Extension = { start: async () => {}, shutdown: async () => {} };
  await t.rejects(b.start(hostWith(notStorage)), /is not a storage extension/);
  await b.shutdown();
});

t.test('backend up: batches go through the disk queue to the backend; metrics reflect it', async (t) => {
  const sink = await startSink();
  t.teardown(() => sink.close());
  const reg = new MetricsRegistry();
  const ext = await storage(t.testdir(), reg);
  const set = settings('exporter', 'otlp');
  const exp = otlpExporterFactory.createExporter!(set, exporterConfig(sink.endpoint), ['traces']);
  await exp.start(hostWith(ext));
  for (let i = 0; i < 20; i++) await exp.consume(traces(5));
  await waitFor(() => sink.items('traces') === 100, 5000, 'all spans delivered');
  const m = await set.registry.prom.metrics();
  t.equal(metricValue(m, 'fleetcol_exporter_queue_capacity'), 1000, 'capacity is queue_size');
  await waitFor(async () => metricValue(await reg.prom.metrics(), 'fleetcol_file_storage_records', 'exporter="otlp"') === 0, 5000, 'all acked');
  t.ok(metricValue(await reg.prom.metrics(), 'fleetcol_file_storage_bytes', 'exporter="otlp"') > 0, 'bytes on disk reported');
  await exp.shutdown();
  await ext.shutdown();
  t.equal(metricValue(await set.registry.prom.metrics(), 'fleetcol_exporter_sent_spans'), 100);
});

t.test('backend down: shutdown is quick and keeps everything; the next start sends it', async (t) => {
  const dir = t.testdir();
  const down = `127.0.0.1:${await freePort()}`;
  const ext = await storage(dir);
  const set = settings('exporter', 'otlp', 10_000);
  const exp = otlpExporterFactory.createExporter!(set, exporterConfig(down), ['traces']);
  await exp.start(hostWith(ext));
  for (let i = 1; i <= 30; i++) await exp.consume(traces(i));
  await waitFor(async () => metricValue(await set.registry.prom.metrics(), 'fleetcol_exporter_retries_total') >= 4, 5000, 'retrying');
  t.equal(metricValue(await set.registry.prom.metrics(), 'fleetcol_exporter_queue_size'), 26, '4 in flight, 26 waiting');
  const started = Date.now();
  await exp.shutdown();
  await ext.shutdown();
  t.ok(Date.now() - started < 3000, `shutdown did not wait out the timeout (${Date.now() - started} ms)`);
  t.equal(metricValue(await set.registry.prom.metrics(), 'fleetcol_exporter_send_failed_spans'), 0, 'nothing counted as dropped');

  const sink = await startSink();
  t.teardown(() => sink.close());
  const ext2 = await storage(dir);
  const set2 = settings('exporter', 'otlp');
  const exp2 = otlpExporterFactory.createExporter!(set2, exporterConfig(sink.endpoint), ['traces']);
  await exp2.start(hostWith(ext2));
  await waitFor(() => sink.items('traces') >= 465, 5000, 'the kept batches delivered');
  const sizes = sink.received.traces.map((b) => b.itemCount).sort((a, b) => a - b);
  t.same(sizes, Array.from({ length: 30 }, (_, i) => i + 1), 'every batch once');
  await exp2.shutdown();
  await ext2.shutdown();
});
