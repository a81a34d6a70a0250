// The fleet model, the one owner of fleet semantics: spans, log records (A2A task states and other
// agent events) and metric points, through the agent state machine (agents.ts), task lifecycle and
// alert windows (alerts.ts), become fleet events. The sse exporter publishes them; the fleet
// connector turns them into log records for any pipeline.
import type { ExportLogsServiceRequest, ExportMetricsServiceRequest, ExportTraceServiceRequest, KeyValue, LogRecord, Span } from '../pdata/telemetry.js';
import {
  A2A, ACTIVE_STATES, FAILED_STATES, GenAI, INTERRUPTED_STATES, Operation, agentIdentity, attr, num, plainValue, str, taskState,
} from '../vocab/index.js';

const hex = (b: Uint8Array | undefined): string => (b && b.length > 0 ? Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex') : '');
/** ns since the epoch → ms (float, µs precision). */
const nsToMs = (ns: bigint): number => Number(ns / 1000n) / 1000;
import { Agents, type AgentInfo } from './agents.js';
import { Alerts, type AlertRule } from './alerts.js';
import { SEVERITY, type FleetEvent } from './event.js';

const STATUS_ERROR = 2;
const SEV_ERROR = 17;

export interface FleetOptions {
  offlineAfterMs: number;
  maxAgents: number;
  alerts: readonly AlertRule[];
}

export class Fleet {
  readonly agents: Agents;
  readonly alerts: Alerts;
  /** Totals since the last metrics_update. */
  private tally = { spans: 0, errors: 0, tokens: 0, cost: 0, records: 0 };
  private costTotal = 0;
  private lastUpdate = Date.now();

  constructor(opts: FleetOptions, private readonly emit: (ev: FleetEvent) => void) {
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
    const who = agentIdentity(own, res);
    const a = who ? this.agents.seen(who, now) : undefined;
    const agent = who?.id;
    const op = str(attr(own, GenAI.operationName));
    const inTok = num(attr(own, GenAI.inputTokens)) ?? 0;
    const outTok = num(attr(own, GenAI.outputTokens)) ?? 0;
    const cost = num(attr(own, GenAI.cost)) ?? 0;
    const failed = s.status?.code === STATUS_ERROR;
    const traceId = hex(s.traceId);
    const spanId = hex(s.spanId);
    const start = nsToMs(s.startTimeUnixNano);
    const end = nsToMs(s.endTimeUnixNano);
    const root = s.parentSpanId.length === 0;
    const task = str(attr(own, A2A.taskId)) ?? traceId;

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
    // its root invoke_agent span. Its id is the a2a.task.id the spans carry, else the trace id.
    if (a && op !== undefined && !root) this.startTask(a, task, start, now, { trace_id: traceId });
    if (a && root && op === Operation.invokeAgent) {
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
        name: s.name, operation: op, model: str(attr(own, GenAI.requestModel)),
        tool: str(attr(own, GenAI.toolName)),
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
    const who = agentIdentity(own, res);
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
      const raw = str(attr(own, A2A.taskState));
      const known = taskState(raw);
      const state = known ?? (raw ?? '').slice(0, 64).toLowerCase();
      const task = str(attr(own, A2A.taskId)) ?? traceId ?? '';
      const base = { agent, task_id: task, state, message, trace_id: traceId, event_name: name };
      if (a && known !== undefined && ACTIVE_STATES.has(known) && !a.tasks.has(task)) {
        this.startTask(a, task, time, now, { state, message, trace_id: traceId });
      } else if (a && known === 'completed') {
        this.endTask(a, task, false, now, { message, trace_id: traceId });
      } else if (a && known !== undefined && FAILED_STATES.has(known)) {
        this.endTask(a, task, true, now, { state, message, trace_id: traceId });
        wasError = true;
      } else {
        if (a && known !== undefined && INTERRUPTED_STATES.has(known)) this.agents.setStatus(a, 'input_required', state, now);
        else if (a && known === 'working' && a.status === 'input_required') this.agents.setStatus(a, 'working', state, now);
        this.emit({ type: 'progress_update', agent, severity: SEVERITY.info, data: { ...base, progress: num(attr(own, A2A.taskProgress)), time } });
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
      this.emit({ type: 'progress_update', agent, severity: SEVERITY.info, data: { agent, task_id: str(attr(own, A2A.taskId)), progress: num(attr(own, A2A.taskProgress)), message, event_name: name, time } });
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
      const who = agentIdentity(undefined, rm.resource?.attributes);
      if (who) this.agents.seen(who, now);
    }
  }

  /** Offline detection and alert evaluation; call about once a second. */
  tick(now = Date.now()): void {
    this.agents.sweep(now);
    this.alerts.evaluate(now);
  }

  /** The fleet figures since the previous call, as a metrics_update event. */
  metricsUpdate(now: number, clients: number): FleetEvent {
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
