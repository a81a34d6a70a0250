// The series store and its GET /metrics, wherever they run: on the main thread, or on the
// exporter's own worker thread (thread.ts). Own metrics are gathered as a tally the exporter takes
// into its counters, so the same code serves both places.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { pipeline } from 'node:stream';
import zlib from 'node:zlib';
import { listen, parseEndpoint } from '../../src/net.js';
import type { ExportMetricsServiceRequest } from '../../src/pdata/telemetry.js';
import { OPENMETRICS_CONTENT_TYPE, renderChunks, TEXT_CONTENT_TYPE } from './render.js';
import { SeriesStore, type DropReason } from './store.js';

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
  /** the store and the scrapes on a worker thread of their own (default) */
  worker_thread: boolean;
}

/** How the endpoint shares its thread. */
export interface Pacing {
  /** Longest a request is stored, or a scrape written, before the event loop is let run (ms). */
  storeSliceMs: number;
  scrapeSliceMs: number;
  /** Scrape bytes a connection may hold unsent before the scrape waits for it to drain. */
  maxUnsentBytes: number;
  /** Once a scrape is written, stores wait up to this long (ms) for its bytes to leave (0: never). */
  holdStoresForScrapeMs: number;
}

/** On the main thread: 5-ms slices (at 10,000 points/s the event-loop delay p99 fell from 8-26 ms
 *  with 8-ms slices to 1-16 ms, scrape times unchanged: bench/README.md), and a scrape waits for
 *  each chunk to drain. */
export const SHARED_LOOP: Pacing = { storeSliceMs: 5, scrapeSliceMs: 5, maxUnsentBytes: 0, holdStoresForScrapeMs: 0 };

/** Counts since the last take, for the exporter's own metrics. */
export interface Tally {
  points: number;
  scrapes: number;
  scrapeSeconds: number[];
  refused: number;
  expired: number;
  dropped: Array<[DropReason, number]>;
  /** series held now */
  series: number;
}

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

export class MetricsEndpoint {
  readonly store: SeriesStore;
  private server: http.Server | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  private points = 0;
  private scrapes = 0;
  private scrapeSeconds: number[] = [];
  /** scrapes written whose bytes have not all left, and when stores stop waiting for them */
  private sending = 0;
  private holdUntil = 0;
  /** the wait stores share while a hold lasts: over when the scrapes' bytes have left, or at its end */
  private hold: { promise: Promise<void>; release: () => void; timer: NodeJS.Timeout } | undefined;
  /** The port actually bound (endpoint port 0 picks one). */
  port = 0;
  host = '';

  constructor(
    private readonly cfg: PrometheusExporterConfig,
    private readonly pacing: Pacing,
    /** called when a scrape or a sweep changed the tally (stores are reported by their caller) */
    private readonly onTally: () => void = () => {},
  ) {
    this.store = new SeriesStore({
      namespace: cfg.namespace,
      addMetricSuffixes: cfg.add_metric_suffixes,
      constLabels: cfg.const_labels,
      resourceToTelemetry: cfg.resource_to_telemetry_conversion.enabled,
      maxSeries: cfg.max_series,
      expirationMs: cfg.metric_expiration,
    });
  }

  async start(): Promise<void> {
    const { host, port } = parseEndpoint(this.cfg.endpoint, 8889);
    const server = http.createServer((req, res) => {
      this.handle(req, res).catch(() => res.destroy());
    });
    server.keepAliveTimeout = 65_000;
    await listen(server, host, port);
    this.server = server;
    this.host = host;
    this.port = (server.address() as AddressInfo).port;
    const every = Math.max(100, Math.min(this.cfg.metric_expiration / 2, 10_000));
    this.sweeper = setInterval(() => this.sweep(), every);
    this.sweeper.unref();
  }

  async close(): Promise<void> {
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
  }

  /** Takes a request into the store: a decoded tree, or a validated encoding (each metric decoded
   *  in its own step), in slices of `storeSliceMs`. A 5,000-point request took ~10 ms to store after
   *  ~11 ms to decode, and a scrape on the same thread waited behind it (bench/prometheus-store.ts). */
  async consume(req: ExportMetricsServiceRequest | Uint8Array, points: number): Promise<void> {
    const steps = req instanceof Uint8Array ? this.store.stepsFromProto(req) : this.store.steps(req);
    const sliceMs = this.pacing.storeSliceMs;
    let slice = performance.now();
    for (const _ of steps) {
      if (performance.now() - slice >= sliceMs) {
        await yieldToLoop();
        if (this.sending > 0) await this.scrapesSent();
        slice = performance.now();
      }
    }
    this.points += points;
  }

  /** Until the written scrapes' bytes have left, or their hold is over: their socket is flushed
   *  only between this thread's turns, and with stores queued at full load each turn was a store
   *  slice, so a written 12 MiB scrape took ~60 ms more to reach the scraper (bench/README.md). */
  private scrapesSent(): Promise<void> {
    const left = this.holdUntil - performance.now();
    if (left <= 0) return Promise.resolve();
    if (this.hold === undefined) {
      let release!: () => void;
      const promise = new Promise<void>((r) => (release = r));
      this.hold = { promise, release, timer: setTimeout(() => this.endHold(), left) };
    }
    return this.hold.promise;
  }

  private endHold(): void {
    const h = this.hold;
    this.hold = undefined;
    if (h === undefined) return;
    clearTimeout(h.timer);
    h.release();
  }

  private scrapeSent(): void {
    if (--this.sending === 0) this.endHold();
  }

  /** The counts since the last call. */
  takeTally(): Tally {
    const store = this.store;
    const t: Tally = {
      points: this.points,
      scrapes: this.scrapes,
      scrapeSeconds: this.scrapeSeconds,
      refused: store.refused,
      expired: store.expired,
      dropped: [...store.dropped],
      series: store.size,
    };
    this.points = this.scrapes = 0;
    this.scrapeSeconds = [];
    store.refused = store.expired = 0;
    store.dropped.clear();
    return t;
  }

  private sweep(): void {
    if (this.store.expire() > 0) this.onTally();
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
    const out: NodeJS.WritableStream & { writableLength: number } = gzip ? zlib.createGzip({ level: 1 }) : res;
    // pipeline: a client that leaves also ends the gzip stream (its buffered input and zlib state).
    if (gzip) pipeline(out as zlib.Gzip, res, () => {});
    let closed = false;
    res.once('close', () => (closed = true));
    const { scrapeSliceMs, maxUnsentBytes } = this.pacing;
    try {
      const families = [...this.store.families.values()];
      const notBefore = Date.now() - this.cfg.metric_expiration;
      // On a shared loop a scrape is written in slices: between them, ingestion (and other
      // scrapes) run. A yield per 64 KiB chunk made a scrape wait behind every queued request once
      // per chunk (10k series took 0.6 s under full ingestion load); a time slice bounds both the
      // scrape's turns and how long it holds the loop. On its own thread it is written at once.
      let slice = performance.now();
      for (const chunk of renderChunks(families, om, this.cfg.send_timestamps, notBefore)) {
        if (closed) break;
        if (!out.write(chunk) && out.writableLength > maxUnsentBytes) {
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
        if (performance.now() - slice >= scrapeSliceMs) {
          await yieldToLoop();
          slice = performance.now();
        }
      }
    } finally {
      out.end();
    }
    const hold = this.pacing.holdStoresForScrapeMs;
    // Gzip's bytes reach the response later (zlib works off the loop): held until it finishes.
    if (hold > 0 && !closed && (gzip || res.writableLength > 0) && !res.writableFinished) {
      this.sending++;
      this.holdUntil = Math.max(this.holdUntil, performance.now() + hold);
      let once = false;
      const sent = () => {
        if (once) return;
        once = true;
        this.scrapeSent();
      };
      res.once('finish', sent);
      res.once('close', sent);
    }
    this.scrapes++;
    this.scrapeSeconds.push((performance.now() - started) / 1000);
    this.onTally();
  }
}
