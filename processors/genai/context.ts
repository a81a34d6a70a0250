// Agent context: which agent each span ran under. A span names its parent; an invoke_agent span
// names its agent; a span's agent is the nearest ancestor's. Children end, and are exported, before
// their parents (often in earlier requests), so a GenAI span whose chain of ancestors is not yet
// known is held here until it is, or until `wait` passes. Bounded by traces and by held bytes;
// past a bound the oldest held spans go on without an agent (counted).
import type { Container, NewAttr } from '../../src/pdata/edit.js';

export interface AgentRef {
  id: string | undefined;
  name: string | undefined;
  /** the attributes that name it on a span, made on first use and shared (processor.ts) */
  attrs?: readonly NewAttr[];
}


export interface Held {
  trace: string;
  parent: string;
  /** the span, edited, without agent attributes yet */
  bytes: Uint8Array;
  container: Container;
  /** when it may wait no longer (ms) */
  until: number;
}

interface TraceState {
  /** span id → parent span id ('' for a root); ids as binary strings. Parent links only, no
   *  object per span: at full load these live for `wait` and every object is old-space work. */
  parents: Map<string, string>;
  /** the spans that name an agent */
  agents: Map<string, AgentRef> | undefined;
  held: Held[];
  /** last time a span of this trace was seen (ms) */
  seen: number;
  /** its root has been seen: the trace is forgotten sooner (see FINISHED_GRACE_MS) */
  done: boolean;
}

/** How long a trace whose root has arrived is remembered (for spans that end after their root, or
 *  come from another service later): most traces end here, and state that lives for `wait` at
 *  full load is old-space garbage, the processor's largest cost in a profile. */
const FINISHED_GRACE_MS = 1000;

export type Resolution = AgentRef | 'none' | 'unknown';

/** Spans remembered per trace at most (a runaway trace cannot grow one entry without bound). */
const MAX_SPANS_PER_TRACE = 10_000;
/** Ancestors walked at most (a cycle of forged parent ids stops here). */
const MAX_DEPTH = 64;

export interface ContextLimits {
  waitMs: number;
  maxTraces: number;
  maxBytes: number;
}

export class AgentContext {
  private readonly traces = new Map<string, TraceState>();
  heldBytes = 0;
  heldSpans = 0;
  /** released for each reason, since start */
  readonly released = { attributed: 0, root_without_agent: 0, wait: 0, max_traces: 0, max_bytes: 0, shutdown: 0 };

  constructor(private readonly limits: ContextLimits) {}

  get traceCount(): number {
    return this.traces.size;
  }

  /** Walks up from `parent`: the nearest ancestor's agent, 'none' at a root without one, 'unknown'
   *  when an ancestor has not been seen yet. */
  resolve(trace: string, parent: string): Resolution {
    if (parent === '') return 'none';
    const t = this.traces.get(trace);
    if (t === undefined) return 'unknown';
    let p = parent;
    for (let i = 0; i < MAX_DEPTH; i++) {
      const a = t.agents?.get(p);
      if (a !== undefined) return a;
      const up = t.parents.get(p);
      if (up === undefined) return 'unknown';
      if (up === '') return 'none';
      p = up;
    }
    return 'none';
  }

  /** Records a span; the held spans of its trace that can now go on are pushed to `out` with
   *  their agent. `evicted` collects what the trace bound pushed out. */
  observe(trace: string, span: string, parent: string, agent: AgentRef | undefined, now: number, evicted: Held[], out: Array<{ held: Held; agent: AgentRef | undefined }>): void {
    const t = this.state(trace, now, evicted);
    if (t.parents.size < MAX_SPANS_PER_TRACE || t.parents.has(span)) {
      t.parents.set(span, parent);
      if (agent !== undefined) (t.agents ??= new Map()).set(span, agent);
      if (parent === '') t.done = true;
    }
    if (t.held.length === 0) return;
    let w = 0;
    for (const h of t.held) {
      const r = this.resolve(trace, h.parent);
      if (r === 'unknown') t.held[w++] = h;
      else {
        const a = r === 'none' ? undefined : r;
        this.forget(h, a === undefined ? 'root_without_agent' : 'attributed');
        out.push({ held: h, agent: a });
      }
    }
    t.held.length = w;
  }

  /** Holds a span until its ancestors are known; `evicted` collects what the bounds pushed out. */
  hold(h: Held, now: number, evicted: Held[]): void {
    const t = this.state(h.trace, now, evicted);
    t.held.push(h);
    this.heldBytes += h.bytes.length;
    this.heldSpans++;
    while (this.heldBytes > this.limits.maxBytes && this.heldSpans > 0) {
      const oldest = this.oldestHeld();
      if (oldest === undefined) break;
      const [ts, i] = oldest;
      const [gone] = ts.held.splice(i, 1);
      this.forget(gone!, 'max_bytes');
      evicted.push(gone!);
    }
  }

  /** Spans whose wait is over, and traces idle for longer than wait. */
  sweep(now: number): Held[] {
    const out: Held[] = [];
    for (const [id, t] of this.traces) {
      if (t.held.length > 0) {
        let w = 0;
        for (const h of t.held) {
          if (h.until <= now) {
            this.forget(h, 'wait');
            out.push(h);
          } else t.held[w++] = h;
        }
        t.held.length = w;
      }
      if (t.held.length === 0 && now - t.seen > (t.done ? Math.min(FINISHED_GRACE_MS, this.limits.waitMs) : this.limits.waitMs)) this.traces.delete(id);
    }
    return out;
  }

  /** Everything held, for shutdown. */
  drain(): Held[] {
    const out: Held[] = [];
    for (const t of this.traces.values()) {
      for (const h of t.held) {
        this.forget(h, 'shutdown');
        out.push(h);
      }
      t.held.length = 0;
    }
    this.traces.clear();
    return out;
  }

  private state(trace: string, now: number, evicted: Held[]): TraceState {
    let t = this.traces.get(trace);
    if (t === undefined) {
      // Maps iterate in insertion order: the first trace is the one seen longest ago (re-inserted
      // below on every sighting), the one to give up.
      while (this.traces.size >= this.limits.maxTraces) {
        const [oldId, old] = this.traces.entries().next().value!;
        for (const h of old.held) {
          this.forget(h, 'max_traces');
          evicted.push(h);
        }
        this.traces.delete(oldId);
      }
      t = { parents: new Map(), agents: undefined, held: [], seen: now, done: false };
      this.traces.set(trace, t);
    } else if (t.seen !== now) {
      t.seen = now;
      this.traces.delete(trace);
      this.traces.set(trace, t);
    }
    return t;
  }

  private oldestHeld(): [TraceState, number] | undefined {
    let best: [TraceState, number] | undefined;
    let until = Infinity;
    for (const t of this.traces.values()) {
      for (let i = 0; i < t.held.length; i++) {
        if (t.held[i]!.until < until) {
          until = t.held[i]!.until;
          best = [t, i];
        }
      }
      if (best !== undefined && t.held.length > 0) break; // traces are in order of last sighting: good enough
    }
    return best;
  }

  private forget(h: Held, why: keyof AgentContext['released']): void {
    this.heldBytes -= h.bytes.length;
    this.heldSpans--;
    this.released[why]++;
  }
}
