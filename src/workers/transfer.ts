// What a task module uses to hand bytes back to the calling thread without a copy. Imported by task
// modules only: it loads piscina, which the main thread loads only once it starts its pool.
import { isMainThread } from 'node:worker_threads';
import { move, transferableSymbol, valueSymbol } from 'piscina';

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
