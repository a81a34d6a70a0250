import type { CreateSettings, Exporter } from '../../src/component.js';
import type {
  ExportLogsServiceRequest,
  ExportMetricsServiceRequest,
  ExportTraceServiceRequest,
  Telemetry,
} from '../../src/pdata/telemetry.js';
import { ITEM_NAME } from '../../src/telemetry/metrics.js';
import { plainAttributes, plainValue } from '../../src/vocab/index.js';

export interface DebugExporterConfig {
  verbosity: 'basic' | 'normal' | 'detailed';
}

const hex = (b: Uint8Array | undefined) => (b ? Buffer.from(b).toString('hex') : '');

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
        const resource = plainAttributes(rs.resource?.attributes);
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
                attributes: plainAttributes(s.attributes),
                events: s.events.map((e) => ({ name: e.name, time: e.timeUnixNano.toString(), attributes: plainAttributes(e.attributes) })),
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
            if (detailed) Object.assign(line, { description: m.description, data: m.gauge ? 'gauge' : m.sum ? 'sum' : m.histogram ? 'histogram' : m.exponentialHistogram ? 'exponential_histogram' : 'summary', resource: plainAttributes(rm.resource?.attributes) });
            log.info(line, `metric ${m.name}`);
          }
        }
      }
    } else {
      for (const rl of (req as ExportLogsServiceRequest).resourceLogs) {
        for (const sl of rl.scopeLogs) {
          for (const r of sl.logRecords) {
            const line: Record<string, unknown> = { severity: r.severityText || r.severityNumber, body: plainValue(r.body) };
            if (detailed) Object.assign(line, { time: r.timeUnixNano.toString(), trace_id: hex(r.traceId), span_id: hex(r.spanId), attributes: plainAttributes(r.attributes), resource: plainAttributes(rl.resource?.attributes) });
            log.info(line, 'log record');
          }
        }
      }
    }
  }
}
