// An HTTP/2 server (RFC 9113) on node:net for one job: unary gRPC calls, request in, response out.
// Hand-written instead of node:http2 because the throughput benchmark shows node:http2 is the
// bottleneck at the otelcol testbed rate (10k spans/s in 100-span requests, ~100 requests/s): a
// bare node:http2 server that reads each request and answers costs 10.9-11.6 % of a core, more
// than fleetcol's whole target of 10 %, because its per-stream JavaScript (Http2Stream, streams,
// events, header objects) never runs often enough to be optimised. Here a request is one small
// object and the handler its owner gives it (see H2Handler); DATA is handed on as views of the socket's reads; a response is one
// socket write. bench/otlp-throughput.js --floor-impl net|http2 compares the two.
//
// What it implements: the connection preface, SETTINGS (both ways, with ACKs), HEADERS and
// CONTINUATION through HPACK (./hpack.ts), DATA with padding, flow control both ways
// (WINDOW_UPDATE, SETTINGS_INITIAL_WINDOW_SIZE changes), RST_STREAM, PING, PRIORITY (ignored),
// GOAWAY both ways, stream concurrency limit, frame size limits, connection errors answered
// with GOAWAY, and a deadline for the client's preface and SETTINGS. No server push, no client
// trailers beyond END_STREAM, no HTTP/1.1 upgrade.
import type { Socket } from 'node:net';
import { HpackDecoder, HpackError } from './hpack.js';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

const FrameType = { DATA: 0, HEADERS: 1, PRIORITY: 2, RST_STREAM: 3, SETTINGS: 4, PUSH_PROMISE: 5, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8, CONTINUATION: 9 } as const;
const Flag = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4, PADDED: 0x8, PRIORITY: 0x20 } as const;
export const H2Error = {
  NO_ERROR: 0, PROTOCOL_ERROR: 1, INTERNAL_ERROR: 2, FLOW_CONTROL_ERROR: 3, STREAM_CLOSED: 5,
  FRAME_SIZE_ERROR: 6, REFUSED_STREAM: 7, CANCEL: 8, COMPRESSION_ERROR: 9, ENHANCE_YOUR_CALM: 11,
} as const;
const Setting = { HEADER_TABLE_SIZE: 1, ENABLE_PUSH: 2, MAX_CONCURRENT_STREAMS: 3, INITIAL_WINDOW_SIZE: 4, MAX_FRAME_SIZE: 5, MAX_HEADER_LIST_SIZE: 6 } as const;

const DEFAULT_WINDOW = 65535;
const MAX_WINDOW = 2 ** 31 - 1;
/** Frames we accept: the protocol's default, which we do not raise. */
const MAX_FRAME = 16384;
/** What each stream may send before we credit it: OTLP requests are tens of KiB, up to 4 MiB. */
const STREAM_WINDOW = 1 << 20;
/** What the connection may send before we credit it; credited back once half is consumed. */
const CONNECTION_WINDOW = 4 << 20;
const MAX_HEADER_LIST = 65536;
/** A header block may take this many CONTINUATION frames (a flood of empty ones is an attack). */
const MAX_CONTINUATIONS = 64;
/** The pseudo-header fields a request may carry (RFC 9113 §8.3.1). */
const REQUEST_PSEUDO = new Set([':method', ':scheme', ':authority', ':path']);
/** A field name: a token in lowercase (RFC 9113 §8.2.1, RFC 9110 §5.6.2). */
const FIELD_NAME = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;
/** Fields of HTTP/1.1 connections, which HTTP/2 forbids (RFC 9113 §8.2.2). */
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);
/** A field value may not hold CR, LF or NUL (RFC 9113 §8.2.1). */
const BAD_VALUE = /[\0\r\n]/;

export interface H2Limits {
  maxConcurrentStreams: number;
  /** The client's preface and first SETTINGS must arrive within this (ms), or the socket is
   *  closed: a connection that never speaks must not be held forever. */
  handshakeTimeoutMs: number;
  /** A handler threw: the connection is ended with INTERNAL_ERROR and the error handed here to be
   *  logged (a bug in fleetcol must not take the process down with one client's connection). */
  onInternalError?: (err: unknown) => void;
  /** The connection was ended for a protocol error or abuse (GOAWAY with this code), or a request
   *  was refused as malformed (RST_STREAM): counted by the owner. */
  onRefused?: (what: 'connection' | 'stream', code: number, reason: string) => void;
}

/** Frames that cost work but produce no call (a stream reset by the client, an ignored or refused
 *  HEADERS, PING, SETTINGS, PRIORITY, WINDOW_UPDATE, empty DATA, unknown types) are paid for from
 *  a budget of NO_WORK_BURST per connection that refills at NO_WORK_PER_SECOND, plus one for each
 *  answered call. Past it: GOAWAY ENHANCE_YOUR_CALM (rapid reset, CVE-2023-44487, and its kin). */
export const NO_WORK_BURST = 1000;
export const NO_WORK_PER_SECOND = 200;

/** Output the peer has not read past which it is cut off: responses are tens of bytes, so this
 *  much unread means a client that sends (PINGs, SETTINGS, requests) and never reads. */
const MAX_UNREAD_OUTPUT = 1 << 20;

/** What the owner of a request is told about it. An object with methods, one per request (or one
 *  shared by all), never closures made per request: measured at the otelcol testbed rate, closures
 *  that captured the stream and were kept on it outlived their request through every scavenge
 *  until the next mark-compact, and with them the socket reads they held (~7 MB/s, so a
 *  mark-compact every ~1.1 s); with methods the same memory was freed young
 *  (bench/README.md, "what V8 frees young"). */
export interface H2Handler {
  /** DATA as it arrives: views of the connection's socket reads (keep them, do not mutate). */
  data(stream: H2Stream, chunk: Buffer): void;
  /** The request is complete (END_STREAM). */
  end(stream: H2Stream): void;
  /** Closed, for whatever reason (answered, reset by either side, connection lost); once. */
  close(stream: H2Stream): void;
}

/** One request/response exchange. Its owner sets `handler` when the request's headers arrive
 *  (synchronously, in `onRequest`). */
export class H2Stream {
  handler: H2Handler | undefined;
  remoteOpen = true;
  localOpen = true;
  private responded = false;
  /** Flow control of what we send (the peer's window for this stream). */
  sendWindow: number;
  /** Request bytes received since this stream's window was last credited. */
  unacked = 0;
  /** The request's content-length, if it gave one (-1: none), and the body bytes received. */
  contentLength = -1;
  received = 0;
  /** Response frames waiting for send window: DATA payload then the trailer block. */
  private pendingData: Buffer | undefined;
  private pendingTrailers: Buffer | undefined;

  constructor(
    private readonly conn: H2Connection,
    readonly id: number,
    /** Request header fields; a repeated name has its values joined with ", ". */
    readonly headers: Record<string, string>,
    sendWindow: number,
  ) {
    this.sendWindow = sendWindow;
  }

  get closed(): boolean {
    return !this.localOpen;
  }

  /** The client's address (its share of the receiver's limits is counted under it). */
  get peer(): string {
    return this.conn.peer;
  }

  /** Sends the response: a header block (see hpack.encodeHeaderBlock); then, if given, a body;
   *  then, if given, a trailer block. The last of them ends the stream. Once only. */
  respond(headerBlock: Buffer, body?: Buffer, trailerBlock?: Buffer): void {
    if (!this.localOpen || this.responded) return;
    this.responded = true;
    const endWithHeaders = body === undefined && trailerBlock === undefined;
    this.conn.writeHeaders(this.id, headerBlock, endWithHeaders);
    if (endWithHeaders) {
      this.conn.endLocal(this);
      return this.conn.send();
    }
    this.pendingData = body ?? Buffer.alloc(0);
    this.pendingTrailers = trailerBlock;
    this.flush();
    this.conn.send();
  }

  /** Ends the stream with RST_STREAM (e.g. CANCEL when the answer can no longer be sent whole). */
  reset(code: number = H2Error.CANCEL): void {
    if (!this.localOpen) return;
    this.conn.writeRst(this.id, code);
    this.conn.closeStream(this);
    this.conn.send();
  }

  /** Sends what the flow-control windows allow of the pending response; called again on
   *  WINDOW_UPDATE. */
  flush(): void {
    const data = this.pendingData;
    if (data === undefined || !this.localOpen) return;
    const n = Math.min(data.length, this.sendWindow, this.conn.sendWindow);
    if (n < data.length) {
      if (n > 0) {
        this.conn.writeData(this.id, data.subarray(0, n), false);
        this.pendingData = data.subarray(n);
      }
      this.conn.blocked.add(this);
      return;
    }
    this.pendingData = undefined;
    this.conn.blocked.delete(this);
    const trailers = this.pendingTrailers;
    this.pendingTrailers = undefined;
    if (trailers === undefined) this.conn.writeData(this.id, data, true);
    else {
      if (data.length > 0) this.conn.writeData(this.id, data, false);
      this.conn.writeHeaders(this.id, trailers, true);
    }
    this.conn.endLocal(this);
  }
}

const enum Parse {
  Preface,
  Header,
  Payload,
  DataPadLength,
  DataBody,
}

class ConnectionError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** One client connection. `onRequest` is called for each new request with its headers. */
export class H2Connection {
  private readonly streams = new Map<number, H2Stream>();
  /** Streams with response bytes waiting for flow-control window. */
  readonly blocked = new Set<H2Stream>();
  private readonly hpack = new HpackDecoder(4096, MAX_HEADER_LIST);
  private state = Parse.Preface;
  /** Bytes of the frame header or of a non-DATA payload gathered across socket reads. */
  private readonly gather = Buffer.allocUnsafe(MAX_FRAME + 9);
  private gathered = 0;
  private frameType = 0;
  private frameFlags = 0;
  private frameStream = 0;
  private frameLength = 0;
  // DATA frame being delivered: its stream (undefined when discarded), body bytes and padding left.
  private dataStream: H2Stream | undefined;
  private dataLeft = 0;
  /** Body bytes of the DATA frame being read (its length less padding). */
  private dataBody = 0;
  private padLeft = 0;
  // A header block spread over HEADERS + CONTINUATION frames.
  private blockStream = 0;
  private blockFlags = 0;
  private blockParts: Buffer[] = [];
  private blockSize = 0;
  private continuations = 0;
  private settingsSeen = false;
  private lastStreamId = 0;
  /** Flow control of what we send: the peer's connection window and initial stream window. */
  sendWindow = DEFAULT_WINDOW;
  private peerInitialWindow = DEFAULT_WINDOW;
  private peerMaxFrame = 16384;
  /** Flow control of what we receive. */
  private recvWindow = CONNECTION_WINDOW;
  private recvUnacked = 0;
  private goingAway = false;
  private dead = false;
  /** What is left of the no-work budget (see NO_WORK_BURST), and when it was last refilled. */
  private budget = NO_WORK_BURST;
  private budgetAt = Date.now();
  /** Output gathered while one socket read is handled, written once at its end (or at once
   *  when written from outside a read, e.g. an asynchronous response). */
  private out: Buffer[] = [];
  private inRead = false;
  private handshakeTimer: NodeJS.Timeout | undefined;
  /** Date.now() when the connection was accepted. */
  readonly createdAt = Date.now();
  /** Date.now() since which no stream has been open (0 while one is). */
  idleSince = this.createdAt;
  /** Date.now() when a graceful GOAWAY was sent (0: not yet). */
  goAwayAt = 0;
  /** The client's address. */
  readonly peer: string;

  constructor(
    private readonly socket: Socket,
    private readonly limits: H2Limits,
    private readonly onRequest: (stream: H2Stream) => void,
    private readonly onClosed: (conn: H2Connection) => void,
  ) {
    socket.setNoDelay(true);
    this.peer = socket.remoteAddress ?? '';
    this.handshakeTimer = setTimeout(() => {
      if (!this.settingsSeen) this.destroy();
    }, limits.handshakeTimeoutMs);
    this.handshakeTimer.unref();
    socket.on('data', (chunk: Buffer) => this.onRead(chunk));
    socket.on('error', () => {});
    socket.on('close', () => this.onSocketClose());
  }

  /** Our preface, once the client's is read (so a client that is not HTTP/2 gets no frames):
   *  our settings, and the connection window raised from the default 64 KiB. */
  private sendPreface(): void {
    const limits = this.limits;
    const settings = Buffer.alloc(18);
    settings.writeUInt16BE(Setting.MAX_CONCURRENT_STREAMS, 0);
    settings.writeUInt32BE(limits.maxConcurrentStreams, 2);
    settings.writeUInt16BE(Setting.INITIAL_WINDOW_SIZE, 6);
    settings.writeUInt32BE(STREAM_WINDOW, 8);
    settings.writeUInt16BE(Setting.MAX_HEADER_LIST_SIZE, 12);
    settings.writeUInt32BE(MAX_HEADER_LIST, 14);
    this.frame(FrameType.SETTINGS, 0, 0, settings);
    this.windowUpdate(0, CONNECTION_WINDOW - DEFAULT_WINDOW);
  }

  /** Streams open now. */
  get active(): number {
    return this.streams.size;
  }

  // ---- reading ----

  private onRead(chunk: Buffer): void {
    if (this.dead) return;
    this.inRead = true;
    try {
      this.parse(chunk);
    } catch (err) {
      if (err instanceof ConnectionError) this.fail(err.code, err.message);
      else if (err instanceof HpackError) this.fail(H2Error.COMPRESSION_ERROR, err.message);
      else {
        this.fail(H2Error.INTERNAL_ERROR, 'internal error');
        this.limits.onInternalError?.(err);
      }
    } finally {
      this.inRead = false;
      this.send();
    }
  }

  private parse(chunk: Buffer): void {
    let off = 0;
    const end = chunk.length;
    while (off < end && !this.dead) {
      switch (this.state) {
        case Parse.Preface: {
          const n = Math.min(24 - this.gathered, end - off);
          chunk.copy(this.gather, this.gathered, off, off + n);
          this.gathered += n;
          off += n;
          if (this.gathered < 24) break;
          this.gathered = 0;
          if (!this.gather.subarray(0, 24).equals(PREFACE)) return this.notHttp2();
          this.sendPreface();
          this.state = Parse.Header;
          break;
        }
        case Parse.Header: {
          let h: Buffer;
          let at: number;
          if (this.gathered === 0 && end - off >= 9) {
            h = chunk;
            at = off;
            off += 9;
          } else {
            const n = Math.min(9 - this.gathered, end - off);
            chunk.copy(this.gather, this.gathered, off, off + n);
            this.gathered += n;
            off += n;
            if (this.gathered < 9) break;
            this.gathered = 0;
            h = this.gather;
            at = 0;
          }
          this.frameLength = (h[at]! << 16) | (h[at + 1]! << 8) | h[at + 2]!;
          this.frameType = h[at + 3]!;
          this.frameFlags = h[at + 4]!;
          this.frameStream = h.readUInt32BE(at + 5) & 0x7fffffff;
          this.onFrameHeader();
          break;
        }
        case Parse.Payload: {
          const need = this.frameLength;
          if (this.gathered === 0 && end - off >= need) {
            const payload = chunk.subarray(off, off + need);
            off += need;
            this.state = Parse.Header;
            this.onFrame(payload);
            break;
          }
          const n = Math.min(need - this.gathered, end - off);
          chunk.copy(this.gather, this.gathered, off, off + n);
          this.gathered += n;
          off += n;
          if (this.gathered < need) break;
          this.gathered = 0;
          this.state = Parse.Header;
          this.onFrame(this.gather.subarray(0, need));
          break;
        }
        case Parse.DataPadLength: {
          const pad = chunk[off++]!;
          if (pad >= this.frameLength) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'DATA padding longer than the frame');
          this.padLeft = pad;
          this.dataLeft = this.frameLength - 1 - pad;
          this.dataBody = this.dataLeft;
          this.state = Parse.DataBody;
          if (this.dataLeft === 0 && this.padLeft === 0) this.endData();
          break;
        }
        case Parse.DataBody: {
          if (this.dataLeft > 0) {
            const n = Math.min(this.dataLeft, end - off);
            const s = this.dataStream;
            this.dataLeft -= n;
            const piece = chunk.subarray(off, off + n);
            off += n;
            if (s !== undefined && s.remoteOpen) {
              s.received += n;
              if (s.contentLength >= 0 && s.received > s.contentLength) {
                this.malformed(s, 'more DATA than content-length');
                this.dataStream = undefined;
              } else s.handler?.data(s, piece);
            }
          } else {
            const n = Math.min(this.padLeft, end - off);
            this.padLeft -= n;
            off += n;
          }
          if (this.dataLeft === 0 && this.padLeft === 0) this.endData();
          break;
        }
      }
    }
  }

  private onFrameHeader(): void {
    const { frameType: type, frameLength: length, frameStream: id } = this;
    if (this.blockParts.length > 0 || this.blockStream !== 0) {
      if (type !== FrameType.CONTINUATION || id !== this.blockStream) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'expected CONTINUATION');
    }
    if (length > MAX_FRAME) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, `frame of ${length} bytes, past SETTINGS_MAX_FRAME_SIZE ${MAX_FRAME}`);
    if (!this.settingsSeen && type !== FrameType.SETTINGS) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'the first frame must be SETTINGS');
    if (type !== FrameType.DATA) {
      this.state = Parse.Payload;
      if (length === 0) {
        this.state = Parse.Header;
        this.onFrame(this.gather.subarray(0, 0));
      }
      return;
    }
    // DATA: counted against both windows whole (padding included), then handed on as it arrives.
    if (id === 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'DATA on stream 0');
    if (id > this.lastStreamId) throw new ConnectionError(H2Error.PROTOCOL_ERROR, `DATA on idle stream ${id}`);
    this.recvWindow -= length;
    if (this.recvWindow < 0) throw new ConnectionError(H2Error.FLOW_CONTROL_ERROR, 'DATA past the connection window');
    this.recvUnacked += length;
    if (this.recvUnacked >= CONNECTION_WINDOW / 2) {
      this.windowUpdate(0, this.recvUnacked);
      this.recvWindow += this.recvUnacked;
      this.recvUnacked = 0;
    }
    let s = this.streams.get(id);
    if (s !== undefined && !s.remoteOpen) {
      // Half-closed (remote): a stream error. Frames for streams we closed are just dropped.
      this.writeRst(id, H2Error.STREAM_CLOSED);
      this.closeStream(s);
      s = undefined;
    }
    if (s !== undefined) {
      s.unacked += length;
      if (s.unacked > STREAM_WINDOW) {
        this.writeRst(id, H2Error.FLOW_CONTROL_ERROR);
        this.closeStream(s);
        s = undefined;
      } else if (s.unacked >= STREAM_WINDOW / 2 && (this.frameFlags & Flag.END_STREAM) === 0) {
        this.windowUpdate(id, s.unacked);
        s.unacked = 0;
      }
    }
    this.dataStream = s;
    // Small DATA for a stream already closed does no work (the body of a request answered early
    // comes in full frames, which are not charged).
    if (s === undefined && length < 1024) this.noWork('DATA on closed streams');
    if (this.frameFlags & Flag.PADDED) {
      if (length === 0) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, 'padded DATA without a pad length');
      this.state = Parse.DataPadLength;
    } else {
      this.dataLeft = length;
      this.dataBody = length;
      this.padLeft = 0;
      this.state = Parse.DataBody;
      if (length === 0) this.endData();
    }
  }

  private endData(): void {
    this.state = Parse.Header;
    const s = this.dataStream;
    this.dataStream = undefined;
    const end = (this.frameFlags & Flag.END_STREAM) !== 0;
    if (this.dataBody === 0 && !end) this.noWork('empty DATA frames');
    if (s === undefined || !end) return;
    if (s.contentLength >= 0 && s.received !== s.contentLength) return this.malformed(s, `content-length ${s.contentLength}, DATA ${s.received} bytes`);
    this.endRemote(s);
  }

  /** A malformed request (RFC 9113 §8.1.1): a stream error, this request refused. */
  private malformed(s: H2Stream, reason: string): void {
    this.limits.onRefused?.('stream', H2Error.PROTOCOL_ERROR, reason);
    s.reset(H2Error.PROTOCOL_ERROR);
  }

  /** Pays for a frame that does no work (see NO_WORK_BURST); throws once the budget is spent. */
  private noWork(what: string): void {
    if (--this.budget >= 0) return;
    const now = Date.now();
    this.budget = Math.min(NO_WORK_BURST, this.budget + ((now - this.budgetAt) * NO_WORK_PER_SECOND) / 1000);
    this.budgetAt = now;
    if (this.budget < 0) throw new ConnectionError(H2Error.ENHANCE_YOUR_CALM, `too many frames that do no work (${what})`);
  }

  private endRemote(s: H2Stream): void {
    if (!s.remoteOpen) return;
    s.remoteOpen = false;
    s.handler?.end(s);
    if (!s.localOpen) this.closeStream(s);
  }

  private onFrame(p: Buffer): void {
    const id = this.frameStream;
    const flags = this.frameFlags;
    switch (this.frameType) {
      case FrameType.HEADERS: {
        if (id === 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'HEADERS on stream 0');
        let start = 0;
        let stop = p.length;
        if (flags & Flag.PADDED) {
          if (p.length < 1 || p[0]! >= p.length) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'HEADERS padding longer than the frame');
          stop -= p[0]!;
          start = 1;
        }
        if (flags & Flag.PRIORITY) {
          if (stop - start < 5) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, 'HEADERS priority fields missing');
          if ((p.readUInt32BE(start) & 0x7fffffff) === id) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'stream depends on itself');
          start += 5;
        }
        const fragment = p.subarray(start, stop);
        if (flags & Flag.END_HEADERS) return this.onHeaderBlock(id, flags, fragment);
        this.blockStream = id;
        this.blockFlags = flags;
        this.blockParts = [Buffer.from(fragment)];
        this.blockSize = fragment.length;
        this.continuations = 0;
        return;
      }
      case FrameType.CONTINUATION: {
        if (this.blockStream === 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'CONTINUATION without HEADERS');
        this.blockSize += p.length;
        if (this.blockSize > MAX_HEADER_LIST * 2 || ++this.continuations > MAX_CONTINUATIONS) throw new ConnectionError(H2Error.ENHANCE_YOUR_CALM, 'header block too large');
        this.blockParts.push(Buffer.from(p));
        if ((flags & Flag.END_HEADERS) === 0) return;
        const block = Buffer.concat(this.blockParts, this.blockSize);
        const sid = this.blockStream;
        this.blockStream = 0;
        this.blockParts = [];
        this.blockSize = 0;
        return this.onHeaderBlock(sid, this.blockFlags, block);
      }
      case FrameType.SETTINGS:
        return this.onSettings(id, flags, p);
      case FrameType.WINDOW_UPDATE:
        return this.onWindowUpdate(id, p);
      case FrameType.RST_STREAM: {
        if (id === 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'RST_STREAM on stream 0');
        if (p.length !== 4) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, 'RST_STREAM must be 4 bytes');
        if (id > this.lastStreamId) throw new ConnectionError(H2Error.PROTOCOL_ERROR, `RST_STREAM on idle stream ${id}`);
        const s = this.streams.get(id);
        this.noWork('streams reset by the client');
        if (s !== undefined) {
          s.remoteOpen = false;
          this.closeStream(s);
        }
        return;
      }
      case FrameType.PING: {
        if (id !== 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'PING on a stream');
        if (p.length !== 8) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, 'PING must be 8 bytes');
        this.noWork('PING');
        if ((flags & Flag.ACK) === 0) this.frame(FrameType.PING, Flag.ACK, 0, Buffer.from(p));
        return;
      }
      case FrameType.GOAWAY: {
        if (id !== 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'GOAWAY on a stream');
        if (p.length < 8) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, 'GOAWAY shorter than 8 bytes');
        // The client opens no more streams; those open finish, then the connection ends.
        this.goingAway = true;
        if (this.streams.size === 0) this.endSocket();
        return;
      }
      case FrameType.PRIORITY: {
        if (id === 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'PRIORITY on stream 0');
        if (p.length !== 5) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, 'PRIORITY must be 5 bytes');
        this.noWork('PRIORITY');
        // A stream that depends on itself: a stream error (RFC 9113 §5.3.1).
        if ((p.readUInt32BE(0) & 0x7fffffff) === id) {
          const s = this.streams.get(id);
          this.limits.onRefused?.('stream', H2Error.PROTOCOL_ERROR, 'stream depends on itself');
          if (s !== undefined) s.reset(H2Error.PROTOCOL_ERROR);
          else this.writeRst(id, H2Error.PROTOCOL_ERROR);
        }
        return;
      }
      case FrameType.PUSH_PROMISE:
        throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'PUSH_PROMISE from a client');
      default:
        this.noWork('frames of unknown types');
        return; // unknown frame types are ignored (RFC 9113 §4.1)
    }
  }

  private onHeaderBlock(id: number, flags: number, block: Buffer): void {
    // Decoded whatever becomes of the stream: the HPACK table is the connection's. Checked as it is
    // decoded (RFC 9113 §8.2, §8.3): a malformed request is refused, its connection goes on.
    const headers: Record<string, string> = Object.create(null);
    let malformed: string | undefined;
    let regular = false;
    const fits = this.hpack.decode(block, (name, value) => {
      if (malformed !== undefined) return;
      if (name.charCodeAt(0) === 58 /* : */) {
        if (regular) malformed = `pseudo-header ${name} after a regular field`;
        else if (!REQUEST_PSEUDO.has(name)) malformed = `pseudo-header ${name} is not one of a request`;
        else if (headers[name] !== undefined) malformed = `pseudo-header ${name} repeated`;
      } else {
        regular = true;
        if (!FIELD_NAME.test(name)) malformed = 'a field name that is not a lowercase token';
        else if (CONNECTION_SPECIFIC.has(name)) malformed = `connection-specific field ${name}`;
        else if (name === 'te' && value !== 'trailers') malformed = 'te other than "trailers"';
      }
      if (BAD_VALUE.test(value)) malformed = `CR, LF or NUL in the value of ${name}`;
      const had = headers[name];
      headers[name] = had === undefined ? value : `${had}, ${value}`;
    });
    if (!fits) malformed = `header list larger than ${MAX_HEADER_LIST} octets (SETTINGS_MAX_HEADER_LIST_SIZE)`;
    const existing = this.streams.get(id);
    if (existing !== undefined) {
      // Trailers from the client: they must end the stream; their content is not used.
      if (!existing.remoteOpen) return existing.reset(H2Error.STREAM_CLOSED);
      if ((flags & Flag.END_STREAM) === 0) return existing.reset(H2Error.PROTOCOL_ERROR);
      if (malformed !== undefined || Object.keys(headers).some((n) => n.charCodeAt(0) === 58)) return this.malformed(existing, malformed ?? 'pseudo-header in trailers');
      return this.endRemote(existing);
    }
    if ((id & 1) === 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, `HEADERS opening stream ${id} (client streams are odd)`);
    if (id <= this.lastStreamId) {
      // Late trailers (END_STREAM) of a stream we already closed are ignored; anything else on a
      // used id is a request on a stream id lower than one already opened (RFC 9113 §5.1.1).
      if ((flags & Flag.END_STREAM) === 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, `HEADERS on stream ${id}, not above the last stream opened (${this.lastStreamId})`);
      this.noWork('HEADERS on closed streams');
      return;
    }
    this.lastStreamId = id;
    if (this.goingAway) return; // after our GOAWAY, new streams are ignored (the client retries them)
    if (this.streams.size >= this.limits.maxConcurrentStreams) {
      this.noWork('streams refused past SETTINGS_MAX_CONCURRENT_STREAMS');
      return this.writeRst(id, H2Error.REFUSED_STREAM);
    }
    if (malformed === undefined && (headers[':method'] === undefined || headers[':path'] === undefined || headers[':scheme'] === undefined)) malformed = 'missing :method, :scheme or :path';
    const complete = (flags & Flag.END_STREAM) !== 0;
    let contentLength = -1;
    const cl = headers['content-length'];
    if (malformed === undefined && cl !== undefined) {
      contentLength = /^[0-9]{1,15}$/.test(cl) ? Number(cl) : -2;
      if (contentLength === -2) malformed = `content-length "${cl.slice(0, 32)}" is not a number`;
      else if (complete && contentLength !== 0) malformed = `content-length ${contentLength} on a request without DATA`;
    }
    if (malformed !== undefined) {
      this.noWork('malformed requests');
      this.limits.onRefused?.('stream', H2Error.PROTOCOL_ERROR, malformed);
      return this.writeRst(id, H2Error.PROTOCOL_ERROR);
    }
    const s = new H2Stream(this, id, headers, this.peerInitialWindow);
    s.contentLength = contentLength;
    this.streams.set(id, s);
    this.idleSince = 0;
    // A request without a body is complete before the handler sees it, so an answer given at once
    // is not followed by a needless RST_STREAM.
    if (complete) s.remoteOpen = false;
    this.onRequest(s);
    if (complete) s.handler?.end(s);
  }

  private onSettings(id: number, flags: number, p: Buffer): void {
    if (id !== 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'SETTINGS on a stream');
    if (flags & Flag.ACK) {
      if (p.length !== 0) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, 'SETTINGS ACK with a payload');
      return;
    }
    if (p.length % 6 !== 0) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, 'SETTINGS length not a multiple of 6');
    this.noWork('SETTINGS');
    if (!this.settingsSeen) {
      this.settingsSeen = true;
      clearTimeout(this.handshakeTimer);
    }
    for (let i = 0; i < p.length; i += 6) {
      const key = p.readUInt16BE(i);
      const value = p.readUInt32BE(i + 2);
      switch (key) {
        case Setting.ENABLE_PUSH:
          if (value > 1) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'SETTINGS_ENABLE_PUSH must be 0 or 1');
          break;
        case Setting.INITIAL_WINDOW_SIZE: {
          if (value > MAX_WINDOW) throw new ConnectionError(H2Error.FLOW_CONTROL_ERROR, 'SETTINGS_INITIAL_WINDOW_SIZE past 2^31-1');
          const delta = value - this.peerInitialWindow;
          this.peerInitialWindow = value;
          for (const s of this.streams.values()) {
            s.sendWindow += delta;
            if (s.sendWindow > MAX_WINDOW) throw new ConnectionError(H2Error.FLOW_CONTROL_ERROR, `stream ${s.id} window past 2^31-1`);
          }
          break;
        }
        case Setting.MAX_FRAME_SIZE:
          if (value < 16384 || value > 16777215) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'SETTINGS_MAX_FRAME_SIZE out of range');
          this.peerMaxFrame = value;
          break;
        default:
          break; // HEADER_TABLE_SIZE: our encoder uses no dynamic table; the rest are advisory
      }
    }
    this.frame(FrameType.SETTINGS, Flag.ACK, 0, undefined);
    this.flushBlocked();
  }

  private onWindowUpdate(id: number, p: Buffer): void {
    if (p.length !== 4) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, 'WINDOW_UPDATE must be 4 bytes');
    this.noWork('WINDOW_UPDATE');
    const inc = p.readUInt32BE(0) & 0x7fffffff;
    if (id === 0) {
      if (inc === 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'WINDOW_UPDATE of 0');
      this.sendWindow += inc;
      if (this.sendWindow > MAX_WINDOW) throw new ConnectionError(H2Error.FLOW_CONTROL_ERROR, 'connection window past 2^31-1');
      return this.flushBlocked();
    }
    if (id > this.lastStreamId) throw new ConnectionError(H2Error.PROTOCOL_ERROR, `WINDOW_UPDATE on idle stream ${id}`);
    const s = this.streams.get(id);
    if (s === undefined) return;
    if (inc === 0) return s.reset(H2Error.PROTOCOL_ERROR);
    s.sendWindow += inc;
    if (s.sendWindow > MAX_WINDOW) return s.reset(H2Error.FLOW_CONTROL_ERROR);
    s.flush();
  }

  private flushBlocked(): void {
    for (const s of [...this.blocked]) s.flush();
  }

  /** Not an HTTP/2 client (e.g. HTTP/1.1 on the gRPC port): say so in its language, and close. */
  private notHttp2(): void {
    const text = this.gather.subarray(0, 24).toString('latin1');
    if (/^[A-Z]+ \S+ HTTP\/1\.[01]\r?\n/.test(text) || /^[A-Z]+ \//.test(text)) {
      const body = 'this port serves OTLP over gRPC (HTTP/2); OTLP/HTTP is on the receiver\'s http endpoint\n';
      this.socket.end(`HTTP/1.1 505 HTTP Version Not Supported\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
      this.dead = true;
      this.out = [];
      return;
    }
    this.sendPreface();
    this.fail(H2Error.PROTOCOL_ERROR, 'not the HTTP/2 connection preface');
  }

  // ---- writing ----

  private frame(type: number, flags: number, id: number, payload: Buffer | undefined): void {
    const length = payload === undefined ? 0 : payload.length;
    const h = Buffer.allocUnsafe(9);
    h[0] = length >>> 16;
    h[1] = (length >>> 8) & 0xff;
    h[2] = length & 0xff;
    h[3] = type;
    h[4] = flags;
    h.writeUInt32BE(id, 5);
    this.out.push(h);
    if (length > 0) this.out.push(payload!);
  }

  /** Writes the frames gathered, in one socket write; within a socket read, at its end. */
  send(): void {
    if (this.inRead || this.out.length === 0) return;
    const parts = this.out;
    this.out = [];
    if (this.dead || this.socket.destroyed) return;
    this.socket.write(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
    if (this.socket.writableLength > MAX_UNREAD_OUTPUT) this.fail(H2Error.ENHANCE_YOUR_CALM, 'the client does not read what it is sent');
  }

  private windowUpdate(id: number, inc: number): void {
    const p = Buffer.allocUnsafe(4);
    p.writeUInt32BE(inc, 0);
    this.frame(FrameType.WINDOW_UPDATE, 0, id, p);
  }

  writeHeaders(id: number, block: Buffer, endStream: boolean): void {
    const end = endStream ? Flag.END_STREAM : 0;
    if (block.length <= this.peerMaxFrame) return this.frame(FrameType.HEADERS, Flag.END_HEADERS | end, id, block);
    const max = this.peerMaxFrame;
    this.frame(FrameType.HEADERS, end, id, block.subarray(0, max));
    for (let at = max; at < block.length; at += max) {
      const last = at + max >= block.length;
      this.frame(FrameType.CONTINUATION, last ? Flag.END_HEADERS : 0, id, block.subarray(at, at + max));
    }
  }

  /** DATA within the windows (the caller checked them), split at the peer's frame size. */
  writeData(id: number, data: Buffer, endStream: boolean): void {
    this.sendWindow -= data.length;
    const s = this.streams.get(id);
    if (s !== undefined) s.sendWindow -= data.length;
    if (data.length === 0) return this.frame(FrameType.DATA, endStream ? Flag.END_STREAM : 0, id, undefined);
    for (let at = 0; at < data.length; at += this.peerMaxFrame) {
      const last = at + this.peerMaxFrame >= data.length;
      this.frame(FrameType.DATA, last && endStream ? Flag.END_STREAM : 0, id, data.subarray(at, at + this.peerMaxFrame));
    }
  }

  writeRst(id: number, code: number): void {
    const p = Buffer.allocUnsafe(4);
    p.writeUInt32BE(code, 0);
    this.frame(FrameType.RST_STREAM, 0, id, p);
  }

  /** Our side of the stream ended (END_STREAM sent). A request still being sent is cut short
   *  with RST_STREAM NO_ERROR: the answer is complete, the rest of the body is not needed. */
  endLocal(s: H2Stream): void {
    // An answered call earns back one frame of the no-work budget.
    if (this.budget < NO_WORK_BURST) this.budget++;
    if (s.remoteOpen) this.writeRst(s.id, H2Error.NO_ERROR);
    this.closeStream(s);
  }

  closeStream(s: H2Stream): void {
    if (!this.streams.delete(s.id)) return;
    s.localOpen = false;
    s.remoteOpen = false;
    this.blocked.delete(s);
    const h = s.handler;
    s.handler = undefined;
    h?.close(s);
    if (this.streams.size === 0) this.idleSince = Date.now();
    if (this.goingAway && this.streams.size === 0) this.endSocket();
  }

  // ---- ending ----

  /** Graceful: GOAWAY naming the last stream we will answer; the connection ends once they are. */
  goAway(): void {
    if (this.dead || this.goingAway) return;
    if (this.state === Parse.Preface) return this.destroy(); // not yet an HTTP/2 connection
    this.goingAway = true;
    this.goAwayAt = Date.now();
    this.writeGoAway(H2Error.NO_ERROR, '');
    this.send();
    if (this.streams.size === 0) this.endSocket();
  }

  private writeGoAway(code: number, debug: string): void {
    const d = Buffer.from(debug, 'utf8');
    const p = Buffer.allocUnsafe(8 + d.length);
    p.writeUInt32BE(this.lastStreamId, 0);
    p.writeUInt32BE(code, 4);
    d.copy(p, 8);
    this.frame(FrameType.GOAWAY, 0, 0, p);
  }

  /** A connection error: GOAWAY with its code, then close; open streams are abandoned. */
  private fail(code: number, message: string): void {
    if (this.dead) return;
    this.dead = true;
    this.writeGoAway(code, message);
    this.limits.onRefused?.('connection', code, message);
    const parts = this.out;
    this.out = [];
    // Closed after the GOAWAY (RFC 9113 §5.4.1): nothing more is read, so a client that floods on
    // costs nothing past this point. The GOAWAY goes out with a FIN; the socket is destroyed a
    // moment later (destroying it at once, with the flood unread in its buffer, would send a reset
    // that makes the client's TCP drop the GOAWAY before it is read).
    const socket = this.socket;
    if (!socket.destroyed) {
      socket.pause();
      socket.end(Buffer.concat(parts));
      setTimeout(() => socket.destroy(), 2000).unref();
    }
    this.abandonAll();
  }

  private endSocket(): void {
    if (this.dead) return;
    this.inRead = false;
    this.send();
    this.dead = true;
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 5000).unref();
  }

  destroy(): void {
    this.dead = true;
    this.socket.destroy();
    this.abandonAll();
  }

  private abandonAll(): void {
    for (const s of [...this.streams.values()]) this.closeStream(s);
  }

  private onSocketClose(): void {
    this.dead = true;
    clearTimeout(this.handshakeTimer);
    this.abandonAll();
    this.onClosed(this);
  }
}
