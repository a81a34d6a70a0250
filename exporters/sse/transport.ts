// Where a client's bytes go: an HTTP/1.1 socket (written directly after our own response head, so
// a tick's events leave in one writev with no chunked framing) or an HTTP/2 stream.
import type { Socket } from 'node:net';
import type { ServerHttp2Stream } from 'node:http2';

export interface Sink {
  /** One write carrying every chunk, in order. */
  write(chunks: readonly Buffer[]): void;
  /** Bytes accepted by write() and not yet handed to the kernel. */
  backlog(): number;
  /** True while the transport wants no more until 'drain'. */
  blocked(): boolean;
  onDrain(fn: () => void): void;
  onClose(fn: () => void): void;
  /** Writes `last` (if any), ends the stream, and destroys it if it has not closed after graceMs. */
  close(last: Buffer | undefined, graceMs: number): void;
  readonly closed: boolean;
}

export class SocketSink implements Sink {
  private timer: NodeJS.Timeout | undefined;
  closed = false;
  constructor(private readonly socket: Socket) {
    if (socket.destroyed) this.closed = true; // the client left while it was being authenticated
    socket.once('close', () => {
      this.closed = true;
      if (this.timer) clearTimeout(this.timer);
    });
  }
  write(chunks: readonly Buffer[]): void {
    const s = this.socket;
    if (this.closed || s.destroyed) return;
    if (chunks.length === 1) {
      s.write(chunks[0]!);
      return;
    }
    s.cork();
    for (let i = 0; i < chunks.length; i++) s.write(chunks[i]!);
    s.uncork();
  }
  backlog(): number {
    return this.socket.writableLength;
  }
  blocked(): boolean {
    return this.socket.writableNeedDrain;
  }
  onDrain(fn: () => void): void {
    this.socket.on('drain', fn);
  }
  onClose(fn: () => void): void {
    if (this.closed) queueMicrotask(fn);
    else this.socket.once('close', fn);
  }
  close(last: Buffer | undefined, graceMs: number): void {
    const s = this.socket;
    if (this.closed || s.destroyed) return;
    if (last) s.write(last);
    s.end();
    this.timer = setTimeout(() => s.destroy(), graceMs);
    this.timer.unref();
  }
}

export class StreamSink implements Sink {
  private timer: NodeJS.Timeout | undefined;
  closed = false;
  constructor(private readonly stream: ServerHttp2Stream) {
    if (stream.destroyed || stream.closed) this.closed = true;
    stream.once('close', () => {
      this.closed = true;
      if (this.timer) clearTimeout(this.timer);
    });
  }
  write(chunks: readonly Buffer[]): void {
    if (this.closed || this.stream.destroyed) return;
    this.stream.write(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks as Buffer[]));
  }
  backlog(): number {
    return this.stream.writableLength;
  }
  blocked(): boolean {
    return this.stream.writableNeedDrain;
  }
  onDrain(fn: () => void): void {
    this.stream.on('drain', fn);
  }
  onClose(fn: () => void): void {
    if (this.closed) queueMicrotask(fn);
    else this.stream.once('close', fn);
  }
  close(last: Buffer | undefined, graceMs: number): void {
    const s = this.stream;
    if (this.closed || s.destroyed) return;
    if (last) s.write(last);
    s.end();
    this.timer = setTimeout(() => s.destroy(), graceMs);
    this.timer.unref();
  }
}
