import { ALERT_RULES_SCHEMA } from '../../src/fleet/alerts.js';
import type { Factory, JsonSchema } from '../../src/component.js';
import { SseExporter, type SseExporterConfig } from './exporter.js';

const duration = (description: string): JsonSchema => ({ type: ['string', 'number'], 'x-duration': true, description });

const schema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    endpoint: { type: 'string', 'x-endpoint': true, description: 'host:port to serve the feed on (default 127.0.0.1:4319).' },
    tls: {
      type: 'object',
      additionalProperties: false,
      required: ['cert_file', 'key_file'],
      description: 'Serve HTTPS with this certificate and key (PEM); HTTP/2 is then offered, with HTTP/1.1 fallback.',
      properties: { cert_file: { type: 'string' }, key_file: { type: 'string' } },
    },
    history: {
      type: 'object',
      additionalProperties: false,
      description: 'Events kept for clients that resume with Last-Event-ID.',
      properties: {
        size: { type: 'integer', minimum: 0, description: 'Most events held (0: no history, no resume).' },
        ttl: duration('Drop held events older than this (0s: keep until size evicts them).'),
        max_bytes: { type: ['string', 'number'], 'x-size': true, description: 'Most bytes of events held; past it the oldest go (one event\'s data is at most 16 KiB: longer strings in it are cut).' },
      },
    },
    client_queue_max_bytes: { type: ['string', 'number'], 'x-size': true, description: 'Bytes a connection may have waiting; past half of it low-lane events are coalesced, past all of it dropped, and a high-lane event that does not fit disconnects the client (at least 32KiB).' },
    flush_interval: duration('Events are written to connections on ticks of this length, at most one write per connection per tick (0s: on the next event-loop turn).'),
    write_window: duration('Low-lane events (span, progress_update, metrics_update, heartbeat) may wait this long for their connection\'s write: connections are visited round-robin, each tick the share of them that the time since the last tick is of the window, so each is written about once per window with everything since its last write, a write carries more events (less CPU per event), and the writes are spread evenly over the window. A tick with a high-lane event writes every connection. At most flush_interval: every connection on every tick.'),
    writers: { type: 'integer', minimum: 0, maximum: 64, description: 'Writer processes: each plain-HTTP stream that starts at the live edge is handed (its socket) to one of them, and every event is forwarded to each; socket writes, most of what a delivery costs, then run on more cores. 0: every stream is written by the exporter\'s own event loop. HTTP/2 streams and streams that resume from the history stay with the exporter; with tls, no writer is started.' },
    heartbeat_interval: duration('`:` comment to idle connections this often (0s: never).'),
    retry: duration('`retry:` sent on connect and after a slow-client disconnect: how long EventSource waits before reconnecting.'),
    shutdown_retry_spread: duration('At a planned shutdown each client gets `retry:` between retry and retry plus this, so they do not all come back at once.'),
    offline_after: duration('An agent with no span, record or metric for this long goes offline (agent_offline).'),
    max_agents: { type: 'integer', minimum: 1, description: 'Agents tracked at most; past it the longest-offline agent is forgotten, or a new one is not tracked.' },
    metrics_interval: duration('metrics_update (fleet figures) this often (0s: never).'),
    max_connections: { type: 'integer', minimum: 0, description: 'Open streams at most (0: no limit); more get 503.' },
    max_connections_per_client: { type: 'integer', minimum: 0, description: 'Open streams per token subject (or per address without auth) at most (0: no limit); more get 429.' },
    cors: {
      type: 'object',
      additionalProperties: false,
      description: 'Cross-origin access for dashboards served elsewhere.',
      properties: {
        allowed_origins: { type: 'array', items: { type: 'string' }, description: 'Origins allowed (exact, or `*`). Listed origins get credentials (cookies); `*` admits any well-formed origin without them (a cross-site page may then read the feed only with a bearer token or ticket of its own).' },
        max_age: duration('How long browsers may cache a preflight answer.'),
      },
    },
    auth: {
      type: 'object',
      additionalProperties: false,
      description: 'Absent: no auth. `jwt`: every request needs a valid JWT (bearer header, cookie, or a ticket from POST /v1/tickets).',
      properties: {
        jwt: {
          type: 'object',
          additionalProperties: false,
          description: 'Exactly one of secret, public_key_file, jwks_url.',
          properties: {
            secret: { type: 'string', description: 'HMAC secret (HS256/384/512).' },
            public_key_file: { type: 'string', description: 'PEM public key (RS*, PS*, ES*, EdDSA).' },
            jwks_url: { type: 'string', description: 'URL of a JWKS (keys picked by kid).' },
            algorithms: { type: 'array', items: { type: 'string' }, description: 'Accepted algorithms (default: any the key supports).' },
            issuer: { type: 'string', description: 'Required `iss`.' },
            audience: { type: 'string', description: 'Required `aud`.' },
            cookie_name: { type: 'string', description: 'Cookie read for the token when there is no Authorization header.' },
            clock_tolerance: duration('Clock skew allowed on exp/nbf.'),
            ticket_ttl: duration('How long a ticket from POST /v1/tickets may be used (once).'),
            agents_claim: { type: 'string', description: 'Claim with the glob patterns of agents the holder may see (absent claim: all).' },
          },
        },
      },
    },
    alerts: ALERT_RULES_SCHEMA,
    dashboard: { type: 'boolean', description: 'Serve the live dashboard at / (agents, event log, alerts, tasks, charts); false: / answers 404.' },
  },
};

export const sseExporterFactory: Factory<SseExporterConfig> = {
  type: 'sse',
  kind: 'exporter',
  description: 'Live Server-Sent-Events feed of agent activity (4319): resumable, authenticated, slow-client safe; agent states, tasks, alerts.',
  signals: ['traces', 'logs', 'metrics'],
  schema,
  createDefaultConfig: () =>
    ({
      endpoint: '127.0.0.1:4319',
      history: { size: 10000, ttl: '0s', max_bytes: '64MiB' },
      client_queue_max_bytes: '1MiB',
      flush_interval: '5ms',
      write_window: '80ms',
      writers: 0,
      heartbeat_interval: '15s',
      retry: '3s',
      shutdown_retry_spread: '10s',
      offline_after: '60s',
      max_agents: 10000,
      metrics_interval: '5s',
      max_connections: 20000,
      max_connections_per_client: 64,
      cors: { allowed_origins: [], max_age: '10m' },
      alerts: [],
      dashboard: true,
    }) as unknown as SseExporterConfig,
  createExporter: (set, cfg) => {
    if (cfg.auth?.jwt) {
      cfg.auth.jwt = { cookie_name: 'fleetcol_token', clock_tolerance: 0, ticket_ttl: 30_000, agents_claim: 'fleetcol_agents', ...(cfg.auth.jwt as Partial<typeof cfg.auth.jwt>) };
    }
    for (const a of cfg.alerts) a.window ??= 60_000;
    cfg.client_queue_max_bytes = Math.max(32 * 1024, cfg.client_queue_max_bytes);
    return new SseExporter(set, cfg);
  },
};
