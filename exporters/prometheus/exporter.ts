// The prometheus exporter: metrics in (consume() updates the series store), scraped out over HTTP.
//
// Files of this component:
//   factory.ts    type, schema, defaults
//   exporter.ts   the exporter: the endpoint on its own thread (default) or on the main thread, own metrics
//   endpoint.ts   store + HTTP server (GET /metrics: format, gzip, chunked), expiry sweep, tally of counts
//   thread.ts     the worker thread's side: an endpoint taking stores by message
//   store.ts      series state: cumulative values, delta → cumulative, expiry, max_series
//   render.ts     text format 0.0.4 and OpenMetrics 1.0 (exemplars), written straight into buffers, exponential → classic buckets
import type { Worker } from 'node:worker_threads';
import type { CreateSettings, Exporter, Host } from '../../src/component.js';
import { RetryableError } from '../../src/consumer.js';
import { memoryAccounting } from '../../src/memory.js';
import type { ExportMetricsServiceRequest, Telemetry } from '../../src/pdata/telemetry.js';
import type { BoundCounter } from '../../src/telemetry/metrics.js';
import { siblingModule, startThread } from '../../src/workers/thread.js';
import { MetricsEndpoint, SHARED_LOOP, type PrometheusExporterConfig, type Tally } from './endpoint.js';
import type { DropReason, SeriesStore } from './store.js';
import type { FromThread, ToThread } from './thread.js';

export { acceptsGzip, wantsOpenMetrics, type PrometheusExporterConfig } from './endpoint.js';

/** The log line for refused series comes at most this often. */
const REFUSED_LOG_INTERVAL_MS = 60_000;
/** Request bytes handed to the thread and not yet stored, at most; past it a request is refused as
 *  retryable (the thread is behind). */
const MAX_IN_FLIGHT_BYTES = 64 * 1024 * 1024;
/** The thread's young generation: V8's default size, which gave the best scrape latency with
 *  100,000 series (bench/README.md, "under the launch line's flags"). */
const THREAD_YOUNG_MIB = 48;
/** A thread that died is started again after this long (then, while it cannot listen, up to
 *  MAX_RESTART_MS apart). */
const RESTART_MS = 1000;
const MAX_RESTART_MS = 30_000;
/** A thread that ran this long before it died counts as having run well (its restart is not delayed more). */
const STABLE_MS = 10_000;
const THREAD_MODULE = siblingModule(import.meta.url, './thread');

interface Pending {
  resolve: () => void;
  reject: (err: Error) => void;
  bytes: number;
}

export class PrometheusExporter implements Exporter {
  readonly mutatesData = false;
  /** The endpoint when it runs on the main thread (`worker_thread: false`). */
  private readonly local: MetricsEndpoint | undefined;
  private thread: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private inFlightBytes = 0;
  private series = 0;
  private stopping = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private restartDelay = RESTART_MS / 2;
  private unregister: (() => void) | undefined;
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
    if (!cfg.worker_thread) this.local = new MetricsEndpoint(cfg, SHARED_LOOP, () => this.publish(this.local!.takeTally()));
    const m = set.metrics;
    this.c = {
      scrapes: m.counter('exporter_prometheus_scrapes', 'Scrapes of the prometheus exporter\'s /metrics answered.'),
      expired: m.counter('exporter_prometheus_expired_series', 'Series forgotten because no point updated them for metric_expiration.'),
      refused: m.counter('exporter_prometheus_overflow_series', 'Points of new series refused because max_series series were held.'),
      points: m.counter('exporter_prometheus_metric_points', 'Metric points taken into the series state.'),
    };
    this.scrapeDuration = m.histogram('exporter_prometheus_scrape_duration_seconds', 'Time to answer a scrape of the prometheus exporter (render, compress, write).', [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]);
    m.gauge('exporter_prometheus_series', 'Series held by the prometheus exporter.', () => this.series);
  }

  /** The series state, when the endpoint runs on the main thread (tests). */
  get store(): SeriesStore {
    if (this.local === undefined) throw new Error('the store is on the exporter\'s thread (worker_thread: true)');
    return this.local.store;
  }

  async start(_host?: Host): Promise<void> {
    if (this.local !== undefined) {
      await this.local.start();
      this.port = this.local.port;
      this.set.logger.info({ endpoint: `${this.local.host}:${this.port}`, open_metrics: this.cfg.enable_open_metrics }, 'Prometheus exporter listening (/metrics)');
      return;
    }
    await this.startThread(this.cfg);
    this.unregister = memoryAccounting.register('exporter', this.set.id, () => this.inFlightBytes);
  }

  /** Starts the thread; resolves once it listens, rejects (thread stopped) if it cannot. */
  private startThread(cfg: PrometheusExporterConfig): Promise<void> {
    const w = startThread(THREAD_MODULE, { cfg }, THREAD_YOUNG_MIB);
    this.thread = w;
    return new Promise<void>((resolve, reject) => {
      let listening = false;
      let listeningAt = 0;
      w.on('message', (m: FromThread) => {
        switch (m.t) {
          case 'listening':
            listening = true;
            listeningAt = performance.now();
            this.port = m.port;
            this.set.logger.info({ endpoint: `${m.host}:${m.port}`, open_metrics: this.cfg.enable_open_metrics, thread: w.threadId }, 'Prometheus exporter listening (/metrics, on its own thread)');
            resolve();
            break;
          case 'failed':
            void w.terminate();
            reject(new Error(m.message));
            break;
          case 'stored':
            this.settle(m.id)?.resolve();
            this.publish(m.tally);
            break;
          case 'store_failed':
            this.settle(m.id)?.reject(new Error(`prometheus exporter: ${m.message}`));
            break;
          case 'tally':
            this.publish(m.tally);
            break;
          case 'closed':
            break;
        }
      });
      const died = (why: string) => {
        if (!listening) reject(new Error(`the prometheus exporter's thread ${why} before listening`));
        if (this.thread !== w) return;
        this.thread = undefined;
        this.failPending(`the prometheus exporter's thread ${why}`);
        if (!listening || this.stopping) return;
        // Series are lost with it; cumulative senders restore theirs with their next points.
        this.series = 0;
        // A thread that dies soon after it started is started again later each time.
        this.restartDelay = performance.now() - listeningAt < STABLE_MS ? Math.min(MAX_RESTART_MS, this.restartDelay * 2) : RESTART_MS;
        this.set.logger.error({ why, restart_in_ms: this.restartDelay }, 'prometheus exporter: its thread stopped; starting it again (series held are lost until points come again)');
        this.restartLater(this.restartDelay);
      };
      w.on('error', (err) => died(`failed: ${err.message}`));
      w.on('exit', (code) => died(`exited (code ${code})`));
    });
  }

  /** Starts the thread again after `delayMs`, on the same port (a port 0 endpoint keeps the one it
   *  was given); if it cannot listen, tries again, waiting twice as long each time, up to 30 s. */
  private restartLater(delayMs: number): void {
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.stopping) return;
      this.startThread({ ...this.cfg, endpoint: this.cfg.endpoint.replace(/:0$/, `:${this.port}`) }).catch((err: Error) => {
        this.set.logger.error({ err: err.message, retry_in_ms: Math.min(MAX_RESTART_MS, delayMs * 2) }, 'prometheus exporter: its thread could not start again');
        if (!this.stopping) this.restartLater(Math.min(MAX_RESTART_MS, delayMs * 2));
      });
    }, delayMs);
    this.restartTimer.unref();
  }

  private settle(id: number): Pending | undefined {
    const p = this.pending.get(id);
    if (p === undefined) return undefined;
    this.pending.delete(id);
    this.inFlightBytes -= p.bytes;
    return p;
  }

  private failPending(why: string): void {
    for (const id of [...this.pending.keys()]) this.settle(id)!.reject(new RetryableError(why, { retryAfterMs: RESTART_MS }));
  }

  async shutdown(): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    await this.local?.close();
    const w = this.thread;
    if (w !== undefined) {
      // Let the thread store and answer what it was given and close its server, then stop it.
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          w.off('message', onMessage);
          w.off('exit', done);
          resolve();
        };
        const onMessage = (m: FromThread) => {
          if (m.t === 'closed') done();
        };
        const timer = setTimeout(done, this.set.shutdownTimeoutMs);
        w.on('message', onMessage);
        w.once('exit', done);
        w.postMessage({ t: 'close' } satisfies ToThread);
      });
      this.thread = undefined;
      await w.terminate();
      this.failPending('the prometheus exporter is shutting down');
    }
    this.unregister?.();
    this.set.metrics.dispose();
  }

  async consume(batch: Telemetry): Promise<void> {
    if (batch.signal !== 'metrics') return;
    if (this.local !== undefined) {
      await this.local.consume(batch.isDecoded ? (batch.request() as ExportMetricsServiceRequest) : batch.toProto(), batch.itemCount);
      this.publish(this.local.takeTally());
      return;
    }
    if (this.stopping) throw new RetryableError('the prometheus exporter is shutting down');
    const w = this.thread;
    if (w === undefined) throw new RetryableError('the prometheus exporter\'s thread is starting again', { retryAfterMs: RESTART_MS });
    const size = batch.byteSize;
    if (this.inFlightBytes > 0 && this.inFlightBytes + size > MAX_IN_FLIGHT_BYTES) {
      throw new RetryableError(`the prometheus exporter's thread is behind (${this.inFlightBytes} bytes not yet stored)`, { retryAfterMs: 100 });
    }
    // A copy the thread takes over (the batch's bytes may be a view of a larger buffer, or shared
    // with other exporters): merged parts are joined in the copy.
    const bytes = new Uint8Array(size);
    let at = 0;
    for (const p of batch.protoParts()) {
      bytes.set(p, at);
      at += p.length;
    }
    const id = ++this.nextId;
    this.inFlightBytes += size;
    const done = new Promise<void>((resolve, reject) => this.pending.set(id, { resolve, reject, bytes: size }));
    w.postMessage({ t: 'store', id, bytes, points: batch.itemCount } satisfies ToThread, [bytes.buffer]);
    return done;
  }

  /** Counts from the endpoint into own metrics. */
  private publish(t: Tally): void {
    this.series = t.series;
    if (t.points > 0) this.c.points.inc(t.points);
    if (t.scrapes > 0) this.c.scrapes.inc(t.scrapes);
    for (const s of t.scrapeSeconds) this.scrapeDuration.observe(s);
    if (t.expired > 0) this.c.expired.inc(t.expired);
    if (t.refused > 0) {
      this.c.refused.inc(t.refused);
      const now = Date.now();
      if (now - this.lastRefusedLog >= REFUSED_LOG_INTERVAL_MS) {
        this.lastRefusedLog = now;
        this.set.logger.warn({ max_series: this.cfg.max_series, refused: t.refused }, `max_series (${this.cfg.max_series}) series held: points of new series are refused (counted in fleetcol_exporter_prometheus_overflow_series_total; this line comes at most once a minute)`);
      }
    }
    for (const [reason, n] of t.dropped) {
      let c = this.droppedCounters.get(reason);
      if (c === undefined) {
        c = this.set.metrics.counter('exporter_prometheus_dropped_metric_points', 'Metric points not taken into the series state, by reason (out_of_order, unspecified_temporality, type_conflict, malformed_histogram, ...).', { reason });
        this.droppedCounters.set(reason, c);
      }
      c.inc(n);
    }
  }
}
