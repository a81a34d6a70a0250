// `fleetcol tail`: follows the sse exporter's feed and prints it, a human-readable line per event or
// a JSON line per event (--raw). It reconnects by itself and resumes with Last-Event-ID (follow.ts),
// so nothing is lost or printed twice; connection news goes to stderr, events to stdout. Exit codes:
// 0 on SIGINT/SIGTERM or when the reader of stdout goes away (EPIPE); 1 when the feed refuses
// (401/403/404: the server's JSON error is printed) or the token expires; 2 on a bad URL or option,
// and on a filter the server rejects (400).
import { once } from 'node:events';
import { Follower, type FeedMessage } from './follow.js';
import { HumanFormat, clean, clock, parseData, rawLine, useColour } from './format.js';

export const DEFAULT_URL = 'http://127.0.0.1:4319/v1/events';

export const TAIL_USAGE = `usage: fleetcol tail [URL] [--agent ID] [--type T] [--token JWT] [--raw]
  URL          the feed (default ${DEFAULT_URL}); host:port, or a URL
               without a path, means its /v1/events
  --agent ID   only this agent's events (repeat it, or give a comma list)
  --type T     only events of this type (repeat it, or give a comma list): span, error, alert,
               task_started, task_completed, task_failed, progress_update, status_change,
               agent_online, agent_offline, metrics_update, heartbeat
  --token JWT  bearer token for a feed with auth (default: the FLEETCOL_TOKEN environment variable)
  --raw        one JSON object per line, {"id":..,"event":..,"data":{..}}, for jq
It reconnects by itself and resumes after the last event it printed. Exit codes: 0 on Ctrl-C,
1 when the feed refuses (401, 403) or the token expires, 2 on a bad URL or option.
`;

const EXIT_OK = 0;
const EXIT_RUNTIME = 1;
const EXIT_USAGE = 2;

export class TailUsageError extends Error {}

export interface TailOptions {
  url?: string;
  agents?: string[];
  types?: string[];
  token?: string;
  raw?: boolean;
}

/** The feed URL with the filters as query parameters (`agent=`, `type=`, as the server reads them). */
export function feedUrl(o: TailOptions): URL {
  // A token given where the URL goes would otherwise be looked up as a host name.
  if (o.url !== undefined && looksLikeToken(o.url)) throw new TailUsageError('the URL looks like a token (not shown): give it with --token or FLEETCOL_TOKEN');
  let text = o.url ?? DEFAULT_URL;
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) text = `http://${text}`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new TailUsageError(`not a URL: "${o.url}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TailUsageError(`the feed URL must be http:// or https://, not ${url.protocol}//`);
  if (url.hostname === '') throw new TailUsageError(`no host in "${o.url}"`);
  if (url.pathname === '/') url.pathname = '/v1/events';
  for (const [key, given] of [['agent', o.agents], ['type', o.types]] as const) {
    if (given === undefined) continue;
    const values = given.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
    if (values.length === 0) throw new TailUsageError(`--${key} needs a value`);
    for (const v of values) url.searchParams.append(key, v);
  }
  return url;
}

/** A JWT: three base64url parts, the first a JSON header (`{"` is `eyJ`). */
export function looksLikeToken(s: string): boolean {
  return /^eyJ[\w-]*\.[\w-]+\.[\w-]*$/.test(s);
}

/** The URL as it may be shown: no user:password, no single-use ticket. */
function safeUrl(url: URL, withQuery: boolean): string {
  const u = new URL(url);
  u.username = '';
  u.password = '';
  u.searchParams.delete('ticket');
  if (!withQuery) u.search = '';
  return u.toString();
}

function filters(d: Record<string, unknown>): string {
  const f = (d.filters ?? {}) as Record<string, unknown>;
  const parts: string[] = [];
  for (const k of ['agent', 'type']) if (Array.isArray(f[k])) parts.push(`${k}=${(f[k] as unknown[]).join(',')}`);
  if (typeof f.min_severity === 'string' && f.min_severity !== 'debug') parts.push(`min_severity=${f.min_severity}`);
  return parts.length ? ` (${clean(parts.join(' '))})` : '';
}

const secs = (ms: number) => `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)}s`;

/** Follows the feed until a signal, EPIPE, or an answer that ends it; resolves with the exit code. */
export async function tail(url: URL, o: { token?: string; raw?: boolean }): Promise<number> {
  const out = process.stdout;
  const env = process.env;
  process.stderr.on('error', () => {});
  const note = (s: string) => void process.stderr.write(`fleetcol tail: ${s}\n`);
  const where = safeUrl(url, false);
  const token = o.token || env.FLEETCOL_TOKEN || undefined;
  const human = o.raw ? undefined : new HumanFormat(useColour(out, env));
  let code = EXIT_OK;
  let outOpen = true;
  let opened = 0;
  let expired: Record<string, unknown> | undefined;
  let lastDrop = { reason: '', at: 0 };

  const follower = new Follower(
    { url, headers: token ? { authorization: `Bearer ${token}` } : {} },
    {
      onEvent: (m: FeedMessage) => {
        if (m.event === 'subscription_confirmed') confirmed(m);
        if (m.event === 'reset' && !human) note(`feed reset: ${clean(m.data)}`);
        if (outOpen && !(human && m.event === 'subscription_confirmed')) out.write(human ? human.line(m) : rawLine(m));
        if (m.event === 'auth_expired') {
          const d = parseData(m);
          expired = d !== null && typeof d === 'object' ? (d as Record<string, unknown>) : {};
          follower.stop();
        }
      },
      onDrop: ({ reason, delayMs, failures }) => {
        // While the server stays down, the same reason is repeated at most every 30s.
        const now = Date.now();
        if (failures > 1 && reason === lastDrop.reason && now - lastDrop.at < 30_000) return;
        lastDrop = { reason, at: now };
        note(`${clean(reason)}; ${failures > 1 ? `still trying (attempt ${failures}), next in` : 'reconnecting in'} ${secs(delayMs)}`);
      },
      backpressure: () => (outOpen && out.writableNeedDrain ? once(out, 'drain') : undefined),
    },
  );

  function confirmed(m: FeedMessage): void {
    const d = (parseData(m) ?? {}) as Record<string, unknown>;
    // Watchdog: the server sends a `:` comment to idle streams every heartbeat_ms.
    const hb = typeof d.heartbeat_ms === 'number' ? d.heartbeat_ms : 0;
    follower.setIdleTimeout(hb > 0 ? hb * 3 + 5000 : 0);
    opened++;
    if (opened === 1) {
      const exp = typeof d.expires_at === 'number' ? `; the token expires at ${clock(d.expires_at)}` : '';
      note(`following ${where}${filters(d)}${exp}`);
    } else {
      const resume = (d.resume ?? {}) as Record<string, unknown>;
      note(`reconnected${typeof resume.last_event_id === 'string' ? `, resuming after ${clean(resume.last_event_id)}` : ''}`);
    }
  }

  out.on('error', (err: NodeJS.ErrnoException) => {
    outOpen = false;
    if (err.code !== 'EPIPE') {
      note(`cannot write: ${err.message}`);
      code = EXIT_RUNTIME;
    }
    follower.stop();
  });
  const onSignal = () => follower.stop();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const resumeHint = () => {
    if (follower.lastEventId === '') return '';
    const u = new URL(url);
    u.searchParams.set('last_event_id', follower.lastEventId);
    return ` To go on from the last event printed, with a fresh token: fleetcol tail '${safeUrl(u, true)}'`;
  };

  const end = await follower.run();
  if (expired) {
    const at = typeof expired.expires_at === 'number' ? ` at ${clock(expired.expires_at)}` : '';
    note(`the token expires${at} and the server closed the stream (auth_expired); a token given with --token or FLEETCOL_TOKEN cannot be renewed.${resumeHint()}`);
    return EXIT_RUNTIME;
  }
  switch (end.kind) {
    case 'stopped':
      return code;
    case 'failed':
      note(`${where}: ${clean(end.message)}`);
      return EXIT_RUNTIME;
    case 'refused': {
      note(`${where} answered ${end.status} ${clean(end.statusText)}${end.body.trim() ? `: ${clean(end.body.trim(), 2000)}` : ''}`);
      if (end.status === 401 && !token) note('no token given: pass --token JWT or set FLEETCOL_TOKEN');
      else if (end.status === 401 && url.searchParams.has('ticket')) note('a ticket is single use: give the token itself with --token or FLEETCOL_TOKEN');
      else if (end.status === 401 && end.body.includes('AUTH_EXPIRED') && follower.lastEventId !== '') note(`the token has expired.${resumeHint()}`);
      return end.status === 400 ? EXIT_USAGE : EXIT_RUNTIME;
    }
  }
}
