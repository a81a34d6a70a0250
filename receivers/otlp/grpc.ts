// OTLP/gRPC served straight on node:http2: unary Export calls only, which is all OTLP needs.
// Hand-written instead of @grpc/grpc-js's server because the throughput benchmark shows grpc-js is
// the bottleneck: at the otelcol testbed rate (10k spans/s in 100-span requests) a bare grpc-js
// server that acks without reading costs 15.7% of a core and 93 MiB RSS, a bare node:http2 one
// 10.8% and 68 MiB (bench/otlp-throughput.js --scenarios testbed-floor,testbed-floor-h2).
// The wire format is gRPC's: 5-byte length-prefixed messages, status in trailers.
import http2 from 'node:http2';
import { readFileSync } from 'node:fs';
import zlib from 'node:zlib';
import type { Logger } from 'pino';
import { RetryableError } from '../../src/consumer.js';
import { DecodeError, type Signal, type Telemetry } from '../../src/pdata/telemetry.js';
import { encodeExportResponse, encodeStatusWithRetryInfo } from '../../src/pdata/rpc.js';
import { listen, parseEndpoint } from '../../src/net.js';
import type { BearerAuth } from './auth.js';
import type { InflightBytes } from './inflight.js';
import type { Ingest } from './ingest.js';

export interface GrpcConfig {
  endpoint: string;
  max_recv_msg_size: number;
  tls?: { cert_file: string; key_file: string; client_ca_file?: string };
}

const PATHS: Record<string, Signal> = {
  '/opentelemetry.proto.collector.trace.v1.TraceService/Export': 'traces',
  '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export': 'metrics',
  '/opentelemetry.proto.collector.logs.v1.LogsService/Export': 'logs',
};

/** gRPC status codes used here. */
const Code = { OK: 0, INVALID_ARGUMENT: 3, RESOURCE_EXHAUSTED: 8, UNIMPLEMENTED: 12, INTERNAL: 13, UNAVAILABLE: 14, UNAUTHENTICATED: 16 } as const;

const EMPTY_MESSAGE = Buffer.from([0, 0, 0, 0, 0]);
/** Retry delay suggested when max_inflight_bytes is reached: requests in flight end quickly. */
const INFLIGHT_RETRY_MS = 200;
const OK_HEADERS = { ':status': 200, 'content-type': 'application/grpc' };
const OK_TRAILERS = { 'grpc-status': '0' };

/** grpc-message is percent-encoded: printable ASCII except '%' goes as is. */
function grpcMessage(s: string): string {
  return /^[\x20-\x24\x26-\x7e]*$/.test(s) ? s : Buffer.from(s, 'utf8').reduce((out, b) => out + (b >= 0x20 && b <= 0x7e && b !== 0x25 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`), '');
}

/** Ends a call with a non-OK status, as a trailers-only response. */
function fail(stream: http2.ServerHttp2Stream, code: number, message: string, details?: Uint8Array): void {
  if (stream.destroyed || stream.closed) return;
  const headers: http2.OutgoingHttpHeaders = { ...OK_HEADERS, 'grpc-status': String(code), 'grpc-message': grpcMessage(message) };
  if (details) headers['grpc-status-details-bin'] = Buffer.from(details).toString('base64').replace(/=+$/, '');
  if (stream.headersSent) stream.close(http2.constants.NGHTTP2_CANCEL);
  else stream.respond(headers, { endStream: true });
}

function reply(stream: http2.ServerHttp2Stream, message: Uint8Array | undefined): void {
  if (stream.destroyed || stream.closed) return;
  stream.respond(OK_HEADERS, { waitForTrailers: true });
  stream.once('wantTrailers', () => stream.sendTrailers(OK_TRAILERS));
  if (!message || message.length === 0) return void stream.end(EMPTY_MESSAGE);
  const prefix = Buffer.allocUnsafe(5);
  prefix[0] = 0;
  prefix.writeUInt32BE(message.length, 1);
  stream.write(prefix);
  stream.end(message);
}

export class GrpcServer {
  private server: http2.Http2Server | http2.Http2SecureServer | undefined;
  private readonly sessions = new Set<http2.ServerHttp2Session>();

  constructor(
    private readonly cfg: GrpcConfig,
    private readonly ingest: Record<Signal, Ingest>,
    private readonly auth: BearerAuth | undefined,
    private readonly logger: Logger,
    private readonly inflight: InflightBytes,
  ) {}

  async start(): Promise<void> {
    const settings: http2.Settings = { initialWindowSize: 1 << 20, maxConcurrentStreams: 1000 };
    const tls = this.cfg.tls;
    const server = tls
      ? http2.createSecureServer({
          settings,
          cert: readFileSync(tls.cert_file),
          key: readFileSync(tls.key_file),
          ...(tls.client_ca_file ? { ca: readFileSync(tls.client_ca_file), requestCert: true, rejectUnauthorized: true } : {}),
        })
      : http2.createServer({ settings });
    server.on('session', (s) => {
      this.sessions.add(s);
      s.on('close', () => this.sessions.delete(s));
      s.on('error', () => {});
      // A larger connection window than the 64 KiB default: OTLP requests are tens of KiB each.
      s.on('connect', () => s.setLocalWindowSize(4 << 20));
    });
    server.on('stream', (stream, headers) => this.onStream(stream, headers));
    const { host, port } = parseEndpoint(this.cfg.endpoint, 4317);
    await listen(server, host, port);
    this.server = server;
    this.logger.info({ endpoint: `${host}:${port}`, tls: !!tls }, 'OTLP/gRPC receiver listening');
  }

  private onStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    stream.on('error', () => {});
    const signal = PATHS[headers[':path'] ?? ''];
    const contentType = String(headers['content-type'] ?? '');
    if (headers[':method'] !== 'POST' || !contentType.startsWith('application/grpc')) {
      stream.respond({ ':status': 415, 'content-type': 'text/plain' }, { endStream: false });
      stream.end('gRPC requests only (POST, content-type application/grpc)');
      return;
    }
    if (!signal || !this.ingest[signal].enabled) {
      stream.resume();
      return fail(stream, Code.UNIMPLEMENTED, `unknown method ${headers[':path']}`);
    }
    if (this.auth) {
      const problem = this.auth.check(typeof headers.authorization === 'string' ? headers.authorization : undefined);
      if (problem) {
        stream.resume();
        return fail(stream, Code.UNAUTHENTICATED, problem);
      }
    }
    const max = this.cfg.max_recv_msg_size;
    const encoding = String(headers['grpc-encoding'] ?? 'identity');
    const chunks: Buffer[] = [];
    let size = 0;
    let declared = -1;
    let refused = false;
    // Held from the first byte read until the stream closes (answered, failed or cancelled).
    const held = this.inflight.request();
    stream.once('close', held.release);
    stream.on('data', (chunk: Buffer) => {
      if (refused) return;
      if (!held.take(chunk.length)) {
        refused = true;
        chunks.length = 0;
        held.release();
        const why = `receiver holds max_inflight_bytes (${this.inflight.limit}) of requests; retry later`;
        return fail(stream, Code.UNAVAILABLE, why, encodeStatusWithRetryInfo(Code.UNAVAILABLE, why, INFLIGHT_RETRY_MS));
      }
      size += chunk.length;
      // Refuse as soon as the declared or received length is past the limit, without buffering it.
      if (declared < 0 && size >= 5) declared = (chunks.length === 0 ? chunk : Buffer.concat([...chunks, chunk])).readUInt32BE(1);
      if (declared > max || size > max + 5) {
        refused = true;
        chunks.length = 0;
        return fail(stream, Code.RESOURCE_EXHAUSTED, `Received message larger than max (${Math.max(declared, size - 5)} vs. ${max})`);
      }
      // A chunk is a view of the session's read buffer (up to 64 KiB), which it keeps alive while
      // the batch holds it, whatever else that read carried. A chunk that is a small part of its
      // read is copied, so what a request retains stays within 16× what it is counted for
      // (max_inflight_bytes, the memory accounting), and in practice close to 1×.
      chunks.push(chunk.length * 16 < chunk.buffer.byteLength ? Buffer.from(chunk) : chunk);
    });
    stream.on('end', () => {
      if (refused) return;
      void this.onMessage(stream, signal, chunks, size, encoding, max, held.add);
    });
  }

  /** `chunks`: the request's DATA as it arrived (views of the session's read buffers), `size`
   *  bytes in all. An uncompressed message goes on as those chunks, never joined here: the
   *  protobuf scan reads them through reused scratch memory, and batch and exporter keep them as
   *  parts (one fewer buffer per request for the GC; see Telemetry.fromProtoParts). */
  private async onMessage(stream: http2.ServerHttp2Stream, signal: Signal, chunks: Buffer[], size: number, encoding: string, max: number, hold: (n: number) => void): Promise<void> {
    if (size < 5) return fail(stream, Code.INTERNAL, 'expected one length-prefixed message');
    const head = chunks[0]!.length >= 5 ? chunks[0]! : Buffer.concat(chunks, size).subarray(0, 5);
    const length = head.readUInt32BE(1);
    if (size !== 5 + length) return fail(stream, Code.INTERNAL, `message length ${length} does not match the ${size - 5} bytes received`);
    let message: Buffer | Buffer[] = dropPrefix(chunks, 5);
    if (head[0] === 1) {
      if (encoding !== 'gzip' && encoding !== 'deflate') return fail(stream, Code.INTERNAL, `compressed message without a supported grpc-encoding ("${encoding}")`);
      const compressed = message.length === 1 ? message[0]! : Buffer.concat(message, length);
      try {
        message = await new Promise<Buffer>((resolve, reject) =>
          (encoding === 'gzip' ? zlib.gunzip : zlib.inflate)(compressed, { maxOutputLength: max }, (err, out) => (err ? reject(err) : resolve(out))),
        );
        hold(message.length); // bounded by max_recv_msg_size
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        if (e.code === 'ERR_BUFFER_TOO_LARGE') return fail(stream, Code.RESOURCE_EXHAUSTED, `Received message larger than max once decompressed (limit ${max})`);
        return fail(stream, Code.INTERNAL, `cannot decompress message: ${e.message}`);
      }
    }
    let batch: Telemetry;
    try {
      batch = await this.ingest[signal].decode('proto', message);
    } catch (err) {
      if (err instanceof RetryableError) {
        const ms = err.retryAfterMs ?? 1000;
        return fail(stream, Code.UNAVAILABLE, err.message, encodeStatusWithRetryInfo(Code.UNAVAILABLE, err.message, ms));
      }
      const msg = err instanceof DecodeError ? err.message : String(err);
      return fail(stream, Code.INVALID_ARGUMENT, `malformed ${signal} request: ${msg}`);
    }
    const o = await this.ingest[signal].push(batch);
    switch (o.kind) {
      case 'ok':
        return reply(stream, o.rejected > 0 ? encodeExportResponse(o.rejected, o.message) : undefined);
      case 'invalid':
        return fail(stream, Code.INVALID_ARGUMENT, o.message);
      case 'unimplemented':
        return fail(stream, Code.UNIMPLEMENTED, o.message);
      case 'retry':
        return fail(stream, Code.UNAVAILABLE, o.message, encodeStatusWithRetryInfo(Code.UNAVAILABLE, o.message, o.retryAfterMs));
    }
  }

  async shutdown(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    // GOAWAY to every client: calls in flight finish, new ones go elsewhere; then force after 5s.
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        for (const session of this.sessions) session.destroy();
      }, 5000);
      s.close(() => {
        clearTimeout(force);
        resolve();
      });
      for (const session of this.sessions) session.close();
    });
  }
}

/** The chunks without their first `n` bytes (views, nothing copied). */
function dropPrefix(chunks: Buffer[], n: number): Buffer[] {
  let i = 0;
  while (i < chunks.length && chunks[i]!.length <= n) n -= chunks[i++]!.length;
  const rest = chunks.slice(i);
  if (rest.length > 0 && n > 0) rest[0] = rest[0]!.subarray(n);
  return rest;
}
