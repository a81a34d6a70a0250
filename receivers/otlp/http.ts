import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import zlib from 'node:zlib';
import type { Logger } from 'pino';
import { RetryableError } from '../../src/consumer.js';
import { DecodeError, type Signal, type Telemetry } from '../../src/pdata/telemetry.js';
import { encodeExportResponse, encodeStatus, exportResponseJSON } from '../../src/pdata/rpc.js';
import { listen, parseEndpoint } from '../../src/net.js';
import type { BearerAuth } from './auth.js';
import type { InflightBytes } from './inflight.js';
import type { Ingest } from './ingest.js';

export interface HttpConfig {
  endpoint: string;
  max_request_body_size: number;
  tls?: { cert_file: string; key_file: string; client_ca_file?: string };
}

const PATHS: Record<string, Signal> = { '/v1/traces': 'traces', '/v1/metrics': 'metrics', '/v1/logs': 'logs' };
const PROTOBUF = 'application/x-protobuf';
const JSON_TYPE = 'application/json';

/** An error answered with an HTTP status and a google.rpc.Status body. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly grpcCode: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export class HttpServer {
  private server: http.Server | undefined;

  constructor(
    private readonly cfg: HttpConfig,
    private readonly ingest: Record<Signal, Ingest>,
    private readonly auth: BearerAuth | undefined,
    private readonly logger: Logger,
    private readonly inflight: InflightBytes,
    /** read_stall_timeout, ms. */
    private readonly stallMs = 10_000,
  ) {}

  async start(): Promise<void> {
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => void this.handle(req, res);
    const server = this.cfg.tls
      ? https.createServer(
          {
            cert: readFileSync(this.cfg.tls.cert_file),
            key: readFileSync(this.cfg.tls.key_file),
            ...(this.cfg.tls.client_ca_file ? { ca: readFileSync(this.cfg.tls.client_ca_file), requestCert: true, rejectUnauthorized: true } : {}),
          },
          handler,
        )
      : http.createServer(handler);
    server.requestTimeout = 30_000;
    server.headersTimeout = 10_000;
    server.keepAliveTimeout = 65_000;
    const { host, port } = parseEndpoint(this.cfg.endpoint, 4318);
    await listen(server, host, port);
    this.server = server;
    this.logger.info({ endpoint: `${host}:${port}`, tls: !!this.cfg.tls }, 'OTLP/HTTP receiver listening');
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    const asJson = contentType === JSON_TYPE;
    try {
      const path = (req.url ?? '/').split('?')[0]!;
      const signal = PATHS[path];
      if (!signal) throw new HttpError(404, 5, `unknown path ${path} (use /v1/traces, /v1/metrics or /v1/logs)`);
      if (req.method !== 'POST') throw new HttpError(405, 12, `method ${req.method} not allowed, use POST`, { allow: 'POST' });
      if (this.auth) {
        const problem = this.auth.check(req.headers.authorization);
        if (problem) throw new HttpError(401, 16, problem, { 'www-authenticate': 'Bearer' });
      }
      if (contentType !== PROTOBUF && !asJson) {
        throw new HttpError(415, 3, `unsupported content type "${contentType}" (use ${PROTOBUF} or ${JSON_TYPE})`);
      }
      const ingest = this.ingest[signal];
      if (!ingest.enabled) throw new HttpError(404, 12, `no ${signal} pipeline uses this receiver`);
      // Held from the first byte read until the response is done or the connection gone.
      const held = this.inflight.request(req.socket.remoteAddress ?? '');
      res.once('close', held.release);
      const { body, owned } = await readBody(req, this.cfg.max_request_body_size, held.take, this.inflight, this.stallMs);
      let batch: Telemetry;
      try {
        batch = await ingest.decode(asJson ? 'json' : 'proto', body, owned);
      } catch (err) {
        if (err instanceof RetryableError) {
          throw new HttpError(503, 14, err.message, { 'retry-after': String(Math.max(1, Math.ceil((err.retryAfterMs ?? 1000) / 1000))) });
        }
        const msg = err instanceof DecodeError ? err.message : String(err);
        ingest.malformed.inc();
        throw new HttpError(400, 3, `malformed ${signal} request: ${msg}`);
      }
      const o = await ingest.push(batch);
      switch (o.kind) {
        case 'ok': {
          const body = asJson ? exportResponseJSON(signal, o.rejected, o.message) : encodeExportResponse(o.rejected, o.message);
          answer(res, 200, { 'content-type': asJson ? JSON_TYPE : PROTOBUF }, body);
          return;
        }
        case 'invalid':
          throw new HttpError(400, 3, o.message);
        case 'unimplemented':
          throw new HttpError(404, 12, o.message);
        case 'retry':
          throw new HttpError(503, 14, o.message, { 'retry-after': String(Math.max(1, Math.ceil(o.retryAfterMs / 1000))) });
      }
    } catch (err) {
      const e = err instanceof HttpError ? err : new HttpError(500, 13, `internal error: ${(err as Error).message}`);
      if (e.status >= 500 && e.status !== 503) this.logger.error({ err: e.message }, 'OTLP/HTTP request failed');
      const body = asJson ? JSON.stringify({ code: e.grpcCode, message: e.message }) : encodeStatus(e.grpcCode, e.message);
      if (!req.complete) {
        // Stop reading a body we refused; the client gets the answer, then the connection closes.
        res.setHeader('connection', 'close');
        req.resume();
      }
      answer(res, e.status, { 'content-type': asJson ? JSON_TYPE : PROTOBUF, ...e.headers }, body);
    }
  }

  async shutdown(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeIdleConnections();
      setTimeout(() => s.closeAllConnections(), 5000).unref();
    });
  }
}

/** Reads the body, gunzipping if asked, refusing (413) past `limit` bytes after decompression.
 *  Sent uncompressed, it is the chunks it arrived in: a protobuf body goes on as those chunks (see
 *  Telemetry.fromProtoParts), and a worker thread takes them as they are. Decompressed, it is one
 *  buffer. `owned`: nobody else holds the body's memory, so it may be moved to a worker thread. */
function readBody(req: http.IncomingMessage, limit: number, hold: (n: number) => boolean, inflight: InflightBytes, stallMs: number): Promise<{ body: Buffer | Buffer[]; owned: boolean }> {
  const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (encoding === 'identity' && declared > limit) {
    return Promise.reject(tooLarge(limit));
  }
  let source: NodeJS.ReadableStream = req;
  if (encoding === 'gzip') source = req.pipe(zlib.createGunzip());
  else if (encoding === 'deflate') source = req.pipe(zlib.createInflate());
  else if (encoding !== 'identity') return Promise.reject(new HttpError(415, 3, `unsupported content encoding "${encoding}" (use gzip or none)`));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    // A body that makes no progress for stallMs is cut: it would hold its bytes (and its share of
    // max_inflight_bytes) for as long as the client likes.
    const stall = setTimeout(() => fail(new HttpError(408, 4, `request body made no progress for ${stallMs} ms`)), stallMs);
    const fail = (e: Error) => {
      if (done) return;
      done = true;
      clearTimeout(stall);
      if (source !== req) (source as zlib.Gunzip).destroy();
      reject(e);
    };
    source.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) return fail(tooLarge(limit));
      if (!hold(c.length)) {
        const whose = inflight.ofClient(req.socket.remoteAddress ?? '') + c.length > inflight.perClient ? `this client holds max_inflight_bytes_per_client (${inflight.perClient})` : `receiver holds max_inflight_bytes (${inflight.limit})`;
        return fail(new HttpError(503, 14, `${whose} of requests; retry later`, { 'retry-after': '1' }));
      }
      chunks.push(c);
      stall.refresh();
    });
    source.on('end', () => {
      if (done) return;
      done = true;
      clearTimeout(stall);
      // node:http copies each body chunk into a buffer of its own: nobody else holds them.
      if (source === req) resolve({ body: chunks.length === 1 ? chunks[0]! : chunks, owned: true });
      else if (chunks.length === 1) resolve({ body: chunks[0]!, owned: false });
      // Buffer.concat allocates a buffer of its own from 4 KiB up (below, a slice of Node's pool).
      else resolve({ body: Buffer.concat(chunks, size), owned: size >= Buffer.poolSize >>> 1 });
    });
    source.on('error', (e: Error) => fail(new HttpError(400, 3, `cannot read body: ${e.message}`)));
    req.on('aborted', () => fail(new HttpError(400, 3, 'request aborted')));
  });
}

/** The whole response with its Content-Length (writeHead alone would make node send it chunked). */
function answer(res: http.ServerResponse, status: number, headers: http.OutgoingHttpHeaders, body: string | Uint8Array): void {
  const length = typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
  res.writeHead(status, { ...headers, 'content-length': length }).end(body);
}

function tooLarge(limit: number): HttpError {
  return new HttpError(413, 8, `request body exceeds max_request_body_size (${limit} bytes)`);
}
