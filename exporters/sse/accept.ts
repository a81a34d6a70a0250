// The plain-HTTP front door. A stream is long-lived and mostly idle, so what each one costs in
// memory matters (thousands of dashboards): `GET /v1/events` as the first request of a connection
// is read straight off the socket and answered on it, without node:http's parser, request and
// response objects; any other request (and everything after it on that connection) is handed to
// the node:http server untouched (its bytes are put back with unshift).
import type http from 'node:http';
import type { Socket } from 'node:net';
import { SseError } from './errors.js';
import { SocketSink, type Sink } from './transport.js';

const MAX_HEAD = 16 * 1024;
const HEAD_TIMEOUT_MS = 10_000;
const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 429: 'Too Many Requests', 500: 'Internal Server Error', 503: 'Service Unavailable' };

export interface RawRequest {
  method: string;
  target: string;
  headers: http.IncomingHttpHeaders;
}

/** Parses a request head (up to the blank line); undefined if it is not plain HTTP/1.x. */
export function parseHead(head: string): RawRequest | undefined {
  const lines = head.split('\r\n');
  const m = /^([A-Z]+) (\S+) HTTP\/1\.[01]$/.exec(lines[0] ?? '');
  if (!m) return undefined;
  const headers: Record<string, string> = {};
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) return undefined;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = name in headers ? `${headers[name]}${name === 'cookie' ? '; ' : ', '}${value}` : value;
  }
  return { method: m[1]!, target: m[2]!, headers };
}

/** The stream's response head, then the socket as the stream's sink. */
export function rawOpen(socket: Socket, extra: Record<string, string>): Sink {
  socket.setNoDelay(true);
  socket.setTimeout(0);
  socket.write(rawHead(extra));
  return new SocketSink(socket);
}

/** The stream's response head (HTTP/1.1, no chunked framing: the connection ends the stream). */
export function rawHead(extra: Record<string, string>): string {
  let head = 'HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\ncache-control: no-store\r\nx-accel-buffering: no\r\nconnection: close\r\n';
  for (const [k, v] of Object.entries(extra)) head += `${k}: ${v}\r\n`;
  return head + '\r\n';
}

export function rawFail(socket: Socket, err: SseError, extra: Record<string, string>): void {
  if (socket.destroyed) return;
  const body = err.body();
  let head = `HTTP/1.1 ${err.status} ${STATUS_TEXT[err.status] ?? 'Error'}\r\ncontent-type: application/json\r\ncache-control: no-store\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n`;
  for (const [k, v] of Object.entries({ ...extra, ...err.headers })) head += `${k}: ${v}\r\n`;
  socket.end(`${head}\r\n${body}`);
}

/**
 * Reads the first request head of a fresh connection; calls `stream` for `GET /v1/events`,
 * else hands the connection to `server`.
 */
export function accept(socket: Socket, server: http.Server, stream: (socket: Socket, req: RawRequest) => void): void {
  let buf: Buffer = Buffer.alloc(0);
  const timer = setTimeout(() => socket.destroy(), HEAD_TIMEOUT_MS);
  const handOver = () => {
    cleanup();
    if (buf.length > 0) socket.unshift(buf);
    server.emit('connection', socket);
    socket.resume();
  };
  const cleanup = () => {
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('error', onError);
    socket.off('end', onEnd);
  };
  const onError = () => {
    cleanup();
    socket.destroy();
  };
  const onEnd = () => {
    cleanup();
    socket.destroy();
  };
  const onData = (chunk: Buffer) => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0) {
      if (buf.length > MAX_HEAD) handOver(); // let node:http answer 431
      return;
    }
    const req = parseHead(buf.toString('latin1', 0, end));
    const path = req ? req.target.split('?')[0] : undefined;
    if (!req || req.method !== 'GET' || path !== '/v1/events' || end + 4 !== buf.length || 'upgrade' in req.headers) {
      socket.pause();
      handOver();
      return;
    }
    cleanup();
    socket.on('error', () => {});
    buf = Buffer.alloc(0);
    stream(socket, req);
  };
  socket.on('data', onData);
  socket.on('error', onError);
  socket.on('end', onEnd);
}
