// The HTTP side of the feed: GET /v1/events (the stream), GET /v1/agents (snapshot), POST
// /v1/tickets (single-use tickets for EventSource), GET / and /assets/* (the dashboard, unless
// `dashboard: false`), CORS preflight.
// HTTP/1.1, or HTTP/2 (with HTTP/1.1 fallback) when TLS is configured. Request URLs are never
// logged (they may carry a ticket), nor are headers.
import http from 'node:http';
import http2 from 'node:http2';
import { readFileSync } from 'node:fs';
import net, { type Socket } from 'node:net';
import type { Logger } from 'pino';
import { listen, parseEndpoint } from '../../src/net.js';
import { Agents } from '../../src/fleet/agents.js';
import type { JwtAuth, Principal } from './auth.js';
import { Client, type Filter } from './client.js';
import type { DashboardAssets } from './dashboard/assets.js';
import { encodeEvent, KNOWN_TYPES, retryLine, SEVERITY, SEVERITY_NAME, type SeverityName } from './event.js';
import { SseCode, SseError } from './errors.js';
import type { Fleet } from '../../src/fleet/model.js';
import type { Hub } from './hub.js';
import { StreamSink, type Sink } from './transport.js';
import { accept, rawFail, rawHead, rawOpen } from './accept.js';
import type { WriterPool } from './writers.js';

export interface ServerConfig {
  endpoint: string;
  tls?: { cert_file: string; key_file: string };
  client_queue_max_bytes: number;
  retry: number;
  heartbeat_interval: number;
  max_connections: number;
  max_connections_per_client: number;
  cors: { allowed_origins: string[]; max_age: number };
  dashboard: boolean;
}

export interface ServerCounters {
  connections: number;
  authFailures: number;
  rejected: number;
  /** Requests refused as malformed (400: a bad filter, query or header value). */
  badRequests: number;
}

type Req = http.IncomingMessage | http2.Http2ServerRequest;
type Res = http.ServerResponse | http2.Http2ServerResponse;

const MAX_FILTER_VALUES = 256;
/** Longest filter value (an agent id, a type) and Last-Event-ID accepted. */
const MAX_VALUE_LENGTH = 256;
/** A serialised origin (RFC 6454): `null`, or scheme://host[:port] in visible ASCII, bounded. Anything
 *  else (a CR or LF among them) is never reflected into a response head. */
const ORIGIN = /^(?:null|[A-Za-z][A-Za-z0-9+.-]{0,31}:\/\/[!-~]{1,253})$/;

export class SseServer {
  private server: http.Server | http2.Http2SecureServer | undefined;
  private front: net.Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly perPrincipal = new Map<string, number>();
  private connecting = 0;
  private stopping = false;
  readonly counters: ServerCounters = { connections: 0, authFailures: 0, rejected: 0, badRequests: 0 };
  private readonly retryBytes: Buffer;
  private readonly allowAnyOrigin: boolean;
  private readonly origins: Set<string>;

  constructor(
    private readonly cfg: ServerConfig,
    private readonly hub: Hub,
    private readonly fleet: Fleet,
    private readonly auth: JwtAuth | undefined,
    private readonly logger: Logger,
    /** Writer processes that take plain-HTTP streams starting at the live edge (`writers`). */
    private readonly writers?: WriterPool,
    /** The dashboard's built files (undefined: `dashboard: false`, or not built). */
    private readonly assets?: DashboardAssets,
  ) {
    this.retryBytes = retryLine(cfg.retry);
    this.allowAnyOrigin = cfg.cors.allowed_origins.includes('*');
    this.origins = new Set(cfg.cors.allowed_origins);
  }

  async start(): Promise<{ host: string; port: number }> {
    const handler = (req: Req, res: Res) => void this.handle(req, res);
    const server = this.cfg.tls
      ? http2.createSecureServer({ cert: readFileSync(this.cfg.tls.cert_file), key: readFileSync(this.cfg.tls.key_file), allowHTTP1: true }, handler)
      : http.createServer(handler);
    if (server instanceof http.Server) {
      server.headersTimeout = 10_000;
      server.requestTimeout = 30_000;
      server.keepAliveTimeout = 5_000;
    }
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
    server.on('secureConnection', (s: Socket) => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
    const { host, port } = parseEndpoint(this.cfg.endpoint, 4319);
    let listening: net.Server | http.Server | http2.Http2SecureServer = server;
    if (server instanceof http.Server) {
      // Plain HTTP: streams are taken off the socket by the front door (see accept.ts).
      const front = net.createServer({ noDelay: true }, (s) => {
        this.sockets.add(s);
        s.once('close', () => this.sockets.delete(s));
        accept(s, server, (sock, req) => void this.rawStream(sock, req));
      });
      this.front = front;
      listening = front;
    }
    // A fleet of dashboards reconnects at once after a restart: a deep accept queue (node's default
    // is 511) takes the burst instead of making clients retransmit their SYNs.
    await listen(listening as net.Server, host, port, 4096);
    this.server = server;
    const addr = listening.address();
    const bound = typeof addr === 'object' && addr ? addr.port : port;
    this.logger.info({ endpoint: `${host}:${bound}`, tls: !!this.cfg.tls, auth: this.auth ? 'jwt' : 'none' }, 'SSE feed listening');
    return { host, port: bound };
  }

  /** Stops accepting; every stream gets a `retry:` spread over [retry, retry + spread] and is closed. */
  async stop(spreadMs: number, timeoutMs: number): Promise<void> {
    this.stopping = true;
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const front = this.front;
    this.front = undefined;
    // The front door's own close callback is not waited for: once one of its sockets has gone to a
    // writer process that later exited, node:net's close() never calls back (it polls the writers
    // that hold its sockets, and a writer that exited is no longer asked). Its sockets are tracked here.
    const closed = front
      ? new Promise<void>((resolve) => {
          front.close();
          const check = () => (this.sockets.size === 0 ? resolve() : setTimeout(check, 20));
          check();
        })
      : new Promise<void>((resolve) => server.close(() => resolve()));
    this.hub.closeAll('shutdown', () => retryLine(this.cfg.retry + Math.random() * spreadMs), 1000);
    const handed = this.writers?.close(this.cfg.retry, spreadMs, 1000, Math.min(timeoutMs, 3000));
    if (server instanceof http.Server) server.closeIdleConnections();
    const t = setTimeout(() => {
      for (const s of this.sockets) s.destroy();
    }, Math.min(timeoutMs, 2000));
    await Promise.all([closed, handed]);
    clearTimeout(t);
    this.auth?.clear();
  }

  /** A listed origin is reflected with credentials. Under `*` any well-formed origin is reflected
   *  without them: with credentials, any web site could read the feed with its visitors' cookies. */
  private corsHeaders(origin: string | string[] | undefined): Record<string, string> {
    if (typeof origin !== 'string' || !ORIGIN.test(origin)) return {};
    if (this.origins.has(origin)) return { 'access-control-allow-origin': origin, 'access-control-allow-credentials': 'true', vary: 'Origin' };
    if (this.allowAnyOrigin) return { 'access-control-allow-origin': origin, vary: 'Origin' };
    return {};
  }

  private cors(req: Req, res: Res): void {
    for (const [k, v] of Object.entries(this.corsHeaders(req.headers.origin))) res.setHeader(k, v);
  }

  private async handle(req: Req, res: Res): Promise<void> {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://feed');
    } catch {
      return this.fail(res, new SseError(400, SseCode.BadRequest, 'bad request target'));
    }
    this.cors(req, res);
    const path = url.pathname;
    try {
      if (req.method === 'OPTIONS') return this.preflight(req, res);
      if (this.stopping) throw new SseError(503, SseCode.ShuttingDown, 'shutting down', { 'retry-after': '5' });
      switch (path) {
        case '/v1/events':
          if (req.method !== 'GET') throw new SseError(405, SseCode.MethodNotAllowed, 'use GET', { allow: 'GET' });
          return await this.events(req.headers, req.socket.remoteAddress, url, () => this.open(req, res));
        case '/v1/agents':
          if (req.method !== 'GET') throw new SseError(405, SseCode.MethodNotAllowed, 'use GET', { allow: 'GET' });
          return await this.agents(req, res, url);
        case '/v1/tickets':
          if (req.method !== 'POST') throw new SseError(405, SseCode.MethodNotAllowed, 'use POST', { allow: 'POST' });
          return await this.tickets(req, res);
        default:
          if (this.cfg.dashboard && (path === '/' || path === '/index.html' || path.startsWith('/assets/'))) return this.dashboard(req, res, path);
          throw new SseError(404, SseCode.NotFound, `no such path ${path.slice(0, MAX_VALUE_LENGTH)} (use /v1/events, /v1/agents, /v1/tickets)`);
      }
    } catch (err) {
      if (err instanceof SseError) {
        if (err.status === 401) this.counters.authFailures++;
        if (err.status === 400) this.counters.badRequests++;
        this.logger.debug({ path, status: err.status, code: err.code }, 'SSE request refused');
        return this.fail(res, err);
      }
      this.logger.error({ path, err: (err as Error).message }, 'SSE request failed');
      return this.fail(res, new SseError(500, 'FLEETCOL_SSE_INTERNAL', 'internal error'));
    }
  }

  private dashboard(req: Req, res: Res, path: string): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') throw new SseError(405, SseCode.MethodNotAllowed, 'use GET', { allow: 'GET, HEAD' });
    if (!this.assets) throw new SseError(503, SseCode.DashboardMissing, 'the dashboard is not built (run `npm run build`)');
    const h = req.headers;
    const a = this.assets.answer(path, req.method === 'HEAD', str(h['if-none-match']), str(h['accept-encoding']));
    res.writeHead(a.status, a.headers);
    if (a.body) res.end(a.body);
    else res.end();
    req.resume();
  }

  private fail(res: Res, err: SseError): void {
    if (res.headersSent) {
      res.end();
      return;
    }
    const body = err.body();
    res.writeHead(err.status, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body), ...err.headers });
    res.end(body);
  }

  private preflight(req: Req, res: Res): void {
    const origin = req.headers.origin;
    if (typeof origin === 'string' && ORIGIN.test(origin) && (this.allowAnyOrigin || this.origins.has(origin))) {
      res.setHeader('access-control-allow-methods', 'GET, POST, OPTIONS');
      res.setHeader('access-control-allow-headers', 'Authorization, Last-Event-ID, Content-Type, Cache-Control');
      res.setHeader('access-control-max-age', String(Math.round(this.cfg.cors.max_age / 1000)));
    }
    res.writeHead(204);
    res.end();
  }

  private async principal(req: Req, url: URL, allowTicket: boolean): Promise<Principal | undefined> {
    if (!this.auth) return undefined;
    return this.auth.authenticate(req.headers, url.searchParams, allowTicket);
  }

  private async tickets(req: Req, res: Res): Promise<void> {
    if (!this.auth) throw new SseError(404, SseCode.NotFound, 'tickets need auth.jwt to be configured');
    // Only a bearer token or cookie buys a ticket (not another ticket).
    const p = await this.auth.authenticate(req.headers, new URLSearchParams(), false);
    req.resume();
    const body = JSON.stringify(this.auth.issueTicket(p));
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }

  private async agents(req: Req, res: Res, url: URL): Promise<void> {
    const p = await this.principal(req, url, false);
    const wanted = values(url.searchParams, 'agent');
    const out: Record<string, unknown>[] = [];
    for (const a of this.fleet.agents.byId.values()) {
      if (p?.scope && !p.scope(a.id)) continue;
      if (wanted && !wanted.has(a.id)) continue;
      out.push(Agents.view(a));
    }
    const body = JSON.stringify({ time: Date.now(), last_event_id: this.hub.ids.id(this.hub.lastSeq()), agents: out });
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }

  private filter(url: URL, p: Principal | undefined): Filter {
    const q = url.searchParams;
    const agents = values(q, 'agent');
    const types = values(q, 'type');
    if (types) for (const t of types) if (!KNOWN_TYPES.has(t)) throw new SseError(400, SseCode.BadRequest, `unknown event type "${t}" (known: ${[...KNOWN_TYPES].join(', ')})`);
    const ms = q.get('min_severity');
    let minSeverity = 0;
    if (ms !== null && ms !== '') {
      // Own keys only: `constructor` or `__proto__` are not severities.
      if (!Object.hasOwn(SEVERITY, ms)) throw new SseError(400, SseCode.BadRequest, `min_severity must be one of ${SEVERITY_NAME.join(', ')}`);
      minSeverity = SEVERITY[ms as SeverityName];
    }
    const scope = p?.scope ?? null;
    if (scope && agents) {
      for (const a of agents) if (!scope(a)) throw new SseError(403, SseCode.ForbiddenFilter, `this token may not follow agent "${a}"`);
    }
    return { agents, types, minSeverity, scope };
  }

  /** Open streams, here and in the writer processes. */
  streams(): number {
    return this.hub.clients.size + (this.writers?.streams ?? 0);
  }

  private async events(headers: http.IncomingHttpHeaders, remote: string | undefined, url: URL, open: () => Sink, raw?: { socket: Socket; cors: Record<string, string> }): Promise<void> {
    this.connecting++;
    let p: Principal | undefined;
    let filter: Filter;
    try {
      p = this.auth ? await this.auth.authenticate(headers, url.searchParams, true) : undefined;
      filter = this.filter(url, p);
    } finally {
      this.connecting--;
    }
    if (this.stopping) throw new SseError(503, SseCode.ShuttingDown, 'shutting down', { 'retry-after': '5' });
    const now = Date.now();
    if (p && p.expMs <= now) throw new SseError(401, SseCode.AuthExpired, 'token expired', { 'www-authenticate': 'Bearer' });
    const who = p ? `sub:${p.subject}` : `addr:${remote ?? ''}`;
    if (this.cfg.max_connections > 0 && this.streams() >= this.cfg.max_connections) {
      this.counters.rejected++;
      throw new SseError(503, SseCode.TooManyConnections, 'too many connections to the feed', { 'retry-after': '10' });
    }
    const held = this.perPrincipal.get(who) ?? 0;
    if (this.cfg.max_connections_per_client > 0 && held >= this.cfg.max_connections_per_client) {
      this.counters.rejected++;
      throw new SseError(429, SseCode.TooManyConnections, `at most ${this.cfg.max_connections_per_client} concurrent streams per client`, { 'retry-after': '10' });
    }

    // Resume point.
    const hub = this.hub;
    hub.history.prune(now);
    const lastSeq = hub.lastSeq();
    const headerId = headers['last-event-id'];
    const lastId = typeof headerId === 'string' && headerId !== '' ? headerId : url.searchParams.get('last_event_id') ?? undefined;
    if (lastId !== undefined && lastId.length > MAX_VALUE_LENGTH) throw new SseError(400, SseCode.BadRequest, `Last-Event-ID is longer than ${MAX_VALUE_LENGTH} characters`);
    let start = lastSeq;
    let catchingUp = false;
    let reset: Record<string, unknown> | undefined;
    if (lastId !== undefined && lastId !== '') {
      const seq = hub.ids.seqOf(lastId);
      if (seq !== undefined && seq <= lastSeq && hub.history.covers(seq, lastSeq)) {
        start = seq;
        catchingUp = seq < lastSeq;
      } else {
        const oldest = hub.history.oldestSeq();
        start = oldest === undefined ? lastSeq : oldest - 1;
        catchingUp = start < lastSeq;
        reset = {
          reason: seq === undefined ? 'unknown id (another run of the feed, or not an id)' : 'id left the history',
          last_event_id: lastId,
          oldest_id: oldest === undefined ? null : hub.ids.id(oldest),
        };
      }
    }

    // Counted from here until the stream ends (here or in a writer process).
    const hold = () => {
      this.counters.connections++;
      this.perPrincipal.set(who, held + 1);
    };
    const ended = (reason: string) => {
      const n = (this.perPrincipal.get(who) ?? 1) - 1;
      if (n <= 0) this.perPrincipal.delete(who);
      else this.perPrincipal.set(who, n);
      this.logger.debug({ who: p ? 'token' : who, reason }, 'SSE stream closed');
    };
    const startId = hub.ids.id(start);
    const confirmed = encodeEvent(startId, 'subscription_confirmed', {
      filters: { agent: filter.agents ? [...filter.agents] : null, type: filter.types ? [...filter.types] : null, min_severity: SEVERITY_NAME[filter.minSeverity] },
      scope: p?.patterns ?? null,
      resume: { last_event_id: lastId ?? null, from: startId, replay: catchingUp },
      history: { oldest_id: hub.history.oldestSeq() === undefined ? null : hub.ids.id(hub.history.oldestSeq()!), size: hub.history.length },
      epoch: hub.ids.epoch,
      retry_ms: this.cfg.retry,
      heartbeat_ms: this.cfg.heartbeat_interval,
      expires_at: p ? p.expMs : null,
      server_time: now,
    });

    if (raw && !catchingUp && !reset && this.writers?.available) {
      // A stream at the live edge goes to a writer process, with its first bytes.
      const first = Buffer.concat([Buffer.from(rawHead(raw.cors), 'latin1'), this.retryBytes, confirmed]);
      const f = { agents: filter.agents && [...filter.agents], types: filter.types && [...filter.types], minSeverity: filter.minSeverity, patterns: p?.scope ? p.patterns : null };
      hold();
      // hand() calls ended() once, whatever becomes of the stream (also if it cannot be sent).
      this.writers.hand(raw.socket, { first, start, filter: f, principal: who, expMs: p ? p.expMs : null }, ended);
      this.logger.debug({ who: p ? 'token' : who, resume: !!lastId }, 'SSE stream opened (writer process)');
      return;
    }

    const sink = open();
    const client = new Client(sink, filter, this.cfg.client_queue_max_bytes, hub, start, catchingUp, who);
    hold();
    hub.add(client);
    const remove = client.onGone;
    client.onGone = (c, reason) => {
      remove?.(c, reason);
      ended(reason);
    };
    client.own(this.retryBytes);
    client.own(confirmed);
    if (reset) client.own(encodeEvent(startId, 'reset', reset));
    if (p) {
      // auth_expired goes out a second before exp; then the stream ends and the client comes back
      // with a fresh ticket and its last id.
      client.expireAt(p.expMs - 1000, () => encodeEvent(undefined, 'auth_expired', { expires_at: p!.expMs, server_time: Date.now() }));
    }
    client.pump();
    this.logger.debug({ who: p ? 'token' : who, resume: !!lastId }, 'SSE stream opened');
  }

  /** GET /v1/events read by the front door: same checks and stream, answered on the socket. */
  private async rawStream(socket: Socket, req: { target: string; headers: http.IncomingHttpHeaders }): Promise<void> {
    const cors = this.corsHeaders(req.headers.origin);
    let url: URL;
    try {
      url = new URL(req.target, 'http://feed');
    } catch {
      return rawFail(socket, new SseError(400, SseCode.BadRequest, 'bad request target'), cors);
    }
    try {
      if (this.stopping) throw new SseError(503, SseCode.ShuttingDown, 'shutting down', { 'retry-after': '5' });
      await this.events(req.headers, socket.remoteAddress, url, () => rawOpen(socket, cors), { socket, cors });
    } catch (err) {
      if (err instanceof SseError) {
        if (err.status === 401) this.counters.authFailures++;
        if (err.status === 400) this.counters.badRequests++;
        this.logger.debug({ path: '/v1/events', status: err.status, code: err.code }, 'SSE request refused');
        return rawFail(socket, err, cors);
      }
      this.logger.error({ path: '/v1/events', err: (err as Error).message }, 'SSE request failed');
      rawFail(socket, new SseError(500, 'FLEETCOL_SSE_INTERNAL', 'internal error'), cors);
    }
  }

  /** Sends the response head and returns where the stream's bytes go. */
  private open(req: Req, res: Res): Sink {
    const cors = this.corsHeaders(req.headers.origin);
    if (req instanceof http2.Http2ServerRequest) {
      const r = res as http2.Http2ServerResponse;
      r.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no', ...cors });
      return new StreamSink(r.stream);
    }
    // HTTP/1.1: our own head on the socket, then raw SSE bytes until either side closes (no
    // chunked framing, no per-write bookkeeping in ServerResponse). The response object is left
    // unfinished and is dropped with the socket.
    return rawOpen(req.socket, cors);
  }
}

const str = (v: string | string[] | undefined): string | undefined => (typeof v === 'string' ? v : undefined);

function values(q: URLSearchParams, key: string): Set<string> | null {
  const all = q.getAll(key);
  if (all.length === 0) return null;
  const out = new Set<string>();
  for (const v of all) {
    for (const part of v.split(',')) {
      if (part.length > MAX_VALUE_LENGTH) throw new SseError(400, SseCode.BadRequest, `a ${key} value is longer than ${MAX_VALUE_LENGTH} characters`);
      if (part !== '') out.add(part);
    }
  }
  if (out.size > MAX_FILTER_VALUES) throw new SseError(400, SseCode.BadRequest, `at most ${MAX_FILTER_VALUES} values for ${key}`);
  return out.size === 0 ? null : out;
}
