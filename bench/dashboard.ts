// The dashboard in Chromium under a fleet's load: 500 agents (each with its own service.name and
// gen_ai.agent.name) send GenAI spans through OTLP/HTTP at --rate spans per second (tokens, model,
// a tool call in five, an error in twenty) to a fleetcol whose sse exporter serves the dashboard;
// headless Chromium (playwright-core, Debian's chromium) keeps the page at `/` open. Every second
// the page's main-thread busy time (Chrome's Performance metrics: TaskDuration over wall time),
// frames painted (requestAnimationFrame count), JS heap in use and DOM nodes are read. Targets:
// main thread ≤ 20 % busy; no heap or DOM growth past the first minute.
//
//   npx tsc -p tsconfig.json && node dist/bench/dashboard.js [--agents 500] [--rate 100] [--duration 600] [--out FILE]
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Telemetry, type ExportTraceServiceRequest, type KeyValue, type Span } from '../src/pdata/telemetry.js';
import { checkout, commandLine, machineInfo, resultsFile } from './lib/cli.js';
import { cpuSeconds, freePort, median, memory, percentile } from './lib/proc.js';
import { table } from './lib/report.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = join(ROOT, 'dist', 'src', 'cli.js');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const { values } = parseArgs({
  options: {
    agents: { type: 'string', default: '500' },
    rate: { type: 'string', default: '100' },
    duration: { type: 'string', default: '600' },
    out: { type: 'string' },
  },
});
const AGENTS = Number(values.agents);
const RATE = Number(values.rate);
const DURATION_S = Number(values.duration);
const TARGET_BUSY = 0.2;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const kv = (key: string, v: string | number): KeyValue => ({ key, value: typeof v === 'string' ? { stringValue: v } : Number.isInteger(v) ? { intValue: BigInt(v) } : { doubleValue: v } });
const MODELS = ['gpt-4o-mini', 'gpt-4o', 'claude-sonnet-4-20250514'];
const TOOLS = ['search', 'fetch_page', 'run_sql', 'send_email'];

let seq = 0;
function randomId(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(Math.random() * 256);
  return b;
}

/** One request: `n` spans, each from a random agent (its own resource). */
function request(n: number, agentOf: () => number): Uint8Array<ArrayBuffer> {
  const now = BigInt(Date.now()) * 1_000_000n;
  const byAgent = new Map<number, Span[]>();
  for (let i = 0; i < n; i++) {
    const a = agentOf();
    const k = seq++;
    const tool = k % 5 === 0;
    const failed = k % 20 === 0;
    const model = MODELS[a % MODELS.length]!;
    const attrs: KeyValue[] = tool
      ? [kv('gen_ai.operation.name', 'execute_tool'), kv('gen_ai.tool.name', TOOLS[k % TOOLS.length]!)]
      : [kv('gen_ai.operation.name', 'chat'), kv('gen_ai.provider.name', model.startsWith('claude') ? 'anthropic' : 'openai'), kv('gen_ai.request.model', model), kv('gen_ai.usage.input_tokens', 400 + (k % 700)), kv('gen_ai.usage.output_tokens', 60 + (k % 240))];
    attrs.push(kv('gen_ai.agent.name', `agent-${a}`));
    const span: Span = {
      traceId: randomId(16), spanId: randomId(8), traceState: '', parentSpanId: new Uint8Array(0), flags: 0,
      name: tool ? `execute_tool ${TOOLS[k % TOOLS.length]}` : `chat ${model}`, kind: 3,
      startTimeUnixNano: now - 800_000_000n, endTimeUnixNano: now, attributes: attrs, droppedAttributesCount: 0,
      events: [], droppedEventsCount: 0, links: [], droppedLinksCount: 0,
      status: { code: failed ? 2 : 0, message: failed ? 'upstream timeout' : '' },
    } as Span;
    let list = byAgent.get(a);
    if (list === undefined) byAgent.set(a, (list = []));
    list.push(span);
  }
  const req: ExportTraceServiceRequest = {
    resourceSpans: [...byAgent].map(([a, spans]) => ({
      resource: { attributes: [kv('service.name', `agent-${a}`)], droppedAttributesCount: 0 },
      scopeSpans: [{ scope: { name: 'bench-dashboard', version: '1', attributes: [], droppedAttributesCount: 0 }, spans, schemaUrl: '' }],
      schemaUrl: '',
    })),
  } as ExportTraceServiceRequest;
  return new Uint8Array(Telemetry.fromRequest('traces', req).toProto());
}

async function post(port: number, body: Uint8Array<ArrayBuffer>): Promise<void> {
  const r = await fetch(`http://127.0.0.1:${port}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body });
  if (!r.ok) throw new Error(`OTLP/HTTP answered ${r.status}`);
  await r.arrayBuffer();
}

interface Sample {
  t: number;
  busy: number;
  fps: number;
  heapMiB: number;
  nodes: number;
  events: number;
}

async function main(): Promise<void> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing (apt-get install -y chromium)`);
  const { chromium } = await import('playwright-core');
  const dir = mkdtempSync(join(tmpdir(), 'fleetcol-bench-dashboard-'));
  const [httpPort, ssePort, telemetryPort] = [await freePort(), await freePort(), await freePort()];
  const config = join(dir, 'fleetcol.yaml');
  writeFileSync(config, `receivers:
  otlp:
    protocols:
      http: { endpoint: 127.0.0.1:${httpPort} }
processors:
  genai: {}
exporters:
  sse: { endpoint: 127.0.0.1:${ssePort}, max_agents: ${AGENTS * 2} }
service:
  pipelines:
    traces: { receivers: [otlp], processors: [genai], exporters: [sse] }
  telemetry:
    metrics:
      address: 127.0.0.1:${telemetryPort}
`);
  const fleetcol: ChildProcess = spawn(process.execPath, [CLI, '--config', config], { stdio: ['ignore', 'ignore', 'inherit'] });
  const stop = () => fleetcol.kill('SIGKILL');
  process.on('exit', stop);
  for (let i = 0; ; i++) {
    if (await fetch(`http://127.0.0.1:${telemetryPort}/readyz`).then((r) => r.ok, () => false)) break;
    if (i > 300) throw new Error('fleetcol did not become ready');
    await sleep(100);
  }
  // Every agent once, so the page starts with the whole fleet.
  for (let a = 0; a < AGENTS; a += 100) await post(httpPort, request(Math.min(100, AGENTS - a), (() => { let i = a; return () => i++; })()));

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  await page.addInitScript(() => {
    const w = window as unknown as { __frames: number };
    w.__frames = 0;
    const tick = () => {
      w.__frames++;
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
  await page.goto(`http://127.0.0.1:${ssePort}/`);
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  const metrics = async () => {
    const { metrics: m } = (await cdp.send('Performance.getMetrics')) as { metrics: { name: string; value: number }[] };
    const get = (n: string) => m.find((x) => x.name === n)?.value ?? 0;
    return { task: get('TaskDuration'), heap: get('JSHeapUsedSize'), nodes: get('Nodes') };
  };
  const frames = () => page.evaluate(() => (window as unknown as { __frames: number }).__frames);

  // The load: RATE spans per second in 10 requests, from random agents.
  let sending = true;
  let sent = 0;
  const load = (async () => {
    const perTick = RATE / 10;
    let next = Date.now();
    while (sending) {
      await post(httpPort, request(perTick, () => Math.floor(Math.random() * AGENTS))).catch((err: Error) => console.error(err.message));
      sent += perTick;
      next += 100;
      await sleep(Math.max(0, next - Date.now()));
    }
  })();

  const samples: Sample[] = [];
  const cpu0 = cpuSeconds(fleetcol.pid!);
  const t0 = Date.now();
  let last = { ...(await metrics()), frames: await frames(), at: performance.now() };
  while (Date.now() - t0 < DURATION_S * 1000) {
    await sleep(1000);
    const m = await metrics();
    const f = await frames();
    const at = performance.now();
    const wall = (at - last.at) / 1000;
    samples.push({ t: Math.round((Date.now() - t0) / 1000), busy: (m.task - last.task) / wall, fps: (f - last.frames) / wall, heapMiB: m.heap / 2 ** 20, nodes: m.nodes, events: sent });
    last = { ...m, frames: f, at };
    if (samples.length % 60 === 0) {
      const s = samples.at(-1)!;
      console.log(`${s.t} s: busy ${(s.busy * 100).toFixed(1)} %, ${s.fps.toFixed(0)} fps, heap ${s.heapMiB.toFixed(1)} MiB, ${s.nodes} DOM nodes, ${sent} spans sent`);
    }
  }
  sending = false;
  await load;
  const cpu = cpuSeconds(fleetcol.pid!) - cpu0;
  const elapsed = (Date.now() - t0) / 1000;
  const rss = memory(fleetcol.pid!).rss / 2 ** 20;
  const shown = await page.evaluate(() => document.body.innerText.length);
  await browser.close();
  stop();

  const busy = samples.map((s) => s.busy);
  const fps = samples.map((s) => s.fps);
  const atMinute = samples.find((s) => s.t >= 60) ?? samples[0]!;
  const end = samples.at(-1)!;
  const heapLate = samples.filter((s) => s.t >= 60).map((s) => s.heapMiB);
  const summary = {
    busyMedian: median(busy), busyP95: percentile(busy, 95), fpsMedian: median(fps), fpsP5: percentile(fps, 5),
    heapAt1MinMiB: atMinute.heapMiB, heapEndMiB: end.heapMiB, heapMaxAfter1MinMiB: Math.max(...heapLate, 0),
    nodesAt1Min: atMinute.nodes, nodesEnd: end.nodes, fleetcolCpuPct: (cpu / elapsed) * 100, fleetcolRssMiB: rss, spansSent: sent, pageTextChars: shown,
  };
  console.log(`\n${AGENTS} agents, ${RATE} spans/s for ${DURATION_S} s; headless Chromium ${browser.version()} at 1600×1000`);
  console.log(table(['measure', 'value', 'target'], [
    ['main thread busy, median / p95 of 1-s samples', `${(summary.busyMedian * 100).toFixed(1)} % / ${(summary.busyP95 * 100).toFixed(1)} %`, `≤ ${TARGET_BUSY * 100} %`],
    ['frames per second, median / p5', `${summary.fpsMedian.toFixed(0)} / ${summary.fpsP5.toFixed(0)}`, ''],
    ['JS heap at 1 min / at the end / max after 1 min', `${summary.heapAt1MinMiB.toFixed(1)} / ${summary.heapEndMiB.toFixed(1)} / ${summary.heapMaxAfter1MinMiB.toFixed(1)} MiB`, 'no growth'],
    ['DOM nodes at 1 min / at the end', `${summary.nodesAt1Min} / ${summary.nodesEnd}`, 'no growth'],
    ['fleetcol CPU / RSS', `${summary.fleetcolCpuPct.toFixed(1)} % / ${summary.fleetcolRssMiB.toFixed(0)} MiB`, ''],
  ]));
  const file = resultsFile(ROOT, 'dashboard', values.out);
  writeFileSync(file, JSON.stringify({ command: commandLine(), checkout: checkout(ROOT), machine: machineInfo(), agents: AGENTS, rate: RATE, durationS: DURATION_S, summary, samples }, null, 2));
  console.log(`results: ${file}`);
}

main().then(() => process.exit(0), (err: unknown) => {
  console.error(err);
  process.exit(1);
});
