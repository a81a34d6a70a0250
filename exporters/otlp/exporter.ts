// One gRPC client per exporter; each batch is one unary Export call with the bytes the pipeline
// already holds (no re-encode unless a processor changed the batch).
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import type { CreateSettings, Exporter } from '../../src/component.js';
import { PermanentError, RetryableError } from '../../src/consumer.js';
import { createExporterHelper } from '../../src/exporterhelper/exporter.js';
import type { HelperSettings } from '../../src/exporterhelper/config.js';
import type { Signal, Telemetry } from '../../src/pdata/telemetry.js';
import { decodeExportResponse, retryDelayFromStatus } from '../../src/pdata/rpc.js';

export interface OtlpExporterConfig extends HelperSettings {
  endpoint: string;
  headers: Record<string, string>;
  compression: 'gzip' | 'none';
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
const RETRYABLE = new Set([
  grpc.status.CANCELLED,
  grpc.status.DEADLINE_EXCEEDED,
  grpc.status.ABORTED,
  grpc.status.OUT_OF_RANGE,
  grpc.status.UNAVAILABLE,
  grpc.status.DATA_LOSS,
]);

const identity = (b: Buffer) => b;
const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));
const GZIP = 2; // grpc-js compression algorithm id

export function classifyGrpcError(err: grpc.ServiceError): Error {
  const details = err.metadata?.get('grpc-status-details-bin')[0];
  const delay = Buffer.isBuffer(details) ? retryDelayFromStatus(details) : undefined;
  const msg = `${grpc.status[err.code] ?? err.code}: ${err.details || err.message}`;
  if (RETRYABLE.has(err.code) || (err.code === grpc.status.RESOURCE_EXHAUSTED && delay !== undefined)) {
    return new RetryableError(msg, { retryAfterMs: delay, cause: err });
  }
  return new PermanentError(msg, { cause: err });
}

function credentials(cfg: OtlpExporterConfig): grpc.ChannelCredentials {
  const plaintextScheme = /^http:\/\//i.test(cfg.endpoint);
  const tlsScheme = /^https:\/\//i.test(cfg.endpoint);
  if (plaintextScheme || (cfg.tls.insecure && !tlsScheme)) return grpc.credentials.createInsecure();
  const read = (f?: string) => (f ? readFileSync(f) : null);
  return grpc.credentials.createSsl(
    read(cfg.tls.ca_file),
    read(cfg.tls.key_file),
    read(cfg.tls.cert_file),
    cfg.tls.insecure_skip_verify ? { checkServerIdentity: () => undefined, rejectUnauthorized: false } : undefined,
  );
}

export function createOtlpExporter(
  set: CreateSettings,
  cfg: OtlpExporterConfig,
  signals: readonly Signal[],
  extraHeaders: Record<string, string> = {},
): Exporter {
  const target = cfg.endpoint.replace(/^[a-z]+:\/\//i, '').replace(/\/+$/, '');
  let client: grpc.Client | undefined;
  // Metadata built once; each call gets a clone (grpc-js may mutate what it is given).
  const metadata = new grpc.Metadata();
  for (const [k, v] of Object.entries({ ...cfg.headers, ...extraHeaders })) metadata.set(k.toLowerCase(), v);

  const push = (batch: Telemetry, signal: AbortSignal): Promise<void> =>
    new Promise((resolve, reject) => {
      if (!client) return reject(new RetryableError('exporter not started'));
      const bytes = batch.toProto();
      const call = client.makeUnaryRequest<Buffer, Buffer>(
        METHOD[batch.signal],
        identity,
        identity,
        Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
        metadata.clone(),
        {},
        (err, response) => {
          signal.removeEventListener('abort', onAbort);
          if (err) return reject(classifyGrpcError(err));
          if (response && response.length > 0) {
            const partial = decodeExportResponse(response);
            if (partial.rejected > 0n) {
              return reject(new PermanentError(`backend rejected ${partial.rejected} items: ${partial.errorMessage}`, { rejected: Number(partial.rejected) }));
            }
            if (partial.errorMessage) set.logger.warn({ message: partial.errorMessage }, 'backend accepted with a warning');
          }
          resolve();
        },
      );
      const onAbort = () => call.cancel();
      signal.addEventListener('abort', onAbort, { once: true });
    });

  return createExporterHelper(set, signals, cfg, {
    push,
    async start() {
      if (!target) throw new Error('endpoint is empty');
      const options: grpc.ChannelOptions = {
        'grpc.max_send_message_length': 64 * 1024 * 1024,
        'grpc.keepalive_time_ms': 30_000,
        // grpc-js backs off reconnecting up to 120 s by default: after a 20 s outage it sat ~13 s
        // on a backend that was up again (test/backend-outage.test.ts). Reconnect at least as
        // often as the retries run, and at most 5 s apart: a connect attempt is cheap.
        'grpc.initial_reconnect_backoff_ms': clamp(cfg.retry_on_failure.initial_interval, 100, 1000),
        'grpc.max_reconnect_backoff_ms': clamp(cfg.retry_on_failure.max_interval, 1000, 5000),
        ...(cfg.compression === 'gzip' ? { 'grpc.default_compression_algorithm': GZIP } : {}),
        ...(cfg.tls.server_name_override ? { 'grpc.ssl_target_name_override': cfg.tls.server_name_override, 'grpc.default_authority': cfg.tls.server_name_override } : {}),
      };
      client = new grpc.Client(target, credentials(cfg), options);
      set.logger.info({ endpoint: target, compression: cfg.compression }, 'OTLP/gRPC exporter ready');
    },
    async shutdown() {
      client?.close();
      client = undefined;
    },
  });
}
