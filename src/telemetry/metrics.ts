// fleetcol's own metrics, in Prometheus text on service.telemetry.metrics.address. Names follow the
// collector's (otelcol_receiver_accepted_spans, ...) under the fleetcol_ prefix. Counters are bound
// to their labels when a component is created, so the hot path does one add, no label lookup.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Kind } from '../component.js';
import type { Signal } from '../pdata/telemetry.js';

export interface BoundCounter {
  inc(n?: number): void;
}

/** What the items of each signal are called in metric names, as otelcol names them. */
export const ITEM_NAME: Record<Signal, string> = {
  traces: 'spans',
  metrics: 'metric_points',
  logs: 'log_records',
};

export class MetricsRegistry {
  readonly prom = new Registry();
  private readonly counters = new Map<string, Counter<string>>();
  private readonly gauges = new Map<string, { gauge: Gauge<string>; sources: Map<string, { labels: Record<string, string>; reads: Set<() => number> }> }>();
  private readonly histograms = new Map<string, Histogram<string>>();

  /** A counter; its name gets Prometheus' `_total` suffix when it has none (otelcol's own metrics
   *  carry it too: otelcol_receiver_accepted_spans_total), so `promtool check metrics` passes. */
  counter(name: string, help: string, labels: Record<string, string>): BoundCounter {
    let c = this.counters.get(name);
    if (!c) {
      const full = name.endsWith('_total') ? name : `${name}_total`;
      c = new Counter({ name: full, help, labelNames: Object.keys(labels), registers: [this.prom] });
      this.counters.set(name, c);
    }
    return c.labels(labels);
  }

  /**
   * A gauge read when scraped; `read` is called at scrape time, never on the hot path. Several
   * sources with the same labels are summed: each pipeline has its own instance of a processor
   * (same id, same labels), and the series is what they hold together, as counters add up.
   */
  gauge(name: string, help: string, labels: Record<string, string>, read: () => number): () => void {
    let g = this.gauges.get(name);
    if (!g) {
      const sources = new Map<string, { labels: Record<string, string>; reads: Set<() => number> }>();
      const gauge = new Gauge({
        name,
        help,
        labelNames: Object.keys(labels),
        registers: [this.prom],
        collect() {
          this.reset();
          for (const s of sources.values()) {
            let sum = 0;
            for (const r of s.reads) sum += r();
            this.set(s.labels, sum);
          }
        },
      });
      g = { gauge, sources };
      this.gauges.set(name, g);
    }
    const key = JSON.stringify(labels);
    const sources = g.sources;
    let source = sources.get(key);
    if (!source) sources.set(key, (source = { labels, reads: new Set() }));
    // A function object of its own, so that registering the same function twice counts twice.
    const own = () => read();
    source.reads.add(own);
    return () => {
      const s = sources.get(key);
      if (!s) return;
      s.reads.delete(own);
      if (s.reads.size === 0) sources.delete(key);
    };
  }

  histogram(name: string, help: string, labels: Record<string, string>, buckets: number[]): { observe(v: number): void } {
    let h = this.histograms.get(name);
    if (!h) {
      h = new Histogram({ name, help, labelNames: Object.keys(labels), buckets, registers: [this.prom] });
      this.histograms.set(name, h);
    }
    return h.labels(labels);
  }

  /** A view with the component's own label (`receiver="otlp/a"`) added to every metric. */
  scoped(kind: Kind, id: string): SelfMetrics {
    return new SelfMetrics(this, { [kind]: id });
  }
}

/** A component's metrics: every series carries the component's id as a label. */
export class SelfMetrics {
  private readonly disposers: Array<() => void> = [];
  constructor(
    private readonly registry: MetricsRegistry,
    readonly labels: Record<string, string>,
  ) {}

  counter(name: string, help: string, extra: Record<string, string> = {}): BoundCounter {
    return this.registry.counter(`fleetcol_${name}`, help, { ...this.labels, ...extra });
  }

  gauge(name: string, help: string, read: () => number, extra: Record<string, string> = {}): void {
    this.disposers.push(this.registry.gauge(`fleetcol_${name}`, help, { ...this.labels, ...extra }, read));
  }

  histogram(name: string, help: string, buckets: number[], extra: Record<string, string> = {}) {
    return this.registry.histogram(`fleetcol_${name}`, help, { ...this.labels, ...extra }, buckets);
  }

  /** Drops this component's gauges (their closures hold the component) when it shuts down. */
  dispose(): void {
    for (const d of this.disposers.splice(0)) d();
  }
}
