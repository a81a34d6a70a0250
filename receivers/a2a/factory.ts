import type { Factory, JsonSchema } from '../../src/component.js';
import type { A2aReceiverConfig } from './config.js';
import { A2aReceiver } from './receiver.js';

const duration = (description: string): JsonSchema => ({ type: ['string', 'number'], 'x-duration': true, description });
const size = (description: string): JsonSchema => ({ type: ['string', 'number'], 'x-size': true, description });
const headers: JsonSchema = { type: 'object', additionalProperties: { type: 'string', maxLength: 8192 }, maxProperties: 64, description: 'Extra HTTP headers sent with every request.' };
const url: JsonSchema = { type: 'string', pattern: '^https?://', maxLength: 4096 };

const schema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    agents: {
      type: 'array',
      maxItems: 10000,
      description: 'A2A agents to watch: Agent Card read and re-read, tasks listed (v1.0 ListTasks) and followed over SSE until they end (v1.0 SubscribeToTask / v0.3 tasks/resubscribe, over JSON-RPC or HTTP+JSON).',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['url'],
        properties: {
          url: { ...url, description: 'The agent\'s base URL (its card is at /.well-known/agent-card.json) or its card\'s URL.' },
          name: { type: 'string', maxLength: 256, description: 'gen_ai.agent.id of its records (default: the card\'s name).' },
          headers,
          bearer_token: { type: 'string', description: 'Sent as `Authorization: Bearer <token>`.' },
          protocol_version: { enum: ['1.0', '0.3'], description: 'Speak this version (default: what the card offers first).' },
        },
      },
    },
    tasks: {
      type: 'array',
      maxItems: 10000,
      description: 'Tasks to follow from the start, by agent (its name or url in agents) and task id.',
      items: { type: 'object', additionalProperties: false, required: ['agent', 'id'], properties: { agent: { type: 'string', maxLength: 4096 }, id: { type: 'string', maxLength: 256 } } },
    },
    feeds: {
      type: 'array',
      maxItems: 10000,
      description: 'Plain SSE feeds of named events (task_started, heartbeat, alert, ...), resumed with Last-Event-ID.',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['url'],
        properties: { url, name: { type: 'string', maxLength: 256, description: 'Agent of events that name none (default: the url).' }, headers },
      },
    },
    webhook: {
      type: ['object', 'null'],
      additionalProperties: false,
      description: 'Push-notification webhook (absent: none). Accepts v0.3 Task and v1.0 StreamResponse bodies; `?agent=NAME` names the agent.',
      properties: {
        endpoint: { type: 'string', 'x-endpoint': true, default: '127.0.0.1:4320', description: 'host:port to listen on (default 127.0.0.1:4320).' },
        token: { type: 'string', description: 'Accepted as `X-A2A-Notification-Token` (v0.3) or `Authorization: <scheme> <token>` (v1.0).' },
        jwt: {
          type: 'object',
          additionalProperties: false,
          description: 'Accept `Authorization: Bearer <JWT>` verified with exactly one of secret, public_key_file, jwks_url; exp required.',
          properties: {
            secret: { type: 'string', description: 'HMAC secret.' },
            public_key_file: { type: 'string', description: 'PEM public key.' },
            jwks_url: { type: 'string', description: 'URL of a JWKS.' },
            issuer: { type: 'string', description: 'Required `iss`.' },
            audience: { type: 'string', description: 'Required `aud`.' },
          },
        },
        max_body_size: { ...size('Largest notification body; larger ones get 413 (default 1MiB).'), default: '1MiB' },
        dedupe_size: { type: 'integer', minimum: 0, maximum: 10_000_000, default: 10000, description: 'Bodies remembered to answer repeats without ingesting them again (default 10000).' },
      },
    },
    card_refresh_interval: duration('How often Agent Cards are re-read (never sooner than their Cache-Control max-age; If-None-Match with the ETag).'),
    list_tasks_interval: duration('How often ListTasks is polled for tasks to follow (v1.0 agents; 0 = never).'),
    max_followed_tasks: { type: 'integer', minimum: 0, maximum: 1_000_000, description: 'Tasks followed over SSE at once, across agents; the rest are counted (receiver_a2a_tasks_not_followed).' },
    follow_seen_tasks: {
      type: 'boolean',
      description: 'Follow tasks whose a2a.task.id is seen on spans or log records passing through a genai processor, when the agent they name (gen_ai.agent.id or gen_ai.agent.name) is a watched one (its name, card name or url); counted in receiver_a2a_seen_tasks_followed.',
    },
    max_tracked_tasks: { type: 'integer', minimum: 1, maximum: 10_000_000, description: 'Tasks remembered (state, artifacts, first seen) to report each change once; the oldest are forgotten.' },
    max_card_size: size('Largest Agent Card, JSON-RPC or REST answer read.'),
    max_event_size: size('Largest SSE event; larger ones are counted and skipped.'),
    request_timeout: duration('Time allowed to connect and get an answer (cards, JSON-RPC and REST calls, SSE response headers).'),
    reconnect: {
      type: 'object',
      additionalProperties: false,
      description: 'Reconnection of SSE sources: exponential backoff with full jitter, never sooner than the server\'s `retry:`; retried forever.',
      properties: {
        initial_interval: duration('First backoff cap.'),
        max_interval: duration('Largest backoff cap.'),
      },
    },
  },
};

export const a2aReceiverFactory: Factory<A2aReceiverConfig> = {
  type: 'a2a',
  kind: 'receiver',
  description: 'A2A agents (Agent Cards, tasks followed over SSE, v1.0 and v0.3), plain SSE event feeds, and a push-notification webhook (4320), as log records and task spans.',
  signals: ['logs', 'traces'],
  schema,
  createDefaultConfig: () =>
    ({
      agents: [],
      tasks: [],
      feeds: [],
      card_refresh_interval: '5m',
      list_tasks_interval: '10s',
      max_followed_tasks: 1000,
      follow_seen_tasks: true,
      max_tracked_tasks: 100000,
      max_card_size: '1MiB',
      max_event_size: '1MiB',
      request_timeout: '10s',
      reconnect: { initial_interval: '500ms', max_interval: '30s' },
    }) as unknown as A2aReceiverConfig,
  createReceiver: (set, cfg, next) => new A2aReceiver(set, cfg, next),
};
