// block_on_overflow: when the sending queue is full, consume() waits a bounded time for room
// instead of refusing at once. Waiters are served in arrival order as the queue makes room (its
// onSpace notification; a queue without one is polled). A waiter that is not served within
// `timeoutMs` is refused, and so is a new one when the waiting batches already add up to the
// queue's capacity: what waits is bounded by config like everything else held in memory.
import type { Queue } from './queue.js';

/** accepted: in the queue now; timeout: no room in time; full: too much is already waiting;
 *  closed: the exporter is stopping. */
export type BlockOutcome = 'accepted' | 'timeout' | 'full' | 'closed';

interface Waiter<T> {
  item: T;
  size: number;
  resolve: (o: BlockOutcome) => void;
  timer: NodeJS.Timeout | undefined;
}

/** How often a queue without onSpace is looked at while something waits. */
const POLL_MS = 10;

export class BlockingOffer<T> {
  private readonly waiting: Waiter<T>[] = [];
  /** Sizer units of the waiting items. */
  private units = 0;
  private readonly unsubscribe: (() => void) | undefined;
  private poller: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly queue: Queue<T>,
    private readonly timeoutMs: number,
    /** Most sizer units allowed to wait (one oversized item may wait alone). */
    private readonly maxWaitingUnits: number,
  ) {
    this.unsubscribe = queue.onSpace?.(() => this.pump());
  }

  /** Batches waiting for room. */
  get waitingCount(): number {
    return this.waiting.length;
  }

  /** true when the item went into the queue at once; otherwise the outcome of waiting. */
  offer(item: T, size: number): true | Promise<BlockOutcome> {
    if (this.closed) return Promise.resolve('closed');
    // Earlier waiters go first: only an empty waiting line may go straight in.
    if (this.waiting.length === 0 && this.queue.offer(item, size)) return true;
    if (this.units > 0 && this.units + size > this.maxWaitingUnits) return Promise.resolve('full');
    return new Promise<BlockOutcome>((resolve) => {
      const w: Waiter<T> = { item, size, resolve, timer: undefined };
      w.timer = setTimeout(() => this.expire(w), this.timeoutMs);
      this.waiting.push(w);
      this.units += size;
      if (this.unsubscribe === undefined) this.poller ??= setInterval(() => this.pump(), POLL_MS);
    });
  }

  /** Refuses every waiter ('closed') and every later offer. */
  close(): void {
    this.closed = true;
    this.unsubscribe?.();
    for (const w of this.waiting.splice(0)) this.settle(w, 'closed');
    this.stopPolling();
  }

  /** Room may have been made: move waiters into the queue, in order, while they fit. */
  private pump(): void {
    while (this.waiting.length > 0) {
      const w = this.waiting[0]!;
      if (!this.queue.offer(w.item, w.size)) break;
      this.waiting.shift();
      this.settle(w, 'accepted');
    }
    if (this.waiting.length === 0) this.stopPolling();
  }

  private expire(w: Waiter<T>): void {
    const i = this.waiting.indexOf(w);
    if (i < 0) return;
    this.waiting.splice(i, 1);
    w.timer = undefined;
    this.settle(w, 'timeout');
    // A large batch at the head may have been what held the smaller ones behind it.
    if (i === 0) this.pump();
  }

  private settle(w: Waiter<T>, outcome: BlockOutcome): void {
    if (w.timer !== undefined) clearTimeout(w.timer);
    this.units -= w.size;
    w.resolve(outcome);
  }

  private stopPolling(): void {
    if (this.poller !== undefined) clearInterval(this.poller);
    this.poller = undefined;
  }
}
