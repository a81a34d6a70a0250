// The sampler's decisions applied to a decoded request, as the processor worked before it read the
// encoded request in place: the reference its wire path is held to (test/pdata-edit.test.ts) and
// measured against (bench/sampler.ts). The pipeline does not use it.
import type { ExportLogsServiceRequest, ExportTraceServiceRequest } from '../../src/pdata/telemetry.js';
import { attr, numAttr } from '../../src/vocab/index.js';
import { priorityOf, SAMPLING_PRIORITY, type ProbabilisticSampler } from './processor.js';

/** Drops the spans the sampler does not keep, and the scopes and resources left empty; sets the
 *  kept spans' tracestates. Returns how many spans are left. */
export function sampleSpans(sampler: ProbabilisticSampler, req: ExportTraceServiceRequest): number {
  let kept = 0;
  for (const rs of req.resourceSpans) {
    for (const ss of rs.scopeSpans) {
      ss.spans = ss.spans.filter((s) => {
        if (!sampler.spanKeeps(s.traceId, 0, s.traceId.length, s.traceState, priorityOf(numAttr(s.attributes, SAMPLING_PRIORITY)))) return false;
        if (sampler.traceState !== undefined) s.traceState = sampler.traceState;
        return true;
      });
      kept += ss.spans.length;
    }
    rs.scopeSpans = rs.scopeSpans.filter((ss) => ss.spans.length > 0);
  }
  req.resourceSpans = req.resourceSpans.filter((rs) => rs.scopeSpans.length > 0);
  return kept;
}

/** sampleSpans for log records. */
export function sampleRecords(sampler: ProbabilisticSampler, req: ExportLogsServiceRequest): number {
  let kept = 0;
  for (const rl of req.resourceLogs) {
    for (const sl of rl.scopeLogs) {
      sl.logRecords = sl.logRecords.filter((l) => {
        const value = sampler.recordUsesAttribute(l.traceId) ? attr(l.attributes, sampler.fromAttribute) : undefined;
        return sampler.recordKeeps(l.traceId, value, priorityOf(numAttr(l.attributes, sampler.recordPriority)));
      });
      kept += sl.logRecords.length;
    }
    rl.scopeLogs = rl.scopeLogs.filter((sl) => sl.logRecords.length > 0);
  }
  req.resourceLogs = req.resourceLogs.filter((rl) => rl.scopeLogs.length > 0);
  return kept;
}
