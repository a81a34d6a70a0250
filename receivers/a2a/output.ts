// Handing records and spans to the next consumers. `offer` tries once and lets the caller answer
// (the webhook: 2xx only after the pipeline accepted, 503 + Retry-After when it refused);
// `deliver` retries a refusal with backoff until it is taken or the receiver stops (SSE streams:
// the stream is not read meanwhile, so the agent's TCP window carries the back-pressure).
import { PermanentError, RetryableError, type Consumer } from '../../src/consumer.js';
import type { CreateSettings } from '../../src/component.js';
import { Telemetry, type LogRecord, type Signal, type Span } from '../../src/pdata/telemetry.js';
import type { BoundCounter } from '../../src/telemetry/metrics.js';
import { backoffDelay } from './limits.js';
import { resourceOf, type AgentRef, type Output } from './records.js';

const SCOPE = { name: 'fleetcol/receiver/a2a', version: '', attributes: [], droppedAttributesCount: 0 };

export class Pipeline {
  private readonly accepted: Record<'logs' | 'traces', BoundCounter>;
  private readonly refused: Record<'logs' | 'traces', BoundCounter>;

  constructor(
    set: CreateSettings,
    private readonly next: Partial<Record<Signal, Consumer>>,
    private readonly retry: { initial: number; max: number },
  ) {
    this.accepted = {
      logs: set.metrics.counter('receiver_accepted_log_records', 'Number of log records successfully pushed into the pipeline.', { transport: 'a2a' }),
      traces: set.metrics.counter('receiver_accepted_spans', 'Number of spans successfully pushed into the pipeline.', { transport: 'a2a' }),
    };
    this.refused = {
      logs: set.metrics.counter('receiver_refused_log_records', 'Number of log records that could not be pushed into the pipeline.', { transport: 'a2a' }),
      traces: set.metrics.counter('receiver_refused_spans', 'Number of spans that could not be pushed into the pipeline.', { transport: 'a2a' }),
    };
  }

  /** One try; throws the pipeline's error (RetryableError / PermanentError). */
  async offer(agent: AgentRef, out: Output): Promise<void> {
    // Spans first: a refused span batch is retried with its records, and records alone would be
    // re-sent as duplicates. A task's span is made once, so it goes in together with its records.
    if (out.spans.length > 0 && this.next.traces) await this.push('traces', agent, out.spans);
    if (out.records.length > 0 && this.next.logs) await this.push('logs', agent, out.records);
  }

  /** Retries refusals until accepted or `stop` fires; permanent refusals are dropped (counted). */
  async deliver(agent: AgentRef, out: Output, stop: AbortSignal): Promise<void> {
    let pending: Output = out;
    for (let attempt = 0; !stop.aborted; attempt++) {
      try {
        if (pending.spans.length > 0 && this.next.traces) {
          await this.push('traces', agent, pending.spans);
          pending = { records: pending.records, spans: [] };
        }
        if (pending.records.length > 0 && this.next.logs) await this.push('logs', agent, pending.records);
        return;
      } catch (err) {
        if (err instanceof PermanentError) return;
        const hint = err instanceof RetryableError ? err.retryAfterMs : undefined;
        await sleep(Math.max(hint ?? 0, backoffDelay(attempt, this.retry.initial, this.retry.max)), stop);
      }
    }
  }

  private async push(signal: 'logs' | 'traces', agent: AgentRef, items: LogRecord[] | Span[]): Promise<void> {
    const next = this.next[signal]!;
    const resource = { attributes: resourceOf(agent), droppedAttributesCount: 0 };
    // A fresh tree every try: consume() owns what it was given.
    const batch = signal === 'logs'
      ? Telemetry.fromRequest('logs', { resourceLogs: [{ resource, schemaUrl: '', scopeLogs: [{ scope: SCOPE, schemaUrl: '', logRecords: structuredClone(items as LogRecord[]) }] }] })
      : Telemetry.fromRequest('traces', { resourceSpans: [{ resource, schemaUrl: '', scopeSpans: [{ scope: SCOPE, schemaUrl: '', spans: structuredClone(items as Span[]) }] }] });
    try {
      await next.consume(batch);
      this.accepted[signal].inc(items.length);
    } catch (err) {
      this.refused[signal].inc(items.length);
      throw err;
    }
  }
}

/** Resolves after `ms`, or at once when `stop` fires. */
export function sleep(ms: number, stop: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (stop.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      stop.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    stop.addEventListener('abort', done, { once: true });
  });
}
