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
// replaced, after a pause that grows while replacements die young.
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
  historyMaxBytes: number;
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
  /** A handed stream ended; `reason` as the exporter's own streams log it (client, slow, ...). */
  | { t: 'gone'; id: number; reason?: string }
  /** The stream's socket arrived (the exporter's copy was closed when it was sent). */
  | { t: 'took'; id: number }
  | { t: 'stats'; lastId: number; deliveries: number; dropped: number; coalesced: number; slow: number; clients: number; windowMs: number; delays: number[] };

/** A stream handed to a writer: what to call when it ends, and the exporter's copy of its socket
 *  until the writer has its own. */
interface Handed {
  id: number;
  end: (reason: string) => void;
  socket: Socket | undefined;
  /** The writer has the socket. */
  took: boolean;
}

interface Writer {
  proc: ChildProcess;
  startedAt: number;
  /** When it last sent anything (it reports stats every second). */
  heardAt: number;
  /** Has its init: may be sent events and streams. */
  live: boolean;
  /** The write window its hub last reported following. */
  windowMs: number;
  /** Handed streams not yet ended, by id. */
  streams: Map<number, Handed>;
  /** Bytes of events sent to it and not yet written to its IPC channel (it is not reading). */
  unsentBytes: number;
  ready: Promise<void>;
  exited: Promise<void>;
}

/** A replacement for a writer that died within this long of its start waits longer each time. */
const YOUNG_DEATH_MS = 10_000;
const MAX_RESPAWN_DELAY_MS = 30_000;
/** A writer silent this long (it reports every second) is stuck: it is killed, and replaced. The
 *  exporter would otherwise queue every event for it without bound. */
const STALL_MS = 10_000;
/** A writer that leaves this many bytes of events unread is too slow for the feed: it is killed,
 *  and replaced (its clients resume from their last id), rather than queued for without bound. */
const MAX_UNSENT_BYTES = 64 * 1024 * 1024;

const ENTRY = fileURLToPath(new URL(`./writer-process${extname(fileURLToPath(import.meta.url))}`, import.meta.url));

export class WriterPool {
  private readonly writers: Writer[] = [];
  private pending: Prepared[] = [];
  private forwardScheduled = false;
  private nextId = 1;
  private stopping = false;
  private respawnDelayMs = 0;
  private watchdog: NodeJS.Timeout | undefined;
  /** Sums of what the writers reported (deliveries, low-lane losses, slow disconnects). */
  readonly totals = { deliveries: 0, dropped: 0, coalesced: 0, slow: 0 };
  /** Each writer tick's write delay (ms), as the exporter's own hub reports it. */
  onDelay: (ms: number) => void = () => {};
  /** See MAX_UNSENT_BYTES. */
  maxUnsentBytes = MAX_UNSENT_BYTES;

  constructor(
    private readonly size: number,
    private readonly init: WriterInit,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    for (let i = 0; i < this.size; i++) this.writers.push(this.spawn());
    let lastCheck = Date.now();
    this.watchdog = setInterval(() => {
      const now = Date.now();
      const late = now - lastCheck > 2000; // this process was held up itself: the writers' messages wait unread
      lastCheck = now;
      for (const w of this.writers) {
        if (late) w.heardAt = now;
        else if (usable(w) && now - w.heardAt > STALL_MS) {
          this.logger.error({ pid: w.proc.pid, silentMs: now - w.heardAt }, 'SSE writer process stalled; killing it');
          w.proc.kill('SIGKILL');
          w.heardAt = now;
        }
      }
    }, 1000);
    this.watchdog.unref();
    await Promise.all(this.writers.map((w) => w.ready));
  }

  /** True if a stream can be handed over now. */
  get available(): boolean {
    return !this.stopping && this.writers.some(usable);
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
   * is called once when it ends, wherever that happens, with why: the writer's reason, or
   * `writer_exit` (the writer died with it) or `writer_lost` (its socket never reached the writer).
   */
  hand(socket: Socket, stream: HandedStream, ended: (reason: string) => void): void {
    this.forward(); // the writer must have every event up to the stream's start before the stream
    let w: Writer | undefined;
    for (const o of this.writers) if (usable(o) && (w === undefined || o.streams.size < w.streams.size)) w = o;
    if (w === undefined) {
      socket.destroy();
      return ended('writer_exit');
    }
    const writer = w;
    const id = this.nextId++;
    let once = false;
    const handed: Handed = {
      id,
      socket,
      took: false,
      end: (reason) => {
        if (once) return;
        once = true;
        writer.streams.delete(id);
        ended(reason);
      },
    };
    writer.streams.set(id, handed);
    const msg: ToWriter = { t: 'client', id, ...stream };
    // keepOpen: the exporter closes its copy itself once the message (and with it the writer's copy)
    // is on its way, so a copy that never reaches the writer (the writer died first) is still ours to
    // close and the client sees the connection end. Closing one copy does not end the connection.
    socket.pause();
    try {
      writer.proc.send(msg, socket, { keepOpen: true }, (err) => {
        handed.socket = undefined;
        socket.destroy();
        if (err) handed.end('writer_exit');
      });
    } catch {
      // Not sent (a message that cannot be serialised): the stream ends here, once.
      handed.socket = undefined;
      socket.destroy();
      handed.end('hand_failed');
    }
  }

  /** Every writer ends its streams (each with its own `retry:`) and exits; bounded by timeoutMs. */
  async close(retryMs: number, spreadMs: number, graceMs: number, timeoutMs: number): Promise<void> {
    this.stopping = true;
    clearInterval(this.watchdog);
    this.forward();
    for (const w of this.writers) {
      if (w.proc.connected) w.proc.send({ t: 'close', retryMs, spreadMs, graceMs } satisfies ToWriter);
    }
    // Waits for the exits, not for a message: a writer writes its profile or coverage as it exits.
    const all = Promise.all(this.writers.map((w) => w.exited));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all, new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    for (const w of this.writers) {
      if (w.proc.exitCode === null && w.proc.signalCode === null) w.proc.kill('SIGKILL');
      release(w);
    }
  }

  private forward(): void {
    this.forwardScheduled = false;
    if (this.pending.length === 0) return;
    const msg: ToWriter = { t: 'events', events: this.pending };
    let bytes = 0;
    for (const p of this.pending) bytes += p.bytes.length;
    this.pending = [];
    for (const w of this.writers) {
      if (!usable(w)) continue;
      w.unsentBytes += bytes;
      w.proc.send(msg, () => void (w.unsentBytes -= bytes));
      if (w.unsentBytes > this.maxUnsentBytes) {
        this.logger.error({ pid: w.proc.pid, unsentBytes: w.unsentBytes }, 'SSE writer process is not keeping up with the feed; killing it');
        w.live = false; // nothing more for it; 'exit' replaces it
        w.proc.kill('SIGKILL');
      }
    }
  }

  private spawn(): Writer {
    const proc = fork(ENTRY, [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: writerExecArgv(process.execArgv), env: writerEnv(process.env) });
    let readyFn!: () => void;
    let exitedFn!: () => void;
    const w: Writer = {
      proc,
      startedAt: Date.now(),
      heardAt: Date.now(),
      live: false,
      windowMs: 0,
      streams: new Map(),
      unsentBytes: 0,
      ready: new Promise<void>((r) => (readyFn = r)),
      exited: new Promise<void>((r) => (exitedFn = r)),
    };
    proc.on('message', (m: ToParent) => {
      w.heardAt = Date.now();
      switch (m.t) {
        case 'ready':
          this.forward(); // what is pending predates it
          proc.send(this.init);
          w.live = true;
          readyFn();
          break;
        case 'gone':
          w.streams.get(m.id)?.end(m.reason ?? 'writer_lost');
          break;
        case 'took': {
          const h = w.streams.get(m.id);
          if (h) h.took = true;
          break;
        }
        case 'stats':
          // A writer takes streams in the order they were sent. One that has taken a later stream
          // but not this one never got its socket (node drops a handle that arrives without its
          // descriptor, e.g. at the writer's open-file limit): the connection is closed already,
          // and its slot comes back here.
          for (const h of w.streams.values()) if (!h.took && h.socket === undefined && h.id < m.lastId) h.end('writer_lost');
          this.totals.deliveries += m.deliveries;
          this.totals.dropped += m.dropped;
          this.totals.coalesced += m.coalesced;
          this.totals.slow += m.slow;
          w.windowMs = m.windowMs;
          for (const d of m.delays) this.onDelay(d);
          break;
      }
    });
    let gone = false;
    const onGone = (code: number | null, signal: string | null) => {
      if (gone) return;
      gone = true;
      w.live = false;
      readyFn();
      exitedFn();
      release(w);
      if (this.stopping) return;
      // Its streams went with it; their clients reconnect and resume. Keep the pool's size, but
      // do not spin on a writer that cannot start or keeps dying.
      this.respawnDelayMs = Date.now() - w.startedAt > YOUNG_DEATH_MS ? 0 : Math.min(MAX_RESPAWN_DELAY_MS, Math.max(100, this.respawnDelayMs * 2));
      this.logger.error({ pid: proc.pid, code, signal, restartInMs: this.respawnDelayMs }, 'SSE writer process exited; starting another');
      setTimeout(() => {
        const i = this.writers.indexOf(w);
        if (!this.stopping && i >= 0) this.writers[i] = this.spawn();
      }, this.respawnDelayMs).unref();
    };
    proc.on('error', (err) => {
      this.logger.error({ err: err.message, pid: proc.pid }, 'SSE writer process error');
      if (proc.pid === undefined) onGone(null, null); // it never started: no 'exit' will come
    });
    proc.once('exit', onGone);
    return w;
  }
}

function usable(w: Writer): boolean {
  return w.live && w.proc.connected;
}

/** Ends the writer's streams: the exporter's copies of sockets not yet handed over are closed. */
function release(w: Writer): void {
  for (const h of [...w.streams.values()]) {
    h.socket?.destroy();
    h.socket = undefined;
    h.end('writer_exit');
  }
}

const DROPPED_WITH_VALUE = new Set(['--cpu-prof-name', '--inspect-port', '--debug-port', '--inspect-publish-uid']);

/** Node flags carry over (a TypeScript loader, --cpu-prof), but not a profile's file name, which
 *  would be shared with the exporter's process, nor an inspector, whose port would be. */
function writerExecArgv(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (DROPPED_WITH_VALUE.has(a)) {
      i++; // and its value
      continue;
    }
    if (a.startsWith('--cpu-prof-name=') || a.startsWith('--inspect') || a.startsWith('--debug')) continue;
    out.push(a);
  }
  return out;
}

/** Only Node's own variables (NODE_OPTIONS, NODE_V8_COVERAGE...): a writer needs no secret the
 *  exporter's environment holds (a JWT secret given as ${env:...}). */
function writerEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) if (k.startsWith('NODE_') || k === 'TZ') out[k] = v;
  return out;
}
