// One gRPC client per exporter (grpc-client.ts); each batch is one unary Export call with the
// bytes the pipeline already holds, written without copying (no re-encode unless a processor
// changed the batch, no merge into one buffer, no framing copy). gzip runs on the worker pool.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { CreateSettings, Exporter } from '../../src/component.js';
import { PermanentError, RetryableError } from '../../src/consumer.js';
import { createExporterHelper } from '../../src/exporterhelper/exporter.js';
import type { HelperSettings } from '../../src/exporterhelper/config.js';
import type { Signal, Telemetry } from '../../src/pdata/telemetry.js';
import { decodeExportResponse, retryDelayFromStatus } from '../../src/pdata/rpc.js';
import { GrpcClient, GrpcError, Status, type GrpcClientOptions } from './grpc-client.js';
import type { TaskRunner } from '../../src/workers/pool.js';
import { taskRef } from '../../src/workers/task.js';
import type { GzipResult, GzipTask } from '../../src/workers/tasks.js';

export interface OtlpExporterConfig extends HelperSettings {
  endpoint: string;
  headers: Record<string, string>;
  compression: 'gzip' | 'none';
  compression_params: { level?: number };
  tls: {
    insecure?: boolean;
    insecure_skip_verify?: boolean;
    ca_file?: string;
    cert_file?: string;
    key_file?: string;
    server_name_override?: string;
  };
}

const METHOD: Record<Signal, string> = {
  traces: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
  metrics: '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export',
  logs: '/opentelemetry.proto.collector.logs.v1.LogsService/Export',
};

/** Retryable per the OTLP spec; RESOURCE_EXHAUSTED only when the server sent RetryInfo. */
const RETRYABLE = new Set<number>([
  Status.CANCELLED,
  Status.DEADLINE_EXCEEDED,
  Status.ABORTED,
  Status.OUT_OF_RANGE,
  Status.UNAVAILABLE,
  Status.DATA_LOSS,
]);

const KEEPALIVE_MS = 30_000;
/** fleetcol's version for user-agent, from package.json two or three levels up (source or dist/). */
function packageVersion(): string {
  const require = createRequire(import.meta.url);
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = require(rel) as { name?: string; version?: string };
      if (pkg.name === 'fleetcol' && pkg.version) return pkg.version;
    } catch {
      // not there: try the next level
    }
  }
  return 'unknown';
}
const USER_AGENT = `fleetcol/${packageVersion()}`;

/** Calls spent at most on isolating the items of a batch the backend refused as malformed (one bad
 *  item among 8,192 takes about 2 × 13). */
const SPLIT_CALLS = 32;

export function classifyGrpcError(err: unknown): Error {
  if (!(err instanceof GrpcError)) return new RetryableError(`export failed: ${(err as Error).message}`, { cause: err });
  const delay = err.statusDetails ? retryDelayFromStatus(err.statusDetails) : undefined;
  if (RETRYABLE.has(err.code) || (err.code === Status.RESOURCE_EXHAUSTED && delay !== undefined)) {
    return new RetryableError(err.message, { retryAfterMs: delay, cause: err });
  }
  return new PermanentError(err.message, { cause: err });
}

const GZIP_TASK = taskRef(import.meta.url, '../../src/workers/tasks', 'gzip');

/** gzip on a worker thread: the message is copied into a buffer that moves there (the batch's own
 *  bytes stay: a retry or another exporter may read them), and the compressed bytes move back with
 *  that buffer, which is kept for the next message: a new one per batch was ~1.5 MB of external
 *  memory for a GC to find each time. */
function compressOn(workers: TaskRunner, level: number) {
  const spare: ArrayBuffer[] = [];
  const inputBuffer = (size: number): ArrayBuffer => {
    const i = spare.findIndex((b) => b.byteLength >= size);
    if (i >= 0) return spare.splice(i, 1)[0]!;
    return new ArrayBuffer(Math.ceil(size / INPUT_ROUNDING) * INPUT_ROUNDING);
  };
  return async (message: readonly Uint8Array[]): Promise<Uint8Array> => {
    let size = 0;
    for (const m of message) size += m.length;
    const buffer = inputBuffer(size);
    const input = new Uint8Array(buffer, 0, size);
    let at = 0;
    for (const m of message) { input.set(m, at); at += m.length; }
    const task: GzipTask = { input: buffer, length: size, level };
    const r = await workers.run<GzipResult>(GZIP_TASK, task, [buffer]);
    if (spare.length < MAX_SPARE_INPUTS) spare.push(r.input);
    return new Uint8Array(r.buffer, r.offset, r.length);
  };
}

/** Input buffers are sized in these steps, so that one fits the next batch. */
const INPUT_ROUNDING = 1 << 20;
/** Buffers kept for reuse (each the size of a batch, rounded up to 1 MiB). */
const MAX_SPARE_INPUTS = 2;

/** Where and how to connect: `http://` or tls.insecure (without `https://`) is plaintext. */
function clientOptions(cfg: OtlpExporterConfig, metadata: Record<string, string>, workers?: TaskRunner): GrpcClientOptions {
  const address = cfg.endpoint.replace(/^[a-z]+:\/\//i, '').replace(/\/+$/, '');
  const plaintextScheme = /^http:\/\//i.test(cfg.endpoint);
  const tlsScheme = /^https:\/\//i.test(cfg.endpoint);
  const secure = !(plaintextScheme || (cfg.tls.insecure && !tlsScheme));
  const read = (f?: string) => (f ? readFileSync(f) : undefined);
  const override = cfg.tls.server_name_override;
  return {
    address,
    secure,
    ...(secure
      ? {
          tls: {
            ca: read(cfg.tls.ca_file),
            cert: read(cfg.tls.cert_file),
            key: read(cfg.tls.key_file),
            ...(override ? { servername: override } : {}),
            ...(cfg.tls.insecure_skip_verify ? { rejectUnauthorized: false, checkServerIdentity: () => undefined } : {}),
          },
        }
      : {}),
    ...(override ? { authority: override } : {}),
    metadata,
    gzip: cfg.compression === 'gzip',
    gzipLevel: cfg.compression_params?.level ?? 1,
    // With a pool of threads, gzip runs there; without one (threads: 0), on libuv's threads.
    ...(cfg.compression === 'gzip' && workers?.offloads ? { compress: compressOn(workers, cfg.compression_params?.level ?? 1) } : {}),
    keepaliveMs: KEEPALIVE_MS,
    userAgent: USER_AGENT,
  };
}

export function createOtlpExporter(
  set: CreateSettings,
  cfg: OtlpExporterConfig,
  signals: readonly Signal[],
  extraHeaders: Record<string, string> = {},
): Exporter {
  let client: GrpcClient | undefined;
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...cfg.headers, ...extraHeaders })) metadata[k.toLowerCase()] = v;

  /** One call; throws the backend's error as it is (a GrpcError), or a PermanentError for a
   *  partial success. */
  const unary = async (batch: Telemetry, signal: AbortSignal): Promise<void> => {
    if (!client) throw new RetryableError('exporter not started');
    const response = await client.unary(METHOD[batch.signal], batch.protoParts(), { signal });
    if (response.length > 0) {
      const partial = decodeExportResponse(response);
      if (partial.rejected > 0n) {
        throw new PermanentError(`backend rejected ${partial.rejected} items: ${partial.errorMessage}`, { rejected: Number(partial.rejected) });
      }
      if (partial.errorMessage) set.logger.warn({ message: partial.errorMessage }, 'backend accepted with a warning');
    }
  };
  const classify = (err: unknown) => (err instanceof PermanentError || err instanceof RetryableError ? err : classifyGrpcError(err));
  const malformed = (err: unknown): err is GrpcError => err instanceof GrpcError && err.code === Status.INVALID_ARGUMENT;

  /** A batch the backend refused as malformed (INVALID_ARGUMENT): its halves are sent, and the
   *  halves of a refused half, so that one client's bad items merged into the batch do not take the
   *  other clients' items down with them. At most SPLIT_CALLS more calls per batch, and six when
   *  the backend refuses every part (a schema or tenant problem), not one call per item. What is
   *  still refused is reported as a partial refusal. */
  const isolate = async (batch: Telemetry, signal: AbortSignal, budget: { calls: number; accepted: number }, depth = 0): Promise<number> => {
    const n = batch.itemCount;
    // Nothing taken in two levels (six calls): the backend refuses everything, not some items.
    if (n <= 1 || budget.calls < 2 || (depth >= 2 && budget.accepted === 0)) return n;
    const refused: Telemetry[] = [];
    let rejected = 0;
    for (const half of batch.split(Math.ceil(n / 2))) {
      budget.calls--;
      try {
        await unary(half, signal);
        budget.accepted++;
      } catch (e) {
        // A partial success: the backend took the rest of that half.
        if (e instanceof PermanentError) {
          rejected += e.rejected ?? half.itemCount;
          continue;
        }
        // A retryable failure part way: the whole batch is retried and the halves already taken
        // are sent again (at least once).
        if (!malformed(e)) throw classify(e);
        refused.push(half);
      }
    }
    for (const half of refused) rejected += await isolate(half, signal, budget, depth + 1);
    return rejected;
  };

  const push = async (batch: Telemetry, signal: AbortSignal): Promise<void> => {
    try {
      await unary(batch, signal);
    } catch (err) {
      if (!malformed(err)) throw classify(err);
      const rejected = await isolate(batch, signal, { calls: SPLIT_CALLS, accepted: 0 });
      if (rejected > 0) throw new PermanentError(`backend refused ${rejected} of ${batch.itemCount} items as malformed: ${err.message}`, { rejected, cause: err });
    }
  };

  return createExporterHelper(set, signals, cfg, {
    push,
    async start() {
      const options = clientOptions(cfg, metadata, set.workers);
      if (!options.address) throw new Error('endpoint is empty');
      client = new GrpcClient(options);
      set.logger.info({ endpoint: options.address, tls: options.secure, compression: cfg.compression }, 'OTLP/gRPC exporter ready');
    },
    async shutdown() {
      client?.close();
      client = undefined;
    },
  });
}
