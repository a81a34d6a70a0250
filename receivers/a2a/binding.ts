// How a watched agent is asked about its tasks, per protocol binding. JSON-RPC: one POST endpoint,
// v1.0 `ListTasks` / `GetTask` / `SubscribeToTask`, v0.3 `tasks/get` / `tasks/resubscribe`.
// HTTP+JSON (REST): v1.0 `GET /tasks`, `GET /tasks/{id}`, `GET /tasks/{id}:subscribe` (the proto's
// http annotation; the spec's prose says POST, so a 405 switches the method), relative to the
// interface URL; v0.3 the same under `/v1` with POST for subscribe. Both bindings answer with the
// JSON JSON-RPC puts in `result`, so the rest of the receiver reads one shape. An answer that says
// "no" (a JSON-RPC error object, a REST 4xx) is a WireError; anything else that fails is retried.
import type { EventSourceMessage } from 'eventsource-parser';
import { isObject, strField } from './limits.js';
import { readCapped, type SseRequest } from './sse.js';
import { WireError, unwrapRpc, type ProtocolVersion } from './wire.js';

export type BindingName = 'JSONRPC' | 'HTTP+JSON';

export interface Endpoint {
  url: string;
  version: ProtocolVersion;
  binding: BindingName;
}

/** What to do about an answer to a subscription that is no event stream. */
export type Refusal = 'settle' | 'retry';

export interface Binding {
  readonly endpoint: Endpoint;
  /** ListTasks' result (`{ tasks: [...] }`); WireError when the agent cannot list. */
  listTasks(pageSize: number): Promise<unknown>;
  /** GetTask's result (a Task); WireError when the agent does not know the task. */
  getTask(taskId: string): Promise<unknown>;
  /** The request that opens a task's event stream. */
  subscribe(taskId: string): SseRequest;
  /** The payload of one stream event; WireError for an error event. */
  payload(msg: EventSourceMessage): unknown;
  /** A subscription answered with something else (status, body): ask GetTask, or retry. */
  refused(status: number, body: string): Refusal;
}

export interface BindingOptions {
  headers: Record<string, string>;
  maxBytes: number;
  timeoutMs: number;
}

export function bindingFor(endpoint: Endpoint, opts: BindingOptions): Binding {
  return endpoint.binding === 'HTTP+JSON' ? new RestBinding(endpoint, opts) : new JsonRpcBinding(endpoint, opts);
}

/** Normalises a card's binding name: `JSONRPC`, `json-rpc`, `HTTP+JSON`, `http_json`, `REST`. */
export function bindingOf(name: string): BindingName | undefined {
  const n = name.toUpperCase().replace(/[-_ ]/g, '');
  if (n === 'JSONRPC') return 'JSONRPC';
  if (n === 'HTTP+JSON' || n === 'HTTPJSON' || n === 'REST') return 'HTTP+JSON';
  return undefined;
}

class JsonRpcBinding implements Binding {
  private id = 0;

  constructor(readonly endpoint: Endpoint, private readonly o: BindingOptions) {}

  private async call(method: string, params: Record<string, unknown>): Promise<unknown> {
    const res = await fetch(this.endpoint.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', 'a2a-version': this.endpoint.version, ...this.o.headers },
      body: JSON.stringify({ jsonrpc: '2.0', id: ++this.id, method, params }),
      signal: AbortSignal.timeout(this.o.timeoutMs),
    });
    const text = await readCapped(res, this.o.maxBytes);
    return unwrapRpc(JSON.parse(text) as unknown);
  }

  listTasks(pageSize: number): Promise<unknown> {
    return this.call('ListTasks', { pageSize });
  }

  getTask(taskId: string): Promise<unknown> {
    return this.call(this.endpoint.version === '1.0' ? 'GetTask' : 'tasks/get', { id: taskId });
  }

  subscribe(taskId: string): SseRequest {
    const v = this.endpoint.version;
    return {
      url: this.endpoint.url,
      method: 'POST',
      headers: { 'a2a-version': v, ...this.o.headers },
      body: JSON.stringify({ jsonrpc: '2.0', id: ++this.id, method: v === '1.0' ? 'SubscribeToTask' : 'tasks/resubscribe', params: { id: taskId } }),
    };
  }

  payload(msg: EventSourceMessage): unknown {
    return unwrapRpc(JSON.parse(msg.data) as unknown);
  }

  refused(status: number, body: string): Refusal {
    // A JSON-RPC error (task already terminal, unknown, streaming unsupported): ask GetTask.
    return status >= 200 && status < 300 && body.trimStart().startsWith('{') ? 'settle' : 'retry';
  }
}

class RestBinding implements Binding {
  /** Path prefix of the version's resources. */
  private readonly prefix: string;
  private subscribeMethod: 'GET' | 'POST';
  private switched = false;

  constructor(readonly endpoint: Endpoint, private readonly o: BindingOptions) {
    this.prefix = endpoint.url.replace(/\/+$/, '') + (endpoint.version === '0.3' ? '/v1' : '');
    this.subscribeMethod = endpoint.version === '0.3' ? 'POST' : 'GET';
  }

  private async get(path: string): Promise<unknown> {
    const res = await fetch(this.prefix + path, {
      headers: { accept: 'application/a2a+json, application/json', 'a2a-version': this.endpoint.version, ...this.o.headers },
      signal: AbortSignal.timeout(this.o.timeoutMs),
    });
    const text = await readCapped(res, this.o.maxBytes);
    if (res.ok) return JSON.parse(text) as unknown;
    // 4xx: the agent says no (no such task, no such operation, version not supported); 408, 429
    // and 5xx: try again later.
    if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) throw new WireError(`HTTP ${res.status}: ${errorMessage(text)}`);
    throw new Error(`HTTP ${res.status}`);
  }

  listTasks(pageSize: number): Promise<unknown> {
    return this.get(`/tasks?pageSize=${pageSize}`);
  }

  getTask(taskId: string): Promise<unknown> {
    return this.get(`/tasks/${encodeURIComponent(taskId)}`);
  }

  subscribe(taskId: string): SseRequest {
    return { url: `${this.prefix}/tasks/${encodeURIComponent(taskId)}:subscribe`, method: this.subscribeMethod, headers: { 'a2a-version': this.endpoint.version, ...this.o.headers } };
  }

  payload(msg: EventSourceMessage): unknown {
    const p = JSON.parse(msg.data) as unknown;
    if (msg.event === 'error' || (isObject(p) && isObject(p.error))) throw new WireError(`stream error: ${errorMessage(msg.data)}`);
    return p;
  }

  refused(status: number): Refusal {
    if (status === 405 && !this.switched) {
      // The spec's prose and its proto disagree on the method; take the other one, once.
      this.switched = true;
      this.subscribeMethod = this.subscribeMethod === 'GET' ? 'POST' : 'GET';
      return 'retry';
    }
    return status >= 400 && status < 500 && status !== 408 && status !== 429 ? 'settle' : 'retry';
  }
}

/** The message of a google.rpc.Status error body (or of a v0.3 `{ message }`), cut. */
function errorMessage(text: string): string {
  try {
    const j = JSON.parse(text) as unknown;
    const e = isObject(j) && isObject(j.error) ? j.error : j;
    return strField(e, 'message', 256) ?? strField(e, 'detail', 256) ?? '';
  } catch {
    return text.slice(0, 256);
  }
}
