// What both transports do with a decoded request: hand it to the pipeline, count it, and turn the
// pipeline's answer into one outcome the transport maps onto its own status codes.
import { PermanentError, RetryableError, type Consumer } from '../../src/consumer.js';
import type { CreateSettings } from '../../src/component.js';
import type { Signal, Telemetry } from '../../src/pdata/telemetry.js';
import { ITEM_NAME, type BoundCounter } from '../../src/telemetry/metrics.js';
import { inlineDecoder, type Body, type Decoder, type Format } from '../../src/workers/pool.js';

export type Outcome =
  | { kind: 'ok'; rejected: number; message: string }
  | { kind: 'retry'; message: string; retryAfterMs: number }
  | { kind: 'invalid'; message: string }
  | { kind: 'unimplemented'; message: string };

/** Default delay suggested to clients when the refuser gave none. */
const DEFAULT_RETRY_MS = 1000;

export class Ingest {
  private readonly accepted: BoundCounter;
  private readonly refused: BoundCounter;
  /** Requests that could not be decoded (counted by the transports, which see the error). */
  readonly malformed: BoundCounter;
  private readonly decoder: Decoder;

  constructor(
    set: CreateSettings,
    readonly signal: Signal,
    private readonly next: Consumer | undefined,
    transport: string,
  ) {
    const item = ITEM_NAME[signal];
    this.accepted = set.metrics.counter(`receiver_accepted_${item}`, `Number of ${item} successfully pushed into the pipeline.`, { transport });
    this.refused = set.metrics.counter(`receiver_refused_${item}`, `Number of ${item} that could not be pushed into the pipeline.`, { transport });
    this.malformed = set.metrics.counter('receiver_malformed_requests', 'Requests refused as malformed (INVALID_ARGUMENT / 400): bad protobuf or JSON, invalid UTF-8, ids of the wrong length, nesting past 128 levels.', { transport, signal });
    this.decoder = set.workers ?? inlineDecoder;
  }

  /** The request body as a batch, decoded inline or on a worker thread (service.workers). Throws
   *  DecodeError when malformed, RetryableError when the worker pool is saturated. `owned`: the
   *  body's memory may be moved to a thread; the caller must not read it afterwards. */
  decode(format: Format, body: Body, owned = false): Promise<Telemetry> {
    return this.decoder.decode(this.signal, format, body, owned);
  }

  get enabled(): boolean {
    return this.next !== undefined;
  }

  async push(batch: Telemetry): Promise<Outcome> {
    const n = batch.itemCount;
    if (!this.next) return { kind: 'unimplemented', message: `no ${this.signal} pipeline uses this receiver` };
    if (n === 0) return { kind: 'ok', rejected: 0, message: '' };
    try {
      await this.next.consume(batch);
      this.accepted.inc(n);
      return { kind: 'ok', rejected: 0, message: '' };
    } catch (err) {
      const e = err as Error;
      const rejected = err instanceof PermanentError || err instanceof RetryableError ? err.rejected : undefined;
      if (rejected !== undefined && rejected < n) {
        // Part of the batch went in: answer OK with partial success, as OTLP asks.
        this.accepted.inc(n - rejected);
        this.refused.inc(rejected);
        return { kind: 'ok', rejected, message: e.message };
      }
      this.refused.inc(n);
      if (err instanceof PermanentError) return { kind: 'invalid', message: e.message };
      const retryAfterMs = err instanceof RetryableError && err.retryAfterMs !== undefined ? err.retryAfterMs : DEFAULT_RETRY_MS;
      return { kind: 'retry', message: e.message || 'pipeline refused the data', retryAfterMs };
    }
  }
}
