// A client's byte-bounded queue. Everything a client is owed waits here until its transport takes
// more; what is queued plus what the transport still buffers may not exceed `maxBytes`, and the
// transport is never handed more than half of it (the other half stays here, where low-lane
// events can still be replaced or evicted to make room for high-lane ones).
// Under pressure (past half the budget) a low-lane event replaces the queued one with the same key
// (type + agent: the latest wins, moved to the end so ids stay in order); past the budget low-lane
// events are dropped, and a high-lane event first evicts queued low-lane ones; if it still does
// not fit, the caller must disconnect the client.
import type { Sink } from './transport.js';

interface Entry {
  bytes: Buffer | null; // null: removed (coalesced or evicted)
  low: boolean;
  key: string;
}

export interface LaneStats {
  dropped: number;
  coalesced: number;
}

export const OK = 0;
export const COALESCED = 1;
export const DROPPED = 2;
export const OVERFLOW = 3;
export type Offer = typeof OK | typeof COALESCED | typeof DROPPED | typeof OVERFLOW;

export class Writer {
  private q: Entry[] = [];
  private start = 0;
  private qBytes = 0;
  /** Entries in q (past start) removed by coalescing or eviction: compacted away once they are
   *  most of the queue, so a client whose socket stays blocked holds at most its byte budget plus
   *  a bounded number of dead entries (coalescing alone would grow q by one entry per event). */
  private dead = 0;
  private evicting = false;
  /** Queued low-lane entries by key; made on first use (most connections never need it). */
  private lowByKey: Map<string, Entry> | undefined;
  private again: NodeJS.Immediate | undefined;
  private later: NodeJS.Timeout | undefined;
  readonly soft: number;
  /** Called when queued bytes remain and the transport could take more (next turn of the loop). */
  onRoom: () => void = () => this.flush();

  constructor(
    readonly sink: Sink,
    readonly maxBytes: number,
    /** Shared by every writer of a hub: low-lane events lost (dropped) or replaced by a later one. */
    private readonly stats: LaneStats,
  ) {
    this.soft = Math.max(1, Math.floor(maxBytes / 2));
  }

  used(): number {
    return this.qBytes + this.sink.backlog();
  }

  get empty(): boolean {
    return this.qBytes === 0;
  }

  /** Queues unconditionally (the connection's own events, paced replay). */
  push(bytes: Buffer, low = false, key = ''): void {
    const e: Entry = { bytes, low, key };
    this.q.push(e);
    this.qBytes += bytes.length;
    if (low) (this.lowByKey ??= new Map()).set(key, e);
  }

  offerLow(bytes: Buffer, key: string): Offer {
    const used = this.used();
    const len = bytes.length;
    if (used + len <= this.soft) {
      this.push(bytes, true, key);
      return OK;
    }
    const prev = this.lowByKey?.get(key);
    if (prev) {
      if (used - prev.bytes!.length + len > this.maxBytes) {
        this.stats.dropped++;
        return DROPPED;
      }
      this.remove(prev);
      this.push(bytes, true, key);
      this.stats.coalesced++;
      return COALESCED;
    }
    if (used + len <= this.maxBytes) {
      this.push(bytes, true, key);
      return OK;
    }
    this.stats.dropped++;
    return DROPPED;
  }

  offerHigh(bytes: Buffer): Offer {
    const len = bytes.length;
    if (this.used() + len > this.maxBytes) {
      // No compaction while the loop walks q by index.
      this.evicting = true;
      for (let i = this.start; i < this.q.length && this.used() + len > this.maxBytes; i++) {
        const e = this.q[i]!;
        if (e.low && e.bytes) {
          this.remove(e);
          this.stats.dropped++;
        }
      }
      this.evicting = false;
      this.maybeCompact();
      if (this.used() + len > this.maxBytes) return OVERFLOW;
    }
    this.push(bytes);
    return OK;
  }

  private remove(e: Entry): void {
    this.qBytes -= e.bytes!.length;
    e.bytes = null;
    if (this.lowByKey?.get(e.key) === e) this.lowByKey.delete(e.key);
    this.dead++;
    if (!this.evicting) this.maybeCompact();
  }

  private maybeCompact(): void {
    if (this.dead > 1024 && this.dead * 2 > this.q.length - this.start) this.compact();
  }

  private compact(): void {
    const live: Entry[] = [];
    for (let i = this.start; i < this.q.length; i++) if (this.q[i]!.bytes !== null) live.push(this.q[i]!);
    this.q = live;
    this.start = 0;
    this.dead = 0;
  }

  /** Entries queued, dead ones included (what the queue's array holds). */
  get entries(): number {
    return this.q.length - this.start;
  }

  /** Hands what is queued to the transport in one write (up to half the budget in flight). */
  flush(): void {
    if (this.qBytes === 0 || this.sink.closed || this.sink.blocked()) return;
    let room = this.soft - this.sink.backlog();
    const chunks: Buffer[] = [];
    const q = this.q;
    let i = this.start;
    for (; i < q.length; i++) {
      const e = q[i]!;
      const b = e.bytes;
      if (b === null) continue;
      if (b.length > room && (chunks.length > 0 || this.sink.backlog() > 0)) break;
      chunks.push(b);
      room -= b.length;
      this.qBytes -= b.length;
      if (e.low && this.lowByKey?.get(e.key) === e) this.lowByKey.delete(e.key);
    }
    if (i >= q.length) {
      this.q = [];
      this.start = 0;
      this.dead = 0;
    } else if (i > 1024 && i * 2 > q.length) {
      this.q = q.slice(i);
      this.start = 0;
    } else this.start = i;
    if (chunks.length > 0) this.sink.write(chunks);
    if (this.qBytes > 0 && !this.sink.blocked()) {
      // Bytes remain and no 'drain' will come: try again on the next turn if this one made
      // progress, else shortly (the transport is still handing its backlog to the kernel).
      if (chunks.length > 0) {
        this.again ??= setImmediate(() => {
          this.again = undefined;
          this.onRoom();
        });
      } else {
        this.later ??= setTimeout(() => {
          this.later = undefined;
          this.onRoom();
        }, 10);
      }
    }
  }

  /** Forgets what is queued (the connection is going away). */
  clear(): void {
    this.q = [];
    this.start = 0;
    this.qBytes = 0;
    this.dead = 0;
    this.lowByKey = undefined;
    if (this.again) clearImmediate(this.again);
    if (this.later) clearTimeout(this.later);
    this.again = undefined;
    this.later = undefined;
  }
}
