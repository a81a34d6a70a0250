// prometheusremotewrite translation: OTLP metrics from the official SDK and hand-built edge cases
// → WriteRequests, decoded here with protobufjs (an independent decoder) after snappy.
import t from 'tap';
import protobuf from 'protobufjs';
import snappy from 'snappy';
import { Telemetry, type ExportMetricsServiceRequest, type Metric } from '../src/pdata/telemetry.js';
import {
  familyName,
  sanitizeLabelName,
  sanitizeMetricName,
  toRemoteWrite,
  unitSuffix,
  type TranslateOptions,
  type TranslateResult,
} from '../exporters/prometheusremotewrite/translate.js';
import { classifyStatus, retryAfterMs, topLevelFields } from '../exporters/prometheusremotewrite/exporter.js';
import { PermanentError, RetryableError } from '../src/consumer.js';
import { sdkMetrics } from './pdata-sdk-fixtures.js';

const root = protobuf.Root.fromJSON({
  nested: {
    WriteRequest: { fields: { timeseries: { rule: 'repeated', type: 'TimeSeries', id: 1 } } },
    TimeSeries: {
      fields: {
        labels: { rule: 'repeated', type: 'Label', id: 1 },
        samples: { rule: 'repeated', type: 'Sample', id: 2 },
        histograms: { rule: 'repeated', type: 'Histogram', id: 4 },
      },
    },
    Label: { fields: { name: { type: 'string', id: 1 }, value: { type: 'string', id: 2 } } },
    Sample: { fields: { value: { type: 'double', id: 1 }, timestamp: { type: 'int64', id: 2 } } },
    BucketSpan: { fields: { offset: { type: 'sint32', id: 1 }, length: { type: 'uint32', id: 2 } } },
    Histogram: {
      fields: {
        countInt: { type: 'uint64', id: 1 },
        sum: { type: 'double', id: 3 },
        schema: { type: 'sint32', id: 4 },
        zeroThreshold: { type: 'double', id: 5 },
        zeroCountInt: { type: 'uint64', id: 6 },
        negativeSpans: { rule: 'repeated', type: 'BucketSpan', id: 8 },
        negativeDeltas: { rule: 'repeated', type: 'sint64', id: 9 },
        positiveSpans: { rule: 'repeated', type: 'BucketSpan', id: 11 },
        positiveDeltas: { rule: 'repeated', type: 'sint64', id: 12 },
        timestamp: { type: 'int64', id: 15 },
      },
    },
  },
});
const WriteRequest = root.lookupType('WriteRequest');

interface Decoded {
  labels: Record<string, string>;
  samples: { value: number; timestamp: number }[];
  histograms: Record<string, unknown>[];
}

function decode(r: TranslateResult): Decoded[] {
  const out: Decoded[] = [];
  for (const compressed of r.requests) {
    const raw = snappy.uncompressSync(Buffer.from(compressed)) as Buffer;
    const msg = WriteRequest.toObject(WriteRequest.decode(raw), { longs: Number, defaults: true }) as { timeseries: { labels: { name: string; value: string }[]; samples: { value: number; timestamp: number }[]; histograms: Record<string, unknown>[] }[] };
    const unsorted = msg.timeseries.filter((ts) => ts.labels.some((l, i) => i > 0 && ts.labels[i - 1]!.name >= l.name));
    t.equal(unsorted.length, 0, 'every series\' labels sorted by name, each name once');
    for (const ts of msg.timeseries) {
      out.push({ labels: Object.fromEntries(ts.labels.map((l) => [l.name, l.value])), samples: ts.samples, histograms: ts.histograms });
    }
  }
  return out;
}

const defaults: TranslateOptions = { namespace: '', addMetricSuffixes: true, resourceToTelemetry: false, targetInfo: true, externalLabels: {}, maxRequestBytes: 3_000_000 };

function run(req: ExportMetricsServiceRequest | Uint8Array, opts: Partial<TranslateOptions> = {}): TranslateResult {
  const bytes = req instanceof Uint8Array ? req : Telemetry.fromRequest('metrics', req).toProto();
  const input = new Uint8Array(bytes).buffer;
  return toRemoteWrite({ input, options: { ...defaults, ...opts } });
}

function find(series: Decoded[], name: string, labels: Record<string, string> = {}): Decoded | undefined {
  return series.find((s) => s.labels.__name__ === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

t.test('names: sanitized, unit and type suffixes', async (t) => {
  t.equal(sanitizeMetricName('http.server.request.duration'), 'http_server_request_duration');
  t.equal(sanitizeMetricName('9lives..x'), '_9lives_x');
  t.equal(sanitizeLabelName('k8s.pod.name'), 'k8s_pod_name');
  t.equal(sanitizeLabelName('0day'), 'key_0day');
  t.equal(sanitizeLabelName('__secret'), 'key__secret');
  t.equal(unitSuffix('ms'), 'milliseconds');
  t.equal(unitSuffix('By/s'), 'bytes_per_second');
  t.equal(unitSuffix('{request}'), '');
  t.equal(unitSuffix('1'), '');
  t.equal(unitSuffix('{tokens}/min'), 'per_minute');
  const m = (name: string, unit: string) => ({ name, unit, description: '' }) as Metric;
  const o = { namespace: '', addMetricSuffixes: true };
  t.equal(familyName(m('gen_ai.client.operation.duration', 's'), 'histogram', o), 'gen_ai_client_operation_duration_seconds');
  t.equal(familyName(m('requests', '{request}'), 'counter', o), 'requests_total');
  t.equal(familyName(m('requests_total', ''), 'counter', o), 'requests_total', 'no double _total');
  t.equal(familyName(m('latency_seconds', 's'), 'gauge', o), 'latency_seconds', 'no double unit');
  t.equal(familyName(m('cpu.utilization', '1'), 'gauge', o), 'cpu_utilization_ratio');
  t.equal(familyName(m('io', 'By'), 'counter', { namespace: 'agents', addMetricSuffixes: true }), 'agents_io_bytes_total');
  t.equal(familyName(m('io', 'By'), 'counter', { namespace: '', addMetricSuffixes: false }), 'io');
});

t.test('the SDK fixture: every instrument, job, target_info', async (t) => {
  const fx = await sdkMetrics();
  const r = run(fx.proto);
  const series = decode(r);
  t.equal(r.series, series.length, 'series count reported');
  t.same(r.dropped, {}, 'nothing dropped (all cumulative)');

  const a = find(series, 'requests_total', { route: '/a' });
  t.ok(a, 'counter with _total');
  t.equal(a!.samples[0]!.value, 3);
  t.equal(a!.labels.job, 'sdk-fixture', 'service.name → job');
  t.equal(find(series, 'requests_total', { route: '/b' })!.samples[0]!.value, 4);
  t.ok(Math.abs(a!.samples[0]!.timestamp - Date.now()) < 60_000, 'timestamp in ms');

  t.equal(find(series, 'queue_depth')!.samples[0]!.value, 1.25, 'up-down counter → gauge without _total');
  t.equal(find(series, 'temperature_celsius', { room: 'b' })!.samples[0]!.value, -3, 'gauge with unit suffix');

  // histogram: bucket counts cumulative, +Inf = count
  const buckets = series.filter((s) => s.labels.__name__ === 'latency_milliseconds_bucket');
  const inf = buckets.find((s) => s.labels.le === '+Inf')!;
  t.equal(inf.samples[0]!.value, 5, '+Inf bucket = count');
  const le10 = buckets.find((s) => s.labels.le === '10')!;
  t.equal(le10.samples[0]!.value, 2, 'le=10 holds 1 and 7');
  const values = buckets.map((b) => ({ le: b.labels.le === '+Inf' ? Infinity : Number(b.labels.le), v: b.samples[0]!.value })).sort((x, y) => x.le - y.le);
  for (let i = 1; i < values.length; i++) t.ok(values[i]!.v >= values[i - 1]!.v, `cumulative at le=${values[i]!.le}`);
  t.equal(find(series, 'latency_milliseconds_sum')!.samples[0]!.value, 5158);
  t.equal(find(series, 'latency_milliseconds_count')!.samples[0]!.value, 5);

  // exponential histogram → native histogram
  const nh = series.find((s) => s.labels.__name__ === 'latency_exp_seconds' && s.labels.op === undefined)!;
  t.equal(nh.histograms.length, 1, 'native histogram');
  const h = nh.histograms[0] as { countInt: number; sum: number; zeroCountInt: number; positiveDeltas: number[]; schema: number };
  t.equal(h.countInt, 7);
  t.equal(h.zeroCountInt, 2, 'two zeros in the zero bucket');
  let acc = 0, total = 0;
  for (const d of h.positiveDeltas) { acc += d; total += acc; }
  t.equal(total, 5, 'positive buckets hold the five non-zero values');
  t.ok(h.schema <= 8 && h.schema >= -4, `schema in range (${h.schema})`);

  const info = find(series, 'target_info');
  t.ok(info, 'target_info');
  t.equal(info!.labels.service_version, '1.2.3');
  t.equal(info!.labels.host_cores, '8');
  t.equal(info!.labels.feature_enabled, 'true');
  t.equal(info!.labels.job, 'sdk-fixture');
  t.equal(info!.labels.service_name, undefined, 'identifying attributes are not repeated');
  t.equal(info!.samples[0]!.value, 1);
});

const now = BigInt(Date.now()) * 1_000_000n;
const resource = (attrs: Record<string, string>) => ({ attributes: Object.entries(attrs).map(([key, v]) => ({ key, value: { stringValue: v } })), droppedAttributesCount: 0 });
const point = (value: number, attrs: Record<string, string> = {}, t = now, flags = 0) => ({
  attributes: Object.entries(attrs).map(([key, v]) => ({ key, value: { stringValue: v } })),
  startTimeUnixNano: 0n,
  timeUnixNano: t,
  asDouble: value,
  exemplars: [],
  flags,
});
function request(metrics: Metric[], attrs: Record<string, string> = { 'service.name': 'agent', 'service.namespace': 'fleet', 'service.instance.id': 'i-1' }): ExportMetricsServiceRequest {
  return { resourceMetrics: [{ resource: resource(attrs), schemaUrl: '', scopeMetrics: [{ schemaUrl: '', metrics }] }] };
}

t.test('edge cases: delta dropped, stale marker, collisions, order, external labels, resource labels', async (t) => {
  const r = run(
    request([
      { name: 'tokens', description: '', unit: '{token}', sum: { aggregationTemporality: 1, isMonotonic: true, dataPoints: [point(5), point(6)] } },
      { name: 'gone', description: '', unit: '', gauge: { dataPoints: [point(0, {}, now, 1)] } },
      { name: 'coll', description: '', unit: '', gauge: { dataPoints: [point(1, { 'a.b': 'x', a_b: 'y' })] } },
      { name: 'ordered', description: '', unit: '', gauge: { dataPoints: [point(2, {}, now), point(1, {}, now - 5_000_000_000n)] } },
      { name: 'ext', description: '', unit: '', gauge: { dataPoints: [point(1, { region: 'mine' })] } },
    ]),
    { externalLabels: { region: 'eu', cluster: 'c1' }, resourceToTelemetry: true },
  );
  t.same(r.dropped, { delta_temporality: 2 }, 'delta points counted as dropped');
  const series = decode(r);
  t.notOk(find(series, 'tokens_total'), 'no series for a delta sum');
  const stale = find(series, 'gone')!;
  const buf = Buffer.alloc(8);
  buf.writeDoubleLE(stale.samples[0]!.value);
  t.ok(Number.isNaN(stale.samples[0]!.value), 'NO_RECORDED_VALUE → NaN');
  t.equal(buf.readUInt32LE(0), 2, 'the staleness marker bit pattern');
  t.equal(find(series, 'coll')!.labels.a_b, 'x;y', 'colliding keys joined in key order (a.b before a_b)');
  const ordered = find(series, 'ordered')!;
  t.same(ordered.samples.map((s) => s.value), [1, 2], 'one series, samples oldest first');
  const ext = find(series, 'ext')!;
  t.equal(ext.labels.region, 'mine', 'a series label wins over an external label');
  t.equal(ext.labels.cluster, 'c1', 'external label added');
  t.equal(ext.labels.job, 'fleet/agent', 'namespace/name → job');
  t.equal(ext.labels.instance, 'i-1', 'instance');
  t.notOk(find(series, 'target_info'), 'no target_info when the resource has nothing beyond job and instance');
});

t.test('a large batch is split into requests of at most max_batch_size_bytes', async (t) => {
  const points = Array.from({ length: 2000 }, (_, i) => point(i, { id: `agent-${i}` }));
  const r = run(request([{ name: 'load', description: '', unit: '', gauge: { dataPoints: points } }]), { maxRequestBytes: 16_384 });
  t.ok(r.requests.length > 3, `several requests (${r.requests.length})`);
  for (const q of r.requests) t.ok((snappy.uncompressSync(Buffer.from(q)) as Buffer).length <= 16_384, 'each within the limit');
  const series = decode(r);
  t.equal(series.length, 2000, 'every series once');
  t.equal(new Set(series.map((s) => s.labels.id)).size, 2000);
});

t.test('HTTP answers: 2xx ok, 429/5xx retryable with Retry-After, other 4xx permanent', async (t) => {
  t.equal(classifyStatus(204, '', undefined), undefined);
  const busy = classifyStatus(503, 'overloaded', '7');
  t.ok(busy instanceof RetryableError);
  t.equal((busy as RetryableError).retryAfterMs, 7000);
  t.ok(classifyStatus(429, '', undefined) instanceof RetryableError);
  const bad = classifyStatus(400, 'out of order sample', undefined);
  t.ok(bad instanceof PermanentError);
  t.match(bad!.message, /HTTP 400: out of order sample/);
  t.equal(retryAfterMs(new Date(Date.now() + 3000).toUTCString()) !== undefined, true, 'HTTP date');
});

t.test('a request splits at its series without decoding (topLevelFields)', async (t) => {
  const points = Array.from({ length: 300 }, (_, i) => point(i, { id: `a${i}` }));
  const r = run(request([{ name: 'split', description: '', unit: '', gauge: { dataPoints: points } }]));
  t.equal(r.requests.length, 1);
  const raw = snappy.uncompressSync(Buffer.from(r.requests[0]!)) as Buffer;
  const fields = topLevelFields(raw);
  t.equal(fields.length, r.points[0]!.length, 'one field per series, as many as the points list');
  t.equal(fields.length, 300);
  t.equal(fields.at(-1)![1], raw.length, 'the fields cover the request');
  const half = decode({ ...r, requests: [new Uint8Array(snappy.compressSync(raw.subarray(fields[150]![0], fields[299]![1])))] });
  t.equal(half.length, 150, 'the second half is a WriteRequest of its own');
  t.same([...r.points[0]!].slice(0, 3), [1, 1, 1], 'a gauge series carries one point');
});
