// A worker thread of a component's own (one long-lived thread, not a pool task), with a young
// generation of its own size.
import v8 from 'node:v8';
import { Worker } from 'node:worker_threads';

/**
 * fleetcol is launched with --max-semi-space-size=1 (small young generation, low RSS on the main
 * thread), and a V8 flag overrides every isolate's own limits, threads' included. With it, a
 * thread's 1 MiB semi-spaces cannot hold the objects it works on: they are promoted and then
 * marked (bench/workers.ts: ~30 % more CPU per span in the decode pool's threads). Clearing the
 * flag affects isolates created from now on only: the main one keeps the size it started with.
 */
export function letThreadsSizeTheirYoungGeneration(): void {
  v8.setFlagsFromString('--max-semi-space-size=0');
}

/**
 * Starts `module` (a file: URL; `.ts` when running from source, where the thread inherits the
 * TypeScript loader through execArgv) on a thread whose young generation is `youngMiB`. The thread
 * does not keep the process alive.
 */
export function startThread(module: URL, workerData: unknown, youngMiB: number): Worker {
  letThreadsSizeTheirYoungGeneration();
  const w = new Worker(module, { workerData, resourceLimits: { maxYoungGenerationSizeMb: youngMiB } });
  w.unref();
  return w;
}

/** A module next to the caller, with the caller's extension (`.js` compiled, `.ts` from source). */
export function siblingModule(callerUrl: string, file: string): URL {
  return new URL(`${file}${callerUrl.endsWith('.ts') ? '.ts' : '.js'}`, callerUrl);
}
