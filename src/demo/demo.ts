// `fleetcol demo`: a simulated fleet against a running fleetcol, so a first run has something to
// show. Agents (agents.ts) send GenAI spans and A2A task records over OTLP through the OpenTelemetry
// SDK; where fleetcol's A2A webhook answers and @a2a-js/sdk is installed, an A2A agent (a2a.ts)
// streams tasks and pushes their updates to it. Runs until Ctrl-C, SIGTERM or --duration; then the
// tasks under way finish at once, the SDKs flush, and it exits 0. It exits 1 when fleetcol's OTLP
// receiver cannot be reached or took nothing, 2 on a bad option.
import net from 'node:net';
import { OTLPLogExporter as GrpcLogExporter } from '@opentelemetry/exporter-logs-otlp-grpc';
import { OTLPLogExporter as ProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPTraceExporter as GrpcTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as ProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { parseDuration } from '../config/units.js';
import { DemoStats, PROFILES, SimAgent, type ExporterFactory } from './agents.js';
import { Pace, pick } from './pace.js';
import type { A2aDemo } from './a2a.js';

export const DEFAULT_ENDPOINT = 'http://127.0.0.1:4318';
export const DEFAULT_WEBHOOK = 'http://127.0.0.1:4320/';
const MAX_AGENTS = 1000;
/** Tasks an agent runs at once at most; a start that finds its agent this busy is skipped. */
const MAX_TASKS_PER_AGENT = 3;
/** How long the SDKs may take to send what they hold when the demo stops. */
const FLUSH_TIMEOUT_MS = 10_000;
const SUMMARY_EVERY_MS = 10_000;

export const DEMO_USAGE = `usage: fleetcol demo [--agents N] [--endpoint URL] [--protocol P] [--rate R] [--duration D]
                    [--webhook URL] [--webhook-token T] [--no-a2a]
Runs a simulated fleet against a running fleetcol: agents sending GenAI spans (invoke_agent, chat,
execute_tool; tokens, an occasional failure, a slow tool) and A2A task records over OTLP, and an
A2A agent (@a2a-js/sdk) pushing its task updates to fleetcol's A2A webhook.
  --agents N         simulated agents (default 6, at most ${MAX_AGENTS})
  --endpoint URL     fleetcol's OTLP receiver (default ${DEFAULT_ENDPOINT}; gRPC: http://127.0.0.1:4317)
  --protocol P       http/protobuf or grpc (default: grpc for port 4317, else http/protobuf)
  --rate R           tasks started per second across the fleet (default: one per agent every 6s)
  --duration D       stop after this long (30s, 5m; default: until Ctrl-C)
  --webhook URL      the a2a receiver's webhook (default ${DEFAULT_WEBHOOK})
  --webhook-token T  the webhook's token, if it has one (default: the A2A_PUSH_TOKEN environment variable)
  --no-a2a           no A2A agent
Watch it on fleetcol's dashboard: its URL is in fleetcol's log (http://127.0.0.1:4319/ with the
default config). Exit codes: 0 when stopped (Ctrl-C, --duration), 1 when fleetcol cannot be
reached or took nothing, 2 on a bad option.
`;

export class DemoUsageError extends Error {}

export interface DemoOptions {
  agents: number;
  endpoint: URL;
  protocol: 'http/protobuf' | 'grpc';
  /** tasks per second */
  rate: number;
  durationMs: number | undefined;
  /** undefined: no A2A agent */
  webhook: URL | undefined;
  webhookToken: string | undefined;
}

export interface DemoArgs {
  agents?: string;
  endpoint?: string;
  protocol?: string;
  rate?: string;
  duration?: string;
  webhook?: string;
  'webhook-token'?: string;
  'no-a2a'?: boolean;
}

function httpUrl(text: string, what: string): URL {
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`);
  } catch {
    throw new DemoUsageError(`${what}: not a URL: "${text.slice(0, 256)}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new DemoUsageError(`${what} must be http:// or https://, not ${url.protocol}//`);
  return url;
}

/** The options from the command line (and A2A_PUSH_TOKEN); DemoUsageError says what is wrong. */
export function demoOptions(a: DemoArgs, env: NodeJS.ProcessEnv = process.env): DemoOptions {
  const agents = a.agents === undefined ? 6 : Number(a.agents);
  if (!Number.isInteger(agents) || agents < 1 || agents > MAX_AGENTS) throw new DemoUsageError(`--agents must be a whole number from 1 to ${MAX_AGENTS}`);
  const endpoint = httpUrl(a.endpoint ?? DEFAULT_ENDPOINT, '--endpoint');
  const protocol = a.protocol ?? (endpoint.port === '4317' ? 'grpc' : 'http/protobuf');
  if (protocol !== 'grpc' && protocol !== 'http/protobuf') throw new DemoUsageError('--protocol must be http/protobuf or grpc');
  const rate = a.rate === undefined ? agents / 6 : Number(a.rate);
  if (!Number.isFinite(rate) || rate <= 0 || rate > 10_000) throw new DemoUsageError('--rate must be a number of tasks per second above 0 (at most 10000)');
  let durationMs: number | undefined;
  if (a.duration !== undefined) {
    durationMs = parseDuration(a.duration);
    if (durationMs === undefined || durationMs <= 0) throw new DemoUsageError(`--duration: "${a.duration.slice(0, 64)}" is not a duration (30s, 5m, 1h)`);
  }
  if (a['no-a2a'] && (a.webhook !== undefined || a['webhook-token'] !== undefined)) throw new DemoUsageError('--no-a2a and --webhook/--webhook-token do not go together');
  const webhook = a['no-a2a'] ? undefined : httpUrl(a.webhook ?? DEFAULT_WEBHOOK, '--webhook');
  return { agents, endpoint, protocol, rate, durationMs, webhook, webhookToken: a['webhook-token'] ?? (env.A2A_PUSH_TOKEN || undefined) };
}

/** Whether something accepts TCP connections at the URL's host and port; the error code if not. */
function reach(url: URL, timeoutMs = 3000): Promise<string | undefined> {
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const done = (problem: string | undefined) => {
      s.destroy();
      resolve(problem);
    };
    s.setTimeout(timeoutMs, () => done('no answer'));
    s.once('connect', () => done(undefined));
    s.once('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
  });
}

function exporters(o: DemoOptions): ExporterFactory {
  const base = o.endpoint.toString().replace(/\/+$/, '');
  const timeoutMillis = 5000;
  if (o.protocol === 'grpc') {
    return { traces: () => new GrpcTraceExporter({ url: base, timeoutMillis }), logs: () => new GrpcLogExporter({ url: base, timeoutMillis }) };
  }
  return {
    traces: () => new ProtoTraceExporter({ url: `${base}/v1/traces`, timeoutMillis }),
    logs: () => new ProtoLogExporter({ url: `${base}/v1/logs`, timeoutMillis }),
  };
}

/** The A2A agent, or why there is none. */
async function startA2a(o: DemoOptions, pace: Pace): Promise<A2aDemo | string> {
  const webhook = o.webhook!;
  const problem = await reach(webhook);
  if (problem) return `no A2A webhook answers at ${webhook.host} (${problem}), so no A2A agent: fleetcol's default config has one (receivers.a2a.webhook); --no-a2a silences this`;
  let mod: typeof import('./a2a.js');
  try {
    mod = await import('./a2a.js');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code !== 'ERR_MODULE_NOT_FOUND') throw err;
    return `no A2A agent: it needs @a2a-js/sdk and express, development dependencies that \`npm ci\` installs (${e.message.split('\n')[0]})`;
  }
  return mod.startA2aDemo(webhook, o.webhookToken, pace);
}

const count = (n: number) => n.toLocaleString('en-US');
const plural = (n: number, one: string, many = `${one}s`) => `${count(n)} ${n === 1 ? one : many}`;

function summary(agents: SimAgent[], stats: DemoStats, a2a: A2aDemo | undefined): string {
  const running = agents.reduce((n, a) => n + a.running, 0);
  let line = `${new Date().toTimeString().slice(0, 8)}  ${plural(agents.length, 'agent')}: ${plural(stats.tasks, 'task')} (${count(stats.failed)} failed, ${running} under way), ` +
    `${plural(stats.modelCalls, 'model call')}, ${plural(stats.toolCalls, 'tool call')}, ${plural(stats.tokens, 'token')}`;
  if (a2a) line += `; ${plural(a2a.stats.tasks, 'A2A task')} (${a2a.stats.failed} failed), ${plural(a2a.stats.pushes, 'update')} pushed`;
  if (stats.exportErrors > 0) {
    // The OTLP/gRPC port answers HTTP/1.1 with 505.
    const hint = /HTTP Version Not Supported/i.test(stats.lastExportError ?? '') ? ' (a gRPC port? give --protocol grpc)' : '';
    line += `\n  ${plural(stats.exportErrors, 'OTLP export')} failed, the last: ${stats.lastExportError}${hint}`;
  }
  if (a2a && (a2a.stats.pushErrors > 0 || a2a.stats.lastError)) line += `\n  ${plural(a2a.stats.pushErrors, 'A2A notification')} failed, the last: ${a2a.stats.lastError}`;
  return line + '\n';
}

function listOf(agents: SimAgent[]): string {
  const names = agents.slice(0, 6).map((a) => a.id).join(', ');
  return agents.length > 6 ? `${names} and ${agents.length - 6} more` : names;
}

export async function demo(o: DemoOptions, out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  const problem = await reach(o.endpoint);
  if (problem) {
    err.write(`fleetcol demo: fleetcol's OTLP receiver does not answer at ${o.endpoint.host} (${problem}). Start fleetcol first (npm start), or give its address with --endpoint.\n`);
    return 1;
  }
  const pace = new Pace();
  const stats = new DemoStats();
  const factory = exporters(o);
  const agents = Array.from({ length: o.agents }, (_, i) => new SimAgent(PROFILES[i % PROFILES.length]!, Math.floor(i / PROFILES.length) + 1, factory, pace, stats));
  let onSignal: (sig: NodeJS.Signals) => void = () => {};
  const stopped = new Promise<string>((resolve) => {
    onSignal = resolve;
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    if (o.durationMs !== undefined) setTimeout(() => resolve(`after ${o.durationMs! / 1000}s`), o.durationMs).unref();
  });
  out.write(`fleetcol demo: ${plural(o.agents, 'agent')} (${listOf(agents)}) sending to ${o.endpoint.toString().replace(/\/$/, '')} over ${o.protocol === 'grpc' ? 'OTLP/gRPC' : 'OTLP/HTTP'}, about ${plural(Number(o.rate.toPrecision(3)), 'task')} a second\n`);

  const tasks = new Set<Promise<void>>();
  const start = (a: SimAgent) => {
    const p = a.runTask().catch((e: unknown) => void err.write(`fleetcol demo: a task of ${a.id} broke: ${(e as Error).message}\n`));
    tasks.add(p);
    void p.finally(() => tasks.delete(p));
  };
  // Every agent starts a task within half a second, so the whole fleet is on the dashboard at once.
  const first = agents.map(async (a) => {
    await pace.wait(Math.random() * 500);
    if (!pace.stopping) start(a);
  });
  const schedule = (async () => {
    await Promise.all(first);
    while (!pace.stopping) {
      await pace.wait(-Math.log(1 - Math.random()) * (1000 / o.rate)); // a Poisson process of task starts
      if (pace.stopping) break;
      const a = pick(agents);
      if (a.running < MAX_TASKS_PER_AGENT) start(a);
    }
  })();

  // The A2A agent comes up while the fleet is already sending (loading its SDK takes a moment).
  const a2a = o.webhook ? await startA2a(o, pace).catch((e: Error) => `the A2A agent did not start: ${e.message}`) : undefined;
  const a2aAgent = typeof a2a === 'string' ? undefined : a2a;
  if (typeof a2a === 'string') err.write(`fleetcol demo: ${a2a}\n`);
  else if (a2a) out.write(`  and an A2A agent, trip-planner (@a2a-js/sdk at ${a2a.url}), pushing its task updates to ${o.webhook!.toString()}\n`);
  out.write(`Watch them on fleetcol's dashboard (http://127.0.0.1:4319/ with the default config). ${o.durationMs === undefined ? 'Ctrl-C stops.' : `Stops after ${o.durationMs / 1000}s.`}\n`);

  const ticker = setInterval(() => out.write(summary(agents, stats, a2aAgent)), SUMMARY_EVERY_MS);
  const why = await stopped;
  clearInterval(ticker);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  const second = () => {
    err.write('fleetcol demo: stopping without flushing\n');
    process.exit(1);
  };
  process.once('SIGINT', second);
  process.once('SIGTERM', second);
  out.write(`fleetcol demo: stopping (${why}): finishing ${plural(tasks.size, 'task')} under way, flushing\n`);

  pace.stop();
  await schedule;
  await Promise.all(tasks);
  let timer: NodeJS.Timeout | undefined;
  const flushed = await Promise.race([
    Promise.all([a2aAgent?.stop(), ...agents.map((a) => a.shutdown())]).then(() => true, (e: unknown) => {
      stats.exportErrors++;
      stats.lastExportError = (e as Error).message;
      return true;
    }),
    new Promise<false>((r) => (timer = setTimeout(() => r(false), FLUSH_TIMEOUT_MS))),
  ]);
  clearTimeout(timer);
  process.off('SIGINT', second);
  process.off('SIGTERM', second);
  out.write(summary(agents, stats, a2aAgent));
  if (!flushed) err.write(`fleetcol demo: the SDKs did not finish sending within ${FLUSH_TIMEOUT_MS / 1000}s; the rest is dropped\n`);
  if (stats.exports === 0 && stats.exportErrors > 0) {
    err.write('fleetcol demo: fleetcol took none of it\n');
    return 1;
  }
  return 0;
}
