// A minimal HTTP/1.1 client for Server-Sent-Events feeds, parsing with eventsource-parser: how the
// tests follow a feed without a browser (and what `fleetcol tail` can reuse).
import http from 'node:http';
import { createParser, type EventSourceParser } from 'eventsource-parser';

export interface SseMessage {
  /** The id field of this message, if it had one. */
  id: string | undefined;
  /** The stream's last event id after this message (EventSource's lastEventId). */
  lastEventId: string;
  event: string;
  data: string;
}

/** Follows an event stream with `eventsource-parser`, tracking EventSource's lastEventId. */
export class SseParser {
  private readonly parser: EventSourceParser;
  lastEventId = '';
  retry: number | undefined;
  comments = 0;

  constructor(onMessage: (m: SseMessage) => void, onRetry?: (ms: number) => void) {
    this.parser = createParser({
      onEvent: (e) => {
        if (e.id !== undefined) this.lastEventId = e.id;
        onMessage({ id: e.id, lastEventId: this.lastEventId, event: e.event || 'message', data: e.data });
      },
      onRetry: (ms) => {
        this.retry = ms;
        onRetry?.(ms);
      },
      onComment: () => void this.comments++,
    });
  }

  push(chunk: string): void {
    this.parser.feed(chunk);
  }
}

export interface ParsedEvent {
  id: string | undefined;
  lastEventId: string;
  type: string;
  data: any;
  /** Date.now() when it was parsed. */
  at: number;
}

export interface RawStream {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The JSON body when the status was not 200. */
  body: string;
  events: ParsedEvent[];
  retries: number[];
  comments(): number;
  ended: Promise<void>;
  isEnded(): boolean;
  lastEventId(): string;
  close(): void;
  req: http.ClientRequest;
  res: http.IncomingMessage | undefined;
}

/** Opens `url` (GET) and parses what comes back; resolves once the response head is in. */
export function openStream(url: string, headers: Record<string, string> = {}, opts: { paused?: boolean } = {}): Promise<RawStream> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { accept: 'text/event-stream', ...headers }, agent: false });
    req.once('error', reject);
    req.once('response', (res) => {
      let endedFlag = false;
      let onEnd!: () => void;
      const ended = new Promise<void>((r) => (onEnd = r));
      const s: RawStream = {
        status: res.statusCode ?? 0,
        headers: res.headers,
        body: '',
        events: [],
        retries: [],
        comments: () => parser.comments,
        ended,
        isEnded: () => endedFlag,
        lastEventId: () => parser.lastEventId,
        close: () => {
          req.destroy();
          res.destroy();
        },
        req,
        res,
      };
      const parser = new SseParser(
        (m) => s.events.push({ id: m.id, lastEventId: m.lastEventId, type: m.event, data: safeJson(m.data), at: Date.now() }),
        (ms) => s.retries.push(ms),
      );
      res.setEncoding('utf8');
      const done = () => {
        if (!endedFlag) {
          endedFlag = true;
          onEnd();
        }
      };
      res.on('end', done);
      res.on('close', done);
      res.on('error', done);
      req.on('error', done);
      if (s.status === 200) res.on('data', (d: string) => parser.push(d));
      else res.on('data', (d: string) => (s.body += d));
      if (opts.paused) res.pause();
      resolve(s);
    });
  });
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
}
