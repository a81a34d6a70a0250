// The exporter helper: a stack of small senders, queue → retry → timeout → push. An exporter
// supplies only `push` (one attempt, honouring the abort signal) and its own start/shutdown.
import { SpanStatusCode, trace } from '@opentelemetry/api';
import type { Exporter, CreateSettings, Host } from '../component.js';
import { PermanentError, RetryableError, isPermanent } from '../consumer.js';
import type { Signal, Telemetry } from '../pdata/telemetry.js';
import { ITEM_NAME, type BoundCounter } from '../telemetry/metrics.js';
import { backoffDelay, sleep } from './backoff.js';
import { Batcher } from './batcher.js';
import type { HelperSettings, RetrySettings } from './config.js';
import { MemoryQueue } from './memory_queue.js';
import { BlockingOffer } from './overflow.js';
import type { Queue, QueueEntry, Sizer } from './queue.js';
import { isQueueStorage } from './storage.js';
import { memoryAccounting } from '../memory.js';

export type PushFn = (batch: Telemetry, signal: AbortSignal) => Promise<void>;

export interface ExporterImpl {
  push: PushFn;
  start?(host: Host): Promise<void>;
  shutdown?(): Promise<void>;
}

/** A batch not sent because the exporter is stopping, which a persistent queue keeps. */
class Kept extends Error {}

interface Counters {
  sent: BoundCounter;
  sendFailed: BoundCounter;
  enqueueFailed: BoundCounter;
}

/** The delay suggested to clients refused because the queue is full. */
const QUEUE_FULL_RETRY_MS = 1000;
/** block_on_overflow: how long consume() waits for room when block_timeout is not set. */
export const DEFAULT_BLOCK_TIMEOUT_MS = 1000;

const SIZERS: Record<Sizer, (b: Telemetry) => number> = {
  requests: () => 1,
  items: (b) => b.itemCount,
  bytes: (b) => b.byteSize,
};

/** One attempt with a deadline. A timeout is retryable (DEADLINE_EXCEEDED). */
async function pushWithTimeout(push: PushFn, batch: Telemetry, timeoutMs: number, stop: AbortSignal): Promise<void> {
  // An attempt never starts after the deadline (a push cannot see an abort that already happened).
  if (stop.aborted) throw new RetryableError('exporter is stopping');
  const signals = [stop];
  if (timeoutMs > 0) signals.push(AbortSignal.timeout(timeoutMs));
  const signal = AbortSignal.any(signals);
  try {
    await push(batch, signal);
  } catch (err) {
    // The deadline ended it, whatever status the cancelled call reports (e.g. CANCELLED): say so.
    if (signal.aborted && !stop.aborted && !isPermanent(err)) {
      throw new RetryableError(`export timed out after ${timeoutMs}ms (${(err as Error).message})`, { cause: err });
    }
    throw err;
  }
}

/** Retries retryable failures with jittered backoff, honouring throttle delays. Once
 *  `noMoreRetries` aborts (shutdown), a failed attempt is final, and a batch waiting for its next
 *  attempt gets one last attempt at once rather than being given up unsent. */
export async function sendWithRetry(
  attempt: (b: Telemetry) => Promise<void>,
  batch: Telemetry,
  cfg: RetrySettings,
  noMoreRetries: AbortSignal,
  onRetry: (err: Error, delayMs: number) => void,
): Promise<void> {
  const started = Date.now();
  for (let n = 0; ; n++) {
    try {
      return await attempt(batch);
    } catch (err) {
      if (!cfg.enabled || isPermanent(err) || noMoreRetries.aborted) throw err;
      const throttle = err instanceof RetryableError ? err.retryAfterMs : undefined;
      const delay = throttle ?? backoffDelay(cfg, n);
      if (cfg.max_elapsed_time > 0 && Date.now() - started + delay > cfg.max_elapsed_time) {
        throw new PermanentError(`no more retries after ${Date.now() - started}ms: ${(err as Error).message}`, { cause: err });
      }
      onRetry(err as Error, delay);
      if (!(await sleep(delay, noMoreRetries))) return attempt(batch);
    }
  }
}

export function createExporterHelper(
  set: CreateSettings,
  signals: readonly Signal[],
  cfg: HelperSettings,
  impl: ExporterImpl,
): Exporter {
  const log = set.logger;
  const counters = {} as Record<Signal, Counters>;
  for (const s of signals) {
    const item = ITEM_NAME[s];
    counters[s] = {
      sent: set.metrics.counter(`exporter_sent_${item}`, `Number of ${item} successfully sent to destination.`),
      sendFailed: set.metrics.counter(`exporter_send_failed_${item}`, `Number of ${item} in failed attempts to send to destination.`),
      enqueueFailed: set.metrics.counter(`exporter_enqueue_failed_${item}`, `Number of ${item} failed to be added to the sending queue.`),
    };
  }
  const retries = set.metrics.counter('exporter_retries_total', 'Number of export attempts that will be retried.');
  // Aborted at the shutdown deadline: ends backoff waits and in-flight attempts.
  const stop = new AbortController();
  // Aborted when shutdown begins: retries stop. The queue still drains (each batch gets its
  // attempt, a batch waiting to retry gets one more at once) until the deadline; what is not sent
  // by then is kept by a persistent queue, or dropped and logged with its count.
  const noMoreRetries = new AbortController();
  const retrySignal = AbortSignal.any([stop.signal, noMoreRetries.signal]);
  /** What shutdown could not send (in-memory): counted for its summary log line. */
  const lost = { requests: 0, items: 0 };
  const attempt = (b: Telemetry) => pushWithTimeout(impl.push, b, cfg.timeout, stop.signal);
  const onRetry = (err: Error, delayMs: number) => {
    retries.inc();
    log.warn({ err: err.message, delay_ms: Math.round(delayMs) }, 'export failed, will retry');
  };

  // A no-op tracer unless service.telemetry.traces is configured (one span per batch, not per item).
  const tracer = trace.getTracer('fleetcol');
  /** `keepable`: the batch comes from a persistent queue, which keeps it if the exporter stops
   *  before it is sent (thrown as Kept, neither counted nor logged as dropped). */
  const send = async (batch: Telemetry, keepable = false): Promise<void> => {
    const c = counters[batch.signal];
    const n = batch.itemCount;
    const span = tracer.startSpan(`export ${set.id}`, { attributes: { 'fleetcol.exporter': set.id, 'fleetcol.signal': batch.signal, 'fleetcol.items': n } });
    try {
      await sendWithRetry(attempt, batch, cfg.retry_on_failure, retrySignal, onRetry);
      c.sent.inc(n);
    } catch (err) {
      if (keepable && retrySignal.aborted && !isPermanent(err)) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: 'not sent before shutdown; kept in the persistent queue' });
        throw new Kept('kept for the next start', { cause: err });
      }
      // Refused in part (the backend took the rest): only the refused items are failed.
      const failed = isPermanent(err) && err.rejected !== undefined && err.rejected > 0 && err.rejected < n ? err.rejected : n;
      if (failed < n) c.sent.inc(n - failed);
      c.sendFailed.inc(failed);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      if (noMoreRetries.signal.aborted) {
        lost.requests++;
        lost.items += failed;
      }
      log.error({ err: (err as Error).message, items: failed, dropped: true }, `export failed, dropping ${failed} ${ITEM_NAME[batch.signal]}`);
      throw err;
    } finally {
      span.end();
    }
  };

  if (!cfg.sending_queue.enabled) {
    return {
      mutatesData: false,
      // consume() resolves once the backend took the batch, after retries: not "durable" in the
      // Consumer sense, or a batch processor's callers would wait through every retry.
      consume: send,
      start: async (host) => impl.start?.(host),
      shutdown: async () => {
        stop.abort();
        await impl.shutdown?.();
        set.metrics.dispose();
      },
    };
  }

  const qcfg = cfg.sending_queue;
  const sizeOf = SIZERS[qcfg.sizer];
  // In memory now; with `storage`, the storage extension's persistent queue, opened in start().
  let queue: Queue<Telemetry> | undefined = qcfg.storage === undefined ? new MemoryQueue<Telemetry>(qcfg.queue_size) : undefined;
  let blocking: BlockingOffer<Telemetry> | undefined;
  const blockTimeout = qcfg.block_timeout ?? DEFAULT_BLOCK_TIMEOUT_MS;
  set.metrics.gauge('exporter_queue_size', 'Current size of the sending queue.', () => queue?.size ?? 0);
  set.metrics.gauge('exporter_queue_capacity', 'Capacity of the sending queue.', () => queue?.capacity ?? qcfg.queue_size);
  // Bytes of batches this exporter holds in memory: queued (in-memory queue), in flight, or
  // waiting for room (block_on_overflow). A persistent queue's waiting batches are on disk.
  let heldBytes = 0;
  set.metrics.gauge('exporter_queue_bytes', 'Bytes of batches the exporter holds in memory: queued, in flight or waiting for room.', () => heldBytes);
  const unregisterMemory = memoryAccounting.register('exporter', set.id, () => heldBytes);
  const blocked = qcfg.block_on_overflow
    ? {
        accepted: set.metrics.counter('exporter_queue_blocked_total', 'Requests that found the sending queue full and waited for room (block_on_overflow), by outcome.', { outcome: 'accepted' }),
        refused: set.metrics.counter('exporter_queue_blocked_total', '', { outcome: 'refused' }),
      }
    : undefined;
  const consumers: Promise<void>[] = [];

  const taken = (q: Queue<Telemetry>, entry: QueueEntry<Telemetry>) => {
    if (q.persistent) heldBytes += entry.item.byteSize; // read back from disk (or handed over) into memory
  };
  /** Sends a batch made of queue entries (one, or several with sending_queue.batch), then
   *  acknowledges them to the queue: done once sent or dropped for good, released (kept for the
   *  next start) when the exporter stopped first. Never rejects. */
  const sendEntries = async (entries: readonly QueueEntry<Telemetry>[], batch: Telemetry): Promise<void> => {
    const keepable = entries.every((e) => e.release !== undefined);
    const max = qcfg.batch?.sizer === 'items' ? qcfg.batch.max_size : 0;
    const parts = max > 0 && batch.itemCount > max ? batch.split(max) : [batch];
    let kept = false;
    for (const part of parts) {
      try {
        await send(part, keepable);
      } catch (err) {
        // counted and logged by send(), unless kept
        if (err instanceof Kept) {
          kept = true;
          break;
        }
      }
    }
    for (const e of entries) {
      heldBytes -= e.item.byteSize;
      if (kept) e.release!();
      else e.done();
    }
  };
  /** Takes one batch and sends it; false when the queue is closed. Called once the queue is
   *  ready (see Queue.ready), so this frame is young and ends with the send: nothing that lives
   *  longer keeps the batch. */
  const sendNext = async (q: Queue<Telemetry>): Promise<boolean> => {
    const entry = await q.take();
    if (!entry) return false;
    taken(q, entry);
    await sendEntries([entry], entry.item);
    return true;
  };
  const runConsumer = async (q: Queue<Telemetry>) => {
    while ((await q.ready()) && (await sendNext(q)));
  };

  /** With fsync, the OK waits for the queue's group commit; a failed sync is a retryable refusal
   *  (the items are in the queue and may be sent twice). */
  const onDisk = async (q: Queue<Telemetry>): Promise<void> => {
    if (!q.synced) return;
    try {
      await q.synced();
    } catch (err) {
      throw new RetryableError(`persistent queue could not sync to disk: ${(err as Error).message}`, { retryAfterMs: QUEUE_FULL_RETRY_MS, cause: err });
    }
  };

  /** Refused for lack of room: dropped here, the sender may retry. */
  const queueFull = (batch: Telemetry): never => {
    counters[batch.signal].enqueueFailed.inc(batch.itemCount);
    throw new RetryableError('sending queue is full', { retryAfterMs: QUEUE_FULL_RETRY_MS });
  };

  return {
    mutatesData: false,
    // With storage, consume() resolves once the batch is in the queue's file.
    durable: qcfg.storage !== undefined,
    async consume(batch) {
      const q = queue;
      if (!q) throw new RetryableError('exporter not started', { retryAfterMs: 1000 });
      const size = sizeOf(batch);
      const bytes = batch.byteSize;
      heldBytes += bytes;
      let accepted = false;
      try {
        if (!blocking) {
          if (!q.offer(batch, size)) queueFull(batch);
          accepted = true;
          return await onDisk(q);
        }
        const r = blocking.offer(batch, size);
        if (r === true) {
          accepted = true;
          return await onDisk(q);
        }
        const outcome = await r;
        if (outcome === 'accepted') {
          accepted = true;
          blocked!.accepted.inc();
          return await onDisk(q);
        }
        // Back-pressure, not a drop: the receiver answers UNAVAILABLE / 503 and the client sends
        // this batch again, so it is not counted in enqueue_failed.
        blocked!.refused.inc();
        const why =
          outcome === 'timeout' ? `sending queue is full (waited ${blockTimeout} ms for room)`
          : outcome === 'full' ? 'sending queue is full and other requests are already waiting for room'
          : 'exporter is stopping';
        throw new RetryableError(why, { retryAfterMs: QUEUE_FULL_RETRY_MS });
      } finally {
        // An accepted batch stays counted while the in-memory queue holds it; on disk it does not.
        if (!accepted || q.persistent) heldBytes -= bytes;
      }
    },
    async start(host) {
      if (qcfg.storage !== undefined) {
        const ext = host.extension(qcfg.storage);
        if (!ext) {
          throw new Error(`sending_queue.storage: extension "${qcfg.storage}" is not running (define it under extensions and list it in service.extensions)`);
        }
        if (!isQueueStorage(ext)) throw new Error(`sending_queue.storage: extension "${qcfg.storage}" is not a storage extension (use file_storage)`);
        queue = ext.openQueue({ owner: set.id, signals, sizer: qcfg.sizer, capacity: qcfg.queue_size });
      }
      // Up to one more queue's worth may wait for room; beyond that, refused at once.
      if (qcfg.block_on_overflow) blocking = new BlockingOffer(queue!, blockTimeout, qcfg.queue_size);
      await impl.start?.(host);
      const q = queue!;
      if (qcfg.batch) consumers.push(new Batcher(q, qcfg.batch, qcfg.num_consumers, { taken: (e) => taken(q, e), send: sendEntries }).run());
      else for (let i = 0; i < qcfg.num_consumers; i++) consumers.push(runConsumer(q));
    },
    async shutdown() {
      const q = queue;
      if (q === undefined || consumers.length === 0) {
        // never started
        stop.abort();
        q?.dispose?.();
        await impl.shutdown?.();
        unregisterMemory();
        set.metrics.dispose();
        return;
      }
      // Requests waiting for room are refused (the receiver answers UNAVAILABLE; nothing is lost).
      blocking?.close();
      // Drain, bounded by what is left of service.shutdown_timeout: retries stop; the consumers
      // send what the in-memory queue holds (one attempt per batch). A persistent queue hands out
      // nothing more: what is unsent stays on disk.
      const startedAt = Date.now();
      const budget = set.shutdownTimeoutMs;
      const queued = q.persistent ? 0 : q.size;
      q.close();
      noMoreRetries.abort();
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), budget)));
      const outcome = await Promise.race([Promise.all(consumers).then(() => 'drained' as const), deadline]);
      clearTimeout(timer);
      if (outcome === 'timeout') {
        stop.abort();
        const left = q.drain();
        for (const b of left) {
          heldBytes -= b.byteSize;
          counters[b.signal].sendFailed.inc(b.itemCount);
          lost.requests++;
          lost.items += b.itemCount;
        }
        // Attempts in flight end now (aborted), counted by send() as they fail.
        await Promise.all(consumers);
      }
      const ms = Date.now() - startedAt;
      if (lost.items > 0) {
        log.error(
          { requests: lost.requests, items: lost.items, ms, shutdown_timeout_ms: budget, timed_out: outcome === 'timeout' },
          `shutdown: ${lost.items} items (${lost.requests} requests) could not be sent before stopping and were dropped`,
        );
      } else if (!q.persistent && queued > 0) {
        log.info({ ms, queue_size: queued }, `shutdown: sending queue drained in ${ms} ms`);
      }
      stop.abort();
      q.dispose?.();
      await impl.shutdown?.();
      unregisterMemory();
      set.metrics.dispose();
    },
  };
}
