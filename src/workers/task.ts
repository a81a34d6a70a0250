// What a task module (code that runs in the worker threads) needs from the core: how it is named
// and how it hands bytes back without a copy. Core tasks are in tasks.ts; a component keeps its own
// task module in its folder (e.g. exporters/prometheusremotewrite/translate.ts) and runs it through
// CreateSettings.workers.run, so the core never imports component code.
import { isMainThread } from 'node:worker_threads';
import { move, transferableSymbol, valueSymbol } from 'piscina';

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
  const ext = callerUrl.endsWith('.ts') ? '.ts' : '.js';
  return { module: new URL(`${file}${ext}`, callerUrl).href, name };
}

/** A task's result whose `buffers` move to the calling thread instead of being copied (in a pool
 *  thread), or the result itself (run inline). Each buffer must be the task's own: moving one
 *  detaches it here, and a pooled Buffer's ArrayBuffer is shared with other Buffers. */
export function withTransfer<T extends object>(value: T, buffers: ArrayBuffer[]): T {
  if (isMainThread || buffers.length === 0) return value;
  return move({
    get [transferableSymbol]() {
      return buffers;
    },
    get [valueSymbol]() {
      return value;
    },
  }) as T;
}

/** The bytes as a Uint8Array that is all of an ArrayBuffer of its own, copying only when they are a
 *  view of part of a larger one, so that its buffer can be moved. */
export function ownBuffer(bytes: Uint8Array): Uint8Array {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && !(bytes.buffer instanceof SharedArrayBuffer)) return bytes;
  return new Uint8Array(bytes);
}
