// From telemetry to feed events: spans, log records (A2A task states and other agent events) and
// metric points, through the agent state machine and the alert windows.
import type { ExportLogsServiceRequest, ExportMetricsServiceRequest, ExportTraceServiceRequest, KeyValue, LogRecord, Span } from '../../src/pdata/telemetry.js';
import { attr, hex, nsToMs, num, pick, plainValue, str } from './attrs.js';
import { Agents, type AgentInfo, type Identity } from './agents.js';
import { Alerts, type AlertRule } from './alerts.js';
import { SEVERITY, type FeedEvent } from './event.js';

const STATUS_ERROR = 2;
const SEV_ERROR = 17;

/** A2A task states (a2a.task.state), and what the feed makes of them. */
const TERMINAL_OK = new Set(['completed']);
const TERMINAL_FAILED = new Set(['failed', 'rejected', 'canceled', 'cancelled']);
const NEEDS_INPUT = new Set(['input-required', 'input_required', 'auth-required', 'auth_required']);

/** Longest agent id, name or service name kept (longer ones are cut). */
export const MAX_AGENT_ID_LENGTH = 256;
const clip = (s: string) => (s.length > MAX_AGENT_ID_LENGTH ? s.slice(0, MAX_AGENT_ID_LENGTH) : s);

export interface FleetOptions {
  offlineAfterMs: number;
  maxAgents: number;
  alerts: readonly AlertRule[];
}

function identity(own: readonly KeyValue[] | undefined, res: readonly KeyValue[] | undefined): Identity | undefined {
  const agentId = pick('gen_ai.agent.id', own, res);
  const name = pick('gen_ai.agent.name', own, res);
  const service = str(attr(res, 'service.name')) ?? str(attr(own, 'service.name'));
  const id = agentId ?? name ?? service;
  // Agent ids key maps, filters and scope checks: a client-supplied one is cut to a bounded length.
  return id === undefined ? undefined : { id: clip(id), name: name && clip(name), service: service && clip(service) };
}

export class Fleet {
  readonly agents: Agents;
  readonly alerts: Alerts;
  /** Totals since the last metrics_update. */
  private tally = { spans: 0, errors: 0, tokens: 0, cost: 0, records: 0 };
  private costTotal = 0;
  private lastUpdate = Date.now();

  constructor(opts: FleetOptions, private readonly emit: (ev: FeedEvent) => void) {
    this.agents = new Agents(opts.offlineAfterMs, opts.maxAgents, emit);
    this.alerts = new Alerts(opts.alerts, emit);
  }

  traces(req: ExportTraceServiceRequest, now = Date.now()): void {
    for (const rs of req.resourceSpans) {
      const res = rs.resource?.attributes;
      for (const ss of rs.scopeSpans) for (const s of ss.spans) this.span(s, res, now);
    }
  }

  private span(s: Span, res: readonly KeyValue[] | undefined, now: number): void {
    const own = s.attributes;
    const who = identity(own, res);
    const a = who ? this.agents.seen(who, now) : undefined;
    const agent = who?.id;
    const op = str(attr(own, 'gen_ai.operation.name'));
    const inTok = num(attr(own, 'gen_ai.usage.input_tokens')) ?? 0;
    const outTok = num(attr(own, 'gen_ai.usage.output_tokens')) ?? 0;
    const cost = num(attr(own, 'gen_ai.usage.cost')) ?? 0;
    const failed = s.status?.code === STATUS_ERROR;
    const traceId = hex(s.traceId);
    const spanId = hex(s.spanId);
    const start = nsToMs(s.startTimeUnixNano);
    const end = nsToMs(s.endTimeUnixNano);
    const root = s.parentSpanId.length === 0;
    const task = str(attr(own, 'a2a.task.id')) ?? traceId;

    this.tally.spans++;
    this.tally.tokens += inTok + outTok;
    this.tally.cost += cost;
    this.costTotal += cost;
    if (failed) this.tally.errors++;
    if (a) {
      a.spans++;
      a.input_tokens += inTok;
      a.output_tokens += outTok;
      a.cost += cost;
      if (failed) a.errors++;
      this.alerts.record(a.id, 1, failed ? 1 : 0, inTok + outTok, cost, now);
    }

    // A trace becomes a task: started by its first gen_ai child span (the root ends last), ended by
    // its root invoke_agent span.
    if (a && op !== undefined && !root) this.startTask(a, traceId, start, now, { trace_id: traceId });
    if (a && root && op === 'invoke_agent') {
      this.startTask(a, task, start, now, { trace_id: traceId });
      if (task !== traceId) a.tasks.delete(traceId);
      this.endTask(a, task, failed, now, { trace_id: traceId, span_id: spanId, duration_ms: end - start, message: s.status?.message || undefined });
    }

    this.emit({
      type: 'span',
      agent,
      severity: failed ? SEVERITY.error : SEVERITY.info,
      data: {
        agent, trace_id: traceId, span_id: spanId, parent_span_id: hex(s.parentSpanId) || undefined,
        name: s.name, operation: op, model: str(attr(own, 'gen_ai.request.model')),
        tool: str(attr(own, 'gen_ai.tool.name')),
        start, end, duration_ms: end - start,
        status: failed ? 'error' : s.status?.code === 1 ? 'ok' : 'unset',
        input_tokens: inTok || undefined, output_tokens: outTok || undefined, cost: cost || undefined,
      },
    });
    if (failed) {
      this.emit({
        type: 'error',
        agent,
        severity: SEVERITY.error,
        data: { agent, source: 'span', trace_id: traceId, span_id: spanId, name: s.name, operation: op, message: s.status?.message ?? '', time: end },
      });
    }
  }

  private startTask(a: AgentInfo, task: string, start: number, now: number, extra: Record<string, unknown>): void {
    if (!this.agents.taskStarted(a, task, now)) return;
    this.emit({ type: 'task_started', agent: a.id, severity: SEVERITY.info, data: { agent: a.id, task_id: task, ...extra, time: start } });
  }

  private endTask(a: AgentInfo, task: string, failed: boolean, now: number, extra: Record<string, unknown>): void {
    this.agents.taskEnded(a, task, failed, now);
    this.emit({
      type: failed ? 'task_failed' : 'task_completed',
      agent: a.id,
      severity: failed ? SEVERITY.error : SEVERITY.info,
      data: { agent: a.id, task_id: task, state: failed ? 'failed' : 'completed', ...extra, time: now },
    });
  }

  logs(req: ExportLogsServiceRequest, now = Date.now()): void {
    for (const rl of req.resourceLogs) {
      const res = rl.resource?.attributes;
      for (const sl of rl.scopeLogs) for (const r of sl.logRecords) this.record(r, res, now);
    }
  }

  private record(r: LogRecord, res: readonly KeyValue[] | undefined, now: number): void {
    const own = r.attributes;
    const who = identity(own, res);
    const a = who ? this.agents.seen(who, now) : undefined;
    const agent = who?.id;
    const name = r.eventName || str(attr(own, 'event.name')) || '';
    const sevNum = r.severityNumber;
    const time = r.timeUnixNano > 0n ? nsToMs(r.timeUnixNano) : r.observedTimeUnixNano > 0n ? nsToMs(r.observedTimeUnixNano) : now;
    const message = r.body === undefined ? undefined : typeof r.body.stringValue === 'string' ? r.body.stringValue : plainValue(r.body);
    const traceId = hex(r.traceId) || undefined;
    this.tally.records++;
    let wasError = false;

    if (name.startsWith('a2a.task')) {
      const state = (str(attr(own, 'a2a.task.state')) ?? '').toLowerCase();
      const task = str(attr(own, 'a2a.task.id')) ?? traceId ?? '';
      const base = { agent, task_id: task, state, message, trace_id: traceId, event_name: name };
      if (a && (state === 'submitted' || state === 'working') && !a.tasks.has(task)) {
        this.startTask(a, task, time, now, { state, message, trace_id: traceId });
      } else if (a && TERMINAL_OK.has(state)) {
        this.endTask(a, task, false, now, { message, trace_id: traceId });
      } else if (a && TERMINAL_FAILED.has(state)) {
        this.endTask(a, task, true, now, { state, message, trace_id: traceId });
        wasError = true;
      } else {
        if (a && NEEDS_INPUT.has(state)) this.agents.setStatus(a, 'input_required', state, now);
        else if (a && state === 'working' && a.status === 'input_required') this.agents.setStatus(a, 'working', state, now);
        this.emit({ type: 'progress_update', agent, severity: SEVERITY.info, data: { ...base, progress: num(attr(own, 'a2a.task.progress')), time } });
      }
    } else if (name === 'fleet.agent.heartbeat') {
      this.emit({ type: 'heartbeat', agent, severity: SEVERITY.debug, data: { agent, time } });
    } else if (name === 'fleet.alert' || name === 'alert') {
      this.emit({
        type: 'alert',
        agent,
        severity: sevNum >= SEV_ERROR ? SEVERITY.error : SEVERITY.warn,
        data: { agent, name: str(attr(own, 'alert.name')) ?? 'external', state: str(attr(own, 'alert.state')) ?? 'raised', message, time },
      });
    } else if (name.endsWith('progress')) {
      this.emit({ type: 'progress_update', agent, severity: SEVERITY.info, data: { agent, task_id: str(attr(own, 'a2a.task.id')), progress: num(attr(own, 'a2a.task.progress')), message, event_name: name, time } });
    }
    if (sevNum >= SEV_ERROR && !wasError) {
      this.emit({
        type: 'error',
        agent,
        severity: SEVERITY.error,
        data: { agent, source: 'log', event_name: name || undefined, severity: r.severityText || sevNum, message, trace_id: traceId, time },
      });
    }
  }

  metrics(req: ExportMetricsServiceRequest, now = Date.now()): void {
    for (const rm of req.resourceMetrics) {
      const who = identity(undefined, rm.resource?.attributes);
      if (who) this.agents.seen(who, now);
    }
  }

  /** Offline detection and alert evaluation; call about once a second. */
  tick(now = Date.now()): void {
    this.agents.sweep(now);
    this.alerts.evaluate(now);
  }

  /** The fleet figures since the previous call, as a metrics_update event. */
  metricsUpdate(now: number, clients: number): FeedEvent {
    const dt = Math.max(1, now - this.lastUpdate) / 1000;
    this.lastUpdate = now;
    const t = this.tally;
    this.tally = { spans: 0, errors: 0, tokens: 0, cost: 0, records: 0 };
    let online = 0, working = 0, tasks = 0;
    for (const a of this.agents.byId.values()) {
      if (a.online) online++;
      if (a.status === 'working') working++;
      tasks += a.tasks.size;
    }
    return {
      type: 'metrics_update',
      agent: undefined,
      severity: SEVERITY.info,
      data: {
        time: now, interval_s: dt, agents: this.agents.byId.size, agents_online: online, agents_working: working, tasks_active: tasks,
        spans_per_s: t.spans / dt, errors_per_s: t.errors / dt, tokens_per_s: t.tokens / dt, records_per_s: t.records / dt,
        cost: t.cost, cost_total: this.costTotal, clients,
      },
    };
  }
}
