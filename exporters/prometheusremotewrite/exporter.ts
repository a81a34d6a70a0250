// Prometheus remote write 1.0: each batch is translated (translate.ts, on the worker pool) into one
// or more snappy-compressed WriteRequests and POSTed in order. The translation is kept with the
// batch while it is being sent, with how many of its requests the backend has accepted, so a retry
// sends only what is left and never translates twice.
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import type { CreateSettings, Exporter } from '../../src/component.js';
import { PermanentError, RetryableError } from '../../src/consumer.js';
import { createExporterHelper } from '../../src/exporterhelper/exporter.js';
import type { HelperSettings } from '../../src/exporterhelper/config.js';
import type { Signal, Telemetry } from '../../src/pdata/telemetry.js';
import type { BoundCounter } from '../../src/telemetry/metrics.js';
import { inlineWorkers } from '../../src/workers/pool.js';
import { taskRef } from '../../src/workers/task.js';
// Types only: translate.js runs on the worker pool, and it loads snappy, a native module that
// costs ~7 MiB of RSS, which a daemon without this exporter (or with threads) need not pay.
import type { DropReason, TranslateOptions, TranslateResult, TranslateTask } from './translate.js';

export interface RemoteWriteExporterConfig extends HelperSettings {
  endpoint: string;
  headers: Record<string, string>;
  namespace: string;
  external_labels: Record<string, string>;
  add_metric_suffixes: boolean;
  resource_to_telemetry_conversion: { enabled: boolean };
  target_info: { enabled: boolean };
  max_batch_size_bytes: number;
  tls: { insecure_skip_verify?: boolean; ca_file?: string; cert_file?: string; key_file?: string; server_name_override?: string };
}

const TRANSLATE = taskRef(import.meta.url, './translate', 'toRemoteWrite');
/** Bytes of an error response kept for the log line and the error. */
const MAX_ERROR_BODY = 512;

/** What Prometheus refused for good: series, the OTLP points they carry, its first answer. */
interface Refusal {
  series: number;
  points: number;
  first: PermanentError;
}

/** A batch's requests while it is being sent: how many were answered, and what was refused. */
interface Progress {
  result: TranslateResult;
  sent: number;
  refused?: Refusal;
}

function joinRefusals(a: Refusal | undefined, b: Refusal | undefined): Refusal | undefined {
  if (!a || !b) return a ?? b;
  return { series: a.series + b.series, points: a.points + b.points, first: a.first };
}

const sum = (xs: Uint32Array) => xs.reduce((a, b) => a + b, 0);

/** The byte ranges of a WriteRequest's top-level fields (its series), to split a refused request
 *  without decoding it. */
export function topLevelFields(raw: Uint8Array): [number, number][] {
  const out: [number, number][] = [];
  let at = 0;
  const varint = () => {
    let v = 0, mul = 1, b: number;
    do {
      if (at >= raw.length) throw new RangeError('truncated WriteRequest');
      b = raw[at++]!;
      v += (b & 0x7f) * mul;
      mul *= 128;
    } while (b & 0x80);
    return v;
  };
  while (at < raw.length) {
    const start = at;
    const tag = varint();
    if ((tag & 7) !== 2) throw new RangeError(`unexpected wire type ${tag & 7} in a WriteRequest`);
    const length = varint(); // (not `at += varint()`: that adds to the value `at` had before the call)
    at += length;
    if (at > raw.length) throw new RangeError('truncated WriteRequest');
    out.push([start, at]);
  }
  return out;
}


/** Retry-After: delay-seconds or an HTTP date; undefined if absent or unreadable. */
export function retryAfterMs(header: string | undefined, now = Date.now()): number | undefined {
  if (!header) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** 2xx: accepted. 429 and 5xx: retryable (Prometheus answers 5xx when it cannot append right now).
 *  Other 4xx: the request itself is wrong (e.g. out-of-order samples) and will be again: dropped. */
export function classifyStatus(status: number, body: string, retryAfter: string | undefined): Error | undefined {
  if (status >= 200 && status < 300) return undefined;
  const msg = `remote write answered HTTP ${status}${body ? `: ${body.trim()}` : ''}`;
  if (status === 429 || status >= 500) return new RetryableError(msg, { retryAfterMs: retryAfterMs(retryAfter) });
  return new PermanentError(msg);
}

export function createRemoteWriteExporter(set: CreateSettings, cfg: RemoteWriteExporterConfig, signals: readonly Signal[]): Exporter {
  const url = new URL(cfg.endpoint);
  const secure = url.protocol === 'https:';
  const read = (f?: string) => (f ? readFileSync(f) : undefined);
  const agent = secure
    ? new https.Agent({
        keepAlive: true,
        ca: read(cfg.tls.ca_file),
        cert: read(cfg.tls.cert_file),
        key: read(cfg.tls.key_file),
        ...(cfg.tls.server_name_override ? { servername: cfg.tls.server_name_override } : {}),
        ...(cfg.tls.insecure_skip_verify ? { rejectUnauthorized: false } : {}),
      })
    : new http.Agent({ keepAlive: true });
  const headers: Record<string, string> = {
    ...cfg.headers,
    'content-type': 'application/x-protobuf',
    'content-encoding': 'snappy',
    'x-prometheus-remote-write-version': '0.1.0',
    'user-agent': 'fleetcol',
  };
  const options: TranslateOptions = {
    namespace: cfg.namespace,
    addMetricSuffixes: cfg.add_metric_suffixes,
    resourceToTelemetry: cfg.resource_to_telemetry_conversion.enabled,
    targetInfo: cfg.target_info.enabled,
    externalLabels: cfg.external_labels,
    maxRequestBytes: cfg.max_batch_size_bytes,
  };
  const workers = set.workers ?? inlineWorkers;
  const progress = new WeakMap<Telemetry, Progress>();
  const droppedCounters = new Map<DropReason, BoundCounter>();
  const dropped = (reason: DropReason) => {
    let c = droppedCounters.get(reason);
    if (c === undefined) {
      c = set.metrics.counter('exporter_translation_dropped_metric_points', 'Metric points Prometheus cannot represent (delta temporality, malformed), dropped in translation, by reason.', { reason });
      droppedCounters.set(reason, c);
    }
    return c;
  };
  const requestsSent = set.metrics.counter('exporter_remote_write_requests', 'Remote-write requests the backend accepted.');
  const samplesSent = set.metrics.counter('exporter_remote_write_samples', 'Samples (and native histograms) in remote-write requests the backend accepted.');
  const refusedSeries = set.metrics.counter('exporter_remote_write_refused_series', 'Series the backend refused for good (e.g. samples out of order), each isolated from the rest of its request.');
  const lastDropLog = new Map<DropReason, number>();

  const translate = async (batch: Telemetry): Promise<TranslateResult> => {
    // The batch's bytes stay where they are (a retry or another exporter reads them): a copy moves.
    const parts = batch.protoParts();
    let size = 0;
    for (const p of parts) size += p.length;
    const input = new Uint8Array(size);
    let at = 0;
    for (const p of parts) { input.set(p, at); at += p.length; }
    const task: TranslateTask = { input: input.buffer, options };
    const result = await workers.run<TranslateResult>(TRANSLATE, task, [input.buffer]);
    for (const [reason, n] of Object.entries(result.dropped) as [DropReason, number][]) {
      dropped(reason).inc(n);
      const now = Date.now();
      if (now - (lastDropLog.get(reason) ?? 0) > 60_000) {
        lastDropLog.set(reason, now);
        set.logger.warn({ reason, points: n }, `${n} metric points have no Prometheus representation (${reason.replace(/_/g, ' ')}) and were dropped`);
      }
    }
    return result;
  };

  const post = (body: Uint8Array, signal: AbortSignal) =>
    new Promise<void>((resolve, reject) => {
      const req = (secure ? https : http).request(url, { method: 'POST', agent, headers: { ...headers, 'content-length': String(body.length) }, signal }, (res) => {
        const chunks: Buffer[] = [];
        let kept = 0;
        res.on('data', (c: Buffer) => {
          if (kept < MAX_ERROR_BODY) { chunks.push(c); kept += c.length; }
        });
        res.on('end', () => {
          const text = Buffer.concat(chunks).subarray(0, MAX_ERROR_BODY).toString('utf8');
          const err = classifyStatus(res.statusCode ?? 0, text, res.headers['retry-after']);
          if (err) reject(err);
          else resolve();
        });
        res.on('error', (e) => reject(new RetryableError(`remote write response failed: ${e.message}`, { cause: e })));
      });
      req.on('error', (e) => reject(new RetryableError(`remote write to ${url.host} failed: ${e.message}`, { cause: e })));
      req.end(body);
    });

  /**
   * Sends one request. Prometheus appends all of a request or none of it: one bad series (a sample
   * older than the newest it holds, HTTP 400) would take the rest with it. So a request refused
   * for good is halved, and each half sent, down to the single series it refuses. Retryable
   * failures are thrown (the retry resumes at this request).
   */
  const sendRequest = async (body: Uint8Array, points: Uint32Array, signal: AbortSignal): Promise<Refusal | undefined> => {
    try {
      await post(body, signal);
      requestsSent.inc();
      return undefined;
    } catch (err) {
      if (!(err instanceof PermanentError)) throw err;
      if (points.length <= 1) return { series: 1, points: sum(points), first: err };
      const { default: snappy } = await import('snappy'); // here only when a request was refused
      const raw = snappy.uncompressSync(Buffer.from(body.buffer, body.byteOffset, body.byteLength)) as Buffer;
      const fields = topLevelFields(raw);
      if (fields.length !== points.length) return { series: points.length, points: sum(points), first: err };
      const mid = fields.length >> 1;
      const half = (a: number, b: number) => new Uint8Array(snappy.compressSync(raw.subarray(fields[a]![0], fields[b - 1]![1])));
      const left = await sendRequest(half(0, mid), points.subarray(0, mid), signal);
      const right = await sendRequest(half(mid, fields.length), points.subarray(mid), signal);
      const refused = joinRefusals(left, right);
      return refused && { ...refused, first: err };
    }
  };

  const push = async (batch: Telemetry, signal: AbortSignal): Promise<void> => {
    let p = progress.get(batch);
    if (p === undefined) {
      p = { result: await translate(batch), sent: 0 };
      progress.set(batch, p);
    }
    const { requests, points } = p.result;
    while (p.sent < requests.length) {
      p.refused = joinRefusals(p.refused, await sendRequest(requests[p.sent]!, points[p.sent]!, signal));
      p.sent++;
    }
    progress.delete(batch);
    if (p.refused) {
      refusedSeries.inc(p.refused.series);
      // Counted by the helper: the refused points as failed, the rest of the batch as sent.
      const rejected = Math.min(batch.itemCount, Math.max(1, p.refused.points));
      throw new PermanentError(`remote write refused ${p.refused.series} series (${rejected} points): ${p.refused.first.message}`, { rejected, cause: p.refused.first });
    }
    samplesSent.inc(p.result.samples + p.result.histograms);
  };

  return createExporterHelper(set, signals, cfg, {
    push,
    async start() {
      set.logger.info({ endpoint: `${url.protocol}//${url.host}${url.pathname}`, threads: workers.offloads }, 'Prometheus remote-write exporter ready');
    },
    async shutdown() {
      agent.destroy();
    },
  });
}
