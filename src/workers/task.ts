// How a task (code that runs in the worker threads) is named. Core tasks are in tasks.ts; a
// component keeps its own task module in its folder (e.g. exporters/prometheusremotewrite/
// translate.ts) and runs it through CreateSettings.workers.run, so the core never imports
// component code. What a task module uses to hand bytes back is in transfer.ts.

import { siblingModule } from './thread.js';

/** A function exported by a task module. */
export interface TaskRef {
  /** The module's URL (file: URL as a string). */
  module: string;
  /** The exported function: (input) => output, synchronous or not. */
  name: string;
}

/**
 * The task `name` of the module `file` (a path relative to the calling module, without extension),
 * with the caller's extension: `.js` once compiled, `.ts` when running from source (tests), where
 * the pool's threads inherit the TypeScript loader.
 */
export function taskRef(callerUrl: string, file: string, name: string): TaskRef {
  return { module: siblingModule(callerUrl, file).href, name };
}
