// The last `size` published events (and none older than `ttl`), in a ring, for resuming clients.
// Seqs are contiguous, so the event after seq s sits at a computed index: no search.
import type { Prepared } from './event.js';

export class History {
  private readonly ring: (Prepared | undefined)[];
  private head = 0; // index of the oldest
  private count = 0;
  private bytesHeld = 0;

  constructor(
    readonly size: number,
    private readonly ttlMs: number,
    /** Most bytes held: the oldest events go first past it (0: no limit but size). */
    private readonly maxBytes = 0,
  ) {
    this.ring = new Array(Math.max(1, size));
  }

  get length(): number {
    return this.count;
  }
  get bytes(): number {
    return this.bytesHeld;
  }

  push(ev: Prepared): void {
    if (this.size <= 0) return;
    if (this.count === this.ring.length) this.shift();
    if (this.maxBytes > 0) while (this.count > 0 && this.bytesHeld + ev.bytes.length > this.maxBytes) this.shift();
    this.ring[(this.head + this.count) % this.ring.length] = ev;
    this.count++;
    this.bytesHeld += ev.bytes.length;
  }

  private shift(): void {
    const ev = this.ring[this.head]!;
    this.ring[this.head] = undefined;
    this.head = (this.head + 1) % this.ring.length;
    this.count--;
    this.bytesHeld -= ev.bytes.length;
  }

  /** Drops events older than ttl. */
  prune(now = Date.now()): void {
    if (this.ttlMs <= 0) return;
    const limit = now - this.ttlMs;
    while (this.count > 0 && this.ring[this.head]!.time < limit) this.shift();
  }

  /** Seq of the oldest event held; undefined when empty. */
  oldestSeq(): number | undefined {
    return this.count > 0 ? this.ring[this.head]!.seq : undefined;
  }

  newestSeq(): number | undefined {
    return this.count > 0 ? this.ring[(this.head + this.count - 1) % this.ring.length]!.seq : undefined;
  }

  /** The event right after `seq`, if held. */
  after(seq: number): Prepared | undefined {
    if (this.count === 0) return undefined;
    const oldest = this.ring[this.head]!.seq;
    const i = seq + 1 - oldest;
    if (i < 0 || i >= this.count) return undefined;
    return this.ring[(this.head + i) % this.ring.length];
  }

  /** True when everything after `seq` is still held (or nothing was published after it). */
  covers(seq: number, lastPublished: number): boolean {
    if (seq >= lastPublished) return true;
    const oldest = this.oldestSeq();
    return oldest !== undefined && oldest <= seq + 1;
  }
}
