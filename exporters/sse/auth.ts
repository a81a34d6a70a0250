// JWT auth for the feed (jose): an HS* secret, an RS/ES/EdDSA public key (PEM), or a JWKS URL.
// Credentials come from `Authorization: Bearer`, a cookie, or a single-use ticket (`?ticket=`) that
// POST /v1/tickets trades for a bearer token, since EventSource cannot set headers. `exp` is
// required; the `fleetcol_agents` claim (glob patterns) limits the agents the holder sees.
import { randomBytes, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { MAX_GLOB_LENGTH, globMatcher } from '../../src/glob.js';
import { SseCode, SseError, unauthorized } from './errors.js';

/** Most agent patterns one token's claim may carry. */
const MAX_SCOPE_PATTERNS = 256;

export interface JwtConfig {
  secret?: string;
  public_key_file?: string;
  jwks_url?: string;
  algorithms?: string[];
  issuer?: string;
  audience?: string;
  cookie_name: string;
  /** ms */
  clock_tolerance: number;
  /** ms a ticket is valid */
  ticket_ttl: number;
  agents_claim: string;
}

export interface Principal {
  /** `sub`, else a fingerprint-free placeholder: used for per-client limits, never logged with the token. */
  subject: string;
  patterns: string[] | null;
  scope: ((agent: string) => boolean) | null;
  /** ms since the epoch */
  expMs: number;
}

const MAX_TICKETS = 100_000;

export class JwtAuth {
  private readonly key: Uint8Array | KeyObject | JWTVerifyGetKey;
  private readonly tickets = new Map<string, { p: Principal; until: number }>();

  constructor(private readonly cfg: JwtConfig) {
    const n = [cfg.secret, cfg.public_key_file, cfg.jwks_url].filter((x) => x !== undefined && x !== '').length;
    if (n !== 1) throw new Error('auth.jwt needs exactly one of secret, public_key_file, jwks_url');
    if (cfg.secret) this.key = new TextEncoder().encode(cfg.secret);
    else if (cfg.public_key_file) this.key = createPublicKey(readFileSync(cfg.public_key_file));
    else this.key = createRemoteJWKSet(new URL(cfg.jwks_url!), { cooldownDuration: 30_000, timeoutDuration: 5000 });
  }

  get cookieName(): string {
    return this.cfg.cookie_name;
  }

  async verify(token: string): Promise<Principal> {
    let payload: JWTPayload;
    try {
      const r = await jwtVerify(token, this.key as Uint8Array, {
        algorithms: this.cfg.algorithms,
        issuer: this.cfg.issuer,
        audience: this.cfg.audience,
        requiredClaims: ['exp'],
        clockTolerance: Math.round(this.cfg.clock_tolerance / 1000),
      });
      payload = r.payload;
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw unauthorized(SseCode.AuthExpired, 'token expired');
      const why = err instanceof joseErrors.JOSEError ? err.code : 'ERR_INVALID';
      throw unauthorized(SseCode.AuthInvalid, `invalid token (${why})`);
    }
    const claim = payload[this.cfg.agents_claim];
    let patterns: string[] | null = null;
    if (claim !== undefined) {
      const list = typeof claim === 'string' ? [claim] : claim;
      if (!Array.isArray(list) || !list.every((x) => typeof x === 'string')) {
        throw unauthorized(SseCode.AuthInvalid, `invalid token (claim ${this.cfg.agents_claim} must be a string or a list of strings)`);
      }
      if (list.length > MAX_SCOPE_PATTERNS || list.some((x) => x.length > MAX_GLOB_LENGTH)) {
        throw unauthorized(SseCode.AuthInvalid, `invalid token (claim ${this.cfg.agents_claim}: at most ${MAX_SCOPE_PATTERNS} patterns of at most ${MAX_GLOB_LENGTH} characters)`);
      }
      patterns = list as string[];
    }
    return {
      subject: typeof payload.sub === 'string' ? payload.sub : 'anonymous',
      patterns,
      scope: patterns === null || patterns.includes('*') ? null : globMatcher(patterns),
      expMs: payload.exp! * 1000,
    };
  }

  issueTicket(p: Principal, now = Date.now()): { ticket: string; expires_in: number } {
    this.sweep(now);
    if (this.tickets.size >= MAX_TICKETS) throw new SseError(429, SseCode.TooManyConnections, 'too many outstanding tickets');
    const ticket = randomBytes(24).toString('base64url');
    const until = Math.min(now + this.cfg.ticket_ttl, p.expMs);
    this.tickets.set(ticket, { p, until });
    return { ticket, expires_in: Math.max(0, Math.floor((until - now) / 1000)) };
  }

  /** Single use: the ticket is gone after this call, valid or not. */
  redeem(ticket: string, now = Date.now()): Principal {
    const t = this.tickets.get(ticket);
    this.tickets.delete(ticket);
    if (t === undefined || t.until <= now) throw unauthorized(SseCode.TicketInvalid, 'unknown, used or expired ticket');
    if (t.p.expMs <= now) throw unauthorized(SseCode.AuthExpired, 'token expired');
    return t.p;
  }

  private sweep(now: number): void {
    for (const [k, t] of this.tickets) if (t.until <= now) this.tickets.delete(k);
  }

  /** Credentials of a request: ticket (query) > Authorization: Bearer > cookie. */
  async authenticate(headers: IncomingHttpHeaders, query: URLSearchParams, allowTicket: boolean): Promise<Principal> {
    const ticket = query.get('ticket');
    if (allowTicket && ticket !== null) return this.redeem(ticket);
    const h = headers.authorization;
    if (typeof h === 'string' && h !== '') {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
      if (!m) throw unauthorized(SseCode.AuthInvalid, 'Authorization must be "Bearer <token>"');
      return this.verify(m[1]!);
    }
    const fromCookie = cookie(headers.cookie, this.cfg.cookie_name);
    if (fromCookie !== undefined) return this.verify(fromCookie);
    throw unauthorized(SseCode.AuthMissing, allowTicket ? 'credentials required: Authorization: Bearer, a cookie, or ?ticket=' : 'credentials required: Authorization: Bearer or a cookie');
  }

  clear(): void {
    this.tickets.clear();
  }
}

export function cookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) {
      const v = part.slice(eq + 1).trim();
      try {
        return decodeURIComponent(v);
      } catch {
        return v;
      }
    }
  }
  return undefined;
}
