// Filtering a decoded request: metric points (the processor's path for metrics), and spans, span
// events and log records as the processor filtered them before it read the encoded request in
// place, kept as the reference its wire path is held to (test/pdata-edit.test.ts) and measured
// against (bench/sampler.ts). Containers left empty are removed.
import type { ExportLogsServiceRequest, ExportMetricsServiceRequest, ExportTraceServiceRequest, KeyValue, Metric } from '../../src/pdata/telemetry.js';
import type { Predicate } from './conditions.js';
import { DecodedView } from './views.js';

export interface Counts {
  kept: number;
  dropped: number;
  /** span events dropped */
  events: number;
}

export function filterSpans(keepSpan: Predicate | undefined, keepEvent: Predicate | undefined, req: ExportTraceServiceRequest): Counts {
  const c: Counts = { kept: 0, dropped: 0, events: 0 };
  const v = new DecodedView();
  for (const rs of req.resourceSpans) {
    v.resource = rs.resource?.attributes;
    for (const ss of rs.scopeSpans) {
      v.scope = ss.scope?.attributes;
      ss.spans = ss.spans.filter((s) => {
        v.attrs = s.attributes;
        v.itemName = s.name;
        v.itemKind = s.kind;
        v.itemStatus = s.status?.code ?? 0;
        if (keepSpan !== undefined && !keepSpan(v)) {
          c.dropped++;
          return false;
        }
        c.kept++;
        if (keepEvent !== undefined && s.events.length > 0) {
          const before = s.events.length;
          s.events = s.events.filter((e) => {
            v.attrs = e.attributes;
            v.itemName = e.name;
            return keepEvent(v);
          });
          c.events += before - s.events.length;
        }
        return true;
      });
    }
    rs.scopeSpans = rs.scopeSpans.filter((ss) => ss.spans.length > 0);
  }
  req.resourceSpans = req.resourceSpans.filter((rs) => rs.scopeSpans.length > 0);
  return c;
}

export function filterRecords(keep: Predicate, req: ExportLogsServiceRequest): Counts {
  const c: Counts = { kept: 0, dropped: 0, events: 0 };
  const v = new DecodedView();
  for (const rl of req.resourceLogs) {
    v.resource = rl.resource?.attributes;
    for (const sl of rl.scopeLogs) {
      v.scope = sl.scope?.attributes;
      sl.logRecords = sl.logRecords.filter((l) => {
        v.attrs = l.attributes;
        v.itemName = l.eventName ?? '';
        v.itemSeverity = l.severityNumber;
        const k = keep(v);
        if (k) c.kept++;
        else c.dropped++;
        return k;
      });
    }
    rl.scopeLogs = rl.scopeLogs.filter((sl) => sl.logRecords.length > 0);
  }
  req.resourceLogs = req.resourceLogs.filter((rl) => rl.scopeLogs.length > 0);
  return c;
}

export function filterPoints(keep: Predicate, req: ExportMetricsServiceRequest): Counts {
  const c: Counts = { kept: 0, dropped: 0, events: 0 };
  const v = new DecodedView();
  for (const rm of req.resourceMetrics) {
    v.resource = rm.resource?.attributes;
    for (const sm of rm.scopeMetrics) {
      v.scope = sm.scope?.attributes;
      sm.metrics = sm.metrics.filter((m) => {
        v.metric = m.name;
        v.itemName = m.name;
        const data = dataOf(m);
        if (data === undefined) return true;
        data.dataPoints = (data.dataPoints as Array<{ attributes: KeyValue[] }>).filter((p) => {
          v.attrs = p.attributes;
          const k = keep(v);
          if (k) c.kept++;
          else c.dropped++;
          return k;
        }) as never;
        return data.dataPoints.length > 0;
      });
    }
    rm.scopeMetrics = rm.scopeMetrics.filter((sm) => sm.metrics.length > 0);
  }
  req.resourceMetrics = req.resourceMetrics.filter((rm) => rm.scopeMetrics.length > 0);
  return c;
}

function dataOf(m: Metric): { dataPoints: unknown[] } | undefined {
  return m.gauge ?? m.sum ?? m.histogram ?? m.exponentialHistogram ?? m.summary;
}
