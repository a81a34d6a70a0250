// A gRPC client for unary calls, straight on node:http2, for the OTLP exporters.
// Hand-written instead of @grpc/grpc-js's client because of what the throughput benchmark shows
// (bench/otlp-throughput.js): grpc-js takes a message as one Buffer and copies it into a new,
// length-prefixed one, so every batch was copied twice (merged into one buffer, then framed).
// Those copies are ArrayBuffers the GC must find and free, and at full load they drove most of
// fleetcol's mark-compact GCs. Here the 5-byte prefix and the batch's parts are written to the
// stream as they are (Telemetry.protoParts), with no copy at all; see the figures in the commit
// that introduced this file and in bench/README.md.
// The wire format is gRPC's (PROTOCOL-HTTP2): POST, content-type application/grpc, te: trailers,
// one length-prefixed message each way, grpc-status / grpc-message / grpc-status-details-bin in
// the trailers (or in the headers of a trailers-only response).
import http2 from 'node:http2';
import zlib from 'node:zlib';
import { promisify } from 'node:util';

const gzip = promisify(zlib.gzip);
const GZIP_CHUNK = 256 * 1024;
const gunzip = promisify(zlib.gunzip);

/** gRPC status codes. */
export const Status = {
  OK: 0, CANCELLED: 1, UNKNOWN: 2, INVALID_ARGUMENT: 3, DEADLINE_EXCEEDED: 4, NOT_FOUND: 5,
  ALREADY_EXISTS: 6, PERMISSION_DENIED: 7, RESOURCE_EXHAUSTED: 8, FAILED_PRECONDITION: 9,
  ABORTED: 10, OUT_OF_RANGE: 11, UNIMPLEMENTED: 12, INTERNAL: 13, UNAVAILABLE: 14, DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;
const STATUS_NAME: Record<number, string> = Object.fromEntries(Object.entries(Status).map(([k, v]) => [v, k]));

/** A call that ended with a status other than OK. */
export class GrpcError extends Error {
  constructor(
    readonly code: number,
    readonly details: string,
    /** grpc-status-details-bin: an encoded google.rpc.Status, when the server sent one. */
    readonly statusDetails?: Buffer,
  ) {
    super(`${STATUS_NAME[code] ?? `status ${code}`}: ${details}`);
    this.name = 'GrpcError';
  }
}

/** The gRPC code for an HTTP status that did not come with a grpc-status (gRPC's own mapping). */
function codeForHttpStatus(status: number): number {
  switch (status) {
    case 400: return Status.INTERNAL;
    case 401: return Status.UNAUTHENTICATED;
    case 403: return Status.PERMISSION_DENIED;
    case 404: return Status.UNIMPLEMENTED;
    case 429: case 502: case 503: case 504: return Status.UNAVAILABLE;
    default: return Status.UNKNOWN;
  }
}

/** grpc-message is percent-encoded UTF-8. */
function decodeGrpcMessage(s: string): string {
  if (!s.includes('%')) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function headerString(v: string | string[] | number | undefined): string | undefined {
  return v === undefined ? undefined : Array.isArray(v) ? v[0] : String(v);
}

export interface GrpcClientOptions {
  /** host:port */
  address: string;
  /** TLS (https) or plaintext (http). */
  secure: boolean;
  /** tls.connect options: ca, cert, key, rejectUnauthorized, servername, checkServerIdentity. */
  tls?: http2.SecureClientSessionOptions;
  /** :authority sent with each call (default: address). */
  authority?: string;
  /** Metadata sent with every call; keys lower-case. */
  metadata: Record<string, string>;
  /** gzip every request message (grpc-encoding: gzip). */
  gzip: boolean;
  /** zlib level for gzip, 1-9 (default 1). */
  gzipLevel?: number;
  /** Compresses a message (gzip, at gzipLevel) elsewhere, e.g. on a worker thread; absent: zlib's
   *  asynchronous API here (on libuv's thread pool). */
  compress?: (message: readonly Uint8Array[]) => Promise<Uint8Array>;
  /** A PING this often on an idle connection; an unanswered one closes it. 0: never. */
  keepaliveMs: number;
  /** Sent as user-agent. */
  userAgent: string;
}

export interface CallOptions {
  /** Aborting cancels the call (RST_STREAM CANCEL) and rejects it with CANCELLED. */
  signal?: AbortSignal;
}

const PREFIX_UNCOMPRESSED = 0;
const PREFIX_COMPRESSED = 1;

function prefix(flag: number, length: number): Buffer {
  const p = Buffer.allocUnsafe(5);
  p[0] = flag;
  p.writeUInt32BE(length, 1);
  return p;
}

/** Memory an uncompressed request is copied into before it is written, reused from call to call.
 *  The batch's own parts are views of the receiver's socket reads; handed to node:http2, they
 *  would be referenced by its stream and write objects, which V8 keeps until its next
 *  mark-compact, and with them every socket read of the batch: at the otelcol testbed rate that
 *  was all ~7 MB/s of received requests, and a mark-compact every ~1.1 s to free them
 *  (bench/README.md, "what V8 frees young"). A copy costs ~0.1 ms per MB. */
class SendBuffers {
  private readonly free: Buffer[] = [];
  private keptBytes = 0;

  /** At least n bytes. */
  take(n: number): Buffer {
    for (let i = this.free.length - 1; i >= 0; i--) {
      const b = this.free[i]!;
      if (b.length < n) continue;
      this.free.splice(i, 1);
      this.keptBytes -= b.length;
      return b;
    }
    // Whole MiBs, so a buffer fits the next batches of about the same size too.
    return Buffer.allocUnsafeSlow(Math.ceil(n / MiB) * MiB);
  }

  /** Back for reuse, within the bounds; past them it is left to the GC. */
  give(b: Buffer): void {
    if (this.free.length >= MAX_SEND_BUFFERS || this.keptBytes + b.length > MAX_SEND_BUFFER_BYTES) return;
    this.free.push(b);
    this.keptBytes += b.length;
  }
}

const MiB = 1 << 20;
/** Kept for reuse at most: as many as calls usually in flight at a moderate rate, within 32 MiB. */
const MAX_SEND_BUFFERS = 4;
const MAX_SEND_BUFFER_BYTES = 32 * MiB;

interface Connection {
  session: http2.ClientHttp2Session;
  /** Calls in flight on it: while there are any, it keeps the process alive. */
  active: number;
}

/** One HTTP/2 connection, opened on the first call and again after it closes. */
export class GrpcClient {
  private conn: Connection | undefined;
  private readonly headers: http2.OutgoingHttpHeaders;
  private closed = false;
  private readonly sendBuffers = new SendBuffers();

  constructor(private readonly opts: GrpcClientOptions) {
    this.headers = {
      ...opts.metadata,
      ':method': 'POST',
      ':scheme': opts.secure ? 'https' : 'http',
      ':authority': opts.authority ?? opts.address,
      'content-type': 'application/grpc',
      te: 'trailers',
      'user-agent': opts.userAgent,
      'grpc-accept-encoding': 'identity,gzip',
      ...(opts.gzip ? { 'grpc-encoding': 'gzip' } : {}),
    };
  }

  private connect(): Connection {
    const c = this.conn;
    if (c && !c.session.closed && !c.session.destroyed) return c;
    const url = `${this.opts.secure ? 'https' : 'http'}://${this.opts.address}`;
    const session = http2.connect(url, {
      ...this.opts.tls,
      // Responses are small; requests are limited by the server's window, not ours.
      settings: { enablePush: false },
      // Node refuses new streams (ENHANCE_YOUR_CALM) once a session holds this many MiB, and
      // request bodies waiting for the server's flow-control window count: 10 (the default) is
      // a few batches. What is in flight is bounded by the sending queue, not here.
      maxSessionMemory: 1024,
    });
    const conn: Connection = { session, active: 0 };
    this.conn = conn;
    // Errors reach the calls on it (their streams fail); the session is replaced on the next call.
    session.on('error', () => {});
    const forget = () => {
      if (this.conn === conn) this.conn = undefined;
    };
    session.on('close', forget);
    session.on('goaway', forget);
    if (this.opts.keepaliveMs > 0) {
      let unanswered = false;
      const keepalive = setInterval(() => {
        if (session.closed || session.destroyed) return clearInterval(keepalive);
        if (unanswered) return session.destroy(new Error('keepalive ping unanswered'));
        unanswered = true;
        try {
          session.ping((err) => {
            if (!err) unanswered = false;
          });
        } catch {
          session.destroy(); // not connected or closing: let the next call start afresh
        }
      }, this.opts.keepaliveMs);
      keepalive.unref();
      session.on('close', () => clearInterval(keepalive));
    }
    // An idle connection must not keep the process alive; calls in flight hold their own refs.
    session.unref();
    return conn;
  }

  /**
   * One unary call: writes the request message (the concatenation of `message`'s parts, which are
   * written as they are, not copied) and resolves with the response message's bytes. Rejects with
   * a GrpcError: the server's status, UNAVAILABLE when the connection failed, CANCELLED when
   * aborted.
   */
  async unary(path: string, message: readonly Uint8Array[], call: CallOptions = {}): Promise<Buffer> {
    if (this.closed) throw new GrpcError(Status.UNAVAILABLE, 'client is closed');
    if (call.signal?.aborted) throw new GrpcError(Status.CANCELLED, 'call cancelled before it started');
    let body: readonly Uint8Array[];
    /** The copy of an uncompressed request, given back once the call is over. */
    let copy: Buffer | undefined;
    if (this.opts.gzip) {
      let z: Uint8Array;
      if (this.opts.compress) z = await this.opts.compress(message);
      else {
        const whole = message.length === 1 ? message[0]! : Buffer.concat(message);
        // zlib works in output slices of chunkSize, each one trip to libuv's thread and back; a
        // batch compresses to a few hundred KiB, so 256 KiB slices instead of the default 16 KiB
        // take ~17 % less CPU per batch (a 5.9 MB batch: 38 → 32 ms, same output).
        z = await gzip(whole, { level: this.opts.gzipLevel ?? 1, chunkSize: GZIP_CHUNK });
      }
      body = [prefix(PREFIX_COMPRESSED, z.length), z];
    } else {
      let length = 0;
      for (const m of message) length += m.length;
      copy = this.sendBuffers.take(5 + length);
      copy[0] = PREFIX_UNCOMPRESSED;
      copy.writeUInt32BE(length, 1);
      let at = 5;
      for (const m of message) {
        copy.set(m, at);
        at += m.length;
      }
      body = [copy.subarray(0, at)];
    }
    const buffers = this.sendBuffers;
    const giveBack = () => {
      if (copy !== undefined) buffers.give(copy);
      copy = undefined;
    };
    const conn = this.connect();
    const session = conn.session;
    return new Promise<Buffer>((resolve, reject) => {
      let stream: http2.ClientHttp2Stream;
      try {
        stream = session.request({ ...this.headers, ':path': path }, { endStream: false });
      } catch (err) {
        // The session was closing or already destroyed between connect() and here.
        giveBack();
        return reject(new GrpcError(Status.UNAVAILABLE, `cannot start call: ${(err as Error).message}`));
      }
      if (conn.active++ === 0) session.ref();
      let httpStatus = 0;
      let responseEncoding = 'identity';
      let status: number | undefined;
      let statusMessage = '';
      let statusDetails: Buffer | undefined;
      let streamError: Error | undefined;
      let cancelled = false;
      const chunks: Buffer[] = [];

      const readStatus = (h: http2.IncomingHttpHeaders) => {
        const s = headerString(h['grpc-status']);
        if (s === undefined) return;
        status = Number(s);
        statusMessage = decodeGrpcMessage(headerString(h['grpc-message']) ?? '');
        const d = headerString(h['grpc-status-details-bin']);
        if (d) statusDetails = Buffer.from(d, 'base64');
      };
      const onAbort = () => {
        cancelled = true;
        stream.close(http2.constants.NGHTTP2_CANCEL);
      };
      call.signal?.addEventListener('abort', onAbort, { once: true });

      stream.on('response', (h) => {
        httpStatus = Number(h[':status']);
        responseEncoding = headerString(h['grpc-encoding']) ?? 'identity';
        readStatus(h); // trailers-only response
      });
      stream.on('trailers', readStatus);
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('error', (err) => (streamError = err));
      stream.on('close', () => {
        giveBack();
        call.signal?.removeEventListener('abort', onAbort);
        if (--conn.active === 0 && !session.destroyed) session.unref();
        if (cancelled) return reject(new GrpcError(Status.CANCELLED, 'call cancelled'));
        if (status === undefined) {
          if (httpStatus !== 0 && httpStatus !== 200) {
            return reject(new GrpcError(codeForHttpStatus(httpStatus), `server answered HTTP ${httpStatus} without a gRPC status`));
          }
          const rst = stream.rstCode;
          if (httpStatus === 0) {
            const why = streamError?.message ?? (rst ? `stream reset (code ${rst})` : 'connection closed');
            // Nothing was answered: the connection failed or the server refused the stream.
            return reject(new GrpcError(Status.UNAVAILABLE, `no response from ${this.opts.address}: ${why}`));
          }
          const code = rst === http2.constants.NGHTTP2_REFUSED_STREAM ? Status.UNAVAILABLE
            : rst === http2.constants.NGHTTP2_CANCEL ? Status.CANCELLED
            : rst === http2.constants.NGHTTP2_ENHANCE_YOUR_CALM ? Status.RESOURCE_EXHAUSTED
            : Status.INTERNAL;
          return reject(new GrpcError(code, `call ended without a status: ${streamError?.message ?? `stream reset (code ${rst})`}`));
        }
        if (status !== Status.OK) return reject(new GrpcError(status, statusMessage, statusDetails));
        decodeResponse(Buffer.concat(chunks), responseEncoding).then(resolve, reject);
      });

      for (let i = 0; i < body.length - 1; i++) stream.write(body[i]);
      stream.end(body[body.length - 1]);
    });
  }

  /** Closes the connection: calls in flight finish, new ones fail. */
  close(): void {
    this.closed = true;
    this.conn?.session.close();
    this.conn = undefined;
  }
}

/** The response message of a unary call (none: an empty buffer). */
async function decodeResponse(data: Buffer, encoding: string): Promise<Buffer> {
  if (data.length === 0) return data;
  if (data.length < 5) throw new GrpcError(Status.INTERNAL, `response of ${data.length} bytes is shorter than a message prefix`);
  const length = data.readUInt32BE(1);
  if (data.length < 5 + length) throw new GrpcError(Status.INTERNAL, `response message of ${length} bytes is truncated`);
  const message = data.subarray(5, 5 + length);
  if (data[0] !== PREFIX_COMPRESSED) return message;
  if (encoding !== 'gzip') throw new GrpcError(Status.INTERNAL, `compressed response with grpc-encoding "${encoding}"`);
  return gunzip(message);
}
