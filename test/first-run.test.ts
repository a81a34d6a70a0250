// A newcomer's first run: fleetcol on the shipped config/fleetcol.yaml (what `npm start` runs, its
// ports moved to free loopback ones through the config's environment variables) logs the dashboard's
// URL and serves the page there; `fleetcol demo` against it puts a fleet on the feed within seconds
// (agents with tokens and cost, task lifecycles, the A2A agent through the webhook), and stops by
// itself (--duration) or on SIGINT with every task it started ended.
import t, { type Test } from 'tap';
import { dashboardUrl } from '../exporters/sse/exporter.js';
import { freePort, spawnCli, waitFor, type CliProcess } from './helper.js';
import { openStream, type ParsedEvent, type RawStream } from './sse-stream.js';

const OTLP_AGENTS = ['researcher', 'coder', 'support', 'planner', 'analyst', 'reviewer'];
const A2A_AGENT = 'trip-planner';
const a2aSdk = await import('@a2a-js/sdk').then(() => true, () => false);

interface Agent {
  id: string;
  status: string;
  input_tokens: number;
  output_tokens: number;
  cost: number;
  active_tasks: string[];
  spans: number;
}

/** Spans the demo made, from its last summary line: a root per task, a span per model and tool call. */
function spansMade(stdout: string): number {
  const lines = stdout.trim().split('\n').filter((l) => / agents?: /.test(l));
  const m = / ([\d,]+) tasks? \(.* ([\d,]+) model calls?, ([\d,]+) tool calls?/.exec(lines.at(-1) ?? '');
  if (!m) throw new Error(`no summary line in:\n${stdout}`);
  return m.slice(1, 4).reduce((n, x) => n + Number(x.replaceAll(',', '')), 0);
}

async function startDefault(t: Test) {
  const ports = { grpc: await freePort(), http: await freePort(), sse: await freePort(), webhook: await freePort(), metrics: await freePort() };
  const env = {
    FLEETCOL_OTLP_GRPC_ENDPOINT: `127.0.0.1:${ports.grpc}`,
    FLEETCOL_OTLP_HTTP_ENDPOINT: `127.0.0.1:${ports.http}`,
    FLEETCOL_SSE_ENDPOINT: `127.0.0.1:${ports.sse}`,
    FLEETCOL_A2A_WEBHOOK_ENDPOINT: `127.0.0.1:${ports.webhook}`,
    FLEETCOL_METRICS_ADDRESS: `127.0.0.1:${ports.metrics}`,
  };
  const daemon = spawnCli(['--config', 'config/fleetcol.yaml'], env);
  t.teardown(() => daemon.stop());
  await waitFor(async () => {
    if (daemon.proc.exitCode !== null) throw new Error(`fleetcol exited at start:\n${daemon.output()}`);
    return fetch(`http://127.0.0.1:${ports.metrics}/readyz`).then((r) => r.ok, () => false);
  }, 15_000, 'fleetcol on the default config to be ready');
  return { daemon, ports, base: `http://127.0.0.1:${ports.sse}` };
}

const agentsOf = async (base: string): Promise<Agent[]> => ((await (await fetch(`${base}/v1/agents`)).json()) as { agents: Agent[] }).agents;

function demo(ports: { http: number; webhook: number }, args: string[]): CliProcess {
  const webhook = args.includes('--no-a2a') ? [] : ['--webhook', `http://127.0.0.1:${ports.webhook}/`];
  return spawnCli(['demo', '--endpoint', `http://127.0.0.1:${ports.http}`, ...webhook, ...args]);
}

/** task_started ids with no task_completed / task_failed after them. */
function openTasks(events: ParsedEvent[]): string[] {
  const open = new Set<string>();
  for (const e of events) {
    if (e.type === 'task_started') open.add(`${e.data.agent} ${e.data.task_id}`);
    if (e.type === 'task_completed' || e.type === 'task_failed') open.delete(`${e.data.agent} ${e.data.task_id}`);
  }
  return [...open];
}

t.test('the dashboard URL: loopback for a wildcard address, brackets for IPv6, https with tls', async (t) => {
  t.equal(dashboardUrl('127.0.0.1', 4319, false), 'http://127.0.0.1:4319/');
  t.equal(dashboardUrl('0.0.0.0', 4319, false), 'http://127.0.0.1:4319/', 'a browser cannot open 0.0.0.0');
  t.equal(dashboardUrl('::', 4319, true), 'https://[::1]:4319/');
  t.equal(dashboardUrl('fe80::1', 9000, false), 'http://[fe80::1]:9000/');
  t.equal(dashboardUrl('feed.internal', 443, true), 'https://feed.internal:443/');
});

t.test('npm start on the default config logs the dashboard URL and serves the page', async (t) => {
  const { daemon, ports, base } = await startDefault(t);
  await waitFor(() => daemon.output().includes('dashboard: '), 5000, 'the dashboard line');
  t.match(daemon.output(), `dashboard: ${base}/`, 'the URL with the port it listens on');
  const page = await fetch(`${base}/`);
  t.equal(page.status, 200);
  t.match(page.headers.get('content-type'), /^text\/html/);
  t.match(await page.text(), /<html/i);
  t.match(daemon.output(), `127.0.0.1:${ports.webhook}`, 'the A2A webhook listens too');
  t.notMatch(daemon.output(), /"level":(40|50)/, 'no warning or error on a first start');
});

t.test('fleetcol demo against it: agents within 5 s with tokens and cost, tasks, the A2A agent, a clean stop', async (t) => {
  const { ports, base } = await startDefault(t);
  const feed: RawStream = await openStream(`${base}/v1/events`);
  t.teardown(() => feed.close());
  const started = Date.now();
  const d = demo(ports, ['--duration', '6s']);
  t.teardown(() => d.stop('SIGKILL'));
  const fleet = await waitFor(async () => {
    const agents = await agentsOf(base);
    const ids = new Set(agents.map((a) => a.id));
    return OTLP_AGENTS.every((id) => ids.has(id)) && agents.some((a) => a.input_tokens > 0 && a.output_tokens > 0 && a.cost > 0) ? agents : undefined;
  }, 5000, 'the demo\'s agents, one with tokens and cost, in /v1/agents').catch((err: Error) => {
    throw new Error(`${err.message}\ndemo output:\n${d.output()}`);
  });
  t.ok(Date.now() - started <= 5500, `agents with tokens and cost after ${Date.now() - started} ms`);
  const priced = fleet.filter((a) => a.cost > 0).map((a) => a.id);
  t.ok(priced.length >= 1, `cost on ${priced.join(', ')}`);

  const code = await d.exited;
  t.equal(code, 0, `the demo stops by itself after --duration:\n${d.output()}`);
  t.match(d.stdout(), /stopping \(after 6s\)/);
  t.match(d.stdout(), /\d+ tasks? \(\d+ failed, 0 under way\)/, 'a last summary with nothing under way');
  t.notMatch(d.output(), /OTLP exports? failed/);

  // Once the last batch went through the pipeline (batch timeout 200ms), every task it started has ended.
  await waitFor(async () => openTasks(feed.events).length === 0 && (await agentsOf(base)).every((a) => a.active_tasks.length === 0), 5000, 'every task ended')
    .catch(() => t.fail(`tasks left open: ${openTasks(feed.events).join(', ')}`));
  const after = await agentsOf(base);
  const otlpSpans = after.filter((a) => OTLP_AGENTS.includes(a.id)).reduce((n, a) => n + a.spans, 0);
  t.equal(otlpSpans, spansMade(d.stdout()), 'every span the demo made reached the feed');
  const online = new Set(feed.events.filter((e) => e.type === 'agent_online').map((e) => e.data.agent));
  for (const id of OTLP_AGENTS) t.ok(online.has(id), `agent_online for ${id}`);
  const spans = feed.events.filter((e) => e.type === 'span');
  t.ok(spans.some((e) => e.data.operation === 'chat' && e.data.input_tokens > 0 && e.data.cost > 0), 'chat spans with tokens and cost');
  t.ok(spans.some((e) => e.data.operation === 'execute_tool' && typeof e.data.tool === 'string'), 'tool spans');
  const otlpStarts = feed.events.filter((e) => e.type === 'task_started' && OTLP_AGENTS.includes(e.data.agent));
  t.ok(otlpStarts.length >= OTLP_AGENTS.length, `${otlpStarts.length} tasks started`);
  t.ok(otlpStarts.every((e) => e.data.task_id !== e.data.trace_id), 'tasks go by their a2a.task.id, not their trace id');
  t.ok(feed.events.some((e) => e.type === 'progress_update' && typeof e.data.progress === 'number'), 'progress from a2a.task.status records');

  if (!a2aSdk) {
    if (process.env.CI === 'true') t.fail('@a2a-js/sdk is missing under CI=true (npm ci installs it)');
    else t.comment('SKIP: @a2a-js/sdk is not installed, so the demo runs no A2A agent (npm ci installs it)');
    t.match(d.stderr(), /no A2A agent: it needs @a2a-js\/sdk and express/, 'the demo says why');
    return;
  }
  t.ok(online.has(A2A_AGENT), 'the A2A agent came in through the webhook');
  const a2aEnded = feed.events.filter((e) => (e.type === 'task_completed' || e.type === 'task_failed') && e.data.agent === A2A_AGENT);
  t.ok(a2aEnded.length >= 1, `${a2aEnded.length} A2A tasks ended`);
});

t.test('fleetcol demo stops on SIGINT: tasks under way end, the SDKs flush, exit 0', async (t) => {
  const { ports, base } = await startDefault(t);
  const d = demo(ports, ['--agents', '2', '--no-a2a']);
  t.teardown(() => d.stop('SIGKILL'));
  await waitFor(async () => {
    if (d.proc.exitCode !== null) throw new Error(`the demo exited:\n${d.output()}`);
    return (await agentsOf(base)).some((a) => a.active_tasks.length > 0);
  }, 5000, 'a task under way');
  d.proc.kill('SIGINT');
  const code = await Promise.race([d.exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 15_000))]);
  t.equal(code, 0, d.output());
  t.match(d.stdout(), /stopping \(SIGINT\)/);
  await waitFor(async () => (await agentsOf(base)).every((a) => a.active_tasks.length === 0), 5000, 'no task left open').catch(() => t.fail('a task is still open after the demo stopped'));
  const agents = await agentsOf(base);
  t.ok(agents.length >= 1 && agents.every((a) => a.id === 'researcher' || a.id === 'coder'), `the two agents: ${agents.map((a) => a.id).join(', ')}`);
  t.equal(agents.reduce((n, a) => n + a.spans, 0), spansMade(d.stdout()), 'every span the demo made was flushed to fleetcol');
});

t.test('fleetcol demo: a bad option is exit 2 with the usage, no fleetcol is exit 1 with what to do', async (t) => {
  const bad = spawnCli(['demo', '--agents', 'many']);
  t.equal(await bad.exited, 2);
  t.match(bad.stderr(), /--agents must be a whole number/);
  t.match(bad.stderr(), /usage: fleetcol demo/);
  const none = spawnCli(['demo', '--endpoint', `http://127.0.0.1:${await freePort()}`, '--no-a2a']);
  t.equal(await none.exited, 1);
  t.match(none.stderr(), /does not answer .* Start fleetcol first \(npm start\)/);
});

const CHROMIUM = '/usr/bin/chromium';
t.test('the dashboard in Chromium shows the demo\'s fleet: its agents within 5 s, then the A2A agent', async (t) => {
  const { existsSync } = await import('node:fs');
  if (!existsSync(CHROMIUM)) {
    if (process.env.CI === 'true') t.fail(`${CHROMIUM} is missing under CI=true (.ci/run installs chromium)`);
    else t.comment(`SKIP: ${CHROMIUM} is missing, so the page cannot be opened (apt-get install -y chromium)`);
    return;
  }
  const { chromium } = await import('playwright-core');
  const { ports, base } = await startDefault(t);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'], timeout: 60_000 });
  t.teardown(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  await page.goto(`${base}/`);
  const started = Date.now();
  const d = demo(ports, ['--duration', '10s', ...(a2aSdk ? [] : ['--no-a2a'])]);
  t.teardown(() => d.stop('SIGKILL'));
  const rows = () => page.locator('tr[data-agent]').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-agent')));
  await waitFor(async () => (await rows()).filter((id) => OTLP_AGENTS.includes(id ?? '')).length === OTLP_AGENTS.length, 5000, 'the demo\'s agents on the page')
    .catch((err: Error) => t.fail(`${err.message}\ndemo output:\n${d.output()}`));
  t.ok(Date.now() - started <= 5500, `the page showed the demo's ${OTLP_AGENTS.length} agents after ${Date.now() - started} ms`);
  if (a2aSdk) {
    await waitFor(async () => (await rows()).includes(A2A_AGENT), 10_000, 'the A2A agent on the page').catch((err: Error) => t.fail(err.message));
    t.ok((await rows()).includes(A2A_AGENT), 'the A2A agent, through the webhook, on the page');
  }
  t.equal(await d.exited, 0, 'the demo stopped by itself');
});
