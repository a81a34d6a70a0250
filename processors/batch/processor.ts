// Batches are cut by size or by time, merged without decoding (see Telemetry.merge) and sent in
// order by one sender loop. What is held is bounded, and past the bound the processor refuses
// upstream, so a receiver answers UNAVAILABLE instead of the daemon buffering without limit.
//
// Two ways to answer, chosen by the next stage:
// - next stage durable (a persistent sending queue):
//   each caller waits until the batch holding its items was taken by the next stage, so an OK
//   still means "on disk"; a refusal goes back to every caller of that batch as it is (they send
//   again; nothing is held for them), and a caller may wait up to `timeout` for its batch to fill.
// - otherwise (in-memory queues): the caller is answered at once; a batch the next stage refuses
//   with a retryable error is kept and retried here, and a crash loses what is held.
import type { CreateSettings, Processor } from '../../src/component.js';
import { PermanentError, RetryableError, type Consumer } from '../../src/consumer.js';
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

/** The callers waiting for one cut (durable mode): answered once all its parts were taken. */
interface Waiters {
  resolve: Array<() => void>;
  reject: Array<(err: unknown) => void>;
  /** Parts of the cut not yet taken by the next stage. */
  parts: number;
  /** Set once a part was refused: the rest of the cut is not sent (its callers send it again). */
  failed: boolean;
}

interface Ready {
  batch: Telemetry;
  waiters: Waiters | undefined;
}

export class BatchProcessor implements Processor {
  readonly mutatesData = false;
  private buffer: Telemetry[] = [];
  private bufferItems = 0;
  /** Callers of what is in `buffer` (durable mode). */
  private bufferWaiters: Waiters | undefined;
  private readonly ready: Ready[] = [];
  /** Callers wait for the next stage (see the top of the file). */
  private readonly waitForNext: boolean;
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
    this.waitForNext = next.durable === true;
    const m = set.metrics;
    this.sizeTrigger = m.counter('processor_batch_batch_size_trigger_send', 'Batches sent because they reached send_batch_size.');
    this.timeoutTrigger = m.counter('processor_batch_timeout_trigger_send', 'Batches sent because the timeout fired.');
    this.dropped = m.counter('processor_batch_dropped_items', 'Items dropped because the next stage refused them permanently or at shutdown.');
    this.sendSize = m.histogram('processor_batch_batch_send_size', 'Items per batch sent.', [10, 100, 500, 1000, 2000, 5000, 8192, 10000, 20000, 50000]);
    m.gauge('processor_batch_pending_items', 'Items held by the batch processor.', () => this.held);
    m.gauge('processor_batch_pending_bytes', 'Bytes of the batches held by the batch processor.', () => this.heldBytes);
    this.unregister = memoryAccounting.register('processor', set.id, () => this.heldBytes);
  }

  /** Durable when its callers wait for a durable next stage. */
  get durable(): boolean {
    return this.waitForNext;
  }

  async start(): Promise<void> {}

  consume(batch: Telemetry): Promise<void> {
    try {
      const waiters = this.add(batch);
      if (!waiters) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        waiters.resolve.push(resolve);
        waiters.reject.push(reject);
      });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Holds the batch; returns the waiters of its cut in durable mode (taken before a size cut). */
  private add(batch: Telemetry): Waiters | undefined {
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
    const waiters = this.waitForNext ? (this.bufferWaiters ??= { resolve: [], reject: [], parts: 0, failed: false }) : undefined;
    if (this.bufferItems >= this.cfg.send_batch_size || this.cfg.timeout === 0) this.cut(this.sizeTrigger);
    else this.timer ??= setTimeout(() => this.cut(this.timeoutTrigger), this.cfg.timeout);
    return waiters;
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
    const waiters = this.bufferWaiters;
    this.bufferWaiters = undefined;
    if (waiters) waiters.parts = parts.length;
    for (const batch of parts) this.ready.push({ batch, waiters });
    // Split parts repeat their resource and scope: count what is held now.
    this.heldBytes += parts.reduce((a, p) => a + p.byteSize, 0) - this.bufferBytes;
    this.bufferBytes = 0;
    trigger.inc();
    this.sending ??= this.sendReady().finally(() => (this.sending = undefined));
  }

  private async sendReady(): Promise<void> {
    while (this.ready.length > 0) {
      const { batch: b, waiters } = this.ready[0]!;
      const n = b.itemCount;
      if (waiters) {
        await this.sendFor(b, waiters);
      } else try {
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

  /** Durable mode: one attempt; the callers get the outcome. Past a refusal, the cut's other
   *  parts are not sent: their callers were refused and send them again. */
  private async sendFor(b: Telemetry, w: Waiters): Promise<void> {
    if (w.failed) return;
    try {
      await this.next.consume(b);
    } catch (err) {
      w.failed = true;
      // A partial refusal counts items of the merged batch, not of each caller's request: each
      // caller gets the refusal whole.
      const e = err instanceof PermanentError && err.rejected !== undefined ? new PermanentError(err.message, { cause: err })
        : err instanceof RetryableError && err.rejected !== undefined ? new RetryableError(err.message, { retryAfterMs: err.retryAfterMs, cause: err })
        : err;
      for (const r of w.reject) r(e);
      return;
    }
    if (--w.parts === 0) for (const r of w.resolve) r();
  }

  async shutdown(): Promise<void> {
    this.cut(this.timeoutTrigger);
    const deadline = setTimeout(() => this.stop.abort(), this.set.shutdownTimeoutMs);
    // Durable mode has nothing to retry: every cut gets its one attempt.
    while (this.sending) await this.sending;
    clearTimeout(deadline);
    this.unregister();
    this.set.metrics.dispose();
  }
}
