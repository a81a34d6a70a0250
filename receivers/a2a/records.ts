// A2A events → log records and task spans. The task book remembers, per agent and task, what was
// already reported (last state, artifacts), so a snapshot re-read after a reconnect or a repeated
// push notification adds nothing, and a task reaching a terminal state yields one span covering
// first seen → last event.
import { createHash } from 'node:crypto';
import type { KeyValue, LogRecord, Span } from '../../src/pdata/telemetry.js';
import {
  A2A, AgentEventName, EVENT_NAME, EventAttr, GenAI, SERVICE_NAME, SEVERITY_TEXT, Severity, TERMINAL_STATES, FAILED_STATES,
  severityOfState, stringValue, type TaskState,
} from '../../src/vocab/index.js';
import { MAX_ARTIFACTS_PER_TASK } from './limits.js';
import { parseTraceparent, type A2aEvent, type ProtocolVersion } from './wire.js';

/** Who an event is about. */
export interface AgentRef {
  /** gen_ai.agent.id: the configured name, else the card's name, else the URL. */
  id: string;
  /** gen_ai.agent.name and service.name: the card's name, else the id. */
  name: string;
  url: string | undefined;
}

export interface Output {
  records: LogRecord[];
  spans: Span[];
}

interface TaskInfo {
  firstNs: bigint;
  lastNs: bigint;
  state: TaskState | undefined;
  statusKey: string;
  artifacts: Set<string>;
  contextId: string | undefined;
  version: ProtocolVersion;
  traceId: Uint8Array;
  spanId: Uint8Array;
  parentSpanId: Uint8Array;
  ended: boolean;
}

const STATUS_OK = 1;
const STATUS_ERROR = 2;
const SPAN_KIND_INTERNAL = 1;

const nowNs = (): bigint => BigInt(Date.now()) * 1_000_000n;
const msToNs = (ms: number): bigint => BigInt(Math.trunc(ms)) * 1_000_000n;

export function ids(taskId: string, traceparent: string | undefined): { traceId: Uint8Array; spanId: Uint8Array; parentSpanId: Uint8Array } {
  const h = createHash('sha256').update(taskId).digest();
  const tp = traceparent === undefined ? undefined : parseTraceparent(traceparent);
  return {
    traceId: tp ? Buffer.from(tp.traceId, 'hex') : new Uint8Array(h.subarray(0, 16)),
    spanId: new Uint8Array(h.subarray(16, 24)),
    parentSpanId: tp ? Buffer.from(tp.spanId, 'hex') : new Uint8Array(0),
  };
}

export class TaskBook {
  private readonly tasks = new Map<string, TaskInfo>();

  constructor(private readonly maxTasks: number) {}

  get size(): number {
    return this.tasks.size;
  }

  /** The state last reported for a task, if it is known. */
  state(agent: AgentRef, taskId: string): TaskState | undefined {
    return this.tasks.get(key(agent, taskId))?.state;
  }

  /** True once the task reached a terminal state here. */
  ended(agent: AgentRef, taskId: string): boolean {
    return this.tasks.get(key(agent, taskId))?.ended === true;
  }

  /** Records (and a span, at a terminal state) for one event; nothing for what was reported already. */
  /** Returns a function that undoes what this call remembered (for a refused webhook delivery,
   *  whose retry must report the same again). */
  observe(agent: AgentRef, ev: A2aEvent, out: Output, now = nowNs()): () => void {
    const taskId = ev.taskId;
    if (taskId === undefined) {
      if (ev.kind === 'message') out.records.push(record(agent, AgentEventName.message, Severity.info, now, ev.version, undefined, undefined, ev));
      return () => {};
    }
    const k = key(agent, taskId);
    let t = this.tasks.get(k);
    const saved = t === undefined ? undefined : { ...t, artifacts: new Set(t.artifacts) };
    const undo = () => {
      if (saved === undefined) this.tasks.delete(k);
      else this.tasks.set(k, saved);
    };
    const when = ev.timestamp !== undefined ? msToNs(ev.timestamp) : now;
    if (t === undefined) {
      while (this.tasks.size >= this.maxTasks) this.tasks.delete(this.tasks.keys().next().value!);
      t = { firstNs: when, lastNs: when, state: undefined, statusKey: '', artifacts: new Set(), contextId: ev.contextId, version: ev.version, ...ids(taskId, ev.traceparent), ended: false };
      this.tasks.set(k, t);
    }
    if (ev.contextId !== undefined) t.contextId = ev.contextId;
    const before = out.records.length;

    if (ev.kind === 'message') {
      out.records.push(record(agent, AgentEventName.message, Severity.info, when, ev.version, taskId, t, ev));
    }
    if (ev.kind === 'artifact' || ev.kind === 'task') {
      for (const a of ev.artifacts) {
        if (ev.kind === 'task' && t.artifacts.has(a.id)) continue;
        if (t.artifacts.size < MAX_ARTIFACTS_PER_TASK) t.artifacts.add(a.id);
        out.records.push(record(agent, AgentEventName.taskArtifact, Severity.info, when, ev.version, taskId, t, { ...ev, artifacts: [a] }));
      }
    }
    if ((ev.kind === 'task' || ev.kind === 'status') && (ev.state !== undefined || ev.rawState !== undefined)) {
      const statusKey = `${ev.state ?? ev.rawState}\u0000${ev.timestamp ?? ''}\u0000${ev.text ?? ''}`;
      // A snapshot repeats what was said unless the state moved; an update is new unless it is
      // the very update reported last (a repeated push notification, a replay).
      const fresh = ev.kind === 'task' ? ev.state !== t.state || t.state === undefined : statusKey !== t.statusKey;
      if (fresh && !t.ended) {
        t.state = ev.state ?? t.state;
        t.statusKey = statusKey;
        out.records.push(record(agent, AgentEventName.taskStatus, severityOfState(ev.state), when, ev.version, taskId, t, ev, ev.rawState));
      }
    }
    if (out.records.length > before && when > t.lastNs) t.lastNs = when;
    if (!t.ended && t.state !== undefined && TERMINAL_STATES.has(t.state)) {
      t.ended = true;
      out.spans.push(span(agent, taskId, t));
    }
    return undo;
  }
}

const key = (agent: AgentRef, taskId: string): string => `${agent.id}\u0000${taskId}`;

function common(agent: AgentRef, version: ProtocolVersion, taskId: string | undefined, contextId: string | undefined, state: string | undefined): KeyValue[] {
  const kv: KeyValue[] = [
    { key: GenAI.agentId, value: stringValue(agent.id) },
    { key: GenAI.agentName, value: stringValue(agent.name) },
    { key: A2A.protocolVersion, value: stringValue(version) },
  ];
  if (agent.url !== undefined) kv.push({ key: A2A.agentUrl, value: stringValue(agent.url) });
  if (taskId !== undefined) kv.push({ key: A2A.taskId, value: stringValue(taskId) });
  if (state !== undefined) kv.push({ key: A2A.taskState, value: stringValue(state) });
  if (contextId !== undefined) {
    kv.push({ key: GenAI.conversationId, value: stringValue(contextId) });
    kv.push({ key: A2A.contextId, value: stringValue(contextId) });
  }
  return kv;
}

function record(agent: AgentRef, name: string, severity: number, when: bigint, version: ProtocolVersion, taskId: string | undefined, t: TaskInfo | undefined, ev: A2aEvent, rawState?: string): LogRecord {
  const attributes = common(agent, version, taskId, ev.contextId ?? t?.contextId, rawState ?? t?.state ?? ev.state);
  attributes.unshift({ key: EVENT_NAME, value: stringValue(name) });
  const a = ev.artifacts[0];
  if (name === AgentEventName.taskArtifact && a !== undefined) {
    attributes.push({ key: EventAttr.artifactId, value: stringValue(a.id) });
    if (a.name !== undefined) attributes.push({ key: EventAttr.artifactName, value: stringValue(a.name) });
  }
  if (ev.messageId !== undefined) attributes.push({ key: EventAttr.messageId, value: stringValue(ev.messageId) });
  if (ev.role !== undefined) attributes.push({ key: EventAttr.messageRole, value: stringValue(ev.role) });
  return {
    timeUnixNano: when,
    observedTimeUnixNano: nowNs(),
    severityNumber: severity,
    severityText: SEVERITY_TEXT[severity] ?? '',
    body: ev.text !== undefined && name !== AgentEventName.taskArtifact ? stringValue(ev.text) : undefined,
    attributes,
    droppedAttributesCount: 0,
    flags: 0,
    traceId: t?.traceId ?? new Uint8Array(0),
    spanId: t?.spanId ?? new Uint8Array(0),
    eventName: name,
  };
}

function span(agent: AgentRef, taskId: string, t: TaskInfo): Span {
  const failed = t.state !== undefined && FAILED_STATES.has(t.state);
  return {
    traceId: t.traceId,
    spanId: t.spanId,
    traceState: '',
    parentSpanId: t.parentSpanId,
    flags: 1,
    name: 'a2a.task',
    kind: SPAN_KIND_INTERNAL,
    startTimeUnixNano: t.firstNs,
    endTimeUnixNano: t.lastNs,
    attributes: common(agent, t.version, taskId, t.contextId, t.state),
    droppedAttributesCount: 0,
    events: [],
    droppedEventsCount: 0,
    links: [],
    droppedLinksCount: 0,
    status: { code: failed ? STATUS_ERROR : STATUS_OK, message: failed ? `task ${t.state}` : '' },
  };
}

/** A record that is no task event (agent card, feed events). */
export function plainRecord(agent: AgentRef, name: string, severity: number, attrs: KeyValue[], body: string | undefined, when = nowNs()): LogRecord {
  return {
    timeUnixNano: when,
    observedTimeUnixNano: nowNs(),
    severityNumber: severity,
    severityText: SEVERITY_TEXT[severity] ?? '',
    body: body === undefined ? undefined : stringValue(body),
    attributes: [
      { key: EVENT_NAME, value: stringValue(name) },
      { key: GenAI.agentId, value: stringValue(agent.id) },
      { key: GenAI.agentName, value: stringValue(agent.name) },
      ...(agent.url !== undefined ? [{ key: A2A.agentUrl, value: stringValue(agent.url) }] : []),
      ...attrs,
    ],
    droppedAttributesCount: 0,
    flags: 0,
    traceId: new Uint8Array(0),
    spanId: new Uint8Array(0),
    eventName: name,
  };
}

export const resourceOf = (agent: AgentRef): KeyValue[] => [{ key: SERVICE_NAME, value: stringValue(agent.name) }];
