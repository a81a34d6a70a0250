// The probabilistic_sampler processor: keeps a share of traces (by trace id, so every span of a
// trace gets the same decision at every fleetcol and collector with the same settings) and of log
// records (by trace id, else by an attribute). Modes as the collector's: hash_seed (its original
// FNV hash), proportional and equalizing (OTEP 235 consistent sampling, threshold in tracestate).
import type { CreateSettings, Processor } from '../../src/component.js';
import type { Consumer } from '../../src/consumer.js';
import { DROP, editItems, LOG_RECORD, SPAN, type ItemEdit, type WireItem } from '../../src/pdata/edit.js';
import { KeySet } from '../../src/pdata/read.js';
import { Telemetry, type AnyValue, type Signal } from '../../src/pdata/telemetry.js';
import type { BoundCounter } from '../../src/telemetry/metrics.js';
import { str } from '../../src/vocab/index.js';
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

interface Verdict {
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
  /** After spanKeeps: the tracestate a kept span is written with, undefined when it keeps its own. */
  traceState: string | undefined;
  private readonly ratio: number;
  private readonly bound: number;
  /** equalizing: the configured threshold */
  private readonly threshold: bigint | undefined;
  private readonly thresholdU: U56 | undefined;
  /** the configured threshold as `th` writes it */
  private readonly thresholdHex: string | undefined;
  /** nothing is kept (0 %) */
  private readonly never: boolean;
  /** logs: the attribute whose number overrides the decision */
  readonly recordPriority: string;
  /** logs: the attribute hashed when the trace id does not decide ('' none) */
  readonly fromAttribute: string;

  constructor(private readonly cfg: ProbabilisticSamplerConfig, signal: Signal) {
    this.mode = resolveMode(cfg, signal);
    const pct = Math.min(cfg.sampling_percentage, 100);
    this.ratio = Math.max(pct / 100, 2 ** -56);
    this.bound = hashSeedBound(pct);
    this.never = pct <= 0 || (this.mode === 'hash_seed' && this.bound === 0);
    this.threshold = thresholdOf(this.ratio, cfg.sampling_precision);
    this.thresholdU = this.threshold === undefined ? undefined : u56(this.threshold);
    this.thresholdHex = this.threshold === undefined ? undefined : encodeThreshold(this.threshold);
    this.recordPriority = cfg.sampling_priority || SAMPLING_PRIORITY;
    this.fromAttribute = cfg.from_attribute;
  }

  /** A span's decision from its trace id (bytes `from` to `to` of `buf`), its tracestate and its
   *  sampling.priority (a number, or undefined when it has none). A kept span's new tracestate is
   *  left in `traceState` (consistent modes), undefined when it is to stay as it is. */
  spanKeeps(buf: Uint8Array, from: number, to: number, traceState: string, priority: number | undefined): boolean {
    this.traceState = undefined;
    if (this.mode === 'hash_seed') {
      if (priority !== undefined) return priority > 0;
      return !this.never && hashSeedKeeps(this.cfg.hash_seed, this.bound, buf, from, to);
    }
    const st = parseTraceState(traceState);
    let d: Verdict;
    if (st === undefined) d = this.failed();
    else {
      d = this.consistent(st.rv !== undefined ? rvOf(st.rv) : traceRandomness(buf, from, to), st.th, () => {
        st.th = undefined;
        this.traceState = formatTraceState(st);
      });
    }
    if (priority !== undefined) d = priority > 0 ? { keep: true, threshold: 0n } : { keep: false };
    if (d.keep && d.threshold !== undefined && st !== undefined) {
      st.th = d.threshold === this.threshold ? this.thresholdHex : encodeThreshold(d.threshold);
      this.traceState = formatTraceState(st);
    }
    if (this.traceState === traceState) this.traceState = undefined;
    return d.keep;
  }

  /** Whether a log record's decision reads from_attribute (it has no trace id, or attribute_source
   *  is record). */
  recordUsesAttribute(traceId: Uint8Array): boolean {
    return !this.byTrace(traceId) && this.fromAttribute !== '';
  }

  /** A log record's decision from its trace id, the value of from_attribute (when
   *  recordUsesAttribute) and its priority attribute's number. */
  recordKeeps(traceId: Uint8Array, attribute: AnyValue | undefined, priority: number | undefined): boolean {
    let d: Verdict;
    const byTrace = this.byTrace(traceId);
    const bytes = byTrace ? undefined : hashInput(attribute);
    if (this.mode === 'hash_seed') {
      const data = byTrace ? traceId : bytes;
      d = data === undefined ? this.failed() : { keep: !this.never && hashSeedKeeps(this.cfg.hash_seed, this.bound, data) };
    } else {
      const r = byTrace ? traceRandomness(traceId) : bytes === undefined ? undefined : hashedRandomness(this.cfg.hash_seed, bytes);
      d = this.consistent(r, undefined, () => {});
    }
    if (priority !== undefined) d = { keep: priority > 0 };
    return d.keep;
  }

  private byTrace(traceId: Uint8Array): boolean {
    return this.cfg.attribute_source === 'traceID' && traceId.length === 16 && traceRandomness(traceId) !== undefined;
  }

  private failed(): Verdict {
    return { keep: !this.cfg.fail_closed };
  }

  private consistent(r: U56 | undefined, th: string | undefined, clear: () => void): Verdict {
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
    // proportional: the configured probability times the one the item arrived with, if any
    if (this.mode === 'proportional') t = incoming === undefined ? this.threshold : thresholdOf(probabilityOf(incoming) * this.ratio, this.cfg.sampling_precision);
    else {
      t = this.threshold;
      if (t !== undefined && incoming !== undefined && incoming > t) t = incoming; // cannot raise a probability
    }
    if (t === undefined) return { keep: false };
    const tu = t === this.threshold ? this.thresholdU! : u56(t);
    return atLeast(r, tu) ? { keep: true, threshold: t } : { keep: false };
  }
}

/** The bytes of a from_attribute value that are hashed: bytes as they are, a scalar as its text,
 *  the first MAX_HASHED_BYTES of either. */
function hashInput(v: AnyValue | undefined): Uint8Array | undefined {
  if (v === undefined) return undefined;
  if (v.bytesValue !== undefined) return v.bytesValue.subarray(0, MAX_HASHED_BYTES);
  const s = str(v);
  if (s === undefined) return undefined;
  return Buffer.from(s.length > MAX_HASHED_BYTES ? s.slice(0, MAX_HASHED_BYTES) : s, 'utf8');
}

function rvOf(rv: string): U56 | undefined {
  const v = parseHex56(rv, false);
  return v === undefined ? undefined : u56(v);
}

/** A priority as the decision reads it: NaN is none. */
export function priorityOf(n: number | undefined): number | undefined {
  return n === undefined || Number.isNaN(n) ? undefined : n;
}

export class ProbabilisticSamplerProcessor implements Processor {
  readonly mutatesData = true;
  private readonly sampler: ProbabilisticSampler;
  private readonly keptC: BoundCounter;
  private readonly droppedC: BoundCounter;
  /** counts of the request being visited */
  private kept = 0;
  private dropped = 0;
  /** the attributes read, matched while each item is read: spans [priority]; log records
   *  [priority, from_attribute] */
  private readonly keys: KeySet;

  constructor(set: CreateSettings, cfg: ProbabilisticSamplerConfig, private readonly signal: Signal, private readonly next: Consumer) {
    this.sampler = new ProbabilisticSampler(cfg, signal);
    this.keys = new KeySet(signal === 'logs' ? [this.sampler.recordPriority, this.sampler.fromAttribute] : [SAMPLING_PRIORITY]);
    const m = set.metrics;
    this.keptC = m.counter('processor_probabilistic_sampler_kept', 'Spans and log records the sampler kept.', { mode: this.sampler.mode });
    this.droppedC = m.counter('processor_probabilistic_sampler_dropped', 'Spans and log records the sampler dropped.', { mode: this.sampler.mode });
  }

  async start(): Promise<void> {}
  async shutdown(): Promise<void> {}

  /** Works on the encoded request (src/pdata/edit.ts): each item's trace id, tracestate and
   *  priority are read in place, dropped items left out, tracestates rewritten; a request that
   *  keeps every item as it is goes on as the same bytes. */
  async consume(batch: Telemetry): Promise<void> {
    if (this.signal === 'metrics') return this.next.consume(batch);
    this.kept = 0;
    this.dropped = 0;
    const res = batch.withProto((b) => (this.signal === 'traces' ? editItems('traces', b, this.visitSpan, undefined, this.keys) : editItems('logs', b, this.visitRecord, undefined, this.keys)));
    if (this.kept > 0) this.keptC.inc(this.kept);
    if (this.dropped > 0) this.droppedC.inc(this.dropped);
    if (res.count === 0) return;
    return this.next.consume(res.bytes === undefined ? batch : Telemetry.fromValidated(this.signal, res.bytes, res.count));
  }

  private readonly visitSpan = (item: WireItem): ItemEdit | typeof DROP | undefined => {
    const s = this.sampler;
    const p = item.watched(0);
    const traceState = s.mode === 'hash_seed' ? '' : item.string(SPAN.traceState);
    const id = SPAN.traceId;
    if (!s.spanKeeps(item.r.buf, item.from(id), item.to(id), traceState, p < 0 ? undefined : priorityOf(item.numberValue(p)))) {
      this.dropped++;
      return DROP;
    }
    this.kept++;
    return s.traceState === undefined ? undefined : { traceState: s.traceState };
  };

  private readonly visitRecord = (item: WireItem): typeof DROP | undefined => {
    const s = this.sampler;
    const traceId = item.bytes(LOG_RECORD.traceId);
    let attribute: AnyValue | undefined;
    if (s.recordUsesAttribute(traceId)) {
      const i = item.watched(1);
      if (i >= 0) attribute = item.value(i);
    }
    const p = item.watched(0);
    if (!s.recordKeeps(traceId, attribute, p < 0 ? undefined : priorityOf(item.numberValue(p)))) {
      this.dropped++;
      return DROP;
    }
    this.kept++;
    return undefined;
  };
}
