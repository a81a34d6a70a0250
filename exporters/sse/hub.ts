// The hub: gives each event its id and bytes (once), keeps the history, holds the registry of
// clients, and fans events out to them on flush ticks: at most one write per connection per tick,
// the bytes of a run of events shared by every client that follows everything.
//
// Write window: a socket write costs a fixed ~5-7 µs of CPU (most of it the kernel's) whatever it
// carries, so CPU per delivery is that cost over the events per write. With a window of W ticks,
// each connection is written on one tick in W (its phase; connections are dealt round-robin), with
// everything since its last write; the tick a high-lane event arrives writes every connection. So
// low-lane events wait about a window (a connection whose oldest owed event has waited a whole
// window is written on the next tick whatever its phase), writes carry W times more, and each tick
// writes 1/W of the connections instead of all of them at once (the event loop is never held for
// the whole fleet).
import { encodeEvent, HEARTBEAT_COMMENT, HIGH, IdSpace, laneOf, type FeedEvent, type Prepared } from './event.js';
import { History } from './history.js';
import { Client, type CloseReason, type FeedContext } from './client.js';

export interface HubOptions {
  historySize: number;
  historyTtlMs: number;
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
  private seq = 0;
  private tick: Prepared[] = [];
  /** Ticks per write window (1: every connection on every tick). */
  readonly phases: number;
  /** The window in ms: a connection owed an event older than this is written whatever its phase. */
  private readonly windowMs: number;
  private tickNo = 0;
  private nextPhase = 0;
  /** Events some connection may not have been written yet (the last `phases` ticks'), contiguous seqs. */
  private recent: Prepared[] = [];
  /** Last seq at the end of each of the last ticks, oldest first. */
  private tickEnds: number[] = [];
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
    this.history = new History(opts.historySize, opts.historyTtlMs);
    const window = opts.writeWindowMs ?? 0;
    this.phases = opts.flushIntervalMs > 0 && window > opts.flushIntervalMs ? Math.round(window / opts.flushIntervalMs) : 1;
    this.windowMs = this.phases * opts.flushIntervalMs;
  }

  lastSeq(): number {
    return this.seq;
  }

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
    this.history.push(p);
    this.tick.push(p);
    this.counters.published++;
    this.schedule();
    return p;
  }

  /** The next tick comes flush_interval after this one ended: writing holds the event loop for a share of the time at most, and with more connections than a tick can write the ticks (and the window) stretch. */
  private schedule(): void {
    if (this.timer || this.immediate) return;
    if (this.opts.flushIntervalMs > 0) this.timer = setTimeout(() => this.flush(), this.opts.flushIntervalMs);
    else this.immediate = setImmediate(() => this.flush());
  }

  /** One tick: the connections whose phase it is (all of them with `all`, or when a high-lane event came). */
  flush(all = false): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
    const fresh = this.tick;
    this.tick = [];
    if (fresh.length === 0 && this.recent.length === 0) return;
    let every = all || this.phases === 1;
    for (const e of fresh) {
      this.recent.push(e);
      if (e.lane === HIGH) every = true;
    }
    const phase = this.tickNo++ % this.phases;
    const overdue = Date.now() - this.windowMs;
    const recent = this.recent;
    const first = recent.length > 0 ? recent[0]!.seq : this.seq + 1;
    // What a client that last got `lastSeq` is owed, and those events as one buffer: built once
    // per distinct position (in step, every client of a phase has the same one).
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
    for (const c of this.clients) {
      if (c.catchingUp) {
        if (fresh.length > 0) c.pump();
        continue;
      }
      if (c.lastSeq >= this.seq) continue;
      if (c.lastSeq + 1 < first) {
        // Owed more than the window holds (cannot happen in step; be safe): replay from history.
        c.catchingUp = true;
        c.pump();
        continue;
      }
      // Not its phase: written anyway once what it is owed has waited a whole window (ticks that
      // stretch under load would otherwise stretch the window W times over).
      if (!every && c.phase !== phase && recent[c.lastSeq + 1 - first]!.time > overdue) continue;
      const o = owedAfter(c.lastSeq);
      if (o.events[0]!.time < oldest) oldest = o.events[0]!.time;
      if (!c.deliver(o.events, o.shared)) (slow ??= []).push(c);
    }
    if (slow) for (const c of slow) this.kick(c, 'slow');
    if (oldest !== Infinity) this.onTick?.(Date.now() - oldest);
    // The next tick's phase was last written `phases - 1` ticks ago: keep what came after that.
    const ends = this.tickEnds;
    ends.push(this.seq);
    if (ends.length >= this.phases) {
      const keepAfter = ends[ends.length - this.phases]!;
      ends.splice(0, ends.length - this.phases + 1);
      let drop = 0;
      while (drop < recent.length && recent[drop]!.seq <= keepAfter) drop++;
      if (drop === recent.length) this.recent = [];
      else if (drop > 0) this.recent = recent.slice(drop);
    }
    if (all) {
      this.recent = [];
      this.tickEnds = [];
    }
    this.history.prune();
    if (this.recent.length > 0) this.schedule();
  }

  add(c: Client): void {
    c.phase = this.nextPhase++ % this.phases;
    this.clients.add(c);
    c.onGone = (client) => this.clients.delete(client);
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
    let n = 0;
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
    this.tickEnds = [];
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
  }
}
