// The demo's A2A agent, built with @a2a-js/sdk: a trip planner served over JSON-RPC on a loopback
// port, and a client that sends it a task every few seconds and follows it over the streaming
// method. Each task registers fleetcol's A2A webhook as its push-notification config, so the agent
// POSTs every task update there (`?agent=trip-planner` names it), and fleetcol's a2a receiver turns
// them into task events, as it would for an agent anywhere on the network. @a2a-js/sdk and express
// are devDependencies: demo.ts loads this module only when they are installed.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import express from 'express';
import { Role, TaskState, type AgentCard, type Message, type StreamResponse, type TaskStatus } from '@a2a-js/sdk';
import {
  AgentEvent, DefaultRequestHandler, InMemoryPushNotificationStore, InMemoryTaskStore, V1PushNotificationSerializer,
  type AgentExecutor, type ExecutionEventBus, type PushNotificationSender, type RequestContext, type ServerCallContext,
} from '@a2a-js/sdk/server';
import { UserBuilder, agentCardHandler, jsonRpcHandler } from '@a2a-js/sdk/server/express';
import { ClientFactory } from '@a2a-js/sdk/client';
import { between, chance, pick, type Pace } from './pace.js';

export const A2A_AGENT = 'trip-planner';
const PUSH_TIMEOUT_MS = 5000;

export class A2aStats {
  tasks = 0;
  completed = 0;
  failed = 0;
  pushes = 0;
  pushErrors = 0;
  lastError: string | undefined;
}

const text = (value: string) => ({ content: { $case: 'text' as const, value }, metadata: undefined, filename: '', mediaType: 'text/plain' });

function message(role: Role, value: string, taskId = '', contextId = ''): Message {
  return { messageId: randomUUID(), contextId, taskId, role, parts: [text(value)], metadata: undefined, extensions: [], referenceTaskIds: [] };
}

const TRIPS = [
  { from: 'Lisbon', to: 'Berlin', hotels: 14 },
  { from: 'Madrid', to: 'Oslo', hotels: 9 },
  { from: 'Paris', to: 'Kraków', hotels: 21 },
  { from: 'Dublin', to: 'Vienna', hotels: 17 },
];

/** submitted → working (flights) → working (hotels) → itinerary artifact → completed; now and then failed. */
class TripPlanner implements AgentExecutor {
  constructor(private readonly pace: Pace) {}

  async execute(ctx: RequestContext, bus: ExecutionEventBus): Promise<void> {
    const { taskId, contextId } = ctx;
    const trip = pick(TRIPS);
    const status = (state: TaskState, note?: string): TaskStatus => ({
      state, message: note === undefined ? undefined : message(Role.ROLE_AGENT, note, taskId, contextId), timestamp: new Date().toISOString(),
    });
    const update = (state: TaskState, note: string) => bus.publish(AgentEvent.statusUpdate({ taskId, contextId, status: status(state, note), metadata: undefined }));
    bus.publish(AgentEvent.task({ id: taskId, contextId, status: status(TaskState.TASK_STATE_SUBMITTED), artifacts: [], history: [], metadata: undefined }));
    await this.pace.wait(300);
    update(TaskState.TASK_STATE_WORKING, `Searching flights ${trip.from} → ${trip.to}`);
    await this.pace.wait(between(1000, 2500));
    update(TaskState.TASK_STATE_WORKING, `Comparing ${trip.hotels} hotels in ${trip.to}`);
    await this.pace.wait(between(1000, 2500));
    if (chance(0.12)) {
      update(TaskState.TASK_STATE_FAILED, `No seats left ${trip.from} → ${trip.to} on that date`);
    } else {
      bus.publish(AgentEvent.artifactUpdate({
        taskId, contextId, append: false, lastChunk: true, metadata: undefined,
        artifact: { artifactId: 'itinerary', name: 'itinerary', description: `${trip.from} → ${trip.to}`, parts: [text(`Flight ${trip.from} → ${trip.to}, 3 nights, 1 of ${trip.hotels} hotels`)], metadata: undefined, extensions: [] },
      }));
      update(TaskState.TASK_STATE_COMPLETED, 'Itinerary ready');
    }
    bus.finished();
  }

  async cancelTask(): Promise<void> {}
}

/** Posts each task update to the push-notification configs the client registered, in order per
 *  task, in the SDK's v1.0 form (its own sender logs a line per notification). */
class Pusher implements PushNotificationSender {
  private readonly serializer = new V1PushNotificationSerializer();
  private readonly chains = new Map<string, Promise<void>>();

  constructor(private readonly store: InMemoryPushNotificationStore, private readonly stats: A2aStats) {}

  send(update: StreamResponse, context: ServerCallContext): Promise<void> {
    const p = update.payload;
    const taskId = p === undefined ? '' : p.$case === 'task' ? p.value.id : p.value.taskId;
    if (taskId === '') return Promise.resolve();
    const next = (this.chains.get(taskId) ?? Promise.resolve()).then(() => this.post(taskId, update, context));
    this.chains.set(taskId, next);
    void next.finally(() => {
      if (this.chains.get(taskId) === next) this.chains.delete(taskId);
    });
    return next;
  }

  private async post(taskId: string, update: StreamResponse, context: ServerCallContext): Promise<void> {
    const { body, contentType } = this.serializer.serialize(update);
    for (const cfg of await this.store.load(taskId, context)) {
      try {
        const headers: Record<string, string> = { 'content-type': contentType };
        if (cfg.token) headers['x-a2a-notification-token'] = cfg.token;
        const res = await fetch(cfg.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(PUSH_TIMEOUT_MS) });
        await res.body?.cancel();
        if (!res.ok) throw new Error(`the webhook answered ${res.status}`);
        this.stats.pushes++;
      } catch (err) {
        this.stats.pushErrors++;
        this.stats.lastError = (err as Error).message;
      }
    }
  }

  /** Resolves when every notification under way is sent (or failed). */
  async idle(): Promise<void> {
    while (this.chains.size > 0) await Promise.all(this.chains.values());
  }
}

export interface A2aDemo {
  url: string;
  stats: A2aStats;
  /** Ends the task under way (the pace is stopped by the caller), sends its last notifications and closes the server. */
  stop(): Promise<void>;
}

/** Serves the agent on a loopback port and starts sending it a task every few seconds. */
export async function startA2aDemo(webhook: URL, token: string | undefined, pace: Pace): Promise<A2aDemo> {
  const stats = new A2aStats();
  const store = new InMemoryPushNotificationStore();
  const pusher = new Pusher(store, stats);
  const server = http.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const card: AgentCard = {
    name: 'Trip Planner',
    description: 'Plans trips: flights, hotels, an itinerary',
    supportedInterfaces: [{ url: `${url}/a2a/jsonrpc`, protocolBinding: 'JSONRPC', tenant: '', protocolVersion: '1.0' }],
    provider: undefined,
    version: '1.0.0',
    capabilities: { streaming: true, pushNotifications: true, extensions: [] },
    securitySchemes: {},
    securityRequirements: [],
    defaultInputModes: ['text/plain'],
    defaultOutputModes: ['text/plain'],
    skills: [{ id: 'plan-trip', name: 'plan trip', description: 'Plans a trip', tags: ['travel'], examples: [], inputModes: [], outputModes: [], securityRequirements: [] }],
    signatures: [],
  };
  const handler = new DefaultRequestHandler(card, new InMemoryTaskStore(), new TripPlanner(pace), undefined, store, pusher);
  const app = express();
  app.use('/.well-known/agent-card.json', agentCardHandler({ agentCardProvider: { getAgentCard: () => handler.getAgentCard() } }));
  app.use('/a2a/jsonrpc', jsonRpcHandler({ requestHandler: handler, userBuilder: UserBuilder.noAuthentication }));
  server.on('request', app);

  const push = new URL(webhook);
  push.searchParams.set('agent', A2A_AGENT);
  const client = await new ClientFactory().createFromUrl(url);
  const loop = (async () => {
    while (!pace.stopping) {
      stats.tasks++;
      const trip = pick(TRIPS);
      let last: TaskState | undefined;
      try {
        const stream = client.sendMessageStream({
          tenant: '',
          message: message(Role.ROLE_USER, `Plan 3 nights in ${trip.to} from ${trip.from}, mid-September`),
          configuration: { acceptedOutputModes: ['text/plain'], returnImmediately: false, taskPushNotificationConfig: { tenant: '', id: '', taskId: '', url: push.toString(), token: token ?? '', authentication: undefined } },
          metadata: undefined,
        });
        for await (const ev of stream) {
          const p = ev.payload;
          if (p?.$case === 'statusUpdate') last = p.value.status?.state;
        }
      } catch (err) {
        stats.lastError = `the agent stream: ${(err as Error).message}`;
      }
      if (last === TaskState.TASK_STATE_COMPLETED) stats.completed++;
      else stats.failed++;
      await pace.wait(between(1500, 4000));
    }
  })();

  return {
    url,
    stats,
    stop: async () => {
      await loop.catch(() => {});
      await pusher.idle();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
