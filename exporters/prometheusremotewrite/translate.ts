// OTLP metrics → Prometheus remote-write 1.0 requests (protobuf WriteRequest, snappy-compressed).
// A task module: the exporter runs `toRemoteWrite` on the worker pool with the batch's bytes and gets
// the compressed requests back, so decode, translation, encode and compression stay off the event
// loop. Naming follows OpenTelemetry's Prometheus compatibility rules: invalid characters become
// `_`, the unit becomes a suffix (`_seconds`, `_bytes`, `_ratio` for gauges of unit 1), monotonic
// cumulative sums get `_total`; service.name / service.namespace / service.instance.id become `job`
// and `instance`, the other resource attributes a `target_info` series.
import snappy from 'snappy';
import { Telemetry } from '../../src/pdata/telemetry.js';
import type {
  ExponentialHistogramDataPoint,
  ExponentialHistogramDataPoint_Buckets,
  ExportMetricsServiceRequest,
  HistogramDataPoint,
  NumberDataPoint,
  SummaryDataPoint,
} from '../../src/pdata/model.js';
import { AggregationTemporality } from '../../src/pdata/model.js';
import { Writer } from '../../src/pdata/wire.js';
import { withTransfer } from '../../src/workers/transfer.js';
import {
  familyName,
  formatFloat as formatBound,
  type Labels,
  pointLabels,
  resourceLabels as resourceLabelsOf,
  targetInfoLabels,
  targetInfoName,
} from '../../src/prometheus/naming.js';

// The naming rules live in the core (one translation for both Prometheus exporters); re-exported
// for the callers that found them here.
export { familyName, labelValue, sanitizeLabelName, sanitizeMetricName, unitSuffix } from '../../src/prometheus/naming.js';

export interface TranslateOptions {
  /** Prefix of every metric name (`<namespace>_<name>`); empty: none. */
  namespace: string;
  /** Unit and type suffixes (`_seconds`, `_total`, ...). */
  addMetricSuffixes: boolean;
  /** Every resource attribute also as a label of every series. */
  resourceToTelemetry: boolean;
  /** A `target_info` series per resource that has attributes beyond job and instance. */
  targetInfo: boolean;
  /** Labels added to every series (a series' own label of the same name wins). */
  externalLabels: Record<string, string>;
  /** Uncompressed size past which the series go on into a next request. */
  maxRequestBytes: number;
}

export interface TranslateTask {
  /** The ExportMetricsServiceRequest's protobuf bytes (a transferred buffer of their own). */
  input: ArrayBuffer;
  options: TranslateOptions;
}

/** Why points were not sent: Prometheus has no representation for them. */
export type DropReason = 'delta_temporality' | 'unspecified_temporality' | 'malformed_histogram' | 'unsupported_scale' | 'no_value';

export interface TranslateResult {
  /** snappy-compressed WriteRequests, each a buffer of its own, in order. */
  requests: Uint8Array[];
  /** For each request, the OTLP points each of its series carries, in the order of its series. */
  points: Uint32Array[];
  series: number;
  samples: number;
  histograms: number;
  dropped: Partial<Record<DropReason, number>>;
}

// Prometheus' staleness marker: a NaN with this bit pattern, written for points flagged
// NO_RECORDED_VALUE (the series ended).
const STALE_HI = 0x7ff00000;
const STALE_LO = 0x00000002;
const FLAG_NO_RECORDED_VALUE = 1;


/** One series being built: its labels (sorted, __name__ among them) and samples by time. */
interface Series {
  labels: [string, string][];
  samples: { t: number; v: number; stale: boolean }[];
  /** OTLP points this series carries (a histogram or summary point counts on its _count series),
   *  so that a series Prometheus refuses can be counted in points. */
  points: number;
  histograms: { t: number; p: ExponentialHistogramDataPoint; scale: number; positive?: ExponentialHistogramDataPoint_Buckets; negative?: ExponentialHistogramDataPoint_Buckets }[];
}

function toMillis(nanos: bigint): number {
  return Number(nanos / 1_000_000n);
}

class SeriesSet {
  readonly byKey = new Map<string, Series>();
  samples = 0;
  histograms = 0;
  readonly dropped: Partial<Record<DropReason, number>> = {};

  constructor(private readonly external: Record<string, string>) {}

  drop(reason: DropReason, n = 1): void {
    this.dropped[reason] = (this.dropped[reason] ?? 0) + n;
  }

  /** The series of `base` (resource and point labels) plus __name__ and `extra`. */
  series(name: string, base: Labels, extra?: [string, string]): Series {
    const all: [string, string][] = [];
    for (const [k, v] of Object.entries(this.external)) if (!base.has(k)) all.push([k, v]);
    for (const e of base) if (!(extra && e[0] === extra[0]) && e[0] !== '__name__') all.push(e);
    all.push(['__name__', name]);
    if (extra) all.push(extra);
    all.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    let key = '';
    for (const [k, v] of all) key += `${k}\u0000${v}\u0001`;
    let s = this.byKey.get(key);
    if (s === undefined) this.byKey.set(key, (s = { labels: all, samples: [], histograms: [], points: 0 }));
    return s;
  }

  sample(name: string, base: Labels, t: number, v: number, stale = false, extra?: [string, string]): Series {
    const s = this.series(name, base, extra);
    s.samples.push({ t, v, stale });
    this.samples++;
    return s;
  }
}

function numberValue(p: NumberDataPoint): number | undefined {
  if (p.asDouble !== undefined) return p.asDouble;
  if (p.asInt !== undefined) return Number(p.asInt);
  return undefined;
}

function addNumberPoints(set: SeriesSet, name: string, resourceLabels: Labels, points: readonly NumberDataPoint[]): number {
  let latest = 0;
  for (const p of points) {
    const t = toMillis(p.timeUnixNano);
    latest = Math.max(latest, t);
    const stale = (p.flags & FLAG_NO_RECORDED_VALUE) !== 0;
    const v = numberValue(p);
    if (v === undefined && !stale) {
      set.drop('no_value');
      continue;
    }
    set.sample(name, pointLabels(resourceLabels, p.attributes), t, v ?? Number.NaN, stale).points++;
  }
  return latest;
}

function addHistogramPoints(set: SeriesSet, name: string, resourceLabels: Labels, points: readonly HistogramDataPoint[]): number {
  let latest = 0;
  for (const p of points) {
    const t = toMillis(p.timeUnixNano);
    latest = Math.max(latest, t);
    const stale = (p.flags & FLAG_NO_RECORDED_VALUE) !== 0;
    const n = p.bucketCounts.length;
    if (n > 0 && n !== p.explicitBounds.length + 1) {
      set.drop('malformed_histogram');
      continue;
    }
    const labels = pointLabels(resourceLabels, p.attributes);
    labels.delete('le');
    let cumulative = 0;
    for (let i = 0; i < n; i++) {
      cumulative += Number(p.bucketCounts[i]!);
      const le = i < n - 1 ? formatBound(p.explicitBounds[i]!) : '+Inf';
      set.sample(`${name}_bucket`, labels, t, cumulative, stale, ['le', le]);
    }
    if (n === 0) set.sample(`${name}_bucket`, labels, t, Number(p.count), stale, ['le', '+Inf']);
    if (p.sum !== undefined) set.sample(`${name}_sum`, labels, t, p.sum, stale);
    set.sample(`${name}_count`, labels, t, Number(p.count), stale).points++;
  }
  return latest;
}

function addSummaryPoints(set: SeriesSet, name: string, resourceLabels: Labels, points: readonly SummaryDataPoint[]): number {
  let latest = 0;
  for (const p of points) {
    const t = toMillis(p.timeUnixNano);
    latest = Math.max(latest, t);
    const stale = (p.flags & FLAG_NO_RECORDED_VALUE) !== 0;
    const labels = pointLabels(resourceLabels, p.attributes);
    labels.delete('quantile');
    for (const q of p.quantileValues) set.sample(name, labels, t, q.value, stale, ['quantile', String(q.quantile)]);
    set.sample(`${name}_sum`, labels, t, p.sum, stale);
    set.sample(`${name}_count`, labels, t, Number(p.count), stale).points++;
  }
  return latest;
}

// Native histograms take schemas -4..8; OTLP scales above 8 are merged down to 8.
const MAX_SCHEMA = 8;
const MIN_SCHEMA = -4;

/** Buckets merged `by` scale steps down (each step joins pairs of neighbours). */
function downscale(b: ExponentialHistogramDataPoint_Buckets | undefined, by: number): ExponentialHistogramDataPoint_Buckets | undefined {
  if (b === undefined || by === 0 || b.bucketCounts.length === 0) return b;
  const first = b.offset >> by;
  const counts: bigint[] = [];
  for (let i = 0; i < b.bucketCounts.length; i++) {
    const at = ((b.offset + i) >> by) - first;
    counts[at] = (counts[at] ?? 0n) + b.bucketCounts[i]!;
  }
  for (let i = 0; i < counts.length; i++) counts[i] ??= 0n;
  return { offset: first, bucketCounts: counts };
}

function addExponentialPoints(set: SeriesSet, name: string, resourceLabels: Labels, points: readonly ExponentialHistogramDataPoint[]): number {
  let latest = 0;
  for (const p of points) {
    const t = toMillis(p.timeUnixNano);
    latest = Math.max(latest, t);
    if (p.scale < MIN_SCHEMA) {
      set.drop('unsupported_scale');
      continue;
    }
    const by = Math.max(0, p.scale - MAX_SCHEMA);
    const series = set.series(name, pointLabels(resourceLabels, p.attributes));
    series.points++;
    series.histograms.push({
      t,
      p,
      scale: p.scale - by,
      positive: downscale(p.positive, by),
      negative: downscale(p.negative, by),
    });
    set.histograms++;
  }
  return latest;
}

// ---- WriteRequest encoding (field numbers from prometheus/prompb remote.proto and types.proto) ----

const zigzag = (n: number) => (n >= 0 ? 2 * n : -2 * n - 1);

function writeTimestamp(w: Writer, tag: number, ms: number): void {
  w.tag(tag, 1);
  if (ms >= 0) w.uvarint(ms);
  else w.varint64(BigInt(ms));
}

function writeSample(w: Writer, s: Series['samples'][number]): void {
  w.tag(0x12, 1); // TimeSeries.samples = 2
  const at = w.beginLen();
  w.tag(0x09, 1); // Sample.value = 1, double
  if (s.stale) {
    w.ensure(8);
    w.view.setUint32(w.pos, STALE_LO, true);
    w.view.setUint32(w.pos + 4, STALE_HI, true);
    w.pos += 8;
  } else w.double(s.v);
  if (s.t !== 0) writeTimestamp(w, 0x10, s.t); // Sample.timestamp = 2
  w.endLen(at);
}

function writeSpansAndDeltas(w: Writer, b: ExponentialHistogramDataPoint_Buckets | undefined, spansTag: number, deltasTag: number): void {
  if (b === undefined || b.bucketCounts.length === 0) return;
  // OTLP's bucket i covers (base^(offset+i), base^(offset+i+1)]; Prometheus' bucket k covers
  // (base^(k-1), base^k]: the same bucket is k = offset + i + 1. One span holds every bucket.
  w.tag(spansTag, 1);
  const at = w.beginLen();
  w.tag(0x08, 1); // BucketSpan.offset = 1, sint32
  w.uvarint(zigzag(b.offset + 1));
  w.tag(0x10, 1); // BucketSpan.length = 2
  w.uvarint(b.bucketCounts.length);
  w.endLen(at);
  w.tag(deltasTag, 1); // packed sint64: each count as the difference from the one before
  const d = w.beginLen();
  let prev = 0;
  for (const c of b.bucketCounts) {
    const n = Number(c);
    w.uvarint(zigzag(n - prev));
    prev = n;
  }
  w.endLen(d);
}

function writeHistogram(w: Writer, h: Series['histograms'][number]): void {
  const p = h.p;
  w.tag(0x22, 1); // TimeSeries.histograms = 4
  const at = w.beginLen();
  w.tag(0x08, 1); // count_int = 1
  w.uvarint(Number(p.count));
  if (p.sum !== undefined) {
    w.tag(0x19, 1); // sum = 3
    w.double(p.sum);
  }
  w.tag(0x20, 1); // schema = 4, sint32
  w.uvarint(zigzag(h.scale));
  if (p.zeroThreshold !== 0) {
    w.tag(0x29, 1); // zero_threshold = 5
    w.double(p.zeroThreshold);
  }
  w.tag(0x30, 1); // zero_count_int = 6
  w.uvarint(Number(p.zeroCount));
  writeSpansAndDeltas(w, h.negative, 0x42, 0x4a); // negative_spans = 8, negative_deltas = 9
  writeSpansAndDeltas(w, h.positive, 0x5a, 0x62); // positive_spans = 11, positive_deltas = 12
  writeTimestamp(w, 0x78, h.t); // timestamp = 15
  w.endLen(at);
}

function writeSeries(w: Writer, s: Series): void {
  w.tag(0x0a, 1); // WriteRequest.timeseries = 1
  const at = w.beginLen();
  for (const [name, value] of s.labels) {
    w.tag(0x0a, 1); // TimeSeries.labels = 1
    const l = w.beginLen();
    w.tag(0x0a, 1); // Label.name = 1
    w.string(name);
    w.tag(0x12, 1); // Label.value = 2
    w.string(value);
    w.endLen(l);
  }
  // Prometheus appends in order: each series' samples oldest first.
  if (s.samples.length > 1) s.samples.sort((a, b) => a.t - b.t);
  for (const smp of s.samples) writeSample(w, smp);
  if (s.histograms.length > 1) s.histograms.sort((a, b) => a.t - b.t);
  for (const h of s.histograms) writeHistogram(w, h);
  w.endLen(at);
}

/** The series of a metrics request, before encoding. */
export function collectSeries(req: ExportMetricsServiceRequest, opts: TranslateOptions): SeriesSet {
  const set = new SeriesSet(opts.externalLabels);
  for (const rm of req.resourceMetrics) {
    const rattrs = rm.resource?.attributes ?? [];
    const resourceLabels = resourceLabelsOf(rattrs, opts.resourceToTelemetry);
    let latest = 0;
    for (const sm of rm.scopeMetrics) {
      for (const m of sm.metrics) {
        let t = 0;
        if (m.gauge) t = addNumberPoints(set, familyName(m, 'gauge', opts), resourceLabels, m.gauge.dataPoints);
        else if (m.sum) {
          const temporality = m.sum.aggregationTemporality;
          if (temporality !== AggregationTemporality.CUMULATIVE) {
            set.drop(temporality === AggregationTemporality.DELTA ? 'delta_temporality' : 'unspecified_temporality', m.sum.dataPoints.length);
            continue;
          }
          const kind = m.sum.isMonotonic ? 'counter' : 'gauge';
          t = addNumberPoints(set, familyName(m, kind, opts), resourceLabels, m.sum.dataPoints);
        } else if (m.histogram) {
          if (m.histogram.aggregationTemporality !== AggregationTemporality.CUMULATIVE) {
            set.drop(m.histogram.aggregationTemporality === AggregationTemporality.DELTA ? 'delta_temporality' : 'unspecified_temporality', m.histogram.dataPoints.length);
            continue;
          }
          t = addHistogramPoints(set, familyName(m, 'histogram', opts), resourceLabels, m.histogram.dataPoints);
        } else if (m.exponentialHistogram) {
          const eh = m.exponentialHistogram;
          if (eh.aggregationTemporality !== AggregationTemporality.CUMULATIVE) {
            set.drop(eh.aggregationTemporality === AggregationTemporality.DELTA ? 'delta_temporality' : 'unspecified_temporality', eh.dataPoints.length);
            continue;
          }
          t = addExponentialPoints(set, familyName(m, 'histogram', opts), resourceLabels, eh.dataPoints);
        } else if (m.summary) t = addSummaryPoints(set, familyName(m, 'summary', opts), resourceLabels, m.summary.dataPoints);
        latest = Math.max(latest, t);
      }
    }
    if (opts.targetInfo && latest > 0) {
      const info = targetInfoLabels(rattrs, resourceLabels);
      if (info !== undefined) set.sample(targetInfoName(opts.namespace), info, latest, 1);
    }
  }
  return set;
}

/** The series as WriteRequests of about maxRequestBytes each (uncompressed; a series is never
 *  split), with the points each request's series carry. */
export function encodeWriteRequests(set: SeriesSet, maxRequestBytes: number): { requests: Uint8Array[]; points: Uint32Array[] } {
  const requests: Uint8Array[] = [];
  const points: Uint32Array[] = [];
  let w = new Writer(Math.min(maxRequestBytes + 4096, 1 << 20));
  let counts: number[] = [];
  for (const s of set.byKey.values()) {
    const before = w.pos;
    writeSeries(w, s);
    if (w.pos > maxRequestBytes && before > 0) {
      // Past the limit: this series starts the next request.
      const next = new Writer(Math.min(maxRequestBytes + 4096, 1 << 20));
      next.raw(w.buf, before, w.pos);
      w.pos = before;
      requests.push(w.buf.subarray(0, w.pos));
      points.push(Uint32Array.from(counts));
      w = next;
      counts = [];
    }
    counts.push(s.points);
  }
  if (w.pos > 0) {
    requests.push(w.buf.subarray(0, w.pos));
    points.push(Uint32Array.from(counts));
  }
  return { requests, points };
}

/** The task: protobuf ExportMetricsServiceRequest in, snappy-compressed WriteRequests out. */
export function toRemoteWrite(task: TranslateTask): TranslateResult {
  const req = Telemetry.fromValidated('metrics', new Uint8Array(task.input), 0).request() as ExportMetricsServiceRequest;
  const set = collectSeries(req, task.options);
  // snappy's block format, as remote write 1.0 requires; each result copied into a buffer of its own
  // so that it can move to the calling thread.
  const encoded = encodeWriteRequests(set, task.options.maxRequestBytes);
  const requests = encoded.requests.map((r) => new Uint8Array(snappy.compressSync(r)));
  const result: TranslateResult = { requests, points: encoded.points, series: set.byKey.size, samples: set.samples, histograms: set.histograms, dropped: set.dropped };
  return withTransfer(result, [...requests, ...encoded.points].map((r) => r.buffer as ArrayBuffer));
}
