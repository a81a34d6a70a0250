// The push-notification webhook: agents POST v0.3 Task bodies or v1.0 StreamResponse bodies.
// Authenticated by the configured token (`X-A2A-Notification-Token`, v0.3, or `Authorization:
// <scheme> <token>`, v1.0) or a JWT (jose: secret, PEM public key or JWKS URL; exp required, iss and
// aud when configured). 2xx only after the pipeline accepted the records; a retryable refusal is
// 503 + Retry-After and a repeat of a body already accepted is answered 200 and not ingested again.
import { createHash, createPublicKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { PermanentError, RetryableError } from '../../src/consumer.js';
import { listen, parseEndpoint } from '../../src/net.js';
import type { CreateSettings } from '../../src/component.js';
import type { BoundCounter } from '../../src/telemetry/metrics.js';
import { TERMINAL_STATES } from '../../src/vocab/index.js';
import type { AgentWatcher } from './agent.js';
import type { WebhookConfig } from './config.js';
import type { Shared } from './context.js';
import { MAX_ID, clip } from './limits.js';
import type { AgentRef, Output } from './records.js';
import { parsePayload } from './wire.js';

const TOKEN_HEADER = 'x-a2a-notification-token';
const DEFAULT_RETRY_MS = 1000;

class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
  }
}

export class Webhook {
  private server: http.Server | undefined;
  private readonly tokenDigest: Buffer | undefined;
  private readonly jwtKey: Uint8Array | KeyObject | JWTVerifyGetKey | undefined;
  /** Digests of bodies accepted, oldest first (bounded). */
  private readonly seen = new Map<string, true>();
  /** Bodies being ingested now: a repeat waits for the first. */
  private readonly inflight = new Map<string, Promise<void>>();
  private readonly outcomes = new Map<string, BoundCounter>();

  constructor(
    private readonly set: CreateSettings,
    private readonly cfg: WebhookConfig,
    private readonly s: Shared,
    private readonly agents: readonly AgentWatcher[],
  ) {
    this.tokenDigest = cfg.token ? sha256(cfg.token) : undefined;
    const j = cfg.jwt;
    if (j) {
      const n = [j.secret, j.public_key_file, j.jwks_url].filter((x) => x !== undefined && x !== '').length;
      if (n !== 1) throw new Error('webhook.jwt needs exactly one of secret, public_key_file, jwks_url');
      if (j.secret) this.jwtKey = new TextEncoder().encode(j.secret);
      else if (j.public_key_file) this.jwtKey = createPublicKey(readFileSync(j.public_key_file));
      else this.jwtKey = createRemoteJWKSet(new URL(j.jwks_url!), { cooldownDuration: 30_000, timeoutDuration: 5000 });
    }
  }

  private count(outcome: string): void {
    let c = this.outcomes.get(outcome);
    if (!c) this.outcomes.set(outcome, (c = this.set.metrics.counter('receiver_a2a_webhook_requests', 'Push notifications received, by outcome (accepted, duplicate, unauthorized, invalid, too_large, refused).', { outcome })));
    c.inc();
  }

  async start(): Promise<void> {
    const server = http.createServer((req, res) => void this.handle(req, res));
    server.requestTimeout = 30_000;
    server.headersTimeout = 10_000;
    const { host, port } = parseEndpoint(this.cfg.endpoint, 4320);
    await listen(server, host, port);
    this.server = server;
    const auth = this.tokenDigest || this.jwtKey ? 'token/jwt' : 'none';
    // On loopback only this machine's processes can post, as with the OTLP receiver's defaults.
    if (auth === 'none' && !isLoopback(host)) this.s.logger.warn({ endpoint: `${host}:${port}` }, 'a2a webhook has no token or jwt: anyone who reaches it can post notifications');
    this.s.logger.info({ endpoint: `${host}:${port}`, auth }, 'A2A push-notification webhook listening');
  }

  async shutdown(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeIdleConnections();
      setTimeout(() => s.closeAllConnections(), 2000).unref();
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    try {
      if (req.method !== 'POST') throw new HttpError(405, 'use POST', { allow: 'POST' });
      await this.authenticate(req);
      const body = await readBody(req, this.cfg.max_body_size);
      const digest = createHash('sha256').update(body).digest('base64');
      if (this.seen.has(digest)) {
        this.count('duplicate');
        return answer(res, 200, { status: 'duplicate' });
      }
      const running = this.inflight.get(digest);
      if (running) {
        await running;
        this.count('duplicate');
        return answer(res, 200, { status: 'duplicate' });
      }
      const p = this.ingest(req, body);
      this.inflight.set(digest, p);
      try {
        await p;
      } finally {
        this.inflight.delete(digest);
      }
      this.seen.set(digest, true);
      while (this.seen.size > this.cfg.dedupe_size) this.seen.delete(this.seen.keys().next().value!);
      this.count('accepted');
      answer(res, 200, { status: 'accepted' });
    } catch (err) {
      const e = err instanceof HttpError ? err : new HttpError(500, `internal error: ${(err as Error).message}`);
      this.count({ 401: 'unauthorized', 413: 'too_large', 503: 'refused', 400: 'invalid' }[e.status] ?? 'error');
      if (!req.complete) {
        res.setHeader('connection', 'close');
        req.resume();
      }
      answer(res, e.status, { error: clip(e.message, 512) }, e.headers);
    }
  }

  private async authenticate(req: http.IncomingMessage): Promise<void> {
    if (!this.tokenDigest && !this.jwtKey) return;
    const token = header(req, TOKEN_HEADER);
    if (token !== undefined && this.tokenDigest && equal(this.tokenDigest, token)) return;
    const authz = header(req, 'authorization');
    const m = authz === undefined ? null : /^([A-Za-z0-9._~+-]+)\s+(\S+)\s*$/.exec(authz);
    if (m) {
      const cred = m[2]!;
      if (this.tokenDigest && equal(this.tokenDigest, cred)) return;
      if (this.jwtKey && /^bearer$/i.test(m[1]!)) {
        try {
          await jwtVerify(cred, this.jwtKey as Uint8Array, { issuer: this.cfg.jwt?.issuer, audience: this.cfg.jwt?.audience, requiredClaims: ['exp'] });
          return;
        } catch {
          throw new HttpError(401, 'invalid token', { 'www-authenticate': 'Bearer error="invalid_token"' });
        }
      }
    }
    throw new HttpError(401, token === undefined && authz === undefined ? 'missing credentials' : 'invalid credentials', { 'www-authenticate': 'Bearer' });
  }

  private async ingest(req: http.IncomingMessage, body: Buffer): Promise<void> {
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8')) as unknown;
    } catch {
      throw new HttpError(400, 'body is not JSON');
    }
    const ev = parsePayload(json);
    if (ev === undefined) throw new HttpError(400, 'body is neither a v0.3 Task/event nor a v1.0 StreamResponse');
    const agentName = new URL(req.url ?? '/', 'http://x').searchParams.get('agent') ?? undefined;
    const watcher = agentName === undefined ? undefined : this.agents.find((a) => a.matches(agentName));
    const ref: AgentRef = watcher?.ref ?? (agentName !== undefined ? { id: clip(agentName, MAX_ID), name: clip(agentName, MAX_ID), url: undefined } : { id: 'a2a-push', name: 'a2a-push', url: undefined });
    const out: Output = { records: [], spans: [] };
    const undo = this.s.book.observe(ref, ev, out);
    try {
      await this.s.pipeline.offer(ref, out);
    } catch (err) {
      undo();
      if (err instanceof PermanentError) throw new HttpError(400, err.message);
      const ms = err instanceof RetryableError && err.retryAfterMs !== undefined ? err.retryAfterMs : DEFAULT_RETRY_MS;
      throw new HttpError(503, (err as Error).message || 'pipeline refused the notification', { 'retry-after': String(Math.max(1, Math.ceil(ms / 1000))) });
    }
    // A task a watched agent pushes about is followed from now on, until it ends.
    if (watcher && ev.taskId !== undefined && !(ev.state !== undefined && TERMINAL_STATES.has(ev.state))) watcher.follow(ev.taskId);
  }
}

function isLoopback(host: string): boolean {
  return host === '::1' || host.startsWith('127.');
}

function header(req: http.IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  const s = Array.isArray(v) ? v[0] : v;
  return s === undefined ? undefined : clip(s, 8192);
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

function equal(digest: Buffer, candidate: string): boolean {
  return timingSafeEqual(digest, sha256(candidate));
}

function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > limit) return Promise.reject(new HttpError(413, `body exceeds max_body_size (${limit} bytes)`));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    let done = false;
    req.on('data', (c: Buffer) => {
      if (done) return;
      n += c.length;
      if (n > limit) {
        done = true;
        return reject(new HttpError(413, `body exceeds max_body_size (${limit} bytes)`));
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (!done) resolve(Buffer.concat(chunks, n));
      done = true;
    });
    req.on('error', (e) => {
      if (!done) reject(new HttpError(400, `cannot read body: ${e.message}`));
      done = true;
    });
  });
}

function answer(res: http.ServerResponse, status: number, body: Record<string, unknown>, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers }).end(text);
}
