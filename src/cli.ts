#!/usr/bin/env -S node --max-semi-space-size=1 --heap-growing-percent=100
// fleetcol's command line: run (default), validate, components, tail, demo. Exit codes: 0 clean stop,
// 1 runtime failure, 2 invalid config or usage. Each command loads only the modules it uses (`tail`
// does not load the pipeline).
// The node flags on the first line (repeated by `npm start` and the Dockerfile; test/launch.test.ts
// keeps them in step): first, a 1 MiB semi-space. V8 grows the young generation to 16 MiB under load,
// but fleetcol's young objects are few and short-lived (the data is in ArrayBuffers outside the
// JS heap), so the big nursery only held RSS: at the testbed load (10k spans/s) peak RSS went
// 131 -> 97 MiB with the same CPU (bench/otlp-throughput.js --node-arg=--max-semi-space-size=N).
// And an old generation allowed to grow to twice what a full GC leaves. With V8's own factor
// (~1.5 on fleetcol's ~17 MB heap) a full GC ran every 0.8 s at the testbed load although the JS
// heap grew ~1 MB in that time (the request Buffers, outside it, most likely count against the
// room); with 2.0, every 2 s, for ~9 % less CPU at the same RSS (bench/README.md, "heap growing").
import { parseArgs } from 'node:util';
import type { LoadResult } from './config/load.js';
import type { Kind } from './component.js';

const USAGE = `usage:
  fleetcol --config FILE [--config FILE2 ...] [--set key.path=value]   run the daemon
  fleetcol validate --config FILE ...                                   check the config, print every problem
  fleetcol components [--json]                                          list components and their config schema
  fleetcol tail [URL] [--agent ID] [--type T] [--token JWT] [--raw]     follow an SSE feed (fleetcol tail --help)
  fleetcol demo [--agents N] [--endpoint URL] [--duration D] ...        a simulated fleet against a running fleetcol (fleetcol demo --help)
`;

export const EXIT_OK = 0;
export const EXIT_RUNTIME = 1;
export const EXIT_USAGE = 2;

function usage(message: string): never {
  process.stderr.write(`fleetcol: ${message}\n\n${USAGE}`);
  process.exit(EXIT_USAGE);
}

function parse(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string', multiple: true, short: 'c' },
        set: { type: 'string', multiple: true },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
      },
    });
  } catch (err) {
    usage((err as Error).message);
  }
}

async function load(files: string[], sets: string[]): Promise<LoadResult> {
  const [{ registry }, { loadConfig }] = await Promise.all([import('./components.js'), import('./config/load.js')]);
  return loadConfig({ files, sets, env: process.env, registry });
}

async function components(json: boolean): Promise<void> {
  const [{ registry }, { stringify }] = await Promise.all([import('./components.js'), import('yaml')]);
  const kinds: Kind[] = ['receiver', 'processor', 'exporter', 'connector', 'extension'];
  const out: Record<string, unknown[]> = {};
  for (const k of kinds) {
    out[`${k}s`] = registry.list(k).map((f) => ({
      type: f.type,
      description: f.description,
      ...(f.signals ? { signals: f.signals } : {}),
      ...(f.connects ? { connects: f.connects.map(([a, b]) => `${a} -> ${b}`) } : {}),
      default_config: f.createDefaultConfig(),
      schema: f.schema,
    }));
  }
  process.stdout.write(json ? JSON.stringify(out, null, 2) + '\n' : stringify(out));
}

async function run(files: string[], sets: string[]): Promise<void> {
  const [{ formatProblems }, { Service }, { createLogger }] = await Promise.all([
    import('./config/load.js'),
    import('./service/service.js'),
    import('./telemetry/logger.js'),
  ]);
  const first = await load(files, sets);
  const boot = createLogger(first.config?.service.telemetry.logs.level ?? 'info', first.config?.service.telemetry.logs.encoding ?? 'auto');
  for (const w of first.warnings) boot.warn({ path: w.path, location: w.location }, w.message);
  if (!first.config) {
    process.stderr.write(`fleetcol: invalid configuration (${first.errors.length} problem${first.errors.length === 1 ? '' : 's'}):\n${formatProblems(first.errors)}\n`);
    process.exit(EXIT_USAGE);
  }
  const logger = boot;
  const service = new Service(first.config, logger);
  try {
    await service.start();
  } catch (err) {
    logger.fatal({ err: (err as Error).message }, 'failed to start');
    await service.shutdown().catch(() => {});
    logger.flush?.();
    process.exit(EXIT_RUNTIME);
  }

  let stopping = false;
  let reloading: Promise<void> = Promise.resolve();
  const stop = (sig: string) => {
    if (stopping) {
      logger.warn(`second ${sig}: exiting without draining`);
      process.exit(EXIT_RUNTIME);
    }
    stopping = true;
    logger.info({ signal: sig }, 'stopping: draining pipelines');
    reloading
      .then(() => service.shutdown())
      .then(
        () => {
          logger.info('stopped');
          logger.flush?.();
          setImmediate(() => process.exit(EXIT_OK));
        },
        (err) => {
          logger.error({ err: (err as Error).message }, 'error while stopping');
          process.exit(EXIT_RUNTIME);
        },
      );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    if (stopping) return;
    // Whatever goes wrong in a reload, the running pipeline keeps serving and the daemon lives.
    reloading = reloading.then(async () => {
      const next = await load(files, sets);
      for (const w of next.warnings) logger.warn({ path: w.path, location: w.location }, w.message);
      if (!next.config) {
        logger.error({ problems: next.errors.map((e) => `${e.location ?? ''} ${e.path}: ${e.message}`.trim()) }, 'SIGHUP: new config is invalid; keeping the running one');
        return;
      }
      logger.info('SIGHUP: reloading config');
      logger.level = next.config.service.telemetry.logs.level;
      if (await service.reload(next.config)) logger.info('config reloaded');
    }).catch((err: unknown) => logger.error({ err: (err as Error).message }, 'SIGHUP: reload failed; keeping the running config'));
  });
}

/** `fleetcol tail ...`: its own options, parsed here; the command lives in tail/tail.ts. */
async function tailCommand(argv: string[]): Promise<never> {
  const { TAIL_USAGE, TailUsageError, feedUrl, looksLikeToken, tail } = await import('./tail/tail.js');
  const fail = (message: string): never => {
    process.stderr.write(`fleetcol tail: ${message}\n\n${TAIL_USAGE}`);
    process.exit(EXIT_USAGE);
  };
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        agent: { type: 'string', multiple: true },
        type: { type: 'string', multiple: true },
        token: { type: 'string' },
        raw: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    return fail((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(TAIL_USAGE);
    process.exit(EXIT_OK);
  }
  if (positionals.length > 1) fail(`unexpected argument ${looksLikeToken(positionals[1]!) ? '(a token? give it with --token)' : `"${positionals[1]}"`} (one URL at most)`);
  if (values.token === '') fail('--token needs a value');
  let url: URL;
  try {
    url = feedUrl({ url: positionals[0], agents: values.agent, types: values.type });
  } catch (err) {
    if (err instanceof TailUsageError) return fail(err.message);
    throw err;
  }
  process.exit(await tail(url, { token: values.token, raw: values.raw === true }));
}

/** `fleetcol demo ...`: its own options, parsed here; the command lives in demo/demo.ts. */
async function demoCommand(argv: string[]): Promise<never> {
  const { DEMO_USAGE, DemoUsageError, demo, demoOptions } = await import('./demo/demo.js');
  const fail = (message: string): never => {
    process.stderr.write(`fleetcol demo: ${message}\n\n${DEMO_USAGE}`);
    process.exit(EXIT_USAGE);
  };
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        agents: { type: 'string' },
        endpoint: { type: 'string' },
        protocol: { type: 'string' },
        rate: { type: 'string' },
        duration: { type: 'string' },
        webhook: { type: 'string' },
        'webhook-token': { type: 'string' },
        'no-a2a': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    return fail((err as Error).message);
  }
  if (values.help) {
    process.stdout.write(DEMO_USAGE);
    process.exit(EXIT_OK);
  }
  let options;
  try {
    options = demoOptions(values);
  } catch (err) {
    if (err instanceof DemoUsageError) return fail(err.message);
    throw err;
  }
  process.exit(await demo(options));
}

async function main(): Promise<void> {
  if (process.argv[2] === 'tail') return tailCommand(process.argv.slice(3));
  if (process.argv[2] === 'demo') return demoCommand(process.argv.slice(3));
  const { values, positionals } = parse(process.argv.slice(2));
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  if (values.version) {
    const { createRequire } = await import('node:module');
    const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };
    process.stdout.write(`fleetcol ${pkg.version}\n`);
    return;
  }
  const command = positionals[0] ?? 'run';
  if (positionals.length > 1) usage(`unexpected argument "${positionals[1]}"`);
  const files = values.config ?? [];
  const sets = values.set ?? [];
  switch (command) {
    case 'components':
      return components(values.json === true);
    case 'tail':
      usage('tail takes its options after it: fleetcol tail [URL] [--agent ID] [--type T] [--token JWT] [--raw]');
      break;
    case 'demo':
      usage('demo takes its options after it: fleetcol demo [--agents N] [--endpoint URL] [--duration D] (fleetcol demo --help)');
      break;
    case 'validate': {
      if (files.length === 0) usage('validate needs at least one --config FILE');
      const r = await load(files, sets);
      const { formatProblems } = await import('./config/load.js');
      if (r.warnings.length) process.stderr.write(`warnings:\n${formatProblems(r.warnings)}\n`);
      if (!r.config) {
        process.stderr.write(`invalid configuration (${r.errors.length} problem${r.errors.length === 1 ? '' : 's'}):\n${formatProblems(r.errors)}\n`);
        process.exit(EXIT_USAGE);
      }
      process.stdout.write(`configuration is valid: ${r.config.service.pipelines.map((p) => p.id).join(', ')}\n`);
      return;
    }
    case 'run':
      if (files.length === 0) usage('--config FILE is required');
      return run(files, sets);
    default:
      usage(`unknown command "${command}"`);
  }
}

process.on('uncaughtException', (err) => {
  process.stderr.write(`fleetcol: fatal: ${err.stack ?? err}\n`);
  process.exit(EXIT_RUNTIME);
});

await main();
