// The main event loop's delay (perf_hooks.monitorEventLoopDelay): how late a timer fires, which is
// how long every connection waits while the loop is busy. Published per window (10 s): the p99 and
// the max of that window, so a scrape at any moment sees the last whole window, not a mean since
// the start. Also the process-wide bytes held for the pipeline (src/memory.ts).
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { memoryAccounting } from '../memory.js';
import type { MetricsRegistry } from './metrics.js';

const WINDOW_MS = 10_000;

export class ProcessMetrics {
  private readonly histogram: IntervalHistogram;
  private readonly timer: NodeJS.Timeout;
  private p99 = 0;
  private max = 0;
  private readonly disposers: Array<() => void>;

  constructor(registry: MetricsRegistry, windowMs = WINDOW_MS) {
    this.histogram = monitorEventLoopDelay({ resolution: 10 });
    this.histogram.enable();
    this.timer = setInterval(() => this.roll(), windowMs);
    this.timer.unref();
    const secs = `over the last ${windowMs / 1000}-s window`;
    this.disposers = [
      registry.gauge('fleetcol_process_event_loop_delay_p99_seconds', `99th percentile of the main event loop's delay ${secs}.`, {}, () => this.p99),
      registry.gauge('fleetcol_process_event_loop_delay_max_seconds', `Largest delay of the main event loop ${secs}.`, {}, () => this.max),
      registry.gauge('fleetcol_process_buffered_bytes', 'Bytes held in memory for the pipeline: sending queues (queued, in flight, waiting for room) and worker-pool requests.', {}, () => memoryAccounting.total()),
    ];
  }

  private roll(): void {
    const h = this.histogram;
    // The histogram is in ns; an empty window (no samples yet) reads as NaN or 0.
    this.p99 = h.count > 0 ? h.percentile(99) / 1e9 : 0;
    this.max = h.count > 0 ? h.max / 1e9 : 0;
    h.reset();
  }

  stop(): void {
    clearInterval(this.timer);
    this.histogram.disable();
    for (const d of this.disposers) d();
  }
}
