// The main event loop's delay (perf_hooks.monitorEventLoopDelay): how late a timer fires, which is
// how long every connection waits while the loop is busy (the busy loop itself, or a thread that
// waits for a CPU on a loaded machine). Published per window (10 s): the p99 and
// the max of that window, so a scrape at any moment sees the last whole window, not a mean since
// the start. Also the process-wide bytes held for the pipeline (src/memory.ts).
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { memoryAccounting } from '../memory.js';
import type { MetricsRegistry } from './metrics.js';

const WINDOW_MS = 10_000;
/** The histogram samples a timer of this period (ms); what it records is period + delay. Each
 *  firing wakes the loop, and a wake-up costs ~40-80 µs of CPU on a small VM: node's default of
 *  10 ms alone kept an idle process at 0.8 % of a core (20 ms: 0.5 %, 50 ms: 0.2 %). 50 ms still
 *  gives 200 samples per window. */
const RESOLUTION_MS = 50;

export class ProcessMetrics {
  private readonly histogram: IntervalHistogram;
  private readonly timer: NodeJS.Timeout;
  private p99 = 0;
  private max = 0;
  private readonly disposers: Array<() => void>;

  constructor(registry: MetricsRegistry, windowMs = WINDOW_MS) {
    this.histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
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
    // In ns, and each sample is the timer's period plus its delay (an idle loop reads ~10 ms at
    // resolution 10): the period is taken off, so an idle loop reads ~0. No samples: 0.
    const delay = (ns: number) => Math.max(0, ns / 1e6 - RESOLUTION_MS) / 1000;
    this.p99 = h.count > 0 ? delay(h.percentile(99)) : 0;
    this.max = h.count > 0 ? delay(h.max) : 0;
    h.reset();
  }

  stop(): void {
    clearInterval(this.timer);
    this.histogram.disable();
    for (const d of this.disposers) d();
  }
}
