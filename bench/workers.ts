// Scaling with worker threads: the same full load of OTLP/HTTP JSON traces (the load where the
// threads do the heavy part: JSON decode + protobuf encode, ~46 µs per span) through fleetcol with
// service.workers.threads = 0 (inline), 1 and 2. Reports spans/s delivered and its ratio to one
// thread, fleetcol's CPU (all threads and the main thread alone, from /proc), and the main event
// loop's delay p99 at full load from fleetcol's own fleetcol_process_event_loop_delay_p99_seconds.
//
//   node dist/bench/workers.js [--runs 3] [--threads 0,1,2] [--duration 20] [--warmup 5] ...
//
// loadgen-http ──OTLP/HTTP JSON──▶ fleetcol (otlp receiver → batch → otlp exporter) ──OTLP/gRPC──▶ sink
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { installCleanup, killAll } from './lib/cleanup.js';
import { Fleetcol } from './lib/fleetcol.js';
import { Helper } from './lib/ipc.js';
import { ProcMonitor } from './lib/monitor.js';
import { clockTicks, freePort, median, MiB, sleep } from './lib/proc.js';
import { num, pct, table, within } from './lib/report.js';
import type { HttpLoadStats, HttpStartArgs } from './loadgen-http.js';
import type { SinkStats } from './sink.js';
import { checkout, commandLine, machineInfo, parseOptions, positiveOption } from './lib/cli.js';

const HERE = dirname(fileURLToPath(import.meta.url)); // dist/bench
const ROOT = resolve(HERE, '..', '..');
const CLI = resolve(HERE, '..', 'src', 'cli.js');
const script = (name: string) => new URL(`./${name}`, import.meta.url);

const TARGET_RATIO = 1.6; // spans/s with 2 threads / with 1
const TARGET_DELAY_P99_MS = 20;
const WINDOW_S = 10; // fleetcol's event-loop delay window (src/telemetry/process.ts)

const USAGE = `usage: node dist/bench/workers.js [options]
  --runs N               repeat every configuration N times, report medians (default 3)
  --threads LIST         service.workers.threads values to compare (default 0,1,2; 0 = inline)
  --duration S           measured seconds (default 20)
  --warmup S             seconds of load before measuring (default 5)
  --concurrency N        requests in flight (default 16)
  --spans-per-request N  (default 100)
  --pool N               distinct pre-encoded requests (default 50)
  --sink-impl http2|grpc-js  the backend: node:http2 with 16 MiB windows (default) or grpc-js (64 KiB)
  --set key=value        passed to fleetcol as --set (repeatable)
  --node-arg FLAG        extra node flag for fleetcol, e.g. --node-arg=--cpu-prof (repeatable)
  --out FILE             JSON results (default bench/results/workers-<date>.json)
  --keep                 keep the temp dir with fleetcol's configs and logs
`;

const opt = parseOptions(USAGE, {
  options: {
    runs: { type: 'string', default: '3' },
    threads: { type: 'string', default: '0,1,2' },
    duration: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '16' },
    'spans-per-request': { type: 'string', default: '100' },
    pool: { type: 'string', default: '50' },
    'sink-impl': { type: 'string', default: 'http2' },
    set: { type: 'string', multiple: true, default: [] },
    'node-arg': { type: 'string', multiple: true, default: [] },
    out: { type: 'string' },
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
const positive = positiveOption(USAGE);
const cfg = {
  runs: positive('runs', opt.runs),
  threads: opt.threads!.split(',').map((s) => Number(s.trim())),
  durationS: positive('duration', opt.duration, false),
  warmupS: Number(opt.warmup),
  concurrency: positive('concurrency', opt.concurrency),
  spansPerRequest: positive('spans-per-request', opt['spans-per-request']),
  pool: positive('pool', opt.pool),
  sinkImpl: opt['sink-impl']!,
  sets: opt.set as string[],
  nodeArgs: opt['node-arg'] as string[],
};
if (cfg.sinkImpl !== 'http2' && cfg.sinkImpl !== 'grpc-js') {
  process.stderr.write(`unknown --sink-impl "${cfg.sinkImpl}" (valid: http2, grpc-js)\n`);
  process.exit(2);
}
if (cfg.threads.some((n) => !Number.isInteger(n) || n < 0)) {
  process.stderr.write(`--threads must be a list of integers >= 0\n`);
  process.exit(2);
}
if (cfg.warmupS + cfg.durationS < 2 * WINDOW_S) {
  process.stderr.write(`--warmup + --duration must be at least ${2 * WINDOW_S} s, so that a whole ${WINDOW_S}-s event-loop window falls under load\n`);
  process.exit(2);
}

installCleanup();
const tmp = mkdtempSync(join(os.tmpdir(), 'fleetcol-bench-workers-'));

// ---------------------------------------------------------------------------------------------

/** CPU seconds per thread of a process (/proc/<pid>/task/<tid>/stat), keyed by tid. */
function threadCpu(pid: number): Map<number, { name: string; cpu: number }> {
  const out = new Map<number, { name: string; cpu: number }>();
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(t), { name, cpu: (Number(f[11]) + Number(f[12])) / clockTicks() });
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

/** One sample's value from Prometheus text. */
function metric(text: string, name: string, labelPart = ''): number {
  for (const line of text.split('\n')) {
    if ((line.startsWith(name + '{') || line.startsWith(name + ' ')) && line.includes(labelPart)) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return NaN;
}

interface Run {
  threads: number;
  run: number;
  loadavg: number;
  error?: string;
  spansPerSec?: number;
  acceptedSpansPerSec?: number;
  cpuPct?: number;
  cpuSecPerMillion?: number;
  mainThreadCpuPct?: number;
  /** CPU % of one core by thread name (other than the main thread), summed. */
  otherThreadsCpuPct?: Record<string, number>;
  delayP99Ms?: number;
  delayMaxMs?: number;
  peakRssMiB?: number;
  loadgenCpuPct?: number;
  sinkCpuPct?: number;
  requestsFailed?: number;
  failedByStatus?: Record<string, number>;
  workerTasks?: number;
  mainTasks?: number;
}

async function oneRun(threads: number, run: number): Promise<Run> {
  const name = `workers-${threads}-run${run}`;
  const r: Run = { threads, run, loadavg: Math.round(os.loadavg()[0]! * 100) / 100 };
  const sink = new Helper<{ port: number }>('sink', script('sink.js'), cfg.sinkImpl === 'grpc-js' ? ['--grpc-js'] : []);
  const lg = new Helper<{ spansPerRequest: number }>('loadgen-http', script('loadgen-http.js'), ['--spans-per-request', String(cfg.spansPerRequest), '--pool', String(cfg.pool)]);
  let fc: Fleetcol | undefined;
  try {
    const { port: sinkPort } = await sink.ready;
    await lg.ready;
    const httpPort = await freePort();
    const sets = [`receivers.otlp.protocols.http.endpoint=127.0.0.1:${httpPort}`, `service.workers.threads=${threads}`, ...cfg.sets];
    fc = await Fleetcol.start({ cli: CLI, dir: tmp, name, sinkPort, compression: 'none', batchSize: 8192, batchTimeout: '200ms', sets, nodeArgs: cfg.nodeArgs });
    const args: HttpStartArgs = { port: httpPort, concurrency: cfg.concurrency, maxMs: 10 * 60_000 };
    await lg.call('start', args);
    await sleep(cfg.warmupS * 1000);
    const mon = new ProcMonitor(fc.pid).begin();
    const lgMon = new ProcMonitor(lg.pid).begin();
    const sinkMon = new ProcMonitor(sink.pid).begin();
    const t0 = threadCpu(fc.pid);
    const [la, sa] = await Promise.all([lg.call<HttpLoadStats>('stats'), sink.call<SinkStats>('stats')]);
    await sleep(cfg.durationS * 1000);
    const [lb, sb] = await Promise.all([lg.call<HttpLoadStats>('stats'), sink.call<SinkStats>('stats')]);
    const t1 = threadCpu(fc.pid);
    const u = mon.end();
    const lu = lgMon.end();
    const su = sinkMon.end();
    // Scraped under load: the last whole window of the event-loop delay lies inside it.
    const m = await fc.metrics();
    const fin = await lg.call<HttpLoadStats>('stop', undefined, 60_000);
    const delivered = sb.spans - sa.spans;
    const others: Record<string, number> = {};
    let main = 0;
    for (const [tid, b] of t1) {
      const d = b.cpu - (t0.get(tid)?.cpu ?? 0);
      if (tid === fc.pid) main = d;
      else others[b.name] = (others[b.name] ?? 0) + (d / u.wallSeconds) * 100;
    }
    Object.assign(r, {
      spansPerSec: delivered / u.wallSeconds,
      acceptedSpansPerSec: (lb.okSpans - la.okSpans) / u.wallSeconds,
      cpuPct: u.cpuPct,
      cpuSecPerMillion: u.cpuSeconds / (delivered / 1e6),
      mainThreadCpuPct: (main / u.wallSeconds) * 100,
      otherThreadsCpuPct: Object.fromEntries(Object.entries(others).filter(([, v]) => v >= 0.5).map(([k, v]) => [k, Math.round(v * 10) / 10])),
      delayP99Ms: metric(m, 'fleetcol_process_event_loop_delay_p99_seconds') * 1000,
      delayMaxMs: metric(m, 'fleetcol_process_event_loop_delay_max_seconds') * 1000,
      peakRssMiB: Math.max(u.hwm, u.maxRss) / MiB,
      loadgenCpuPct: lu.cpuPct,
      sinkCpuPct: su.cpuPct,
      requestsFailed: fin.failed,
      failedByStatus: fin.failedByStatus,
      workerTasks: metric(m, 'fleetcol_workers_tasks_total', 'format="json",thread="worker"'),
      mainTasks: metric(m, 'fleetcol_workers_tasks_total', 'format="json",thread="main"'),
    });
    await fc.stop();
  } catch (err) {
    r.error = (err as Error).message;
  } finally {
    await fc?.kill();
    await Promise.all([lg.kill(), sink.kill()]);
  }
  return r;
}

// ---------------------------------------------------------------------------------------------


const command = commandLine();
const machine = machineInfo();
const { commit, dirty } = checkout(ROOT);
const log = (s: string) => process.stdout.write(s + '\n');
log('fleetcol worker-thread scaling: OTLP/HTTP JSON traces at full load');
log(`command: ${command}`);
log(`machine: ${machine.nproc} CPUs (${machine.cpu}), node ${machine.node}, load average ${machine.loadavgAtStart.join(' ')}`);
log(`fleetcol: ${commit}${dirty ? ' (with uncommitted changes)' : ''}; ${cfg.concurrency} requests in flight, ${cfg.spansPerRequest} spans/request, ${cfg.durationS} s measured after ${cfg.warmupS} s; threads ${cfg.threads.join(', ')}; ${cfg.runs} run(s)`);

const runs: Run[] = [];
const started = Date.now();
try {
  for (let run = 1; run <= cfg.runs; run++) {
    for (const threads of cfg.threads) {
      const r = await oneRun(threads, run);
      runs.push(r);
      log(
        r.error
          ? `run ${run} threads=${threads}: ERROR ${r.error.split('\n').slice(0, 10).join('\n  ')}`
          : `run ${run} threads=${threads}: ${num(r.spansPerSec)} spans/s, CPU ${pct(r.cpuPct)} (main thread ${pct(r.mainThreadCpuPct)}), event loop p99 ${num(r.delayP99Ms, 1)} ms (max ${num(r.delayMaxMs, 1)}), loadgen ${pct(r.loadgenCpuPct)}, sink ${pct(r.sinkCpuPct)}, failed ${r.requestsFailed}; load avg ${r.loadavg}`,
      );
    }
  }
} finally {
  killAll();
}

type Key = 'spansPerSec' | 'acceptedSpansPerSec' | 'cpuPct' | 'cpuSecPerMillion' | 'mainThreadCpuPct' | 'delayP99Ms' | 'delayMaxMs' | 'peakRssMiB' | 'loadgenCpuPct' | 'sinkCpuPct' | 'requestsFailed';
const keys: Key[] = ['spansPerSec', 'acceptedSpansPerSec', 'cpuPct', 'cpuSecPerMillion', 'mainThreadCpuPct', 'delayP99Ms', 'delayMaxMs', 'peakRssMiB', 'loadgenCpuPct', 'sinkCpuPct', 'requestsFailed'];
const medians: Record<string, Record<string, number>> = {};
for (const n of cfg.threads) {
  const ok = runs.filter((r) => r.threads === n && !r.error);
  medians[`threads=${n}`] = Object.fromEntries([...keys.map((k) => [k, median(ok.map((r) => r[k] as number))]), ['okRuns', ok.length]]);
}
const one = medians['threads=1'];
const two = medians['threads=2'];
// The ratio of medians, and the median of per-run ratios (runs are interleaved, so a run's pair
// shares the machine's load at that moment).
const ratio = one && two ? two.spansPerSec! / one.spansPerSec! : NaN;
const pairRatios = runs
  .filter((r) => r.threads === 2 && !r.error)
  .map((r2) => [r2, runs.find((r1) => r1.threads === 1 && r1.run === r2.run && !r1.error)] as const)
  .filter(([, r1]) => r1)
  .map(([r2, r1]) => r2.spansPerSec! / r1!.spansPerSec!);
const pairRatio = median(pairRatios);

log('');
const cols = cfg.threads.map((n) => `threads=${n}`);
const row = (label: string, k: Key, fmt: (x: number) => string): string[] => [label, ...cols.map((c) => fmt(medians[c]![k]!))];
log(`median of ${cfg.runs} run(s)`);
log(
  table(['OTLP/HTTP JSON, full load', ...cols.map((c) => (c === 'threads=0' ? 'inline (0)' : c))], [
    row('spans/s delivered', 'spansPerSec', (x) => num(x)),
    row('spans/s accepted', 'acceptedSpansPerSec', (x) => num(x)),
    row('fleetcol CPU % of one core (all threads)', 'cpuPct', (x) => pct(x)),
    row('  of which the main thread', 'mainThreadCpuPct', (x) => pct(x)),
    row('fleetcol CPU-s per million spans', 'cpuSecPerMillion', (x) => num(x, 1)),
    row('event-loop delay p99, ms (10-s window)', 'delayP99Ms', (x) => num(x, 1)),
    row('event-loop delay max, ms', 'delayMaxMs', (x) => num(x, 1)),
    row('peak RSS MiB', 'peakRssMiB', (x) => num(x, 1)),
    row('load generator CPU %', 'loadgenCpuPct', (x) => pct(x)),
    row('sink CPU %', 'sinkCpuPct', (x) => pct(x)),
    row('failed requests', 'requestsFailed', (x) => num(x)),
  ]),
);
log('');
log(`spans/s with 2 threads / 1 thread: ${num(ratio, 2)}× (ratio of medians), ${num(pairRatio, 2)}× (median of per-run ratios ${pairRatios.map((x) => num(x, 2)).join(', ')}); target ≥ ${TARGET_RATIO}× on 2 cores: ${within(-ratio, -TARGET_RATIO)}`);
for (const c of cols.filter((c) => c !== 'threads=0')) {
  log(`event-loop delay p99 at full load, ${c}: ${num(medians[c]!.delayP99Ms, 1)} ms; target ≤ ${TARGET_DELAY_P99_MS} ms: ${within(medians[c]!.delayP99Ms, TARGET_DELAY_P99_MS)}`);
}

const stamp = new Date().toISOString().replace(/:/g, '').replace(/\.\d+Z$/, 'Z');
const out = opt.out ? resolve(opt.out) : join(ROOT, 'bench', 'results', `workers-${stamp}.json`);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(
  out,
  JSON.stringify({ benchmark: 'workers', date: new Date().toISOString(), command, machine: { ...machine, loadavgAtEnd: os.loadavg().map((x) => Math.round(x * 100) / 100) }, fleetcol: { commit, dirty }, options: cfg, targets: { ratio2to1: TARGET_RATIO, delayP99Ms: TARGET_DELAY_P99_MS }, medians, ratio2to1: { ofMedians: ratio, medianOfPairs: pairRatio, pairs: pairRatios }, runs }, null, 2) + '\n',
);
const errors = runs.filter((r) => r.error);
log(`results: ${relative(process.cwd(), out)} (${Math.round((Date.now() - started) / 1000)} s)`);
if (!opt.keep && errors.length === 0) rmSync(tmp, { recursive: true, force: true });
process.exit(errors.length ? 1 : 0);
