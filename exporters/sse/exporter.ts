// The sse exporter: telemetry in (traces, logs, metrics), feed events out over HTTP. Ties the
// fleet model (src/fleet: events, agent states, alerts), the hub (ids, history, fan-out) and the server.
//
// Files of this component:
//   factory.ts    type, schema, defaults
//   exporter.ts   ties the parts together; timers (offline sweep and alerts each second, heartbeat, metrics_update); metrics
//   (src/fleet/model.ts: telemetry → fleet events, the agent state machine and alert windows, shared
//   with the fleet connector)
//   event.ts      event types, lanes, severities, ids (<epoch>-<seq>), the wire form (encoded once)
//   history.ts    ring of the last history.size events (and history.ttl), indexed by seq
//   hub.ts        ids, history, client registry, fan-out on flush ticks (connections written round-robin about once per write_window; a run of events' bytes shared by every client that follows everything)
//   client.ts     one connection: filter, position (last seq), catch-up from history (paced), live delivery
//   writer.ts     the byte-bounded queue and its lanes
//   writers.ts    writer processes (`writers: N`): plain-HTTP streams handed over with their socket, the event stream forwarded
//   writer-process.ts  a writer process's entry: its own hub for the streams it was handed
//   transport.ts  HTTP/1.1 socket (our own head, then raw bytes) or HTTP/2 stream
//   handler.ts    HTTP: /v1/events, /v1/agents, /v1/tickets, /, CORS; limits
//   auth.ts       JWT (jose): secret, public key file or JWKS URL; bearer, cookie, tickets; fleetcol_agents scope
//   errors.ts     stable error codes (FLEETCOL_SSE_*) and their JSON body
//   dashboard/    the page at / : app/ (Preact + uPlot, TypeScript) bundled by build.ts at `npm run build`
//                 into dist; assets.ts serves the built files
import type { CreateSettings, Exporter, Host } from '../../src/component.js';
import type { ExportLogsServiceRequest, ExportMetricsServiceRequest, ExportTraceServiceRequest, Telemetry } from '../../src/pdata/telemetry.js';
import type { BoundCounter } from '../../src/telemetry/metrics.js';
import type { AlertRule } from '../../src/fleet/alerts.js';
import { JwtAuth, type JwtConfig } from './auth.js';
import { retryLine } from './event.js';
import { Fleet } from '../../src/fleet/model.js';
import { SseServer, type ServerConfig } from './handler.js';
import { ASSETS_DIR, DashboardAssets } from './dashboard/assets.js';
import { Hub } from './hub.js';
import { WriterPool } from './writers.js';
import { memoryAccounting } from '../../src/memory.js';

export interface SseExporterConfig extends ServerConfig {
  history: { size: number; ttl: number; max_bytes: number };
  flush_interval: number;
  write_window: number;
  writers: number;
  shutdown_retry_spread: number;
  offline_after: number;
  max_agents: number;
  metrics_interval: number;
  auth?: { jwt?: JwtConfig };
  alerts: AlertRule[];
}

/** The page's URL as a browser on this machine reaches it: a wildcard address (0.0.0.0, ::) becomes
 *  loopback, an IPv6 literal is bracketed. */
export function dashboardUrl(host: string, port: number, tls: boolean): string {
  const shown = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '[::1]' : host.includes(':') ? `[${host}]` : host;
  return `${tls ? 'https' : 'http'}://${shown}:${port}/`;
}

export class SseExporter implements Exporter {
  readonly mutatesData = false;
  private hub: Hub | undefined;
  private unregisterMemory: (() => void) | undefined;
  private fleet: Fleet | undefined;
  private server: SseServer | undefined;
  private writers: WriterPool | undefined;
  private timers: NodeJS.Timeout[] = [];
  private last = { published: 0, dropped: 0, coalesced: 0, slow: 0, connections: 0, authFailures: 0, badRequests: 0 };
  private readonly c: Record<'published' | 'deliveries' | 'dropped' | 'coalesced' | 'slow' | 'connections' | 'authFailures' | 'badRequests', BoundCounter>;
  /** The port actually bound (endpoint port 0 picks one). */
  port = 0;

  constructor(
    private readonly set: CreateSettings,
    private readonly cfg: SseExporterConfig,
  ) {
    const m = set.metrics;
    this.c = {
      published: m.counter('exporter_sse_events_published', 'Feed events published (given an id).'),
      deliveries: m.counter('exporter_sse_deliveries', 'Live feed events handed to connections.'),
      dropped: m.counter('exporter_sse_low_lane_dropped', 'Low-lane events not sent to a slow connection.'),
      coalesced: m.counter('exporter_sse_low_lane_coalesced', 'Low-lane events replaced by a later one of the same agent for a slow connection.'),
      slow: m.counter('exporter_sse_slow_disconnects', 'Connections closed because a high-lane event did not fit their queue.'),
      connections: m.counter('exporter_sse_connections', 'Streams opened.'),
      authFailures: m.counter('exporter_sse_auth_failures', 'Requests refused for missing, invalid or expired credentials.'),
      badRequests: m.counter('exporter_sse_bad_requests', 'Requests refused as malformed (400): a filter, query or header value outside its allowed set or length.'),
    };
  }

  async start(_host?: Host): Promise<void> {
    const cfg = this.cfg;
    const hub = new Hub({ historySize: cfg.history.size, historyTtlMs: cfg.history.ttl, historyMaxBytes: cfg.history.max_bytes, flushIntervalMs: cfg.flush_interval, writeWindowMs: cfg.write_window });
    const fleet = new Fleet({ offlineAfterMs: cfg.offline_after, maxAgents: cfg.max_agents, alerts: cfg.alerts }, (ev) => hub.publish(ev));
    const auth = cfg.auth?.jwt ? new JwtAuth(cfg.auth.jwt) : undefined;
    hub.onSlow = () => retryLine(cfg.retry);
    const writeDelay = this.set.metrics.histogram(
      'exporter_sse_write_delay_seconds',
      'Per flush tick that wrote live events: how long the oldest of them had waited since it was published when the tick\'s writes were handed to the kernel (write_window plus any lag of the event loop).',
      [0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.09, 0.1, 0.11, 0.125, 0.15, 0.2, 0.25, 0.5, 1, 2.5, 5],
    );
    hub.onTick = (ms) => writeDelay.observe(ms / 1000);
    let writers: WriterPool | undefined;
    if (cfg.writers > 0 && cfg.tls) {
      // Writers take plain-HTTP/1.1 streams only (a TLS or HTTP/2 stream cannot change process).
      this.set.logger.warn({ writers: cfg.writers }, 'SSE writers are not started: with tls every stream stays in the exporter');
    } else if (cfg.writers > 0) {
      writers = new WriterPool(cfg.writers, {
        t: 'init', historySize: cfg.history.size, historyTtlMs: cfg.history.ttl, historyMaxBytes: cfg.history.max_bytes, flushIntervalMs: cfg.flush_interval, writeWindowMs: cfg.write_window,
        epochMs: Number(hub.ids.epoch), maxBytes: cfg.client_queue_max_bytes, retryMs: cfg.retry, heartbeatMs: cfg.heartbeat_interval,
      }, this.set.logger);
      await writers.start();
      hub.onPublish = (p) => writers!.publish(p);
      writers.onDelay = (ms) => writeDelay.observe(ms / 1000);
      this.writers = writers;
    }
    // Read once here; a missing build is said now, and / answers 503 saying it too.
    const assets = cfg.dashboard ? DashboardAssets.load() : undefined;
    if (cfg.dashboard && !assets) this.set.logger.warn({ dir: ASSETS_DIR }, 'SSE dashboard files not found (run `npm run build`): / answers 503');
    const server = new SseServer(cfg, hub, fleet, auth, this.set.logger, writers, assets);
    let host: string, port: number;
    try {
      ({ host, port } = await server.start());
    } catch (err) {
      await writers?.close(cfg.retry, 0, 0, 1000); // no orphans when the port is taken
      this.writers = undefined;
      throw err;
    }
    this.port = port;
    // The line a newcomer looks for after `npm start` (none when `dashboard: false` removes the page).
    if (cfg.dashboard) this.set.logger.info(`dashboard: ${dashboardUrl(host, port, !!cfg.tls)}`);
    this.hub = hub;
    this.unregisterMemory = memoryAccounting.register('exporter', this.set.id, () => hub.heldBytes());
    this.fleet = fleet;
    this.server = server;
    const m = this.set.metrics;
    m.gauge('exporter_sse_clients', 'Open feed streams (writer processes\' included).', () => server.streams());
    m.gauge('exporter_sse_history_events', 'Events held for resuming clients.', () => hub.history.length);
    m.gauge('exporter_sse_history_bytes', 'Bytes of the events held for resuming clients.', () => hub.history.bytes);
    m.gauge('exporter_sse_write_window_seconds', 'The write window the pace follows (the longest among the writer processes\' too): write_window, or longer while a round of writes would not fit in 75 % of it.', () => Math.max(hub.effectiveWindowMs, this.writers?.windowMs ?? 0) / 1000);
    m.gauge('exporter_sse_agents', 'Agents known to the feed.', () => fleet.agents.byId.size);
    const every = (ms: number, fn: () => void) => {
      const t = setInterval(fn, ms);
      t.unref();
      this.timers.push(t);
    };
    every(1000, () => {
      fleet.tick(Date.now());
      this.publishCounters();
    });
    if (cfg.heartbeat_interval > 0) every(cfg.heartbeat_interval, () => hub.heartbeat());
    if (cfg.metrics_interval > 0) every(cfg.metrics_interval, () => hub.publish(fleet.metricsUpdate(Date.now(), server.streams())));
  }

  private publishCounters(): void {
    const hub = this.hub!;
    const s = this.server!;
    const w = this.writers?.totals ?? { deliveries: 0, dropped: 0, coalesced: 0, slow: 0 };
    const now = { published: hub.counters.published, dropped: hub.counters.dropped + w.dropped, coalesced: hub.counters.coalesced + w.coalesced, slow: hub.counters.slowDisconnects + w.slow, connections: s.counters.connections, authFailures: s.counters.authFailures, badRequests: s.counters.badRequests };
    for (const k of Object.keys(now) as (keyof typeof now)[]) {
      const d = now[k] - this.last[k];
      if (d > 0) this.c[k].inc(d);
    }
    this.last = now;
    const delivered = hub.collectDeliveries() + w.deliveries;
    w.deliveries = 0;
    if (delivered > 0) this.c.deliveries.inc(delivered);
  }

  async consume(batch: Telemetry): Promise<void> {
    const fleet = this.fleet;
    if (!fleet) return;
    const now = Date.now();
    if (batch.signal === 'traces') fleet.traces(batch.request() as ExportTraceServiceRequest, now);
    else if (batch.signal === 'logs') fleet.logs(batch.request() as ExportLogsServiceRequest, now);
    else fleet.metrics(batch.request() as ExportMetricsServiceRequest, now);
  }

  async shutdown(): Promise<void> {
    for (const t of this.timers.splice(0)) clearInterval(t);
    if (this.server) {
      await this.server.stop(this.cfg.shutdown_retry_spread, this.set.shutdownTimeoutMs);
      this.publishCounters(); // with what the streams and the writers did while closing
    }
    this.hub?.stop();
    this.unregisterMemory?.();
    this.server = undefined;
    this.writers = undefined;
    this.hub = undefined;
    this.fleet = undefined;
    this.set.metrics.dispose();
  }
}
