// The running daemon: own telemetry, the pipeline graph, and reload. A reload builds the new graph
// from a config that has already validated; if it fails to start, the old config comes back.
import type { Logger } from 'pino';
import type { ResolvedConfig } from '../config/load.js';
import { MetricsRegistry } from '../telemetry/metrics.js';
import { ProcessMetrics } from '../telemetry/process.js';
import { TelemetryServer } from '../telemetry/server.js';
import { startSelfTracing, type SelfTracing } from '../telemetry/tracing.js';
import { WorkerPool } from '../workers/pool.js';
import { Graph } from './graph.js';

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
    await this.stopGraph();
    this.processMetrics?.stop();
    await this.telemetry?.shutdown();
    await this.tracing?.shutdown();
  }
}
