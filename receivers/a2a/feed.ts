// Plain event feeds: SSE endpoints whose events are named (`task_started`, `heartbeat`, `alert`,
// ...) with JSON data. Each event becomes a log record: task events as `a2a.task.status` (so the
// sse feed and the fleet connector treat them as A2A task states), the rest under the fleet event
// names; unknown names as generic `fleet.feed.event` records naming the type. Resumed with
// Last-Event-ID where the feed gives ids.
import type { EventSourceMessage } from 'eventsource-parser';
import type { KeyValue } from '../../src/pdata/telemetry.js';
import {
  A2A, AgentEventName, EventAttr, GenAI, Severity, doubleValue, severityOfState, stringValue, taskState, type TaskState,
} from '../../src/vocab/index.js';
import type { FeedConfig } from './config.js';
import type { Shared } from './context.js';
import { MAX_ID, MAX_STRING, clip, isObject } from './limits.js';
import { plainRecord, type AgentRef, type Output } from './records.js';
import { SseSource } from './sse.js';

/** Task events of plain feeds and the state each implies when the data names none. */
const TASK_EVENTS: Readonly<Record<string, TaskState>> = {
  task_started: 'submitted',
  progress_update: 'working',
  task_completed: 'completed',
  task_failed: 'failed',
};

/** The other known event names → record event name and severity. */
const OTHER_EVENTS: Readonly<Record<string, [string, number]>> = {
  status_change: [AgentEventName.status, Severity.info],
  agent_online: [AgentEventName.online, Severity.info],
  agent_offline: [AgentEventName.offline, Severity.warn],
  capability_changed: [AgentEventName.capabilityChanged, Severity.info],
  maintenance_mode: [AgentEventName.maintenance, Severity.warn],
  alert: [AgentEventName.alert, Severity.warn],
  threshold_exceeded: [AgentEventName.alert, Severity.warn],
  anomaly_detected: [AgentEventName.alert, Severity.warn],
  warning: [AgentEventName.warning, Severity.warn],
  error: [AgentEventName.error, Severity.error],
  error_occurred: [AgentEventName.error, Severity.error],
  heartbeat: [AgentEventName.heartbeat, Severity.debug],
  metrics_update: [AgentEventName.metrics, Severity.info],
  data_refresh: [AgentEventName.feedEvent, Severity.info],
  subscription_confirmed: [AgentEventName.feedEvent, Severity.debug],
};

export class Feed {
  private readonly ref: AgentRef;

  constructor(private readonly cfg: FeedConfig, private readonly s: Shared) {
    this.ref = { id: clip(cfg.name ?? cfg.url, MAX_ID), name: clip(cfg.name ?? cfg.url, MAX_ID), url: undefined };
  }

  async run(): Promise<void> {
    const { cfg, logger, stop } = this.s;
    const metrics = this.s.sseMetrics('feed');
    const source = new SseSource(
      { name: this.cfg.url, maxEventBytes: cfg.max_event_size, initialMs: cfg.reconnect.initial_interval, maxMs: cfg.reconnect.max_interval, connectTimeoutMs: cfg.request_timeout, logger, metrics },
      {
        request: async () => ({ url: this.cfg.url, method: 'GET', headers: { ...(this.cfg.headers ?? {}) } }),
        event: async (ev) => {
          const out = this.toRecords(ev);
          if (out === undefined) metrics.malformed.inc();
          else await this.s.pipeline.deliver(out.agent, out.out, stop);
        },
        notStream: async () => 'retry',
        ended: async () => 'retry',
      },
    );
    try {
      await source.run(stop);
    } finally {
      metrics.release();
    }
  }

  /** undefined: malformed (data that is not JSON where JSON is needed). */
  toRecords(ev: EventSourceMessage): { agent: AgentRef; out: Output } | undefined {
    const type = clip(ev.event ?? 'message', 64);
    let data: unknown = ev.data;
    const trimmed = ev.data.trimStart();
    if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
      try {
        data = JSON.parse(ev.data) as unknown;
      } catch {
        return undefined;
      }
    }
    const d = isObject(data) ? data : {};
    const s = (k: string, max = MAX_ID): string | undefined => (typeof d[k] === 'string' ? clip(d[k] as string, max) : typeof d[k] === 'number' ? String(d[k]) : undefined);
    const agentName = s('agent') ?? s('agent_id') ?? s('agentId') ?? s('agent_name');
    const agent: AgentRef = agentName !== undefined ? { id: agentName, name: agentName, url: undefined } : this.ref;
    const attrs: KeyValue[] = [
      { key: EventAttr.feedEventType, value: stringValue(type) },
      { key: EventAttr.feedUrl, value: stringValue(clip(this.cfg.url, MAX_STRING)) },
    ];
    if (ev.id !== undefined && ev.id !== '') attrs.push({ key: EventAttr.feedEventId, value: stringValue(clip(ev.id, MAX_ID)) });
    const taskId = s('task_id') ?? s('taskId');
    const contextId = s('context_id') ?? s('contextId');
    if (taskId !== undefined) attrs.push({ key: A2A.taskId, value: stringValue(taskId) });
    if (contextId !== undefined) attrs.push({ key: GenAI.conversationId, value: stringValue(contextId) });
    const message = s('message', MAX_STRING) ?? s('description', MAX_STRING);
    const body = message ?? clip(ev.data, MAX_STRING);
    const progress = typeof d.progress === 'number' && Number.isFinite(d.progress) ? d.progress : undefined;
    if (progress !== undefined) attrs.push({ key: A2A.taskProgress, value: doubleValue(progress) });

    const implied = TASK_EVENTS[type];
    const rawState = s('state', 64) ?? s('status', 64);
    if (implied !== undefined || (type === 'status_change' && taskId !== undefined)) {
      const state = taskState(rawState) ?? implied ?? 'working';
      attrs.push({ key: A2A.taskState, value: stringValue(state) });
      return { agent, out: { records: [plainRecord(agent, AgentEventName.taskStatus, severityOfState(state), attrs, body)], spans: [] } };
    }
    const known = OTHER_EVENTS[type];
    if (known !== undefined && known[0] === AgentEventName.alert) {
      attrs.push({ key: EventAttr.alertName, value: stringValue(s('name') ?? s('alert') ?? type) });
      attrs.push({ key: EventAttr.alertState, value: stringValue(s('state', 64) ?? 'raised') });
    } else if (rawState !== undefined) {
      attrs.push({ key: A2A.taskState, value: stringValue(rawState) });
    }
    const severity = known?.[1] ?? (/(error|fail)/i.test(type) ? Severity.error : Severity.info);
    return { agent, out: { records: [plainRecord(agent, known?.[0] ?? AgentEventName.feedEvent, severity, attrs, body)], spans: [] } };
  }
}
