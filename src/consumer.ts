// The one contract between pipeline stages. After `consume` is called the batch belongs to the
// callee. A rejection is retryable unless it is a PermanentError; a retryable rejection may carry a
// delay (throttling) that receivers pass on as RetryInfo / Retry-After.
import type { Telemetry } from './pdata/telemetry.js';

export interface Consumer {
  consume(batch: Telemetry): Promise<void>;
  /** True if consume() changes the batch; fan-out then hands this consumer its own copy. */
  readonly mutatesData: boolean;
  /** True if a resolved consume() means the items survive a crash of fleetcol: they are in a
   *  persistent sending queue. Stages that hold items (batch) make
   *  their callers wait before answering when the next stage is durable, and a fan-out refuses
   *  when a durable branch refused (README: "What an OK means"). Absent: false. */
  readonly durable?: boolean;
}

/** Not worth retrying: the data is bad, or the backend will never take it. */
export class PermanentError extends Error {
  override readonly name = 'PermanentError';
  /** How many items of the batch were rejected, when only part of it was. */
  readonly rejected: number | undefined;
  constructor(message: string, opts: { rejected?: number; cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.rejected = opts.rejected;
  }
}

/** Try again later: a queue is full, memory is short, the backend is down. */
export class RetryableError extends Error {
  override readonly name = 'RetryableError';
  /** How long the sender should wait before retrying, in ms, if the refuser knows. */
  readonly retryAfterMs: number | undefined;
  /** How many items of the batch were refused, when only part of it was. */
  readonly rejected: number | undefined;
  constructor(message: string, opts: { retryAfterMs?: number; rejected?: number; cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.retryAfterMs = opts.retryAfterMs;
    this.rejected = opts.rejected;
  }
}

export function isPermanent(err: unknown): err is PermanentError {
  return err instanceof PermanentError;
}

/** Wraps a function as a consumer; used by tests and by the graph's fan-out. */
export function consumerOf(fn: (batch: Telemetry) => Promise<void>, mutatesData = false): Consumer {
  return { consume: fn, mutatesData };
}
