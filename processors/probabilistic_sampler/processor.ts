// The probabilistic_sampler processor: keeps a share of traces (by trace id, so every span of a
// trace gets the same decision at every fleetcol and collector with the same settings) and of log
// records (by trace id, else by an attribute). Modes as the collector's: hash_seed (its original
// FNV hash), proportional and equalizing (OTEP 235 consistent sampling, threshold in tracestate).
import type { CreateSettings, Processor } from '../../src/component.js';
import type { Consumer } from '../../src/consumer.js';
import type { Telemetry, KeyValue, LogRecord, Signal, Span, ExportLogsServiceRequest, ExportTraceServiceRequest } from '../../src/pdata/telemetry.js';
import type { BoundCounter } from '../../src/telemetry/metrics.js';
import { numAttr, str, attr } from '../../src/vocab/index.js';
import {
  atLeast, encodeThreshold, formatTraceState, hashSeedBound, hashSeedKeeps, hashedRandomness, parseHex56, parseTraceState,
  probabilityOf, thresholdOf, traceRandomness, u56, type U56,
} from './sampling.js';

export type SamplerMode = 'hash_seed' | 'proportional' | 'equalizing';

export interface ProbabilisticSamplerConfig {
  /** absent: hash_seed when hash_seed is set (or logs are sampled by record), else proportional, as the collector */
  mode?: SamplerMode;
  sampling_percentage: number;
  hash_seed: number;
  fail_closed: boolean;
  sampling_precision: number;
  attribute_source: 'traceID' | 'record';
  from_attribute: string;
  sampling_priority: string;
}

/** The span attribute whose value overrides the decision (0: drop, > 0: keep). */
export const SAMPLING_PRIORITY = 'sampling.priority';
/** Longest attribute value hashed for a log record's decision (longer values: their first bytes). */
const MAX_HASHED_BYTES = 4096;

interface Decision {
  keep: boolean;
  /** threshold to write (consistent modes) */
  threshold?: bigint;
}

export function resolveMode(cfg: ProbabilisticSamplerConfig, signal: Signal): SamplerMode {
  if (cfg.mode !== undefined) return cfg.mode;
  if (cfg.hash_seed !== 0 || (signal === 'logs' && cfg.attribute_source !== 'traceID')) return 'hash_seed';
  return 'proportional';
}

export class ProbabilisticSampler {
  readonly mode: SamplerMode;
  private readonly ratio: number;
  private readonly bound: number;
  /** equalizing: the configured threshold */
  private readonly threshold: bigint | undefined;
  private readonly thresholdU: U56 | undefined;
  /** nothing is kept (0 %) */
  private readonly never: boolean;

  constructor(private readonly cfg: ProbabilisticSamplerConfig, signal: Signal) {
    this.mode = resolveMode(cfg, signal);
    const pct = Math.min(cfg.sampling_percentage, 100);
    this.ratio = Math.max(pct / 100, 2 ** -56);
    this.bound = hashSeedBound(pct);
    this.never = pct <= 0 || (this.mode === 'hash_seed' && this.bound === 0);
    this.threshold = thresholdOf(this.ratio, cfg.sampling_precision);
    this.thresholdU = this.threshold === undefined ? undefined : u56(this.threshold);
  }

  /** A span's decision; a kept span's tracestate is updated in place (consistent modes). */
  span(s: Span): boolean {
    let d: Decision;
    let st: ReturnType<typeof parseTraceState>;
    if (this.mode === 'hash_seed') d = { keep: !this.never && hashSeedKeeps(this.cfg.hash_seed, this.bound, s.traceId) };
    else {
      st = parseTraceState(s.traceState);
      const state = st;
      d = state === undefined ? this.failed() : this.consistent(state.rv !== undefined ? rvOf(state.rv) : traceRandomness(s.traceId), state.th, () => {
        state.th = undefined;
        s.traceState = formatTraceState(state);
      });
    }
    const prio = priorityOf(s.attributes, SAMPLING_PRIORITY);
    if (prio !== undefined) d = prio > 0 ? { keep: true, threshold: 0n } : { keep: false };
    if (d.keep && d.threshold !== undefined && st !== undefined) {
      st.th = encodeThreshold(d.threshold);
      s.traceState = formatTraceState(st);
    }
    return d.keep;
  }

  record(l: LogRecord): boolean {
    let d: Decision;
    const byTrace = this.cfg.attribute_source === 'traceID' && l.traceId.length === 16 && traceRandomness(l.traceId) !== undefined;
    const bytes = byTrace ? undefined : this.attributeBytes(l.attributes);
    if (this.mode === 'hash_seed') {
      const data = byTrace ? l.traceId : bytes;
      d = data === undefined ? this.failed() : { keep: !this.never && hashSeedKeeps(this.cfg.hash_seed, this.bound, data) };
    } else {
      const r = byTrace ? traceRandomness(l.traceId) : bytes === undefined ? undefined : hashedRandomness(this.cfg.hash_seed, bytes);
      d = this.consistent(r, undefined, () => {});
    }
    const prio = priorityOf(l.attributes, this.cfg.sampling_priority || SAMPLING_PRIORITY);
    if (prio !== undefined) d = { keep: prio > 0 };
    return d.keep;
  }

  private failed(): Decision {
    return { keep: !this.cfg.fail_closed };
  }

  private consistent(r: U56 | undefined, th: string | undefined, clear: () => void): Decision {
    if (r === undefined) return this.failed();
    let incoming: bigint | undefined;
    if (th !== undefined) {
      incoming = parseHex56(th, true);
      if (incoming === undefined) return this.failed();
      if (!atLeast(r, u56(incoming))) {
        // The arriving threshold is a lie for this randomness: cleared, as the specification says.
        clear();
        return this.failed();
      }
    }
    if (this.never) return { keep: false };
    let t: bigint | undefined;
    if (this.mode === 'proportional') t = thresholdOf((incoming === undefined ? 1 : probabilityOf(incoming)) * this.ratio, this.cfg.sampling_precision);
    else {
      t = this.threshold;
      if (t !== undefined && incoming !== undefined && incoming > t) t = incoming; // cannot raise a probability
    }
    if (t === undefined) return { keep: false };
    const tu = t === this.threshold ? this.thresholdU! : u56(t);
    return atLeast(r, tu) ? { keep: true, threshold: t } : { keep: false };
  }

  private attributeBytes(kvs: readonly KeyValue[]): Uint8Array | undefined {
    const key = this.cfg.from_attribute;
    if (key === '') return undefined;
    const v = attr(kvs as KeyValue[], key);
    if (v === undefined) return undefined;
    if (v.bytesValue !== undefined) return v.bytesValue.subarray(0, MAX_HASHED_BYTES);
    const s = str(v);
    if (s === undefined) return undefined;
    return Buffer.from(s.length > MAX_HASHED_BYTES ? s.slice(0, MAX_HASHED_BYTES) : s, 'utf8');
  }
}

function rvOf(rv: string): U56 | undefined {
  const v = parseHex56(rv, false);
  return v === undefined ? undefined : u56(v);
}

function priorityOf(kvs: KeyValue[], key: string): number | undefined {
  const n = numAttr(kvs, key);
  return n === undefined || Number.isNaN(n) ? undefined : n;
}

export class ProbabilisticSamplerProcessor implements Processor {
  readonly mutatesData = true;
  private readonly sampler: ProbabilisticSampler;
  private readonly keptC: BoundCounter;
  private readonly droppedC: BoundCounter;

  constructor(set: CreateSettings, cfg: ProbabilisticSamplerConfig, private readonly signal: Signal, private readonly next: Consumer) {
    this.sampler = new ProbabilisticSampler(cfg, signal);
    const m = set.metrics;
    this.keptC = m.counter('processor_probabilistic_sampler_kept', 'Spans and log records the sampler kept.', { mode: this.sampler.mode });
    this.droppedC = m.counter('processor_probabilistic_sampler_dropped', 'Spans and log records the sampler dropped.', { mode: this.sampler.mode });
  }

  async start(): Promise<void> {}
  async shutdown(): Promise<void> {}

  async consume(batch: Telemetry): Promise<void> {
    if (this.signal === 'metrics') return this.next.consume(batch);
    let kept = 0, dropped = 0;
    if (this.signal === 'traces') {
      const req = batch.request() as ExportTraceServiceRequest;
      for (const rs of req.resourceSpans) {
        for (const ss of rs.scopeSpans) {
          const before = ss.spans.length;
          ss.spans = ss.spans.filter((s) => this.sampler.span(s));
          kept += ss.spans.length;
          dropped += before - ss.spans.length;
        }
        rs.scopeSpans = rs.scopeSpans.filter((ss) => ss.spans.length > 0);
      }
      req.resourceSpans = req.resourceSpans.filter((rs) => rs.scopeSpans.length > 0);
    } else {
      const req = batch.request() as ExportLogsServiceRequest;
      for (const rl of req.resourceLogs) {
        for (const sl of rl.scopeLogs) {
          const before = sl.logRecords.length;
          sl.logRecords = sl.logRecords.filter((l) => this.sampler.record(l));
          kept += sl.logRecords.length;
          dropped += before - sl.logRecords.length;
        }
        rl.scopeLogs = rl.scopeLogs.filter((sl) => sl.logRecords.length > 0);
      }
      req.resourceLogs = req.resourceLogs.filter((rl) => rl.scopeLogs.length > 0);
    }
    batch.markModified();
    if (kept > 0) this.keptC.inc(kept);
    if (dropped > 0) this.droppedC.inc(dropped);
    if (kept === 0) return;
    return this.next.consume(batch);
  }
}
