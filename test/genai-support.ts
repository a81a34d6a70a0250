// Helpers for the genai processor's tests: its config as the loader makes it, a processor feeding
// an array, and spans built from attribute lists.
import { stringify } from 'yaml';
import { registry } from '../src/components.js';
import { loadConfig } from '../src/config/load.js';
import { consumerOf } from '../src/consumer.js';
import { Telemetry, type AnyValue, type ExportLogsServiceRequest, type ExportTraceServiceRequest, type KeyValue, type Signal } from '../src/pdata/telemetry.js';
import { genaiProcessorFactory } from '../processors/genai/factory.js';
import type { GenAIConfig } from '../processors/genai/processor.js';
import { settings, tempFile } from './helper.js';

export function genaiConfig(over: Record<string, unknown> = {}): GenAIConfig {
  const doc = {
    receivers: { otlp: { protocols: { http: { endpoint: '127.0.0.1:1' } } } },
    processors: { genai: over },
    exporters: { debug: {} },
    service: { pipelines: { traces: { receivers: ['otlp'], processors: ['genai'], exporters: ['debug'] } } },
  };
  const r = loadConfig({ files: [tempFile('genai.yaml', stringify(doc))], registry });
  if (r.errors.length > 0) throw new Error(JSON.stringify(r.errors));
  return (r.config as any).processors.get('genai').config;
}

let ids = 0;
export function genaiProcessor(over: Record<string, unknown> = {}, signal: Signal = 'traces', id = `genai/t${++ids}`) {
  const out: Telemetry[] = [];
  const set = settings('processor', id);
  const p = genaiProcessorFactory.createProcessor!(set, genaiConfig(over), signal, consumerOf(async (b) => void out.push(b)));
  return { p, out, set };
}

export type AttrValue = string | number | boolean | string[] | { double: number };
export const kv = (key: string, v: AttrValue): KeyValue => ({ key, value: anyValue(v) });
function anyValue(v: AttrValue): AnyValue {
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (typeof v === 'number') return Number.isInteger(v) ? { intValue: BigInt(v) } : { doubleValue: v };
  if (Array.isArray(v)) return { arrayValue: { values: v.map((s) => ({ stringValue: s })) } };
  return { doubleValue: v.double };
}
export const attrs = (o: Record<string, AttrValue>): KeyValue[] => Object.entries(o).map(([k, v]) => kv(k, v));

export interface SpanSpec {
  trace?: number;
  id: number;
  parent?: number;
  name: string;
  attrs?: Record<string, AttrValue>;
  status?: number;
}

const idBytes = (n: number, len: number) => {
  const b = new Uint8Array(len);
  new DataView(b.buffer).setUint32(len - 4, n);
  b[0] = 0xfe;
  return b;
};

export function spanRequest(specs: SpanSpec[], resource: Record<string, AttrValue> = { 'service.name': 'svc' }): Telemetry {
  const t0 = BigInt(Date.now()) * 1_000_000n;
  const req: ExportTraceServiceRequest = {
    resourceSpans: [{
      resource: { attributes: attrs(resource), droppedAttributesCount: 0 },
      schemaUrl: '',
      scopeSpans: [{
        scope: { name: 'test', version: '1', attributes: [], droppedAttributesCount: 0 },
        schemaUrl: '',
        spans: specs.map((s) => ({
          traceId: idBytes(s.trace ?? 1, 16), spanId: idBytes(s.id, 8), traceState: '',
          parentSpanId: s.parent === undefined ? new Uint8Array(0) : idBytes(s.parent, 8), flags: 0, name: s.name, kind: 1,
          startTimeUnixNano: t0, endTimeUnixNano: t0 + 1_000_000n, attributes: attrs(s.attrs ?? {}), droppedAttributesCount: 0,
          events: [], droppedEventsCount: 0, links: [], droppedLinksCount: 0, status: { code: s.status ?? 0, message: '' },
        })),
      }],
    }],
  } as never;
  // Through the encoding, as a receiver would hand it on.
  return Telemetry.fromProto('traces', Telemetry.fromRequest('traces', req).toProto());
}

export function logRequest(records: Array<{ attrs: Record<string, AttrValue>; trace?: number; span?: number; event?: string }>, resource: Record<string, AttrValue> = { 'service.name': 'svc' }): Telemetry {
  const t0 = BigInt(Date.now()) * 1_000_000n;
  const req: ExportLogsServiceRequest = {
    resourceLogs: [{
      resource: { attributes: attrs(resource), droppedAttributesCount: 0 },
      schemaUrl: '',
      scopeLogs: [{
        scope: { name: 'test', version: '1', attributes: [], droppedAttributesCount: 0 },
        schemaUrl: '',
        logRecords: records.map((r) => ({
          timeUnixNano: t0, observedTimeUnixNano: t0, severityNumber: 9, severityText: '', body: { stringValue: 'x' },
          attributes: attrs(r.attrs), droppedAttributesCount: 0, flags: 0,
          traceId: r.trace === undefined ? new Uint8Array(0) : idBytes(r.trace, 16), spanId: r.span === undefined ? new Uint8Array(0) : idBytes(r.span, 8),
          eventName: r.event ?? '',
        })),
      }],
    }],
  } as never;
  return Telemetry.fromProto('logs', Telemetry.fromRequest('logs', req).toProto());
}

/** Every span of the batches as { name, attributes as a plain object }. */
export function spansOut(out: readonly Telemetry[]): Array<{ name: string; id: number; a: Record<string, unknown> }> {
  const res: Array<{ name: string; id: number; a: Record<string, unknown> }> = [];
  for (const t of out) {
    const req = Telemetry.fromProto('traces', t.toProto()).request() as ExportTraceServiceRequest;
    for (const rs of req.resourceSpans) for (const ss of rs.scopeSpans) for (const s of ss.spans) {
      const a: Record<string, unknown> = {};
      for (const x of s.attributes) a[x.key] = plain(x.value);
      res.push({ name: s.name, id: new DataView(s.spanId.buffer, s.spanId.byteOffset).getUint32(4), a });
    }
  }
  return res;
}

export function logsOut(out: readonly Telemetry[]): Array<Record<string, unknown>> {
  const res: Array<Record<string, unknown>> = [];
  for (const t of out) {
    const req = Telemetry.fromProto('logs', t.toProto()).request() as ExportLogsServiceRequest;
    for (const rl of req.resourceLogs) for (const sl of rl.scopeLogs) for (const r of sl.logRecords) {
      const a: Record<string, unknown> = {};
      for (const x of r.attributes) a[x.key] = plain(x.value);
      res.push(a);
    }
  }
  return res;
}

function plain(v: AnyValue | undefined): unknown {
  if (v === undefined) return undefined;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.arrayValue) return v.arrayValue.values.map(plain);
  return null;
}
