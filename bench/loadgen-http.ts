// A load generator for OTLP/HTTP JSON traces (bench/workers.ts): encodes a pool of requests once
// (the same agent-fleet spans as loadgen.ts, turned into OTLP/JSON by fleetcol's own codec), then
// keeps `concurrency` POSTs in flight on keep-alive connections, sending the next as soon as one
// completes. Sending pre-encoded bytes keeps the generator's own CPU small next to fleetcol's.
//
// Started by workers.ts:  loadgen-http.js --spans-per-request N --pool N
// Commands (IPC): start {port, concurrency, maxMs}, stats, stop.
import http from 'node:http';
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

const stats: HttpLoadStats = { sent: 0, ok: 0, failed: 0, failedByStatus: {}, okSpans: 0, lastError: '', elapsedMs: 0 };
let agent: http.Agent | undefined;
let running = false;
let inflight = 0;
let startedAt = 0;
let seq = 0;
let timer: NodeJS.Timeout | undefined;
let drained: (() => void) | undefined;

function fail(why: string): void {
  stats.failed++;
  stats.failedByStatus[why] = (stats.failedByStatus[why] ?? 0) + 1;
  stats.lastError = why;
}

function send(port: number, done: (ok: boolean) => void): void {
  const body = bodies[seq++ % bodies.length]!;
  stats.sent++;
  inflight++;
  const finish = (ok: boolean) => {
    inflight--;
    if (inflight === 0 && !running) drained?.();
    done(ok);
  };
  const req = http.request(
    { host: '127.0.0.1', port, path: '/v1/traces', method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': body.length } },
    (res) => {
      res.resume();
      res.on('end', () => {
        if (res.statusCode === 200) {
          stats.ok++;
          stats.okSpans += spansPerRequest;
          finish(true);
        } else {
          fail(String(res.statusCode));
          finish(false);
        }
      });
    },
  );
  req.on('error', (err) => {
    fail((err as NodeJS.ErrnoException).code ?? err.message);
    finish(false);
  });
  req.end(body);
}

function start(a: unknown): { spansPerRequest: number } {
  const args = a as HttpStartArgs;
  if (running) throw new Error('already running');
  agent = new http.Agent({ keepAlive: true, maxSockets: args.concurrency });
  running = true;
  startedAt = Date.now();
  timer = setTimeout(() => void stop(), args.maxMs);
  const slot = () => {
    if (!running) return;
    send(args.port, (ok) => {
      if (!running) return;
      if (ok) slot();
      else setTimeout(slot, 50);
    });
  };
  for (let i = 0; i < args.concurrency; i++) slot();
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
    if (inflight > 0) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 15_000);
        drained = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    agent?.destroy();
  }
  return snapshot();
}

serve({ start, stats: snapshot, stop }, { spansPerRequest, pool: bodies.length, bytesPerRequest: Math.round(bodies.reduce((s, b) => s + b.length, 0) / bodies.length), buildMs });
