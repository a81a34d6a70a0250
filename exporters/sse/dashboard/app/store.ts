// What the page knows, built from the /v1/agents snapshot and the feed's events. Every collection
// is bounded: the log, errors, tasks and their events, traces, chart buckets. Views read it; a
// change bumps `version` and listeners are told at most once per animation frame (see main.tsx).
import { num, str, summary, type Data } from './format.js';
import type { FeedEvent } from './feed.js';

export const LOG_ROWS = 200;
const MAX_ERRORS = 50;
const MAX_ALERTS = 500;
const MAX_TASKS = 500;
const MAX_TRACES = 1000;
const MAX_TASK_EVENTS = 60;
const MAX_ACTIVE_TASKS = 50;
const MAX_AGENTS = 20_000;
/** Events held while a snapshot is being fetched after a reset. */
const MAX_PENDING = 20_000;
/** Chart buckets: 5 s each, 15 minutes. */
export const BUCKET_MS = 5000;
export const BUCKETS = 180;

/** Tokens per second over the last minute, in one-second buckets. */
class MinuteRate {
  private readonly secs = new Float64Array(60).fill(-1);
  private readonly sums = new Float64Array(60);
  add(ms: number, n: number): void {
    const s = Math.floor(ms / 1000);
    const i = s % 60;
    if (this.secs[i] !== s) {
      this.secs[i] = s;
      this.sums[i] = 0;
    }
    this.sums[i] += n;
  }
  perMinute(now: number): number {
    const s = Math.floor(now / 1000);
    let total = 0;
    for (let i = 0; i < 60; i++) if (this.secs[i] > s - 60 && this.secs[i] <= s) total += this.sums[i];
    return total;
  }
}

export interface Agent {
  id: string;
  name?: string;
  service?: string;
  status: string;
  online: boolean;
  lastSeen: number;
  /** Tasks started and not ended, oldest first. */
  tasks: string[];
  lastTask?: string;
  /** Latest progress of a task, in the units it was sent. */
  progress: Map<string, number>;
  inTokens: number;
  outTokens: number;
  cost: number;
  errors: number;
  spans: number;
  rate: MinuteRate;
}

export interface LogRow {
  id: string;
  time: number;
  type: string;
  agent?: string;
  severity: 'info' | 'warn' | 'error';
  text: string;
  task?: string;
}

export interface Task {
  id: string;
  agent?: string;
  state: string;
  started?: number;
  ended?: number;
  durationMs?: number;
  message?: string;
  traces: Set<string>;
  /** Task events (started, progress, ended) and the events of its traces, oldest first. */
  events: LogRow[];
}

export interface TraceSummary {
  spans: number;
  inTokens: number;
  outTokens: number;
  cost: number;
  errors: number;
  start: number;
  end: number;
}

export interface Alert {
  key: string;
  name: string;
  agent?: string;
  text: string;
  since: number;
}

interface Buckets {
  idx: Float64Array;
  tokens: Float64Array;
  cost: Float64Array;
  spans: Float64Array;
  errors: Float64Array;
}

const buckets = (): Buckets => ({
  idx: new Float64Array(BUCKETS).fill(-1), tokens: new Float64Array(BUCKETS), cost: new Float64Array(BUCKETS),
  spans: new Float64Array(BUCKETS), errors: new Float64Array(BUCKETS),
});

function addBucket(b: Buckets, time: number, tokens: number, cost: number, spans: number, errors: number): void {
  const k = Math.floor(time / BUCKET_MS);
  const i = k % BUCKETS;
  if (b.idx[i] !== k) {
    b.idx[i] = k;
    b.tokens[i] = b.cost[i] = b.spans[i] = b.errors[i] = 0;
  }
  b.tokens[i] += tokens;
  b.cost[i] += cost;
  b.spans[i] += spans;
  b.errors[i] += errors;
}

export interface Series {
  x: number[];
  tokensPerS: (number | null)[];
  costPerMin: (number | null)[];
  errorRate: (number | null)[];
  source: 'metrics_update' | 'span events';
}

export interface Fleet {
  online: number;
  working: number;
  total: number;
  tokens: number;
  cost: number;
  errors: number;
}

const severityOf = (type: string, d: Data): LogRow['severity'] =>
  type === 'error' || type === 'task_failed' || (type === 'span' && d.status === 'error') ? 'error'
    : type === 'alert' && d.state !== 'cleared' ? 'warn'
      : type === 'agent_offline' || (type === 'status_change' && d.status === 'error') ? 'warn' : 'info';

export class Store {
  readonly agents = new Map<string, Agent>();
  /** Newest first. */
  log: LogRow[] = [];
  /** Newest first. */
  errors: LogRow[] = [];
  readonly alerts = new Map<string, Alert>();
  readonly tasks = new Map<string, Task>();
  private readonly traces = new Map<string, TraceSummary>();
  private readonly traceTask = new Map<string, string>();
  private readonly fromSpans = buckets();
  private readonly fromMetrics = buckets();
  private lastMetricsUpdate = 0;
  /** Agent state is as of this snapshot id: older events of its epoch are in it already. */
  private snapEpoch = '';
  private snapSeq = -1;
  /** A snapshot is on its way: agent events wait for it. */
  private pending: FeedEvent[] | undefined;
  version = 0;
  private listeners = new Set<() => void>();

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  changed(): void {
    this.version++;
    for (const fn of this.listeners) fn();
  }

  /** The server forgot everything (a restart): agent state waits for a new snapshot. */
  resetServerState(): void {
    this.agents.clear();
    this.alerts.clear();
    this.pending = [];
    this.changed();
  }

  /** /v1/agents: the agents as of its last_event_id. */
  applySnapshot(body: { last_event_id?: unknown; agents?: unknown }): void {
    const list = Array.isArray(body.agents) ? (body.agents as Data[]) : [];
    this.agents.clear();
    for (const a of list.slice(0, MAX_AGENTS)) {
      const id = str(a.id, 256);
      if (!id) continue;
      const agent = this.agent(id);
      agent.name = str(a.name, 256);
      agent.service = str(a.service, 256);
      agent.status = str(a.status, 40) ?? 'idle';
      agent.online = a.online === true;
      agent.lastSeen = num(a.last_seen) ?? 0;
      agent.tasks = Array.isArray(a.active_tasks) ? (a.active_tasks as unknown[]).filter((x): x is string => typeof x === 'string').slice(-MAX_ACTIVE_TASKS) : [];
      agent.lastTask = str(a.last_task, 256);
      agent.inTokens = num(a.input_tokens) ?? 0;
      agent.outTokens = num(a.output_tokens) ?? 0;
      agent.cost = num(a.cost) ?? 0;
      agent.errors = num(a.errors) ?? 0;
      agent.spans = num(a.spans) ?? 0;
    }
    const at = typeof body.last_event_id === 'string' ? body.last_event_id : '';
    const dash = at.lastIndexOf('-');
    this.snapEpoch = dash > 0 ? at.slice(0, dash) : '';
    this.snapSeq = dash > 0 ? Number(at.slice(dash + 1)) : -1;
    const waiting = this.pending ?? [];
    this.pending = undefined;
    for (const ev of waiting) this.applyToAgents(ev, Date.now());
    this.changed();
  }

  private agent(id: string): Agent {
    let a = this.agents.get(id);
    if (a === undefined) {
      if (this.agents.size >= MAX_AGENTS) {
        // Forget the longest-silent offline agent, as the feed does.
        let victim: Agent | undefined;
        for (const x of this.agents.values()) if (!x.online && (!victim || x.lastSeen < victim.lastSeen)) victim = x;
        if (victim) this.agents.delete(victim.id);
      }
      a = { id, status: 'idle', online: true, lastSeen: 0, tasks: [], progress: new Map(), inTokens: 0, outTokens: 0, cost: 0, errors: 0, spans: 0, rate: new MinuteRate() };
      this.agents.set(id, a);
    }
    return a;
  }

  /** One event from the stream that feeds the agents, alerts, tasks and charts. */
  apply(ev: FeedEvent, now = Date.now()): void {
    const { type, data: d } = ev;
    if (type === 'subscription_confirmed' || type === 'reset' || type === 'auth_expired' || type === 'heartbeat') return;
    const row = this.row(ev);
    if (type === 'metrics_update') {
      this.lastMetricsUpdate = now;
      const dt = num(d.interval_s) ?? 0;
      addBucket(this.fromMetrics, num(d.time) ?? now, (num(d.tokens_per_s) ?? 0) * dt, num(d.cost) ?? 0, (num(d.spans_per_s) ?? 0) * dt, (num(d.errors_per_s) ?? 0) * dt);
    }
    if (type === 'span') {
      const tokens = (num(d.input_tokens) ?? 0) + (num(d.output_tokens) ?? 0);
      const end = Math.min(now, num(d.end) ?? now);
      addBucket(this.fromSpans, end, tokens, num(d.cost) ?? 0, 1, d.status === 'error' ? 1 : 0);
      this.traceOf(d, row);
    }
    if (type === 'error' || type === 'task_failed') {
      this.errors.unshift(row);
      if (this.errors.length > MAX_ERRORS) this.errors.length = MAX_ERRORS;
      if (type === 'error' && typeof d.trace_id === 'string') this.taskOfTrace(d.trace_id)?.events.push(row);
    }
    if (type === 'alert') {
      const name = str(d.name, 120) ?? 'alert';
      const key = `${name}\u0000${ev.data.agent ?? ''}`;
      if (d.state === 'cleared') this.alerts.delete(key);
      else if (this.alerts.has(key) || this.alerts.size < MAX_ALERTS) this.alerts.set(key, { key, name, agent: str(d.agent, 256), text: row.text, since: num(d.time) ?? now });
    }
    if (type.startsWith('task_') || type === 'progress_update') this.taskEvent(d, type, row);
    if (this.pending !== undefined) {
      if (this.pending.length < MAX_PENDING) this.pending.push(ev);
    } else {
      this.applyToAgents(ev, now);
    }
  }

  /** An event into the log (the stream the log follows may be filtered: see main.tsx). */
  logEvent(ev: FeedEvent): void {
    if (ev.type === 'subscription_confirmed' || ev.type === 'auth_expired' || ev.type === 'heartbeat') return;
    this.log.unshift(this.row(ev));
    if (this.log.length > LOG_ROWS) this.log.length = LOG_ROWS;
  }

  clearLog(): void {
    this.log = [];
  }

  private readonly rows = new WeakMap<Data, LogRow>();

  /** The event as a log row (made once per event, shared by the log, errors and tasks). */
  row(ev: FeedEvent): LogRow {
    let r = this.rows.get(ev.data);
    if (r === undefined) {
      const d = ev.data;
      r = {
        id: ev.id || `${ev.type}-${Date.now()}`,
        time: num(d.time) ?? num(d.end) ?? Date.now(),
        type: ev.type,
        agent: str(d.agent, 256),
        severity: severityOf(ev.type, d),
        text: summary(ev.type, d),
        task: str(d.task_id, 256) ?? (typeof d.trace_id === 'string' ? this.traceTask.get(d.trace_id) : undefined),
      };
      this.rows.set(d, r);
    }
    return r;
  }

  private applyToAgents(ev: FeedEvent, now: number): void {
    // Already counted in the snapshot.
    if (ev.epoch !== '' && ev.epoch === this.snapEpoch && ev.seq <= this.snapSeq) return;
    const d = ev.data;
    const id = str(d.agent, 256);
    if (!id) return;
    const a = this.agent(id);
    const time = num(d.time);
    switch (ev.type) {
      case 'agent_online':
        a.online = true;
        a.status = str(d.status, 40) ?? 'idle';
        if (str(d.name)) a.name = str(d.name, 256);
        if (str(d.service)) a.service = str(d.service, 256);
        break;
      case 'agent_offline':
        a.online = false;
        a.status = 'offline';
        a.tasks = [];
        a.progress.clear();
        if (num(d.last_seen) !== undefined) a.lastSeen = num(d.last_seen)!;
        return;
      case 'status_change':
        a.status = str(d.status, 40) ?? a.status;
        a.online = a.status !== 'offline';
        break;
      case 'task_started': {
        const t = str(d.task_id, 256);
        if (t && !a.tasks.includes(t)) {
          a.tasks.push(t);
          if (a.tasks.length > MAX_ACTIVE_TASKS) a.progress.delete(a.tasks.shift()!);
        }
        a.lastTask = t ?? a.lastTask;
        break;
      }
      case 'progress_update': {
        const t = str(d.task_id, 256);
        const p = num(d.progress);
        if (t && p !== undefined && a.tasks.includes(t)) a.progress.set(t, p);
        break;
      }
      case 'task_completed':
      case 'task_failed': {
        const t = str(d.task_id, 256);
        // A trace that turned out to be an A2A task was tracked under its trace id until now.
        const trace = str(d.trace_id, 256);
        a.tasks = a.tasks.filter((x) => x !== t && x !== trace);
        if (t) a.progress.delete(t);
        if (trace) a.progress.delete(trace);
        a.lastTask = t ?? a.lastTask;
        break;
      }
      case 'span': {
        const inT = num(d.input_tokens) ?? 0;
        const outT = num(d.output_tokens) ?? 0;
        a.inTokens += inT;
        a.outTokens += outT;
        a.cost += num(d.cost) ?? 0;
        a.spans++;
        if (d.status === 'error') a.errors++;
        if (inT + outT > 0) a.rate.add(Math.min(now, num(d.end) ?? now), inT + outT);
        a.lastSeen = Math.max(a.lastSeen, now);
        return;
      }
      default:
        break;
    }
    if (time !== undefined && time > a.lastSeen) a.lastSeen = Math.min(time, now);
  }

  private taskEvent(d: Data, type: string, row: LogRow): void {
    const id = str(d.task_id, 256);
    if (!id) return;
    let t = this.tasks.get(id);
    if (t === undefined) {
      if (this.tasks.size >= MAX_TASKS) this.tasks.delete(this.tasks.keys().next().value!);
      t = { id, state: 'running', traces: new Set(), events: [] };
      this.tasks.set(id, t);
    }
    t.agent ??= str(d.agent, 256);
    const trace = str(d.trace_id, 64);
    if (trace) {
      t.traces.add(trace);
      if (this.traceTask.size >= MAX_TRACES) this.traceTask.delete(this.traceTask.keys().next().value!);
      this.traceTask.set(trace, id);
      // Spans of the trace seen before the task knew it (the task id is the A2A one) join it.
      if (trace !== id) {
        const before = this.tasks.get(trace);
        if (before && before !== t) {
          t.events = [...before.events, ...t.events].slice(-MAX_TASK_EVENTS);
          t.started ??= before.started;
          this.tasks.delete(trace);
        }
      }
    }
    if (type === 'task_started') {
      t.started ??= num(d.time);
      t.state = 'running';
    } else if (type === 'progress_update') {
      if (str(d.state)) t.state = str(d.state, 40)!;
    } else {
      t.state = type === 'task_failed' ? (str(d.state, 40) ?? 'failed') : 'completed';
      t.ended = num(d.time);
      t.durationMs = num(d.duration_ms);
      t.message = str(d.message, 400);
    }
    t.events.push(row);
    if (t.events.length > MAX_TASK_EVENTS) t.events.shift();
  }

  private taskOfTrace(trace: string): Task | undefined {
    const id = this.traceTask.get(trace) ?? trace;
    return this.tasks.get(id);
  }

  private traceOf(d: Data, row: LogRow): void {
    const trace = typeof d.trace_id === 'string' ? d.trace_id.slice(0, 64) : undefined;
    if (!trace) return;
    let s = this.traces.get(trace);
    if (s === undefined) {
      if (this.traces.size >= MAX_TRACES) this.traces.delete(this.traces.keys().next().value!);
      s = { spans: 0, inTokens: 0, outTokens: 0, cost: 0, errors: 0, start: Infinity, end: -Infinity };
      this.traces.set(trace, s);
    }
    s.spans++;
    s.inTokens += num(d.input_tokens) ?? 0;
    s.outTokens += num(d.output_tokens) ?? 0;
    s.cost += num(d.cost) ?? 0;
    if (d.status === 'error') s.errors++;
    const start = num(d.start);
    const end = num(d.end);
    if (start !== undefined) s.start = Math.min(s.start, start);
    if (end !== undefined) s.end = Math.max(s.end, end);
    const t = this.taskOfTrace(trace);
    if (t) {
      t.events.push(row);
      if (t.events.length > MAX_TASK_EVENTS) t.events.shift();
    }
  }

  /** The spans of a task's traces, summed. */
  taskSpans(t: Task): TraceSummary {
    const sum: TraceSummary = { spans: 0, inTokens: 0, outTokens: 0, cost: 0, errors: 0, start: Infinity, end: -Infinity };
    for (const id of t.traces) {
      const s = this.traces.get(id);
      if (!s) continue;
      sum.spans += s.spans;
      sum.inTokens += s.inTokens;
      sum.outTokens += s.outTokens;
      sum.cost += s.cost;
      sum.errors += s.errors;
      sum.start = Math.min(sum.start, s.start);
      sum.end = Math.max(sum.end, s.end);
    }
    return sum;
  }

  /** A task by the id a row or an agent names (an A2A task id, or a trace id). */
  task(id: string): Task | undefined {
    return this.tasks.get(id) ?? this.taskOfTrace(id);
  }

  fleet(): Fleet {
    const f: Fleet = { online: 0, working: 0, total: this.agents.size, tokens: 0, cost: 0, errors: 0 };
    for (const a of this.agents.values()) {
      if (a.online) f.online++;
      if (a.status === 'working') f.working++;
      f.tokens += a.inTokens + a.outTokens;
      f.cost += a.cost;
      f.errors += a.errors;
    }
    return f;
  }

  /** The last 15 minutes: from metrics_update when the feed sends it (it counts every span, also
   *  those a slow connection was not sent), else from the span events received. */
  series(now = Date.now()): Series {
    const useMetrics = now - this.lastMetricsUpdate < 30_000;
    const b = useMetrics ? this.fromMetrics : this.fromSpans;
    const last = Math.floor(now / BUCKET_MS);
    const out: Series = { x: [], tokensPerS: [], costPerMin: [], errorRate: [], source: useMetrics ? 'metrics_update' : 'span events' };
    for (let k = last - BUCKETS + 1; k <= last; k++) {
      const i = k % BUCKETS;
      const held = b.idx[i] === k;
      // The bucket in progress: rates over the part of it that has passed.
      const secs = k === last ? Math.max(1, (now - k * BUCKET_MS) / 1000) : BUCKET_MS / 1000;
      out.x.push((k * BUCKET_MS) / 1000);
      out.tokensPerS.push(held ? b.tokens[i] / secs : 0);
      out.costPerMin.push(held ? (b.cost[i] / secs) * 60 : 0);
      out.errorRate.push(held && b.spans[i] > 0 ? (b.errors[i] / b.spans[i]) * 100 : 0);
    }
    return out;
  }
}
