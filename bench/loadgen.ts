// The load generator: sends pre-encoded OTLP ExportTraceServiceRequests over OTLP/gRPC
// (@grpc/grpc-js, raw bytes) either at full load (a fixed number of requests in flight, the next
// sent as soon as one completes) or at a fixed rate (spans/s). Requests are encoded once at
// startup; per send it only copies the bytes and stamps a sequence number into the first 4 bytes
// of every trace id, so no two requests carry the same trace or span.
//
// Every OK answer's latency (send → response) goes into a histogram (lib/latency.ts, bounded
// memory); `stats` with {resetLatency: true} empties it after taking the snapshot, so the driver
// calls it so at the start of its measured window and the next snapshot's `latency` covers the
// window (answers that arrive in it, whenever they were sent). Failed requests are not in it.
//
// Started by otlp-throughput.ts:  loadgen.js --spans-per-request N --pool N
// Commands (IPC): start {target, mode, concurrency, rate, maxMs}, stats [{resetLatency}], stop.
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { serve } from './lib/ipc.js';
import { LatencyHistogram, type LatencySummary } from './lib/latency.js';
import { buildPool } from './lib/spans.js';

const PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';
const raw = (b: Buffer) => b;

export interface StartArgs {
  target: string;
  mode: 'full' | 'rate';
  /** full: requests in flight. */
  concurrency: number;
  /** HTTP/2 connections the requests are spread over (round robin). */
  connections: number;
  /** rate: spans per second. */
  rate: number;
  /** rate: never more than this many requests in flight (a send that would exceed it is skipped and counted as late). */
  maxInflight: number;
  /** Safety stop: the generator stops by itself after this long. */
  maxMs: number;
  /** full: pause before a slot sends again after a failed request. */
  failBackoffMs: number;
  deadlineMs: number;
}

export interface LoadStats {
  sent: number;
  ok: number;
  failed: number;
  failedByCode: Record<string, number>;
  sentSpans: number;
  okSpans: number;
  inflight: number;
  late: number;
  lastError: string;
  elapsedMs: number;
  /** OK answers' latency, send → response, since the last reset (or the start). Over IPC a
   *  figure with no answers (NaN) arrives as null. */
  latency: LatencySummary;
}

const { values } = parseArgs({
  options: {
    'spans-per-request': { type: 'string', default: '100' },
    pool: { type: 'string', default: '200' },
    seed: { type: 'string', default: '1' },
    mix: { type: 'string', default: 'current' },
  },
});
const spansPerRequest = Number(values['spans-per-request']);
const built = Date.now();
if (values.mix !== 'current' && values.mix !== 'genai') throw new Error('--mix: current or genai');
const pool = buildPool(Number(values.pool), spansPerRequest, Number(values.seed), values.mix);
const buildMs = Date.now() - built;

const stats: Omit<LoadStats, 'latency'> = { sent: 0, ok: 0, failed: 0, failedByCode: {}, sentSpans: 0, okSpans: 0, inflight: 0, late: 0, lastError: '', elapsedMs: 0 };
const latency = new LatencyHistogram();
let clients: grpc.Client[] = [];
let running = false;
let startedAt = 0;
let seq = 0;
let timers: NodeJS.Timeout[] = [];
let drained: (() => void) | undefined;

function nextRequest(): { bytes: Buffer; spans: number } {
  const e = pool[seq % pool.length]!;
  seq++;
  const out = Buffer.allocUnsafe(e.bytes.length);
  e.bytes.copy(out);
  const offs = e.traceIdOffsets;
  for (let i = 0; i < offs.length; i++) out.writeUInt32BE((e.previous[i] ? seq - 1 : seq) >>> 0, offs[i]!);
  return { bytes: out, spans: e.spans };
}

function send(args: StartArgs, done: (ok: boolean) => void): void {
  const { bytes, spans } = nextRequest();
  stats.sent++;
  stats.sentSpans += spans;
  stats.inflight++;
  const client = clients[seq % clients.length]!;
  const t0 = performance.now();
  client.makeUnaryRequest<Buffer, Buffer>(PATH, raw, raw, bytes, new grpc.Metadata(), { deadline: Date.now() + args.deadlineMs }, (err) => {
    const ms = performance.now() - t0;
    stats.inflight--;
    if (err) {
      stats.failed++;
      const code = grpc.status[err.code] ?? String(err.code);
      stats.failedByCode[code] = (stats.failedByCode[code] ?? 0) + 1;
      stats.lastError = `${code}: ${err.details}`;
    } else {
      stats.ok++;
      stats.okSpans += spans;
      latency.record(ms);
    }
    if (stats.inflight === 0 && !running) drained?.();
    done(!err);
  });
}

function start(a: unknown): { spansPerRequest: number } {
  const args = a as StartArgs;
  if (running) throw new Error('already running');
  // A local subchannel pool per client: otherwise grpc-js shares one connection between them.
  clients = Array.from({ length: Math.max(1, args.connections) }, () =>
    new grpc.Client(args.target, grpc.credentials.createInsecure(), {
      'grpc.max_send_message_length': 64 * 1024 * 1024,
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
      'grpc.use_local_subchannel_pool': 1,
    }),
  );
  running = true;
  startedAt = Date.now();
  timers.push(setTimeout(() => void stop(), args.maxMs));
  if (args.mode === 'full') {
    const slot = () => {
      if (!running) return;
      send(args, (ok) => {
        if (!running) return;
        if (ok) slot();
        else timers.push(setTimeout(slot, args.failBackoffMs));
      });
    };
    for (let i = 0; i < args.concurrency; i++) slot();
  } else {
    const perSecond = args.rate / spansPerRequest;
    let due = 0;
    const tick = () => {
      if (!running) return;
      const should = Math.floor(((Date.now() - startedAt) / 1000) * perSecond) + 1;
      while (due < should) {
        due++;
        if (stats.inflight >= args.maxInflight) stats.late++;
        else send(args, () => {});
      }
    };
    tick();
    timers.push(setInterval(tick, Math.max(1, Math.min(10, Math.floor(1000 / perSecond)))));
  }
  return { spansPerRequest };
}

function snapshot(): LoadStats {
  return { ...stats, failedByCode: { ...stats.failedByCode }, elapsedMs: running ? Date.now() - startedAt : stats.elapsedMs, latency: latency.summary() };
}

/** The counters; with {resetLatency: true} the latency histogram is emptied after the snapshot. */
function statsCommand(a: unknown): LoadStats {
  const s = snapshot();
  if ((a as { resetLatency?: boolean } | undefined)?.resetLatency) latency.reset();
  return s;
}

async function stop(): Promise<LoadStats> {
  if (running) {
    running = false;
    stats.elapsedMs = Date.now() - startedAt;
    for (const t of timers) clearTimeout(t);
    timers = [];
    if (stats.inflight > 0) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 15_000);
        drained = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    for (const c of clients) c.close();
    clients = [];
  }
  return snapshot();
}

serve(
  { start, stats: statsCommand, stop },
  { spansPerRequest, pool: pool.length, bytesPerRequest: Math.round(pool.reduce((s, e) => s + e.bytes.length, 0) / pool.length), buildMs },
);
