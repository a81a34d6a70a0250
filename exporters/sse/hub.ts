// The hub: gives each event its id and bytes (once), keeps the history, holds the registry of
// clients, and fans events out to them on flush ticks: at most one write per connection per tick,
// the bytes of a run of events shared by every client that follows everything.
//
// Write window: a socket write costs a fixed ~7-9 µs of CPU (most of it the kernel's) whatever it
// carries, so CPU per delivery is that cost over the events per write. With a window W longer
// than the tick, writes are paced: the connections are visited round-robin, each tick visiting
// the share of them that the time since the last tick is of W, and a visit writes everything the
// connection is owed. So each connection is written about once per W (low-lane events wait up to
// W), writes carry what W holds, and the writes are spread evenly over it: the event loop is never
// held for the whole fleet, and a tick that ran late is made up by the next one's larger share
// (the pace is set by the clock, not by the ticks). A tick with a high-lane event visits every
// connection at once. When a round of writes would take more than WRITE_SHARE of the window (the
// wall time a write takes here is measured), the window is stretched to fit: an overloaded feed
// writes each connection less often, with more in each write, instead of falling behind (up to
// MAX_STRETCH times write_window).
import { encodeEvent, HEARTBEAT_COMMENT, HIGH, IdSpace, laneOf, type FeedEvent, type Prepared } from './event.js';
import { History } from './history.js';
import { Client, type CloseReason, type FeedContext } from './client.js';

/** The share of the window a round of writes may take before the window is stretched. */
const WRITE_SHARE = 0.75;
/** Weight of one tick in the moving average of the write cost. */
const WRITE_COST_ALPHA = 0.05;
/** The window is stretched to this many times write_window at most: past it, the feed is behind. */
const MAX_STRETCH = 8;

export interface HubOptions {
  historySize: number;
  historyTtlMs: number;
  /** history.max_bytes (0: no byte limit). */
  historyMaxBytes?: number;
  /** ms between flushes; 0: flush on the next turn of the event loop. */
  flushIntervalMs: number;
  /** ms a low-lane event may wait for its connection's write (rounded to ticks); ≤ one tick: every tick. */
  writeWindowMs?: number;
  epochMs?: number;
}

export interface HubCounters {
  published: number;
  dropped: number;
  coalesced: number;
  deliveries: number;
  slowDisconnects: number;
}

export class Hub implements FeedContext {
  readonly ids: IdSpace;
  readonly history: History;
  readonly clients = new Set<Client>();

  /** Bytes this hub holds in memory: the history, and what its connections have queued or handed
   *  to their transports and not yet written (for the process-wide memory account). */
  heldBytes(): number {
    let n = this.history.bytes;
    for (const c of this.clients) n += c.writer.used();
    return n;
  }
  private seq = 0;
  private tick: Prepared[] = [];
  /** The write window in ms; 0: every connection on every tick. */
  readonly windowMs: number;
  /** Where the round-robin is: a pass is one Set iterator, which follows additions and deletions. */
  private cursor: Iterator<Client> | undefined;
  /** The cursor's next result, fetched one visit early so that a pass's end is seen at its last visit. */
  private ahead: IteratorResult<Client> | undefined;
  /** The last seq when the current pass began: once the pass is through, every connection has it. */
  private passSeq = 0;
  /** Visits earned by the clock and not yet made (fractional). */
  private credit = 0;
  /** Wall-clock ms one connection's write has been taking (moving average over paced ticks). */
  private writeMs = 0;
  /** When the last tick ran, or when the first event after a quiet spell came. */
  private pacedAt = 0;
  /** Events some connection may not have been written yet, contiguous seqs. */
  private recent: Prepared[] = [];
  /** Deliveries of clients that have gone since the last collectDeliveries(). */
  private goneDeliveries = 0;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  readonly counters: HubCounters = { published: 0, dropped: 0, coalesced: 0, deliveries: 0, slowDisconnects: 0 };
  /** Called for a client that could not take a high-lane event; returns the bytes to end with. */
  onSlow: (c: Client) => Buffer | undefined = () => undefined;
  /** Called after a tick that wrote live events, with how long (ms) the oldest of them had waited
   *  since it was published when the tick's last write was handed over: the feed's own lag. */
  onTick: ((oldestWaitMs: number) => void) | undefined;

  constructor(private readonly opts: HubOptions) {
    this.ids = new IdSpace(opts.epochMs);
    this.history = new History(opts.historySize, opts.historyTtlMs, opts.historyMaxBytes ?? 0);
    const window = opts.writeWindowMs ?? 0;
    this.windowMs = opts.flushIntervalMs > 0 && window > opts.flushIntervalMs ? window : 0;
  }

  /** The window the pace follows: write_window, or longer while a round of writes would not fit in
   *  WRITE_SHARE of it (at the write cost last measured and the connections there are now). */
  get effectiveWindowMs(): number {
    if (this.windowMs === 0) return 0;
    return Math.min(this.windowMs * MAX_STRETCH, Math.max(this.windowMs, (this.clients.size * this.writeMs) / WRITE_SHARE));
  }

  lastSeq(): number {
    return this.seq;
  }

  /** Called with every event published (writer processes are fed from here). */
  onPublish: ((p: Prepared) => void) | undefined;

  publish(ev: FeedEvent, now = Date.now()): Prepared {
    const seq = ++this.seq;
    const p: Prepared = {
      seq,
      type: ev.type,
      agent: ev.agent,
      severity: ev.severity,
      lane: laneOf(ev.type),
      key: `${ev.type}\u0000${ev.agent ?? ''}`,
      time: now,
      bytes: encodeEvent(this.ids.id(seq), ev.type, ev.data),
    };
    this.counters.published++;
    this.enqueue(p, now);
    this.onPublish?.(p);
    return p;
  }

  /** An event published by another hub (a writer process follows the exporter's): same seq. */
  follow(p: Prepared, now = Date.now()): void {
    this.seq = p.seq;
    this.enqueue(p, now);
  }

  private enqueue(p: Prepared, now: number): void {
    this.history.push(p);
    if (this.tick.length === 0 && this.recent.length === 0) this.pacedAt = now; // the window starts now
    this.tick.push(p);
    this.schedule();
  }

  /** The next tick comes flush_interval after this one ended: writing holds the event loop for a share of the time at most, and with more connections than a tick can write the ticks (and the window) stretch. */
  private schedule(): void {
    if (this.timer || this.immediate) return;
    if (this.opts.flushIntervalMs > 0) this.timer = setTimeout(() => this.flush(), this.opts.flushIntervalMs);
    else this.immediate = setImmediate(() => this.flush());
  }

  /** One tick: the connections whose turn it is (every one with `all`, or when a high-lane event came). */
  flush(all = false, now = Date.now()): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
    const fresh = this.tick;
    this.tick = [];
    if (fresh.length === 0 && this.recent.length === 0) return;
    let every = all || this.windowMs === 0;
    for (const e of fresh) {
      this.recent.push(e);
      if (e.lane === HIGH) every = true;
    }
    const recent = this.recent;
    const first = recent[0]!.seq;
    // What a client that last got `lastSeq` is owed, and those events as one buffer: built once
    // per distinct position (the clients of one tick were mostly last written on the same tick).
    const owed = new Map<number, { events: Prepared[]; shared: () => Buffer }>();
    const owedAfter = (lastSeq: number) => {
      let o = owed.get(lastSeq);
      if (o === undefined) {
        const events = recent.slice(lastSeq + 1 - first);
        let bytes: Buffer | undefined;
        o = {
          events,
          shared: () => {
            if (bytes === undefined) {
              const parts: Buffer[] = [];
              for (const e of events) if (e.type !== 'heartbeat') parts.push(e.bytes);
              bytes = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
            }
            return bytes;
          },
        };
        owed.set(lastSeq, o);
      }
      return o;
    };
    let slow: Client[] | undefined;
    let oldest = Infinity;
    let writes = 0;
    let writing = 0; // wall ms in deliver()
    const visit = (c: Client) => {
      if (c.catchingUp) {
        c.pump();
        return;
      }
      if (c.lastSeq >= this.seq) return;
      if (c.lastSeq + 1 < first) {
        // Owed more than `recent` holds (a connection the round skipped as others came and went):
        // replay from history.
        c.catchingUp = true;
        c.pump();
        return;
      }
      const o = owedAfter(c.lastSeq);
      if (o.events[0]!.time < oldest) oldest = o.events[0]!.time;
      writes++;
      const t0 = performance.now();
      if (!c.deliver(o.events, o.shared)) (slow ??= []).push(c);
      writing += performance.now() - t0;
    };
    if (every) {
      for (const c of this.clients) visit(c);
      this.recent = [];
    } else {
      const n = this.clients.size;
      // The window is stretched when a round of writes would take more than WRITE_SHARE of it
      // (writes cost more wall time than usual: many connections, a busy or shared host), so the
      // event loop keeps time for ingest and the ticks stay short, rather than falling behind.
      const window = this.effectiveWindowMs;
      this.credit = Math.min(n, this.credit + (n * Math.max(0, now - this.pacedAt)) / window);
      let due = Math.floor(this.credit);
      this.credit -= due;
      let cursor = this.cursor;
      let r = this.ahead;
      let through = -1; // the passSeq of a pass that got through in this tick
      while (due > 0) {
        if (cursor === undefined || r === undefined || r.done) {
          cursor = this.clients.values();
          this.passSeq = this.seq;
          r = cursor.next();
          if (r.done) break;
        }
        const c = r.value;
        r = cursor.next();
        if (r.done) through = this.passSeq;
        if (c.left) continue; // gone since it was fetched (a flag: a Set lookup per visit cost more)
        due--;
        visit(c);
      }
      this.cursor = cursor;
      this.ahead = r;
      // Seeded at 0, so one slow tick at the start does not stretch the window at once.
      if (writes > 0) this.writeMs += (writing / writes - this.writeMs) * WRITE_COST_ALPHA;
      // Forget what every connection has been written: everything up to the seq a finished pass
      // began at (connections that came during it started at a later seq).
      if (this.clients.size === 0 || through >= this.seq) this.recent = [];
      else if (through >= first) this.recent = recent.slice(through + 1 - first);
    }
    this.pacedAt = now;
    if (slow) for (const c of slow) this.kick(c, 'slow');
    if (oldest !== Infinity) this.onTick?.(Date.now() - oldest);
    this.history.prune();
    if (this.recent.length > 0) this.schedule();
    else this.credit = 0;
  }

  add(c: Client): void {
    this.clients.add(c);
    c.onGone = (client) => {
      this.clients.delete(client);
      this.goneDeliveries += client.delivered;
      client.delivered = 0;
    };
  }

  kick(c: Client, reason: CloseReason): void {
    if (reason === 'slow') this.counters.slowDisconnects++;
    c.close(reason, reason === 'slow' ? this.onSlow(c) : undefined);
  }

  /** `:` comment to every client with nothing queued (a client with a backlog is alive anyway). */
  heartbeat(): void {
    for (const c of this.clients) {
      if (c.closing || !c.writer.empty || c.sink.blocked()) continue;
      c.sink.write([HEARTBEAT_COMMENT]);
    }
  }

  /** Sums and resets the clients' delivery counts. */
  collectDeliveries(): number {
    let n = this.goneDeliveries;
    this.goneDeliveries = 0;
    for (const c of this.clients) {
      n += c.delivered;
      c.delivered = 0;
    }
    return n;
  }

  /** Ends every connection, each with its own bytes (a spread-out `retry:`). */
  closeAll(reason: CloseReason, last: (c: Client) => Buffer | undefined, graceMs: number): void {
    this.flush(true);
    for (const c of [...this.clients]) c.close(reason, last(c), graceMs);
  }

  stop(): void {
    this.recent = [];
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
  }
}
