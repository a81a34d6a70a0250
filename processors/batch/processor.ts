// Batches are cut by size or by time, merged without decoding (see Telemetry.merge) and sent in
// order by one sender loop. When the next stage refuses with a retryable error the batch is kept
// and retried; what is held is bounded, and past the bound the processor refuses upstream, so a
// receiver answers UNAVAILABLE instead of the daemon buffering without limit.
import type { CreateSettings, Processor } from '../../src/component.js';
import { RetryableError, type Consumer } from '../../src/consumer.js';
import { Telemetry } from '../../src/pdata/telemetry.js';
import { sleep } from '../../src/exporterhelper/backoff.js';
import type { BoundCounter } from '../../src/telemetry/metrics.js';
import { memoryAccounting } from '../../src/memory.js';

export interface BatchConfig {
  send_batch_size: number;
  timeout: number;
  send_batch_max_size: number;
  max_pending_items: number;
}

const DEFAULT_RETRY_MS = 1000;

export class BatchProcessor implements Processor {
  readonly mutatesData = false;
  private buffer: Telemetry[] = [];
  private bufferItems = 0;
  private readonly ready: Telemetry[] = [];
  /** Items in buffer + ready: everything accepted and not yet passed on. */
  private held = 0;
  /** Bytes of the same (protobuf encoding), for the process-wide memory accounting. */
  private heldBytes = 0;
  private bufferBytes = 0;
  private readonly unregister: () => void;
  private timer: NodeJS.Timeout | undefined;
  private sending: Promise<void> | undefined;
  private readonly maxHeld: number;
  private readonly stop = new AbortController();
  private readonly sizeTrigger: BoundCounter;
  private readonly timeoutTrigger: BoundCounter;
  private readonly dropped: BoundCounter;
  private readonly sendSize: { observe(v: number): void };

  constructor(
    private readonly set: CreateSettings,
    private readonly cfg: BatchConfig,
    private readonly next: Consumer,
  ) {
    this.maxHeld = cfg.max_pending_items > 0 ? cfg.max_pending_items : 10 * cfg.send_batch_size;
    const m = set.metrics;
    this.sizeTrigger = m.counter('processor_batch_batch_size_trigger_send', 'Batches sent because they reached send_batch_size.');
    this.timeoutTrigger = m.counter('processor_batch_timeout_trigger_send', 'Batches sent because the timeout fired.');
    this.dropped = m.counter('processor_batch_dropped_items', 'Items dropped because the next stage refused them permanently or at shutdown.');
    this.sendSize = m.histogram('processor_batch_batch_send_size', 'Items per batch sent.', [10, 100, 500, 1000, 2000, 5000, 8192, 10000, 20000, 50000]);
    m.gauge('processor_batch_pending_items', 'Items held by the batch processor.', () => this.held);
    m.gauge('processor_batch_pending_bytes', 'Bytes of the batches held by the batch processor.', () => this.heldBytes);
    this.unregister = memoryAccounting.register('processor', set.id, () => this.heldBytes);
  }

  async start(): Promise<void> {}

  async consume(batch: Telemetry): Promise<void> {
    const n = batch.itemCount;
    if (this.held > 0 && this.held + n > this.maxHeld) {
      throw new RetryableError(`batch processor holds ${this.held} items waiting for the next stage (max_pending_items ${this.maxHeld})`, { retryAfterMs: DEFAULT_RETRY_MS });
    }
    const bytes = batch.byteSize;
    this.buffer.push(batch);
    this.bufferItems += n;
    this.bufferBytes += bytes;
    this.held += n;
    this.heldBytes += bytes;
    if (this.bufferItems >= this.cfg.send_batch_size || this.cfg.timeout === 0) this.cut(this.sizeTrigger);
    else this.timer ??= setTimeout(() => this.cut(this.timeoutTrigger), this.cfg.timeout);
  }

  private cut(trigger: BoundCounter): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.buffer.length === 0) return;
    const merged = this.buffer.length === 1 ? this.buffer[0]! : Telemetry.merge(this.buffer);
    this.buffer = [];
    this.bufferItems = 0;
    const max = this.cfg.send_batch_max_size;
    const parts = max > 0 && merged.itemCount > max ? merged.split(max) : [merged];
    this.ready.push(...parts);
    // Split parts repeat their resource and scope: count what is held now.
    this.heldBytes += parts.reduce((a, p) => a + p.byteSize, 0) - this.bufferBytes;
    this.bufferBytes = 0;
    trigger.inc();
    this.sending ??= this.sendReady().finally(() => (this.sending = undefined));
  }

  private async sendReady(): Promise<void> {
    while (this.ready.length > 0) {
      const b = this.ready[0]!;
      const n = b.itemCount;
      try {
        await this.next.consume(b);
      } catch (err) {
        if (err instanceof RetryableError && !this.stop.signal.aborted) {
          this.set.logger.debug({ err: err.message }, 'next stage refused a batch; will retry it');
          await sleep(err.retryAfterMs ?? DEFAULT_RETRY_MS, this.stop.signal);
          continue;
        }
        this.dropped.inc(n);
        this.set.logger.error({ err: (err as Error).message, items: n }, `dropping ${n} items refused by the next stage`);
      }
      this.ready.shift();
      this.held -= n;
      this.heldBytes -= b.byteSize;
      this.sendSize.observe(n);
    }
  }

  async shutdown(): Promise<void> {
    this.cut(this.timeoutTrigger);
    const deadline = setTimeout(() => this.stop.abort(), this.set.shutdownTimeoutMs);
    while (this.sending) await this.sending;
    clearTimeout(deadline);
    this.unregister();
    this.set.metrics.dispose();
  }
}
