// The prometheus exporter: metrics in (consume() updates the series store), scraped out over HTTP.
//
// Files of this component:
//   factory.ts    type, schema, defaults
//   exporter.ts   HTTP server (GET /metrics: format, gzip, chunked with the event loop let run between chunks), expiry sweep, own metrics
//   store.ts      series state: cumulative values, delta → cumulative, expiry, max_series
//   render.ts     text format 0.0.4 and OpenMetrics 1.0 (exemplars), written straight into buffers, exponential → classic buckets
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import zlib from 'node:zlib';
import type { CreateSettings, Exporter, Host } from '../../src/component.js';
import { listen, parseEndpoint } from '../../src/net.js';
import type { ExportMetricsServiceRequest, Telemetry } from '../../src/pdata/telemetry.js';
import type { BoundCounter } from '../../src/telemetry/metrics.js';
import { OPENMETRICS_CONTENT_TYPE, renderChunks, TEXT_CONTENT_TYPE } from './render.js';
import { SeriesStore, type DropReason } from './store.js';

/** Longest a scrape renders, or a request is stored, before letting the event loop run (ms):
 *  5, not 8: at 10,000 points/s the event-loop delay p99 fell from 8-26 ms to 1-16 ms with scrape
 *  times unchanged (bench/prometheus-scrape.ts, bench/README.md). */
const SLICE_MS = 5;

export interface PrometheusExporterConfig {
  endpoint: string;
  namespace: string;
  const_labels: Record<string, string>;
  add_metric_suffixes: boolean;
  metric_expiration: number;
  resource_to_telemetry_conversion: { enabled: boolean };
  send_timestamps: boolean;
  enable_open_metrics: boolean;
  max_series: number;
}

/** The log line for refused series comes at most this often. */
const REFUSED_LOG_INTERVAL_MS = 60_000;

/** Whether the scraper takes OpenMetrics (any `application/openmetrics-text` with q > 0). */
export function wantsOpenMetrics(accept: string | undefined): boolean {
  if (!accept) return false;
  for (const part of accept.split(',')) {
    const [type = '', ...params] = part.split(';').map((x) => x.trim());
    if (type.toLowerCase() !== 'application/openmetrics-text') continue;
    const q = params.find((p) => p.startsWith('q='));
    if (q === undefined || Number(q.slice(2)) > 0) return true;
  }
  return false;
}

export function acceptsGzip(acceptEncoding: string | undefined): boolean {
  if (!acceptEncoding) return false;
  return acceptEncoding.split(',').some((p) => {
    const [enc = '', ...params] = p.split(';').map((x) => x.trim());
    const q = params.find((x) => x.startsWith('q='));
    return enc.toLowerCase() === 'gzip' && (q === undefined || Number(q.slice(2)) > 0);
  });
}

export class PrometheusExporter implements Exporter {
  readonly mutatesData = false;
  readonly store: SeriesStore;
  private server: http.Server | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  private lastRefusedLog = 0;
  private readonly c: { scrapes: BoundCounter; expired: BoundCounter; refused: BoundCounter; points: BoundCounter };
  private readonly droppedCounters = new Map<DropReason, BoundCounter>();
  private readonly scrapeDuration: { observe(v: number): void };
  /** The port actually bound (endpoint port 0 picks one). */
  port = 0;

  constructor(
    private readonly set: CreateSettings,
    private readonly cfg: PrometheusExporterConfig,
  ) {
    this.store = new SeriesStore({
      namespace: cfg.namespace,
      addMetricSuffixes: cfg.add_metric_suffixes,
      constLabels: cfg.const_labels,
      resourceToTelemetry: cfg.resource_to_telemetry_conversion.enabled,
      maxSeries: cfg.max_series,
      expirationMs: cfg.metric_expiration,
    });
    const m = set.metrics;
    this.c = {
      scrapes: m.counter('exporter_prometheus_scrapes', 'Scrapes of the prometheus exporter\'s /metrics answered.'),
      expired: m.counter('exporter_prometheus_expired_series', 'Series forgotten because no point updated them for metric_expiration.'),
      refused: m.counter('exporter_prometheus_overflow_series', 'Points of new series refused because max_series series were held.'),
      points: m.counter('exporter_prometheus_metric_points', 'Metric points taken into the series state.'),
    };
    this.scrapeDuration = m.histogram('exporter_prometheus_scrape_duration_seconds', 'Time to answer a scrape of the prometheus exporter (render, compress, write).', [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]);
    m.gauge('exporter_prometheus_series', 'Series held by the prometheus exporter.', () => this.store.size);
  }

  async start(_host?: Host): Promise<void> {
    const { host, port } = parseEndpoint(this.cfg.endpoint, 8889);
    const server = http.createServer((req, res) => void this.handle(req, res));
    server.keepAliveTimeout = 65_000;
    await listen(server, host, port);
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    const every = Math.max(100, Math.min(this.cfg.metric_expiration / 2, 10_000));
    this.sweeper = setInterval(() => this.sweep(), every);
    this.sweeper.unref();
    this.set.logger.info({ endpoint: `${host}:${this.port}`, open_metrics: this.cfg.enable_open_metrics }, 'Prometheus exporter listening (/metrics)');
  }

  async shutdown(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
    const server = this.server;
    this.server = undefined;
    if (server) {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    }
    this.set.metrics.dispose();
  }

  async consume(batch: Telemetry): Promise<void> {
    if (batch.signal !== 'metrics') return;
    // In slices of SLICE_MS, like a scrape: a 5,000-point request took ~10 ms to store after
    // ~11 ms to decode, and a scrape waited behind each one (bench/prometheus-store.ts). From the
    // encoding, each metric is decoded in its own step.
    const steps = batch.isDecoded ? this.store.steps(batch.request() as ExportMetricsServiceRequest) : this.store.stepsFromProto(batch.toProto());
    let slice = performance.now();
    for (const _ of steps) {
      if (performance.now() - slice >= SLICE_MS) {
        await yieldToLoop();
        slice = performance.now();
      }
    }
    this.c.points.inc(batch.itemCount);
    this.publish();
  }

  /** Counts gathered by the store since the last call, into own metrics (once per batch). */
  private publish(): void {
    const store = this.store;
    if (store.refused > 0) {
      this.c.refused.inc(store.refused);
      const now = Date.now();
      if (now - this.lastRefusedLog >= REFUSED_LOG_INTERVAL_MS) {
        this.lastRefusedLog = now;
        this.set.logger.warn({ max_series: this.cfg.max_series, refused: store.refused }, `max_series (${this.cfg.max_series}) series held: points of new series are refused (counted in fleetcol_exporter_prometheus_overflow_series_total; this line comes at most once a minute)`);
      }
      store.refused = 0;
    }
    if (store.expired > 0) {
      this.c.expired.inc(store.expired);
      store.expired = 0;
    }
    if (store.dropped.size > 0) {
      for (const [reason, n] of store.dropped) {
        let c = this.droppedCounters.get(reason);
        if (c === undefined) {
          c = this.set.metrics.counter('exporter_prometheus_dropped_metric_points', 'Metric points not taken into the series state, by reason (out_of_order, unspecified_temporality, type_conflict, malformed_histogram, ...).', { reason });
          this.droppedCounters.set(reason, c);
        }
        c.inc(n);
      }
      store.dropped.clear();
    }
  }

  private sweep(): void {
    this.store.expire();
    this.publish();
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: GET /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    const started = performance.now();
    const om = this.cfg.enable_open_metrics && wantsOpenMetrics(req.headers.accept);
    const gzip = acceptsGzip(req.headers['accept-encoding']);
    res.writeHead(200, {
      'content-type': om ? OPENMETRICS_CONTENT_TYPE : TEXT_CONTENT_TYPE,
      ...(gzip ? { 'content-encoding': 'gzip' } : {}),
      vary: 'Accept, Accept-Encoding',
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const out: NodeJS.WritableStream = gzip ? zlib.createGzip({ level: 1 }) : res;
    if (gzip) (out as zlib.Gzip).pipe(res);
    let closed = false;
    res.once('close', () => (closed = true));
    try {
      const families = [...this.store.families.values()];
      const notBefore = Date.now() - this.cfg.metric_expiration;
      // Rendering runs in slices of SLICE_MS: between slices, ingestion (and other scrapes) run.
      // A yield per 64 KiB chunk made a scrape wait behind every queued request once per chunk
      // (10k series took 0.6 s under full ingestion load); a time slice bounds both the scrape's
      // turns and how long it holds the loop.
      let slice = performance.now();
      for (const chunk of renderChunks(families, om, this.cfg.send_timestamps, notBefore)) {
        if (closed) break;
        if (!out.write(chunk)) {
          await new Promise<void>((r) => {
            const done = () => {
              out.removeListener('drain', done);
              res.removeListener('close', done);
              r();
            };
            out.once('drain', done);
            res.once('close', done);
          });
        }
        if (performance.now() - slice >= SLICE_MS) {
          await yieldToLoop();
          slice = performance.now();
        }
      }
    } finally {
      out.end();
    }
    this.c.scrapes.inc();
    this.scrapeDuration.observe((performance.now() - started) / 1000);
  }

}
