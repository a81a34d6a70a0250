// The token a person pasted (with `auth.jwt` on the feed), kept in sessionStorage: it goes with the
// tab, not to disk for every later visit. It is sent as `Authorization: Bearer` to /v1/agents and to
// POST /v1/tickets, whose single-use ticket goes into the EventSource URL (EventSource cannot send
// headers). Without auth (or with a cookie the browser sends by itself) none of this is used.

const KEY = 'fleetcol.token';
/** A JWT is three base64url parts; anything longer than this is not one a person pastes. */
const MAX_TOKEN = 16 * 1024;

export type AuthMode = 'unknown' | 'none' | 'token';

export class TokenError extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
  }
}

export class Auth {
  mode: AuthMode = 'unknown';
  /** Why the login box is shown (expired, refused), for its message. */
  reason = '';
  private listeners = new Set<() => void>();

  get token(): string | undefined {
    try {
      return sessionStorage.getItem(KEY) ?? undefined;
    } catch {
      return undefined;
    }
  }

  /** ms since the epoch the token expires at (its `exp`), if it says. */
  get expiresAt(): number | undefined {
    const t = this.token;
    return t === undefined ? undefined : tokenExpiry(t);
  }

  /** Takes a pasted token; returns an error message, or undefined when it looks usable. */
  set(raw: string): string | undefined {
    const token = raw.trim().replace(/^Bearer\s+/i, '');
    if (token === '' || token.length > MAX_TOKEN || !/^[\w-]+\.[\w-]+\.[\w-]*$/.test(token)) return 'That is not a JWT (three base64url parts separated by dots).';
    const exp = tokenExpiry(token);
    if (exp !== undefined && exp <= Date.now()) return `That token expired at ${new Date(exp).toLocaleTimeString()}.`;
    try {
      sessionStorage.setItem(KEY, token);
    } catch {
      return 'This browser does not let the page keep the token (sessionStorage is off).';
    }
    this.reason = '';
    this.changed();
    return undefined;
  }

  clear(reason = ''): void {
    try {
      sessionStorage.removeItem(KEY);
    } catch {
      /* nothing kept */
    }
    this.reason = reason;
    this.changed();
  }

  /** Whether the login box is due: auth is on and there is no token that is still valid. */
  get needsLogin(): boolean {
    if (this.mode !== 'token') return false;
    const exp = this.expiresAt;
    return this.token === undefined || (exp !== undefined && exp <= Date.now());
  }

  headers(): Record<string, string> {
    const t = this.mode === 'token' ? this.token : undefined;
    return t === undefined ? {} : { authorization: `Bearer ${t}` };
  }

  /** A single-use ticket for one EventSource; TokenError(401) when the token is refused. */
  async ticket(): Promise<string> {
    const r = await fetch('/v1/tickets', { method: 'POST', headers: this.headers(), credentials: 'same-origin', cache: 'no-store' });
    if (!r.ok) throw new TokenError(await errorMessage(r), r.status);
    const body = (await r.json()) as { ticket?: unknown };
    if (typeof body.ticket !== 'string') throw new TokenError('the feed answered no ticket', 500);
    return body.ticket;
  }

  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private changed(): void {
    for (const fn of this.listeners) fn();
  }
}

/** The `exp` of a JWT (ms), read without verifying: only to know when to ask for a new one. */
export function tokenExpiry(token: string): number | undefined {
  try {
    const part = token.split('.')[1] ?? '';
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '='));
    const exp = (JSON.parse(json) as { exp?: unknown }).exp;
    return typeof exp === 'number' && Number.isFinite(exp) ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/** The feed's `{"error":{"message":…}}`, else the status line. */
export async function errorMessage(r: Response): Promise<string> {
  try {
    const j = (await r.json()) as { error?: { message?: unknown } };
    if (typeof j.error?.message === 'string') return j.error.message.slice(0, 200);
  } catch {
    /* not JSON */
  }
  return `HTTP ${r.status}`;
}
