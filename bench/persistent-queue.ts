// What the persistent sending queue costs: OTLP/gRPC → batch → OTLP/gRPC through fleetcol at full
// load, with the exporter's queue in memory, on disk (file_storage, fsync off) and on disk with
// fsync on, in the same run (interleaved), medians of --runs.
//
//   node dist/bench/persistent-queue.js [--runs 3] [--duration 15] [--queues memory,disk,disk-fsync] ...
//
// The load generator, sink, fleetcol launcher and /proc monitor are bench/lib's and
// otlp-throughput's (see bench/README.md); this file only adds the queue settings (`--set`) and the
// comparison. CPU is utime+stime of fleetcol's process from /proc/<pid>/stat over the measured
// window; CPU-s per million spans = CPU seconds / spans delivered to the sink in the window.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { installCleanup, killAll } from './lib/cleanup.js';
import { Fleetcol } from './lib/fleetcol.js';
import { Helper } from './lib/ipc.js';
import { ProcMonitor } from './lib/monitor.js';
import { median, MiB, sleep } from './lib/proc.js';
import { num, pct, table } from './lib/report.js';
import type { LoadStats, StartArgs } from './loadgen.js';
import type { SinkStats } from './sink.js';
import { checkout, commandLine, parseOptions, positiveOption } from './lib/cli.js';

const HERE = dirname(fileURLToPath(import.meta.url)); // dist/bench
const ROOT = resolve(HERE, '..', '..');
const CLI = resolve(HERE, '..', 'src', 'cli.js');
const script = (name: string) => new URL(`./${name}`, import.meta.url);

type QueueKind = 'memory' | 'disk' | 'disk-fsync';
const KINDS: QueueKind[] = ['memory', 'disk', 'disk-fsync'];
const LABEL: Record<QueueKind, string> = { memory: 'in-memory queue', disk: 'file_storage, fsync off', 'disk-fsync': 'file_storage, fsync on' };

const USAGE = `usage: node dist/bench/persistent-queue.js [options]
  --runs N                 repeat every queue kind N times, interleaved; report medians (default 3)
  --queues LIST            memory,disk,disk-fsync (default all three)
  --duration S             measured seconds per run (default 15)
  --warmup S               seconds of load before measuring (default 3)
  --concurrency N          requests in flight (default 32)
  --spans-per-request N    (default 100)
  --pool N                 distinct pre-encoded requests (default 200)
  --compression C          fleetcol exporter compression, none|gzip (default none)
  --batch-size N           fleetcol batch.send_batch_size (default 8192)
  --batch-timeout D        fleetcol batch.timeout (default 200ms)
  --dir DIR                where the file_storage directories go (default a temp dir)
  --set key=value          passed to fleetcol as --set (repeatable)
  --out FILE               JSON results (default bench/results/persistent-queue-<date>.json)
  --keep                   keep the temp dir (configs, logs, queue directories)
`;

const opt = parseOptions(USAGE, {
  options: {
    runs: { type: 'string', default: '3' },
    queues: { type: 'string', default: KINDS.join(',') },
    duration: { type: 'string', default: '15' },
    warmup: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '32' },
    'spans-per-request': { type: 'string', default: '100' },
    pool: { type: 'string', default: '200' },
    compression: { type: 'string', default: 'none' },
    'batch-size': { type: 'string', default: '8192' },
    'batch-timeout': { type: 'string', default: '200ms' },
    dir: { type: 'string' },
    set: { type: 'string', multiple: true, default: [] },
    out: { type: 'string' },
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
const positive = positiveOption(USAGE);
const cfg = {
  runs: positive('runs', opt.runs),
  queues: opt.queues!.split(',').map((s) => s.trim()).filter(Boolean) as QueueKind[],
  durationS: positive('duration', opt.duration, false),
  warmupS: Number(opt.warmup),
  concurrency: positive('concurrency', opt.concurrency),
  spansPerRequest: positive('spans-per-request', opt['spans-per-request']),
  pool: positive('pool', opt.pool),
  compression: opt.compression as 'none' | 'gzip',
  batchSize: positive('batch-size', opt['batch-size']),
  batchTimeout: opt['batch-timeout']!,
  sets: opt.set as string[],
};
for (const q of cfg.queues) {
  if (!KINDS.includes(q)) {
    process.stderr.write(`unknown queue kind "${q}" (valid: ${KINDS.join(', ')})\n`);
    process.exit(2);
  }
}
if (cfg.compression !== 'none' && cfg.compression !== 'gzip') {
  process.stderr.write(`--compression must be none or gzip\n`);
  process.exit(2);
}

installCleanup();
const tmp = mkdtempSync(join(os.tmpdir(), 'fleetcol-bench-pq-'));
const queueRoot = opt.dir ? resolve(opt.dir) : join(tmp, 'queues');
mkdirSync(queueRoot, { recursive: true });

interface Run {
  kind: QueueKind;
  run: number;
  loadavg: number;
  error?: string;
  spansPerSec?: number;
  acceptedSpansPerSec?: number;
  cpuSecPerMillion?: number;
  cpuPct?: number;
  peakRssMiB?: number;
  deliveredPct?: number;
  requestsFailed?: number;
  failedByCode?: Record<string, number>;
  queueBytesAtEnd?: number;
  refused?: number;
}

/** The --set arguments that put the exporter's queue on disk. */
function queueSets(kind: QueueKind, dir: string): string[] {
  if (kind === 'memory') return [];
  return [
    `extensions.file_storage.directory=${dir}`,
    `extensions.file_storage.fsync=${kind === 'disk-fsync'}`,
    'service.extensions=[file_storage]',
    'exporters.otlp.sending_queue.storage=file_storage',
  ];
}

function startArgs(target: string): StartArgs {
  return { target, mode: 'full', concurrency: cfg.concurrency, connections: 1, rate: 0, maxInflight: 1000, maxMs: 15 * 60_000, failBackoffMs: 50, deadlineMs: 10_000 };
}

/** Until the sink holds `expected` spans or its count stops moving for 3 s (at most 30 s). */
async function settle(sink: Helper, expected: number): Promise<SinkStats> {
  const end = Date.now() + 30_000;
  let last = await sink.call<SinkStats>('stats');
  let moved = Date.now();
  while (last.spans < expected && Date.now() < end && Date.now() - moved < 3000) {
    await sleep(200);
    const s = await sink.call<SinkStats>('stats');
    if (s.spans !== last.spans) moved = Date.now();
    last = s;
  }
  return last;
}

function metric(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(name + '{') || line.startsWith(name + ' ')) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

async function measure(kind: QueueKind, run: number): Promise<Run> {
  const name = `${kind}-run${run}`;
  const r: Run = { kind, run, loadavg: Math.round(os.loadavg()[0]! * 100) / 100 };
  const sink = new Helper<{ port: number }>('sink', script('sink.js'), []);
  const lg = new Helper<{ spansPerRequest: number }>('loadgen', script('loadgen.js'), ['--spans-per-request', String(cfg.spansPerRequest), '--pool', String(cfg.pool)]);
  const qdir = join(queueRoot, name);
  let fc: Fleetcol | undefined;
  try {
    const { port: sinkPort } = await sink.ready;
    const info = await lg.ready;
    fc = await Fleetcol.start({ cli: CLI, dir: tmp, name, sinkPort, compression: cfg.compression, batchSize: cfg.batchSize, batchTimeout: cfg.batchTimeout, sets: [...queueSets(kind, qdir), ...cfg.sets], nodeArgs: [] });
    await lg.call('start', startArgs(`127.0.0.1:${fc.receiverPort}`));
    await sleep(cfg.warmupS * 1000);
    const mon = new ProcMonitor(fc.pid).begin();
    const [la, sa] = await Promise.all([lg.call<LoadStats>('stats'), sink.call<SinkStats>('stats')]);
    await sleep(cfg.durationS * 1000);
    const [lb, sb] = await Promise.all([lg.call<LoadStats>('stats'), sink.call<SinkStats>('stats')]);
    const u = mon.end();
    const fin = await lg.call<LoadStats>('stop', undefined, 60_000);
    const delivered = sb.spans - sa.spans;
    const total = await settle(sink, fin.okSpans);
    const m = await fc.metrics();
    Object.assign(r, {
      spansPerSec: delivered / u.wallSeconds,
      acceptedSpansPerSec: ((lb.ok - la.ok) * info.spansPerRequest) / u.wallSeconds,
      cpuSecPerMillion: u.cpuSeconds / (delivered / 1e6),
      cpuPct: u.cpuPct,
      peakRssMiB: Math.max(u.hwm, u.maxRss) / MiB,
      deliveredPct: fin.okSpans > 0 ? (total.spans / fin.okSpans) * 100 : NaN,
      requestsFailed: fin.failed,
      failedByCode: fin.failedByCode,
      queueBytesAtEnd: kind === 'memory' ? undefined : metric(m, 'fleetcol_file_storage_bytes'),
      refused: metric(m, 'fleetcol_file_storage_write_refused_total'),
    });
    await fc.stop();
  } catch (err) {
    r.error = (err as Error).message;
  } finally {
    await fc?.kill();
    await Promise.all([lg.kill(), sink.kill()]);
    rmSync(qdir, { recursive: true, force: true });
  }
  return r;
}

function fsType(dir: string): string {
  try {
    return execFileSync('df', ['-T', dir], { encoding: 'utf8' }).trim().split('\n').pop()!.split(/\s+/)[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

const log = (s: string) => process.stdout.write(s + '\n');
const command = commandLine();
log('fleetcol persistent queue benchmark: otlp → batch → otlp at full load, queue in memory vs file_storage');
log(`command: ${command}`);
log(`machine: ${os.availableParallelism()} CPUs (${os.cpus()[0]?.model ?? 'unknown'}), node ${process.version}, load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
log(`queue directory: ${queueRoot} (${fsType(queueRoot)})`);
log(`${cfg.runs} run(s) of ${cfg.queues.join(', ')}, interleaved; ${cfg.durationS} s measured after ${cfg.warmupS} s warm-up; ${cfg.concurrency} requests in flight of ${cfg.spansPerRequest} spans; batch ${cfg.batchSize} / ${cfg.batchTimeout}; exporter compression ${cfg.compression}`);

const runs: Run[] = [];
const started = Date.now();
try {
  for (let run = 1; run <= cfg.runs; run++) {
    for (const kind of cfg.queues) {
      const r = await measure(kind, run);
      runs.push(r);
      log(
        r.error
          ? `run ${run} ${kind.padEnd(10)}: ERROR ${r.error.split('\n').slice(0, 8).join('\n  ')}`
          : `run ${run} ${kind.padEnd(10)}: ${num(r.spansPerSec)} spans/s, ${num(r.cpuSecPerMillion, 2)} CPU-s/M spans, CPU ${pct(r.cpuPct)}, RSS ${num(r.peakRssMiB, 1)} MiB, delivered ${pct(r.deliveredPct, 2)}${r.requestsFailed ? `, ${r.requestsFailed} failed requests ${JSON.stringify(r.failedByCode)}` : ''}; load avg ${r.loadavg}`,
      );
    }
  }
} finally {
  killAll();
}

const med = (kind: QueueKind, k: keyof Run) => median(runs.filter((r) => r.kind === kind && !r.error).map((r) => r[k] as number));
const medians = Object.fromEntries(
  cfg.queues.map((kind) => [kind, Object.fromEntries((['spansPerSec', 'acceptedSpansPerSec', 'cpuSecPerMillion', 'cpuPct', 'peakRssMiB', 'deliveredPct', 'requestsFailed'] as const).map((k) => [k, med(kind, k)]))]),
) as Record<QueueKind, Record<string, number>>;
const base = medians.memory;
const row = (label: string, k: string, fmt: (x: number) => string, ratio = false): string[] => [
  label,
  ...cfg.queues.map((q) => {
    const v = medians[q]![k]!;
    return ratio && base && q !== 'memory' ? `${fmt(v)} (${num((v / base[k]!) * 100, 0)} %)` : fmt(v);
  }),
];
log('');
log(`medians of ${cfg.runs} run(s)${base ? '; in brackets: % of the in-memory figure' : ''}`);
log(
  table(
    ['full load, median', ...cfg.queues.map((q) => LABEL[q])],
    [
      row('spans/s delivered', 'spansPerSec', (x) => num(x), true),
      row('spans/s accepted (receiver OK)', 'acceptedSpansPerSec', (x) => num(x), true),
      row('fleetcol CPU-s per million spans', 'cpuSecPerMillion', (x) => num(x, 2), true),
      row('fleetcol CPU % of one core', 'cpuPct', (x) => pct(x)),
      row('fleetcol peak RSS MiB', 'peakRssMiB', (x) => num(x, 1)),
      row('delivered / accepted (after drain)', 'deliveredPct', (x) => pct(x, 2)),
      row('failed requests', 'requestsFailed', (x) => num(x)),
    ],
  ),
);
const errors = runs.filter((r) => r.error);
if (errors.length) log(`${errors.length} run(s) failed; logs in ${tmp}`);

const stamp = new Date().toISOString().replace(/:/g, '').replace(/\.\d+Z$/, 'Z');
const out = opt.out ? resolve(opt.out) : join(ROOT, 'bench', 'results', `persistent-queue-${stamp}.json`);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify({ benchmark: 'persistent-queue', date: new Date().toISOString(), command, options: cfg, queueDir: queueRoot, fsType: fsType(queueRoot), medians, runs, elapsedS: Math.round((Date.now() - started) / 1000) }, null, 2) + '\n');
log(`results: ${relative(process.cwd(), out)} (${Math.round((Date.now() - started) / 1000)} s)`);
if (!opt.keep && errors.length === 0) rmSync(tmp, { recursive: true, force: true });
process.exit(errors.length ? 1 : 0);
