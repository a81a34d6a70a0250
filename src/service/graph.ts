// Builds the running pipelines from a resolved config: exporters (shared between pipelines),
// processors (one chain per pipeline), connectors (an exporter of some pipelines, fanned into the
// pipelines that list them as receivers), receivers (fanned into every pipeline they serve).
// Pipelines fed by connectors are built before the pipelines that feed them (the config forbids
// cycles). Starts downstream first, stops upstream first; startup and reload share this code.
import type { Logger } from 'pino';
import type { Connector, CreateSettings, Exporter, Extension, Host, Kind, Lifecycle, Processor, Receiver } from '../component.js';
import type { Consumer } from '../consumer.js';
import type { ComponentConfig, PipelineConfig, ResolvedConfig } from '../config/load.js';
import type { Signal } from '../pdata/telemetry.js';
import type { MetricsRegistry } from '../telemetry/metrics.js';
import type { Workers } from '../workers/pool.js';
import { fanout } from './fanout.js';

interface Node {
  kind: Kind;
  id: string;
  component: Lifecycle;
}

export class Graph implements Host {
  private readonly extensions = new Map<string, Extension>();
  /** In start order. */
  private readonly nodes: Node[] = [];
  /** When shutdown must be over (ms since the epoch), once it has begun. */
  private shutdownDeadline: number | undefined;

  constructor(
    private readonly config: ResolvedConfig,
    private readonly logger: Logger,
    private readonly metrics: MetricsRegistry,
    private readonly workers?: Workers,
  ) {}

  extension(id: string): Extension | undefined {
    return this.extensions.get(id);
  }

  private settings(kind: Kind, id: string, pipeline?: string): CreateSettings {
    const bindings: Record<string, string> = { kind, id };
    if (pipeline) bindings.pipeline = pipeline;
    const graph = this;
    return {
      id,
      kind,
      logger: this.logger.child(bindings),
      metrics: this.metrics.scoped(kind, id),
      // One budget for the whole shutdown: what upstream components used is gone for the rest.
      get shutdownTimeoutMs() {
        return graph.shutdownBudgetMs();
      },
      workers: this.workers,
    };
  }

  /** service.shutdown_timeout; once shutdown has begun, what is left of it. */
  shutdownBudgetMs(): number {
    const total = this.config.service.shutdownTimeoutMs;
    return this.shutdownDeadline === undefined ? total : Math.max(0, this.shutdownDeadline - Date.now());
  }

  build(): void {
    const { config } = this;
    const svc = config.service;
    for (const id of svc.extensions) {
      const c = config.extensions.get(id)!;
      const ext = c.factory.createExtension!(this.settings('extension', id), c.config);
      this.extensions.set(id, ext);
      this.nodes.push({ kind: 'extension', id, component: ext });
    }

    const exporterSignals = new Map<string, Set<Signal>>();
    for (const p of svc.pipelines) {
      for (const id of p.exporters) {
        if (!config.exporters.has(id)) continue; // a connector
        let s = exporterSignals.get(id);
        if (!s) exporterSignals.set(id, (s = new Set()));
        s.add(p.signal);
      }
    }
    const exporters = new Map<string, Exporter>();
    for (const [id, signals] of exporterSignals) {
      const c = config.exporters.get(id)!;
      const exp = c.factory.createExporter!(this.settings('exporter', id), c.config, [...signals]);
      exporters.set(id, exp);
      this.nodes.push({ kind: 'exporter', id, component: exp });
    }

    // Each pipeline: fan-out to its exporters (and connectors), then its processors back to front;
    // a pipeline after every pipeline its connectors feed.
    const entries = new Map<string, Consumer>();
    const connectors = new Map<string, Connector>();
    const connectorFor = (id: string, from: Signal, to: Signal, pipelines: readonly string[]): Connector => {
      const key = `${id}\u0000${from}\u0000${to}`;
      let conn = connectors.get(key);
      if (!conn) {
        const c = config.connectors.get(id)!;
        const next = fanout(pipelines.map((pid) => entries.get(pid)!), this.logger.child({ connector: id }));
        conn = c.factory.createConnector!(this.settings('connector', id), c.config, from, to, next);
        connectors.set(key, conn);
        this.nodes.push({ kind: 'connector', id: `${id} (${from} → ${to})`, component: conn });
      }
      return conn;
    };
    for (const p of pipelineOrder(svc.pipelines, config.connectors)) {
      const plog = this.logger.child({ pipeline: p.id });
      const targets: Consumer[] = [];
      for (const id of p.exporters) {
        const exp = exporters.get(id);
        if (exp) {
          targets.push(exp);
          continue;
        }
        // A connector: one instance per signal pair, feeding every pipeline of that signal that lists it.
        for (const [from, to] of config.connectors.get(id)!.factory.connects ?? []) {
          if (from !== p.signal) continue;
          const fed = svc.pipelines.filter((q) => q.signal === to && q.receivers.includes(id)).map((q) => q.id);
          if (fed.length > 0) targets.push(connectorFor(id, from, to, fed));
        }
      }
      let next: Consumer = fanout(targets, plog);
      const chain: Node[] = [];
      for (let i = p.processors.length - 1; i >= 0; i--) {
        const id = p.processors[i]!;
        const c = config.processors.get(id) as ComponentConfig;
        const proc: Processor = c.factory.createProcessor!(this.settings('processor', id, p.id), c.config, p.signal, next);
        chain.push({ kind: 'processor', id: `${id} (${p.id})`, component: proc });
        next = proc;
      }
      this.nodes.push(...chain);
      entries.set(p.id, next);
    }

    for (const [id, c] of config.receivers) {
      const next: Partial<Record<Signal, Consumer>> = {};
      const bySignal = new Map<Signal, Consumer[]>();
      for (const p of svc.pipelines) {
        if (!p.receivers.includes(id)) continue;
        let list = bySignal.get(p.signal);
        if (!list) bySignal.set(p.signal, (list = []));
        list.push(entries.get(p.id)!);
      }
      if (bySignal.size === 0) continue;
      for (const [signal, list] of bySignal) next[signal] = fanout(list, this.logger.child({ receiver: id }));
      const rcv: Receiver = c.factory.createReceiver!(this.settings('receiver', id), c.config, next);
      this.nodes.push({ kind: 'receiver', id, component: rcv });
    }
  }

  /** Starts every component, downstream first. On failure, stops what started and rethrows. */
  async start(): Promise<void> {
    const started: Node[] = [];
    for (const n of this.nodes) {
      try {
        await n.component.start(this);
      } catch (err) {
        this.logger.error({ err: (err as Error).message, kind: n.kind, id: n.id }, `failed to start ${n.kind} ${n.id}`);
        await this.stopNodes(started.reverse());
        throw new Error(`failed to start ${n.kind} "${n.id}": ${(err as Error).message}`, { cause: err });
      }
      started.push(n);
    }
  }

  /** Stops every component, upstream first: receivers, then processors (which flush), exporters (which drain). */
  async shutdown(): Promise<void> {
    this.shutdownDeadline ??= Date.now() + this.config.service.shutdownTimeoutMs;
    await this.stopNodes([...this.nodes].reverse());
  }

  private async stopNodes(nodes: Node[]): Promise<void> {
    for (const n of nodes) {
      try {
        await n.component.shutdown();
      } catch (err) {
        this.logger.error({ err: (err as Error).message, kind: n.kind, id: n.id }, `error stopping ${n.kind} ${n.id}`);
      }
    }
  }
}

/** Pipelines in build order: each after every pipeline it feeds through a connector. */
function pipelineOrder(pipelines: readonly PipelineConfig[], connectors: ReadonlyMap<string, ComponentConfig>): PipelineConfig[] {
  const byId = new Map(pipelines.map((p) => [p.id, p]));
  const done = new Set<string>();
  const out: PipelineConfig[] = [];
  const visit = (p: PipelineConfig) => {
    if (done.has(p.id)) return;
    done.add(p.id); // the config has no cycles: marking first only guards against a bug looping
    for (const id of p.exporters) {
      if (!connectors.has(id)) continue;
      for (const q of pipelines) if (q.receivers.includes(id)) visit(byId.get(q.id)!);
    }
    out.push(p);
  };
  for (const p of pipelines) visit(p);
  return out;
}
