// The filter processor: drops spans, span events, log records and metric data points that an
// `exclude` block matches, or that an `include` block does not. Works on the decoded request;
// containers left empty are removed.
import type { CreateSettings, Processor } from '../../src/component.js';
import type { Consumer } from '../../src/consumer.js';
import type {
  ExportLogsServiceRequest, ExportMetricsServiceRequest, ExportTraceServiceRequest, KeyValue, Metric, Signal, Telemetry,
} from '../../src/pdata/telemetry.js';
import type { BoundCounter } from '../../src/telemetry/metrics.js';
import { compileMatch, type MatchConfig, type Predicate, type View } from './conditions.js';

export interface FilterBlock {
  include?: MatchConfig;
  exclude?: MatchConfig;
}

export interface FilterConfig {
  spans?: FilterBlock;
  span_events?: FilterBlock;
  logs?: FilterBlock;
  metrics?: FilterBlock;
}

/** include and exclude as one predicate: true keeps the item. undefined: the block keeps all. */
function keeper(b: FilterBlock | undefined): Predicate | undefined {
  const inc = compileMatch(b?.include);
  const exc = compileMatch(b?.exclude);
  if (inc === undefined && exc === undefined) return undefined;
  if (exc === undefined) return inc!;
  if (inc === undefined) return (v) => !exc(v);
  return (v) => inc(v) && !exc(v);
}

const NONE: readonly KeyValue[] = [];

export class FilterProcessor implements Processor {
  readonly mutatesData = true;
  private readonly spans: Predicate | undefined;
  private readonly events: Predicate | undefined;
  private readonly logs: Predicate | undefined;
  private readonly points: Predicate | undefined;
  private readonly droppedC: BoundCounter;
  private readonly droppedEventsC: BoundCounter;
  private readonly keptC: BoundCounter;

  constructor(set: CreateSettings, cfg: FilterConfig, private readonly signal: Signal, private readonly next: Consumer) {
    this.spans = keeper(cfg.spans);
    this.events = keeper(cfg.span_events);
    this.logs = keeper(cfg.logs);
    this.points = keeper(cfg.metrics);
    const m = set.metrics;
    this.keptC = m.counter('processor_filter_kept', 'Items (spans, log records, metric points) the filter let through.', { signal });
    this.droppedC = m.counter('processor_filter_dropped', 'Items (spans, log records, metric points) the filter dropped.', { signal });
    this.droppedEventsC = m.counter('processor_filter_dropped_span_events', 'Span events the filter dropped.');
  }

  async start(): Promise<void> {}
  async shutdown(): Promise<void> {}

  async consume(batch: Telemetry): Promise<void> {
    const r = this.signal === 'traces' ? this.traces(batch) : this.signal === 'logs' ? this.logRecords(batch) : this.metrics(batch);
    if (r === undefined) return this.next.consume(batch);
    if (r.dropped > 0) this.droppedC.inc(r.dropped);
    if (r.kept > 0) this.keptC.inc(r.kept);
    batch.markModified();
    if (r.kept === 0) return;
    return this.next.consume(batch);
  }

  private traces(batch: Telemetry): { kept: number; dropped: number } | undefined {
    const keepSpan = this.spans;
    const keepEvent = this.events;
    if (keepSpan === undefined && keepEvent === undefined) return undefined;
    const req = batch.request() as ExportTraceServiceRequest;
    let kept = 0, dropped = 0, events = 0;
    const v: View = { attrs: NONE, scope: undefined, resource: undefined, name: '', kind: 0, status: 0, severity: 0, metricName: '' };
    for (const rs of req.resourceSpans) {
      v.resource = rs.resource?.attributes;
      for (const ss of rs.scopeSpans) {
        v.scope = ss.scope?.attributes;
        ss.spans = ss.spans.filter((s) => {
          v.attrs = s.attributes;
          v.name = s.name;
          v.kind = s.kind;
          v.status = s.status?.code ?? 0;
          if (keepSpan !== undefined && !keepSpan(v)) {
            dropped++;
            return false;
          }
          kept++;
          if (keepEvent !== undefined && s.events.length > 0) {
            const before = s.events.length;
            s.events = s.events.filter((e) => {
              v.attrs = e.attributes;
              v.name = e.name;
              return keepEvent(v);
            });
            events += before - s.events.length;
          }
          return true;
        });
      }
      rs.scopeSpans = rs.scopeSpans.filter((ss) => ss.spans.length > 0);
    }
    req.resourceSpans = req.resourceSpans.filter((rs) => rs.scopeSpans.length > 0);
    if (events > 0) this.droppedEventsC.inc(events);
    return { kept, dropped };
  }

  private logRecords(batch: Telemetry): { kept: number; dropped: number } | undefined {
    const keep = this.logs;
    if (keep === undefined) return undefined;
    const req = batch.request() as ExportLogsServiceRequest;
    let kept = 0, dropped = 0;
    const v: View = { attrs: NONE, scope: undefined, resource: undefined, name: '', kind: 0, status: 0, severity: 0, metricName: '' };
    for (const rl of req.resourceLogs) {
      v.resource = rl.resource?.attributes;
      for (const sl of rl.scopeLogs) {
        v.scope = sl.scope?.attributes;
        sl.logRecords = sl.logRecords.filter((l) => {
          v.attrs = l.attributes;
          v.name = l.eventName ?? '';
          v.severity = l.severityNumber;
          const k = keep(v);
          if (k) kept++;
          else dropped++;
          return k;
        });
      }
      rl.scopeLogs = rl.scopeLogs.filter((sl) => sl.logRecords.length > 0);
    }
    req.resourceLogs = req.resourceLogs.filter((rl) => rl.scopeLogs.length > 0);
    return { kept, dropped };
  }

  private metrics(batch: Telemetry): { kept: number; dropped: number } | undefined {
    const keep = this.points;
    if (keep === undefined) return undefined;
    const req = batch.request() as ExportMetricsServiceRequest;
    let kept = 0, dropped = 0;
    const v: View = { attrs: NONE, scope: undefined, resource: undefined, name: '', kind: 0, status: 0, severity: 0, metricName: '' };
    for (const rm of req.resourceMetrics) {
      v.resource = rm.resource?.attributes;
      for (const sm of rm.scopeMetrics) {
        v.scope = sm.scope?.attributes;
        sm.metrics = sm.metrics.filter((m) => {
          v.metricName = m.name;
          v.name = m.name;
          const data = dataOf(m);
          if (data === undefined) return true;
          data.dataPoints = (data.dataPoints as Array<{ attributes: KeyValue[] }>).filter((p) => {
            v.attrs = p.attributes;
            const k = keep(v);
            if (k) kept++;
            else dropped++;
            return k;
          }) as never;
          return data.dataPoints.length > 0;
        });
      }
      rm.scopeMetrics = rm.scopeMetrics.filter((sm) => sm.metrics.length > 0);
    }
    req.resourceMetrics = req.resourceMetrics.filter((rm) => rm.scopeMetrics.length > 0);
    return { kept, dropped };
  }
}

function dataOf(m: Metric): { dataPoints: unknown[] } | undefined {
  return m.gauge ?? m.sum ?? m.histogram ?? m.exponentialHistogram ?? m.summary;
}
