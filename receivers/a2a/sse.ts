// One followed SSE source (a task subscription, a plain feed): connect, parse with
// eventsource-parser, hand each event on and wait for it to be taken before reading on, reconnect
// with exponential backoff and full jitter (at least the server's `retry:`), send Last-Event-ID
// when the source gave ids. A source that is down is retried until the receiver stops; its state
// changes are logged once each and counted.
import type { Logger } from 'pino';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import type { BoundCounter } from '../../src/telemetry/metrics.js';
import { MAX_ID, backoffDelay, clip } from './limits.js';
import { sleep } from './output.js';

export interface SseRequest {
  url: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
}

export type Verdict = 'stop' | 'retry';

export interface SseHandlers {
  /** Before each connect: the request to make, or 'stop'. */
  request(): Promise<SseRequest | 'stop'>;
  /** One event; resolves once it was taken (the stream is not read meanwhile). Returns 'stop' when
   *  the source has nothing more to say (a task reached a terminal state). */
  event(ev: EventSourceMessage): Promise<'stop' | void>;
  /** An answer that is not an event stream (an HTTP error, a JSON-RPC error object). */
  notStream(status: number, body: string): Promise<Verdict>;
  /** The stream ended without 'stop'. */
  ended(): Promise<Verdict>;
}

export interface SseMetrics {
  malformed: BoundCounter;
  reconnects: BoundCounter;
  /** 1 while connected, 0 while down. */
  setUp(up: boolean): void;
}

export interface SseOptions {
  name: string;
  maxEventBytes: number;
  initialMs: number;
  maxMs: number;
  connectTimeoutMs: number;
  logger: Logger;
  metrics: SseMetrics;
}

/** Longest non-stream answer read (an error body). */
const MAX_ERROR_BODY = 64 * 1024;

export class SseSource {
  private lastEventId: string | undefined;
  private retryMs: number | undefined;
  private state: 'new' | 'up' | 'down' = 'new';

  constructor(private readonly opts: SseOptions, private readonly h: SseHandlers) {}

  /** Follows the source until the handlers say stop or `stop` fires. */
  async run(stop: AbortSignal): Promise<void> {
    let attempt = 0;
    while (!stop.aborted) {
      const req = await this.h.request();
      if (req === 'stop') return;
      let verdict: Verdict | 'stop' = 'retry';
      try {
        verdict = await this.once(req, stop, () => (attempt = 0));
      } catch (err) {
        if (stop.aborted) return;
        this.down((err as Error).message);
      }
      if (verdict === 'stop' || stop.aborted) return;
      this.opts.metrics.reconnects.inc();
      await sleep(Math.max(this.retryMs ?? 0, backoffDelay(attempt++, this.opts.initialMs, this.opts.maxMs)), stop);
    }
  }

  private async once(req: SseRequest, stop: AbortSignal, connected: () => void): Promise<Verdict | 'stop'> {
    const ctl = new AbortController();
    const onStop = () => ctl.abort();
    stop.addEventListener('abort', onStop, { once: true });
    const timer = setTimeout(() => ctl.abort(new Error(`no response within ${this.opts.connectTimeoutMs} ms`)), this.opts.connectTimeoutMs);
    try {
      const headers: Record<string, string> = { accept: 'text/event-stream', ...req.headers };
      if (this.lastEventId !== undefined) headers['last-event-id'] = this.lastEventId;
      if (req.body !== undefined) headers['content-type'] ??= 'application/json';
      const res = await fetch(req.url, { method: req.method, headers, body: req.body, signal: ctl.signal, redirect: 'error' });
      clearTimeout(timer);
      const type = (res.headers.get('content-type') ?? '').toLowerCase();
      if (!res.ok || !type.startsWith('text/event-stream') || !res.body) {
        const body = await readCapped(res, MAX_ERROR_BODY);
        const v = await this.h.notStream(res.status, body);
        if (v === 'retry') this.down(`HTTP ${res.status}${type.startsWith('text/event-stream') ? '' : ` (${type || 'no content type'})`}`);
        return v;
      }
      this.up();
      connected();
      return await this.read(res.body, ctl);
    } finally {
      clearTimeout(timer);
      stop.removeEventListener('abort', onStop);
      ctl.abort();
    }
  }

  private async read(body: ReadableStream<Uint8Array>, ctl: AbortController): Promise<Verdict | 'stop'> {
    const queue: EventSourceMessage[] = [];
    let overflow = false;
    let skipNext = false;
    const parser = createParser({
      maxBufferSize: this.opts.maxEventBytes,
      onEvent: (ev) => queue.push(ev),
      onRetry: (ms) => {
        if (Number.isFinite(ms) && ms >= 0) this.retryMs = Math.min(ms, this.opts.maxMs);
      },
      onError: (e) => {
        if (e.type === 'max-buffer-size-exceeded') overflow = true;
      },
    });
    const reader = body.getReader();
    const decoder = new TextDecoder();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        parser.feed(decoder.decode(value, { stream: true }));
        if (overflow) {
          // An event past the cap: dropped, counted; what is left of it ends at its blank line,
          // so the next event the parser completes is that tail and is dropped too.
          overflow = false;
          skipNext = true;
          this.opts.metrics.malformed.inc();
          parser.reset({ consume: false });
        }
        while (queue.length > 0) {
          const ev = queue.shift()!;
          if (ev.id !== undefined) this.lastEventId = ev.id === '' ? undefined : clip(ev.id, MAX_ID);
          if (skipNext) {
            skipNext = false;
            continue;
          }
          if (ev.data.length > this.opts.maxEventBytes) {
            this.opts.metrics.malformed.inc();
            continue;
          }
          if ((await this.h.event(ev)) === 'stop') return 'stop';
        }
      }
    } catch (err) {
      if (ctl.signal.aborted) throw new Error('aborted');
      throw err;
    } finally {
      reader.cancel().catch(() => {});
    }
    this.down('stream ended');
    return this.h.ended();
  }

  private up(): void {
    if (this.state !== 'up') this.opts.logger.info({ source: this.opts.name }, 'a2a source connected');
    this.state = 'up';
    this.opts.metrics.setUp(true);
  }

  private down(why: string): void {
    if (this.state !== 'down') this.opts.logger.warn({ source: this.opts.name, err: clip(why, 256) }, 'a2a source down; retrying with backoff');
    this.state = 'down';
    this.opts.metrics.setUp(false);
  }
}

/** The first `limit` bytes of a body, as text; the rest is not read. */
export async function readCapped(res: Response, limit: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let n = 0;
  try {
    while (n < limit) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      n += value.length;
    }
  } finally {
    reader.cancel().catch(() => {});
  }
  return Buffer.concat(chunks).subarray(0, limit).toString('utf8');
}
