// OTLP/gRPC trace throughput and cost of fleetcol, end to end, against a floor.
//
//   node dist/bench/otlp-throughput.js [--runs 3] [--duration 20] [--testbed-duration 60] ...
//
// Scenarios (each repeated --runs times, interleaved; medians reported):
//   floor    the load generator at full load against a bare grpc-js server that acks unread
//   full     the same load through fleetcol: OTLP/gRPC receiver → batch → OTLP/gRPC exporter → sink
//            (once per --compression value of the exporter)
//   testbed  otelcol's testbed case: 10,000 spans/s in requests of 100 spans, 60 s, through fleetcol
//   testbed-floor  the same rate against the floor server (what grpc-js alone costs at that rate)
// With --designs, `full` and `testbed` run once per design of a durable OK (exporter queue on disk,
// file_storage) × --fsync instead:
//   ack-batch    today's: receiver → batch (answers at once) → otlp with a persistent queue, run with
//                an older build of fleetcol (--baseline-cli)
//   batch-wait   the same config on this build (its batch processor answers once the queue holds the data)
//   queue-batch  no batch processor; the exporter batches from its persistent queue (sending_queue.batch)
// The load generator records every OK answer's latency (send → response); p50/p99 are reported.
// CPU is utime+stime of the measured process from /proc/<pid>/stat; memory is VmHWM and VmRSS
// from /proc/<pid>/status. See bench/README.md.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { installCleanup, killAll } from './lib/cleanup.js';
import { Fleetcol, type FleetcolOptions } from './lib/fleetcol.js';
import { Helper } from './lib/ipc.js';
import { ProcMonitor, type Usage } from './lib/monitor.js';
import { median, MiB, percentile, sleep } from './lib/proc.js';
import { num, pct, table, within } from './lib/report.js';
import type { LatencySummary } from './lib/latency.js';
import type { LoadStats, StartArgs } from './loadgen.js';
import type { SinkStats } from './sink.js';
import { checkout, commandLine, machineInfo, parseOptions, positiveOption, usageError } from './lib/cli.js';

const HERE = dirname(fileURLToPath(import.meta.url)); // dist/bench
const ROOT = resolve(HERE, '..', '..');
const CLI = resolve(HERE, '..', 'src', 'cli.js');
const script = (name: string) => new URL(`./${name}`, import.meta.url);

const TARGET_CPU_PER_MILLION = 10; // CPU-s per million spans, full load
const TARGET_TESTBED_CPU = 10; // % of one core at 10k spans/s
const TARGET_TESTBED_RSS = 100; // MiB
const TARGET_DESIGN_CPU_RATIO = 1.1; // a durable-OK design's CPU per span against ack-batch (today's), same fsync
const TARGET_QUEUE_BATCH_P99_MS = 50; // queue-batch: answer latency p99

const TARGET_GENAI_CPU_RATIO = 1.25; // the genai processor's CPU per span against the same pipeline without it
const DESIGNS = ['ack-batch', 'batch-wait', 'queue-batch', 'memory-base', 'memory', 'plain', 'genai', 'genai-metrics', 'probabilistic', 'filter', 'tail-sampling'] as const;
/** Designs that add one processor in front of the batch processor (its config), against plain. */
const PROCESSOR_DESIGNS: Partial<Record<string, string>> = {
  // keeps everything, so delivered = received: the cost of deciding, not of sending less
  probabilistic: 'probabilistic_sampler: { mode: hash_seed, hash_seed: 22, sampling_percentage: 100 }',
  // no span of the load matches: the cost of evaluating every span
  filter: 'filter: { spans: { exclude: { match: any, conditions: [ { attribute: url.path, regex: "^/(healthz|readyz)$" }, { name_regex: "^GET /health" } ] } } }',
  // every trace kept after 5 s: ~50,000 traces in flight at ~100k spans/s
  'tail-sampling': 'tail_sampling: { decision_wait: 5s, num_traces: 100000, max_bytes: 1GiB, policies: [ { name: all, type: always_sample } ] }',
};
type Design = (typeof DESIGNS)[number];
/** Designs run with --baseline-cli, and the base each design's CPU is compared with. memory-base and
 *  memory are today's bench config (batch processor, in-memory queue; fsync does not apply) on the
 *  old build and on this one: what this build's receiver costs against the old (e.g. validation). */
const BASELINE_DESIGNS: readonly Design[] = ['ack-batch', 'memory-base'];
const baseOf = (d: Design): Design => (d === 'memory' || d === 'memory-base' ? 'memory-base' : d === 'plain' || d === 'genai' || d === 'genai-metrics' || PROCESSOR_DESIGNS[d] !== undefined ? 'plain' : 'ack-batch');
const cpuTarget = (d: Design) => (d === 'genai' ? TARGET_GENAI_CPU_RATIO : TARGET_DESIGN_CPU_RATIO);
const TARGET_GENAI_METRICS_ADDED = 1.5; // CPU-s per million spans the genai_metrics connector may add
const TARGET_SAMPLER_ADDED = 0.5; // CPU-s per million spans probabilistic_sampler or filter may add
/** One design of a durable OK at one fsync setting. */
interface Variant {
  design: Design;
  fsync: boolean;
}
const fsyncName = (f: boolean) => (f ? 'on' : 'off');
const variantKey = (v: Variant) => `${v.design}/fsync-${fsyncName(v.fsync)}`;

const USAGE = `usage: node dist/bench/otlp-throughput.js [options]
  --runs N                    repeat every scenario N times, report medians (default 3)
  --scenarios LIST            floor,full,testbed,testbed-floor (default all four)
  --duration S                full load: measured seconds (default 20)
  --warmup S                  seconds of load before measuring (default 3)
  --concurrency N             full load: requests in flight (default 32)
  --connections N             HTTP/2 connections the load generator spreads requests over (default 1)
  --spans-per-request N       full load: spans per request (default 100)
  --compression LIST          full load: fleetcol exporter compression, none,gzip (default both)
  --testbed-duration S        testbed: measured seconds (default 60)
  --testbed-rate N            testbed: spans/s (default 10000)
  --testbed-spans-per-request N  (default 100)
  --pool N                    distinct pre-encoded requests (default 200)
  --batch-size N              fleetcol batch.send_batch_size (default 8192)
  --batch-timeout D           fleetcol batch.timeout (default 200ms)
  --set key=value             passed to fleetcol as --set (repeatable)
  --cpu-prof DIR              run fleetcol under node --cpu-prof, profiles in DIR
  --node-arg FLAG             extra node flag for fleetcol, e.g. --node-arg=--max-semi-space-size=32 (repeatable)
  --out FILE                  JSON results (default bench/results/otlp-throughput-<date>.json)
  --keep                      keep the temp dir with fleetcol's configs and logs
  --floor-impl grpc-js|http2|net  the floor server: bare grpc-js (default), bare node:http2 (gRPC
                              framing by hand) or fleetcol's own HTTP/2 server on node:net
  --designs LIST              ack-batch,batch-wait,queue-batch: run full and testbed once per design of a
                              durable OK (exporter queue on file_storage) × --fsync, instead of the
                              in-memory queue (default none: today's scenarios); memory-base,memory:
                              today's config (in-memory queue) on the old build and on this one
                              (with --fsync off only: fsync does not apply); plain,genai: this build,
                              in-memory queue, without and with the genai processor (use --mix genai);
                              genai-metrics: plain with the genai_metrics connector beside the exporter
                              (its metrics to a debug exporter), against plain; probabilistic, filter,
                              tail-sampling: plain with that processor before batch (configs in
                              PROCESSOR_DESIGNS: each keeps every span)
  --mix current|genai         the load's spans: current GenAI names with the agent on the resource
                              (default), or the genai processor's mix (half OpenInference, only roots
                              name their agent, 20 % of spans sent a request before their root)
  --fsync LIST                with --designs: file_storage fsync off,on (default both)
  --fsync-delay D             with --designs: file_storage fsync_delay of this build's designs (default: the build's own, 30ms since 2026-12-07)
  --baseline-cli PATH         with --designs: the old build's dist/src/cli.js that ack-batch and
                              memory-base run (without it they are skipped)
  --storage-dir DIR           with --designs: where each run's fresh file_storage directory is made
                              (default the temp dir; deleted after the run)
`;

const opt = parseOptions(USAGE, {
  options: {
    runs: { type: 'string', default: '3' },
    scenarios: { type: 'string', default: 'floor,full,testbed,testbed-floor' },
    duration: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '32' },
    connections: { type: 'string', default: '1' },
    'spans-per-request': { type: 'string', default: '100' },
    compression: { type: 'string', default: 'none,gzip' },
    'testbed-duration': { type: 'string', default: '60' },
    'testbed-rate': { type: 'string', default: '10000' },
    'testbed-spans-per-request': { type: 'string', default: '100' },
    pool: { type: 'string', default: '200' },
    'batch-size': { type: 'string', default: '8192' },
    'batch-timeout': { type: 'string', default: '200ms' },
    set: { type: 'string', multiple: true, default: [] },
    'floor-impl': { type: 'string', default: 'grpc-js' },
    'cpu-prof': { type: 'string' },
    'node-arg': { type: 'string', multiple: true, default: [] },
    out: { type: 'string' },
    keep: { type: 'boolean', default: false },
    designs: { type: 'string', default: '' },
    fsync: { type: 'string', default: 'off,on' },
    'fsync-delay': { type: 'string' },
    'baseline-cli': { type: 'string' },
    'storage-dir': { type: 'string' },
    mix: { type: 'string', default: 'current' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

const positive = positiveOption(USAGE);

const cfg = {
  runs: positive('runs', opt.runs),
  scenarios: opt.scenarios!.split(',').map((s) => s.trim()).filter(Boolean),
  durationS: positive('duration', opt.duration, false),
  warmupS: Number(opt.warmup),
  concurrency: positive('concurrency', opt.concurrency),
  connections: positive('connections', opt.connections),
  spansPerRequest: positive('spans-per-request', opt['spans-per-request']),
  compression: opt.compression!.split(',').map((s) => s.trim()).filter(Boolean) as ('none' | 'gzip')[],
  testbedDurationS: positive('testbed-duration', opt['testbed-duration'], false),
  testbedRate: positive('testbed-rate', opt['testbed-rate']),
  testbedSpansPerRequest: positive('testbed-spans-per-request', opt['testbed-spans-per-request']),
  pool: positive('pool', opt.pool),
  batchSize: positive('batch-size', opt['batch-size']),
  batchTimeout: opt['batch-timeout']!,
  sets: opt.set as string[],
  cpuProf: opt['cpu-prof'] ? resolve(opt['cpu-prof']) : undefined,
  nodeArgs: opt['node-arg'] as string[],
  designs: [] as Design[],
  fsync: [] as boolean[],
  /** file_storage.fsync_delay for this build's designs (the old build has no such key). */
  fsyncDelay: opt['fsync-delay'],
  baselineCli: opt['baseline-cli'] ? resolve(opt['baseline-cli']) : undefined,
  storageDir: opt['storage-dir'] ? resolve(opt['storage-dir']) : undefined,
};
const notes: string[] = [];
{
  const asked = opt.designs!.split(',').map((s) => s.trim()).filter(Boolean);
  for (const d of asked) if (!(DESIGNS as readonly string[]).includes(d)) usageError(USAGE, `unknown design "${d}" (valid: ${DESIGNS.join(', ')})`);
  const fs = opt.fsync!.split(',').map((s) => s.trim()).filter(Boolean);
  for (const f of fs) if (f !== 'off' && f !== 'on') usageError(USAGE, `--fsync: "${f}" (valid: off, on)`);
  if (fs.length === 0) usageError(USAGE, '--fsync: off, on or both');
  cfg.fsync = (['off', 'on'] as const).filter((f) => fs.includes(f)).map((f) => f === 'on');
  cfg.designs = DESIGNS.filter((d) => asked.includes(d));
  if (cfg.baselineCli && !existsSync(cfg.baselineCli)) usageError(USAGE, `--baseline-cli: ${cfg.baselineCli} not found (build the old checkout first)`);
  if (cfg.designs.some((d) => BASELINE_DESIGNS.includes(d)) && !cfg.baselineCli) {
    cfg.designs = cfg.designs.filter((d) => !BASELINE_DESIGNS.includes(d));
    notes.push('ack-batch skipped: it needs --baseline-cli PATH (an old checkout\'s dist/src/cli.js); CPU ratios to ack-batch are n/a');
  }
  if (asked.length && cfg.designs.length === 0) usageError(USAGE, `--designs: nothing left to run (${notes.join('; ')})`);
  if (cfg.designs.length && !cfg.scenarios.some((s) => s === 'full' || s === 'testbed')) notes.push('--designs applies to the full and testbed scenarios, and neither is selected');
  if (cfg.baselineCli && !cfg.designs.some((d) => BASELINE_DESIGNS.includes(d))) notes.push('--baseline-cli is used by the ack-batch and memory-base designs only, neither is selected');
}
const designMode = cfg.designs.length > 0;
/** The variants in table order: fsync off first, designs in their canonical order. */
const variants: Variant[] = cfg.fsync.flatMap((fsync) => cfg.designs.map((design) => ({ design, fsync })));
/** A run's order of the designs: rotated by one per run, so no design always runs first or after the same one. */
function runOrder(run: number): Variant[] {
  const n = cfg.designs.length;
  const k = (run - 1) % n;
  const designs = [...cfg.designs.slice(k), ...cfg.designs.slice(0, k)];
  return cfg.fsync.flatMap((fsync) => designs.map((design) => ({ design, fsync })));
}
for (const s of cfg.scenarios) {
  if (!['floor', 'full', 'testbed', 'testbed-floor'].includes(s)) {
    process.stderr.write(`unknown scenario "${s}" (valid: floor, full, testbed, testbed-floor)\n`);
    process.exit(2);
  }
}
for (const c of cfg.compression) {
  if (c !== 'none' && c !== 'gzip') {
    process.stderr.write(`unknown compression "${c}" (valid: none, gzip)\n`);
    process.exit(2);
  }
}
if (!Number.isFinite(cfg.warmupS) || cfg.warmupS < 0) {
  process.stderr.write(`--warmup must be >= 0\n`);
  process.exit(2);
}

installCleanup();
const tmp = mkdtempSync(join(os.tmpdir(), 'fleetcol-bench-'));
if (cfg.cpuProf) mkdirSync(cfg.cpuProf, { recursive: true });
const storageRoot = cfg.storageDir ?? join(tmp, 'storage');
if (designMode) mkdirSync(storageRoot, { recursive: true });

// ---------------------------------------------------------------------------------------------

/** Answer latency of the measured window (OK answers, send → response), flattened for medians. */
interface LatencyFields {
  latencyP50Ms?: number;
  latencyP99Ms?: number;
  latencyMaxMs?: number;
  latencyMeanMs?: number;
  /** OK answers in the window. */
  latencyCount?: number;
}

interface DesignFields {
  /** With --designs: the design of a durable OK and its fsync setting. */
  design?: Design;
  fsync?: boolean;
  /** The cli.js fleetcol was started from. */
  cli?: string;
}

interface FullRun extends LatencyFields, DesignFields {
  scenario: string;
  run: number;
  /** 1-minute load average when the run started (the machine is shared). */
  loadavg: number;
  error?: string;
  /** Spans/s that reached the end: the sink behind fleetcol, or the floor server itself. */
  spansPerSec?: number;
  /** Spans/s the load generator got an OK for (what fleetcol's receiver accepted). */
  acceptedSpansPerSec?: number;
  cpuSecPerMillion?: number;
  cpuPct?: number;
  peakRssMiB?: number;
  windowMaxRssMiB?: number;
  loadgenCpuPct?: number;
  sinkCpuPct?: number;
  requestsOk?: number;
  requestsFailed?: number;
  failedByCode?: Record<string, number>;
  lastError?: string;
  /** fleetcol: spans the sink received / spans fleetcol acknowledged, whole run after draining. */
  deliveredPct?: number;
  stop?: { code: number | null; signal: string | null; ms: number; forced: boolean };
  usage?: Usage;
  fleetcolMetrics?: string[];
}

interface TestbedRun extends LatencyFields, DesignFields {
  /** testbed, testbed-floor, or testbed/<design>/fsync-<off|on>. */
  scenario: string;
  run: number;
  loadavg: number;
  error?: string;
  cpuPctAvg?: number;
  /** fleetcol CPU seconds in the window / spans sent in it (millions). */
  cpuSecPerMillion?: number;
  cpuPctP95?: number;
  cpuPctMax?: number;
  peakRssMiB?: number;
  windowMaxRssMiB?: number;
  sentSpans?: number;
  deliveredSpans?: number;
  deliveredPct?: number;
  achievedSpansPerSec?: number;
  late?: number;
  requestsFailed?: number;
  failedByCode?: Record<string, number>;
  lastError?: string;
  stop?: { code: number | null; signal: string | null; ms: number; forced: boolean };
  usage?: Usage;
  fleetcolMetrics?: string[];
}

interface Ready {
  port: number;
}

function loadgen(spansPerRequest: number): Helper<{ spansPerRequest: number; pool: number; bytesPerRequest: number; buildMs: number }> {
  return new Helper('loadgen', script('loadgen.js'), ['--spans-per-request', String(spansPerRequest), '--pool', String(cfg.pool), '--mix', opt.mix!]);
}

function startArgs(target: string, over: Partial<StartArgs>): StartArgs {
  return { target, mode: 'full', concurrency: cfg.concurrency, connections: cfg.connections, rate: 0, maxInflight: 1000, maxMs: 15 * 60_000, failBackoffMs: 50, deadlineMs: 10_000, ...over };
}

/** Waits until the sink holds `expected` spans, or its count stops moving for 3 s (max 30 s). */
async function drain(sink: Helper, expected: number): Promise<SinkStats> {
  const deadline = Date.now() + 30_000;
  let last = await sink.call<SinkStats>('stats');
  let since = Date.now();
  while (last.spans < expected && Date.now() < deadline && Date.now() - since < 3000) {
    await sleep(200);
    const s = await sink.call<SinkStats>('stats');
    if (s.spans !== last.spans) since = Date.now();
    last = s;
  }
  return last;
}

/** The lines of fleetcol's /metrics worth keeping with the results (item counters). */
function keepMetrics(text: string): string[] {
  return text.split('\n').filter((l) => l && !l.startsWith('#') && /(accepted|refused|sent|failed|dropped|enqueue|queue_size|batch_send_size_(sum|count)|file_storage)/.test(l));
}

/** The window's latency from the load generator's snapshot (IPC turns NaN into null). */
function latencyFields(l: LatencySummary | undefined): LatencyFields {
  const n = (x: number | null | undefined) => (typeof x === 'number' ? x : NaN);
  return { latencyP50Ms: n(l?.p50Ms), latencyP99Ms: n(l?.p99Ms), latencyMaxMs: n(l?.maxMs), latencyMeanMs: n(l?.meanMs), latencyCount: l?.count ?? 0 };
}

/** What fleetcol is started as for a variant (or today's config without one): its cli, a fresh
 *  file_storage directory, batching in the queue for queue-batch. */
function fleetcolFor(v: Variant | undefined, name: string): { cli: string; storageDir?: string; extra: Pick<FleetcolOptions, 'storage' | 'queueBatch' | 'genai' | 'genaiMetrics' | 'processor'> } {
  if (!v) return { cli: CLI, extra: {} };
  const cli = BASELINE_DESIGNS.includes(v.design) ? cfg.baselineCli! : CLI;
  if (v.design === 'plain' || v.design === 'genai' || v.design === 'genai-metrics' || PROCESSOR_DESIGNS[v.design] !== undefined) {
    return { cli, extra: { genai: v.design === 'genai', genaiMetrics: v.design === 'genai-metrics', processor: PROCESSOR_DESIGNS[v.design] } };
  }
  if (v.design === 'memory' || v.design === 'memory-base') return { cli, extra: {} };
  const storageDir = mkdtempSync(join(storageRoot, `${name}-`));
  return {
    cli,
    storageDir,
    extra: { storage: { directory: storageDir, fsync: v.fsync, ...(cfg.fsyncDelay && cli === CLI ? { fsyncDelay: cfg.fsyncDelay } : {}) }, queueBatch: v.design === 'queue-batch' },
  };
}

const mib = (b: number) => b / MiB;
const load1 = () => Math.round(os.loadavg()[0]! * 100) / 100;

let profileSeq = 0;
function fleetcolNodeArgs(name: string): string[] {
  if (!cfg.cpuProf) return cfg.nodeArgs;
  return [...cfg.nodeArgs, '--cpu-prof', `--cpu-prof-dir=${cfg.cpuProf}`, `--cpu-prof-name=${name}-${++profileSeq}.cpuprofile`];
}

const floorImpls: Record<string, { args: string[]; name: string }> = {
  'grpc-js': { args: [], name: 'floor (bare grpc-js)' },
  http2: { args: ['--http2'], name: 'floor (bare node:http2)' },
  net: { args: ['--net'], name: "floor (fleetcol's HTTP/2 on node:net)" },
};
const floorImpl = floorImpls[opt['floor-impl'] ?? 'grpc-js'];
if (!floorImpl) throw new Error(`--floor-impl: one of ${Object.keys(floorImpls).join(', ')}`);
const floorArgs = floorImpl.args;
const floorName = floorImpl.name;

async function fullFloor(run: number): Promise<FullRun> {
  const r: FullRun = { scenario: 'floor', run, loadavg: load1() };
  const floor = new Helper<Ready>('floor', script('floor.js'), floorArgs);
  const lg = loadgen(cfg.spansPerRequest);
  try {
    const { port } = await floor.ready;
    const info = await lg.ready;
    await lg.call('start', startArgs(`127.0.0.1:${port}`, { mode: 'full' }));
    await sleep(cfg.warmupS * 1000);
    const mon = new ProcMonitor(floor.pid).begin();
    const lgMon = new ProcMonitor(lg.pid).begin();
    const a = await lg.call<LoadStats>('stats', { resetLatency: true });
    await sleep(cfg.durationS * 1000);
    const b = await lg.call<LoadStats>('stats');
    const u = mon.end();
    const lu = lgMon.end();
    const fin = await lg.call<LoadStats>('stop', undefined, 60_000);
    const spans = (b.ok - a.ok) * info.spansPerRequest;
    Object.assign(r, {
      spansPerSec: spans / u.wallSeconds,
      acceptedSpansPerSec: spans / u.wallSeconds,
      cpuSecPerMillion: u.cpuSeconds / (spans / 1e6),
      cpuPct: u.cpuPct,
      peakRssMiB: mib(Math.max(u.hwm, u.maxRss)),
      windowMaxRssMiB: mib(u.maxRss),
      loadgenCpuPct: lu.cpuPct,
      requestsOk: fin.ok,
      requestsFailed: fin.failed,
      failedByCode: fin.failedByCode,
      lastError: fin.lastError || undefined,
      ...latencyFields(b.latency),
      usage: u,
    });
  } catch (err) {
    r.error = (err as Error).message;
  } finally {
    await Promise.all([lg.kill(), floor.kill()]);
  }
  return r;
}

async function fullFleetcol(run: number, compression: 'none' | 'gzip', v?: Variant): Promise<FullRun> {
  const name = v ? `full-${compression}-${v.design}-fsync-${fsyncName(v.fsync)}-run${run}` : `full-${compression}-run${run}`;
  const r: FullRun = { scenario: v ? `fleetcol/${compression}/${variantKey(v)}` : `fleetcol/${compression}`, run, loadavg: load1(), ...(v ? { design: v.design, fsync: v.fsync } : {}) };
  const sink = new Helper<Ready>('sink', script('sink.js'), []);
  const lg = loadgen(cfg.spansPerRequest);
  let fc: Fleetcol | undefined;
  let storageDir: string | undefined;
  try {
    const { port: sinkPort } = await sink.ready;
    const info = await lg.ready;
    const how = fleetcolFor(v, name);
    storageDir = how.storageDir;
    r.cli = how.cli;
    fc = await Fleetcol.start({ cli: how.cli, dir: tmp, name, sinkPort, compression, batchSize: cfg.batchSize, batchTimeout: cfg.batchTimeout, sets: cfg.sets, nodeArgs: fleetcolNodeArgs(name), ...how.extra });
    await lg.call('start', startArgs(`127.0.0.1:${fc.receiverPort}`, { mode: 'full' }));
    await sleep(cfg.warmupS * 1000);
    const mon = new ProcMonitor(fc.pid).begin();
    const lgMon = new ProcMonitor(lg.pid).begin();
    const sinkMon = new ProcMonitor(sink.pid).begin();
    const [la, sa] = await Promise.all([lg.call<LoadStats>('stats', { resetLatency: true }), sink.call<SinkStats>('stats')]);
    await sleep(cfg.durationS * 1000);
    const [lb, sb] = await Promise.all([lg.call<LoadStats>('stats'), sink.call<SinkStats>('stats')]);
    const u = mon.end();
    const lu = lgMon.end();
    const su = sinkMon.end();
    const fin = await lg.call<LoadStats>('stop', undefined, 60_000);
    const delivered = sb.spans - sa.spans;
    const total = await drain(sink, fin.okSpans);
    r.fleetcolMetrics = keepMetrics(await fc.metrics());
    Object.assign(r, {
      spansPerSec: delivered / u.wallSeconds,
      acceptedSpansPerSec: ((lb.ok - la.ok) * info.spansPerRequest) / u.wallSeconds,
      cpuSecPerMillion: u.cpuSeconds / (delivered / 1e6),
      cpuPct: u.cpuPct,
      peakRssMiB: mib(Math.max(u.hwm, u.maxRss)),
      windowMaxRssMiB: mib(u.maxRss),
      loadgenCpuPct: lu.cpuPct,
      sinkCpuPct: su.cpuPct,
      requestsOk: fin.ok,
      requestsFailed: fin.failed,
      failedByCode: fin.failedByCode,
      lastError: fin.lastError || undefined,
      deliveredPct: fin.okSpans > 0 ? (total.spans / fin.okSpans) * 100 : NaN,
      ...latencyFields(lb.latency),
      usage: u,
    });
    r.stop = await fc.stop();
  } catch (err) {
    r.error = (err as Error).message;
  } finally {
    await fc?.kill();
    await Promise.all([lg.kill(), sink.kill()]);
    if (storageDir) rmSync(storageDir, { recursive: true, force: true });
  }
  return r;
}

/** The testbed rate through fleetcol (`floor` false) or against the floor server (`floor` true). */
async function testbed(run: number, floor: boolean, v?: Variant): Promise<TestbedRun> {
  const name = v ? `testbed-${v.design}-fsync-${fsyncName(v.fsync)}-run${run}` : `testbed-run${run}`;
  const r: TestbedRun = { scenario: floor ? 'testbed-floor' : v ? `testbed/${variantKey(v)}` : 'testbed', run, loadavg: load1(), ...(v ? { design: v.design, fsync: v.fsync } : {}) };
  const server = new Helper<Ready>(floor ? 'floor' : 'sink', script(floor ? 'floor.js' : 'sink.js'), floor ? floorArgs : []);
  const lg = loadgen(cfg.testbedSpansPerRequest);
  let fc: Fleetcol | undefined;
  let storageDir: string | undefined;
  try {
    const { port } = await server.ready;
    const info = await lg.ready;
    if (!floor) {
      const how = fleetcolFor(v, name);
      storageDir = how.storageDir;
      r.cli = how.cli;
      fc = await Fleetcol.start({ cli: how.cli, dir: tmp, name, sinkPort: port, compression: cfg.compression[0] ?? 'none', batchSize: cfg.batchSize, batchTimeout: cfg.batchTimeout, sets: cfg.sets, nodeArgs: fleetcolNodeArgs(name), ...how.extra });
    }
    await lg.call('start', startArgs(`127.0.0.1:${fc ? fc.receiverPort : port}`, { mode: 'rate', rate: cfg.testbedRate }));
    await sleep(cfg.warmupS * 1000);
    const mon = new ProcMonitor(fc ? fc.pid : server.pid).begin();
    const a = await lg.call<LoadStats>('stats', { resetLatency: true });
    await sleep(cfg.testbedDurationS * 1000);
    const b = await lg.call<LoadStats>('stats');
    const u = mon.end();
    const fin = await lg.call<LoadStats>('stop', undefined, 60_000);
    let delivered: number;
    if (fc) {
      delivered = (await drain(server, fin.sentSpans)).spans;
      r.fleetcolMetrics = keepMetrics(await fc.metrics());
    } else {
      delivered = (await server.call<{ requests: number }>('stats')).requests * info.spansPerRequest;
    }
    Object.assign(r, {
      cpuPctAvg: u.cpuPct,
      cpuSecPerMillion: u.cpuSeconds / ((b.sentSpans - a.sentSpans) / 1e6),
      cpuPctP95: percentile(u.cpuPctSamples, 95),
      cpuPctMax: Math.max(...u.cpuPctSamples),
      peakRssMiB: mib(Math.max(u.hwm, u.maxRss)),
      windowMaxRssMiB: mib(u.maxRss),
      sentSpans: fin.sentSpans,
      deliveredSpans: delivered,
      deliveredPct: fin.sentSpans > 0 ? (delivered / fin.sentSpans) * 100 : NaN,
      achievedSpansPerSec: (b.sentSpans - a.sentSpans) / u.wallSeconds,
      late: fin.late,
      requestsFailed: fin.failed,
      failedByCode: fin.failedByCode,
      lastError: fin.lastError || undefined,
      ...latencyFields(b.latency),
      usage: u,
    });
    if (fc) r.stop = await fc.stop();
  } catch (err) {
    r.error = (err as Error).message;
  } finally {
    await fc?.kill();
    await Promise.all([lg.kill(), server.kill()]);
    if (storageDir) rmSync(storageDir, { recursive: true, force: true });
  }
  return r;
}

// ---------------------------------------------------------------------------------------------


const command = commandLine();
const machine = machineInfo();
const { commit, dirty } = checkout(ROOT);
/** The old build ack-batch runs: its checkout is two levels above dist/src/cli.js. */
const baseline = cfg.baselineCli && cfg.designs.some((d) => BASELINE_DESIGNS.includes(d)) ? { cli: cfg.baselineCli, ...checkout(resolve(dirname(cfg.baselineCli), '..', '..')) } : undefined;

function fsType(dir: string): string {
  try {
    return execFileSync('df', ['-T', dir], { encoding: 'utf8' }).trim().split('\n').pop()!.split(/\s+/)[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}
const storageFs = designMode ? fsType(storageRoot) : undefined;

const log = (s: string) => process.stdout.write(s + '\n');
log(`fleetcol OTLP/gRPC throughput benchmark`);
log(`command: ${command}`);
log(`machine: ${machine.nproc} CPUs (${machine.cpu}), ${machine.memGiB} GiB, node ${machine.node}, ${machine.kernel}, load average ${machine.loadavgAtStart.join(' ')}`);
if (machine.loadavgAtStart[0]! > machine.nproc * 0.5) log(`note: the machine is busy (load average ${machine.loadavgAtStart[0]} on ${machine.nproc} CPUs): throughput figures will be noisy; CPU-s per million spans is the steadier figure`);
log(`fleetcol: ${commit}${dirty ? ' (with uncommitted changes)' : ''}; temp dir ${tmp}`);
log(`scenarios: ${cfg.scenarios.join(', ')}; ${cfg.runs} run(s) each; full load ${cfg.durationS} s after ${cfg.warmupS} s warm-up, ${cfg.concurrency} in flight, ${cfg.spansPerRequest} spans/request; testbed ${num(cfg.testbedRate)} spans/s in requests of ${cfg.testbedSpansPerRequest}, ${cfg.testbedDurationS} s`);
if (designMode) {
  log(`designs: ${cfg.designs.join(', ')} × fsync ${cfg.fsync.map(fsyncName).join(', ')} (full and testbed once each, order rotated per run); file_storage in ${storageRoot} (${storageFs}), a fresh directory per run`);
  if (baseline) log(`ack-batch runs the old build ${baseline.cli} (${baseline.commit || 'commit unknown'}${baseline.dirty ? ', with uncommitted changes' : ''})`);
}
for (const n of notes) log(`note: ${n}`);

const fullRuns: FullRun[] = [];
const testbedRuns: TestbedRun[] = [];
const started = Date.now();

const ms = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? 'n/a' : x < 10 ? num(x, 2) : x < 100 ? num(x, 1) : num(x));

function brief(r: FullRun | TestbedRun): string {
  if (r.error) return `ERROR: ${r.error.split('\n').slice(0, 12).join('\n  ')}`;
  const la = `; load avg ${r.loadavg}`;
  const fails = r.requestsFailed ? `, ${r.requestsFailed} failed requests ${JSON.stringify(r.failedByCode)}` : '';
  const lat = `, answer p50/p99 ${ms(r.latencyP50Ms)}/${ms(r.latencyP99Ms)} ms`;
  if (r.scenario.startsWith('testbed')) {
    const t = r as TestbedRun;
    return `CPU ${pct(t.cpuPctAvg)} avg, ${pct(t.cpuPctP95)} p95, RSS ${num(t.peakRssMiB, 1)} MiB, delivered ${num(t.deliveredSpans)}/${num(t.sentSpans)} (${pct(t.deliveredPct, 2)}), ${num(t.achievedSpansPerSec)} spans/s sent${lat}${fails}${la}`;
  }
  const f = r as FullRun;
  return `${num(f.spansPerSec)} spans/s, ${num(f.cpuSecPerMillion, 2)} CPU-s/M spans, CPU ${pct(f.cpuPct)}, RSS ${num(f.peakRssMiB, 1)} MiB, loadgen CPU ${pct(f.loadgenCpuPct)}${f.deliveredPct !== undefined ? `, delivered ${pct(f.deliveredPct, 2)} of accepted` : ''}${lat}${fails}${la}`;
}

try {
  for (let run = 1; run <= cfg.runs; run++) {
    if (cfg.scenarios.includes('floor')) {
      const r = await fullFloor(run);
      fullRuns.push(r);
      log(`run ${run} floor:            ${brief(r)}`);
    }
    if (cfg.scenarios.includes('full')) {
      for (const c of cfg.compression) {
        if (designMode) {
          for (const v of runOrder(run)) {
            const r = await fullFleetcol(run, c, v);
            fullRuns.push(r);
            log(`run ${run} fleetcol/${c}/${variantKey(v)}: ${brief(r)}`);
          }
        } else {
          const r = await fullFleetcol(run, c);
          fullRuns.push(r);
          log(`run ${run} fleetcol/${c.padEnd(5)}:   ${brief(r)}`);
        }
      }
    }
    if (cfg.scenarios.includes('testbed')) {
      if (designMode) {
        for (const v of runOrder(run)) {
          const r = await testbed(run, false, v);
          testbedRuns.push(r);
          log(`run ${run} testbed/${variantKey(v)}: ${brief(r)}`);
        }
      } else {
        const r = await testbed(run, false);
        testbedRuns.push(r);
        log(`run ${run} testbed:          ${brief(r)}`);
      }
    }
    if (cfg.scenarios.includes('testbed-floor')) {
      const r = await testbed(run, true);
      testbedRuns.push(r);
      log(`run ${run} testbed-floor:    ${brief(r)}`);
    }
  }
} finally {
  killAll();
}

// ---------------------------------------------------------------------------------------------

type Num<T> = { [K in keyof T]: T[K] extends number | undefined ? K : never }[keyof T];
function med<T extends { error?: string }>(runs: T[], key: Num<T>): number {
  return median(runs.filter((r) => !r.error).map((r) => r[key] as unknown as number));
}

const latencyKeys = ['latencyP50Ms', 'latencyP99Ms', 'latencyMaxMs', 'latencyMeanMs'] as const;
const summary: Record<string, Record<string, number>> = {};
const fullScenarios = [...new Set(fullRuns.map((r) => r.scenario))];
const fullKeys = ['spansPerSec', 'acceptedSpansPerSec', 'cpuSecPerMillion', 'cpuPct', 'peakRssMiB', 'windowMaxRssMiB', 'loadgenCpuPct', 'sinkCpuPct', 'deliveredPct', 'requestsFailed', ...latencyKeys] as const;
for (const s of fullScenarios) {
  const runs = fullRuns.filter((r) => r.scenario === s);
  summary[s] = Object.fromEntries([...fullKeys.map((k) => [k, med(runs, k)]), ['okRuns', runs.filter((r) => !r.error).length], ['runs', runs.length]]);
}
const testbedKeys = ['cpuPctAvg', 'cpuPctP95', 'cpuPctMax', 'cpuSecPerMillion', 'peakRssMiB', 'windowMaxRssMiB', 'deliveredPct', 'achievedSpansPerSec', 'requestsFailed', 'late', ...latencyKeys] as const;
for (const s of [...new Set(testbedRuns.map((r) => r.scenario))]) {
  const runs = testbedRuns.filter((r) => r.scenario === s);
  summary[s] = Object.fromEntries([...testbedKeys.map((k) => [k, med(runs, k)]), ['okRuns', runs.filter((r) => !r.error).length], ['runs', runs.length]]);
}

log('');
{
  // Today's table: the in-memory-queue scenarios (and the floor); the designs have theirs below.
  const cols = fullScenarios.filter((s) => s !== 'floor' && !fullRuns.some((r) => r.scenario === s && r.design));
  const floor = summary.floor;
  if (cols.length || floor) {
    const ref = cols[0] ? summary[cols[0]] : undefined;
    const ratio = (k: string, d = 2) => (floor && ref ? `${num(ref[k]! / floor[k]!, d)}×` : 'n/a');
    const row = (label: string, k: string, fmt: (x: number) => string, target = '', withRatio = true): string[] => [
      label,
      ...cols.map((c) => fmt(summary[c]![k]!)),
      ...(floor ? [fmt(floor[k]!), withRatio ? ratio(k) : ''] : []),
      target,
    ];
    const header = ['full load, median', ...cols.map((c) => c.replace('fleetcol/', 'fleetcol, export ')), ...(floor ? [floorName, `ratio ${(cols[0] ?? 'fleetcol').replace('fleetcol/', 'fleetcol ')} / floor`] : []), 'target'];
    log(`Full load: ${cfg.concurrency} requests in flight, ${cfg.spansPerRequest} spans/request, ${cfg.durationS} s measured after ${cfg.warmupS} s warm-up; median of ${cfg.runs} run(s)`);
    const cpuTarget = cols.length ? `≤ ${TARGET_CPU_PER_MILLION} (${cols.map((c) => `${c.replace('fleetcol/', '')}: ${within(summary[c]!.cpuSecPerMillion, TARGET_CPU_PER_MILLION)}`).join(', ')})` : '';
    log(
      table(header, [
        row('spans/s delivered', 'spansPerSec', (x) => num(x)),
        row('spans/s accepted (receiver OK)', 'acceptedSpansPerSec', (x) => num(x)),
        row('CPU-s per million spans', 'cpuSecPerMillion', (x) => num(x, 2), cpuTarget),
        row('CPU % of one core', 'cpuPct', (x) => pct(x)),
        row('answer latency p50 ms', 'latencyP50Ms', ms, '', false),
        row('answer latency p99 ms', 'latencyP99Ms', ms, '', false),
        row('peak RSS MiB (VmHWM)', 'peakRssMiB', (x) => num(x, 1)),
        row('max RSS in window MiB', 'windowMaxRssMiB', (x) => num(x, 1)),
        row('load generator CPU %', 'loadgenCpuPct', (x) => pct(x), '', false),
        row('sink CPU %', 'sinkCpuPct', (x) => pct(x), '', false),
        row('delivered / accepted (after drain)', 'deliveredPct', (x) => pct(x, 2), '100 %', false),
        row('failed requests (whole run)', 'requestsFailed', (x) => num(x), '', false),
      ]),
    );
    log('');
  }
}
const tb = summary.testbed;
const tf = summary['testbed-floor'];
if (tb || tf) {
  const cols = [...(tb ? [tb] : []), ...(tf ? [tf] : [])];
  const row = (label: string, f: (t: Record<string, number>) => string, target: string) => [label, ...cols.map(f), target];
  log(`otelcol testbed case: ${num(cfg.testbedRate)} spans/s in requests of ${cfg.testbedSpansPerRequest} spans, ${cfg.testbedDurationS} s measured after ${cfg.warmupS} s warm-up, exporter compression ${cfg.compression[0] ?? 'none'}; median of ${cfg.runs} run(s)`);
  log(
    table(
      ['testbed, median', ...(tb ? ['fleetcol'] : []), ...(tf ? [floorName] : []), 'target (fleetcol)'],
      [
        row('CPU % of one core, average', (t) => pct(t.cpuPctAvg), tb ? `≤ ${TARGET_TESTBED_CPU} % (${within(tb.cpuPctAvg, TARGET_TESTBED_CPU)})` : ''),
        row('CPU % of one core, p95 of 1-s samples', (t) => pct(t.cpuPctP95), ''),
        row('CPU % of one core, max 1-s sample', (t) => pct(t.cpuPctMax), ''),
        row('answer latency p50 ms', (t) => ms(t.latencyP50Ms), ''),
        row('answer latency p99 ms', (t) => ms(t.latencyP99Ms), ''),
        row('peak RSS MiB (VmHWM)', (t) => num(t.peakRssMiB, 1), tb ? `≤ ${TARGET_TESTBED_RSS} MiB (${within(tb.peakRssMiB, TARGET_TESTBED_RSS)})` : ''),
        row('max RSS in window MiB', (t) => num(t.windowMaxRssMiB, 1), ''),
        row('spans sent/s (achieved)', (t) => num(t.achievedSpansPerSec), num(cfg.testbedRate)),
        row('delivered / sent spans', (t) => pct(t.deliveredPct, 3), tb ? `100 % (${tb.deliveredPct === 100 ? 'ok' : 'MISSED'})` : ''),
        row('failed requests', (t) => num(t.requestsFailed), '0'),
      ],
    ),
  );
  log('');
}

// The designs of a durable OK: one row per design × fsync, CPU against ack-batch at the same fsync.
interface DesignRow {
  design: Design;
  fsync: boolean;
  scenario: string;
  okRuns: number;
  runs: number;
  /** CPU-s per million spans / ack-batch's at the same fsync. */
  cpuRatio: number;
  /** Whether the issue's targets are met (undefined: no figure or not applicable). */
  cpuTargetMet?: boolean;
  p99TargetMet?: boolean;
}
const designComparison: { full: Record<string, DesignRow[]>; testbed: DesignRow[] } = { full: {}, testbed: [] };
if (designMode) {
  const runsOk = (s: Record<string, number> | undefined) => (!s ? 'not run' : s.okRuns === s.runs ? `${s.okRuns}/${s.runs}` : `${s.okRuns}/${s.runs} FAILED`);
  const ratioCell = (row: DesignRow) => (baseOf(row.design) === row.design ? (Number.isFinite(row.cpuRatio) ? '1.00× (base)' : 'n/a') : Number.isFinite(row.cpuRatio) ? `${num(row.cpuRatio, 2)}× (${row.cpuTargetMet ? 'ok' : 'MISSED'})` : 'n/a');
  const p99Cell = (p50: number, p99: number, row: DesignRow) => `${ms(p50)} / ${ms(p99)}${row.p99TargetMet === undefined ? '' : row.p99TargetMet ? ' (ok)' : ' (MISSED)'}`;
  const rowsFor = (prefix: string, p99Target: boolean): DesignRow[] =>
    variants.map((v) => {
      const scenario = `${prefix}${variantKey(v)}`;
      const s = summary[scenario];
      const base = summary[`${prefix}${variantKey({ design: baseOf(v.design), fsync: v.fsync })}`];
      const cpuRatio = s && base ? s.cpuSecPerMillion! / base.cpuSecPerMillion! : NaN;
      const p99 = s?.latencyP99Ms ?? NaN;
      return {
        design: v.design,
        fsync: v.fsync,
        scenario,
        okRuns: s?.okRuns ?? 0,
        runs: s?.runs ?? 0,
        cpuRatio,
        cpuTargetMet: baseOf(v.design) === v.design || !Number.isFinite(cpuRatio) ? undefined
          : v.design === 'genai-metrics' ? s!.cpuSecPerMillion! - base!.cpuSecPerMillion! <= TARGET_GENAI_METRICS_ADDED
          : v.design === 'probabilistic' || v.design === 'filter' ? s!.cpuSecPerMillion! - base!.cpuSecPerMillion! <= TARGET_SAMPLER_ADDED
          : v.design === 'tail-sampling' ? undefined
          : cpuRatio <= cpuTarget(v.design),
        p99TargetMet: p99Target && v.design === 'queue-batch' && Number.isFinite(p99) ? p99 <= TARGET_QUEUE_BATCH_P99_MS : undefined,
      };
    });
  const label = (r: DesignRow) => r.design;
  const targets = cfg.designs.includes('genai')
    ? `target: the genai processor adds ≤ ${Math.round((TARGET_GENAI_CPU_RATIO - 1) * 100)} % CPU per span to the same pipeline without it; load mix: ${opt.mix}`
    : `targets: CPU per span ≤ ${TARGET_DESIGN_CPU_RATIO.toFixed(2)}× ack-batch's at the same fsync (today's build); queue-batch answer p99 ≤ ${TARGET_QUEUE_BATCH_P99_MS} ms at the testbed rate`;
  if (cfg.scenarios.includes('full')) {
    for (const c of cfg.compression) {
      const rows = rowsFor(`fleetcol/${c}/`, false);
      designComparison.full[c] = rows;
      log(`Durable OK, full load, export ${c}: ${cfg.concurrency} requests in flight, ${cfg.spansPerRequest} spans/request, ${cfg.durationS} s measured after ${cfg.warmupS} s warm-up; median of ${cfg.runs} run(s); ${targets}`);
      log(
        table(
          ['design', 'fsync', 'spans/s delivered', 'spans/s accepted', 'CPU-s per million spans', 'CPU vs base', 'CPU % of one core', 'answer p50 / p99 ms', 'peak RSS MiB', 'delivered / accepted', 'failed requests', 'runs ok'],
          rows.map((r) => {
            const s = summary[r.scenario] ?? {};
            return [label(r), fsyncName(r.fsync), num(s.spansPerSec), num(s.acceptedSpansPerSec), num(s.cpuSecPerMillion, 2), ratioCell(r), pct(s.cpuPct), p99Cell(s.latencyP50Ms ?? NaN, s.latencyP99Ms ?? NaN, r), num(s.peakRssMiB, 1), pct(s.deliveredPct, 2), num(s.requestsFailed), runsOk(summary[r.scenario])];
          }),
        ),
      );
      log('');
    }
  }
  if (cfg.scenarios.includes('testbed')) {
    const rows = rowsFor('testbed/', true);
    designComparison.testbed = rows;
    log(`Durable OK, testbed rate: ${num(cfg.testbedRate)} spans/s in requests of ${cfg.testbedSpansPerRequest} spans, ${cfg.testbedDurationS} s measured after ${cfg.warmupS} s warm-up, exporter compression ${cfg.compression[0] ?? 'none'}; median of ${cfg.runs} run(s); ${targets}`);
    log(
      table(
        ['design', 'fsync', 'CPU % of one core', 'CPU-s per million spans', 'CPU vs base', 'answer p50 / p99 ms', 'peak RSS MiB', 'spans sent/s', 'delivered / sent', 'failed requests', 'runs ok'],
        rows.map((r) => {
          const s = summary[r.scenario] ?? {};
          return [label(r), fsyncName(r.fsync), pct(s.cpuPctAvg), num(s.cpuSecPerMillion, 2), ratioCell(r), p99Cell(s.latencyP50Ms ?? NaN, s.latencyP99Ms ?? NaN, r), num(s.peakRssMiB, 1), num(s.achievedSpansPerSec), pct(s.deliveredPct, 3), num(s.requestsFailed), runsOk(summary[r.scenario])];
        }),
      ),
    );
    log('');
  }
}

const errors = [...fullRuns, ...testbedRuns].filter((r) => r.error);
if (errors.length) {
  log(`${errors.length} run(s) failed; see the errors above and ${tmp}`);
  for (const s of [...new Set(errors.map((r) => r.scenario))]) {
    const all = [...fullRuns, ...testbedRuns].filter((r) => r.scenario === s);
    if (!all.every((r) => r.error)) continue;
    const lines = all[0]!.error!.trimEnd().split('\n');
    log(`  ${s}: failed in every run; first error: ${lines[0]}${lines.length > 1 ? ` … ${lines[lines.length - 1]!.trim()}` : ''}`);
  }
}

const stamp = new Date().toISOString().replace(/:/g, '').replace(/\.\d+Z$/, 'Z');
const out = opt.out ? resolve(opt.out) : join(ROOT, 'bench', 'results', `otlp-throughput-${stamp}.json`);
mkdirSync(dirname(out), { recursive: true });
const strip = <T extends { usage?: Usage }>(r: T) => ({ ...r, usage: r.usage ? { ...r.usage, cpuPctSamples: r.usage.cpuPctSamples.map((x) => Math.round(x * 10) / 10) } : undefined });
writeFileSync(
  out,
  JSON.stringify(
    {
      benchmark: 'otlp-throughput',
      date: new Date().toISOString(),
      command,
      machine: { ...machine, loadavgAtEnd: os.loadavg().map((x) => Math.round(x * 100) / 100) },
      fleetcol: { commit, dirty },
      ...(designMode ? { baseline, storage: { dir: storageRoot, fsType: storageFs }, notes } : {}),
      options: cfg,
      targets: {
        cpuSecPerMillionSpans: TARGET_CPU_PER_MILLION,
        testbedCpuPct: TARGET_TESTBED_CPU,
        testbedRssMiB: TARGET_TESTBED_RSS,
        testbedDeliveredPct: 100,
        ...(designMode ? { designCpuRatioToAckBatch: TARGET_DESIGN_CPU_RATIO, queueBatchAnswerP99Ms: TARGET_QUEUE_BATCH_P99_MS, genaiCpuRatio: TARGET_GENAI_CPU_RATIO } : {}),
      },
      medians: summary,
      ...(designMode ? { designs: designComparison } : {}),
      runs: { full: fullRuns.map(strip), testbed: testbedRuns.map(strip) },
      elapsedS: Math.round((Date.now() - started) / 1000),
    },
    null,
    2,
  ) + '\n',
);
log(`results: ${relative(process.cwd(), out)} (${Math.round((Date.now() - started) / 1000)} s)`);
if (!opt.keep && !cfg.cpuProf && errors.length === 0) rmSync(tmp, { recursive: true, force: true });
process.exit(errors.length ? 1 : 0);
