#!/usr/bin/env node
// fleetcol's command line: run (default), validate, components. Exit codes: 0 clean stop,
// 1 runtime failure, 2 invalid config or usage.
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { registry } from './components.js';
import { formatProblems, loadConfig, type LoadResult } from './config/load.js';
import { Service } from './service/service.js';
import { createLogger } from './telemetry/logger.js';
import type { Kind } from './component.js';

const USAGE = `usage:
  fleetcol --config FILE [--config FILE2 ...] [--set key.path=value]   run the daemon
  fleetcol validate --config FILE ...                                   check the config, print every problem
  fleetcol components [--json]                                          list components and their config schema
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

function load(files: string[], sets: string[]): LoadResult {
  return loadConfig({ files, sets, env: process.env, registry });
}

function components(json: boolean): void {
  const kinds: Kind[] = ['receiver', 'processor', 'exporter', 'extension'];
  const out: Record<string, unknown[]> = {};
  for (const k of kinds) {
    out[`${k}s`] = registry.list(k).map((f) => ({
      type: f.type,
      description: f.description,
      ...(f.signals ? { signals: f.signals } : {}),
      default_config: f.createDefaultConfig(),
      schema: f.schema,
    }));
  }
  process.stdout.write(json ? JSON.stringify(out, null, 2) + '\n' : stringify(out));
}

async function run(files: string[], sets: string[]): Promise<void> {
  const first = load(files, sets);
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
    reloading = reloading.then(async () => {
      const next = load(files, sets);
      for (const w of next.warnings) logger.warn({ path: w.path, location: w.location }, w.message);
      if (!next.config) {
        logger.error({ problems: next.errors.map((e) => `${e.location ?? ''} ${e.path}: ${e.message}`.trim()) }, 'SIGHUP: new config is invalid; keeping the running one');
        return;
      }
      logger.info('SIGHUP: reloading config');
      logger.level = next.config.service.telemetry.logs.level;
      if (await service.reload(next.config)) logger.info('config reloaded');
    });
  });
}

async function main(): Promise<void> {
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
    case 'validate': {
      if (files.length === 0) usage('validate needs at least one --config FILE');
      const r = load(files, sets);
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
