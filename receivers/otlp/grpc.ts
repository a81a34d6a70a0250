// OTLP/gRPC: unary Export calls only, which is all OTLP needs, served on the HTTP/2 server of
// ./h2.ts (hand-written; see there for the measurements behind that). Neither @grpc/grpc-js's
// server nor node:http2: at the otelcol testbed rate a bare grpc-js server that acks without
// reading costs 15.7% of a core, a bare node:http2 one 10.9-11.6%, past fleetcol's 10% target
// on their own (bench/otlp-throughput.js --scenarios testbed-floor --floor-impl grpc-js|http2|net).
// The wire format is gRPC's: 5-byte length-prefixed messages, status in trailers.
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import zlib from 'node:zlib';
import type { Logger } from 'pino';
import { RetryableError } from '../../src/consumer.js';
import { DecodeError, type Signal, type Telemetry } from '../../src/pdata/telemetry.js';
import { encodeExportResponse, encodeStatusWithRetryInfo } from '../../src/pdata/rpc.js';
import { listen, parseEndpoint } from '../../src/net.js';
import type { BearerAuth } from './auth.js';
import { H2Connection, H2Error, type H2Handler, type H2Stream } from './h2.js';

const H2_ERROR_NAME: Record<number, string> = Object.fromEntries(Object.entries(H2Error).map(([k, v]) => [v, k]));
import { encodeHeaderBlock } from './hpack.js';
import type { InflightBytes, RequestBytes } from './inflight.js';
import type { Ingest } from './ingest.js';

export interface GrpcConfig {
  endpoint: string;
  max_recv_msg_size: number;
  tls?: { cert_file: string; key_file: string; client_ca_file?: string };
  keepalive?: { server_parameters?: { max_connection_idle?: number; max_connection_age?: number; max_connection_age_grace?: number } };
}

/** A client must send its preface and SETTINGS this soon after connecting (ms). */
const HANDSHAKE_TIMEOUT_MS = 20_000;

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
const MAX_CONCURRENT_STREAMS = 1000;
// Configure-time encoding of the header blocks every call sends.
const OK_HEADERS = encodeHeaderBlock([[':status', '200'], ['content-type', 'application/grpc']]);
const OK_TRAILERS = encodeHeaderBlock([['grpc-status', '0']]);
const NOT_GRPC_HEADERS = encodeHeaderBlock([[':status', '415'], ['content-type', 'text/plain']]);
const NOT_GRPC_BODY = Buffer.from('gRPC requests only (POST, content-type application/grpc)\n');
/** grpc-message is kept to this many characters: a status is no place for a novel. */
const MAX_STATUS_MESSAGE = 1024;

/** grpc-message is percent-encoded: printable ASCII except '%' goes as is. */
function grpcMessage(s: string): string {
  if (s.length > MAX_STATUS_MESSAGE) s = `${s.slice(0, MAX_STATUS_MESSAGE)}...`;
  return /^[\x20-\x24\x26-\x7e]*$/.test(s) ? s : Buffer.from(s, 'utf8').reduce((out, b) => out + (b >= 0x20 && b <= 0x7e && b !== 0x25 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`), '');
}

/** Ends a call with a non-OK status, as a trailers-only response. */
function fail(stream: H2Stream, code: number, message: string, details?: Uint8Array): void {
  if (stream.closed) return;
  const fields: Array<[string, string]> = [[':status', '200'], ['content-type', 'application/grpc'], ['grpc-status', String(code)], ['grpc-message', grpcMessage(message)]];
  if (details) fields.push(['grpc-status-details-bin', Buffer.from(details).toString('base64').replace(/=+$/, '')]);
  stream.respond(encodeHeaderBlock(fields));
}

function reply(stream: H2Stream, message: Uint8Array | undefined): void {
  if (stream.closed) return;
  if (!message || message.length === 0) return stream.respond(OK_HEADERS, EMPTY_MESSAGE, OK_TRAILERS);
  const framed = Buffer.allocUnsafe(5 + message.length);
  framed[0] = 0;
  framed.writeUInt32BE(message.length, 1);
  framed.set(message, 5);
  stream.respond(OK_HEADERS, framed, OK_TRAILERS);
}

export class GrpcServer {
  private server: net.Server | tls.Server | undefined;
  private readonly connections = new Set<H2Connection>();
  /** When each connection reaches max_connection_age (Date.now() ms; ±10 % jitter, so that
   *  clients connected together do not all reconnect together). */
  private readonly ageDeadline = new WeakMap<H2Connection, number>();
  private sweeper: NodeJS.Timeout | undefined;
  private readonly h2Limits = {
    maxConcurrentStreams: MAX_CONCURRENT_STREAMS,
    handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS,
    onInternalError: (err: unknown) => this.logger.error({ err }, 'OTLP/gRPC receiver: internal error; the client connection was closed'),
    onRefused: (what: 'connection' | 'stream', code: number, reason: string) => {
      this.refused(what, H2_ERROR_NAME[code] ?? String(code));
      this.logger.debug({ what, code, reason }, what === 'connection' ? 'HTTP/2 connection ended for a protocol error' : 'HTTP/2 request refused as malformed');
    },
  };

  constructor(
    private readonly cfg: GrpcConfig,
    private readonly ingest: Record<Signal, Ingest>,
    private readonly auth: BearerAuth | undefined,
    private readonly logger: Logger,
    private readonly inflight: InflightBytes,
    /** Counts a connection ended with GOAWAY, or a request refused with RST_STREAM, by error name. */
    private readonly refused: (what: 'connection' | 'stream', code: string) => void = () => {},
    /** read_stall_timeout, ms. */
    private readonly stallMs = 10_000,
  ) {}

  /** Calls whose request is still being read: cut when they make no progress for stallMs. */
  private readonly reading = new Set<GrpcCall>();
  private stallTimer: NodeJS.Timeout | undefined;

  private cutStalled(): void {
    const before = Date.now() - this.stallMs;
    for (const c of this.reading) if (c.lastProgress < before) c.stalled(this.stallMs);
  }

  async start(): Promise<void> {
    const t = this.cfg.tls;
    const { max_connection_idle: idle, max_connection_age: age, max_connection_age_grace: grace } = this.cfg.keepalive?.server_parameters ?? {};
    const limits = [idle, age, grace].filter((v): v is number => v !== undefined && v > 0);
    if (limits.length > 0) {
      this.sweeper = setInterval(() => this.sweep(idle, grace), Math.min(1000, Math.max(25, Math.min(...limits) / 4)));
      this.sweeper.unref();
    }
    this.stallTimer = setInterval(() => this.cutStalled(), Math.max(50, Math.min(1000, this.stallMs / 4)));
    this.stallTimer.unref();
    const accept = (socket: net.Socket) => {
      const conn = new H2Connection(socket, this.h2Limits, (s) => this.onStream(s), (c) => this.connections.delete(c));
      this.connections.add(conn);
      if (age !== undefined && age > 0) this.ageDeadline.set(conn, conn.createdAt + age * (0.9 + 0.2 * Math.random()));
    };
    const server = t
      ? tls.createServer(
          {
            ALPNProtocols: ['h2'],
            cert: readFileSync(t.cert_file),
            key: readFileSync(t.key_file),
            ...(t.client_ca_file ? { ca: readFileSync(t.client_ca_file), requestCert: true, rejectUnauthorized: true } : {}),
          },
          accept,
        )
      : net.createServer(accept);
    // A failed TLS handshake is the client's problem; it must not reach the process.
    server.on('tlsClientError', () => {});
    const { host, port } = parseEndpoint(this.cfg.endpoint, 4317);
    await listen(server, host, port);
    this.server = server;
    this.logger.info({ endpoint: `${host}:${port}`, tls: !!t }, 'OTLP/gRPC receiver listening');
  }

  /** keepalive.server_parameters: GOAWAY to connections idle or old past their limit; connections
   *  whose GOAWAY is older than the grace are closed, calls in flight or not. */
  private sweep(idle: number | undefined, grace: number | undefined): void {
    const now = Date.now();
    for (const c of this.connections) {
      if (c.goAwayAt > 0) {
        if (grace !== undefined && grace > 0 && now - c.goAwayAt >= grace) c.destroy();
        continue;
      }
      const old = (this.ageDeadline.get(c) ?? Infinity) <= now;
      const unused = idle !== undefined && idle > 0 && c.idleSince > 0 && now - c.idleSince >= idle;
      if (old || unused) c.goAway();
    }
  }

  private onStream(stream: H2Stream): void {
    const headers = stream.headers;
    const path = headers[':path']!;
    const signal = PATHS[path];
    const contentType = headers['content-type'] ?? '';
    if (headers[':method'] !== 'POST' || !contentType.startsWith('application/grpc')) {
      stream.handler = NOT_GRPC;
      return;
    }
    if (!signal || !this.ingest[signal].enabled) return fail(stream, Code.UNIMPLEMENTED, `unknown method ${path}`);
    // application/grpc and application/grpc+proto are protobuf; another codec (grpc+json) is not
    // read as if it were.
    const codec = contentType.slice('application/grpc'.length).split(';', 1)[0]!.trim();
    if (codec !== '' && codec !== '+proto') {
      this.ingest[signal].malformed.inc();
      return fail(stream, Code.INVALID_ARGUMENT, `content-type ${contentType.slice(0, 64)}: only protobuf (application/grpc, application/grpc+proto) is served`);
    }
    if (this.auth) {
      const problem = this.auth.check(headers.authorization);
      if (problem) return fail(stream, Code.UNAUTHENTICATED, problem);
    }
    stream.handler = new GrpcCall(this.ingest[signal], this.inflight, this.cfg.max_recv_msg_size, headers['grpc-encoding'] ?? 'identity', stream, this.reading);
  }

  async shutdown(): Promise<void> {
    clearInterval(this.sweeper);
    clearInterval(this.stallTimer);
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    // GOAWAY to every client: calls in flight finish, new ones go elsewhere; then force after 5s.
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        for (const c of this.connections) c.destroy();
      }, 5000);
      s.close(() => {
        clearTimeout(force);
        resolve();
      });
      for (const c of this.connections) c.goAway();
    });
  }
}

/** Answers a request that is not gRPC, once it is complete. */
const NOT_GRPC: H2Handler = {
  data() {},
  end(stream) {
    stream.respond(NOT_GRPC_HEADERS, NOT_GRPC_BODY);
  },
  close() {},
};

/** One Export call: its DATA as it arrives, then the decode and the pipeline's answer. A class,
 *  not closures per call: see H2Handler for why. */
class GrpcCall implements H2Handler {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private declared = -1;
  private refused = false;
  /** Held from the first byte read until the stream closes (answered, failed or cancelled). */
  private readonly held: RequestBytes;
  /** Set once the request is complete and its work started. Until then a close (refused,
   *  cancelled) releases the bytes held; after, the work's end does: a client's cancel must not
   *  release bytes still being decoded. */
  private working = false;

  /** Date.now() of the last DATA (or of the headers). */
  lastProgress = Date.now();

  constructor(
    private readonly ingest: Ingest,
    private readonly inflight: InflightBytes,
    private readonly max: number,
    private readonly encoding: string,
    private readonly stream: H2Stream,
    /** The server's calls being read (see GrpcServer.cutStalled). */
    private readonly reading: Set<GrpcCall>,
  ) {
    this.held = inflight.request(stream.peer);
    reading.add(this);
  }

  /** No DATA for stallMs: cut, and what it held freed (retryable: a slow network may pass). */
  stalled(stallMs: number): void {
    this.reading.delete(this);
    if (this.refused || this.working) return;
    this.refuse();
    const why = `request body made no progress for ${stallMs} ms`;
    fail(this.stream, Code.UNAVAILABLE, why, encodeStatusWithRetryInfo(Code.UNAVAILABLE, why, INFLIGHT_RETRY_MS));
  }

  data(stream: H2Stream, chunk: Buffer): void {
    if (this.refused) return;
    this.lastProgress = Date.now();
    const chunks = this.chunks;
    if (!this.held.take(chunk.length)) {
      const inflight = this.inflight;
      const why = inflight.ofClient(stream.peer) + chunk.length > inflight.perClient
        ? `this client holds max_inflight_bytes_per_client (${inflight.perClient}) of requests; retry later`
        : `receiver holds max_inflight_bytes (${inflight.limit}) of requests; retry later`;
      this.refuse();
      return fail(stream, Code.UNAVAILABLE, why, encodeStatusWithRetryInfo(Code.UNAVAILABLE, why, INFLIGHT_RETRY_MS));
    }
    this.size += chunk.length;
    const { size, max } = this;
    // Refuse as soon as the declared or received length is past the limit, without buffering it.
    if (this.declared < 0 && size >= 5) this.declared = (chunks.length === 0 ? chunk : Buffer.concat([...chunks, chunk])).readUInt32BE(1);
    if (this.declared > max || size > max + 5) {
      this.refused = true;
      chunks.length = 0;
      return fail(stream, Code.RESOURCE_EXHAUSTED, `Received message larger than max (${Math.max(this.declared, size - 5)} vs. ${max})`);
    }
    // A chunk is a view of the session's read buffer (up to 64 KiB), which it keeps alive while
    // the batch holds it, whatever else that read carried. A chunk that is a small part of its
    // read is copied, so what a request retains stays within 16× what it is counted for
    // (max_inflight_bytes, the memory accounting), and in practice close to 1×.
    chunks.push(chunk.length * 16 < chunk.buffer.byteLength ? Buffer.from(chunk) : chunk);
  }

  end(stream: H2Stream): void {
    this.reading.delete(this);
    if (this.refused) return;
    this.working = true;
    void this.run(stream).finally(this.held.release);
  }

  close(): void {
    this.reading.delete(this);
    if (!this.working) this.held.release();
  }

  private refuse(): void {
    this.refused = true;
    this.chunks.length = 0;
    this.held.release();
  }

  /** Decodes the request and hands it on. Its DATA is kept as it arrived (views of the session's
   *  read buffers): an uncompressed message goes on as those chunks, never joined here; the
   *  protobuf scan reads them through reused scratch memory, and batch and exporter keep them as
   *  parts (one fewer buffer per request for the GC; see Telemetry.fromProtoParts). */
  private async run(stream: H2Stream): Promise<void> {
    const { chunks, size, encoding, max, ingest } = this;
    const signal = ingest.signal;
    if (size < 5) return fail(stream, Code.INTERNAL, 'expected one length-prefixed message');
    const head = chunks[0]!.length >= 5 ? chunks[0]! : Buffer.concat(chunks, size).subarray(0, 5);
    const length = head.readUInt32BE(1);
    if (size !== 5 + length) return fail(stream, Code.INTERNAL, `message length ${length} does not match the ${size - 5} bytes received`);
    // The compressed flag is 0 or 1 (gRPC over HTTP/2, Length-Prefixed-Message); anything else is
    // not a message we can read.
    if (head[0]! > 1) {
      ingest.malformed.inc();
      return fail(stream, Code.INTERNAL, `compressed flag ${head[0]} (must be 0 or 1)`);
    }
    let message: Buffer | Buffer[] = dropPrefix(chunks, 5);
    if (head[0] === 1) {
      if (encoding !== 'gzip' && encoding !== 'deflate') return fail(stream, Code.INTERNAL, `compressed message without a supported grpc-encoding ("${encoding}")`);
      const compressed = message.length === 1 ? message[0]! : Buffer.concat(message, length);
      try {
        message = await new Promise<Buffer>((resolve, reject) =>
          (encoding === 'gzip' ? zlib.gunzip : zlib.inflate)(compressed, { maxOutputLength: max }, (err, out) => (err ? reject(err) : resolve(out))),
        );
        this.held.add(message.length); // bounded by max_recv_msg_size
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        if (e.code === 'ERR_BUFFER_TOO_LARGE') return fail(stream, Code.RESOURCE_EXHAUSTED, `Received message larger than max once decompressed (limit ${max})`);
        return fail(stream, Code.INTERNAL, `cannot decompress message: ${e.message}`);
      }
    }
    // A call the client cancelled meanwhile goes no further: it will send it again.
    if (stream.closed) return;
    let batch: Telemetry;
    try {
      batch = await ingest.decode('proto', message);
    } catch (err) {
      if (err instanceof RetryableError) {
        const ms = err.retryAfterMs ?? 1000;
        return fail(stream, Code.UNAVAILABLE, err.message, encodeStatusWithRetryInfo(Code.UNAVAILABLE, err.message, ms));
      }
      const msg = err instanceof DecodeError ? err.message : String(err);
      ingest.malformed.inc();
      return fail(stream, Code.INVALID_ARGUMENT, `malformed ${signal} request: ${msg}`);
    }
    if (stream.closed) return;
    const o = await ingest.push(batch);
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
}

/** The chunks without their first `n` bytes (views, nothing copied). */
function dropPrefix(chunks: Buffer[], n: number): Buffer[] {
  let i = 0;
  while (i < chunks.length && chunks[i]!.length <= n) n -= chunks[i++]!.length;
  const rest = chunks.slice(i);
  if (rest.length > 0 && n > 0) rest[0] = rest[0]!.subarray(n);
  return rest;
}
