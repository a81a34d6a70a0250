// Exporter `prometheus`, in process: delta → cumulative, expiry, max_series overflow, label-name
// collisions, OpenMetrics exemplars, gzip, exponential histograms as classic buckets, target_info.
import t, { type Test } from 'tap';
import http from 'node:http';
import zlib from 'node:zlib';
import { prometheusExporterFactory } from '../exporters/prometheus/factory.js';
import type { PrometheusExporter, PrometheusExporterConfig } from '../exporters/prometheus/exporter.js';
import { acceptsGzip, wantsOpenMetrics } from '../exporters/prometheus/exporter.js';
import { expToClassic, familyHeader, renderSeries } from '../exporters/prometheus/render.js';
import { SeriesStore } from '../exporters/prometheus/store.js';
import { Telemetry, type ExportMetricsServiceRequest, type KeyValue, type Metric } from '../src/pdata/telemetry.js';
import { pino } from 'pino';
import { freePort, metricValue, runCli, settings, sleep, tempFile } from './helper.js';

const kv = (key: string, v: string): KeyValue => ({ key, value: { stringValue: v } });
const S = 1_000_000_000n;
const T0 = BigInt(Date.now()) * 1_000_000n - 100n * S;

function request(metrics: Metric[], resource: KeyValue[] = [kv('service.name', 'svc'), kv('host.name', 'h1')]): ExportMetricsServiceRequest {
  return { resourceMetrics: [{ schemaUrl: '', resource: { attributes: resource, droppedAttributesCount: 0 }, scopeMetrics: [{ schemaUrl: '', metrics }] }] };
}
const pt = (start: bigint, time: bigint, v: number, attrs: KeyValue[] = [], extra: Record<string, unknown> = {}) =>
  ({ attributes: attrs, startTimeUnixNano: start, timeUnixNano: time, asDouble: v, exemplars: [], flags: 0, ...extra });
const sum = (name: string, temporality: number, points: ReturnType<typeof pt>[], monotonic = true): Metric =>
  ({ name, description: `${name} help`, unit: '', sum: { aggregationTemporality: temporality, isMonotonic: monotonic, dataPoints: points } } as Metric);
const DELTA = 1;
const CUMULATIVE = 2;

async function exporter(t: Test, cfg: Partial<PrometheusExporterConfig> = {}, logs?: string[]) {
  const port = await freePort();
  const set = settings('exporter', 'prometheus');
  if (logs) set.logger = pino({ level: 'warn' }, { write: (line: string) => void logs.push(line) });
  const defaults = prometheusExporterFactory.createDefaultConfig() as unknown as Record<string, unknown>;
  const full = { ...defaults, metric_expiration: 300_000, endpoint: `127.0.0.1:${port}`, ...cfg } as PrometheusExporterConfig;
  const exp = prometheusExporterFactory.createExporter!(set, full, ['metrics']) as PrometheusExporter;
  await exp.start({ extension: () => undefined });
  t.teardown(() => exp.shutdown());
  const send = (req: ExportMetricsServiceRequest) => exp.consume(Telemetry.fromRequest('metrics', req));
  const scrape = async (headers: Record<string, string> = {}) => {
    const r = await fetch(`http://127.0.0.1:${port}/metrics`, { headers });
    return { type: r.headers.get('content-type') ?? '', text: await r.text() };
  };
  const own = async () => set.registry.prom.metrics();
  return { exp, port, send, scrape, own };
}

/** The same config on the main thread (whose store the test reads) and on the exporter's own
 *  thread; `send` gives both the same requests. */
async function twins(t: Test, cfg: Partial<PrometheusExporterConfig> = {}) {
  const e = await exporter(t, { ...cfg, worker_thread: false });
  const w = await exporter(t, { ...cfg, worker_thread: true });
  const send = async (req: ExportMetricsServiceRequest) => {
    await e.send(req);
    await w.send(req);
  };
  return { e, w, send };
}

t.test('delta sums and histograms accumulate into cumulative; overlapping deltas are dropped', async (t) => {
  const e = await exporter(t);
  await e.send(request([sum('jobs.done', DELTA, [pt(T0, T0 + S, 3, [kv('k', 'a')])])]));
  await e.send(request([sum('jobs.done', DELTA, [pt(T0 + S, T0 + 2n * S, 4, [kv('k', 'a')])])]));
  let text = (await e.scrape()).text;
  t.match(text, /^jobs_done_total\{job="svc",k="a"\} 7$/m, 'delta points added');
  // The same delta again (a resent batch) overlaps what is held: not counted twice.
  await e.send(request([sum('jobs.done', DELTA, [pt(T0 + S, T0 + 2n * S, 4, [kv('k', 'a')])])]));
  text = (await e.scrape()).text;
  t.match(text, /^jobs_done_total\{.*k="a"\} 7$/m, 'a resent delta is not added again');
  t.equal(metricValue(await e.own(), 'fleetcol_exporter_prometheus_dropped_metric_points', 'reason="out_of_order"'), 1, 'counted as out of order');

  // Cumulative replaces; a gauge keeps its last value; a non-monotonic delta sum accumulates as a gauge.
  await e.send(request([
    sum('bytes.seen', CUMULATIVE, [pt(T0, T0 + S, 10)]),
    { name: 'load', description: 'load', unit: '1', gauge: { dataPoints: [pt(0n, T0 + S, 0.5)] } } as Metric,
    sum('inflight', DELTA, [pt(T0, T0 + S, 5)], false),
  ]));
  await e.send(request([
    sum('bytes.seen', CUMULATIVE, [pt(T0, T0 + 2n * S, 25)]),
    { name: 'load', description: 'load', unit: '1', gauge: { dataPoints: [pt(0n, T0 + 2n * S, 0.25)] } } as Metric,
    sum('inflight', DELTA, [pt(T0 + S, T0 + 2n * S, -2)], false),
  ]));
  text = (await e.scrape()).text;
  t.match(text, /^bytes_seen_total\{job="svc"\} 25$/m, 'cumulative: the last value');
  t.match(text, /^load_ratio\{job="svc"\} 0\.25$/m, 'gauge: the last value');
  t.match(text, /^# TYPE inflight gauge$/m);
  t.match(text, /^inflight\{job="svc"\} 3$/m, 'up-down delta: 5 - 2');

  // Delta histograms: bucket counts, count and sum added.
  const hist = (start: bigint, time: bigint, counts: number[], total: number, s: number): Metric => ({
    name: 'latency', description: 'latency', unit: 's',
    histogram: { aggregationTemporality: DELTA, dataPoints: [{ attributes: [], startTimeUnixNano: start, timeUnixNano: time, count: BigInt(total), sum: s, bucketCounts: counts.map(BigInt), explicitBounds: [0.1, 1], exemplars: [], flags: 0 }] },
  } as Metric);
  await e.send(request([hist(T0, T0 + S, [1, 2, 0], 3, 1.2)]));
  await e.send(request([hist(T0 + S, T0 + 2n * S, [0, 1, 4], 5, 20)]));
  text = (await e.scrape()).text;
  t.match(text, /^latency_seconds_bucket\{job="svc",le="0\.1"\} 1$/m);
  t.match(text, /^latency_seconds_bucket\{job="svc",le="1"\} 4$/m);
  t.match(text, /^latency_seconds_bucket\{job="svc",le="\+Inf"\} 8$/m);
  t.match(text, /^latency_seconds_count\{job="svc"\} 8$/m);
  t.match(text, /^latency_seconds_sum\{job="svc"\} 21\.2$/m);
  t.match(text, /^# TYPE latency_seconds histogram$/m);
  t.match(text, /^# HELP jobs_done_total jobs\.done help$/m, 'HELP from the description');
});

t.test('target_info carries resource attributes; resource_to_telemetry_conversion puts them on every series', async (t) => {
  const e = await exporter(t, { namespace: 'fleet', const_labels: { region: 'eu', job: 'ignored' } });
  await e.send(request([sum('calls', CUMULATIVE, [pt(T0, T0 + S, 1)])], [kv('service.name', 'planner'), kv('service.namespace', 'agents'), kv('service.instance.id', 'pod-1'), kv('deployment.environment', 'prod')]));
  const text = (await e.scrape()).text;
  t.match(text, /^fleet_calls_total\{instance="pod-1",job="agents\/planner",region="eu"\} 1$/m, 'job, instance, const label (the series\' own job wins), namespace');
  t.match(text, /^# TYPE fleet_target_info gauge$/m);
  t.match(text, /^fleet_target_info\{deployment_environment="prod",instance="pod-1",job="agents\/planner",region="eu"\} 1$/m);

  const r = await exporter(t, { resource_to_telemetry_conversion: { enabled: true } });
  await r.send(request([sum('calls', CUMULATIVE, [pt(T0, T0 + S, 1)])], [kv('service.name', 'planner'), kv('deployment.environment', 'prod')]));
  const text2 = (await r.scrape()).text;
  t.match(text2, /^calls_total\{deployment_environment="prod",job="planner"\} 1$/m);
  t.notMatch(text2, /target_info/, 'no target_info with the conversion on');
});

t.test('label names that collide once sanitised are merged: values joined with ; in sorted key order', async (t) => {
  const e = await exporter(t);
  await e.send(request([sum('hits', CUMULATIVE, [pt(T0, T0 + S, 1, [kv('a_b', 'second'), kv('a.b', 'first'), kv('a-b', 'zero'), kv('x', 'q"u\\o\nte')])])]));
  const text = (await e.scrape()).text;
  // Sorted keys: a-b < a.b < a_b.
  t.match(text, /^hits_total\{a_b="zero;first;second",job="svc",x="q\\"u\\\\o\\nte"\} 1$/m, 'merged, and label values escaped');
});

t.test('metric_expiration: a series not updated is no longer shown, then forgotten and counted', async (t) => {
  const e = await exporter(t, { metric_expiration: 300 });
  await e.send(request([sum('old', CUMULATIVE, [pt(T0, T0 + S, 1)])]));
  t.match((await e.scrape()).text, /^old_total/m);
  await sleep(450);
  await e.send(request([sum('fresh', CUMULATIVE, [pt(T0, T0 + S, 1)])]));
  const text = (await e.scrape()).text;
  t.notMatch(text, /old_total/, 'expired series left out');
  t.match(text, /^fresh_total/m);
  await sleep(300);
  t.ok(metricValue(await e.own(), 'fleetcol_exporter_prometheus_expired_series') >= 1, 'expired counted');

  // The store itself, on a clock of its own.
  const store = new SeriesStore({ namespace: '', addMetricSuffixes: true, constLabels: {}, resourceToTelemetry: false, maxSeries: 10, expirationMs: 1000 });
  store.consume(request([sum('a', CUMULATIVE, [pt(T0, T0 + S, 1)])]), 10_000);
  store.consume(request([sum('b', CUMULATIVE, [pt(T0, T0 + S, 1)])]), 10_800);
  t.equal(store.size, 3, 'two series and target_info');
  t.equal(store.expire(11_500), 1, 'a expired; b and target_info (updated at 10 800) stay');
  t.same([...store.families.keys()].sort(), ['b_total', 'target_info']);
});

t.test('series found by raw attributes: any order is one series; a series removed or expired is made again, not the cached one', async (t) => {
  const store = new SeriesStore({ namespace: '', addMetricSuffixes: true, constLabels: { env: 'prod' }, resourceToTelemetry: false, maxSeries: 100, expirationMs: 1000 });
  const series = (name: string) => [...store.families.get(name)!.series.values()];
  store.consume(request([sum('c', CUMULATIVE, [pt(T0, T0 + S, 1, [kv('a', 'x'), kv('b', 'y')])])]), 10_000);
  store.consume(request([sum('c', CUMULATIVE, [pt(T0, T0 + 2n * S, 2, [kv('b', 'y'), kv('a', 'x')])])]), 10_100);
  t.same(series('c_total').map((s) => [s.labels, s.value]), [['a="x",b="y",env="prod",job="svc"', 2]], 'both orders: one series, the newer value');
  // Length-prefixed keys: attributes that would run together when joined stay apart.
  store.consume(request([sum('c', CUMULATIVE, [pt(T0, T0 + 3n * S, 5, [kv('a', 'xb'), kv('', 'y')])])]), 10_200);
  t.equal(series('c_total').length, 2, 'a="xb" is another series');
  // A no-value point removes the series; the next point makes a new one (not the removed object).
  const before = series('c_total')[0]!;
  store.consume(request([sum('c', CUMULATIVE, [pt(T0, T0 + 4n * S, 0, [kv('a', 'x'), kv('b', 'y')], { flags: 1 })])]), 10_300);
  t.equal(series('c_total').length, 1, 'removed');
  store.consume(request([sum('c', CUMULATIVE, [pt(T0, T0 + 5n * S, 7, [kv('a', 'x'), kv('b', 'y')])])]), 10_400);
  const again = series('c_total').find((s) => s.labels.startsWith('a="x"'))!;
  t.not(again, before, 'a new series object');
  t.equal(again.value, 7);
  t.equal(store.size, 3, 'two series of c and target_info');
  // Expired, then updated again: counted once more in size.
  t.ok(store.expire(20_000) >= 2);
  store.consume(request([sum('c', CUMULATIVE, [pt(T0, T0 + 6n * S, 9, [kv('b', 'y'), kv('a', 'x')])])]), 20_100);
  t.same(series('c_total').map((s) => s.value), [9]);
  t.equal(store.size, 2, 'c and target_info');
});

t.test('from the encoding, a metric decoded per step: the same series and values as from the decoded request', async (t) => {
  const rpc = { name: 'rpc', description: 'rpc', unit: 's', summary: { dataPoints: [{ attributes: [kv('m', 'get')], startTimeUnixNano: T0, timeUnixNano: T0 + S, count: 4n, sum: 2, quantileValues: [{ quantile: 0.5, value: 0.4 }, { quantile: 0.99, value: 0.9 }], flags: 0 }] } } as Metric;
  const latency = { name: 'latency', description: 'latency', unit: 's', histogram: { aggregationTemporality: CUMULATIVE, dataPoints: [{ attributes: [kv('route', '/a')], startTimeUnixNano: T0, timeUnixNano: T0 + S, count: 3n, sum: 2.5, bucketCounts: [1n, 2n, 0n], explicitBounds: [0.1, 1], exemplars: [], flags: 0 }] } } as Metric;
  const a = request([sum('calls', CUMULATIVE, [pt(T0, T0 + S, 5, [kv('x', '1')]), pt(T0, T0 + S, 7, [kv('x', '2')])]), latency], [kv('service.name', 'a'), kv('host.name', 'h1')]);
  const b = request([sum('delta', DELTA, [pt(T0, T0 + S, 2)]), rpc], [kv('service.name', 'b'), kv('service.instance.id', 'i-1')]);
  const both: ExportMetricsServiceRequest = { resourceMetrics: [...a.resourceMetrics, ...b.resourceMetrics] };
  // Two scopes in one resource too.
  both.resourceMetrics[1]!.scopeMetrics.push({ schemaUrl: '', metrics: [sum('second_scope', CUMULATIVE, [pt(T0, T0 + S, 1)])] } as never);
  const decoded = await exporter(t);
  const encoded = await exporter(t);
  await decoded.send(both);
  const bytes = Telemetry.fromRequest('metrics', both).toProto();
  const batch = Telemetry.fromProto('metrics', bytes);
  t.notOk(batch.isDecoded, 'the batch is still only bytes');
  await encoded.exp.consume(batch);
  const text = (await encoded.scrape()).text;
  t.equal(text, (await decoded.scrape()).text, 'the same scrape');
  t.match(text, /^calls_total\{job="a",x="2"\} 7/m);
  t.match(text, /^second_scope_total\{instance="i-1",job="b"\} 1/m);
  t.match(text, /^target_info\{host_name="h1",job="a"\} 1/m);
});

t.test('max_series: new series past it are refused and counted; held ones still update', async (t) => {
  const logs: string[] = [];
  const e = await exporter(t, { max_series: 3 }, logs);
  const points = Array.from({ length: 6 }, (_, i) => pt(T0, T0 + S, i, [kv('n', String(i))]));
  await e.send(request([sum('many', CUMULATIVE, points.slice(0, 5))], [kv('service.name', 'svc')]));
  await e.send(request([sum('many', CUMULATIVE, points.slice(5))], [kv('service.name', 'svc')]));
  t.equal(logs.filter((l) => l.includes('max_series (3) series held')).length, 1, 'one log line for two refusing batches (at most once a minute)');
  let text = (await e.scrape()).text;
  t.equal(text.split('\n').filter((l) => l.startsWith('many_total')).length, 3, 'three series shown');
  t.equal(metricValue(await e.own(), 'fleetcol_exporter_prometheus_overflow_series'), 3, 'three refused');
  t.equal(metricValue(await e.own(), 'fleetcol_exporter_prometheus_series'), 3, 'series gauge');
  await e.send(request([sum('many', CUMULATIVE, [pt(T0, T0 + 2n * S, 42, [kv('n', '0')])])], [kv('service.name', 'svc')]));
  text = (await e.scrape()).text;
  t.match(text, /^many_total\{job="svc",n="0"\} 42$/m, 'a held series still updates');
});

t.test('OpenMetrics with exemplars when asked and enabled; text otherwise; gzip', async (t) => {
  const trace = Uint8Array.from(Buffer.from('0af7651916cd43dd8448eb211c80319c', 'hex'));
  const span = Uint8Array.from(Buffer.from('b7ad6b7169203331', 'hex'));
  const exemplar = (v: number) => ({ filteredAttributes: [], timeUnixNano: T0 + S, asDouble: v, traceId: trace, spanId: span });
  const metrics: Metric[] = [
    sum('requests', CUMULATIVE, [pt(T0, T0 + S, 9, [], { exemplars: [exemplar(1)] })]),
    { name: 'latency', description: 'latency', unit: 's', histogram: { aggregationTemporality: CUMULATIVE, dataPoints: [{ attributes: [], startTimeUnixNano: T0, timeUnixNano: T0 + S, count: 3n, sum: 2.5, bucketCounts: [1n, 2n, 0n], explicitBounds: [0.1, 1], exemplars: [exemplar(0.7)], flags: 0 }] } } as Metric,
    { name: 'rpc', description: 'rpc', unit: 's', summary: { dataPoints: [{ attributes: [], startTimeUnixNano: T0, timeUnixNano: T0 + S, count: 4n, sum: 2, quantileValues: [{ quantile: 0.5, value: 0.4 }, { quantile: 0.99, value: 0.9 }], flags: 0 }] } } as Metric,
  ];
  const e = await exporter(t, { enable_open_metrics: true, send_timestamps: true });
  await e.send(request(metrics));
  const om = await e.scrape({ accept: 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5' });
  t.match(om.type, /^application\/openmetrics-text; version=1\.0\.0/);
  const ts = Number((T0 + S) / 1_000_000n) / 1000;
  t.match(om.text, /^# TYPE requests counter$/m, 'counter family without _total');
  t.ok(om.text.includes(`requests_total{job="svc"} 9 ${ts} # {trace_id="0af7651916cd43dd8448eb211c80319c",span_id="b7ad6b7169203331"} 1 ${ts}\n`), `counter exemplar:\n${om.text}`);
  t.ok(om.text.includes(`latency_seconds_bucket{job="svc",le="1"} 3 ${ts} # {trace_id="0af7651916cd43dd8448eb211c80319c",span_id="b7ad6b7169203331"} 0.7 ${ts}\n`), 'histogram exemplar on the bucket its value falls in');
  t.ok(om.text.includes(`latency_seconds_bucket{job="svc",le="0.1"} 1 ${ts}\n`), 'no exemplar on the other buckets');
  t.match(om.text, /^# TYPE target info$/m, 'target_info as an info family');
  t.match(om.text, /^rpc_seconds\{job="svc",quantile="0\.99"\} 0\.9 /m, 'summary quantiles');
  t.ok(om.text.endsWith('# EOF\n'), 'ends with # EOF');

  const text = await e.scrape({ accept: 'text/plain' });
  t.match(text.type, /^text\/plain; version=0\.0\.4/);
  t.notMatch(text.text, /# \{|# EOF/, 'no exemplars, no EOF in the text format');
  t.match(text.text, new RegExp(`^requests_total\\{job="svc"\\} 9 ${(T0 + S) / 1_000_000n}$`, 'm'), 'timestamps in ms');

  const plain = await exporter(t, { enable_open_metrics: false });
  await plain.send(request(metrics));
  t.match((await plain.scrape({ accept: 'application/openmetrics-text' })).type, /^text\/plain/, 'OpenMetrics off: text even when asked');

  const gz = await new Promise<{ enc: string | undefined; body: Buffer }>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: e.port, path: '/metrics', headers: { 'accept-encoding': 'gzip' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ enc: res.headers['content-encoding'], body: Buffer.concat(chunks) }));
    }).on('error', reject);
  });
  t.equal(gz.enc, 'gzip');
  t.equal(zlib.gunzipSync(gz.body).toString(), text.text, 'gzip body is the text body');
  t.equal((await fetch(`http://127.0.0.1:${e.port}/other`)).status, 404);
  t.ok(metricValue(await e.own(), 'fleetcol_exporter_prometheus_scrapes') >= 3, 'scrapes counted');

  t.ok(wantsOpenMetrics('application/openmetrics-text; version=1.0.0; q=0.9'));
  t.notOk(wantsOpenMetrics('application/openmetrics-text;q=0,text/plain'));
  t.ok(acceptsGzip('deflate, gzip;q=0.5'));
  t.notOk(acceptsGzip('gzip;q=0'));
});

t.test('exponential histograms become classic buckets at exponential boundaries, merged to at most 40', async (t) => {
  // scale 0: base 2; positive bucket k covers (2^k, 2^(k+1)].
  const c = expToClassic({ scale: 0, zeroCount: 0, zeroThreshold: 0, positive: { offset: 0, counts: [1, 2, 3] }, negative: { offset: 0, counts: [] } }, 6);
  t.same(c, { bounds: [2, 4, 8], counts: [1, 2, 3, 0] });
  const neg = expToClassic({ scale: 1, zeroCount: 2, zeroThreshold: 0, positive: { offset: -2, counts: [1] }, negative: { offset: 0, counts: [4, 1] } }, 8);
  // negative bucket 1 covers [-2, -√2), bucket 0 [-√2, -1); zero bucket; positive bucket -2 covers (0.5, 2^-0.5].
  t.same(neg.bounds.map((b) => Math.round(b * 1000) / 1000), [-1.414, -1, 0, 0.707]);
  t.same(neg.counts, [1, 4, 2, 1, 0]);
  const wide = expToClassic({ scale: 3, zeroCount: 0, zeroThreshold: 0, positive: { offset: -50, counts: Array.from({ length: 150 }, () => 1) }, negative: { offset: 0, counts: [] } }, 150);
  t.ok(wide.bounds.length <= 40, `${wide.bounds.length} buckets`);
  t.equal(wide.counts.reduce((a, b) => a + b, 0), 150, 'no count lost');
  // 150 buckets at scale 3 → 38 at scale 1: every bound is 2^(k/2).
  t.ok(wide.bounds.every((b) => Math.abs(Math.log2(b) * 2 - Math.round(Math.log2(b) * 2)) < 1e-9), 'every bound an exponential boundary of scale 1');

  const e = await exporter(t);
  const pt = (start: bigint, time: bigint, counts: number[], scale: number, count: number, s: number) => ({ attributes: [], startTimeUnixNano: start, timeUnixNano: time, count: BigInt(count), sum: s, scale, zeroCount: 0n, zeroThreshold: 0, positive: { offset: 0, bucketCounts: counts.map(BigInt) }, exemplars: [], flags: 0 });
  const metric = (p: ReturnType<typeof pt>): Metric => ({ name: 'size', description: 'size', unit: 'By', exponentialHistogram: { aggregationTemporality: DELTA, dataPoints: [p] } } as Metric);
  await e.send(request([metric(pt(T0, T0 + S, [1, 1, 1, 1], 1, 4, 6))])); // scale 1: (1,√2], (√2,2], (2,2√2], (2√2,4]
  await e.send(request([metric(pt(T0 + S, T0 + 2n * S, [2, 3], 0, 5, 9))])); // scale 0: (1,2], (2,4]
  const text = (await e.scrape()).text;
  t.match(text, /^size_bytes_bucket\{job="svc",le="2"\} 4$/m, 'delta exponential histograms of different scales added at the coarser one');
  t.match(text, /^size_bytes_bucket\{job="svc",le="4"\} 9$/m);
  t.match(text, /^size_bytes_bucket\{job="svc",le="\+Inf"\} 9$/m);
  t.match(text, /^size_bytes_count\{job="svc"\} 9$/m);
  t.match(text, /^size_bytes_sum\{job="svc"\} 15$/m);
});

t.test('config: defaults, and every problem reported by fleetcol validate', async (t) => {
  const d = prometheusExporterFactory.createDefaultConfig() as unknown as Record<string, unknown>;
  t.equal(d.endpoint, '0.0.0.0:8889', 'default endpoint as documented');
  t.equal(d.metric_expiration, '5m');
  t.equal(d.max_series, 100000);
  t.same(d.resource_to_telemetry_conversion, { enabled: false });
  const file = tempFile('bad.yaml', `receivers:
  otlp: { protocols: { http: { endpoint: 127.0.0.1:0 } } }
exporters:
  prometheus:
    endpoint: "host:99999"
    metric_expiration: soon
    max_series: 0
    enable_openmetrics: true
service:
  pipelines:
    metrics: { receivers: [otlp], exporters: [prometheus] }
`);
  const r = await runCli(['validate', '--config', file]);
  t.equal(r.code, 2, 'invalid config: exit 2');
  const out = r.stdout + r.stderr;
  t.match(out, /exporters\.prometheus\.endpoint/, 'endpoint named');
  t.match(out, /exporters\.prometheus\.metric_expiration/, 'duration named');
  t.match(out, /exporters\.prometheus\.max_series/, 'max_series named');
  t.match(out, /enable_openmetrics/, 'unknown key named');
  const good = tempFile('good.yaml', `receivers:
  otlp: { protocols: { http: { endpoint: 127.0.0.1:4318 } } }
exporters:
  prometheus: { endpoint: 127.0.0.1:8889, namespace: fleet, const_labels: { a: b }, metric_expiration: 30s, send_timestamps: true, enable_open_metrics: true, resource_to_telemetry_conversion: { enabled: true } }
service:
  pipelines:
    metrics: { receivers: [otlp], exporters: [prometheus] }
`);
  const ok = await runCli(['validate', '--config', good]);
  t.equal(ok.code, 0, `a full config is valid: ${ok.stdout}${ok.stderr}`);
});

for (const worker_thread of [false, true]) t.test(`a large scrape ${worker_thread ? 'on the exporter\'s thread leaves the main event loop free' : 'on the main thread is rendered in time slices with the event loop free between them'}; ingestion goes on meanwhile`, async (t) => {
  const e = await exporter(t, { worker_thread });
  const points = Array.from({ length: 20_000 }, (_, i) => pt(T0, T0 + S, i, [kv('series', `s-${i}`)]));
  await e.send(request([sum('wide', CUMULATIVE, points)], [kv('service.name', 'svc')]));
  let ticks = 0;
  let during = false;
  // The longest the loop went without running a 1 ms timer: the scrape renders in slices.
  let last = performance.now();
  let longest = 0;
  const ticker = setInterval(() => {
    ticks++;
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 1);
  const body = new Promise<string>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: e.port, path: '/metrics' }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        // While the answer is still coming, a batch is taken.
        if (!during && text.length > 0) {
          during = true;
          void e.send(request([sum('late', CUMULATIVE, [pt(T0, T0 + S, 1)])], [kv('service.name', 'svc')]));
        }
        text += c;
      });
      res.on('end', () => resolve(text));
    }).on('error', reject);
  });
  const text = await body;
  clearInterval(ticker);
  t.equal(text.split('\n').filter((l) => l.startsWith('wide_total')).length, 20_000, 'every series in the answer');
  t.ok(ticks >= 2, `timers ran during the scrape (${ticks} ticks)`);
  t.ok(longest < 100, `the loop was never held for long (longest gap ${longest.toFixed(1)} ms; slices are 8 ms)`);
  t.ok(during, 'a batch was consumed while the scrape was being written');
  t.match((await e.scrape()).text, /^late_total\{job="svc"\} 1$/m, 'and is in the next scrape');
});

t.test('a scrape is the series\' lines byte for byte, written directly or as rendered: values of every kind, timestamps, both formats', async (t) => {
  const trace = Uint8Array.from(Buffer.from('0af7651916cd43dd8448eb211c80319c', 'hex'));
  const span = Uint8Array.from(Buffer.from('b7ad6b7169203331', 'hex'));
  const labelValues = ['plain', 'ключ', 'emoji 😀', 'é'.repeat(40_000), 'x'.repeat(70_000), 'quote " and \\ and \n newline', ''];
  const numbers = [0, -0, 1, 7, 9, 10, 99, 12345, 2 ** 53 - 1, 2 ** 53, 1e21, 0.5, -3, -2.25, 1e-7, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
  for (const timestamps of [false, true]) {
    const { e, w, send } = await twins(t, { enable_open_metrics: true, send_timestamps: timestamps });
    const metrics: Metric[] = [];
    // enough series for several 64 KiB chunks, with the odd ones between them
    for (let m = 0; m < 3; m++) {
      const points = [];
      for (let i = 0; i < 800; i++) points.push(pt(T0, T0 + S, numbers[i % numbers.length]!, [kv('k', i % 100 === 7 ? labelValues[((i / 100) | 0) % labelValues.length]! : `v${i}`)]));
      for (const v of labelValues) points.push(pt(T0, T0 + S, 1, [kv('k', v), kv('n', String(m))]));
      metrics.push(sum(`family_${m}`, CUMULATIVE, points));
      metrics.push({ name: `level_${m}`, description: '', unit: '', gauge: { dataPoints: numbers.map((v, i) => pt(T0, T0 + S, v, [kv('g', `${i}`)])) } } as Metric);
    }
    const hist = (name: string, bounds: number[], counts: bigint[], attrs: KeyValue[], sum?: number, exemplars = false) =>
      ({ attributes: attrs, startTimeUnixNano: T0, timeUnixNano: T0 + S, count: counts.reduce((a, b) => a + b, 0n), ...(sum === undefined ? {} : { sum }), bucketCounts: counts, explicitBounds: bounds, exemplars: exemplars ? [{ filteredAttributes: [], timeUnixNano: T0 + S, asDouble: 0.7, traceId: trace, spanId: span }] : [], flags: 0 });
    metrics.push({ name: 'latency', description: 'latency', unit: 's', histogram: { aggregationTemporality: CUMULATIVE, dataPoints: [
      hist('a', [0.1, 1, 10], [1n, 2n, 3n, 4n], [kv('h', 'a')], 2.5),
      hist('b', [], [5n], [kv('h', 'b')]),
      hist('c', [0.5, Number.POSITIVE_INFINITY], [1n, 1n, 0n], [kv('h', 'ключ')], -1.5),
      hist('d', [1, 2], [0n, 1n, 2n], [kv('h', 'with exemplar')], 4, true),
    ] } } as Metric);
    metrics.push({ name: 'rpc', description: 'rpc', unit: 's', summary: { dataPoints: [{ attributes: [], startTimeUnixNano: T0, timeUnixNano: T0 + S, count: 4n, sum: 2, quantileValues: [{ quantile: 0.5, value: 0.4 }], flags: 0 }] } } as Metric);
    metrics.push({ name: 'exp', description: '', unit: '', exponentialHistogram: { aggregationTemporality: CUMULATIVE, dataPoints: [{ attributes: [], startTimeUnixNano: T0, timeUnixNano: T0 + S, count: 3n, sum: 3, scale: 0, zeroCount: 0n, zeroThreshold: 0, positive: { offset: 0, bucketCounts: [1n, 2n] }, negative: { offset: 0, bucketCounts: [] }, flags: 0, exemplars: [] }] } } as Metric);
    await send(request(metrics));
    // a histogram's bounds change: its lines follow
    await send(request([{ name: 'latency', description: 'latency', unit: 's', histogram: { aggregationTemporality: CUMULATIVE, dataPoints: [
      { ...hist('a', [0.2, 2], [3n, 3n, 4n], [kv('h', 'a')], 3), timeUnixNano: T0 + 2n * S },
    ] } } as Metric]));
    for (const [label, accept] of [['text', 'text/plain'], ['OpenMetrics', 'application/openmetrics-text']] as const) {
      const om = accept !== 'text/plain';
      const { text } = await e.scrape({ accept });
      t.ok((await w.scrape({ accept })).text === text, `${label}, timestamps ${timestamps}: on the exporter's thread, the same bytes`);
      // the scrape, family by family, is the header then every series as renderSeries renders it
      let want = '';
      for (const f of e.exp.store.families.values()) {
        want += familyHeader(f, om);
        for (const s of f.series.values()) want += renderSeries(s, om, timestamps);
      }
      if (om) want += '# EOF\n';
      t.equal(text.length, want.length, `${label}, timestamps ${timestamps}: as long as rendered`);
      t.ok(text === want, `${label}, timestamps ${timestamps}: byte for byte as rendered (${Buffer.byteLength(text)} bytes)`);
      if (text !== want) {
        let i = 0;
        while (i < text.length && text[i] === want[i]) i++;
        t.comment(`first difference at ${i}: got ${JSON.stringify(text.slice(i - 80, i + 80))}, want ${JSON.stringify(want.slice(i - 80, i + 80))}`);
      }
      t.ok(Buffer.byteLength(text) > 4 * 65536, `${label}: several chunks`);
      t.ok(text.includes('le="0.2"') && !text.includes('h="a",le="0.1"'), `${label}: the histogram's new bounds`);
    }
  }
});

t.test('text and OpenMetrics scrapes in turn: each as rendered, counters named for their format', async (t) => {
  const { e, w, send } = await twins(t, { enable_open_metrics: true, add_metric_suffixes: false });
  await send(request([sum('jobs', CUMULATIVE, [pt(T0, T0 + S, 3, [kv('k', 'a')])]), sum('done_total', CUMULATIVE, [pt(T0, T0 + S, 4)])]));
  for (let i = 0; i < 4; i++) {
    const om = i % 2 === 1;
    const { text } = await e.scrape({ accept: om ? 'application/openmetrics-text' : 'text/plain' });
    t.equal((await w.scrape({ accept: om ? 'application/openmetrics-text' : 'text/plain' })).text, text, `scrape ${i + 1}: the same on the exporter's thread`);
    let want = '';
    for (const f of e.exp.store.families.values()) {
      want += familyHeader(f, om);
      for (const s of f.series.values()) want += renderSeries(s, om, false);
    }
    if (om) want += '# EOF\n';
    t.equal(text, want, `scrape ${i + 1} (${om ? 'OpenMetrics' : 'text'}) as rendered`);
    t.match(text, om ? /^jobs_total\{job="svc",k="a"\} 3$/m : /^jobs\{job="svc",k="a"\} 3$/m, 'the counter named for the format');
  }
});

t.test('the exporter\'s thread: a port in use fails start; a thread that dies is started again on its port, and refuses meanwhile as retryable', async (t) => {
  const logs: string[] = [];
  const e = await exporter(t, { worker_thread: true }, logs);
  await e.send(request([sum('before', CUMULATIVE, [pt(T0, T0 + S, 1)])]));
  t.match((await e.scrape()).text, /^before_total\{job="svc"\} 1$/m);
  t.equal(metricValue(await e.own(), 'fleetcol_exporter_prometheus_series'), 2, 'series gauge from the thread (the counter and target_info)');

  // Another exporter on the same port: start rejects with the listen error, its thread stopped.
  const defaults = prometheusExporterFactory.createDefaultConfig() as unknown as Record<string, unknown>;
  const other = prometheusExporterFactory.createExporter!(settings('exporter', 'prometheus/other'), { ...defaults, endpoint: `127.0.0.1:${e.port}` } as PrometheusExporterConfig, ['metrics']) as PrometheusExporter;
  await t.rejects(other.start({ extension: () => undefined }), /EADDRINUSE/, 'the port in use named');
  await other.shutdown();

  // The thread dies: a request meanwhile is refused as retryable; it comes back on the same port.
  const thread = (e.exp as unknown as { thread: { terminate(): Promise<number> } }).thread;
  await thread.terminate();
  const refused = await e.send(request([sum('during', CUMULATIVE, [pt(T0, T0 + S, 1)])])).then(() => undefined, (err: Error) => err);
  t.equal(refused?.name, 'RetryableError', `refused as retryable while it starts again (${refused?.message})`);
  t.ok(logs.some((l) => l.includes('its thread stopped')), 'logged');
  // Its port taken meanwhile: it cannot listen, says so, and tries again later.
  const blocker = http.createServer();
  for (let i = 0; ; i++) {
    const bound = await new Promise<boolean>((resolve) => {
      blocker.once('error', () => resolve(false));
      blocker.listen(e.port, '127.0.0.1', () => resolve(true));
    });
    if (bound) break;
    if (i > 50) throw new Error(`port ${e.port} never came free`);
    await sleep(20);
  }
  for (let i = 0; i < 100 && !logs.some((l) => l.includes('could not start again')); i++) await sleep(50);
  t.ok(logs.some((l) => l.includes('could not start again') && l.includes('EADDRINUSE')), 'a restart that cannot listen is logged');
  await new Promise<void>((resolve) => blocker.close(() => resolve()));
  const started = Date.now();
  while (Date.now() - started < 10_000) {
    if ((e.exp as unknown as { thread: unknown }).thread !== undefined && e.exp.port > 0) {
      const ok = await e.send(request([sum('after', CUMULATIVE, [pt(T0, T0 + S, 2)])])).then(() => true, () => false);
      if (ok) break;
    }
    await sleep(100);
  }
  const text = (await e.scrape()).text;
  t.match(text, /^after_total\{job="svc"\} 2$/m, 'stored and scraped on the same port after the restart');
  t.notMatch(text, /before_total/, 'what the dead thread held is gone (the README says so)');
});

t.test('the exporter\'s thread at shutdown: what it was given is stored and answered; a dead thread does not hold shutdown up', async (t) => {
  const defaults = prometheusExporterFactory.createDefaultConfig() as unknown as Record<string, unknown>;
  const make = async () => {
    const exp = prometheusExporterFactory.createExporter!(settings('exporter', 'prometheus', 5000), { ...defaults, endpoint: `127.0.0.1:${await freePort()}` } as PrometheusExporterConfig, ['metrics']) as PrometheusExporter;
    await exp.start({ extension: () => undefined });
    return exp;
  };
  const exp = await make();
  const points = Array.from({ length: 5000 }, (_, i) => pt(T0, T0 + S, i, [kv('series', `s-${i}`)]));
  const sends = Array.from({ length: 8 }, (_, i) => exp.consume(Telemetry.fromRequest('metrics', request([sum(`m${i}`, CUMULATIVE, points)]))).then(() => 'stored', (err: Error) => err.message));
  await exp.shutdown();
  t.same(await Promise.all(sends), Array(8).fill('stored'), 'every store in flight at shutdown was stored and answered');
  const late = await exp.consume(Telemetry.fromRequest('metrics', request([sum('late', CUMULATIVE, [pt(T0, T0 + S, 1)])]))).then(() => undefined, (err: Error) => err);
  t.equal(late?.name, 'RetryableError', `after shutdown: refused as retryable (${late?.message})`);

  const dead = await make();
  await (dead as unknown as { thread: { terminate(): Promise<number> } }).thread.terminate();
  const began = Date.now();
  await dead.shutdown();
  t.ok(Date.now() - began < 2000, `shutdown with its thread gone took ${Date.now() - began} ms (shutdown timeout 5 s)`);
});

t.test('the exporter\'s thread: gzip scrapes, and clients that leave mid-scrape, leave it answering', async (t) => {
  const e = await exporter(t);
  await e.send(request([sum('wide', CUMULATIVE, Array.from({ length: 20_000 }, (_, i) => pt(T0, T0 + S, i, [kv('series', `s-${i}`)])))]));
  for (let i = 0; i < 5; i++) {
    await new Promise<void>((resolve) => {
      const req = http.get({ host: '127.0.0.1', port: e.port, path: '/metrics', headers: { 'accept-encoding': i % 2 ? 'gzip' : 'identity' } }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => resolve());
    });
  }
  await e.send(request([sum('after', CUMULATIVE, [pt(T0, T0 + S, 5)])]));
  const body = await new Promise<string>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: e.port, path: '/metrics', headers: { 'accept-encoding': 'gzip' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c)).on('end', () => resolve(zlib.gunzipSync(Buffer.concat(chunks)).toString())).on('error', reject);
    }).on('error', reject);
  });
  t.equal(body.split('\n').filter((l) => l.startsWith('wide_total')).length, 20_000, 'a whole gzip scrape after five abandoned ones');
  t.match(body, /^after_total\{job="svc"\} 5$/m, 'and a store made meanwhile');
});

t.test('the exporter\'s thread: a scraper that stops reading holds stores back only briefly', async (t) => {
  const e = await exporter(t, { max_series: 200_000 });
  const pad = 'p'.repeat(200);
  await e.send(request([sum('wide', CUMULATIVE, Array.from({ length: 40_000 }, (_, i) => pt(T0, T0 + S, i, [kv('series', `${pad}-${i}`)])))]));
  let received = 0;
  const { res, done } = await new Promise<{ res: http.IncomingMessage; done: Promise<void> }>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: e.port, path: '/metrics' }, (res) => {
      res.pause(); // read nothing: the answer's ~9 MiB wait on the thread
      resolve({ res, done: new Promise((r) => res.on('data', (c: Buffer) => (received += c.length)).on('end', () => r())) });
    }).on('error', reject);
  });
  await sleep(200);
  const began = Date.now();
  // stores long enough to cross their 5-ms slices, where they may wait for the scrape
  const big = (i: number) => request([sum(`m${i}`, CUMULATIVE, Array.from({ length: 5000 }, (_, j) => pt(T0, T0 + S, i, [kv('k', `${j}`)])))]);
  for (let i = 0; i < 20; i++) await e.send(big(i));
  const took = Date.now() - began;
  t.ok(took < 10_000, `20 stores of 5,000 points while the scrape waits unread: ${took} ms (stores wait 50 ms at most after a scrape)`);
  res.resume();
  await done;
  t.ok(received > 8 * 2 ** 20, `then the whole answer: ${(received / 2 ** 20).toFixed(1)} MiB`);
  t.match((await e.scrape()).text, /^m19_total\{job="svc",k="4999"\} 19$/m, 'the stores are in the next scrape');
});
