// Every child process the benchmark starts is tracked here and killed when the driver exits,
// whatever the reason (normal end, error, SIGINT/SIGTERM).
const live = new Map<number, string>();

export function track(pid: number | undefined, name: string): void {
  if (pid !== undefined) live.set(pid, name);
}

export function untrack(pid: number | undefined): void {
  if (pid !== undefined) live.delete(pid);
}

/** SIGKILL every tracked process still alive (synchronous: safe in an 'exit' handler). */
export function killAll(): string[] {
  const killed: string[] = [];
  for (const [pid, name] of live) {
    try {
      process.kill(pid, 'SIGKILL');
      killed.push(`${name} (${pid})`);
    } catch {
      // already gone
    }
  }
  live.clear();
  return killed;
}

let installed = false;

/** Kill the children on exit, on an uncaught error, and on SIGINT/SIGTERM/SIGHUP. */
export function installCleanup(): void {
  if (installed) return;
  installed = true;
  process.on('exit', () => killAll());
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      const killed = killAll();
      process.stderr.write(`\n${sig}: stopped${killed.length ? `; killed ${killed.join(', ')}` : ''}\n`);
      process.exit(130);
    });
  }
  process.on('uncaughtException', (err) => {
    process.stderr.write(`bench: fatal: ${err.stack ?? err}\n`);
    killAll();
    process.exit(1);
  });
  process.on('unhandledRejection', (err) => {
    process.stderr.write(`bench: unhandled rejection: ${(err as Error)?.stack ?? err}\n`);
    killAll();
    process.exit(1);
  });
}
