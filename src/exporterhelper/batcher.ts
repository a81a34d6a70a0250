// sending_queue.batch: one reader takes requests from the sending queue as they come and merges
// them into batches (per signal: an exporter shared by pipelines has one queue for all), sent by up
// to num_consumers senders at once. Requests are in the queue (on disk with `storage`) before the
// receiver answers; batching happens after, so the answer never waits for a batch to fill, and a
// crash loses nothing that was gathered: the gathered entries are only acknowledged to the queue
// once their batch was sent (or dropped for good).
import { Telemetry, type Signal } from '../pdata/telemetry.js';
import type { BatchSettings } from './config.js';
import type { Queue, QueueEntry } from './queue.js';

export interface BatcherHooks {
  /** An entry was taken from the queue (it is in memory from now on). */
  taken(entry: QueueEntry<Telemetry>): void;
  /** Sends one batch made of `entries` and acknowledges (done/release) each of them; never rejects. */
  send(entries: QueueEntry<Telemetry>[], batch: Telemetry): Promise<void>;
}

interface Gathering {
  entries: QueueEntry<Telemetry>[];
  size: number;
  /** When the oldest entry must be sent, ms since the epoch. */
  due: number;
}

export class Batcher {
  private readonly gathering = new Map<Signal, Gathering>();
  /** Batches cut and not yet handed to a sender, in order: with num_consumers 1 they go one at a
   *  time, in the order they were cut (remote write refuses samples out of order). */
  private readonly cut: Array<{ entries: QueueEntry<Telemetry>[]; batch: Telemetry }> = [];
  private readonly sending = new Set<Promise<void>>();
  private readonly sizeOf: (b: Telemetry) => number;
  private readonly minSize: number;

  constructor(
    private readonly queue: Queue<Telemetry>,
    private readonly cfg: BatchSettings,
    private readonly concurrency: number,
    private readonly hooks: BatcherHooks,
  ) {
    this.sizeOf = cfg.sizer === 'bytes' ? (b) => b.byteSize : (b) => b.itemCount;
    // A batch is never bigger than max_size, so it cannot wait to reach more than that.
    this.minSize = cfg.max_size > 0 ? Math.min(cfg.min_size, cfg.max_size) : cfg.min_size;
  }

  /** Reads until the queue is closed (and, in memory, empty); then sends what is gathered and
   *  waits for every send. */
  async run(): Promise<void> {
    const q = this.queue;
    // One take() at a time, kept across flush timeouts: a forgotten take() would swallow an entry.
    let next: Promise<QueueEntry<Telemetry> | undefined> | undefined;
    for (;;) {
      // Cut batches go out before more is read: while every sender is busy, requests wait in the
      // queue (bounded, on disk with storage), not here.
      while (this.cut.length > 0) {
        this.startSends();
        if (this.cut.length > 0) await Promise.race(this.sending);
      }
      next ??= q.take();
      const due = this.nextDue();
      const got = due === undefined ? await next : await raceTimer(next, due - Date.now());
      if (got === 'timeout') {
        this.flushDue(Date.now());
        continue;
      }
      next = undefined;
      if (!got) break;
      this.hooks.taken(got);
      this.add(got);
    }
    for (const signal of [...this.gathering.keys()]) this.flush(signal);
    while (this.cut.length > 0 || this.sending.size > 0) {
      this.startSends();
      await Promise.race(this.sending);
    }
  }

  private add(entry: QueueEntry<Telemetry>): void {
    const signal = entry.item.signal;
    const n = this.sizeOf(entry.item);
    let g = this.gathering.get(signal);
    // What would go past max_size goes in the next batch.
    if (g && this.cfg.max_size > 0 && g.size + n > this.cfg.max_size) {
      this.flush(signal);
      g = undefined;
    }
    if (!g) this.gathering.set(signal, (g = { entries: [], size: 0, due: Date.now() + this.cfg.flush_timeout }));
    g.entries.push(entry);
    g.size += n;
    if (g.size >= this.minSize) this.flush(signal);
  }

  private nextDue(): number | undefined {
    let due: number | undefined;
    for (const g of this.gathering.values()) if (due === undefined || g.due < due) due = g.due;
    return due;
  }

  private flushDue(now: number): void {
    for (const [signal, g] of this.gathering) if (g.due <= now) this.flush(signal);
  }

  /** Cuts what is gathered for the signal into a batch, queued for the senders. */
  private flush(signal: Signal): void {
    const g = this.gathering.get(signal);
    if (!g) return;
    this.gathering.delete(signal);
    const batch = g.entries.length === 1 ? g.entries[0]!.item : Telemetry.merge(g.entries.map((e) => e.item));
    this.cut.push({ entries: g.entries, batch });
  }

  /** Hands cut batches to senders, in order, up to `concurrency` at once. */
  private startSends(): void {
    while (this.cut.length > 0 && this.sending.size < this.concurrency) {
      const { entries, batch } = this.cut.shift()!;
      const p: Promise<void> = this.hooks.send(entries, batch).finally(() => this.sending.delete(p));
      this.sending.add(p);
    }
  }
}

/** `p`'s value, or 'timeout' after `ms`; the timer is cleared when `p` wins. */
async function raceTimer<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  if (ms <= 0) return 'timeout';
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), ms)));
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}
