// A load generator for OTLP/HTTP JSON traces (bench/workers.ts): encodes a pool of requests once
// (the same agent-fleet spans as loadgen.ts, turned into OTLP/JSON by fleetcol's own codec), then
// keeps `concurrency` POSTs in flight, one per keep-alive connection, sending the next as soon as
// one completes.
//
// Each request is pre-built whole (head and body, one buffer) and written with one write; a
// response is read only as far as its status line and Content-Length. On 2 cores the generator
// takes its CPU from the fleetcol it measures: node:http's client cost ~1 ms of CPU per request
// here, about a third of fleetcol's main thread; this costs a fraction of it (`workers.js`
// prints the generator's CPU beside fleetcol's).
//
// Started by workers.ts:  loadgen-http.js --spans-per-request N --pool N
// Commands (IPC): start {port, concurrency, maxMs}, stats, stop.
import net from 'node:net';
import { parseArgs } from 'node:util';
import { Telemetry } from '../src/pdata/telemetry.js';
import { serve } from './lib/ipc.js';
import { buildPool } from './lib/spans.js';

export interface HttpStartArgs {
  port: number;
  concurrency: number;
  /** Safety stop: the generator stops by itself after this long. */
  maxMs: number;
}

export interface HttpLoadStats {
  sent: number;
  ok: number;
  failed: number;
  failedByStatus: Record<string, number>;
  okSpans: number;
  lastError: string;
  elapsedMs: number;
}

const { values } = parseArgs({
  options: {
    'spans-per-request': { type: 'string', default: '100' },
    pool: { type: 'string', default: '50' },
  },
});
const spansPerRequest = Number(values['spans-per-request']);
const built = Date.now();
const bodies = buildPool(Number(values.pool), spansPerRequest).map((e) => Buffer.from(Telemetry.fromProto('traces', e.bytes).toJSON()));
const buildMs = Date.now() - built;
const requests = bodies.map((body) =>
  Buffer.concat([
    Buffer.from(`POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`, 'latin1'),
    body,
  ]),
);

const stats: HttpLoadStats = { sent: 0, ok: 0, failed: 0, failedByStatus: {}, okSpans: 0, lastError: '', elapsedMs: 0 };
let running = false;
let startedAt = 0;
let seq = 0;
let timer: NodeJS.Timeout | undefined;
let drained: (() => void) | undefined;
const conns = new Set<Conn>();

function fail(why: string): void {
  stats.failed++;
  stats.failedByStatus[why] = (stats.failedByStatus[why] ?? 0) + 1;
  stats.lastError = why;
}

const HEAD_END = Buffer.from('\r\n\r\n');
const CONTENT_LENGTH = /\r\ncontent-length:[ \t]*(\d+)/i;
const CLOSE = /\r\nconnection:[ \t]*close/i;
const CHUNKED = /\r\ntransfer-encoding:[ \t]*chunked/i;

/** One keep-alive connection with at most one request in flight; reopened after the server closes it. */
class Conn {
  private socket: net.Socket | undefined;
  private pending: Buffer | undefined;
  private status = 0;
  /** Bytes still to come of the current response's body; -1 while reading its head. */
  private bodyLeft = -1;
  private closeAfter = false;
  private chunked = false;
  inflight = false;

  constructor(private readonly port: number) {}

  send(): void {
    if (!running) return;
    if (!this.socket) this.open();
    const req = requests[seq++ % requests.length]!;
    stats.sent++;
    this.inflight = true;
    this.status = 0;
    this.bodyLeft = -1;
    this.socket!.write(req);
  }

  private open(): void {
    const s = net.connect({ host: '127.0.0.1', port: this.port, noDelay: true });
    this.socket = s;
    this.pending = undefined;
    s.on('data', (d: Buffer) => this.onData(d));
    s.on('error', (err: NodeJS.ErrnoException) => this.lost(err.code ?? err.message));
    s.on('close', () => this.lost('closed'));
  }

  private onData(d: Buffer): void {
    let buf = this.pending ? Buffer.concat([this.pending, d]) : d;
    this.pending = undefined;
    while (buf.length > 0) {
      if (this.bodyLeft < 0) {
        const end = buf.indexOf(HEAD_END);
        if (end < 0) {
          this.pending = buf;
          return;
        }
        const head = buf.toString('latin1', 0, end);
        this.status = Number(head.slice(9, 12));
        const cl = CONTENT_LENGTH.exec(head);
        this.chunked = !cl && CHUNKED.test(head);
        if (!cl && !this.chunked) return this.lost('response without content-length or chunked body');
        this.bodyLeft = cl ? Number(cl[1]) : 0;
        this.closeAfter = CLOSE.test(head);
        buf = buf.subarray(end + 4);
      }
      if (this.chunked) {
        // Chunked: "<hex size>\r\n<data>\r\n" until a size of 0 ("0\r\n\r\n": no trailers here).
        if (this.bodyLeft === 0) {
          const eol = buf.indexOf('\r\n');
          if (eol < 0) {
            this.pending = buf;
            return;
          }
          const size = parseInt(buf.toString('latin1', 0, eol), 16);
          if (!(size >= 0)) return this.lost('bad chunk size');
          if (size === 0) {
            if (buf.length < eol + 4) {
              this.pending = buf;
              return;
            }
            buf = buf.subarray(eol + 4);
            this.complete();
            continue;
          }
          this.bodyLeft = size + 2;
          buf = buf.subarray(eol + 2);
        }
        const take = Math.min(this.bodyLeft, buf.length);
        this.bodyLeft -= take;
        buf = buf.subarray(take);
        continue;
      }
      const take = Math.min(this.bodyLeft, buf.length);
      this.bodyLeft -= take;
      buf = buf.subarray(take);
      if (this.bodyLeft > 0) return;
      this.complete();
    }
  }

  private complete(): void {
    this.inflight = false;
    this.bodyLeft = -1;
    this.chunked = false;
    if (this.closeAfter) this.drop();
    if (this.status === 200) {
      stats.ok++;
      stats.okSpans += spansPerRequest;
      this.next(true);
    } else {
      fail(String(this.status));
      this.next(false);
    }
  }

  private lost(why: string): void {
    this.drop();
    if (!this.inflight) return;
    this.inflight = false;
    fail(why);
    this.next(false);
  }

  private drop(): void {
    const s = this.socket;
    this.socket = undefined;
    this.pending = undefined;
    if (s) {
      s.removeAllListeners('close');
      s.destroy();
    }
  }

  private next(ok: boolean): void {
    if (!running) {
      if (![...conns].some((c) => c.inflight)) drained?.();
      return;
    }
    if (ok) this.send();
    else setTimeout(() => this.send(), 50);
  }

  close(): void {
    this.drop();
  }
}

function start(a: unknown): { spansPerRequest: number } {
  const args = a as HttpStartArgs;
  if (running) throw new Error('already running');
  running = true;
  startedAt = Date.now();
  timer = setTimeout(() => void stop(), args.maxMs);
  for (let i = 0; i < args.concurrency; i++) {
    const c = new Conn(args.port);
    conns.add(c);
    c.send();
  }
  return { spansPerRequest };
}

function snapshot(): HttpLoadStats {
  return { ...stats, failedByStatus: { ...stats.failedByStatus }, elapsedMs: running ? Date.now() - startedAt : stats.elapsedMs };
}

async function stop(): Promise<HttpLoadStats> {
  if (running) {
    running = false;
    stats.elapsedMs = Date.now() - startedAt;
    clearTimeout(timer);
    if ([...conns].some((c) => c.inflight)) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 15_000);
        drained = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    for (const c of conns) c.close();
    conns.clear();
  }
  return snapshot();
}

serve({ start, stats: snapshot, stop }, { spansPerRequest, pool: bodies.length, bytesPerRequest: Math.round(bodies.reduce((s, b) => s + b.length, 0) / bodies.length), buildMs });
