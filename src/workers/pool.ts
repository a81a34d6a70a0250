// The worker-thread pool (piscina) for the CPU-heavy steps of ingest, and the one decode entry
// point receivers use: it runs a request inline when that is cheaper than the hop to a thread and
// in the pool otherwise. The code that runs in the threads is all in tasks.ts.
//
// What goes to a thread (measured with bench/pdata.ts: the validating protobuf scan costs ~1.6 µs
// per span, ~2.6 ns per byte; OTLP/JSON decode + encode ~46 µs per span; a round trip to a thread
// with a transferred buffer ~50-100 µs):
// - OTLP/JSON bodies of json_min_size and more (default 4 KiB, a handful of spans);
// - protobuf bodies of proto_min_size and more (default 256 KiB, ~0.6 ms of scanning); smaller
//   ones are scanned inline, where the hop would cost more than it saves.
// Exporters run their CPU-heavy steps here too (run(), below): the OTLP exporter's gzip (task
// `gzip` in tasks.ts), the prometheusremotewrite exporter's translation, encode and snappy (its own
// task module). Their bytes are copied into a buffer that moves to the thread (a batch's bytes stay
// where they are: a retry or another exporter may still read them) and the result moves back.
// Not sent to threads: the receivers' gunzip (zlib's asynchronous API, on libuv's thread pool, is
// already off the event loop), and re-encoding a batch a processor changed: the tree it would
// encode cannot reach a thread without a structured clone that costs more than the encode.
import type { Piscina } from 'piscina';
import type { Logger } from 'pino';
import { RetryableError } from '../consumer.js';
import { DecodeError, Telemetry, type Signal } from '../pdata/telemetry.js';
import type { BoundCounter, MetricsRegistry } from '../telemetry/metrics.js';
import type { DecodeResult, DecodeTask, HeapSpaces } from './tasks.js';
import type { TaskRef } from './task.js';
import { letThreadsSizeTheirYoungGeneration, siblingModule } from './thread.js';

export interface WorkersConfig {
  /** Threads in the pool; 0 runs everything on the main thread. */
  threads: number;
  /** Requests waiting for a thread; past it, refused as retryable (UNAVAILABLE / 503). */
  max_queue: number;
  /** Protobuf bodies at least this large (bytes) are validated in a thread. */
  proto_min_size: number;
  /** OTLP/JSON bodies at least this large (bytes) are decoded in a thread. */
  json_min_size: number;
  /** Each thread's V8 young generation (bytes). */
  young_generation_size: number;
}

export type Format = 'proto' | 'json';

/** What receivers call to turn a request body into a batch. */
export interface Decoder {
  /**
   * The body as a Telemetry. Throws DecodeError when it is malformed (INVALID_ARGUMENT / 400) and
   * RetryableError when the pool is saturated or failed (UNAVAILABLE / 503). `owned`: the caller
   * hands the body over, so its memory may be moved to a thread instead of copied; the caller
   * must not read it afterwards.
   */
  decode(signal: Signal, format: Format, body: Body, owned?: boolean): Promise<Telemetry>;
}

/** Runs the exporters' CPU-heavy steps: a function of a task module (see task.ts), given bytes
 *  (moved, listed in transferList) and answering bytes. */
export interface TaskRunner {
  /** True when tasks run on the pool's threads; false when run() calls them on the calling thread
   *  (threads: 0), where a caller with an asynchronous alternative (zlib) should use that instead. */
  readonly offloads: boolean;
  /** Rejects with RetryableError when the pool is saturated or the thread failed. */
  run<R>(task: TaskRef, input: unknown, transferList?: ArrayBuffer[]): Promise<R>;
}

/** The pool as components see it (CreateSettings.workers). */
export type Workers = Decoder & TaskRunner;

/** A request body: one buffer, or the consecutive chunks it arrived in (kept as they are by a
 *  protobuf decode on the calling thread, joined for anything else). */
export type Body = Uint8Array | readonly Uint8Array[];

function byteLength(body: Body): number {
  if (!Array.isArray(body)) return (body as Uint8Array).byteLength;
  let n = 0;
  for (const c of body as readonly Uint8Array[]) n += c.byteLength;
  return n;
}

/** A view of all of its buffer, which can therefore be moved to a thread. */
function isWhole(c: Uint8Array): boolean {
  return c.byteOffset === 0 && c.byteLength === c.buffer.byteLength && !(c.buffer instanceof SharedArrayBuffer);
}

/** The body in one new buffer of its own (a copy). */
function joined(body: readonly Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of body) { out.set(c, at); at += c.byteLength; }
  return out;
}

function decodeInline(signal: Signal, format: Format, body: Body): Telemetry {
  if (Array.isArray(body)) {
    const parts = body as readonly Uint8Array[];
    if (format === 'proto') return Telemetry.fromProtoParts(signal, parts);
    body = parts.length === 1 ? parts[0]! : joined(parts, byteLength(parts));
  }
  const one = body as Uint8Array;
  return format === 'json' ? Telemetry.fromJSON(signal, one) : Telemetry.fromProto(signal, one);
}

// Decoding on the event loop is done in slices: after INLINE_SLICE_MS of it since its last pause,
// the next decode waits for the loop's next turn (setImmediate: after the poll phase), so sockets are
// served in between. Without that, a loop kept busy by JSON decodes (`threads: 0`) answered an
// HTTP/2 backend's flow-control updates only between whole bursts of decodes: with a 64 KiB window
// an export call of a few MiB needed ~50 of them, ran past its timeout and was retried for ever
// (bench/workers.js --threads 0 --sink-impl grpc-js: 0 spans/s delivered).
const INLINE_SLICE_MS = 10;
let inlineSpentMs = 0;
let nextSlice: Promise<void> | undefined;

function nextTurn(): Promise<void> {
  nextSlice ??= new Promise((resolve) =>
    setImmediate(() => {
      nextSlice = undefined;
      inlineSpentMs = 0;
      resolve();
    }),
  );
  return nextSlice;
}

async function decodeOnLoop(signal: Signal, format: Format, body: Body): Promise<Telemetry> {
  while (inlineSpentMs >= INLINE_SLICE_MS) await nextTurn();
  const start = performance.now();
  try {
    return decodeInline(signal, format, body);
  } finally {
    inlineSpentMs += performance.now() - start;
  }
}

const taskModules = new Map<string, Promise<Record<string, (input: unknown) => unknown>>>();

/** A task called on this thread. */
async function runInline<R>(task: TaskRef, input: unknown): Promise<R> {
  let mod = taskModules.get(task.module);
  if (mod === undefined) taskModules.set(task.module, (mod = import(task.module)));
  const fn = (await mod)[task.name];
  if (typeof fn !== 'function') throw new TypeError(`task module ${task.module} has no function ${task.name}`);
  return (await fn(input)) as R;
}

/** Everything on the calling thread (no pool configured, and in component tests). */
export const inlineDecoder: Decoder = {
  decode: decodeOnLoop,
};

/** The Workers of a daemon without a pool. */
export const inlineWorkers: Workers = {
  decode: decodeOnLoop,
  offloads: false,
  run: (task, input) => runInline(task, input),
};

// tasks.js next to this file once compiled; tasks.ts when running from source (tests), where the
// worker threads inherit the TypeScript loader through execArgv.
const TASKS = siblingModule(import.meta.url, './tasks').href;

const RETRY_MS = 200;
const MiB = 1024 * 1024;

export class WorkerPool implements Workers {
  /** Created on first use: piscina itself costs ~8 MiB of RSS to load, which a daemon that only
   *  ever gets small protobuf requests and exports without gzip need not pay. */
  private pool: Piscina | undefined;
  private starting: Promise<Piscina> | undefined;
  private readonly cfg: WorkersConfig;
  private inFlightBytes = 0;
  private readonly counts: Record<Format, Record<'worker' | 'main', BoundCounter>>;
  private readonly refused: BoundCounter;
  private readonly taskRuns = new Map<string, BoundCounter>();
  private readonly metrics: MetricsRegistry;
  private readonly failed: BoundCounter;
  private lastFailureLog = 0;
  private readonly disposers: Array<() => void> = [];

  constructor(
    cfg: WorkersConfig,
    private readonly logger: Logger,
    metrics: MetricsRegistry,
  ) {
    this.cfg = cfg;
    this.metrics = metrics;
    const tasks = (format: Format, thread: 'worker' | 'main') =>
      metrics.counter('fleetcol_workers_tasks_total', 'Request bodies decoded, by format and by thread (worker pool or main thread).', { format, thread });
    this.counts = { proto: { worker: tasks('proto', 'worker'), main: tasks('proto', 'main') }, json: { worker: tasks('json', 'worker'), main: tasks('json', 'main') } };
    this.refused = metrics.counter('fleetcol_workers_refused_total', 'Requests refused because max_queue requests already waited for a thread.', {});
    this.failed = metrics.counter('fleetcol_workers_failed_total', 'Worker tasks (request decodes, export steps) that failed in a thread (not malformed input: a thread error).', {});
    this.disposers.push(
      metrics.gauge('fleetcol_workers_threads', 'Threads in the worker pool (0: everything on the main thread).', {}, () => this.pool?.threads.length ?? 0),
      metrics.gauge('fleetcol_workers_queue_size', 'Requests waiting for a worker thread.', {}, () => this.pool?.queueSize ?? 0),
      metrics.gauge('fleetcol_workers_utilization', 'Share of the pool\'s capacity used since it started (0..1).', {}, () => this.pool?.utilization ?? 0),
      metrics.gauge('fleetcol_workers_bytes', 'Bytes of request bodies waiting for or in a worker thread.', {}, () => this.inFlightBytes),
    );
    // Not registered with the process-wide memory accounting (src/memory.ts): a body in a thread
    // is still held by the receiver that read it (its in-flight bytes, until the pipeline
    // answers), and counting it here too would count it twice.
  }

  /** The pool, started on first use (undefined with threads: 0). */
  private poolNow(): Piscina | Promise<Piscina> | undefined {
    if (this.cfg.threads <= 0) return undefined;
    return this.pool ?? (this.starting ??= this.startPool());
  }

  private async startPool(): Promise<Piscina> {
    const { Piscina } = await import('piscina');
    letThreadsSizeTheirYoungGeneration();
    const pool = new Piscina({
      filename: TASKS,
      name: 'decode',
      // Threads start when there is work and stop after a minute without: a daemon that only
      // gets small protobuf requests (all inline) pays nothing for the pool: ~10 MiB RSS a thread
      // idle, up to ~2 × young_generation_size more while it decodes.
      minThreads: 0,
      maxThreads: this.cfg.threads,
      maxQueue: this.cfg.max_queue,
      idleTimeout: 60_000,
      // The threads only ever wait for the next task; async atomics keep their event loops free.
      atomics: 'async',
      // Each thread holds its next task while it works on one, so it never idles waiting for the
      // main thread to hand one over (that hand-over waits for the main loop: with one task at a
      // time a single busy thread was idle ~27 % of the time, bench/workers.js --threads 1).
      concurrentTasksPerWorker: 2,
      resourceLimits: { maxYoungGenerationSizeMb: Math.max(3, this.cfg.young_generation_size / MiB) },
    });
    // A thread that dies is replaced by piscina; its task rejects and is answered as retryable.
    pool.on('error', (err: Error) => this.logger.error({ err: err.message }, 'worker thread failed'));
    this.pool = pool;
    return pool;
  }

  get threads(): number {
    return this.pool?.threads.length ?? 0;
  }

  /** The heap spaces of one of the pool's threads (undefined without a pool). */
  async threadHeap(): Promise<HeapSpaces | undefined> {
    const pool = await this.poolNow();
    return pool ? ((await pool.run(undefined, { name: 'heap' })) as HeapSpaces) : undefined;
  }

  async decode(signal: Signal, format: Format, body: Body, owned = false): Promise<Telemetry> {
    const min = format === 'json' ? this.cfg.json_min_size : this.cfg.proto_min_size;
    const size = byteLength(body);
    if (this.cfg.threads <= 0 || size < min) {
      this.counts[format].main.inc();
      return decodeOnLoop(signal, format, body);
    }
    const pool = (await this.poolNow())!;
    if (pool.queueSize >= this.cfg.max_queue) {
      this.refused.inc();
      throw new RetryableError(`worker pool is busy (${pool.queueSize} requests wait for a thread)`, { retryAfterMs: RETRY_MS });
    }
    // Move the bytes: the whole buffer when the body is all of a buffer the caller gave up,
    // otherwise a copy (a Buffer may share its memory with others, e.g. Node's 8 KiB pool, and
    // chunks are views of the socket's read buffers).
    // Chunks that are each all of their buffer (node:http's body chunks are) move as they are and
    // are joined in the thread: on the main thread a join is a copy and one more buffer for its GC.
    let task: DecodeTask;
    let transferList: ArrayBuffer[];
    if (Array.isArray(body)) {
      const parts = body as readonly Uint8Array[];
      if (owned && parts.every(isWhole)) {
        transferList = parts.map((c) => c.buffer as ArrayBuffer);
        task = { signal, format, buffer: transferList[0]!, offset: 0, length: size, chunks: transferList };
      } else {
        const buffer = joined(parts, size).buffer as ArrayBuffer;
        transferList = [buffer];
        task = { signal, format, buffer, offset: 0, length: size };
      }
    } else {
      const one = body as Uint8Array;
      // (new Uint8Array(x) copies; a Buffer's slice() would alias.)
      const buffer = owned && isWhole(one) ? (one.buffer as ArrayBuffer) : (new Uint8Array(one).buffer as ArrayBuffer);
      transferList = [buffer];
      task = { signal, format, buffer, offset: 0, length: size };
    }
    this.inFlightBytes += size;
    let r: DecodeResult;
    try {
      r = (await pool.run(task, { name: 'decode', transferList })) as DecodeResult;
    } catch (err) {
      throw this.taskFailed(err, 'decode', { format, bytes: size });
    } finally {
      this.inFlightBytes -= size;
    }
    this.counts[format].worker.inc();
    if (!r.ok) throw new DecodeError(r.error);
    return Telemetry.fromValidated(signal, new Uint8Array(r.buffer, r.offset, r.length), r.count);
  }

  get offloads(): boolean {
    return this.cfg.threads > 0;
  }

  async run<R>(task: TaskRef, input: unknown, transferList: ArrayBuffer[] = []): Promise<R> {
    const pool = await this.poolNow();
    const thread = pool === undefined ? 'main' : 'worker';
    const key = `${task.name}\0${thread}`;
    let runs = this.taskRuns.get(key);
    if (runs === undefined) {
      runs = this.metrics.counter('fleetcol_workers_export_tasks_total', 'Export steps (compression, translation) run, by task and by thread (worker pool or main thread).', { task: task.name, thread });
      this.taskRuns.set(key, runs);
    }
    runs.inc();
    if (pool === undefined) return runInline<R>(task, input);
    if (pool.queueSize >= this.cfg.max_queue) {
      this.refused.inc();
      throw new RetryableError(`worker pool is busy (${pool.queueSize} tasks wait for a thread)`, { retryAfterMs: RETRY_MS });
    }
    try {
      return (await pool.run(input, { filename: task.module, name: task.name, transferList })) as R;
    } catch (err) {
      throw this.taskFailed(err, task.name, {});
    }
  }

  /** A task the pool rejected, as the retryable error its caller answers with: refused when the
   *  pool's queue was full, otherwise failed (a thread error; logged at most every 10 s). */
  private taskFailed(err: unknown, task: string, context: Record<string, unknown>): RetryableError {
    const e = err as Error;
    if (/queue is at limit/i.test(e.message)) {
      this.refused.inc();
      return new RetryableError('worker pool is busy', { retryAfterMs: RETRY_MS, cause: err });
    }
    this.failed.inc();
    const now = Date.now();
    if (now - this.lastFailureLog > 10_000) {
      this.lastFailureLog = now;
      this.logger.error({ err: e.message, task, ...context }, 'worker task failed; refused as retryable');
    }
    return new RetryableError(`worker task ${task} failed: ${e.message}`, { retryAfterMs: RETRY_MS, cause: err });
  }

  /** Waits for the tasks in flight, then stops the threads. */
  async close(): Promise<void> {
    for (const d of this.disposers.splice(0)) d();
    const pool = this.pool ?? (await this.starting);
    await pool?.close();
  }
}
