// The running daemon: own telemetry, the pipeline graph, and reload. A reload builds the new graph
// from a config that has already validated; if it fails to start, the old config comes back.
import type { Logger } from 'pino';
import type { ResolvedConfig } from '../config/load.js';
import { MetricsRegistry } from '../telemetry/metrics.js';
import { ProcessMetrics } from '../telemetry/process.js';
import { TelemetryServer } from '../telemetry/server.js';
import { startSelfTracing, type SelfTracing } from '../telemetry/tracing.js';
import { WorkerPool } from '../workers/pool.js';
import { memoryAccounting } from '../memory.js';
import { Graph } from './graph.js';

/** How long past service.shutdown_timeout shutdown may take before it is cut short. */
const SHUTDOWN_GRACE_MS = 10_000;

export class Service {
  readonly metrics = new MetricsRegistry();
  private graph: Graph | undefined;
  /** The worker threads of the running graph (one pool per graph: a reload may resize it). */
  private workers: WorkerPool | undefined;
  private telemetry: TelemetryServer | undefined;
  private tracing: SelfTracing | undefined;
  private processMetrics: ProcessMetrics | undefined;
  private config: ResolvedConfig;

  constructor(
    config: ResolvedConfig,
    private readonly logger: Logger,
  ) {
    this.config = config;
  }

  async start(): Promise<void> {
    const address = this.config.service.telemetry.metrics.address;
    if (this.config.service.telemetry.metrics.level !== 'none') {
      this.telemetry = new TelemetryServer(address, this.metrics, this.logger.child({ kind: 'telemetry' }));
      await this.telemetry.start();
      this.processMetrics = new ProcessMetrics(this.metrics);
    }
    this.tracing = await startSelfTracing(this.config.service.telemetry.traces, this.logger.child({ kind: 'telemetry' }));
    await this.startGraph(this.config);
  }

  private async startGraph(config: ResolvedConfig): Promise<void> {
    const workers = new WorkerPool(config.service.workers, this.logger.child({ kind: 'workers' }), this.metrics);
    const graph = new Graph(config, this.logger, this.metrics, workers);
    try {
      graph.build();
      await graph.start();
    } catch (err) {
      await workers.close();
      throw err;
    }
    this.graph = graph;
    this.workers = workers;
    if (this.telemetry) this.telemetry.ready = true;
    const p = config.service.pipelines.map((x) => x.id).join(', ');
    this.logger.info({ pipelines: config.service.pipelines.map((x) => x.id) }, `fleetcol is running (pipelines: ${p})`);
  }

  /** Swaps in a new (already valid) config; on failure to start it, restarts the previous one. */
  async reload(next: ResolvedConfig): Promise<boolean> {
    const previous = this.config;
    if (this.telemetry) this.telemetry.ready = false;
    await this.stopGraph();
    try {
      await this.startGraph(next);
      this.config = next;
      return true;
    } catch (err) {
      this.logger.error({ err: (err as Error).message }, 'new config failed to start; going back to the previous one');
      await this.startGraph(previous);
      return false;
    }
  }

  private async stopGraph(): Promise<void> {
    await this.graph?.shutdown();
    this.graph = undefined;
    await this.workers?.close();
    this.workers = undefined;
  }

  async shutdown(): Promise<void> {
    if (this.telemetry) this.telemetry.ready = false;
    // Components share service.shutdown_timeout (see Graph); receivers may add up to 5 s for calls
    // in flight. Past that and a grace period, something hangs: say what was still held and go.
    const limit = this.config.service.shutdownTimeoutMs + SHUTDOWN_GRACE_MS;
    let timer: NodeJS.Timeout | undefined;
    const hung = new Promise<'hung'>((r) => (timer = setTimeout(() => r('hung'), limit)));
    const outcome = await Promise.race([this.stopGraph().then(() => 'stopped' as const), hung]);
    clearTimeout(timer);
    if (outcome === 'hung') {
      const held = memoryAccounting.snapshot().filter((h) => h.bytes > 0);
      this.logger.error({ after_ms: limit, held }, `shutdown did not finish within shutdown_timeout + ${SHUTDOWN_GRACE_MS / 1000} s; stopping anyway (data still held in memory is lost: ${held.map((h) => `${h.kind} ${h.id}: ${h.bytes} bytes`).join(', ') || 'none'})`);
    }
    this.processMetrics?.stop();
    await this.telemetry?.shutdown();
    await this.tracing?.shutdown();
  }
}
