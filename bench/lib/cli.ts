// What every benchmark driver needs from its command line and checkout: option checks, the exact
// command for the report, the commit measured, the machine, and where the results go.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** Prints `message` and the usage to stderr and exits 2 (the command line is wrong). */
export function usageError(usage: string, message: string): never {
  process.stderr.write(`${message}\n\n${usage}`);
  process.exit(2);
}

/**
 * parseArgs, plus what a driver's command line needs: `--help` (which `config` must declare as a
 * boolean) prints `usage` and exits 0; an unknown option or a missing value exits 2 with it.
 */
export function parseOptions<T extends ParseArgsConfig>(usage: string, config: T): ReturnType<typeof parseArgs<T>>['values'] {
  let values: ReturnType<typeof parseArgs<T>>['values'];
  try {
    values = parseArgs(config).values;
  } catch (err) {
    usageError(usage, (err as Error).message);
  }
  if ((values as { help?: boolean }).help) {
    process.stdout.write(usage);
    process.exit(0);
  }
  return values;
}

/** A checker for positive (or, with `zeroOk`, non-negative) numeric options: a bad value exits 2 with `usage`. */
export function positiveOption(usage: string) {
  return (name: string, v: string | undefined, integer = true, zeroOk = false): number => {
    const n = Number(v);
    if (v === undefined || v.trim() === '' || !Number.isFinite(n) || n < 0 || (n === 0 && !zeroOk) || (integer && !Number.isInteger(n))) {
      usageError(usage, `--${name} must be ${zeroOk ? '0 or ' : ''}a positive ${integer ? 'integer' : 'number'}, got "${v}"`);
    }
    return n;
  };
}

/** The command as typed, for the report. */
export function commandLine(): string {
  return `node ${relative(process.cwd(), process.argv[1]!) || process.argv[1]} ${process.argv.slice(2).join(' ')}`.trim();
}

/** The commit measured, and whether tracked files had uncommitted changes. */
export function checkout(root: string): { commit: string; dirty: boolean } {
  const git = (args: string[]) => {
    try {
      return execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return '';
    }
  };
  return { commit: git(['rev-parse', '--short', 'HEAD']), dirty: git(['status', '--porcelain', '--untracked-files=no']) !== '' };
}

const round2 = (x: number) => Math.round(x * 100) / 100;

/** The 1-minute load average: printed and saved with every run, because the machine is shared. */
export function load1(): number {
  return round2(os.loadavg()[0]!);
}

/** What the figures were measured on, with the load averages at the start. */
export function machineInfo() {
  return {
    nproc: os.availableParallelism(),
    cpu: os.cpus()[0]?.model ?? 'unknown',
    memGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    kernel: `${os.type()} ${os.release()}`,
    loadavgAtStart: os.loadavg().map(round2),
  };
}

/** The JSON results file: `out` if given, else bench/results/<name>-<UTC date>.json; its folder is made. */
export function resultsFile(root: string, name: string, out: string | undefined): string {
  const stamp = new Date().toISOString().replace(/:/g, '').replace(/\.\d+Z$/, 'Z');
  const file = out ? resolve(out) : join(root, 'bench', 'results', `${name}-${stamp}.json`);
  mkdirSync(dirname(file), { recursive: true });
  return file;
}
