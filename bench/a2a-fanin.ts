// A2A fan-in benchmark: many agent SSE streams into one fleetcol, out through its SSE feed.
//
//   agents (--procs child processes, bench/a2a-agents.ts) ──SSE──▶ fleetcol (a2a receiver, `feeds:`
//   → sse exporter) ──SSE /v1/events──▶ one client (this process)
//
// Each agent sends `progress_update` events at --rate per second with its send time in the data;
// the client matches every event on fleetcol's feed to it: event → feed latency (p50/p99/max over
// the events sent after --warmup), events lost (sent − seen once the feed has drained), and
// fleetcol's CPU % (/proc/PID/stat over the measured window) and RSS. Every run starts fresh
// processes; --runs reduces to medians. Targets (the issue): 0 lost, latency p99 ≤ 100 ms.
//
//   npx tsc -p tsconfig.json && node dist/bench/a2a-fanin.js [--agents 200] [--rate 10]
//     [--duration 30] [--runs 3] [--procs 4] [--warmup 3] [--out FILE]
import { mkdtempSync, openSync, closeSync, rmSync, writeFileSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { installCleanup, track, untrack } from './lib/cleanup.js';
import { checkout, commandLine, load1, machineInfo, parseOptions, positiveOption, resultsFile } from './lib/cli.js';
import { launchFlags } from './lib/fleetcol.js';
import { Helper } from './lib/ipc.js';
import { cpuSeconds, freePort, median, memory, MiB, percentile, sleep } from './lib/proc.js';
import { num, pct, table, within } from './lib/report.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const CLI = path.join(ROOT, 'dist', 'src', 'cli.js');
const TARGET_LOST = 0;
const TARGET_P99_MS = 100;
/** Longest wait, after the agents stop, for the feed to show what they sent. */
const DRAIN_MS = 5000;

const USAGE = `usage: node dist/bench/a2a-fanin.js [options]
  --agents N     agent SSE streams (default 200)
  --rate R       events per second per agent (default 10)
  --duration S   seconds measured per run, after the warm-up (default 30)
  --warmup S     seconds of load before measuring (default 3)
  --runs N       runs, each with fresh processes; medians reported (default 3)
  --procs N      agent processes (default 4)
  --out FILE     results JSON (default bench/results/a2a-fanin-<date>.json)
`;

interface RunResult {
  sent: number;
  seen: number;
  lost: number;
  duplicates: number;
  latencyMs: { p50: number; p99: number; max: number; count: number };
  cpuPercent: number;
  rssMiB: number;
  hwmMiB: number;
  eventsPerSecond: number;
}

/** fleetcol's /v1/events, parsed as it comes: every event whose data names an agent's send time. */
class FeedClient {
  readonly latencies: number[] = [];
  readonly seen = new Set<string>();
  duplicates = 0;
  measureFrom = Infinity;
  measureTo = Infinity;
  private req: http.ClientRequest | undefined;
  private buf = '';

  open(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.req = http.get({ host: '127.0.0.1', port, path: '/v1/events', headers: { accept: 'text/event-stream' } }, (res) => {
        if (res.statusCode !== 200) return reject(new Error(`/v1/events: HTTP ${res.statusCode}`));
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => this.feed(chunk));
        resolve();
      });
      this.req.on('error', reject);
    });
  }

  private feed(chunk: string): void {
    const now = performance.timeOrigin + performance.now();
    this.buf += chunk;
    let cut: number;
    while ((cut = this.buf.indexOf('\n\n')) >= 0) {
      const frame = this.buf.slice(0, cut);
      this.buf = this.buf.slice(cut + 2);
      const data = frame.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n');
      if (data === '') continue;
      const m = /"message":"(\d+):(\d+):([\d.]+)"/.exec(data);
      if (!m) continue;
      const key = `${m[1]}:${m[2]}`;
      if (this.seen.has(key)) {
        this.duplicates++;
        continue;
      }
      this.seen.add(key);
      const sentAt = Number(m[3]);
      if (sentAt >= this.measureFrom && sentAt < this.measureTo) this.latencies.push(now - sentAt);
    }
  }

  close(): void {
    this.req?.destroy();
  }
}

function fleetcolYaml(feeds: string[], ssePort: number, telemetryPort: number): string {
  return `receivers:
  a2a:
    feeds:
${feeds.map((u, i) => `      - { url: "${u}", name: bench-agent-${i} }`).join('\n')}
    reconnect: { initial_interval: 100ms, max_interval: 2s }
exporters:
  sse: { endpoint: 127.0.0.1:${ssePort} }
service:
  pipelines:
    logs: { receivers: [a2a], exporters: [sse] }
  telemetry:
    metrics:
      address: 127.0.0.1:${telemetryPort}
`;
}

async function waitUntil(what: string, timeoutMs: number, fn: () => Promise<boolean> | boolean): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await fn()) return;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function run(o: { agents: number; rate: number; duration: number; warmup: number; procs: number }, dir: string, n: number): Promise<RunResult> {
  const helpers: Helper<{ port: number }>[] = [];
  const script = new URL('./a2a-agents.js', import.meta.url);
  const per = Math.ceil(o.agents / o.procs);
  for (let p = 0, first = 0; first < o.agents; p++, first += per) {
    helpers.push(new Helper<{ port: number }>(`agents-${p}`, script, ['--first', String(first), '--agents', String(Math.min(per, o.agents - first)), '--rate', String(o.rate)]));
  }
  let fleetcol: ChildProcess | undefined;
  const client = new FeedClient();
  try {
    const ports = await Promise.all(helpers.map((h) => h.ready));
    const feeds: string[] = [];
    ports.forEach((r, p) => {
      for (let i = 0; i < per && p * per + i < o.agents; i++) feeds.push(`http://127.0.0.1:${r.port}/agents/${p * per + i}/events`);
    });
    const ssePort = await freePort();
    const telemetryPort = await freePort();
    const config = path.join(dir, `fleetcol-${n}.yaml`);
    writeFileSync(config, fleetcolYaml(feeds, ssePort, telemetryPort));
    const log = openSync(path.join(dir, `fleetcol-${n}.log`), 'w');
    fleetcol = spawn(process.execPath, [...launchFlags(CLI), CLI, '--config', config], { stdio: ['ignore', log, log] });
    closeSync(log);
    track(fleetcol.pid, 'fleetcol');
    const pid = fleetcol.pid!;
    await waitUntil('fleetcol /readyz', 30_000, () => fetch(`http://127.0.0.1:${telemetryPort}/readyz`).then((r) => r.status === 200, () => false));
    await client.open(ssePort);
    await waitUntil('every agent stream connected', 30_000, async () => (await Promise.all(helpers.map((h) => h.call<number>('connected')))).reduce((a, b) => a + b, 0) === o.agents);

    await Promise.all(helpers.map((h) => h.call('start')));
    await sleep(o.warmup * 1000);
    client.measureFrom = performance.timeOrigin + performance.now();
    const cpu0 = cpuSeconds(pid);
    const t0 = performance.now();
    await sleep(o.duration * 1000);
    const cpu1 = cpuSeconds(pid);
    const elapsed = (performance.now() - t0) / 1000;
    client.measureTo = performance.timeOrigin + performance.now();
    const mem = memory(pid);
    const stops = await Promise.all(helpers.map((h) => h.call<{ sent: number; unsent: number }>('stop')));
    const sent = stops.reduce((a, s) => a + s.sent, 0);
    await waitUntil('the feed to drain', DRAIN_MS, () => client.seen.size >= sent).catch(() => {});
    const lat = client.latencies;
    return {
      sent,
      seen: client.seen.size,
      lost: Math.max(0, sent - client.seen.size),
      duplicates: client.duplicates,
      latencyMs: { p50: percentile(lat, 50), p99: percentile(lat, 99), max: lat.length ? Math.max(...lat) : NaN, count: lat.length },
      cpuPercent: ((cpu1 - cpu0) / elapsed) * 100,
      rssMiB: mem.rss / MiB,
      hwmMiB: mem.hwm / MiB,
      eventsPerSecond: lat.length / elapsed,
    };
  } finally {
    client.close();
    if (fleetcol && fleetcol.exitCode === null) {
      const gone = new Promise<void>((r) => fleetcol!.once('exit', () => r()));
      fleetcol.kill('SIGTERM');
      await Promise.race([gone, sleep(10_000)]);
      if (fleetcol.exitCode === null) fleetcol.kill('SIGKILL');
      untrack(fleetcol.pid);
    }
    await Promise.all(helpers.map((h) => h.kill()));
  }
}

async function main(): Promise<void> {
  const v = parseOptions(USAGE, {
    options: {
      agents: { type: 'string', default: '200' },
      rate: { type: 'string', default: '10' },
      duration: { type: 'string', default: '30' },
      warmup: { type: 'string', default: '3' },
      runs: { type: 'string', default: '3' },
      procs: { type: 'string', default: '4' },
      out: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  const pos = positiveOption(USAGE);
  const o = {
    agents: pos('agents', v.agents),
    rate: pos('rate', v.rate, false),
    duration: pos('duration', v.duration, false),
    warmup: pos('warmup', v.warmup, false, true),
    runs: pos('runs', v.runs),
    procs: pos('procs', v.procs),
  };
  installCleanup();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fleetcol-a2a-fanin-'));
  const machine = machineInfo();
  process.stdout.write(`a2a fan-in: ${o.agents} agents × ${o.rate} events/s, ${o.duration} s measured (+${o.warmup} s warm-up), ${o.runs} run(s), ${o.procs} agent processes; load ${load1()}\n`);
  const runs: RunResult[] = [];
  for (let i = 1; i <= o.runs; i++) {
    const r = await run(o, dir, i);
    runs.push(r);
    process.stdout.write(`run ${i}: sent ${r.sent}, lost ${r.lost}, p99 ${num(r.latencyMs.p99, 1)} ms, CPU ${pct(r.cpuPercent)}, RSS ${num(r.rssMiB, 1)} MiB\n`);
  }
  const med = (f: (r: RunResult) => number) => median(runs.map(f));
  const summary = {
    sent: med((r) => r.sent),
    lost: Math.max(...runs.map((r) => r.lost)),
    duplicates: Math.max(...runs.map((r) => r.duplicates)),
    p50: med((r) => r.latencyMs.p50),
    p99: med((r) => r.latencyMs.p99),
    max: Math.max(...runs.map((r) => r.latencyMs.max)),
    cpuPercent: med((r) => r.cpuPercent),
    rssMiB: med((r) => r.rssMiB),
    eventsPerSecond: med((r) => r.eventsPerSecond),
  };
  process.stdout.write(`\n${table(
    ['figure (median of runs; lost and max: worst run)', 'value', 'target', ''],
    [
      ['events/s through fleetcol (measured window)', num(summary.eventsPerSecond), '', ''],
      ['events lost (sent − seen on the feed)', num(summary.lost), String(TARGET_LOST), summary.lost <= TARGET_LOST ? 'ok' : 'MISSED'],
      ['events seen twice', num(summary.duplicates), '', ''],
      ['event → feed latency p50 (ms)', num(summary.p50, 1), '', ''],
      ['event → feed latency p99 (ms)', num(summary.p99, 1), `≤ ${TARGET_P99_MS}`, within(summary.p99, TARGET_P99_MS)],
      ['event → feed latency max (ms)', num(summary.max, 1), '', ''],
      ['fleetcol CPU (% of one core)', pct(summary.cpuPercent), '', ''],
      ['fleetcol RSS at the end (MiB)', num(summary.rssMiB, 1), '', ''],
    ],
  )}\n`);
  const file = resultsFile(ROOT, 'a2a-fanin', v.out);
  writeFileSync(file, JSON.stringify({ bench: 'a2a-fanin', command: commandLine(), ...checkout(ROOT), machine, loadAtEnd: load1(), options: o, targets: { lost: TARGET_LOST, p99Ms: TARGET_P99_MS }, summary, runs }, null, 2));
  process.stdout.write(`results: ${path.relative(process.cwd(), file)}\n`);
  rmSync(dir, { recursive: true, force: true });
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
