// Follows a Server-Sent-Events feed the way EventSource does: one GET, the stream parsed with
// eventsource-parser, the last event id kept, and on a dropped or closed stream a new GET with
// `Last-Event-ID` after the server's `retry:` delay. While the server cannot be reached (refused,
// 5xx, 429, no answer) the delay grows with jittered exponential backoff up to a cap. It gives up
// only on an answer that asking again cannot change (401, 403, 404, 400, not an event stream, a
// certificate that does not verify) and reports it to the caller.
import http from 'node:http';
import https from 'node:https';
import { createParser, type ParseError } from 'eventsource-parser';

export interface FeedMessage {
  /** The message's `id:` field; undefined when it had none (it then leaves lastEventId as it was). */
  id: string | undefined;
  /** `event:`, or `message` when absent (as EventSource). */
  event: string;
  data: string;
}

/** Why run() returned. */
export type FollowEnd =
  | { kind: 'stopped' }
  /** An HTTP answer other than the stream that retrying would not change. */
  | { kind: 'refused'; status: number; statusText: string; body: string }
  /** Not an event stream, or a TLS failure: no point in retrying. */
  | { kind: 'failed'; message: string };

export interface FollowOptions {
  url: URL;
  /** Sent with every request (e.g. authorization). */
  headers?: Record<string, string>;
  /** Reconnection time until the server sends `retry:` (EventSource's default is a few seconds). */
  retryMs?: number;
  /** Longest wait between two attempts, whatever the server or the backoff says. */
  maxDelayMs?: number;
  /** Longest wait for the response head. */
  connectTimeoutMs?: number;
  /** Characters one event may buffer before the stream is treated as broken. */
  maxEventChars?: number;
}

export interface FollowHooks {
  onEvent(m: FeedMessage): void;
  /** The stream is gone (or could not be opened); the next attempt is in delayMs. */
  onDrop?(info: { reason: string; delayMs: number; failures: number }): void;
  /** Called after each chunk: a promise pauses reading until it settles (the output is full). */
  backpressure?(): Promise<unknown> | undefined;
}

type Attempt = { kind: 'dropped'; reason: string; gotEvents: boolean; retryAfterMs?: number } | Exclude<FollowEnd, { kind: 'stopped' }>;

const MAX_ERROR_BODY = 64 * 1024;
/** Status codes worth another try later (the server is busy, restarting or overloaded). */
const RETRYABLE = new Set([408, 425, 429, 500, 502, 503, 504]);
/** Connection errors that another attempt would only repeat. */
const FATAL_CODES = /^(ERR_TLS_|ERR_SSL_|CERT_|DEPTH_ZERO_SELF_SIGNED_CERT$|SELF_SIGNED_CERT_IN_CHAIN$|UNABLE_TO_(GET_ISSUER_CERT|VERIFY_LEAF_SIGNATURE)|ERR_INVALID_URL$|EPROTO$)/;

export class Follower {
  /** EventSource's lastEventId: sent as Last-Event-ID on every reconnection. */
  lastEventId = '';
  /** The reconnection time, as the server last set it with `retry:`. */
  retryMs: number;
  private readonly maxDelayMs: number;
  private idleMs = 0;
  private stopped = false;
  private abort: (() => void) | undefined;
  private wake: (() => void) | undefined;

  constructor(
    private readonly opts: FollowOptions,
    private readonly hooks: FollowHooks,
  ) {
    this.retryMs = opts.retryMs ?? 3000;
    this.maxDelayMs = opts.maxDelayMs ?? 30_000;
  }

  /** A stream that brings nothing (no event, no comment) for this long is dropped and reopened; 0: never. */
  setIdleTimeout(ms: number): void {
    this.idleMs = ms;
  }

  /** Ends the current stream or wait; run() then resolves with `stopped`. */
  stop(): void {
    this.stopped = true;
    this.abort?.();
    this.wake?.();
  }

  async run(): Promise<FollowEnd> {
    let failures = 0;
    while (!this.stopped) {
      const r = await this.attempt();
      if (this.stopped) break;
      if (r.kind !== 'dropped') return r;
      let delay: number;
      if (r.gotEvents) {
        // The stream was up: come back after the server's retry (spread by the server at shutdown).
        failures = 0;
        delay = Math.min(this.retryMs, this.maxDelayMs);
      } else {
        failures++;
        const base = Math.max(this.retryMs, r.retryAfterMs ?? 0, 100);
        const grown = Math.min(this.maxDelayMs, base * 2 ** Math.min(failures - 1, 16));
        delay = Math.round(grown / 2 + (Math.random() * grown) / 2);
        if (r.retryAfterMs !== undefined) delay = Math.max(delay, Math.min(r.retryAfterMs, this.maxDelayMs));
      }
      this.hooks.onDrop?.({ reason: r.reason, delayMs: delay, failures });
      if (this.stopped) break;
      await this.sleep(delay);
    }
    return { kind: 'stopped' };
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wake = done;
    }).then(() => {
      this.wake = undefined;
    });
  }

  /** One GET: resolves when the stream is over, or with the answer that ends the follow. */
  private attempt(): Promise<Attempt> {
    const { url } = this.opts;
    const headers: Record<string, string> = { accept: 'text/event-stream', 'cache-control': 'no-store', ...this.opts.headers };
    if (this.lastEventId !== '') headers['last-event-id'] = this.lastEventId;
    const get = url.protocol === 'https:' ? https.get : http.get;
    return new Promise<Attempt>((resolve) => {
      let settled = false;
      let gotEvents = false;
      let idle: NodeJS.Timeout | undefined;
      const finish = (a: Attempt) => {
        if (settled) return;
        settled = true;
        clearTimeout(connect);
        if (idle) clearTimeout(idle);
        this.abort = undefined;
        req.destroy();
        resolve(a);
      };
      const dropped = (reason: string) => finish({ kind: 'dropped', reason, gotEvents });
      const req = get(url, { headers, agent: false });
      const connect = setTimeout(() => dropped(`no answer within ${Math.round((this.opts.connectTimeoutMs ?? 10_000) / 1000)}s`), this.opts.connectTimeoutMs ?? 10_000);
      this.abort = () => finish({ kind: 'dropped', reason: 'stopped', gotEvents });
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (typeof err.code === 'string' && FATAL_CODES.test(err.code)) finish({ kind: 'failed', message: err.message });
        else dropped(err.message || err.code || 'connection error');
      });
      req.on('response', (res) => {
        clearTimeout(connect);
        const status = res.statusCode ?? 0;
        const type = String(res.headers['content-type'] ?? '');
        if (status !== 200 || !/^text\/event-stream\b/i.test(type)) {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => {
            if (body.length < MAX_ERROR_BODY) body += d;
          });
          res.on('error', () => {});
          res.on('end', () => {
            if (status === 200) finish({ kind: 'failed', message: `not an event stream (content-type: ${type || 'none'})` });
            else if (RETRYABLE.has(status)) finish({ kind: 'dropped', reason: `${status} ${res.statusMessage ?? ''}`.trim(), gotEvents: false, retryAfterMs: retryAfter(res.headers['retry-after']) });
            else finish({ kind: 'refused', status, statusText: res.statusMessage ?? '', body: body.slice(0, MAX_ERROR_BODY) });
          });
          res.on('close', () => dropped('connection closed'));
          return;
        }
        const armIdle = () => {
          if (idle) clearTimeout(idle);
          idle = this.idleMs > 0 ? setTimeout(() => dropped(`no data for ${Math.round(this.idleMs / 1000)}s`), this.idleMs) : undefined;
        };
        const parser = createParser({
          onEvent: (e) => {
            if (settled) return;
            if (e.id !== undefined) this.lastEventId = e.id;
            gotEvents = true;
            this.hooks.onEvent({ id: e.id, event: e.event ?? 'message', data: e.data });
          },
          onRetry: (ms) => {
            this.retryMs = ms;
          },
          onError: (err: ParseError) => {
            if (err.type === 'max-buffer-size-exceeded') dropped('an event larger than the client takes');
          },
          maxBufferSize: this.opts.maxEventChars ?? 16 * 1024 * 1024,
        });
        res.setEncoding('utf8');
        armIdle();
        res.on('data', (chunk: string) => {
          if (settled) return;
          parser.feed(chunk);
          if (settled) return;
          armIdle(); // after feeding: the first event may have set the idle timeout
          const full = this.hooks.backpressure?.();
          if (full) {
            // Stop reading while the output is full; the server holds or coalesces meanwhile.
            res.pause();
            if (idle) clearTimeout(idle);
            const go = () => {
              if (settled) return;
              armIdle();
              res.resume();
            };
            full.then(go, go);
          }
        });
        res.on('end', () => dropped('the server closed the stream'));
        res.on('error', (err) => dropped(err.message));
        res.on('close', () => dropped('connection closed'));
      });
    });
  }
}

/** Retry-After as seconds or an HTTP date; undefined when absent or unreadable. */
function retryAfter(v: string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}
