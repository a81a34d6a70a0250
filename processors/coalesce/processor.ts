// The coalesce processor: high-rate agent updates (progress, status, heartbeats) reduced to the
// latest per key and interval, while what matters (warnings and errors, terminal task states,
// agent_offline) goes through at once and in order. Logs always; spans only when `spans: true`.
import type { CreateSettings, Processor } from '../../src/component.js';
import type { Consumer } from '../../src/consumer.js';
import {
  Telemetry,
  type ExportLogsServiceRequest,
  type ExportTraceServiceRequest,
  type KeyValue,
  type LogRecord,
  type ResourceLogs,
  type ResourceSpans,
  type ScopeLogs,
  type ScopeSpans,
  type Signal,
  type Span,
} from '../../src/pdata/telemetry.js';
import type { BoundCounter } from '../../src/telemetry/metrics.js';
import { A2A, pick, strAttr, taskState } from '../../src/vocab/index.js';
import { Coalescer, type Mode } from './coalescer.js';

export interface CoalesceConfig {
  mode: Mode;
  /** ms */
  window: number;
  keys: string[];
  max_keys: number;
  spans: boolean;
  passthrough: {
    min_severity: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'none';
    task_states: string[];
    event_names: string[];
  };
}

const SEVERITY_FLOOR: Record<CoalesceConfig['passthrough']['min_severity'], number> = {
  trace: 1, debug: 5, info: 9, warn: 13, error: 17, fatal: 21, none: Infinity,
};
const STATUS_ERROR = 2;

interface Item<R, S, I> {
  r: R;
  s: S;
  item: I;
}
type LogItem = Item<ResourceLogs, ScopeLogs, LogRecord>;
type SpanItem = Item<ResourceSpans, ScopeSpans, Span>;

export class CoalesceProcessor implements Processor {
  readonly mutatesData = false;
  private readonly logs: Coalescer<LogItem>;
  private readonly spans: Coalescer<SpanItem>;
  private readonly floor: number;
  private readonly states: Set<string>;
  private readonly names: Set<string>;
  private readonly passed: BoundCounter;
  private readonly emitted: BoundCounter;
  private readonly coalescedC: BoundCounter;
  private readonly overflowC: BoundCounter;
  private readonly failed: BoundCounter;
  private last = { coalesced: 0, overflow: 0 };
  /** Sends in order: a passthrough batch never overtakes an earlier one. */
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly set: CreateSettings,
    private readonly cfg: CoalesceConfig,
    private readonly signal: Signal,
    private readonly next: Consumer,
  ) {
    this.floor = SEVERITY_FLOOR[cfg.passthrough.min_severity];
    // Either protocol version's spelling in config or on records (TASK_STATE_CANCELED, canceled, cancelled).
    this.states = new Set(cfg.passthrough.task_states.map((s) => taskState(s) ?? s.toLowerCase()));
    this.names = new Set(cfg.passthrough.event_names);
    this.logs = new Coalescer<LogItem>(cfg.mode, cfg.window, cfg.max_keys, (items) => this.send(logsOf(items), items.length, this.emitted));
    this.spans = new Coalescer<SpanItem>(cfg.mode, cfg.window, cfg.max_keys, (items) => this.send(spansOf(items), items.length, this.emitted));
    const m = set.metrics;
    this.passed = m.counter('processor_coalesce_passed', 'Items sent on at once (passthrough, no key, or over max_keys).');
    this.emitted = m.counter('processor_coalesce_emitted', 'Items sent on after waiting under their key.');
    this.coalescedC = m.counter('processor_coalesce_coalesced', 'Items replaced by a later item of the same key (not sent).');
    this.overflowC = m.counter('processor_coalesce_overflow', 'Items sent on at once because max_keys keys were waiting.');
    this.failed = m.counter('processor_coalesce_send_failed', 'Items the next stage refused after they waited (dropped).');
    m.gauge('processor_coalesce_pending_keys', 'Keys with an item waiting.', () => this.logs.size + this.spans.size);
  }

  async start(): Promise<void> {}

  private key(own: readonly KeyValue[], res: readonly KeyValue[] | undefined): string | undefined {
    let key = '';
    let any = false;
    for (const k of this.cfg.keys) {
      const v = pick(k, own, res);
      if (v !== undefined) any = true;
      key += (v ?? '') + '\u0000';
    }
    return any ? key : undefined;
  }

  async consume(batch: Telemetry): Promise<void> {
    if (batch.signal === 'logs') return this.consumeLogs(batch);
    if (batch.signal === 'traces' && this.cfg.spans) return this.consumeSpans(batch);
    return this.next.consume(batch);
  }

  private passLog(r: LogRecord): boolean {
    if (r.severityNumber >= this.floor) return true;
    const state = taskState(strAttr(r.attributes, A2A.taskState));
    if (state !== undefined && this.states.has(state)) return true;
    const name = r.eventName || strAttr(r.attributes, 'event.name');
    return name !== undefined && this.names.has(name);
  }

  private async consumeLogs(batch: Telemetry): Promise<void> {
    const req = batch.request() as ExportLogsServiceRequest;
    const now = Date.now();
    const out: LogItem[] = [];
    for (const r of req.resourceLogs) {
      const res = r.resource?.attributes;
      for (const s of r.scopeLogs) {
        for (const rec of s.logRecords) {
          const item = { r, s, item: rec };
          const key = this.key(rec.attributes, res);
          if (key === undefined) out.push(item);
          else if (this.passLog(rec)) {
            this.logs.supersede(key, now);
            out.push(item);
          } else if (this.logs.offer(key, item, now)) out.push(item);
        }
      }
    }
    this.publishStats();
    if (out.length > 0) await this.send(logsOf(out), out.length, this.passed, true);
  }

  private async consumeSpans(batch: Telemetry): Promise<void> {
    const req = batch.request() as ExportTraceServiceRequest;
    const now = Date.now();
    const out: SpanItem[] = [];
    for (const r of req.resourceSpans) {
      const res = r.resource?.attributes;
      for (const s of r.scopeSpans) {
        for (const sp of s.spans) {
          const item = { r, s, item: sp };
          const key = this.key(sp.attributes, res);
          // Errors and roots (the task itself) always go through; spans are not states, so they
          // do not replace what waits.
          if (key === undefined || sp.status?.code === STATUS_ERROR || sp.parentSpanId.length === 0) out.push(item);
          else if (this.spans.offer(key, item, now)) out.push(item);
        }
      }
    }
    this.publishStats();
    if (out.length > 0) await this.send(spansOf(out), out.length, this.passed, true);
  }

  private publishStats(): void {
    const c = this.logs.stats.coalesced + this.spans.stats.coalesced;
    const o = this.logs.stats.overflow + this.spans.stats.overflow;
    if (c > this.last.coalesced) this.coalescedC.inc(c - this.last.coalesced);
    if (o > this.last.overflow) this.overflowC.inc(o - this.last.overflow);
    this.last = { coalesced: c, overflow: o };
  }

  /** In order after what was sent before; errors reach the caller of a passthrough batch. */
  private send(t: Telemetry, n: number, counter: BoundCounter, propagate = false): Promise<void> {
    const p = this.chain.then(() => this.next.consume(t));
    this.chain = p.then(
      () => counter.inc(n),
      (err) => {
        if (!propagate) {
          this.failed.inc(n);
          this.set.logger.warn({ err: (err as Error).message, items: n }, 'next stage refused coalesced items; dropped');
        }
      },
    );
    return propagate ? p.then(() => undefined) : this.chain;
  }

  async shutdown(): Promise<void> {
    const logs = this.logs.drain();
    const spans = this.spans.drain();
    if (logs.length > 0) void this.send(logsOf(logs), logs.length, this.emitted);
    if (spans.length > 0) void this.send(spansOf(spans), spans.length, this.emitted);
    await this.chain;
    this.set.metrics.dispose();
  }
}

/** Items under their own resource and scope, each in first-seen order. */
function group<R, S, I>(items: Item<R, S, I>[]): Map<R, Map<S, I[]>> {
  const byR = new Map<R, Map<S, I[]>>();
  for (const { r, s, item } of items) {
    let m = byR.get(r);
    if (!m) byR.set(r, (m = new Map()));
    let l = m.get(s);
    if (!l) m.set(s, (l = []));
    l.push(item);
  }
  return byR;
}

/** Items back into one request, grouped under their own resource and scope. */
function logsOf(items: LogItem[]): Telemetry {
  const req: ExportLogsServiceRequest = {
    resourceLogs: [...group(items)].map(([r, m]) => ({ ...r, scopeLogs: [...m].map(([s, l]) => ({ ...s, logRecords: l })) })),
  };
  return Telemetry.fromRequest('logs', req);
}

function spansOf(items: SpanItem[]): Telemetry {
  const req: ExportTraceServiceRequest = {
    resourceSpans: [...group(items)].map(([r, m]) => ({ ...r, scopeSpans: [...m].map(([s, l]) => ({ ...s, spans: l })) })),
  };
  return Telemetry.fromRequest('traces', req);
}
