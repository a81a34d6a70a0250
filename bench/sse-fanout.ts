// SSE fan-out benchmark: fleetcol's sse exporter beside a naive SSE server, same load, same run.
//
//   driver ──OTLP/HTTP protobuf──▶ fleetcol (otlp receiver → sse exporter) ──SSE──▶ N clients
//   driver ──OTLP/HTTP protobuf──▶ naive server ─────────────────────────────SSE──▶ N clients
//
// The clients live in separate processes (this file, role `client`), 2,500 connections each; a
// few per process ("probes") parse every event to measure latency (span end → event received),
// the rest only count events. 100 agents send 1 or 10 updates/s each (one span per update).
// The naive server decodes the same OTLP, builds the same summary, JSON-encodes it once per event
// and does one res.write per event per client. Reported per scenario: delivery latency p50/p99,
// deliveries/s, server CPU-µs per delivery (from /proc), and RSS per idle connection.
//
//   npx tsc -p tsconfig.json && node dist/bench/sse-fanout.js [--clients 1000,5000,10000]
//     [--rates 1,10] [--duration 10] [--warmup 3] [--idle 5000] [--flush 20ms] [--lazy-read 250]
// --lazy-read N: connections other than the probes read every N ms instead of as data comes (the
// server's work is the same; the client processes' is much less, which matters when they share
// two cores with the server).
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, openSync, closeSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Telemetry, type ExportTraceServiceRequest, type KeyValue } from '../src/pdata/telemetry.js';
import { installCleanup, track, untrack } from './lib/cleanup.js';
import { cpuSeconds, freePort, memory, percentile, sleep } from './lib/proc.js';
import { num, table } from './lib/report.js';
import { launchFlags } from './lib/fleetcol.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const CLI = path.join(ROOT, 'dist', 'src', 'cli.js');
const PER_PROC = 2500;
const PROBES_PER_PROC = 10;
const AGENTS = 100;
/** Non-probe connections read every LAZY_MS (0: as data comes); set by --lazy-read. */
let LAZY_MS = 0;

// ---------------------------------------------------------------------------------------------
// role: client process. Holds many SSE connections; counts events; probes measure latency.

function clientRole(lazyMs: number): void {
  const socks: net.Socket[] = [];
  const lazy: net.Socket[] = [];
  if (lazyMs > 0) {
    // Non-probe connections read in bursts every lazyMs (the kernel holds the bytes meanwhile), so
    // that on a small machine the client processes cost less than the server they measure.
    setInterval(() => {
      for (const s of lazy) s.resume();
      setImmediate(() => {
        for (const s of lazy) s.pause();
      });
    }, lazyMs).unref();
  }
  let events = 0;
  let lat: number[] = [];
  let closed = 0;
  const openOne = (port: number, p: string, probe: boolean) =>
    new Promise<void>((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1');
      let head = true;
      let prevNl = false;
      let text = '';
      s.once('error', reject);
      s.on('connect', () => s.write(`GET ${p} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`));
      s.on('close', () => closed++);
      s.on('data', (b: Buffer) => {
        let from = 0;
        if (head) {
          const end = b.indexOf('\r\n\r\n');
          if (end < 0) return;
          head = false;
          s.off('error', reject);
          s.on('error', () => {});
          from = end + 4;
          if (!probe && lazyMs > 0) {
            lazy.push(s);
            s.pause();
          }
          resolve();
        }
        // count "\n\n" (one per event), also across chunk boundaries
        if (prevNl && b[from] === 0x0a) events++;
        let i = from;
        while ((i = b.indexOf('\n\n', i)) >= 0) {
          events++;
          i += 2;
        }
        prevNl = b[b.length - 1] === 0x0a;
        if (probe) {
          text += b.toString('latin1', from);
          const cut = text.lastIndexOf('\n\n');
          if (cut < 0) return;
          const done = text.slice(0, cut);
          text = text.slice(cut + 2);
          const now = Date.now();
          const re = /"end":([0-9.]+)/g;
          let m: RegExpExecArray | null;
          while ((m = re.exec(done))) lat.push(now - Number(m[1]));
        }
      });
      socks.push(s);
    });
  process.on('message', async (m: any) => {
    if (m.cmd === 'open') {
      for (let i = 0; i < m.count; i += 250) {
        const batch = [];
        for (let j = i; j < Math.min(m.count, i + 250); j++) batch.push(openOne(m.port, m.path, j < m.probes));
        await Promise.all(batch);
      }
      process.send!({ ok: true });
    } else if (m.cmd === 'reset') {
      events = 0;
      lat = [];
      process.send!({ ok: true });
    } else if (m.cmd === 'report') {
      process.send!({ events, lat: lat.length > 50_000 ? lat.filter((_, i) => i % Math.ceil(lat.length / 50_000) === 0) : lat, closed, open: socks.length - closed });
    } else if (m.cmd === 'close') {
      for (const s of socks) s.destroy();
      socks.length = 0;
      process.send!({ ok: true });
      setTimeout(() => process.exit(0), 50);
    }
  });
  process.send!({ ready: true });
}

// ---------------------------------------------------------------------------------------------
// role: naive server. One JSON string per event, one res.write per event per client.

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const sattr = (kvs: KeyValue[] | undefined, k: string) => kvs?.find((a) => a.key === k)?.value?.stringValue;

function naiveRole(port: number): void {
  const clients = new Set<http.ServerResponse>();
  let seq = 0;
  let delivered = 0;
  process.on('message', () => process.send!({ delivered }));
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url?.startsWith('/v1/events')) {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
      res.flushHeaders();
      clients.add(res);
      res.on('close', () => clients.delete(res));
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const t = Telemetry.fromProto('traces', new Uint8Array(Buffer.concat(chunks)));
      const r = t.request() as ExportTraceServiceRequest;
      for (const rs of r.resourceSpans) {
        const agent = sattr(rs.resource?.attributes, 'gen_ai.agent.id');
        for (const ss of rs.scopeSpans) {
          for (const s of ss.spans) {
            const start = Number(s.startTimeUnixNano / 1000n) / 1000;
            const end = Number(s.endTimeUnixNano / 1000n) / 1000;
            const json = JSON.stringify({ agent, trace_id: hex(s.traceId), span_id: hex(s.spanId), name: s.name, operation: sattr(s.attributes, 'gen_ai.operation.name'), start, end, duration_ms: end - start, status: 'unset' });
            const msg = `id: ${++seq}\nevent: span\ndata: ${json}\n\n`;
            for (const c of clients) c.write(msg);
            delivered += clients.size;
          }
        }
      }
      res.writeHead(200, { 'content-type': 'application/x-protobuf' });
      res.end();
    });
  });
  server.listen(port, '127.0.0.1', () => process.send!({ ready: true }));
}

// ---------------------------------------------------------------------------------------------
// driver

interface Server {
  name: 'fleetcol' | 'naive';
  proc: ChildProcess;
  ingestPort: number;
  ssePort: number;
  /** Events handed to connections so far, counted by the server. */
  delivered(): Promise<number>;
  stop(): Promise<void>;
}

function scrape(port: number): Promise<string> {
  return new Promise((resolve) => {
    http.get({ host: '127.0.0.1', port, path: '/metrics', agent: false }, (res) => {
      let b = '';
      res.setEncoding('utf8').on('data', (d: string) => (b += d)).on('end', () => resolve(b));
    }).on('error', () => resolve(''));
  });
}

async function waitPort(port: number, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), r(true)));
      s.once('error', () => r(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`port ${port} not open after ${ms} ms`);
    await sleep(100);
  }
}

function exited(p: ChildProcess): Promise<void> {
  return new Promise((r) => (p.exitCode !== null || p.signalCode !== null ? r() : p.once('exit', () => r())));
}

async function startFleetcol(dir: string, flush: string): Promise<Server> {
  const [ingestPort, ssePort, tel] = [await freePort(), await freePort(), await freePort()];
  const cfg = `receivers:
  otlp:
    protocols:
      http: { endpoint: 127.0.0.1:${ingestPort} }
exporters:
  sse:
    endpoint: 127.0.0.1:${ssePort}
    history: { size: 10000 }
    heartbeat_interval: 60s
    metrics_interval: 0s
    flush_interval: ${flush}
    max_connections: 0
    max_connections_per_client: 0
service:
  pipelines:
    traces: { receivers: [otlp], exporters: [sse] }
  telemetry:
    logs: { level: warn }
    metrics: { address: 127.0.0.1:${tel} }
`;
  const file = path.join(dir, 'fleetcol.yaml');
  writeFileSync(file, cfg);
  const log = openSync(path.join(dir, 'fleetcol.log'), 'w');
  const proc = spawn(process.execPath, [...launchFlags(CLI), CLI, '--config', file], { stdio: ['ignore', log, log] });
  closeSync(log);
  track(proc.pid, 'fleetcol');
  await waitPort(ssePort);
  await waitPort(ingestPort);
  return {
    name: 'fleetcol', proc, ingestPort, ssePort,
    delivered: async () => {
      const m = /^fleetcol_exporter_sse_deliveries\{[^}]*\} (\S+)$/m.exec(await scrape(tel));
      return m ? Number(m[1]) : 0;
    },
    stop: async () => {
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 15_000);
      await exited(proc);
      clearTimeout(t);
      untrack(proc.pid);
    },
  };
}

async function startNaive(): Promise<Server> {
  const port = await freePort();
  const proc = fork(fileURLToPath(import.meta.url), ['naive', String(port)], { stdio: 'inherit' });
  track(proc.pid, 'naive');
  await new Promise<void>((r) => proc.once('message', () => r()));
  return {
    name: 'naive', proc, ingestPort: port, ssePort: port,
    delivered: () => {
      const p = new Promise<number>((r) => proc.once('message', (m: any) => r(m.delivered)));
      proc.send('count');
      return p;
    },
    stop: async () => {
      proc.kill('SIGKILL');
      await exited(proc);
      untrack(proc.pid);
    },
  };
}

class ClientProc {
  private waiting: ((m: any) => void)[] = [];
  constructor(readonly proc: ChildProcess) {
    track(proc.pid, 'sse-clients');
    proc.on('message', (m) => this.waiting.shift()?.(m));
  }
  static async start(): Promise<ClientProc> {
    const proc = fork(fileURLToPath(import.meta.url), ['client', String(LAZY_MS)], { stdio: 'inherit' });
    const c = new ClientProc(proc);
    await c.next();
    return c;
  }
  next(): Promise<any> {
    return new Promise((r) => this.waiting.push(r));
  }
  async ask(m: unknown): Promise<any> {
    const p = this.next();
    this.proc.send(m as never);
    return p;
  }
  async close(): Promise<void> {
    await Promise.race([this.ask({ cmd: 'close' }), sleep(3000)]);
    this.proc.kill('SIGKILL');
    await exited(this.proc);
    untrack(this.proc.pid);
  }
}

/** Sends `perSecond` spans/s (one per update, agents round robin) until stopped. */
function loadgen(port: number, perSecond: number): { stop(): Promise<number> } {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  let sent = 0;
  let stopped = false;
  const t0 = Date.now();
  let inflight = Promise.resolve();
  const str = (key: string, v: string): KeyValue => ({ key, value: { stringValue: v } });
  const traces = Array.from({ length: AGENTS }, () => randomBytes(16));
  const tick = setInterval(() => {
    const due = Math.floor(((Date.now() - t0) / 1000) * perSecond) - sent;
    if (due <= 0 || stopped) return;
    const byAgent = new Map<number, number>();
    for (let i = 0; i < due; i++) {
      const a = (sent + i) % AGENTS;
      byAgent.set(a, (byAgent.get(a) ?? 0) + 1);
    }
    sent += due;
    const end = BigInt(Date.now()) * 1_000_000n;
    const req = {
      resourceSpans: [...byAgent].map(([a, n]) => ({
        resource: { attributes: [str('service.name', 'bench'), str('gen_ai.agent.id', `agent-${a}`)], droppedAttributesCount: 0 },
        schemaUrl: '',
        scopeSpans: [{
          scope: { name: 'bench', version: '1', attributes: [], droppedAttributesCount: 0 }, schemaUrl: '',
          spans: Array.from({ length: n }, () => ({
            traceId: traces[a]!, spanId: randomBytes(8), parentSpanId: randomBytes(8), traceState: '', flags: 0,
            name: 'chat gpt-4o', kind: 3, startTimeUnixNano: end - 250_000_000n, endTimeUnixNano: end,
            attributes: [str('gen_ai.operation.name', 'chat'), str('gen_ai.request.model', 'gpt-4o')], droppedAttributesCount: 0,
            events: [], droppedEventsCount: 0, links: [], droppedLinksCount: 0, status: { code: 0, message: '' },
          })),
        }],
      })),
    } as unknown as ExportTraceServiceRequest;
    const body = Buffer.from(Telemetry.fromRequest('traces', req).toProto());
    inflight = new Promise<void>((resolve) => {
      const r = http.request({ host: '127.0.0.1', port, path: '/v1/traces', method: 'POST', agent, headers: { 'content-type': 'application/x-protobuf', 'content-length': body.length } }, (res) => {
        res.resume();
        res.on('end', () => resolve());
      });
      r.on('error', () => resolve());
      r.end(body);
    });
  }, 5);
  return {
    stop: async () => {
      // Requests a saturated server has not answered yet are abandoned, not waited for.
      stopped = true;
      clearInterval(tick);
      await Promise.race([inflight, sleep(500)]);
      agent.destroy();
      return sent;
    },
  };
}

interface Row {
  server: string;
  clients: number;
  rate: number;
  p50: number;
  p99: number;
  deliveriesPerS: number;
  expectedPerS: number;
  /** Server CPU per event handed to a connection (server-side count). */
  cpuUsPerDelivery: number;
  /** Events handed to connections per second, counted by the server. */
  writtenPerS: number;
  cpuPct: number;
  connected: number;
}

async function openClients(procs: ClientProc[], n: number, port: number): Promise<void> {
  let left = n;
  await Promise.all(procs.map((p) => {
    const count = Math.min(PER_PROC, left);
    left -= count;
    return count > 0 ? p.ask({ cmd: 'open', port, path: '/v1/events', count, probes: Math.min(PROBES_PER_PROC, count) }) : Promise.resolve();
  }));
}

async function scenario(kind: 'fleetcol' | 'naive', dir: string, flush: string, clients: number, rate: number, warmup: number, duration: number): Promise<Row> {
  const server = kind === 'fleetcol' ? await startFleetcol(dir, flush) : await startNaive();
  const procs = await Promise.all(Array.from({ length: Math.ceil(clients / PER_PROC) }, () => ClientProc.start()));
  try {
    await openClients(procs, clients, server.ssePort);
    const load = loadgen(server.ingestPort, rate * AGENTS);
    await sleep(warmup * 1000);
    await Promise.all(procs.map((p) => p.ask({ cmd: 'reset' })));
    const cpu0 = cpuSeconds(server.proc.pid!);
    const d0 = await server.delivered();
    const t0 = performance.now();
    await sleep(duration * 1000);
    const reports = await Promise.all(procs.map((p) => p.ask({ cmd: 'report' })));
    const cpu1 = cpuSeconds(server.proc.pid!);
    const d1 = await server.delivered();
    const secs = (performance.now() - t0) / 1000;
    await load.stop();
    const deliveries = reports.reduce((a, r) => a + r.events, 0);
    const written = d1 - d0;
    const lat = reports.flatMap((r) => r.lat as number[]);
    const cpu = cpu1 - cpu0;
    return {
      server: kind, clients, rate,
      p50: percentile(lat, 50), p99: percentile(lat, 99),
      deliveriesPerS: deliveries / secs, expectedPerS: clients * rate * AGENTS,
      cpuUsPerDelivery: written > 0 ? (cpu * 1e6) / written : NaN,
      writtenPerS: written / secs,
      cpuPct: (cpu / secs) * 100,
      connected: reports.reduce((a, r) => a + r.open, 0),
    };
  } finally {
    await Promise.all(procs.map((p) => p.close()));
    await server.stop();
  }
}

async function idleRss(kind: 'fleetcol' | 'naive', dir: string, flush: string, n: number): Promise<{ before: number; after: number; perConn: number }> {
  const server = kind === 'fleetcol' ? await startFleetcol(dir, flush) : await startNaive();
  const procs = await Promise.all(Array.from({ length: Math.ceil(n / PER_PROC) }, () => ClientProc.start()));
  try {
    // One connection first, so lazily built code paths are in `before`.
    const warm = await ClientProc.start();
    await warm.ask({ cmd: 'open', port: server.ssePort, path: '/v1/events', count: 1, probes: 0 });
    await sleep(2000);
    const before = memory(server.proc.pid!).rss;
    await openClients(procs, n, server.ssePort);
    await sleep(3000);
    const after = memory(server.proc.pid!).rss;
    await warm.close();
    return { before, after, perConn: (after - before) / n };
  } finally {
    await Promise.all(procs.map((p) => p.close()));
    await server.stop();
  }
}

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : def;
}

async function main(): Promise<void> {
  installCleanup();
  const clientsList = arg('clients', '1000,5000,10000').split(',').map(Number);
  const rates = arg('rates', '1,10').split(',').map(Number);
  const duration = Number(arg('duration', '10'));
  const warmup = Number(arg('warmup', '3'));
  const idleN = Number(arg('idle', '5000'));
  const flush = arg('flush', '20ms');
  LAZY_MS = Number(arg('lazy-read', '0'));
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fleetcol-sse-bench-'));
  console.log(`== sse-fanout: ${os.cpus().length} CPUs, node ${process.version}; ${AGENTS} agents; clients ${clientsList.join('/')}; updates/s per agent ${rates.join('/')}; ${duration}s measured after ${warmup}s; flush_interval ${flush}; non-probe clients read ${LAZY_MS > 0 ? `every ${LAZY_MS} ms` : 'as data comes'}`);
  const rows: Row[] = [];
  for (const clients of clientsList) {
    for (const rate of rates) {
      for (const kind of ['fleetcol', 'naive'] as const) {
        const r = await scenario(kind, dir, flush, clients, rate, warmup, duration);
        rows.push(r);
        console.log(`${kind.padEnd(8)} ${String(clients).padStart(6)} clients × ${rate * AGENTS} ev/s: p50 ${num(r.p50)} ms, p99 ${num(r.p99)} ms, received ${num(r.deliveriesPerS)}/s, written ${num(r.writtenPerS)}/s (of ${num(r.expectedPerS)}), ${num(r.cpuUsPerDelivery, 3)} CPU-µs/delivery, CPU ${num(r.cpuPct)} %`);
      }
    }
  }
  const idle = { fleetcol: await idleRss('fleetcol', dir, flush, idleN), naive: await idleRss('naive', dir, flush, idleN) };
  console.log('');
  console.log(table(
    ['server', 'clients', 'events/s', 'p50 ms', 'p99 ms', 'written/s', 'received/s', 'received of expected', 'CPU-µs/delivery', 'CPU %', 'fleetcol/naive CPU per delivery'],
    rows.map((r) => {
      const naive = rows.find((x) => x.server === 'naive' && x.clients === r.clients && x.rate === r.rate);
      const ratio = r.server === 'fleetcol' && naive ? r.cpuUsPerDelivery / naive.cpuUsPerDelivery : NaN;
      return [r.server, num(r.clients), num(r.rate * AGENTS), num(r.p50), num(r.p99), num(r.writtenPerS), num(r.deliveriesPerS), `${num((r.deliveriesPerS / r.expectedPerS) * 100)} %`, num(r.cpuUsPerDelivery, 3), num(r.cpuPct), r.server === 'fleetcol' ? `${num(ratio, 2)}×` : ''];
    }),
  ));
  console.log('');
  console.log(table(['server', 'idle connections', 'RSS before', 'RSS after', 'RSS per idle connection'], (['fleetcol', 'naive'] as const).map((k) => [k, num(idleN), `${num(idle[k].before / 1048576, 1)} MiB`, `${num(idle[k].after / 1048576, 1)} MiB`, `${num(idle[k].perConn / 1024, 2)} KiB`])));
  const out = path.join(ROOT, 'bench', 'results');
  mkdirSync(out, { recursive: true });
  const file = path.join(out, `sse-fanout-${new Date().toISOString().replace(/[:.]/g, '').slice(0, 15)}Z.json`);
  writeFileSync(file, JSON.stringify({ cpus: os.cpus().length, node: process.version, flush, lazyReadMs: LAZY_MS, duration, warmup, rows, idle }, null, 2));
  console.log(`\nwrote ${path.relative(ROOT, file)}`);
}

const role = process.argv[2];
if (role === 'client') clientRole(Number(process.argv[3] ?? 0));
else if (role === 'naive') naiveRole(Number(process.argv[3]));
else void main();
