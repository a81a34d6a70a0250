// One connection to the feed: its filter, its position in the stream (the last seq it was given or
// skipped), and its writer. A client that resumes from an id first catches up from the history,
// paced by its transport (pulled, never pushed past the budget), then follows live events.
import { encodeEvent, HIGH, LOW, type Prepared } from './event.js';
import type { History } from './history.js';
import type { IdSpace } from './event.js';
import { OVERFLOW, Writer, type LaneStats } from './writer.js';
import type { Sink } from './transport.js';

/** The longest delay setTimeout takes. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface Filter {
  agents: ReadonlySet<string> | null;
  types: ReadonlySet<string> | null;
  minSeverity: number;
  /** The token's agent scope (fleetcol_agents); null = every agent. */
  scope: ((agent: string) => boolean) | null;
}

export function matches(f: Filter, ev: { type: string; agent: string | undefined; severity: number }): boolean {
  if (f.types !== null) {
    if (!f.types.has(ev.type)) return false;
  } else if (ev.type === 'heartbeat') return false; // agent heartbeats only when asked for
  if (ev.severity < f.minSeverity) return false;
  if (ev.agent === undefined) return f.agents === null && f.scope === null; // fleet-wide events: unscoped, unfiltered clients only
  if (f.agents !== null && !f.agents.has(ev.agent)) return false;
  if (f.scope !== null && !f.scope(ev.agent)) return false;
  return true;
}

export function followsAll(f: Filter): boolean {
  return f.agents === null && f.types === null && f.minSeverity <= 0 && f.scope === null;
}

export type CloseReason = 'client' | 'slow' | 'auth_expired' | 'shutdown';

export interface FeedContext {
  readonly history: History;
  readonly ids: IdSpace;
  readonly counters: LaneStats;
  lastSeq(): number;
}

export class Client {
  readonly writer: Writer;
  readonly all: boolean;
  /** Last seq given to (or skipped for) this client. */
  lastSeq: number;
  /** Replaying from history until it reaches the live edge. */
  catchingUp: boolean;
  closing: CloseReason | undefined;
  /** Live events this client was given (for metrics). */
  delivered = 0;
  /** Its connection has closed (and it has left the hub). */
  left = false;
  onGone: ((c: Client, reason: CloseReason) => void) | undefined;
  private expiry: NodeJS.Timeout | undefined;

  constructor(
    readonly sink: Sink,
    readonly filter: Filter,
    maxBytes: number,
    private readonly feed: FeedContext,
    startSeq: number,
    catchingUp: boolean,
    /** Who holds the connection (token subject or address), for per-client limits. */
    readonly principal: string,
  ) {
    this.writer = new Writer(sink, maxBytes, feed.counters);
    this.all = followsAll(filter);
    this.lastSeq = startSeq;
    this.catchingUp = catchingUp;
    this.writer.onRoom = () => this.pump();
    sink.onDrain(() => this.pump());
    sink.onClose(() => this.gone(this.closing ?? 'client'));
  }

  /** Queues bytes that belong to this connection only (subscription_confirmed, reset, ...). */
  own(bytes: Buffer): void {
    this.writer.push(bytes);
  }

  /** Replays from history while the budget allows, then writes. */
  pump(): void {
    if (this.closing) return;
    if (this.catchingUp) this.catchUp();
    this.writer.flush();
  }

  private catchUp(): void {
    const { history, ids } = this.feed;
    const w = this.writer;
    while (w.used() < w.soft) {
      const ev = history.after(this.lastSeq);
      if (ev === undefined) {
        const last = this.feed.lastSeq();
        if (this.lastSeq >= last) {
          this.catchingUp = false;
          return;
        }
        // What this client still needed left the history while it was catching up.
        const oldest = history.oldestSeq() ?? last + 1;
        w.push(encodeEvent(ids.id(oldest - 1), 'reset', { reason: 'history', oldest_id: ids.id(oldest), last_event_id: ids.id(this.lastSeq) }));
        this.lastSeq = oldest - 1;
        continue;
      }
      this.lastSeq = ev.seq;
      if (matches(this.filter, ev)) w.push(ev.bytes, ev.lane === LOW, ev.key);
    }
  }

  /**
   * The live events this client is owed (everything after its lastSeq, in order). `shared` is them
   * (all but agent heartbeats) as one buffer, built once for every client that follows everything.
   * Returns false if the client must go.
   */
  deliver(events: readonly Prepared[], shared: () => Buffer): boolean {
    if (this.closing || this.catchingUp) return true;
    const n = events.length;
    const w = this.writer;
    if (this.all && w.empty && events[0]!.seq === this.lastSeq + 1 && !this.sink.blocked()) {
      const buf = shared();
      if (buf.length === 0 || w.used() + buf.length <= w.soft) {
        if (buf.length > 0) this.sink.write([buf]);
        this.lastSeq = events[n - 1]!.seq;
        this.delivered += n;
        return true;
      }
    }
    for (let i = 0; i < n; i++) {
      const ev = events[i]!;
      if (ev.seq <= this.lastSeq) continue;
      this.lastSeq = ev.seq;
      if (!matches(this.filter, ev)) continue;
      if (ev.lane === HIGH) {
        if (w.offerHigh(ev.bytes) === OVERFLOW) return false;
      } else w.offerLow(ev.bytes, ev.key);
      this.delivered++;
    }
    w.flush();
    return true;
  }

  /** Closes after handing over `last` (e.g. `retry:` or auth_expired). */
  close(reason: CloseReason, last: Buffer | undefined, graceMs = 2000): void {
    if (this.closing) return;
    this.closing = reason;
    if (this.expiry) clearTimeout(this.expiry);
    if (reason === 'slow') this.writer.clear(); // what did not fit is replayed from history on resume
    else this.writer.flush();
    this.sink.close(last, graceMs);
  }

  /** Closes the stream with `bytes` at `atMs` (token expiry). */
  expireAt(atMs: number, bytes: () => Buffer): void {
    const delay = Math.max(0, atMs - Date.now());
    // setTimeout takes at most 2^31-1 ms (~24.8 days; a longer delay fires at once): re-arm until then.
    if (delay > MAX_TIMER_MS) {
      this.expiry = setTimeout(() => this.expireAt(atMs, bytes), MAX_TIMER_MS);
      this.expiry.unref();
      return;
    }
    this.expiry = setTimeout(() => {
      if (this.closing) return;
      // What the hub still owes it (its turn in the write window may be a few ticks away) comes
      // from the history first, so auth_expired is the last event it was due.
      if (this.lastSeq < this.feed.lastSeq()) this.catchingUp = true;
      this.pump();
      this.close('auth_expired', bytes());
    }, delay);
    this.expiry.unref();
  }

  private gone(reason: CloseReason): void {
    this.left = true;
    if (this.expiry) clearTimeout(this.expiry);
    this.closing ??= reason;
    this.writer.clear();
    const cb = this.onGone;
    this.onGone = undefined;
    cb?.(this, reason);
  }
}

export { HIGH, LOW };
