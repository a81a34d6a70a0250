// End to end with the official OpenTelemetry JS SDK: traces over OTLP/gRPC, metrics over OTLP/HTTP
// JSON and logs over OTLP/HTTP protobuf go into a running fleetcol (otlp receiver -> batch -> otlp
// exporter) and must come out at a second OTLP/gRPC endpoint (the test sink) intact: every item
// exactly once, every field as the SDK recorded it.
//
// One NodeSDK carries all three signals. This test file is its own process under tap, nothing else
// in it registers OpenTelemetry globals, so NodeSDK's global registration does not get in the way.
// NodeSDK is given `spanProcessors` rather than `traceExporter` so that one TracerProvider feeds
// both the gRPC exporter (through a BatchSpanProcessor) and an InMemorySpanExporter: the in-memory
// copy is what the SDK recorded, the yardstick for what arrives at the sink. Logs do the same with
// an InMemoryLogRecordExporter; metrics, whose data points are stamped at collection time, are
// recorded by the exporter itself as it sends them (a subclass of the OTLP/HTTP exporter).
// Resource detection and instrumentations are off: no noise, no network beyond 127.0.0.1.
import t from 'tap';
import {
  DiagLogLevel,
  ROOT_CONTEXT,
  SeverityNumber,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  ValueType,
  context,
  createTraceState,
  diag,
  logs,
  metrics,
  trace,
  type AnyValue as JsAnyValue,
  type Attributes,
  type Context,
  type HrTime,
  type Link,
  type Span,
} from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { AlwaysOnSampler, BatchSpanProcessor, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { AggregationTemporality, DataPointType, PeriodicExportingMetricReader, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { BatchLogRecordProcessor, InMemoryLogRecordExporter, SimpleLogRecordProcessor, type ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { freePort, metricValue, sleep, startDaemon, startSink, waitFor, type Daemon, type Sink } from './helper.js';

// ---------------------------------------------------------------------------------------------
// The decoded OTLP tree as Telemetry.request() documents it: lowerCamelCase fields, ids as
// Uint8Array, 64-bit integers as bigint, enums as numbers. Only what this test reads.
interface OAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: bigint;
  doubleValue?: number;
  bytesValue?: Uint8Array;
  arrayValue?: { values?: OAnyValue[] | null };
  kvlistValue?: { values?: OKeyValue[] | null };
}
interface OKeyValue { key: string; value?: OAnyValue }
interface OResource { attributes?: OKeyValue[] | null }
interface OScope { name?: string; version?: string; attributes?: OKeyValue[] | null }
interface OSpan {
  traceId: Uint8Array; spanId: Uint8Array; traceState: string; parentSpanId: Uint8Array; name: string; kind: number;
  startTimeUnixNano: bigint; endTimeUnixNano: bigint; attributes?: OKeyValue[] | null; droppedAttributesCount: number;
  events?: Array<{ timeUnixNano: bigint; name: string; attributes?: OKeyValue[] | null; droppedAttributesCount: number }> | null;
  droppedEventsCount: number;
  links?: Array<{ traceId: Uint8Array; spanId: Uint8Array; traceState: string; attributes?: OKeyValue[] | null; droppedAttributesCount: number; flags: number }> | null;
  droppedLinksCount: number; status?: { code?: number; message?: string }; flags: number;
}
interface OTraces { resourceSpans?: Array<{ resource?: OResource; scopeSpans?: Array<{ scope?: OScope; schemaUrl?: string; spans?: OSpan[] | null }> | null }> | null }
interface ONumberPoint { attributes?: OKeyValue[] | null; startTimeUnixNano: bigint; timeUnixNano: bigint; asDouble?: number; asInt?: bigint; flags: number }
interface OHistogramPoint {
  attributes?: OKeyValue[] | null; startTimeUnixNano: bigint; timeUnixNano: bigint; count: bigint; sum?: number;
  bucketCounts?: bigint[] | null; explicitBounds?: number[] | null; min?: number; max?: number;
}
interface OMetric {
  name: string; description: string; unit: string;
  gauge?: { dataPoints?: ONumberPoint[] | null };
  sum?: { dataPoints?: ONumberPoint[] | null; aggregationTemporality: number; isMonotonic: boolean };
  histogram?: { dataPoints?: OHistogramPoint[] | null; aggregationTemporality: number };
  exponentialHistogram?: unknown; summary?: unknown;
}
interface OMetrics { resourceMetrics?: Array<{ resource?: OResource; scopeMetrics?: Array<{ scope?: OScope; schemaUrl?: string; metrics?: OMetric[] | null }> | null }> | null }
interface OLogRecord {
  timeUnixNano: bigint; observedTimeUnixNano: bigint; severityNumber: number; severityText: string; body?: OAnyValue;
  attributes?: OKeyValue[] | null; droppedAttributesCount: number; flags: number; traceId: Uint8Array; spanId: Uint8Array; eventName: string;
}
interface OLogs { resourceLogs?: Array<{ resource?: OResource; scopeLogs?: Array<{ scope?: OScope; schemaUrl?: string; logRecords?: OLogRecord[] | null }> | null }> | null }

// ---------------------------------------------------------------------------------------------
// Normal forms: both sides (the SDK's JS values, fleetcol's decoded protobuf) are mapped to one
// shape and compared with strictSame. Integers and doubles stay distinct, as the SDK's encoder
// keeps them (an integral JS number is intValue, any other number doubleValue).
type Norm = null | string | boolean | { int: string } | { double: number } | { bytes: string } | Norm[] | { kvlist: Record<string, Norm> };

const list = <T>(a: T[] | null | undefined): T[] => a ?? [];
const hex = (b: Uint8Array | undefined | null) => (b && b.length ? Buffer.from(b).toString('hex') : '');
/** A 64-bit integer as decimal text; anything but a bigint is marked so a contract break shows. */
const i64 = (v: unknown) => (typeof v === 'bigint' ? v.toString() : `<${typeof v}:${String(v)}>`);
const hrNanos = (h: HrTime) => (BigInt(Math.trunc(h[0])) * 1_000_000_000n + BigInt(Math.trunc(h[1]))).toString();

function normJs(v: unknown): Norm {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') return Number.isInteger(v) ? { int: String(v) } : { double: v };
  if (v instanceof Uint8Array) return { bytes: hex(v) };
  if (Array.isArray(v)) return v.map(normJs);
  if (typeof v === 'object') return { kvlist: normJsAttrs(v as Record<string, unknown>) };
  return `<unexpected ${typeof v}>`;
}
function normJsAttrs(a: Record<string, unknown> | undefined): Record<string, Norm> {
  const out: Record<string, Norm> = {};
  for (const [k, v] of Object.entries(a ?? {})) out[k] = normJs(v);
  return out;
}
function normO(v: OAnyValue | undefined): Norm {
  if (!v) return null;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) return { int: i64(v.intValue) };
  if (v.doubleValue !== undefined) return { double: v.doubleValue };
  if (v.bytesValue !== undefined) return { bytes: hex(v.bytesValue) };
  if (v.arrayValue !== undefined) return list(v.arrayValue.values).map(normO);
  if (v.kvlistValue !== undefined) return { kvlist: normOAttrs(v.kvlistValue.values) };
  return null;
}
function normOAttrs(kvs: OKeyValue[] | null | undefined): Record<string, Norm> {
  const out: Record<string, Norm> = {};
  for (const kv of list(kvs)) {
    if (kv.key in out) out[`<duplicate>${kv.key}`] = normO(kv.value);
    else out[kv.key] = normO(kv.value);
  }
  return out;
}
const canon = (a: Record<string, Norm>) => JSON.stringify(Object.keys(a).sort().map((k) => [k, a[k]]));

// Span flags as the SDK's OTLP encoder builds them: W3C trace flags plus HAS_IS_REMOTE / IS_REMOTE.
const spanFlags = (traceFlags: number, isRemote: boolean | undefined) => (traceFlags & 0xff) | 0x100 | (isRemote ? 0x200 : 0);

// ---------------------------------------------------------------------------------------------
// What one span, data point or log record looks like in normal form.
interface SpanForm {
  traceId: string; spanId: string; parentSpanId: string; traceState: string; name: string; kind: number;
  start: string; end: string; attributes: Record<string, Norm>; droppedAttributesCount: number;
  events: Array<{ name: string; time: string; attributes: Record<string, Norm>; droppedAttributesCount: number }>; droppedEventsCount: number;
  links: Array<{ traceId: string; spanId: string; traceState: string; attributes: Record<string, Norm>; droppedAttributesCount: number; flags: number }>;
  droppedLinksCount: number; status: { code: number; message: string }; flags: number;
  resource: Record<string, Norm>; scope: { name: string; version: string; schemaUrl: string };
}

function spanFromSdk(s: ReadableSpan): SpanForm {
  const ctx = s.spanContext();
  return {
    traceId: ctx.traceId,
    spanId: ctx.spanId,
    parentSpanId: s.parentSpanContext?.spanId ?? '',
    traceState: ctx.traceState?.serialize() ?? '',
    name: s.name,
    kind: s.kind + 1, // api SpanKind.INTERNAL = 0; OTLP SPAN_KIND_INTERNAL = 1
    start: hrNanos(s.startTime),
    end: hrNanos(s.endTime),
    attributes: normJsAttrs(s.attributes),
    droppedAttributesCount: s.droppedAttributesCount,
    events: s.events.map((e) => ({ name: e.name, time: hrNanos(e.time), attributes: normJsAttrs(e.attributes), droppedAttributesCount: e.droppedAttributesCount ?? 0 })),
    droppedEventsCount: s.droppedEventsCount,
    links: s.links.map((l) => ({
      traceId: l.context.traceId,
      spanId: l.context.spanId,
      traceState: l.context.traceState?.serialize() ?? '',
      attributes: normJsAttrs(l.attributes),
      droppedAttributesCount: l.droppedAttributesCount ?? 0,
      flags: spanFlags(l.context.traceFlags, l.context.isRemote),
    })),
    droppedLinksCount: s.droppedLinksCount,
    status: { code: s.status.code, message: s.status.message ?? '' },
    flags: spanFlags(ctx.traceFlags, s.parentSpanContext?.isRemote),
    resource: normJsAttrs(s.resource.attributes),
    scope: { name: s.instrumentationScope.name, version: s.instrumentationScope.version ?? '', schemaUrl: s.instrumentationScope.schemaUrl ?? '' },
  };
}

function spansAtSink(sink: Sink): SpanForm[] {
  const out: SpanForm[] = [];
  for (const tel of sink.received.traces) {
    const req = tel.request() as unknown as OTraces;
    for (const rs of list(req.resourceSpans)) {
      const resource = normOAttrs(rs.resource?.attributes);
      for (const ss of list(rs.scopeSpans)) {
        const scope = { name: ss.scope?.name ?? '', version: ss.scope?.version ?? '', schemaUrl: ss.schemaUrl ?? '' };
        for (const s of list(ss.spans)) {
          out.push({
            traceId: hex(s.traceId),
            spanId: hex(s.spanId),
            parentSpanId: hex(s.parentSpanId),
            traceState: s.traceState ?? '',
            name: s.name,
            kind: s.kind,
            start: i64(s.startTimeUnixNano),
            end: i64(s.endTimeUnixNano),
            attributes: normOAttrs(s.attributes),
            droppedAttributesCount: s.droppedAttributesCount,
            events: list(s.events).map((e) => ({ name: e.name, time: i64(e.timeUnixNano), attributes: normOAttrs(e.attributes), droppedAttributesCount: e.droppedAttributesCount })),
            droppedEventsCount: s.droppedEventsCount,
            links: list(s.links).map((l) => ({
              traceId: hex(l.traceId),
              spanId: hex(l.spanId),
              traceState: l.traceState ?? '',
              attributes: normOAttrs(l.attributes),
              droppedAttributesCount: l.droppedAttributesCount,
              flags: l.flags,
            })),
            droppedLinksCount: s.droppedLinksCount,
            status: { code: s.status?.code ?? 0, message: s.status?.message ?? '' },
            flags: s.flags,
            resource,
            scope,
          });
        }
      }
    }
  }
  return out;
}

type PointValue =
  | { int: string }
  | { double: number }
  | { count: string; sum: number | null; min: number | null; max: number | null; bucketCounts: string[]; explicitBounds: number[] };
interface PointForm {
  metric: string; description: string; unit: string; type: 'sum' | 'gauge' | 'histogram' | 'other';
  monotonic: boolean | null; temporality: number | null;
  start: string; time: string; attributes: Record<string, Norm>; value: PointValue;
  resource: Record<string, Norm>; scope: { name: string; version: string; schemaUrl: string };
}
const pointKey = (p: PointForm) => `${p.metric}\u0000${canon(p.attributes)}\u0000${p.time}`;

/** The SDK's collected metrics in normal form, taken as they are handed to the exporter. */
function pointsFromSdk(rm: ResourceMetrics): PointForm[] {
  const out: PointForm[] = [];
  const resource = normJsAttrs(rm.resource.attributes);
  for (const sm of rm.scopeMetrics) {
    const scope = { name: sm.scope.name, version: sm.scope.version ?? '', schemaUrl: sm.scope.schemaUrl ?? '' };
    for (const m of sm.metrics) {
      const base = { metric: m.descriptor.name, description: m.descriptor.description, unit: m.descriptor.unit, resource, scope };
      const temporality = m.aggregationTemporality === AggregationTemporality.DELTA ? 1 : 2; // OTLP DELTA = 1, CUMULATIVE = 2
      const num = (v: number): PointValue => (m.descriptor.valueType === ValueType.INT ? { int: String(v) } : { double: v });
      switch (m.dataPointType) {
        case DataPointType.SUM:
          for (const p of m.dataPoints) out.push({ ...base, type: 'sum', monotonic: m.isMonotonic, temporality, start: hrNanos(p.startTime), time: hrNanos(p.endTime), attributes: normJsAttrs(p.attributes), value: num(p.value) });
          break;
        case DataPointType.GAUGE:
          for (const p of m.dataPoints) out.push({ ...base, type: 'gauge', monotonic: null, temporality: null, start: hrNanos(p.startTime), time: hrNanos(p.endTime), attributes: normJsAttrs(p.attributes), value: num(p.value) });
          break;
        case DataPointType.HISTOGRAM:
          for (const p of m.dataPoints) {
            const h = p.value;
            out.push({
              ...base, type: 'histogram', monotonic: null, temporality, start: hrNanos(p.startTime), time: hrNanos(p.endTime), attributes: normJsAttrs(p.attributes),
              value: { count: String(h.count), sum: h.sum ?? null, min: h.min ?? null, max: h.max ?? null, bucketCounts: h.buckets.counts.map(String), explicitBounds: [...h.buckets.boundaries] },
            });
          }
          break;
        default:
          throw new Error(`this test does not record ${DataPointType[m.dataPointType]} metrics`);
      }
    }
  }
  return out;
}

function pointsAtSink(sink: Sink): PointForm[] {
  const out: PointForm[] = [];
  const num = (p: ONumberPoint): PointValue =>
    p.asInt !== undefined ? { int: i64(p.asInt) } : p.asDouble !== undefined ? { double: p.asDouble } : { int: '<no value>' };
  for (const tel of sink.received.metrics) {
    const req = tel.request() as unknown as OMetrics;
    for (const rm of list(req.resourceMetrics)) {
      const resource = normOAttrs(rm.resource?.attributes);
      for (const sm of list(rm.scopeMetrics)) {
        const scope = { name: sm.scope?.name ?? '', version: sm.scope?.version ?? '', schemaUrl: sm.schemaUrl ?? '' };
        for (const m of list(sm.metrics)) {
          const base = { metric: m.name, description: m.description, unit: m.unit, resource, scope };
          if (m.sum) {
            for (const p of list(m.sum.dataPoints)) out.push({ ...base, type: 'sum', monotonic: m.sum.isMonotonic, temporality: m.sum.aggregationTemporality, start: i64(p.startTimeUnixNano), time: i64(p.timeUnixNano), attributes: normOAttrs(p.attributes), value: num(p) });
          } else if (m.gauge) {
            for (const p of list(m.gauge.dataPoints)) out.push({ ...base, type: 'gauge', monotonic: null, temporality: null, start: i64(p.startTimeUnixNano), time: i64(p.timeUnixNano), attributes: normOAttrs(p.attributes), value: num(p) });
          } else if (m.histogram) {
            for (const p of list(m.histogram.dataPoints)) {
              out.push({
                ...base, type: 'histogram', monotonic: null, temporality: m.histogram.aggregationTemporality, start: i64(p.startTimeUnixNano), time: i64(p.timeUnixNano), attributes: normOAttrs(p.attributes),
                value: { count: i64(p.count), sum: p.sum ?? null, min: p.min ?? null, max: p.max ?? null, bucketCounts: list(p.bucketCounts).map(i64), explicitBounds: [...list(p.explicitBounds)] },
              });
            }
          } else {
            out.push({ ...base, type: 'other', monotonic: null, temporality: null, start: '', time: '', attributes: {}, value: { int: '<no data>' } });
          }
        }
      }
    }
  }
  return out;
}

interface LogForm {
  time: string; observedTime: string; severityNumber: number; severityText: string; body: Norm; eventName: string;
  attributes: Record<string, Norm>; droppedAttributesCount: number; flags: number; traceId: string; spanId: string;
  resource: Record<string, Norm>; scope: { name: string; version: string; schemaUrl: string; attributes: Record<string, Norm> };
}
const logSeq = (l: LogForm) => JSON.stringify(l.attributes['e2e.seq'] ?? null);

function logFromSdk(r: ReadableLogRecord): LogForm {
  return {
    time: hrNanos(r.hrTime),
    observedTime: hrNanos(r.hrTimeObserved),
    severityNumber: r.severityNumber ?? 0,
    severityText: r.severityText ?? '',
    body: normJs(r.body as unknown),
    eventName: r.eventName ?? '',
    attributes: normJsAttrs(r.attributes),
    droppedAttributesCount: r.droppedAttributesCount,
    flags: r.spanContext?.traceFlags ?? 0,
    traceId: r.spanContext?.traceId ?? '',
    spanId: r.spanContext?.spanId ?? '',
    resource: normJsAttrs(r.resource.attributes),
    scope: {
      name: r.instrumentationScope.name,
      version: r.instrumentationScope.version ?? '',
      schemaUrl: r.instrumentationScope.schemaUrl ?? '',
      attributes: normJsAttrs(r.instrumentationScope.attributes),
    },
  };
}

function logsAtSink(sink: Sink): LogForm[] {
  const out: LogForm[] = [];
  for (const tel of sink.received.logs) {
    const req = tel.request() as unknown as OLogs;
    for (const rl of list(req.resourceLogs)) {
      const resource = normOAttrs(rl.resource?.attributes);
      for (const sl of list(rl.scopeLogs)) {
        const scope = { name: sl.scope?.name ?? '', version: sl.scope?.version ?? '', schemaUrl: sl.schemaUrl ?? '', attributes: normOAttrs(sl.scope?.attributes) };
        for (const r of list(sl.logRecords)) {
          out.push({
            time: i64(r.timeUnixNano),
            observedTime: i64(r.observedTimeUnixNano),
            severityNumber: r.severityNumber,
            severityText: r.severityText,
            body: normO(r.body),
            eventName: r.eventName ?? '',
            attributes: normOAttrs(r.attributes),
            droppedAttributesCount: r.droppedAttributesCount,
            flags: r.flags,
            traceId: hex(r.traceId),
            spanId: hex(r.spanId),
            resource,
            scope,
          });
        }
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Exporters that remember how each export went (and, for metrics, what it carried).
class TraceExporter extends OTLPTraceExporter {
  readonly results: ExportResult[] = [];
  override export(items: ReadableSpan[], cb: (r: ExportResult) => void): void {
    super.export(items, (r) => {
      this.results.push(r);
      cb(r);
    });
  }
}
class MetricExporter extends OTLPMetricExporter {
  readonly results: ExportResult[] = [];
  readonly sent: PointForm[] = [];
  override export(rm: ResourceMetrics, cb: (r: ExportResult) => void): void {
    this.sent.push(...pointsFromSdk(rm)); // snapshot now: the SDK may reuse its objects
    super.export(rm, (r) => {
      this.results.push(r);
      cb(r);
    });
  }
}
class LogExporter extends OTLPLogExporter {
  readonly results: ExportResult[] = [];
  override export(items: ReadableLogRecord[], cb: (r: ExportResult) => void): void {
    super.export(items, (r) => {
      this.results.push(r);
      cb(r);
    });
  }
}
const failures = (rs: ExportResult[]) => rs.filter((r) => r.code !== ExportResultCode.SUCCESS).map((r) => r.error?.message ?? 'failed');

function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms}ms: ${what}`)), ms))),
  ]);
}

// ---------------------------------------------------------------------------------------------
// The telemetry the SDK produces.

function richAttrs(n: number): Attributes {
  return {
    'attr.string': `value-${n}`,
    'attr.unicode': 'héllo wörld ✓ 日本語',
    'attr.int': n,
    'attr.negative': -1000 - n,
    'attr.big': 2 ** 40 + n,
    'attr.max_safe': Number.MAX_SAFE_INTEGER,
    'attr.double': n + 0.25,
    'attr.small_double': 1.5e-300,
    'attr.bool': n % 2 === 0,
    'attr.strings': ['a', `b${n}`, 'c c'],
    'attr.ints': [1, -2, n],
    'attr.doubles': [0.5, -1.5, n + 0.125],
    'attr.bools': [true, false, true],
  };
}

const KINDS = [SpanKind.INTERNAL, SpanKind.CLIENT, SpanKind.PRODUCER, SpanKind.CONSUMER];
const BASE_SEC = 1_700_000_000;

interface Produced {
  /** contexts to emit logs under: [trace 0 root, trace 1 child 1, remote-parent server span] */
  logContexts: Context[];
  spanCount: number;
}

/** 4 traces × 13 spans (root, 3 children, 9 grandchildren) + 2 spans under a remote parent = 54. */
function produceSpans(): Produced {
  const tracerA = trace.getTracer('e2e-sdk-tracer', '1.4.2');
  const tracerB = trace.getTracerProvider().getTracer('e2e-sdk-worker', '0.9.0-beta.1', { schemaUrl: 'https://opentelemetry.io/schemas/1.30.0' });
  let seq = 0;
  let count = 0;
  const roots: Span[] = [];
  const logContexts: Context[] = [];
  for (let ti = 0; ti < 4; ti++) {
    const tracer = ti % 2 === 0 ? tracerA : tracerB;
    const links: Link[] = ti > 0 ? [{ context: roots[ti - 1]!.spanContext(), attributes: { 'link.reason': 'previous-trace', 'link.index': ti - 1, 'link.weight': 0.5 } }] : [];
    const root = tracer.startSpan(`root-${ti}`, { kind: SpanKind.SERVER, attributes: richAttrs(seq++), links, root: true });
    count++;
    roots.push(root);
    const rootCtx = trace.setSpan(ROOT_CONTEXT, root);
    if (ti === 0) logContexts.push(rootCtx);
    root.addEvent('request.received', { 'http.request.method': 'POST', 'body.size': 1234, ratio: 0.5, ok: true, tags: ['x', 'y'], codes: [200, 201] });
    for (let ci = 0; ci < 3; ci++) {
      const child = tracer.startSpan(`child-${ti}-${ci}`, { kind: KINDS[(ti + ci) % 4], attributes: richAttrs(seq++) }, rootCtx);
      count++;
      const childCtx = trace.setSpan(rootCtx, child);
      if (ti === 1 && ci === 1) logContexts.push(childCtx);
      for (let gi = 0; gi < 3; gi++) {
        const explicit = gi === 2;
        const n = seq++;
        const g = tracer.startSpan(
          `grandchild-${ti}-${ci}-${gi}`,
          { kind: KINDS[(ci + gi) % 4], attributes: richAttrs(n), ...(explicit ? { startTime: [BASE_SEC + n, 123_456_789] as HrTime } : {}) },
          childCtx,
        );
        count++;
        g.addEvent('step', { 'step.index': gi, 'step.name': `s${gi}`, 'step.ratio': gi / 4 + 0.01 });
        if (explicit) g.addEvent('explicit-time', { at: 'fixed', nested: [1.25, 2.5] }, [BASE_SEC + n, 500_000_001]);
        if (gi === 1) g.addLink({ context: child.spanContext(), attributes: { 'link.kind': 'parent-again', 'link.weight': 0.75, 'link.ok': false } });
        if (gi === 0 && ci === 1) {
          g.recordException(new Error(`boom ${ti}`));
          g.setStatus({ code: SpanStatusCode.ERROR, message: `failed at ${ti}-${ci}: upstream returned 503` });
        } else if (gi === 1) {
          g.setStatus({ code: SpanStatusCode.OK });
        }
        g.setAttribute('late.attr', gi * 10);
        g.end(explicit ? ([BASE_SEC + n + 1, 987_654_321] as HrTime) : undefined);
      }
      if (ci === 2) child.setStatus({ code: SpanStatusCode.ERROR, message: 'child failed ✗' });
      child.end();
    }
    root.addEvent('response.sent', { 'http.response.status_code': 200 });
    root.end();
  }
  // A server span continuing a remote trace (trace state and the is-remote flag bit), and its child.
  const remoteParent = trace.setSpanContext(ROOT_CONTEXT, {
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    traceFlags: TraceFlags.SAMPLED,
    isRemote: true,
    traceState: createTraceState('vendor1=abc,vendor2=x:y'),
  });
  const remoteLink: Link = {
    context: { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: TraceFlags.NONE, isRemote: true, traceState: createTraceState('k=v') },
    attributes: { 'link.remote': true, 'link.count': 3 },
  };
  const server = tracerA.startSpan('remote-child', { kind: SpanKind.SERVER, attributes: richAttrs(seq++), links: [remoteLink] }, remoteParent);
  count++;
  const serverCtx = trace.setSpan(remoteParent, server);
  logContexts.push(serverCtx);
  const inner = tracerA.startSpan('remote-grandchild', { kind: SpanKind.CLIENT, attributes: richAttrs(seq++) }, serverCtx);
  count++;
  inner.end();
  server.end();
  return { logContexts, spanCount: count };
}

/** 5 instruments, 9 data points per collection. */
function produceMetrics(): void {
  const meter = metrics.getMeter('e2e-sdk-meter', '2.0.1', { schemaUrl: 'https://opentelemetry.io/schemas/1.30.0' });
  const requests = meter.createCounter('e2e.requests', { description: 'Requests served.', unit: '{request}', valueType: ValueType.INT });
  requests.add(3, { 'http.route': '/a', 'http.response.status_code': 200 });
  requests.add(4, { 'http.route': '/a', 'http.response.status_code': 200 });
  requests.add(5, { 'http.route': '/b', 'http.response.status_code': 500, 'error.flag': true });
  const depth = meter.createUpDownCounter('e2e.queue.depth', { description: 'Items queued.', unit: '{item}', valueType: ValueType.INT });
  depth.add(10, { queue: 'q1' });
  depth.add(-3, { queue: 'q1' });
  depth.add(-4, { queue: 'q2' });
  const latency = meter.createHistogram('e2e.latency', { description: 'Latency.', unit: 'ms', advice: { explicitBucketBoundaries: [1, 5, 10, 50] } });
  for (const v of [0.5, 3, 7, 7, 20, 100]) latency.record(v, { 'http.route': '/a' });
  latency.record(2.5, { 'http.route': '/b', shard: 7 });
  const temperature = meter.createObservableGauge('e2e.temperature', { description: 'Room temperature.', unit: 'Cel' });
  temperature.addCallback((r) => {
    r.observe(21.5, { room: 'a' });
    r.observe(-3.25, { room: 'b', floor: 2, tags: ['north', 'cold'] });
  });
  const inflight = meter.createGauge('e2e.inflight', { description: 'In-flight requests.', valueType: ValueType.INT });
  inflight.record(3, { pool: 'x' });
  inflight.record(5, { pool: 'x' });
}

/** 8 log records, each with a unique e2e.seq attribute. */
function produceLogs(ctxs: Context[]): number {
  const a = logs.getLogger('e2e-sdk-logger', '3.0.0');
  const b = logs.getLogger('e2e-sdk-audit', '0.1.0', { schemaUrl: 'https://opentelemetry.io/schemas/1.30.0', attributes: { 'scope.team': 'fleet', 'scope.shard': 3 } });
  const records: Array<[typeof a, Parameters<typeof a.emit>[0]]> = [
    [a, { severityNumber: SeverityNumber.INFO, severityText: 'INFO', body: 'user logged in', eventName: 'e2e.login', context: ctxs[0], attributes: { 'user.id': 'u-1', attempt: 2, ok: true, ratio: 0.75, tags: ['a', 'b'] } }],
    [a, {
      severityNumber: SeverityNumber.ERROR, severityText: 'ERROR', context: ctxs[1], attributes: { 'error.type': 'UpstreamError' },
      body: { message: 'upstream failed', code: 503, retry: true, delay: 1.5, nested: { list: [1, 'two', 3.5, false], bin: new Uint8Array([0, 1, 2, 254, 255]) } } as JsAnyValue,
    }],
    [a, { severityNumber: SeverityNumber.WARN, severityText: 'WARNING', body: 'disk almost full', timestamp: [BASE_SEC + 500, 111_222_333] as HrTime, observedTimestamp: [BASE_SEC + 500, 444_555_666] as HrTime, attributes: { 'disk.free_ratio': 0.05 } }],
    [b, { severityNumber: SeverityNumber.DEBUG, body: ['x', 1, 2.5, true], attributes: { step: 'array-body' } }],
    [b, { severityNumber: SeverityNumber.FATAL, severityText: 'FATAL', body: 42.5, context: ctxs[2], attributes: { 'process.exit_code': 1 } }],
    [b, { severityNumber: SeverityNumber.TRACE2, body: true, attributes: { ints: [1, 2, 3], doubles: [0.1, 0.2], bools: [false], strs: ['z'] } }],
    [a, { severityNumber: SeverityNumber.INFO4, severityText: 'Information', body: 'multi\nline\ttext ✓ 日本', attributes: { big: 2 ** 45, neg: -7 } }],
    [a, { attributes: { note: 'no severity, no body' } }],
  ];
  records.forEach(([logger, rec], i) => logger.emit({ ...rec, attributes: { ...rec.attributes, 'e2e.seq': i } }));
  return records.length;
}

// ---------------------------------------------------------------------------------------------

t.test('OpenTelemetry JS SDK -> fleetcol -> OTLP/gRPC sink: traces, metrics, logs intact', async (t) => {
  const diagMessages: string[] = [];
  const keep = (lvl: string) => (msg: string, ...args: unknown[]) => diagMessages.push(`${lvl}: ${msg} ${args.map((a) => (a instanceof Error ? a.message : JSON.stringify(a))).join(' ')}`);
  diag.setLogger({ error: keep('error'), warn: keep('warn'), info: () => {}, debug: () => {}, verbose: () => {} }, DiagLogLevel.WARN);

  const sink = await startSink();
  t.teardown(() => sink.close());
  const grpcPort = await freePort();
  const httpPort = await freePort();
  const daemon: Daemon = await startDaemon(`
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:${grpcPort}
      http:
        endpoint: 127.0.0.1:${httpPort}
processors:
  batch:
    timeout: 100ms
exporters:
  otlp:
    endpoint: ${sink.endpoint}
    tls:
      insecure: true
    compression: gzip
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [otlp]
    metrics:
      receivers: [otlp]
      processors: [batch]
      exporters: [otlp]
    logs:
      receivers: [otlp]
      processors: [batch]
      exporters: [otlp]
`);
  t.teardown(async () => {
    await daemon.stop();
  });
  const explain = (what: string) => `${what}\n--- fleetcol output (tail) ---\n${daemon.output().slice(-6000)}\n--- SDK diagnostics ---\n${diagMessages.join('\n')}`;
  const waitOr = async <T>(fn: () => T | Promise<T>, ms: number, what: string) => {
    try {
      return await waitFor(fn, ms, what);
    } catch (err) {
      const have = `sink holds ${sink.items('traces')} spans, ${sink.items('metrics')} metric points, ${sink.items('logs')} log records`;
      throw new Error(explain(`${(err as Error).message} (${have})`));
    }
  };

  // --- the SDK ------------------------------------------------------------------------------
  const traceExporter = new TraceExporter({
    url: `http://127.0.0.1:${grpcPort}`,
    compression: 'gzip' as NonNullable<ConstructorParameters<typeof OTLPTraceExporter>[0]>['compression'],
    timeoutMillis: 10_000,
  });
  const memSpans = new InMemorySpanExporter();
  // Small export batches: several Export calls, which fleetcol's batch processor merges again.
  const spanBatch = new BatchSpanProcessor({ exporter: traceExporter, maxExportBatchSize: 20, scheduledDelayMillis: 60_000 });
  const metricExporter = new MetricExporter({ url: `http://127.0.0.1:${httpPort}/v1/metrics`, timeoutMillis: 10_000 });
  const reader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 3_600_000, exportTimeoutMillis: 10_000 });
  const logExporter = new LogExporter({
    url: `http://127.0.0.1:${httpPort}/v1/logs`,
    compression: 'gzip' as NonNullable<ConstructorParameters<typeof OTLPLogExporter>[0]>['compression'],
    timeoutMillis: 10_000,
  });
  const memLogs = new InMemoryLogRecordExporter();
  const logBatch = new BatchLogRecordProcessor({ exporter: logExporter, maxExportBatchSize: 3, scheduledDelayMillis: 60_000 });

  const resource = defaultResource().merge(
    resourceFromAttributes({
      'service.name': 'e2e-sdk-service',
      'service.version': '1.2.3',
      'service.namespace': 'fleet',
      'service.instance.id': 'instance-7',
      'deployment.environment.name': 'test',
      'host.cpu.count': 8,
      'e2e.flag': true,
      'e2e.ratio': 0.5,
      'e2e.tags': ['alpha', 'beta'],
    }),
  );
  const sdk = new NodeSDK({
    autoDetectResources: false,
    resource,
    instrumentations: [],
    textMapPropagator: null,
    sampler: new AlwaysOnSampler(),
    spanProcessors: [spanBatch, new SimpleSpanProcessor({ exporter: memSpans })],
    metricReaders: [reader],
    logRecordProcessors: [logBatch, new SimpleLogRecordProcessor({ exporter: memLogs })],
  });
  sdk.start();
  let sdkDown = false;
  t.teardown(async () => {
    if (!sdkDown) await sdk.shutdown().catch(() => {});
  });

  const produced = produceSpans();
  produceMetrics();
  const logCount = context.with(ROOT_CONTEXT, () => produceLogs(produced.logContexts));

  await bounded(spanBatch.forceFlush(), 20_000, 'span processor flush');
  await bounded(reader.forceFlush(), 20_000, 'metric reader flush');
  await bounded(logBatch.forceFlush(), 20_000, 'log processor flush');
  // Taken before shutdown, which empties the in-memory exporters.
  const sdkSpans = [...memSpans.getFinishedSpans()];
  const sdkLogs = [...memLogs.getFinishedLogRecords()];
  // Shutting down exports once more what the metric reader holds (a second collection).
  await bounded(sdk.shutdown(), 20_000, 'SDK shutdown');
  sdkDown = true;

  t.equal(sdkSpans.length, produced.spanCount, `the SDK recorded ${produced.spanCount} spans`);
  t.equal(sdkLogs.length, logCount, `the SDK recorded ${logCount} log records`);
  for (const [what, results] of [
    ['OTLP/gRPC trace', traceExporter.results],
    ['OTLP/HTTP JSON metric', metricExporter.results],
    ['OTLP/HTTP protobuf log', logExporter.results],
  ] as const) {
    const f = failures(results);
    t.strictSame(f, [], f.length ? explain(`every ${what} export succeeded`) : `every ${what} export succeeded`);
  }
  const spanTotal = sdkSpans.length;
  const pointTotal = metricExporter.sent.length;
  const logTotal = sdkLogs.length;
  t.ok(traceExporter.results.length >= 3, `spans went out in several Export calls (${traceExporter.results.length})`);
  t.equal(pointTotal, 18, 'two collections of 9 data points were exported');

  // --- traces -------------------------------------------------------------------------------
  await t.test('traces: every span once, every field as recorded', async (t) => {
    await waitOr(() => sink.items('traces') >= spanTotal, 15_000, `${spanTotal} spans at the sink`);
    const got = spansAtSink(sink);
    const byId = new Map<string, SpanForm[]>();
    for (const s of got) byId.set(s.spanId, [...(byId.get(s.spanId) ?? []), s]);
    const dups = [...byId].filter(([, v]) => v.length > 1).map(([k, v]) => `${k} (${v[0]!.name}) x${v.length}`);
    t.strictSame(dups, [], 'no span arrived twice');
    const expected = sdkSpans.map(spanFromSdk);
    const missing = expected.filter((e) => !byId.has(e.spanId)).map((e) => `${e.spanId} (${e.name})`);
    t.strictSame(missing, [], 'no span is missing');
    const unknown = got.filter((g) => !expected.some((e) => e.spanId === g.spanId)).map((g) => `${g.spanId} (${g.name})`);
    t.strictSame(unknown, [], 'nothing arrived that was not sent');
    t.equal(got.length, spanTotal, `${spanTotal} spans in total`);
    for (const e of expected) {
      const g = byId.get(e.spanId)?.[0];
      if (g) t.strictSame(g, e, `span ${e.name} intact`);
    }
    // A few spot checks against the fixed inputs, independent of the SDK's own records.
    const named = (n: string) => got.find((s) => s.name === n);
    const root0 = named('root-0');
    const child = named('child-0-1');
    const grand = named('grandchild-0-1-0');
    t.equal(root0?.kind, 2, 'root span kind SERVER');
    t.equal(root0?.parentSpanId, '', 'root has no parent');
    t.equal(child?.parentSpanId, root0?.spanId, 'child -> root');
    t.equal(grand?.parentSpanId, child?.spanId, 'grandchild -> child');
    t.equal(grand?.traceId, root0?.traceId, 'one trace id down the tree');
    t.strictSame(grand?.status, { code: 2, message: 'failed at 0-1: upstream returned 503' }, 'error status with message');
    t.ok(grand?.events.some((ev) => ev.name === 'exception' && ev.attributes['exception.message'] === 'boom 0'), 'exception event');
    t.equal(named('grandchild-1-0-2')?.start, `${BigInt(BASE_SEC + 17) * 1_000_000_000n + 123_456_789n}`, 'explicit start time, ns exact');
    t.strictSame(root0?.attributes['attr.big'], { int: String(2 ** 40) }, 'int attribute');
    t.strictSame(root0?.attributes['attr.doubles'], [{ double: 0.5 }, { double: -1.5 }, { double: 0.125 }], 'double array attribute');
    const remote = named('remote-child');
    t.equal(remote?.parentSpanId, 'b7ad6b7169203331', 'remote parent span id');
    t.equal(remote?.traceId, '0af7651916cd43dd8448eb211c80319c', 'remote trace id');
    t.equal(remote?.traceState, 'vendor1=abc,vendor2=x:y', 'trace state');
    t.equal(remote?.flags, 0x301, 'flags: sampled, has-is-remote, is-remote');
    t.equal(named('root-1')?.links[0]?.spanId, root0?.spanId, 'link to the previous trace root');
    t.equal(root0?.resource['service.name'], 'e2e-sdk-service', 'resource service.name');
    t.strictSame(named('root-1')?.scope, { name: 'e2e-sdk-worker', version: '0.9.0-beta.1', schemaUrl: 'https://opentelemetry.io/schemas/1.30.0' }, 'scope name, version, schema url');
  });

  // --- metrics ------------------------------------------------------------------------------
  await t.test('metrics over OTLP/HTTP JSON: names, types, values, attributes, resource', async (t) => {
    await waitOr(() => sink.items('metrics') >= pointTotal, 15_000, `${pointTotal} metric points at the sink`);
    const got = pointsAtSink(sink);
    const byKey = new Map<string, PointForm[]>();
    for (const p of got) byKey.set(pointKey(p), [...(byKey.get(pointKey(p)) ?? []), p]);
    t.strictSame([...byKey].filter(([, v]) => v.length > 1).map(([k]) => k), [], 'no data point arrived twice');
    const expected = metricExporter.sent;
    t.equal(new Set(expected.map(pointKey)).size, expected.length, 'data points sent are told apart by name, attributes and time');
    t.strictSame(expected.filter((e) => !byKey.has(pointKey(e))).map(pointKey), [], 'no data point is missing');
    t.equal(got.length, pointTotal, `${pointTotal} data points in total`);
    for (const e of expected) {
      const g = byKey.get(pointKey(e))?.[0];
      if (g) t.strictSame(g, e, `${e.metric} ${canon(e.attributes)} intact`);
    }
    // Values against the fixed inputs, independent of the SDK's own records.
    // The newest point of a series (the second collection; cumulative, so the same values).
    const find = (metric: string, attr: string, value: Norm) =>
      got.filter((p) => p.metric === metric && JSON.stringify(p.attributes[attr]) === JSON.stringify(value)).sort((x, y) => (BigInt(x.time) < BigInt(y.time) ? 1 : -1))[0];
    const a = find('e2e.requests', 'http.route', '/a');
    t.strictSame(a && { type: a.type, monotonic: a.monotonic, temporality: a.temporality, value: a.value, unit: a.unit }, { type: 'sum', monotonic: true, temporality: 2, value: { int: '7' }, unit: '{request}' }, 'counter: cumulative monotonic sum 7');
    t.strictSame(find('e2e.requests', 'http.route', '/b')?.attributes, { 'http.route': '/b', 'http.response.status_code': { int: '500' }, 'error.flag': true }, 'counter attributes');
    const q1 = find('e2e.queue.depth', 'queue', 'q1');
    t.strictSame(q1 && { type: q1.type, monotonic: q1.monotonic, value: q1.value }, { type: 'sum', monotonic: false, value: { int: '7' } }, 'up-down counter q1 = 7');
    t.strictSame(find('e2e.queue.depth', 'queue', 'q2')?.value, { int: '-4' }, 'up-down counter q2 = -4 (negative int64 through JSON)');
    const h = find('e2e.latency', 'http.route', '/a');
    t.strictSame(h && { type: h.type, unit: h.unit, value: h.value }, {
      type: 'histogram', unit: 'ms',
      value: { count: '6', sum: 137.5, min: 0.5, max: 100, bucketCounts: ['1', '1', '2', '1', '1'], explicitBounds: [1, 5, 10, 50] },
    }, 'histogram buckets, count, sum, min, max');
    t.strictSame(find('e2e.temperature', 'room', 'a')?.value, { double: 21.5 }, 'observable gauge a');
    const tb = find('e2e.temperature', 'room', 'b');
    t.strictSame(tb && { type: tb.type, value: tb.value, attributes: tb.attributes }, { type: 'gauge', value: { double: -3.25 }, attributes: { room: 'b', floor: { int: '2' }, tags: ['north', 'cold'] } }, 'observable gauge b');
    t.strictSame(find('e2e.inflight', 'pool', 'x')?.value, { int: '5' }, 'gauge: last value');
    t.equal(got[0]?.resource['service.instance.id'], 'instance-7', 'resource attributes');
    t.strictSame(got[0]?.scope, { name: 'e2e-sdk-meter', version: '2.0.1', schemaUrl: 'https://opentelemetry.io/schemas/1.30.0' }, 'scope');
  });

  // --- logs ---------------------------------------------------------------------------------
  await t.test('logs over OTLP/HTTP protobuf: severity, body, attributes, trace context', async (t) => {
    await waitOr(() => sink.items('logs') >= logTotal, 15_000, `${logTotal} log records at the sink`);
    const got = logsAtSink(sink);
    const bySeq = new Map<string, LogForm[]>();
    for (const l of got) bySeq.set(logSeq(l), [...(bySeq.get(logSeq(l)) ?? []), l]);
    t.strictSame([...bySeq].filter(([, v]) => v.length > 1).map(([k]) => k), [], 'no log record arrived twice');
    const expected = sdkLogs.map(logFromSdk);
    t.strictSame(expected.filter((e) => !bySeq.has(logSeq(e))).map(logSeq), [], 'no log record is missing');
    t.equal(got.length, logTotal, `${logTotal} log records in total`);
    for (const e of expected) {
      const g = bySeq.get(logSeq(e))?.[0];
      if (g) t.strictSame(g, e, `log record ${logSeq(e)} intact`);
    }
    const seq = (i: number) => bySeq.get(JSON.stringify({ int: String(i) }))?.[0];
    const spans = spansAtSink(sink);
    const root0 = spans.find((s) => s.name === 'root-0');
    t.equal(seq(0)?.traceId, root0?.traceId, 'log trace id is its span\'s');
    t.equal(seq(0)?.spanId, root0?.spanId, 'log span id is its span\'s');
    t.equal(seq(0)?.flags, 1, 'log flags: sampled');
    t.equal(seq(0)?.eventName, 'e2e.login', 'event name');
    t.equal(seq(4)?.traceId, '0af7651916cd43dd8448eb211c80319c', 'log under a remote-parent span');
    t.strictSame(seq(1)?.body, {
      kvlist: {
        message: 'upstream failed', code: { int: '503' }, retry: true, delay: { double: 1.5 },
        nested: { kvlist: { list: [{ int: '1' }, 'two', { double: 3.5 }, false], bin: { bytes: '000102feff' } } },
      },
    }, 'structured body');
    t.equal(seq(1)?.severityNumber, 17, 'ERROR severity number');
    t.equal(seq(2)?.time, `${BigInt(BASE_SEC + 500) * 1_000_000_000n + 111_222_333n}`, 'explicit timestamp, ns exact');
    t.equal(seq(2)?.observedTime, `${BigInt(BASE_SEC + 500) * 1_000_000_000n + 444_555_666n}`, 'explicit observed timestamp');
    t.equal(seq(2)?.traceId, '', 'no trace context where none was active');
    t.strictSame(seq(3)?.body, ['x', { int: '1' }, { double: 2.5 }, true], 'array body');
    t.strictSame(seq(4)?.body, { double: 42.5 }, 'number body');
    t.strictSame(seq(3)?.scope, { name: 'e2e-sdk-audit', version: '0.1.0', schemaUrl: 'https://opentelemetry.io/schemas/1.30.0', attributes: { 'scope.team': 'fleet', 'scope.shard': { int: '3' } } }, 'scope with attributes');
    t.equal(seq(7)?.severityNumber, 0, 'unspecified severity');
    t.equal(seq(0)?.resource['deployment.environment.name'], 'test', 'resource attributes');
  });

  // --- fleetcol's own metrics -----------------------------------------------------------------
  await t.test("fleetcol's /metrics count what went through", async (t) => {
    const sum = (text: string, name: string) =>
      text.split('\n').filter((l) => l.startsWith(`${name}_total{`) || l.startsWith(`${name}_total `)).reduce((a, l) => a + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
    const want: Array<[string, number]> = [
      ['fleetcol_exporter_sent_spans', spanTotal],
      ['fleetcol_exporter_sent_metric_points', pointTotal],
      ['fleetcol_exporter_sent_log_records', logTotal],
    ];
    let text = '';
    // The exporter counts after the sink has answered: give it a moment.
    await waitOr(async () => {
      text = await daemon.metrics();
      return want.every(([n, v]) => sum(text, n) >= v);
    }, 10_000, 'exporter counters caught up');
    t.equal(metricValue(text, 'fleetcol_receiver_accepted_spans', 'transport="grpc"'), spanTotal, 'receiver accepted spans (gRPC)');
    t.equal(metricValue(text, 'fleetcol_receiver_accepted_metric_points', 'transport="http"'), pointTotal, 'receiver accepted metric points (HTTP)');
    t.equal(metricValue(text, 'fleetcol_receiver_accepted_log_records', 'transport="http"'), logTotal, 'receiver accepted log records (HTTP)');
    t.equal(sum(text, 'fleetcol_receiver_accepted_spans'), spanTotal, 'accepted spans, all transports');
    t.equal(sum(text, 'fleetcol_receiver_accepted_metric_points'), pointTotal, 'accepted metric points, all transports');
    t.equal(sum(text, 'fleetcol_receiver_accepted_log_records'), logTotal, 'accepted log records, all transports');
    t.equal(metricValue(text, 'fleetcol_exporter_sent_spans', 'exporter="otlp"'), spanTotal, 'exporter sent spans');
    t.equal(metricValue(text, 'fleetcol_exporter_sent_metric_points', 'exporter="otlp"'), pointTotal, 'exporter sent metric points');
    t.equal(metricValue(text, 'fleetcol_exporter_sent_log_records', 'exporter="otlp"'), logTotal, 'exporter sent log records');
    for (const n of ['fleetcol_receiver_refused_spans', 'fleetcol_receiver_refused_metric_points', 'fleetcol_receiver_refused_log_records',
      'fleetcol_exporter_send_failed_spans', 'fleetcol_exporter_send_failed_metric_points', 'fleetcol_exporter_send_failed_log_records']) {
      t.equal(sum(text, n), 0, `${n} = 0`);
    }
  });

  // --- clean stop -----------------------------------------------------------------------------
  await t.test('SIGTERM: exit 0, nothing more delivered', async (t) => {
    const code = await bounded(daemon.stop('SIGTERM'), 30_000, 'fleetcol exit after SIGTERM');
    t.equal(code, 0, code === 0 ? 'exit code 0' : explain('exit code 0'));
    await sleep(100);
    t.equal(sink.items('traces'), spanTotal, 'spans at the sink after stop');
    t.equal(sink.items('metrics'), pointTotal, 'metric points at the sink after stop');
    t.equal(sink.items('logs'), logTotal, 'log records at the sink after stop');
    t.strictSame(diagMessages.filter((m) => m.startsWith('error')), [], 'no SDK errors');
  });
});
