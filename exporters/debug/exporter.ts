import type { CreateSettings, Exporter } from '../../src/component.js';
import type {
  AnyValue,
  ExportLogsServiceRequest,
  ExportMetricsServiceRequest,
  ExportTraceServiceRequest,
  KeyValue,
  Telemetry,
} from '../../src/pdata/telemetry.js';
import { ITEM_NAME } from '../../src/telemetry/metrics.js';

export interface DebugExporterConfig {
  verbosity: 'basic' | 'normal' | 'detailed';
}

const hex = (b: Uint8Array | undefined) => (b ? Buffer.from(b).toString('hex') : '');

function anyValue(v: AnyValue | undefined): unknown {
  if (!v) return null;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) return v.intValue.toString();
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.bytesValue !== undefined) return Buffer.from(v.bytesValue).toString('base64');
  if (v.arrayValue) return v.arrayValue.values.map(anyValue);
  if (v.kvlistValue) return attrs(v.kvlistValue.values);
  return null;
}

function attrs(kvs: KeyValue[] | undefined): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const kv of kvs ?? []) o[kv.key] = anyValue(kv.value);
  return o;
}

export class DebugExporter implements Exporter {
  readonly mutatesData = false;
  constructor(
    private readonly set: CreateSettings,
    private readonly cfg: DebugExporterConfig,
  ) {}

  async start(): Promise<void> {}
  async shutdown(): Promise<void> {}

  async consume(batch: Telemetry): Promise<void> {
    const log = this.set.logger;
    log.info({ signal: batch.signal, [ITEM_NAME[batch.signal]]: batch.itemCount, bytes: batch.byteSize }, `${batch.signal}: ${batch.itemCount} ${ITEM_NAME[batch.signal]}`);
    if (this.cfg.verbosity === 'basic') return;
    const detailed = this.cfg.verbosity === 'detailed';
    const req = batch.request();
    if (batch.signal === 'traces') {
      for (const rs of (req as ExportTraceServiceRequest).resourceSpans) {
        const resource = attrs(rs.resource?.attributes);
        for (const ss of rs.scopeSpans) {
          for (const s of ss.spans) {
            const line: Record<string, unknown> = {
              trace_id: hex(s.traceId),
              span_id: hex(s.spanId),
              name: s.name,
              duration_ms: Number(s.endTimeUnixNano - s.startTimeUnixNano) / 1e6,
              status: s.status?.code ?? 0,
            };
            if (detailed) {
              Object.assign(line, {
                parent_span_id: hex(s.parentSpanId),
                kind: s.kind,
                start: s.startTimeUnixNano.toString(),
                attributes: attrs(s.attributes),
                events: s.events.map((e) => ({ name: e.name, time: e.timeUnixNano.toString(), attributes: attrs(e.attributes) })),
                links: s.links.map((l) => ({ trace_id: hex(l.traceId), span_id: hex(l.spanId) })),
                resource,
                scope: ss.scope?.name,
              });
            }
            log.info(line, `span ${s.name}`);
          }
        }
      }
    } else if (batch.signal === 'metrics') {
      for (const rm of (req as ExportMetricsServiceRequest).resourceMetrics) {
        for (const sm of rm.scopeMetrics) {
          for (const m of sm.metrics) {
            const line: Record<string, unknown> = { name: m.name, unit: m.unit };
            if (detailed) Object.assign(line, { description: m.description, data: m.gauge ? 'gauge' : m.sum ? 'sum' : m.histogram ? 'histogram' : m.exponentialHistogram ? 'exponential_histogram' : 'summary', resource: attrs(rm.resource?.attributes) });
            log.info(line, `metric ${m.name}`);
          }
        }
      }
    } else {
      for (const rl of (req as ExportLogsServiceRequest).resourceLogs) {
        for (const sl of rl.scopeLogs) {
          for (const r of sl.logRecords) {
            const line: Record<string, unknown> = { severity: r.severityText || r.severityNumber, body: anyValue(r.body) };
            if (detailed) Object.assign(line, { time: r.timeUnixNano.toString(), trace_id: hex(r.traceId), span_id: hex(r.spanId), attributes: attrs(r.attributes), resource: attrs(rl.resource?.attributes) });
            log.info(line, 'log record');
          }
        }
      }
    }
  }
}
