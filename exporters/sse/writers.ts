// Writer processes (`writers: N`). A socket write is most of what a delivery costs (the kernel's
// TCP work), and one event loop writes on one core: past a few thousand streams the writes of a
// window no longer fit in it, and every stream's events wait. With writers, the exporter hands each
// new plain-HTTP stream that starts at the live edge, once its head and subscription_confirmed are
// on the wire, to the writer process with the fewest (the socket itself, as node:cluster passes
// connections), and forwards every published event to every writer; each writer runs its own hub
// (writer-process.ts). The exporter keeps auth, tickets, limits, /v1/agents, HTTP/2 streams and
// streams that resume from the history, and hears when a handed stream ends. A handed socket has
// not been written to: its first bytes (response head, retry:, subscription_confirmed) travel with
// it and the writer sends them. A writer that dies
// takes its streams with it (their clients reconnect and resume from their last id) and is
// replaced.
import { fork, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { Prepared } from './event.js';

export interface WriterInit {
  t: 'init';
  historySize: number;
  historyTtlMs: number;
  flushIntervalMs: number;
  writeWindowMs: number;
  epochMs: number;
  maxBytes: number;
  retryMs: number;
  heartbeatMs: number;
}

/** What a writer needs to know of a stream: its first bytes, where it starts, what it follows, who holds it. */
export interface HandedStream {
  first: Buffer;
  start: number;
  filter: { agents: string[] | null; types: string[] | null; minSeverity: number; patterns: string[] | null };
  principal: string;
  expMs: number | null;
}

export type ToWriter =
  | WriterInit
  | { t: 'events'; events: Prepared[] }
  | ({ t: 'client'; id: number } & HandedStream)
  | { t: 'close'; retryMs: number; spreadMs: number; graceMs: number };

export type ToParent =
  | { t: 'ready' }
  | { t: 'gone'; id: number }
  | { t: 'stats'; deliveries: number; dropped: number; coalesced: number; slow: number; clients: number; windowMs: number; delays: number[] }
  | { t: 'closed' };

interface Writer {
  proc: ChildProcess;
  /** Has its init: may be sent events and streams. */
  live: boolean;
  /** The write window its hub last reported following. */
  windowMs: number;
  /** Handed streams not yet ended, by id: what to call when they end. */
  streams: Map<number, () => void>;
  ready: Promise<void>;
  closed: Promise<void>;
}

const ENTRY = fileURLToPath(new URL(`./writer-process${extname(fileURLToPath(import.meta.url))}`, import.meta.url));

export class WriterPool {
  private readonly writers: Writer[] = [];
  private pending: Prepared[] = [];
  private forwardScheduled = false;
  private nextId = 1;
  private stopping = false;
  /** Sums of what the writers reported (deliveries, low-lane losses, slow disconnects). */
  readonly totals = { deliveries: 0, dropped: 0, coalesced: 0, slow: 0 };
  /** Each writer tick's write delay (ms), as the exporter's own hub reports it. */
  onDelay: (ms: number) => void = () => {};

  constructor(
    private readonly size: number,
    private readonly init: WriterInit,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    for (let i = 0; i < this.size; i++) this.writers.push(this.spawn());
    await Promise.all(this.writers.map((w) => w.ready));
  }

  /** True if a stream can be handed over now. */
  get available(): boolean {
    return !this.stopping && this.writers.some((w) => w.live);
  }

  /** Streams handed to writers and not yet ended. */
  get streams(): number {
    let n = 0;
    for (const w of this.writers) n += w.streams.size;
    return n;
  }

  /** The longest write window a writer's hub follows (see Hub.effectiveWindowMs). */
  get windowMs(): number {
    let ms = 0;
    for (const w of this.writers) if (w.live) ms = Math.max(ms, w.windowMs);
    return ms;
  }

  /** Queues an event for every writer; sent in one message per writer per event-loop turn. */
  publish(p: Prepared): void {
    this.pending.push(p);
    if (this.forwardScheduled) return;
    this.forwardScheduled = true;
    setImmediate(() => this.forward());
  }

  /**
   * Hands a stream to the live writer with the fewest streams (check `available` first). `ended`
   * is called once when it ends, wherever that happens.
   */
  hand(socket: Socket, stream: HandedStream, ended: () => void): void {
    this.forward(); // the writer must have every event up to the stream's start before the stream
    let w: Writer | undefined;
    for (const o of this.writers) if (o.live && (w === undefined || o.streams.size < w.streams.size)) w = o;
    if (w === undefined) {
      socket.destroy();
      return ended();
    }
    const writer = w;
    const id = this.nextId++;
    let once = false;
    const end = () => {
      if (once) return;
      once = true;
      writer.streams.delete(id);
      ended();
    };
    writer.streams.set(id, end);
    const msg: ToWriter = { t: 'client', id, ...stream };
    writer.proc.send(msg, socket, { keepOpen: false }, (err) => {
      if (!err) return;
      socket.destroy();
      end();
    });
  }

  /** Every writer ends its streams (each with its own `retry:`) and exits; bounded by timeoutMs. */
  async close(retryMs: number, spreadMs: number, graceMs: number, timeoutMs: number): Promise<void> {
    this.stopping = true;
    this.forward();
    for (const w of this.writers) {
      if (w.proc.connected) w.proc.send({ t: 'close', retryMs, spreadMs, graceMs } satisfies ToWriter);
    }
    const all = Promise.all(this.writers.map((w) => w.closed));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all, new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    for (const w of this.writers) {
      if (w.proc.exitCode === null && w.proc.signalCode === null) w.proc.kill('SIGKILL');
      for (const end of [...w.streams.values()]) end();
    }
  }

  private forward(): void {
    this.forwardScheduled = false;
    if (this.pending.length === 0) return;
    const msg: ToWriter = { t: 'events', events: this.pending };
    this.pending = [];
    for (const w of this.writers) if (w.live && w.proc.connected) w.proc.send(msg);
  }

  private spawn(): Writer {
    // Node flags carry over (a TypeScript loader, --cpu-prof), but not a profile's file name, which
    // would be shared with the exporter's process.
    const execArgv = process.execArgv.filter((a) => !a.startsWith('--cpu-prof-name'));
    const proc = fork(ENTRY, [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv });
    let readyFn!: () => void;
    let closedFn!: () => void;
    const w: Writer = {
      proc,
      live: false,
      windowMs: 0,
      streams: new Map(),
      ready: new Promise<void>((r) => (readyFn = r)),
      closed: new Promise<void>((r) => (closedFn = r)),
    };
    proc.on('message', (m: ToParent) => {
      switch (m.t) {
        case 'ready':
          this.forward(); // what is pending predates it
          proc.send(this.init);
          w.live = true;
          readyFn();
          break;
        case 'gone':
          w.streams.get(m.id)?.();
          break;
        case 'stats':
          this.totals.deliveries += m.deliveries;
          this.totals.dropped += m.dropped;
          this.totals.coalesced += m.coalesced;
          this.totals.slow += m.slow;
          w.windowMs = m.windowMs;
          for (const d of m.delays) this.onDelay(d);
          break;
        case 'closed':
          closedFn();
          break;
      }
    });
    proc.on('error', (err) => this.logger.error({ err: err.message, pid: proc.pid }, 'SSE writer process error'));
    proc.once('exit', (code, signal) => {
      w.live = false;
      readyFn();
      closedFn();
      for (const end of [...w.streams.values()]) end();
      if (this.stopping) return;
      // Its streams went with it; their clients reconnect and resume. Keep the pool's size.
      this.logger.error({ pid: proc.pid, code, signal }, 'SSE writer process exited; starting another');
      const i = this.writers.indexOf(w);
      if (i >= 0) this.writers[i] = this.spawn();
    });
    return w;
  }
}
