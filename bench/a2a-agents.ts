// Helper process of bench/a2a-fanin.ts: N agents, each a plain SSE feed at
// GET /agents/<index>/events (one HTTP server per process) that, once started, sends
// `progress_update` events at --rate per second, staggered, with the send time in the data
// (`message: "<index>:<seq>:<send ms>"`) for the driver to measure event → feed latency and count
// what was lost. Driven over fork() IPC (bench/lib/ipc.ts): `connected`, `start`, `stop`.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { serve } from './lib/ipc.js';

const { values } = parseArgs({ options: { first: { type: 'string' }, agents: { type: 'string' }, rate: { type: 'string' } } });
const FIRST = Number(values.first ?? 0);
const AGENTS = Number(values.agents ?? 50);
const RATE = Number(values.rate ?? 10);

/** The one open stream of each agent (a reconnect replaces it). */
const streams: (http.ServerResponse | undefined)[] = new Array(AGENTS).fill(undefined);
const seq: number[] = new Array(AGENTS).fill(0);
/** Events written per agent (sent to a connected stream). */
const sent: number[] = new Array(AGENTS).fill(0);
/** Ticks that found no stream connected (not sent, not counted as lost). */
let unsent = 0;
const timers: NodeJS.Timeout[] = [];
const nowMs = () => performance.timeOrigin + performance.now();

const server = http.createServer((req, res) => {
  const m = /^\/agents\/(\d+)\/events$/.exec(req.url ?? '');
  const i = m ? Number(m[1]) - FIRST : -1;
  if (req.method !== 'GET' || i < 0 || i >= AGENTS) {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
  res.write('retry: 200\n\n');
  streams[i] = res;
  res.on('close', () => {
    if (streams[i] === res) streams[i] = undefined;
  });
});
server.keepAliveTimeout = 0;

function emit(i: number): void {
  const res = streams[i];
  if (res === undefined) {
    unsent++;
    return;
  }
  const n = ++seq[i]!;
  const agent = FIRST + i;
  const data = JSON.stringify({ agent: `bench-agent-${agent}`, task_id: `bench-task-${agent}`, progress: 0.5, message: `${agent}:${n}:${nowMs().toFixed(2)}` });
  res.write(`id: ${n}\nevent: progress_update\ndata: ${data}\n\n`);
  sent[i]!++;
}

server.listen(0, '127.0.0.1', () => {
  serve(
    {
      connected: () => streams.filter((s) => s !== undefined).length,
      start: () => {
        const every = 1000 / RATE;
        for (let i = 0; i < AGENTS; i++) {
          const first = setTimeout(() => {
            emit(i);
            timers.push(setInterval(() => emit(i), every));
          }, Math.random() * every);
          timers.push(first);
        }
        return true;
      },
      stop: () => {
        for (const t of timers.splice(0)) clearTimeout(t);
        return { sent: sent.reduce((a, b) => a + b, 0), unsent };
      },
    },
    { port: (server.address() as AddressInfo).port },
  );
});
