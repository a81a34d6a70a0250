// What every benchmark driver needs from its command line and checkout: option checks, the exact
// command for the report, and the commit measured.
import { execFileSync } from 'node:child_process';
import { relative } from 'node:path';

/** A checker for positive numeric options that prints `usage` and exits 2 on a bad value. */
export function positiveOption(usage: string) {
  return (name: string, v: string | undefined, integer = true): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
      process.stderr.write(`--${name} must be a positive ${integer ? 'integer' : 'number'}, got "${v}"\n\n${usage}`);
      process.exit(2);
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
