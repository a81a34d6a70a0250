// A2A payloads of both wire versions → one event shape. v1.0 (JSON of the proto): a StreamResponse
// holds exactly one of `task`, `message`, `statusUpdate`, `artifactUpdate`; states are
// `TASK_STATE_*`; a status update has no `final`. v0.3: objects carry `kind` (`task`, `message`,
// `status-update`, `artifact-update`), states are lower case, a status update says `final`.
// JSON-RPC frames wrap either in `result`.
import { taskState, type TaskState } from '../../src/vocab/index.js';
import { MAX_ID, MAX_STRING, clip, isObject, objField, strField } from './limits.js';

export type ProtocolVersion = '1.0' | '0.3';

export interface A2aEvent {
  kind: 'task' | 'status' | 'artifact' | 'message';
  /** Which spelling the payload used. */
  version: ProtocolVersion;
  taskId: string | undefined;
  contextId: string | undefined;
  state: TaskState | undefined;
  /** The state as sent (cut), when it is none fleetcol knows. */
  rawState: string | undefined;
  /** Text of the status message or the message's text parts (cut). */
  text: string | undefined;
  /** Status timestamp (ms), when sent. */
  timestamp: number | undefined;
  /** v0.3 `final`. */
  final: boolean;
  artifacts: { id: string; name: string | undefined }[];
  messageId: string | undefined;
  role: string | undefined;
  /** A W3C traceparent from the task's (or event's) metadata. */
  traceparent: string | undefined;
}

export class WireError extends Error {}

/** The StreamResponse / Task / event inside a JSON-RPC frame; throws WireError for an error frame. */
export function unwrapRpc(frame: unknown): unknown {
  if (isObject(frame) && frame.jsonrpc === '2.0') {
    if (isObject(frame.error)) throw new WireError(`JSON-RPC error ${String(frame.error.code)}: ${strField(frame.error, 'message', 256) ?? ''}`);
    return frame.result;
  }
  return frame;
}

/** One payload of either version → events (a Task snapshot with artifacts gives one event that
 *  lists them); undefined when it is no A2A payload fleetcol knows. */
export function parsePayload(p: unknown): A2aEvent | undefined {
  if (!isObject(p)) return undefined;
  // v1.0 StreamResponse (and push notification body)
  if (isObject(p.task)) return task(p.task, '1.0');
  if (isObject(p.statusUpdate)) return status(p.statusUpdate, '1.0');
  if (isObject(p.artifactUpdate)) return artifact(p.artifactUpdate, '1.0');
  if (isObject(p.message)) return message(p.message, '1.0');
  if (isObject(p.msg)) return message(p.msg, '1.0'); // v0.3's proto (its REST binding) spelled it `msg`
  switch (p.kind) {
    case 'task': return task(p, '0.3');
    case 'status-update': return status(p, '0.3');
    case 'artifact-update': return artifact(p, '0.3');
    case 'message': return message(p, '0.3');
  }
  // A bare Task (v1.0 GetTask result, REST stream of a task): id + status.
  if (typeof p.id === 'string' && isObject(p.status)) return task(p, versionOfState(p.status));
  return undefined;
}

function versionOfState(status: Record<string, unknown>): ProtocolVersion {
  const s = strField(status, 'state', 64) ?? '';
  return s.startsWith('TASK_STATE_') ? '1.0' : '0.3';
}

function base(kind: A2aEvent['kind'], version: ProtocolVersion): A2aEvent {
  return { kind, version, taskId: undefined, contextId: undefined, state: undefined, rawState: undefined, text: undefined, timestamp: undefined, final: false, artifacts: [], messageId: undefined, role: undefined, traceparent: undefined };
}

function applyStatus(e: A2aEvent, st: Record<string, unknown> | undefined): void {
  if (!st) return;
  const raw = strField(st, 'state', 64);
  e.state = taskState(raw);
  if (e.state === undefined && raw !== undefined) e.rawState = raw;
  const msg = objField(st, 'message');
  if (msg) e.text = textOf(msg);
  const ts = strField(st, 'timestamp', 64);
  if (ts !== undefined) {
    const n = Date.parse(ts);
    if (Number.isFinite(n)) e.timestamp = n;
  }
}

function task(t: Record<string, unknown>, v: ProtocolVersion): A2aEvent {
  const e = base('task', v);
  e.taskId = strField(t, 'id', MAX_ID);
  e.contextId = strField(t, 'contextId', MAX_ID);
  applyStatus(e, objField(t, 'status'));
  if (Array.isArray(t.artifacts)) {
    for (const a of t.artifacts.slice(0, 256)) {
      const id = strField(a, 'artifactId', MAX_ID);
      if (id !== undefined) e.artifacts.push({ id, name: strField(a, 'name', MAX_ID) });
    }
  }
  e.traceparent = traceparentOf(objField(t, 'metadata'));
  return e;
}

function status(u: Record<string, unknown>, v: ProtocolVersion): A2aEvent {
  const e = base('status', v);
  e.taskId = strField(u, 'taskId', MAX_ID);
  e.contextId = strField(u, 'contextId', MAX_ID);
  applyStatus(e, objField(u, 'status'));
  e.final = u.final === true;
  e.traceparent = traceparentOf(objField(u, 'metadata'));
  return e;
}

function artifact(u: Record<string, unknown>, v: ProtocolVersion): A2aEvent {
  const e = base('artifact', v);
  e.taskId = strField(u, 'taskId', MAX_ID);
  e.contextId = strField(u, 'contextId', MAX_ID);
  const a = objField(u, 'artifact');
  const id = strField(a, 'artifactId', MAX_ID);
  if (id !== undefined) e.artifacts.push({ id, name: strField(a, 'name', MAX_ID) });
  if (a) e.text = textOf(a);
  return e;
}

function message(m: Record<string, unknown>, v: ProtocolVersion): A2aEvent {
  const e = base('message', v);
  e.taskId = strField(m, 'taskId', MAX_ID);
  e.contextId = strField(m, 'contextId', MAX_ID);
  e.messageId = strField(m, 'messageId', MAX_ID);
  e.role = strField(m, 'role', 64);
  e.text = textOf(m);
  return e;
}

/** The text parts of a message or artifact, joined and cut (both versions spell a text part `text`). */
function textOf(m: Record<string, unknown>): string | undefined {
  if (!Array.isArray(m.parts)) return undefined;
  let out = '';
  for (const part of m.parts.slice(0, 64)) {
    const t = strField(part, 'text', MAX_STRING);
    if (t !== undefined) out += (out ? '\n' : '') + t;
    if (out.length >= MAX_STRING) break;
  }
  return out ? clip(out) : undefined;
}

const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/;

function traceparentOf(meta: Record<string, unknown> | undefined): string | undefined {
  const tp = strField(meta, 'traceparent', 128);
  return tp !== undefined && TRACEPARENT.test(tp.trim().toLowerCase()) ? tp.trim().toLowerCase() : undefined;
}

/** trace id and span id (hex) of a valid traceparent. */
export function parseTraceparent(tp: string): { traceId: string; spanId: string } | undefined {
  const m = TRACEPARENT.exec(tp);
  if (!m || /^0+$/.test(m[1]!) || /^0+$/.test(m[2]!)) return undefined;
  return { traceId: m[1]!, spanId: m[2]! };
}
