// The tail_sampling processor: spans wait, as encoded bytes, grouped by trace, until the trace is
// decided (decision_wait after its first span, or decision_wait_after_root_received after its root
// invoke_agent span); kept traces go on whole. Decisions are remembered (sampled / non-sampled
// caches) so spans arriving later follow them. Bounded by num_traces and max_bytes. Kept traces wait
// in an outbox until the next stage takes them: a refusal is retried, not lost, and while the outbox
// is over half of max_bytes new data is refused (retryable) so the back-pressure reaches senders.
import type { CreateSettings, Processor } from '../../src/component.js';
import { RetryableError, type Consumer } from '../../src/consumer.js';
import { editItems, releaseView, requestOf, type EditResult, type HeldItem, type NewAttr, type WireItem } from '../../src/pdata/edit.js';
import { Telemetry, type Signal } from '../../src/pdata/telemetry.js';
import type { BoundCounter } from '../../src/telemetry/metrics.js';
import { memoryAccounting } from '../../src/memory.js';
import { newFacts, observe, type Needs, type TraceFacts } from './facts.js';
import { compilePolicy, type Policy, type PolicyConfig } from './policies.js';

export interface TailSamplingConfig {
  decision_wait: number;
  decision_wait_after_root_received: number;
  num_traces: number;
  max_bytes: number;
  expected_new_traces_per_sec: number;
  sample_on_first_match: boolean;
  decision_cache: { sampled_cache_size: number; non_sampled_cache_size: number };
  on_evict: 'sample' | 'drop';
  policy_attribute: boolean;
  policies: PolicyConfig[];
}

/** How long shutdown waits for the next stage to take the kept spans. */
const SHUTDOWN_DRAIN_MS = 5000;

/** The attribute naming the policy that kept a span (policy_attribute: true). */
export const POLICY_ATTRIBUTE = 'tail_sampling.policy';

/** Most bytes of kept spans sent on in one request (receivers' default limit is 4 MiB). */
const MAX_SEND_BYTES = 2 * 1024 * 1024;

type Outgoing = HeldItem & { add?: readonly NewAttr[] };

interface Pending {
  id: Uint8Array;
  facts: TraceFacts;
  items: HeldItem[];
  first: number;
  root: number;
}

/** A set that forgets its oldest entries past `size`. */
class Lru {
  private readonly m = new Map<string, string>();
  constructor(private readonly size: number) {}
  get(k: string): string | undefined {
    return this.m.get(k);
  }
  set(k: string, v: string): void {
    if (this.size <= 0) return;
    this.m.delete(k);
    this.m.set(k, v);
    if (this.m.size > this.size) this.m.delete(this.m.keys().next().value!);
  }
}

export class TailSamplingProcessor implements Processor {
  readonly mutatesData = true;
  private readonly policies: Policy[];
  private readonly needs: Needs = { strings: new Set(), numbers: new Set(), bools: new Set(), traceState: false };
  private readonly pending = new Map<string, Pending>();
  private readonly sampled: Lru;
  private readonly notSampled: Lru;
  private heldBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  /** kept spans the next stage has not taken yet, oldest first */
  private outbox: Outgoing[] = [];
  private outboxBytes = 0;
  private sending: Promise<void> | undefined;
  /** no send before this (Date.now()): the next stage asked to wait */
  private retryAt = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly unregister: () => void;
  private readonly c: Record<'kept' | 'dropped' | 'late_kept' | 'late_dropped' | 'evicted' | 'send_failed' | 'send_retried' | 'refused', BoundCounter>;
  private readonly byPolicy = new Map<string, BoundCounter>();

  constructor(private readonly set: CreateSettings, private readonly cfg: TailSamplingConfig, _signal: Signal, private readonly next: Consumer) {
    this.policies = cfg.policies.map((p) => compilePolicy(p, this.needs));
    // The collector sizes its maps from this; fleetcol's grow as needed, so it serves as a check.
    const inFlight = Math.ceil((cfg.expected_new_traces_per_sec * cfg.decision_wait) / 1000);
    if (inFlight > cfg.num_traces) {
      set.logger.warn({ expected_new_traces_per_sec: cfg.expected_new_traces_per_sec, num_traces: cfg.num_traces, traces_in_flight: inFlight }, 'num_traces is below expected_new_traces_per_sec × decision_wait: traces will be evicted before their decision');
    }
    this.sampled = new Lru(cfg.decision_cache.sampled_cache_size);
    this.notSampled = new Lru(cfg.decision_cache.non_sampled_cache_size);
    const m = set.metrics;
    const counter = (n: string, help: string) => m.counter(`processor_tail_sampling_${n}`, help);
    this.c = {
      kept: counter('traces_sampled', 'Traces decided and kept.'),
      dropped: counter('traces_not_sampled', 'Traces decided and dropped.'),
      late_kept: counter('late_spans_sampled', 'Spans that arrived after their trace was kept (sent on, by the decision cache).'),
      late_dropped: counter('late_spans_dropped', 'Spans that arrived after their trace was dropped.'),
      evicted: counter('traces_evicted', 'Traces pushed out by num_traces or max_bytes before their decision (handled per on_evict).'),
      send_failed: counter('send_failed_spans', 'Spans of kept traces the next stage refused for good (lost).'),
      send_retried: counter('send_retried_spans', 'Spans of kept traces the next stage refused for now (sent again later).'),
      refused: counter('refused_spans', 'Spans refused (retryable) while the outbox of kept traces was over half of max_bytes.'),
    };
    for (const p of this.policies) this.byPolicy.set(p.name, m.counter('processor_tail_sampling_policy_sampled', 'Traces kept, by the policy that kept them (first match).', { policy: p.name }));
    m.gauge('processor_tail_sampling_traces_pending', 'Traces waiting for their decision.', () => this.pending.size);
    m.gauge('processor_tail_sampling_bytes_pending', 'Bytes of the spans waiting.', () => this.heldBytes);
    m.gauge('processor_tail_sampling_bytes_outbox', 'Bytes of kept spans waiting for the next stage to take them.', () => this.outboxBytes);
    this.unregister = memoryAccounting.register('processor', set.id, () => this.heldBytes + this.outboxBytes);
  }

  async start(): Promise<void> {
    const shortest = Math.min(this.cfg.decision_wait, this.cfg.decision_wait_after_root_received || Infinity);
    this.timer = setInterval(() => this.tick(Date.now()), Math.max(20, Math.min(1000, shortest / 4)));
    this.timer.unref();
  }

  async shutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    // What waits is decided now rather than lost, and the outbox is given a few seconds to drain.
    for (const [k, p] of [...this.pending]) this.decide(k, p, Date.now());
    const until = Date.now() + SHUTDOWN_DRAIN_MS;
    while (this.outbox.length > 0 && Date.now() < until) {
      this.retryAt = Math.min(this.retryAt, Date.now() + 200);
      this.flush();
      await (this.sending ?? new Promise((r) => setTimeout(r, Math.max(10, this.retryAt - Date.now()))));
    }
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.outbox.length > 0) {
      this.c.send_failed.inc(this.outbox.length);
      this.set.logger.warn({ spans: this.outbox.length }, 'shutdown: the next stage did not take these kept spans: they are lost');
    }
    this.unregister();
    this.set.metrics.dispose();
  }

  async consume(batch: Telemetry): Promise<void> {
    if (this.outboxBytes > this.cfg.max_bytes / 2) {
      this.c.refused.inc(batch.itemCount);
      throw new RetryableError('tail_sampling: the next stage is not taking kept traces; retry later', { retryAfterMs: Math.max(1000, this.retryAt - Date.now()) });
    }
    const now = Date.now();
    let late = 0, lateDropped = 0;
    // Read in place (Telemetry.withProto): the held views are read before it returns.
    const res = batch.withProto((bytes) => this.hold(editItems('traces', bytes, (item: WireItem) => {
      const k = item.key(1);
      const d = this.sampled.get(k) ?? this.notSampled.get(k);
      if (d !== undefined) {
        if (d !== '') { late++; return this.cfg.policy_attribute ? { add: [{ key: POLICY_ATTRIBUTE, value: { stringValue: d } }] } : undefined; }
        lateDropped++;
        return { hold: true, tag: undefined };
      }
      return { hold: true, tag: item };
    }), now));
    if (late > 0) this.c.late_kept.inc(late);
    if (lateDropped > 0) this.c.late_dropped.inc(lateDropped);
    if (res.count === 0) return;
    // Spans of traces already kept go on now, with their caller waiting.
    return this.next.consume(res.bytes === undefined ? batch : Telemetry.fromValidated('traces', res.bytes, res.count));
  }

  /** Files the spans editItems held under their traces (their views still valid). */
  private hold(res: EditResult, now: number): EditResult {
    for (const h of res.held) {
      const item = h.tag as WireItem | undefined;
      if (item === undefined) continue; // a late span of a dropped trace
      const k = item.key(1);
      let p = this.pending.get(k);
      if (p === undefined) {
        this.makeRoom(now);
        p = { id: item.bytes(1).slice(), facts: newFacts(), items: [], first: now, root: 0 };
        this.pending.set(k, p);
      }
      if (observe(p.facts, item, h.bytes.length, this.needs) && p.root === 0) p.root = now;
      h.tag = undefined;
      releaseView(item);
      p.items.push(h);
      this.heldBytes += h.bytes.length;
    }
    while (this.heldBytes > this.cfg.max_bytes && this.pending.size > 0) this.evictOldest(now);
    return res;
  }

  /** Decides the traces whose wait is over. */
  tick(now: number): void {
    const wait = this.cfg.decision_wait;
    const afterRoot = this.cfg.decision_wait_after_root_received;
    for (const [k, p] of this.pending) {
      if (now - p.first >= wait || (afterRoot > 0 && p.root > 0 && now - p.root >= afterRoot)) this.decide(k, p, now);
    }
  }

  private makeRoom(now: number): void {
    while (this.pending.size >= this.cfg.num_traces) this.evictOldest(now);
  }

  private evictOldest(now: number): void {
    const [k, p] = this.pending.entries().next().value!;
    this.c.evicted.inc();
    if (this.cfg.on_evict === 'sample') this.keep(k, p, 'on_evict');
    else this.drop(k, p);
    void now;
  }

  private decide(k: string, p: Pending, now: number): void {
    let keptBy: string | undefined;
    for (const pol of this.policies) {
      const v = pol.evaluate(p.facts, p.id, now);
      if (v === 'drop') {
        keptBy = undefined;
        break;
      }
      if (v === true && keptBy === undefined) {
        keptBy = pol.name;
        if (this.cfg.sample_on_first_match) break;
      }
    }
    if (keptBy !== undefined) {
      this.byPolicy.get(keptBy)?.inc();
      this.c.kept.inc();
      this.keep(k, p, keptBy);
    } else {
      this.c.dropped.inc();
      this.drop(k, p);
    }
  }

  private forget(k: string, p: Pending): void {
    this.pending.delete(k);
    for (const h of p.items) this.heldBytes -= h.bytes.length;
  }

  private drop(k: string, p: Pending): void {
    this.forget(k, p);
    this.notSampled.set(k, '');
  }

  private keep(k: string, p: Pending, policy: string): void {
    this.forget(k, p);
    this.sampled.set(k, policy);
    const add: NewAttr[] | undefined = this.cfg.policy_attribute ? [{ key: POLICY_ATTRIBUTE, value: { stringValue: policy } }] : undefined;
    for (const h of p.items) {
      this.outbox.push(add ? { ...h, add } : h);
      this.outboxBytes += h.bytes.length;
    }
    this.flush();
  }

  /** Sends the oldest kept spans (one request of at most MAX_SEND_BYTES) unless a send is in flight
   *  or the next stage asked to wait; on success the rest follow. */
  private flush(): void {
    if (this.sending !== undefined || this.outbox.length === 0) return;
    const wait = this.retryAt - Date.now();
    if (wait > 0) {
      this.retryTimer ??= setTimeout(() => ((this.retryTimer = undefined), this.flush()), wait);
      return;
    }
    let n = 0, bytes = 0;
    while (n < this.outbox.length && (n === 0 || bytes + this.outbox[n]!.bytes.length <= MAX_SEND_BYTES)) bytes += this.outbox[n++]!.bytes.length;
    const batch = Telemetry.fromValidated('traces', requestOf('traces', this.outbox.slice(0, n)), n);
    const taken = () => {
      this.outbox.splice(0, n);
      this.outboxBytes -= bytes;
    };
    this.sending = this.next.consume(batch).then(taken, (err: unknown) => {
      if (err instanceof RetryableError) {
        this.c.send_retried.inc(n);
        this.retryAt = Date.now() + Math.max(50, err.retryAfterMs ?? 1000);
      } else {
        taken();
        this.c.send_failed.inc(n);
        this.set.logger.warn({ err, spans: n }, 'the next stage refused kept spans for good: they are lost');
      }
    }).finally(() => {
      this.sending = undefined;
      this.flush();
    });
  }
}
