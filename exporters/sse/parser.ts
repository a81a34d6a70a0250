// A Server-Sent-Events stream parser and a minimal HTTP/1.1 client over it: what `fleetcol tail`
// and the tests use to follow a feed without a browser.
import http from 'node:http';

export interface SseMessage {
  /** The id field of this message, if it had one. */
  id: string | undefined;
  /** The stream's last event id after this message (EventSource's lastEventId). */
  lastEventId: string;
  event: string;
  data: string;
}

export class SseParser {
  private buf = '';
  private id: string | undefined;
  private event = '';
  private data: string[] = [];
  private sawField = false;
  lastEventId = '';
  retry: number | undefined;
  comments = 0;

  constructor(private readonly onMessage: (m: SseMessage) => void, private readonly onRetry?: (ms: number) => void) {}

  push(chunk: string): void {
    this.buf += chunk;
    let nl: number;
    while ((nl = this.buf.search(/\r\n|\r|\n/)) >= 0) {
      const line = this.buf.slice(0, nl);
      const len = this.buf[nl] === '\r' && this.buf[nl + 1] === '\n' ? 2 : 1;
      if (this.buf[nl] === '\r' && nl + 1 === this.buf.length) break; // maybe a CRLF split across chunks
      this.buf = this.buf.slice(nl + len);
      this.line(line);
    }
  }

  private line(line: string): void {
    if (line === '') {
      if (this.sawField && this.data.length > 0) {
        this.onMessage({ id: this.id, lastEventId: this.lastEventId, event: this.event || 'message', data: this.data.join('\n') });
      }
      this.id = undefined;
      this.event = '';
      this.data = [];
      this.sawField = false;
      return;
    }
    if (line.startsWith(':')) {
      this.comments++;
      return;
    }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    this.sawField = true;
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.event = value;
    else if (field === 'id') {
      if (!value.includes('\0')) {
        this.id = value;
        this.lastEventId = value;
      }
    } else if (field === 'retry' && /^\d+$/.test(value)) {
      this.retry = Number(value);
      this.onRetry?.(this.retry);
    }
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
