// The hub: gives each event its id and bytes (once), keeps the history, holds the registry of
// clients, and fans each flush tick's events out to them: one write per connection per tick, the
// tick's bytes shared by every client that follows everything.
import { encodeEvent, HEARTBEAT_COMMENT, IdSpace, laneOf, type FeedEvent, type Prepared } from './event.js';
import { History } from './history.js';
import { Client, type CloseReason, type FeedContext } from './client.js';

export interface HubOptions {
  historySize: number;
  historyTtlMs: number;
  /** ms between flushes; 0: flush on the next turn of the event loop. */
  flushIntervalMs: number;
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
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  readonly counters: HubCounters = { published: 0, dropped: 0, coalesced: 0, deliveries: 0, slowDisconnects: 0 };
  /** Called for a client that could not take a high-lane event; returns the bytes to end with. */
  onSlow: (c: Client) => Buffer | undefined = () => undefined;

  constructor(private readonly opts: HubOptions) {
    this.ids = new IdSpace(opts.epochMs);
    this.history = new History(opts.historySize, opts.historyTtlMs);
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

  private schedule(): void {
    if (this.timer || this.immediate) return;
    if (this.opts.flushIntervalMs > 0) this.timer = setTimeout(() => this.flush(), this.opts.flushIntervalMs);
    else this.immediate = setImmediate(() => this.flush());
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
    const events = this.tick;
    this.tick = [];
    if (events.length === 0) return;
    let shared: Buffer | undefined;
    const getShared = () => {
      if (shared === undefined) {
        const parts: Buffer[] = [];
        for (const e of events) if (e.type !== 'heartbeat') parts.push(e.bytes);
        shared = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
      }
      return shared;
    };
    let slow: Client[] | undefined;
    for (const c of this.clients) {
      if (c.catchingUp) {
        c.pump();
        continue;
      }
      if (!c.deliver(events, getShared)) (slow ??= []).push(c);
    }
    if (slow) for (const c of slow) this.kick(c, 'slow');
    this.history.prune();
  }

  add(c: Client): void {
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
    this.flush();
    for (const c of [...this.clients]) c.close(reason, last(c), graceMs);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
  }
}
