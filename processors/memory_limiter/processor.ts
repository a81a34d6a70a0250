// The memory_limiter processor: refuses data with a retryable error (receivers answer UNAVAILABLE
// + RetryInfo / 503 + Retry-After) while the process holds more than the soft limit, so senders
// back off and retry instead of the daemon running out of memory. Holds nothing itself.
import type { CreateSettings, Processor } from '../../src/component.js';
import { RetryableError, type Consumer } from '../../src/consumer.js';
import type { Signal, Telemetry } from '../../src/pdata/telemetry.js';
import type { BoundCounter } from '../../src/telemetry/metrics.js';
import { MemoryLimiter, defaultProbe, type LimitConfig, type Probe } from './limiter.js';

export type MemoryLimiterConfig = LimitConfig;

/** One limiter per processor id, shared by its pipelines. */
const limiters = new Map<string, MemoryLimiter>();
let probe: Probe = defaultProbe;

/** Tests: how memory is read (undefined restores the real reading). */
export function setMemoryProbe(p: Probe | undefined): void {
  probe = p ?? defaultProbe;
}

export class MemoryLimiterProcessor implements Processor {
  readonly mutatesData = false;
  readonly limiter: MemoryLimiter;
  private readonly refusedC: BoundCounter;
  private readonly acceptedC: BoundCounter;

  constructor(private readonly set: CreateSettings, cfg: MemoryLimiterConfig, signal: Signal, private readonly next: Consumer) {
    let l = limiters.get(set.id);
    if (l === undefined) {
      l = new MemoryLimiter(cfg, () => probe(), (msg, fields) => set.logger.warn(fields, msg));
      limiters.set(set.id, l);
    }
    this.limiter = l;
    const m = set.metrics;
    this.refusedC = m.counter('processor_memory_limiter_refused', 'Items refused (retryable) while memory was above the soft limit.', { signal });
    this.acceptedC = m.counter('processor_memory_limiter_accepted', 'Items let through.', { signal });
    m.gauge('processor_memory_limiter_used_bytes', 'Live bytes at the last check (heap in use + external, or the pipeline\'s held bytes if more).', () => this.limiter.last.used);
    m.gauge('processor_memory_limiter_refusing', '1 while data is refused.', () => (this.limiter.refusing ? 1 : 0));
    m.gauge('processor_memory_limiter_forced_gc', 'Garbage collections forced above the hard limit.', () => this.limiter.forcedGc);
  }

  async start(): Promise<void> {
    this.limiter.start();
  }

  async shutdown(): Promise<void> {
    this.limiter.stop();
    if (limiters.get(this.set.id) === this.limiter && !this.limiter.running) limiters.delete(this.set.id);
    this.set.metrics.dispose();
  }

  async consume(batch: Telemetry): Promise<void> {
    if (this.limiter.refusing) {
      this.refusedC.inc(batch.itemCount);
      throw new RetryableError('memory limit reached: data refused, retry later', { retryAfterMs: Math.max(1000, this.limiter.interval) });
    }
    this.acceptedC.inc(batch.itemCount);
    return this.next.consume(batch);
  }
}
