// The dashboard page under load, in headless Chromium (playwright-core, Debian's chromium): an
// in-process sse exporter knows --agents agents and publishes about --rate events/s (spans, one in
// ten failed, so errors and status changes too); the page follows everything. Per run, measured
// over --duration seconds after --warmup seconds: the page's main-thread busy share (CDP
// Performance.getMetrics TaskDuration over wall time), frames per second (requestAnimationFrame
// count), events delivered per second (window.feed), and the JS heap after a forced GC at the
// start and the end of the run (growth = not bounded). Baseline in the same run: the same page with
// the same agents and no events. Medians of --runs runs.
//
//   npx tsc -p tsconfig.json && npm run build:dashboard
//   node dist/bench/dashboard-page.js [--agents 500] [--rate 100] [--duration 30] [--warmup 10] [--runs 3]
//   node dist/bench/dashboard-page.js --runs 1 --duration 600     # memory after 10 minutes
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { chromium, type CDPSession, type Page } from 'playwright-core';
import { stringify } from 'yaml';
import { registry } from '../src/components.js';
import { loadConfig } from '../src/config/load.js';
import { Telemetry, type KeyValue } from '../src/pdata/telemetry.js';
import { MetricsRegistry } from '../src/telemetry/metrics.js';
import { sseExporterFactory } from '../exporters/sse/factory.js';
import type { SseExporter, SseExporterConfig } from '../exporters/sse/exporter.js';
import { freePort, median, sleep } from './lib/proc.js';
import { num, pct, table, within } from './lib/report.js';

const CHROMIUM = '/usr/bin/chromium';
const { values } = parseArgs({
  options: {
    agents: { type: 'string', default: '500' },
    rate: { type: 'string', default: '100' },
    duration: { type: 'string', default: '30' },
    warmup: { type: 'string', default: '10' },
    runs: { type: 'string', default: '3' },
  },
});
const AGENTS = Number(values.agents);
const RATE = Number(values.rate);
const DURATION_S = Number(values.duration);
const WARMUP_S = Number(values.warmup);
const RUNS = Number(values.runs);
if (![AGENTS, RATE, DURATION_S, WARMUP_S, RUNS].every((x) => Number.isFinite(x) && x >= 0) || RUNS < 1 || DURATION_S <= 0) {
  process.stderr.write('usage: dashboard-page.js [--agents N] [--rate EVENTS/S] [--duration S] [--warmup S] [--runs N]\n');
  process.exit(2);
}
if (!existsSync(CHROMIUM)) {
  process.stderr.write(`${CHROMIUM} is missing (apt-get install -y chromium)\n`);
  process.exit(2);
}

const s = (key: string, v: string): KeyValue => ({ key, value: { stringValue: v } });
const i = (key: string, v: number): KeyValue => ({ key, value: { intValue: BigInt(v) } });

/** One chat span of `agent`, failed when `failed`: a span event (and an error event). */
function span(agent: string, failed: boolean): Telemetry {
  const end = BigInt(Date.now()) * 1_000_000n;
  return Telemetry.fromRequest('traces', {
    resourceSpans: [{
      resource: { attributes: [s('service.name', 'bench'), s('gen_ai.agent.id', agent)], droppedAttributesCount: 0 },
      schemaUrl: '',
      scopeSpans: [{
        scope: { name: 'bench', version: '1', attributes: [], droppedAttributesCount: 0 },
        schemaUrl: '',
        spans: [{
          traceId: randomBytes(16), spanId: randomBytes(8), parentSpanId: new Uint8Array(0), traceState: '', flags: 0,
          name: 'chat gpt-4o-mini', kind: 3, startTimeUnixNano: end - 800_000_000n, endTimeUnixNano: end,
          attributes: [s('gen_ai.operation.name', 'chat'), s('gen_ai.request.model', 'gpt-4o-mini'), i('gen_ai.usage.input_tokens', 500), i('gen_ai.usage.output_tokens', 160)],
          droppedAttributesCount: 0, events: [], droppedEventsCount: 0, links: [], droppedLinksCount: 0,
          status: { code: failed ? 2 : 0, message: failed ? 'rate limited' : '' },
        }],
      }],
    }],
  } as never);
}

async function startExporter(): Promise<{ exp: SseExporter; base: string }> {
  const port = await freePort();
  const doc = {
    receivers: { otlp: { protocols: { http: { endpoint: '127.0.0.1:1' } } } },
    exporters: { sse: { endpoint: `127.0.0.1:${port}`, metrics_interval: '5s', offline_after: '1h', max_connections_per_client: 0 } },
    service: { pipelines: { traces: { receivers: ['otlp'], exporters: ['sse'] } } },
  };
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'fleetcol-bench-')), 'sse.yaml');
  writeFileSync(file, stringify(doc));
  const r = loadConfig({ files: [file], registry });
  if (r.errors.length > 0) throw new Error(JSON.stringify(r.errors));
  const cfg = (r.config as any).exporters.get('sse').config as SseExporterConfig;
  const metrics = new MetricsRegistry();
  const exp = sseExporterFactory.createExporter!({ id: 'sse', kind: 'exporter', logger: pino({ level: 'silent' }), metrics: metrics.scoped('exporter', 'sse'), shutdownTimeoutMs: 2000 }, cfg, ['traces']) as SseExporter;
  await exp.start();
  return { exp, base: `http://127.0.0.1:${port}` };
}

interface Sample { busy: number; fps: number; eventsPerS: number; heapStartMiB: number; heapEndMiB: number; /** after a GC, every minute of a run of two minutes or more */ heapEachMinuteMiB: number[]; domNodesEachMinute: number[] }

/** Main-thread busy share, frame rate, events delivered and heap over `seconds`. */
async function measure(page: Page, cdp: CDPSession, seconds: number): Promise<Sample> {
  const task = async () => (await cdp.send('Performance.getMetrics')).metrics.find((m) => m.name === 'TaskDuration')!.value;
  const heap = async () => {
    await cdp.send('HeapProfiler.collectGarbage');
    return (await cdp.send('Runtime.getHeapUsage')).usedSize / 2 ** 20;
  };
  const delivered = () => page.evaluate(() => (window as unknown as { feed: { delivered: number } }).feed.delivered);
  const heapStartMiB = await heap();
  await page.evaluate(() => {
    const w = window as unknown as { frames_?: number };
    if (w.frames_ !== undefined) return; // counting already
    w.frames_ = 0;
    const tick = () => {
      w.frames_!++;
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
  const [t0, d0, w0] = [await task(), await delivered(), performance.now()];
  const f0 = await page.evaluate(() => (window as unknown as { frames_: number }).frames_);
  // Long runs: the heap (after a GC) and the DOM size every minute, to tell growth from a swing.
  const heapEachMinuteMiB: number[] = [];
  const domNodesEachMinute: number[] = [];
  const nodes = async () => (await cdp.send('Performance.getMetrics')).metrics.find((m) => m.name === 'Nodes')!.value;
  let left = seconds * 1000;
  while (left > 0) {
    const step = seconds >= 120 ? Math.min(60_000, left) : left;
    await sleep(step);
    left -= step;
    if (seconds >= 120) {
      heapEachMinuteMiB.push(Math.round((await heap()) * 100) / 100);
      domNodesEachMinute.push(await nodes());
    }
  }
  const [t1, d1, w1] = [await task(), await delivered(), performance.now()];
  const f1 = await page.evaluate(() => (window as unknown as { frames_: number }).frames_);
  const wall = (w1 - w0) / 1000;
  return { busy: ((t1 - t0) / wall) * 100, fps: (f1 - f0) / wall, eventsPerS: (d1 - d0) / wall, heapStartMiB, heapEndMiB: await heap(), heapEachMinuteMiB, domNodesEachMinute };
}

async function run(n: number): Promise<{ loaded: Sample; idle: Sample }> {
  const { exp, base } = await startExporter();
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  try {
    for (let a = 0; a < AGENTS; a++) await exp.consume(span(`agent-${String(a).padStart(4, '0')}`, false));
    const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
    await page.goto(`${base}/`);
    await page.waitForFunction((n) => document.querySelector('.pager span')?.textContent?.endsWith(`of ${n} agents`), AGENTS, { timeout: 30_000 });
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Performance.enable');
    const idle = await measure(page, cdp, Math.min(DURATION_S, 10));

    let sent = 0;
    const every = 10;
    const perTick = RATE / (1000 / every);
    let owed = 0;
    const timer = setInterval(() => {
      owed += perTick;
      for (; owed >= 1; owed--) {
        sent++;
        void exp.consume(span(`agent-${String(sent % AGENTS).padStart(4, '0')}`, sent % 10 === 0));
      }
    }, every);
    await sleep(WARMUP_S * 1000);
    const loaded = await measure(page, cdp, DURATION_S);
    clearInterval(timer);
    process.stderr.write(`run ${n}: busy ${loaded.busy.toFixed(1)} % (idle ${idle.busy.toFixed(1)} %), ${loaded.fps.toFixed(0)} fps, ${loaded.eventsPerS.toFixed(0)} events/s, heap ${loaded.heapStartMiB.toFixed(1)} → ${loaded.heapEndMiB.toFixed(1)} MiB\n`);
    if (loaded.heapEachMinuteMiB.length > 0) process.stderr.write(`run ${n}: heap after GC each minute (MiB): ${loaded.heapEachMinuteMiB.join(' ')}; DOM nodes: ${loaded.domNodesEachMinute.join(' ')}\n`);
    return { loaded, idle };
  } finally {
    await browser.close();
    await exp.shutdown();
  }
}

const results: { loaded: Sample; idle: Sample }[] = [];
for (let r = 1; r <= RUNS; r++) results.push(await run(r));
const m = (f: (x: { loaded: Sample; idle: Sample }) => number) => median(results.map(f));
const busy = m((x) => x.loaded.busy);
const idleBusy = m((x) => x.idle.busy);
process.stdout.write(`\nDashboard page: ${AGENTS} agents, ~${RATE} events/s offered, ${DURATION_S} s measured after ${WARMUP_S} s, medians of ${RUNS} run(s)\n\n`);
process.stdout.write(`${table(
  ['figure', 'idle page (baseline)', 'under load', 'ratio', 'target'],
  [
    ['main thread busy', pct(idleBusy), pct(busy), `${num(busy / Math.max(idleBusy, 0.01), 1)}×`, `≤ 20 %: ${within(busy, 20)}`],
    ['frames/s', num(m((x) => x.idle.fps)), num(m((x) => x.loaded.fps)), '', ''],
    ['events/s delivered', num(m((x) => x.idle.eventsPerS)), num(m((x) => x.loaded.eventsPerS)), '', ''],
    ['JS heap at start (MiB, after GC)', num(m((x) => x.idle.heapStartMiB), 1), num(m((x) => x.loaded.heapStartMiB), 1), '', ''],
    ['JS heap at end (MiB, after GC)', num(m((x) => x.idle.heapEndMiB), 1), num(m((x) => x.loaded.heapEndMiB), 1), '', 'no growth past the first minute'],
  ],
)}\n`);
process.exit(0);
