// One subscription to GET /v1/events: its filters, its EventSource, and whatever keeps it going.
// - Resume: the id of the last event received is the resume point. Without tickets the browser's
//   own reconnect sends it as Last-Event-ID; with tickets (spent once used) the page opens a new
//   EventSource with a fresh ticket and `last_event_id=`.
// - Exactly once: ids are `<epoch>-<seq>` and arrive in order, so an event whose seq is not past
//   the last one of its epoch was already delivered (an overlap after a reconnect) and is dropped.
// - State: connecting, live, reconnecting, reset, login (the token is gone or refused). Any event
//   received means the stream is up, so "reconnecting" never stays on while events arrive.
import { TokenError, type Auth } from './auth.js';
import type { Data } from './format.js';

export const EVENT_TYPES = [
  'subscription_confirmed', 'agent_online', 'agent_offline', 'status_change', 'task_started', 'progress_update',
  'task_completed', 'task_failed', 'span', 'error', 'alert', 'metrics_update', 'heartbeat', 'auth_expired', 'reset',
] as const;

export interface Filters {
  agent: string[];
  type: string[];
  minSeverity: string;
}

export const NO_FILTERS: Filters = { agent: [], type: [], minSeverity: '' };
export const filtered = (f: Filters) => f.agent.length > 0 || f.type.length > 0 || f.minSeverity !== '';

export interface FeedEvent {
  /** `<epoch>-<seq>`; '' for auth_expired (it has no id). */
  id: string;
  epoch: string;
  seq: number;
  type: string;
  data: Data;
}

export type Phase = 'connecting' | 'live' | 'reconnecting' | 'reset' | 'login';

export interface ConnState {
  phase: Phase;
  /** The id the stream resumed from, when it did (after a reconnect). */
  resumedFrom?: string;
  detail?: string;
  /** When the stream's credentials expire (ms), with auth. */
  expiresAt?: number;
}

/** What tests read (`window.feed`): every delivery, bounded. */
export interface FeedHook {
  opens: number;
  errors: number;
  dupes: number;
  delivered: number;
  ids: string[];
  events: { id: string; type: string; data: Data }[];
  state: ConnState;
}

const MAX_HOOK_IDS = 5000;
const MAX_HOOK_EVENTS = 2000;
const MAX_BACKOFF_MS = 30_000;

export function parseId(id: string): { epoch: string; seq: number } | undefined {
  const dash = id.lastIndexOf('-');
  if (dash <= 0) return undefined;
  const seq = Number(id.slice(dash + 1));
  return Number.isSafeInteger(seq) ? { epoch: id.slice(0, dash), seq } : undefined;
}

export interface FeedOptions {
  filters: Filters;
  auth: Auth;
  /** Start right after this id (the /v1/agents snapshot's), instead of at the live edge. */
  after?: string;
  onEvent: (ev: FeedEvent) => void;
  onState: (s: ConnState) => void;
}

export class FeedConnection {
  readonly hook: FeedHook = { opens: 0, errors: 0, dupes: 0, delivered: 0, ids: [], events: [], state: { phase: 'connecting' } };
  private es: EventSource | undefined;
  private lastId: string | undefined;
  private epoch = '';
  private seq = -1;
  /** The resume point given at the start (the snapshot's): resuming from it is not a reconnect. */
  private readonly startAfter: string | undefined;
  private retryMs = 3000;
  private failures = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;
  private opening = false;
  private state: ConnState = { phase: 'connecting' };

  constructor(private readonly opts: FeedOptions) {
    this.lastId = opts.after;
    this.startAfter = opts.after;
    if (opts.after) {
      const p = parseId(opts.after);
      if (p) ({ epoch: this.epoch, seq: this.seq } = p);
    }
  }

  get connState(): ConnState {
    return this.state;
  }

  start(): void {
    void this.open();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.es?.close();
    this.es = undefined;
  }

  /** New credentials (a fresh token): reconnect now with them, from the last id received. */
  renew(): void {
    if (this.closed) return;
    this.es?.close();
    this.es = undefined;
    clearTimeout(this.timer);
    this.failures = 0;
    void this.open();
  }

  private setState(s: ConnState): void {
    const prev = this.state;
    if (prev.phase === s.phase && prev.resumedFrom === s.resumedFrom && prev.detail === s.detail && prev.expiresAt === s.expiresAt) return;
    this.state = s;
    this.hook.state = s;
    this.opts.onState(s);
  }

  private url(ticket: string | undefined): string {
    const q = new URLSearchParams();
    const f = this.opts.filters;
    if (f.agent.length > 0) q.set('agent', f.agent.join(','));
    if (f.type.length > 0) q.set('type', f.type.join(','));
    if (f.minSeverity) q.set('min_severity', f.minSeverity);
    if (this.lastId) q.set('last_event_id', this.lastId);
    if (ticket) q.set('ticket', ticket);
    const s = q.toString();
    return s ? `/v1/events?${s}` : '/v1/events';
  }

  private async open(): Promise<void> {
    if (this.closed || this.opening) return;
    this.opening = true;
    let ticket: string | undefined;
    try {
      if (this.opts.auth.mode === 'token') {
        if (this.opts.auth.needsLogin) {
          this.setState({ phase: 'login', detail: this.opts.auth.reason || 'a token is needed' });
          return;
        }
        try {
          ticket = await this.opts.auth.ticket();
        } catch (err) {
          if (err instanceof TokenError && err.status === 404) {
            // The feed has no auth (a token was pasted anyway): no tickets, the stream as it is.
            this.opts.auth.mode = 'none';
          } else if (err instanceof TokenError && (err.status === 401 || err.status === 403)) {
            this.opts.auth.clear(err.message);
            this.setState({ phase: 'login', detail: err.message });
            return;
          } else {
            this.failed();
            return;
          }
        }
      }
      if (this.closed) return;
      const es = new EventSource(this.url(ticket), { withCredentials: true });
      this.es = es;
      es.onopen = () => {
        if (es !== this.es) return;
        this.hook.opens++;
      };
      es.onerror = () => {
        if (es !== this.es) return;
        this.hook.errors++;
        // A spent ticket cannot be used again, and a closed EventSource does not come back by itself.
        if (ticket !== undefined || es.readyState === EventSource.CLOSED) {
          es.close();
          this.es = undefined;
          this.failed();
        } else {
          this.setState({ phase: 'reconnecting', detail: `the browser retries in about ${Math.round(this.retryMs / 1000)} s` });
        }
      };
      for (const type of EVENT_TYPES) es.addEventListener(type, (e) => this.receive(es, type, e as MessageEvent<string>));
    } finally {
      this.opening = false;
    }
  }

  private failed(): void {
    if (this.closed) return;
    const wait = Math.min(MAX_BACKOFF_MS, this.retryMs * 2 ** Math.min(this.failures, 5)) * (0.8 + Math.random() * 0.4);
    this.failures++;
    this.setState({ phase: 'reconnecting', detail: `next try in ${Math.round(wait / 1000)} s`, expiresAt: this.state.expiresAt });
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.open(), wait);
  }

  private receive(es: EventSource, type: string, e: MessageEvent<string>): void {
    if (es !== this.es) return;
    let data: Data;
    try {
      const v: unknown = JSON.parse(e.data);
      data = v !== null && typeof v === 'object' ? (v as Data) : {};
    } catch {
      return;
    }
    const id = e.lastEventId && type !== 'auth_expired' ? e.lastEventId : '';
    const p = id ? parseId(id) : undefined;
    const hook = this.hook;

    if (type === 'subscription_confirmed' || type === 'reset') {
      // Resume points: they carry the id the stream goes on from.
      if (p) ({ epoch: this.epoch, seq: this.seq } = p);
      if (id) this.lastId = id;
      this.failures = 0;
      if (type === 'subscription_confirmed') {
        const retry = (data.retry_ms as number | undefined) ?? this.retryMs;
        if (typeof retry === 'number' && retry > 0) this.retryMs = retry;
        const resume = (data.resume ?? {}) as Data;
        const from = typeof resume.last_event_id === 'string' ? resume.last_event_id : undefined;
        const expiresAt = typeof data.expires_at === 'number' ? data.expires_at : undefined;
        this.setState({ phase: 'live', resumedFrom: from && from !== this.startAfter ? from : undefined, expiresAt });
      } else {
        this.setState({ phase: 'reset', detail: typeof data.reason === 'string' ? data.reason.slice(0, 200) : 'the feed restarted', expiresAt: this.state.expiresAt });
      }
    } else if (type === 'auth_expired') {
      // The server closes the stream next: go on with a newer token if there is one, else ask.
      es.close();
      this.es = undefined;
      const auth = this.opts.auth;
      const exp = auth.expiresAt;
      if (auth.mode === 'token' && exp !== undefined && exp > Date.now() + 1500 && exp !== this.state.expiresAt) {
        void this.open();
      } else {
        auth.clear('The token expired. Paste a new one: the feed goes on from where it stopped.');
        this.setState({ phase: 'login', detail: 'the token expired' });
      }
    } else if (p) {
      if (p.epoch === this.epoch && p.seq <= this.seq) {
        hook.dupes++;
        return;
      }
      this.epoch = p.epoch;
      this.seq = p.seq;
      this.lastId = id;
      if (this.state.phase !== 'live' && this.state.phase !== 'reset') this.setState({ phase: 'live', expiresAt: this.state.expiresAt });
      hook.ids.push(id);
      if (hook.ids.length > MAX_HOOK_IDS) hook.ids.splice(0, hook.ids.length - MAX_HOOK_IDS / 2);
    }
    hook.delivered++;
    hook.events.push({ id, type, data });
    if (hook.events.length > MAX_HOOK_EVENTS) hook.events.splice(0, hook.events.length - MAX_HOOK_EVENTS / 2);
    this.opts.onEvent({ id, epoch: p?.epoch ?? '', seq: p?.seq ?? -1, type, data });
  }
}
