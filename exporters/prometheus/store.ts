// The exporter's state: every series it will show on the next scrape, cumulative. consume() updates
// it in place (one map lookup per point): cumulative points replace a series' value, delta sums and
// delta histograms are added to it, gauges keep their last value. A series not updated for
// metric_expiration is forgotten; past max_series, new series are refused (counted). Each series
// keeps its rendered text until it changes (render.ts), so a scrape mostly joins cached strings.
import type {
  Exemplar as OtlpExemplar,
  ExponentialHistogramDataPoint,
  ExponentialHistogramDataPoint_Buckets,
  ExportMetricsServiceRequest,
  HistogramDataPoint,
  KeyValue,
  Metric,
  NumberDataPoint,
  SummaryDataPoint,
} from '../../src/pdata/model.js';
import { AggregationTemporality, type Resource } from '../../src/pdata/model.js';
import { decodeMessage } from '../../src/pdata/decode.js';
import { MESSAGES } from '../../src/pdata/schema.js';
import { Reader } from '../../src/pdata/wire.js';
import {
  familyName,
  labelValue,
  pointLabels,
  resourceLabels,
  targetInfoLabels,
  targetInfoName,
  type Labels,
  type NamingOptions,
} from '../../src/prometheus/naming.js';

export interface StoreOptions extends NamingOptions {
  constLabels: Record<string, string>;
  /** Every resource attribute as a label (then no target_info). */
  resourceToTelemetry: boolean;
  maxSeries: number;
  expirationMs: number;
}

/** Why points were not taken. */
export type DropReason = 'unspecified_temporality' | 'malformed_histogram' | 'no_value' | 'out_of_order' | 'type_conflict' | 'unsupported_scale';

export type FamilyType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'info';

/** An exemplar ready to print: its labels already rendered (`trace_id="..",span_id=".."`). */
export interface Exemplar {
  value: number;
  /** ms since the epoch; 0: unknown. */
  t: number;
  labels: string;
}

/** An exponential histogram's buckets (scale, offsets, counts), kept as OTLP has them. */
export interface ExpBuckets {
  offset: number;
  counts: number[];
}

export interface ExpState {
  scale: number;
  zeroCount: number;
  zeroThreshold: number;
  positive: ExpBuckets;
  negative: ExpBuckets;
}

export interface Series {
  family: Family;
  /** The labels as they appear between braces, sorted by name (`a="x",b="y"`); '' for none. */
  labels: string;
  /** When the series was last updated (wall clock, ms). */
  updated: number;
  /** The last point's time (ms) and, in ns, its start and time (delta accumulation checks). */
  t: number;
  startNs: bigint;
  timeNs: bigint;
  /** Counter and gauge value. */
  value: number;
  /** Histograms: explicit upper bounds (without +Inf) and per-bucket (not cumulative) counts, one
   *  more than bounds; or exp for exponential histograms. Summaries: quantiles. */
  bounds?: number[];
  counts?: number[];
  exp?: ExpState;
  quantiles?: { q: number; v: number }[];
  sum: number;
  hasSum: boolean;
  count: number;
  /** Newest first, at most MAX_EXEMPLARS. */
  exemplars?: Exemplar[];
  /** Rendered text (format 0.0.4) and OpenMetrics lines (render.ts); undefined after a change. */
  text?: Cached;
  om?: Cached;
  /** Removed from its family (expired, or a no-value point): a cached look-up must not return it. */
  gone?: boolean;
  /** Its name and labels are ASCII (render.ts: its lines are kept as text, not bytes). */
  ascii?: boolean;
  /** The text before each value in its lines, kept by render.ts (writeDirect). */
  heads?: Heads;
}

/** What render.ts keeps on a series it writes directly: the text before each value (name and
 *  labels do not change; a histogram's heads are made again when its bounds do). */
export interface Heads {
  /** the metric name they were made with (a counter's differs in OpenMetrics when it does not end
   *  in _total) */
  name: string;
  /** gauge, counter: [head]; histogram: a head per bucket, then _sum's and _count's */
  heads: string[];
  /** histogram: the bounds the heads were made for */
  bounds?: number[];
}

/** Rendered lines as render.ts keeps them: ASCII text as a string, other text as its UTF-8 bytes. */
export type Cached = string | Buffer;

export class Family {
  readonly series = new Map<string, Series>();
  /** Series by the raw attributes a point came with (resource key + attrsKey): most points skip
   *  building, sorting and escaping their labels. Cleared when it outgrows the series. */
  readonly byAttrs = new Map<string, Series>();
  header?: Cached;
  omHeader?: Cached;
  /** a counter's sample name in OpenMetrics (render.ts) */
  omCounterName?: string;
  constructor(
    readonly name: string,
    readonly type: FamilyType,
    readonly help: string,
  ) {}
}

const MAX_EXEMPLARS = 16;
const RESOURCE = MESSAGES.Resource!;
const METRIC = MESSAGES.Metric!;
const FLAG_NO_RECORDED_VALUE = 1;
// OTLP scales go from -10 to 20; below this, bucket bounds overflow doubles.
const MIN_SCALE = -10;

const toMs = (ns: bigint) => Number(ns / 1_000_000n);
const hex = (b: Uint8Array | undefined) => (b && b.length > 0 ? Buffer.from(b).toString('hex') : '');

/** A label value escaped for the text formats: backslash, double quote, newline. */
export function escapeLabelValue(v: string): string {
  return /[\\"\n]/.test(v) ? v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : v;
}

/** Labels as written between braces, sorted by name. */
export function renderLabels(labels: Labels): string {
  const names = [...labels.keys()].sort();
  let out = '';
  for (const n of names) out += `${out ? ',' : ''}${n}="${escapeLabelValue(labels.get(n)!)}"`;
  return out;
}

/** The attributes as they came, as one string: keys and label values length-prefixed, so two
 *  different lists never give the same string. Order matters (another order is another entry for
 *  the same series). */
function attrsKey(attrs: readonly KeyValue[]): string {
  let k = '';
  for (let i = 0; i < attrs.length; i++) {
    const kv = attrs[i]!;
    const v = kv.value?.stringValue ?? labelValue(kv.value);
    k += `${kv.key.length}:${kv.key}${v.length}:${v}`;
  }
  return k;
}

function exemplarsOf(list: readonly OtlpExemplar[]): Exemplar[] {
  const out: Exemplar[] = [];
  for (const e of list) {
    const value = e.asDouble ?? (e.asInt !== undefined ? Number(e.asInt) : undefined);
    if (value === undefined) continue;
    const trace = hex(e.traceId);
    const span = hex(e.spanId);
    const labels = trace ? `trace_id="${trace}"${span ? `,span_id="${span}"` : ''}` : '';
    out.push({ value, t: toMs(e.timeUnixNano), labels });
  }
  // Newest first.
  return out.sort((a, b) => b.t - a.t);
}

function keepExemplars(s: Series, list: readonly OtlpExemplar[]): void {
  if (list.length === 0) return;
  const fresh = exemplarsOf(list);
  s.exemplars = s.exemplars ? [...fresh, ...s.exemplars].slice(0, MAX_EXEMPLARS) : fresh.slice(0, MAX_EXEMPLARS);
}

function numberValue(p: NumberDataPoint): number | undefined {
  if (p.asDouble !== undefined) return p.asDouble;
  if (p.asInt !== undefined) return Number(p.asInt);
  return undefined;
}

/** Buckets merged `by` scale steps down (each step joins pairs of neighbours). */
export function downscale(b: ExpBuckets, by: number): ExpBuckets {
  if (by <= 0 || b.counts.length === 0) return b;
  const first = b.offset >> by;
  const counts: number[] = [];
  for (let i = 0; i < b.counts.length; i++) {
    const at = ((b.offset + i) >> by) - first;
    counts[at] = (counts[at] ?? 0) + b.counts[i]!;
  }
  for (let i = 0; i < counts.length; i++) counts[i] ??= 0;
  return { offset: first, counts };
}

/** The sum of two bucket ranges of the same scale. */
export function addBuckets(a: ExpBuckets, b: ExpBuckets): ExpBuckets {
  if (a.counts.length === 0) return b;
  if (b.counts.length === 0) return a;
  const offset = Math.min(a.offset, b.offset);
  const end = Math.max(a.offset + a.counts.length, b.offset + b.counts.length);
  const counts = new Array<number>(end - offset).fill(0);
  for (let i = 0; i < a.counts.length; i++) counts[a.offset - offset + i]! += a.counts[i]!;
  for (let i = 0; i < b.counts.length; i++) counts[b.offset - offset + i]! += b.counts[i]!;
  return { offset, counts };
}

const bucketsOf = (b: ExponentialHistogramDataPoint_Buckets | undefined): ExpBuckets => (b ? { offset: b.offset, counts: b.bucketCounts.map(Number) } : { offset: 0, counts: [] });

/** The sum of two exponential histograms' buckets, at the coarser of their scales. */
export function addExp(a: ExpState, b: ExpState): ExpState {
  const scale = Math.min(a.scale, b.scale);
  const da = a.scale - scale;
  const db = b.scale - scale;
  return {
    scale,
    zeroCount: a.zeroCount + b.zeroCount,
    zeroThreshold: Math.max(a.zeroThreshold, b.zeroThreshold),
    positive: addBuckets(downscale(a.positive, da), downscale(b.positive, db)),
    negative: addBuckets(downscale(a.negative, da), downscale(b.negative, db)),
  };
}

/** A resource's labels and their rendering, the prefix of its points' cache keys. */
interface ResourceKey {
  labels: Labels;
  key: string;
}

export class SeriesStore {
  readonly families = new Map<string, Family>();
  /** Series held, over every family. */
  size = 0;
  /** Counts since the last read by the exporter (published to its own metrics once per batch). */
  refused = 0;
  expired = 0;
  readonly dropped = new Map<DropReason, number>();
  private readonly constLabels: [string, string][];

  constructor(readonly opts: StoreOptions) {
    this.constLabels = Object.entries(opts.constLabels);
  }

  private drop(reason: DropReason, n = 1): void {
    this.dropped.set(reason, (this.dropped.get(reason) ?? 0) + n);
  }

  private family(name: string, type: FamilyType, help: string): Family | undefined {
    let f = this.families.get(name);
    if (f === undefined) this.families.set(name, (f = new Family(name, type, help)));
    else if (f.type !== type) return undefined;
    return f;
  }

  /** The series of `labels` in `f`, created if there is room; undefined when max_series is reached. */
  private series(f: Family, labels: Labels, now: number): Series | undefined {
    for (const [k, v] of this.constLabels) if (!labels.has(k)) labels.set(k, v);
    const key = renderLabels(labels);
    let s = f.series.get(key);
    if (s === undefined) {
      if (this.size >= this.opts.maxSeries) {
        this.refused++;
        return undefined;
      }
      s = { family: f, labels: key, updated: now, t: 0, startNs: 0n, timeNs: 0n, value: 0, sum: 0, hasSum: false, count: 0 };
      f.series.set(key, s);
      this.size++;
    }
    return s;
  }

  private remove(s: Series): void {
    s.gone = true;
    if (s.family.series.delete(s.labels)) this.size--;
  }

  /** The series of a point: from the raw-attributes cache, else by its labels (`without`: a label
   *  the family's kind reserves). */
  private seriesOf(f: Family, r: ResourceKey, attrs: readonly KeyValue[], now: number, without?: string): Series | undefined {
    const raw = r.key + attrsKey(attrs);
    const hit = f.byAttrs.get(raw);
    if (hit !== undefined && hit.gone !== true) return hit;
    const labels = pointLabels(r.labels, attrs);
    if (without !== undefined) labels.delete(without);
    const s = this.series(f, labels, now);
    if (s !== undefined) {
      if (f.byAttrs.size >= 2 * f.series.size + 1024) f.byAttrs.clear();
      f.byAttrs.set(raw, s);
    }
    return s;
  }

  /** Takes a metrics request into the state. */
  consume(req: ExportMetricsServiceRequest, now = Date.now()): void {
    for (const _ of this.steps(req, now));
  }

  /** The same, one metric per step: the exporter runs steps in time slices so that a large
   *  request does not hold the event loop (scrapes and other requests run between slices). */
  *steps(req: ExportMetricsServiceRequest, now = Date.now()): Generator<void, void, void> {
    for (const rm of req.resourceMetrics) {
      yield* this.resourceSteps(rm.resource?.attributes ?? [], rm.scopeMetrics.flatMap((sm) => sm.metrics), now);
    }
  }

  /** The same from a validated encoding: each Metric message is decoded in its own step, so a
   *  large request's decoding is sliced too (decoding 5,000 points at once took ~11 ms). */
  *stepsFromProto(bytes: Uint8Array, now = Date.now()): Generator<void, void, void> {
    const r = new Reader(bytes);
    const end = r.buf.length;
    while (r.pos < end) {
      const tag = r.uint32(end);
      if (tag !== 0x0a) { r.skip(tag & 7, end); continue; } // resource_metrics = 1
      const rmLen = r.length(end);
      const rmEnd = r.pos + rmLen;
      let attrs: KeyValue[] = [];
      const metrics: number[] = []; // [start, end) of each Metric message
      while (r.pos < rmEnd) {
        const t = r.uint32(rmEnd);
        if (t === 0x0a) { // resource = 1
          const n = r.length(rmEnd);
          attrs = decodeMessage<Resource>(RESOURCE, r.buf.subarray(r.pos, r.pos + n)).attributes;
          r.pos += n;
        } else if (t === 0x12) { // scope_metrics = 2
          const smLen = r.length(rmEnd);
          const smEnd = r.pos + smLen;
          while (r.pos < smEnd) {
            const st = r.uint32(smEnd);
            if (st === 0x12) { // metrics = 2
              const n = r.length(smEnd);
              metrics.push(r.pos, r.pos + n);
              r.pos += n;
            } else r.skip(st & 7, smEnd);
          }
        } else r.skip(t & 7, rmEnd);
      }
      const buf = r.buf;
      yield* this.resourceSteps(attrs, (function* () {
        for (let i = 0; i < metrics.length; i += 2) yield decodeMessage<Metric>(METRIC, buf.subarray(metrics[i]!, metrics[i + 1]!));
      })(), now);
      r.pos = rmEnd;
    }
  }

  /** One resource's metrics, a step each, then its target_info. */
  private *resourceSteps(rattrs: readonly KeyValue[], metrics: Iterable<Metric>, now: number): Generator<void, void, void> {
    const opts = this.opts;
    const resource = resourceLabels(rattrs, opts.resourceToTelemetry);
    const rk: ResourceKey = { labels: resource, key: `${renderLabels(resource)}\u0000` };
    let latest = 0n;
    for (const m of metrics) {
      const t = this.metric(m, rk, now);
      if (t > latest) latest = t;
      yield;
    }
    if (!opts.resourceToTelemetry && latest > 0n) {
      const info = targetInfoLabels(rattrs, resource);
      const f = info && this.family(targetInfoName(opts.namespace), 'info', 'Target metadata: the resource attributes of the targets sending these metrics.');
      const s = f && this.series(f, info!, now);
      if (s) {
        s.value = 1;
        s.t = toMs(latest);
        s.timeNs = latest;
        s.updated = now;
        this.changedLines(s);
      }
    }
  }

  /** One metric's points; the newest point time (ns). */
  private metric(m: Metric, resource: ResourceKey, now: number): bigint {
    const help = m.description || m.name;
    if (m.gauge) return this.numbers(m, 'gauge', help, resource, m.gauge.dataPoints, false, now);
    if (m.sum) {
      const temporality = m.sum.aggregationTemporality;
      if (temporality === AggregationTemporality.UNSPECIFIED) {
        this.drop('unspecified_temporality', m.sum.dataPoints.length);
        return 0n;
      }
      return this.numbers(m, m.sum.isMonotonic ? 'counter' : 'gauge', help, resource, m.sum.dataPoints, temporality === AggregationTemporality.DELTA, now);
    }
    if (m.histogram) {
      const temporality = m.histogram.aggregationTemporality;
      if (temporality === AggregationTemporality.UNSPECIFIED) {
        this.drop('unspecified_temporality', m.histogram.dataPoints.length);
        return 0n;
      }
      return this.histograms(m, help, resource, m.histogram.dataPoints, temporality === AggregationTemporality.DELTA, now);
    }
    if (m.exponentialHistogram) {
      const temporality = m.exponentialHistogram.aggregationTemporality;
      if (temporality === AggregationTemporality.UNSPECIFIED) {
        this.drop('unspecified_temporality', m.exponentialHistogram.dataPoints.length);
        return 0n;
      }
      return this.exponential(m, help, resource, m.exponentialHistogram.dataPoints, temporality === AggregationTemporality.DELTA, now);
    }
    if (m.summary) return this.summaries(m, help, resource, m.summary.dataPoints, now);
    return 0n;
  }

  /** The family of a metric, or undefined (points counted as dropped) when its name has another type. */
  private familyOf(m: Metric, kind: 'counter' | 'gauge' | 'histogram' | 'summary', help: string, points: number): Family | undefined {
    const f = this.family(familyName(m, kind, this.opts), kind, help);
    if (f === undefined) this.drop('type_conflict', points);
    return f;
  }

  /**
   * Whether a point may update `s`: not older than what it holds; a delta point must also start
   * no earlier than the last one ended (an overlapping delta would count twice: a resent batch).
   */
  private inOrder(s: Series, start: bigint, time: bigint, delta: boolean): boolean {
    if (s.timeNs === 0n) return true;
    if (time < s.timeNs || (delta && (time === s.timeNs || start < s.timeNs))) {
      this.drop('out_of_order');
      return false;
    }
    return true;
  }

  private touch(s: Series, p: { startTimeUnixNano: bigint; timeUnixNano: bigint }, now: number): void {
    if (s.timeNs === 0n) s.startNs = p.startTimeUnixNano;
    s.timeNs = p.timeUnixNano;
    s.t = toMs(p.timeUnixNano);
    s.updated = now;
    this.changedLines(s);
  }

  /** A series' values changed: its cached lines go. */
  private changedLines(s: Series): void {
    s.text = s.om = undefined;
  }

  private numbers(m: Metric, kind: 'counter' | 'gauge', help: string, resource: ResourceKey, points: readonly NumberDataPoint[], delta: boolean, now: number): bigint {
    const f = this.familyOf(m, kind, help, points.length);
    if (f === undefined) return 0n;
    let latest = 0n;
    for (const p of points) {
      const s = this.seriesOf(f, resource, p.attributes, now);
      if (s === undefined) continue;
      if ((p.flags & FLAG_NO_RECORDED_VALUE) !== 0) {
        this.remove(s);
        continue;
      }
      const v = numberValue(p);
      if (v === undefined) {
        this.drop('no_value');
        if (s.timeNs === 0n) this.remove(s);
        continue;
      }
      if (!this.inOrder(s, p.startTimeUnixNano, p.timeUnixNano, delta)) continue;
      s.value = delta ? s.value + v : v;
      if (kind === 'counter') keepExemplars(s, p.exemplars);
      this.touch(s, p, now);
      if (p.timeUnixNano > latest) latest = p.timeUnixNano;
    }
    return latest;
  }

  private histograms(m: Metric, help: string, resource: ResourceKey, points: readonly HistogramDataPoint[], delta: boolean, now: number): bigint {
    const f = this.familyOf(m, 'histogram', help, points.length);
    if (f === undefined) return 0n;
    let latest = 0n;
    for (const p of points) {
      const n = p.bucketCounts.length;
      if (n > 0 && n !== p.explicitBounds.length + 1) {
        this.drop('malformed_histogram');
        continue;
      }
      const s = this.seriesOf(f, resource, p.attributes, now, 'le');
      if (s === undefined) continue;
      if ((p.flags & FLAG_NO_RECORDED_VALUE) !== 0) {
        this.remove(s);
        continue;
      }
      if (!this.inOrder(s, p.startTimeUnixNano, p.timeUnixNano, delta)) continue;
      const bounds = n > 0 ? p.explicitBounds : [];
      const counts = n > 0 ? p.bucketCounts.map(Number) : [Number(p.count)];
      const same = s.bounds !== undefined && s.bounds.length === bounds.length && s.bounds.every((b, i) => b === bounds[i]);
      if (delta && same && s.counts) {
        for (let i = 0; i < counts.length; i++) s.counts[i]! += counts[i]!;
        s.count += Number(p.count);
        s.sum += p.sum ?? 0;
      } else {
        // Cumulative, the first delta, or a delta whose bounds changed: start from this point.
        s.bounds = bounds.slice();
        s.counts = counts;
        s.exp = undefined;
        s.count = Number(p.count);
        s.sum = p.sum ?? 0;
      }
      s.hasSum = s.hasSum || p.sum !== undefined;
      keepExemplars(s, p.exemplars);
      this.touch(s, p, now);
      if (p.timeUnixNano > latest) latest = p.timeUnixNano;
    }
    return latest;
  }

  private exponential(m: Metric, help: string, resource: ResourceKey, points: readonly ExponentialHistogramDataPoint[], delta: boolean, now: number): bigint {
    const f = this.familyOf(m, 'histogram', help, points.length);
    if (f === undefined) return 0n;
    let latest = 0n;
    for (const p of points) {
      if (p.scale < MIN_SCALE) {
        this.drop('unsupported_scale');
        continue;
      }
      const s = this.seriesOf(f, resource, p.attributes, now, 'le');
      if (s === undefined) continue;
      if ((p.flags & FLAG_NO_RECORDED_VALUE) !== 0) {
        this.remove(s);
        continue;
      }
      if (!this.inOrder(s, p.startTimeUnixNano, p.timeUnixNano, delta)) continue;
      const state: ExpState = { scale: p.scale, zeroCount: Number(p.zeroCount), zeroThreshold: p.zeroThreshold, positive: bucketsOf(p.positive), negative: bucketsOf(p.negative) };
      if (delta && s.exp) {
        s.exp = addExp(s.exp, state);
        s.count += Number(p.count);
        s.sum += p.sum ?? 0;
      } else {
        s.exp = state;
        s.bounds = s.counts = undefined;
        s.count = Number(p.count);
        s.sum = p.sum ?? 0;
      }
      s.hasSum = s.hasSum || p.sum !== undefined;
      keepExemplars(s, p.exemplars);
      this.touch(s, p, now);
      if (p.timeUnixNano > latest) latest = p.timeUnixNano;
    }
    return latest;
  }

  private summaries(m: Metric, help: string, resource: ResourceKey, points: readonly SummaryDataPoint[], now: number): bigint {
    const f = this.familyOf(m, 'summary', help, points.length);
    if (f === undefined) return 0n;
    let latest = 0n;
    for (const p of points) {
      const s = this.seriesOf(f, resource, p.attributes, now, 'quantile');
      if (s === undefined) continue;
      if ((p.flags & FLAG_NO_RECORDED_VALUE) !== 0) {
        this.remove(s);
        continue;
      }
      if (!this.inOrder(s, p.startTimeUnixNano, p.timeUnixNano, false)) continue;
      s.quantiles = p.quantileValues.map((q) => ({ q: q.quantile, v: q.value }));
      s.count = Number(p.count);
      s.sum = p.sum;
      s.hasSum = true;
      this.touch(s, p, now);
      if (p.timeUnixNano > latest) latest = p.timeUnixNano;
    }
    return latest;
  }

  /** Forgets the series not updated for metric_expiration; how many. */
  expire(now = Date.now()): number {
    const before = now - this.opts.expirationMs;
    let n = 0;
    for (const [name, f] of this.families) {
      for (const s of f.series.values()) {
        if (s.updated < before) {
          s.gone = true;
          f.series.delete(s.labels);
          n++;
        }
      }
      if (f.series.size === 0) this.families.delete(name);
    }
    this.size -= n;
    this.expired += n;
    return n;
  }
}
