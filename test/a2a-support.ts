// A real A2A agent for the a2a receiver tests, built with @a2a-js/sdk (v1.0 server: AgentExecutor,
// DefaultRequestHandler, InMemoryTaskStore, its Express JSON-RPC or HTTP+JSON (REST) handler and its
// agent-card handler, with the SDK's v0.3 compatibility layer switched on), plus helpers to drive it
// and to read what fleetcol sent to the sink.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { TaskState, type AgentCard } from '@a2a-js/sdk';
import { AgentEvent, DefaultRequestHandler, InMemoryTaskStore, type AgentExecutor, type ExecutionEventBus, type RequestContext } from '@a2a-js/sdk/server';
import { UserBuilder, agentCardHandler, jsonRpcHandler, restHandler } from '@a2a-js/sdk/server/express';
import type { KeyValue, LogRecord, Span, Telemetry } from '../src/pdata/telemetry.js';
import type { ExportLogsServiceRequest, ExportTraceServiceRequest } from '../src/pdata/model.js';

export const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

/** Per-message-text gates: a task waits in `working` until its gate is opened. */
export class Gates {
  private readonly gates = new Map<string, { open: () => void; opened: Promise<void> }>();
  private get(name: string) {
    let g = this.gates.get(name);
    if (!g) {
      let open!: () => void;
      const opened = new Promise<void>((r) => (open = r));
      g = { open, opened };
      this.gates.set(name, g);
    }
    return g;
  }
  wait(name: string): Promise<void> {
    return this.get(name).opened;
  }
  open(name: string): void {
    this.get(name).open();
  }
}

const text = (value: string) => ({ content: { $case: 'text' as const, value }, metadata: undefined, filename: '', mediaType: 'text/plain' });

/** Message text `ok:<gate>` runs submitted → working → (gate) → artifact → completed;
 *  `fail:<gate>` runs submitted → working → (gate) → failed; `trace:` prefix puts a traceparent in
 *  the task's metadata. */
export class GatedExecutor implements AgentExecutor {
  constructor(readonly gates: Gates) {}

  async execute(ctx: RequestContext, bus: ExecutionEventBus): Promise<void> {
    const msg = ctx.userMessage.parts.map((p) => (p.content?.$case === 'text' ? p.content.value : '')).join('');
    const traced = msg.startsWith('trace:');
    const [kind, gate] = (traced ? msg.slice(6) : msg).split(':') as [string, string];
    const { taskId, contextId } = ctx;
    const status = (state: TaskState, note?: string) => ({ state, message: note === undefined ? undefined : { messageId: `${taskId}-${state}`, contextId, taskId, role: 2, parts: [text(note)], metadata: undefined, extensions: [], referenceTaskIds: [] }, timestamp: new Date().toISOString() });
    bus.publish(AgentEvent.task({ id: taskId, contextId, status: status(TaskState.TASK_STATE_SUBMITTED), artifacts: [], history: [], metadata: traced ? { traceparent: TRACEPARENT } : undefined }));
    await new Promise((r) => setTimeout(r, 30));
    bus.publish(AgentEvent.statusUpdate({ taskId, contextId, status: status(TaskState.TASK_STATE_WORKING, 'thinking'), metadata: undefined }));
    await this.gates.wait(gate);
    if (kind === 'ok') {
      bus.publish(AgentEvent.artifactUpdate({ taskId, contextId, artifact: { artifactId: 'answer', name: 'answer', description: '', parts: [text('42')], metadata: undefined, extensions: [] }, append: false, lastChunk: true, metadata: undefined }));
      bus.publish(AgentEvent.statusUpdate({ taskId, contextId, status: status(TaskState.TASK_STATE_COMPLETED, 'done'), metadata: undefined }));
    } else {
      bus.publish(AgentEvent.statusUpdate({ taskId, contextId, status: status(TaskState.TASK_STATE_FAILED, 'model refused'), metadata: undefined }));
    }
    bus.finished();
  }

  async cancelTask(): Promise<void> {}
}

export type TestBinding = 'JSONRPC' | 'HTTP+JSON';

export interface TestAgent {
  port: number;
  url: string;
  /** The one binding the card offers and the agent serves. */
  binding: TestBinding;
  /** `METHOD path` of every request the agent answered, oldest first. */
  requests: string[];
  handler: DefaultRequestHandler;
  gates: Gates;
  /** Stops serving (connections cut); the handler and its tasks live on. */
  kill(): Promise<void>;
  /** Serves the same handler again on the same port. */
  restart(): Promise<void>;
}

export async function startAgent(opts: { port?: number; name?: string; binding?: TestBinding } = {}): Promise<TestAgent> {
  const gates = new Gates();
  let port = opts.port ?? 0;
  const binding = opts.binding ?? 'JSONRPC';
  const path = binding === 'JSONRPC' ? '/a2a/jsonrpc' : '/a2a/rest';
  const requests: string[] = [];
  const card = (p: number): AgentCard => ({
    name: opts.name ?? 'Planner Agent',
    description: 'plans',
    supportedInterfaces: [
      { url: `http://127.0.0.1:${p}${path}`, protocolBinding: binding, tenant: '', protocolVersion: '1.0' },
      { url: `http://127.0.0.1:${p}${path}`, protocolBinding: binding, tenant: '', protocolVersion: '0.3' },
    ],
    provider: undefined,
    version: '1.2.3',
    capabilities: { streaming: true, pushNotifications: false, extensions: [] },
    securitySchemes: {},
    securityRequirements: [],
    defaultInputModes: ['text/plain'],
    defaultOutputModes: ['text/plain'],
    skills: [{ id: 'plan', name: 'plan', description: 'plans', tags: [], examples: [], inputModes: [], outputModes: [], securityRequirements: [] }],
    signatures: [],
  });
  // The card names the port, so the handler is made once the port is known.
  let handler: DefaultRequestHandler | undefined;
  const serve = async (): Promise<http.Server> => {
    const app = express();
    app.use((req, _res, next) => {
      requests.push(`${req.method} ${req.path}`);
      next();
    });
    app.use('/.well-known/agent-card.json', agentCardHandler({ agentCardProvider: { getAgentCard: async () => handler!.getAgentCard() }, legacyCompat: { enabled: true } }));
    const options = { requestHandler: handler!, userBuilder: UserBuilder.noAuthentication, legacyCompat: { enabled: true } };
    app.use(path, binding === 'JSONRPC' ? jsonRpcHandler(options) : restHandler(options));
    const server = http.createServer(app);
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
    return server;
  };
  if (port === 0) {
    const probe = http.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
    port = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
  }
  handler = new DefaultRequestHandler(card(port), new InMemoryTaskStore(), new GatedExecutor(gates));
  let server: http.Server | undefined = await serve();
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    binding,
    requests,
    handler,
    gates,
    kill: async () => {
      const s = server;
      server = undefined;
      if (!s) return;
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    },
    restart: async () => {
      server = await serve();
    },
  };
}

/** Starts a task without waiting for it (v1.0 SendMessage, returnImmediately), over the agent's
 *  binding (JSON-RPC, or REST `POST /message:send`). */
export async function sendTask(agent: TestAgent, textOfMessage: string): Promise<{ id: string; contextId: string }> {
  const params = { message: { messageId: `m-${Math.random()}`, role: 'ROLE_USER', parts: [{ text: textOfMessage }] }, configuration: { returnImmediately: true } };
  const rest = agent.binding === 'HTTP+JSON';
  const res = await fetch(rest ? `${agent.url}/a2a/rest/message:send` : `${agent.url}/a2a/jsonrpc`, {
    method: 'POST',
    headers: { 'content-type': rest ? 'application/a2a+json' : 'application/json', 'a2a-version': '1.0' },
    body: JSON.stringify(rest ? params : { jsonrpc: '2.0', id: 1, method: 'SendMessage', params }),
  });
  const body = (await res.json()) as { result?: { task?: { id: string; contextId: string } }; task?: { id: string; contextId: string }; error?: unknown };
  const task = rest ? body.task : body.result?.task;
  if (!task) throw new Error(`SendMessage: ${JSON.stringify(body)}`);
  return task;
}

// ---- reading what reached the sink

export interface Rec {
  event: string;
  severity: number;
  attrs: Record<string, string>;
  resource: Record<string, string>;
  body: string | undefined;
  traceId: string;
}

const flat = (kvs: KeyValue[] | undefined): Record<string, string> => {
  const o: Record<string, string> = {};
  for (const kv of kvs ?? []) {
    const v = kv.value;
    o[kv.key] = v?.stringValue ?? (v?.intValue !== undefined ? String(v.intValue) : v?.doubleValue !== undefined ? String(v.doubleValue) : '');
  }
  return o;
};

export function recordsOf(batches: Telemetry[]): Rec[] {
  const out: Rec[] = [];
  for (const b of batches) {
    const req = b.request() as ExportLogsServiceRequest;
    for (const rl of req.resourceLogs) {
      for (const sl of rl.scopeLogs) {
        for (const r of sl.logRecords as LogRecord[]) {
          const attrs = flat(r.attributes);
          out.push({ event: r.eventName || attrs['event.name'] || '', severity: r.severityNumber, attrs, resource: flat(rl.resource?.attributes), body: r.body?.stringValue, traceId: Buffer.from(r.traceId).toString('hex') });
        }
      }
    }
  }
  return out;
}

export interface SpanRec {
  name: string;
  traceId: string;
  parentSpanId: string;
  status: number;
  start: bigint;
  end: bigint;
  attrs: Record<string, string>;
  resource: Record<string, string>;
}

export function spansOf(batches: Telemetry[]): SpanRec[] {
  const out: SpanRec[] = [];
  for (const b of batches) {
    const req = b.request() as ExportTraceServiceRequest;
    for (const rs of req.resourceSpans) {
      for (const ss of rs.scopeSpans) {
        for (const s of ss.spans as Span[]) {
          out.push({ name: s.name, traceId: Buffer.from(s.traceId).toString('hex'), parentSpanId: Buffer.from(s.parentSpanId).toString('hex'), status: s.status?.code ?? 0, start: s.startTimeUnixNano, end: s.endTimeUnixNano, attrs: flat(s.attributes), resource: flat(rs.resource?.attributes) });
        }
      }
    }
  }
  return out;
}
