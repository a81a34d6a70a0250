// Auth: JWT by bearer header, cookie or single-use ticket; exp required; the fleetcol_agents claim
// scopes stream, replay and /v1/agents; auth_expired at expiry and a lossless resume with a new
// ticket; credentials never logged; CORS.
import t from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import http from 'node:http';
import { Writable } from 'node:stream';
import { SignJWT, exportJWK } from 'jose';
import { pino } from 'pino';
import { openStream, spans, startFeed, waitEvent } from './sse-support.js';
import { freePort, sleep, tempFile, waitFor } from './helper.js';

const SECRET = 'test-secret-that-is-long-enough-for-hs256';
const key = new TextEncoder().encode(SECRET);

async function token(claims: Record<string, unknown> = {}, opts: { expSec?: number | null; secret?: Uint8Array; sub?: string } = {}): Promise<string> {
  let j = new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setSubject(opts.sub ?? 'user-1').setIssuedAt();
  if (opts.expSec !== null) j = j.setExpirationTime(Math.floor(Date.now() / 1000) + (opts.expSec ?? 300));
  return j.sign(opts.secret ?? key);
}

const bearer = (tok: string) => ({ authorization: `Bearer ${tok}` });

/** Spans s0, s1, ... of agent `a`, one every 20 ms, until stop(), which returns how many were sent. */
function spanSender(f: { exp: { consume(b: ReturnType<typeof spans>): Promise<void> } }): { stop(): Promise<number> } {
  let n = 0;
  let sending = true;
  const loop = (async () => {
    while (sending) {
      await f.exp.consume(spans([{ agent: 'a', name: `s${n++}` }]));
      await sleep(20);
    }
  })();
  return {
    stop: async () => {
      sending = false;
      await loop;
      return n;
    },
  };
}

t.test('401 without credentials, with a bad signature, expired, or without exp; 200 by bearer or cookie', async (t) => {
  const f = await startFeed({ auth: { jwt: { secret: SECRET } } });
  t.teardown(() => f.stop());
  const cases: [string, Record<string, string>, string][] = [
    ['no token', {}, 'FLEETCOL_SSE_AUTH_MISSING'],
    ['bad signature', bearer(await token({}, { secret: new TextEncoder().encode('another-secret-another-secret-xx') })), 'FLEETCOL_SSE_AUTH_INVALID'],
    ['expired', bearer(await token({}, { expSec: -60 })), 'FLEETCOL_SSE_AUTH_EXPIRED'],
    ['no exp', bearer(await token({}, { expSec: null })), 'FLEETCOL_SSE_AUTH_INVALID'],
    ['not a jwt', bearer('abc.def'), 'FLEETCOL_SSE_AUTH_INVALID'],
  ];
  for (const [what, headers, code] of cases) {
    for (const path of ['/v1/events', '/v1/agents']) {
      const r = await fetch(`${f.base}${path}`, { headers });
      t.equal(r.status, 401, `${what} ${path}`);
      t.equal(r.headers.get('content-type'), 'application/json');
      t.match(await r.json(), { error: { code } }, `${what} ${path}: ${code}`);
    }
  }
  const ok = await token();
  const a = await openStream(`${f.base}/v1/events`, bearer(ok));
  t.equal(a.status, 200, 'bearer');
  a.close();
  const b = await openStream(`${f.base}/v1/events`, { cookie: `other=1; fleetcol_token=${ok}` });
  t.equal(b.status, 200, 'cookie');
  b.close();
  t.equal((await fetch(`${f.base}/v1/agents`, { headers: bearer(ok) })).status, 200);
});

t.test('tickets: single use, expire, bought only with a token', async (t) => {
  const f = await startFeed({ auth: { jwt: { secret: SECRET, ticket_ttl: '300ms' } } });
  t.teardown(() => f.stop());
  const tok = await token();
  t.equal((await fetch(`${f.base}/v1/tickets`, { method: 'POST' })).status, 401, 'no token, no ticket');
  const r = await fetch(`${f.base}/v1/tickets`, { method: 'POST', headers: bearer(tok) });
  t.equal(r.status, 200);
  const { ticket, expires_in } = (await r.json()) as { ticket: string; expires_in: number };
  t.type(ticket, 'string');
  t.ok(expires_in >= 0 && expires_in <= 30);
  const s1 = await openStream(`${f.base}/v1/events?ticket=${ticket}`);
  t.equal(s1.status, 200, 'ticket opens a stream');
  s1.close();
  const s2 = await openStream(`${f.base}/v1/events?ticket=${ticket}`);
  t.equal(s2.status, 401, 'ticket reuse');
  await s2.ended;
  t.match(JSON.parse(s2.body), { error: { code: 'FLEETCOL_SSE_TICKET_INVALID' } });
  const { ticket: t2 } = (await (await fetch(`${f.base}/v1/tickets`, { method: 'POST', headers: bearer(tok) })).json()) as { ticket: string };
  await sleep(400);
  const s3 = await openStream(`${f.base}/v1/events?ticket=${t2}`);
  t.equal(s3.status, 401, 'ticket expiry');
  s3.close();
  const { ticket: t3 } = (await (await fetch(`${f.base}/v1/tickets`, { method: 'POST', headers: bearer(tok) })).json()) as { ticket: string };
  t.equal((await fetch(`${f.base}/v1/tickets?ticket=${t3}`, { method: 'POST' })).status, 401, 'a ticket does not buy a ticket');
  t.equal((await fetch(`${f.base}/v1/tickets`)).status, 405);
});

t.test('fleetcol_agents scopes the stream, the replay and /v1/agents; a forbidden filter is 403', async (t) => {
  const f = await startFeed({ auth: { jwt: { secret: SECRET } } });
  t.teardown(() => f.stop());
  const admin = await token();
  const teamA = await token({ fleetcol_agents: ['team-a-*'] }, { sub: 'alice' });
  const all = await openStream(`${f.base}/v1/events`, bearer(admin));
  t.teardown(() => all.close());
  await waitEvent(all, (e) => e.type === 'subscription_confirmed');
  await f.exp.consume(spans([{ agent: 'team-a-1' }, { agent: 'team-b-1' }, { agent: 'team-a-2', error: true }]));
  await waitEvent(all, (e) => e.type === 'error');
  const first = all.events[0]!.id!;

  const scoped = await openStream(`${f.base}/v1/events?last_event_id=${first}`, bearer(teamA));
  t.teardown(() => scoped.close());
  await waitEvent(scoped, (e) => e.type === 'error');
  await f.exp.consume(spans([{ agent: 'team-b-1', name: 'live-b' }, { agent: 'team-a-1', name: 'live-a' }]));
  await waitEvent(scoped, (e) => e.data?.name === 'live-a');
  await waitEvent(all, (e) => e.data?.name === 'live-a');
  const agents = new Set(scoped.events.slice(1).map((e) => e.data.agent));
  t.same([...agents].sort(), ['team-a-1', 'team-a-2'], 'replay and live: only team-a agents');
  t.same(scoped.events[0]!.data.scope, ['team-a-*']);
  t.ok(all.events.some((e) => e.data?.agent === 'team-b-1'), 'the unscoped token sees team-b');

  const snap = (await (await fetch(`${f.base}/v1/agents`, { headers: bearer(teamA) })).json()) as any;
  t.same(snap.agents.map((a: any) => a.id).sort(), ['team-a-1', 'team-a-2']);
  const forbidden = await fetch(`${f.base}/v1/events?agent=team-b-1`, { headers: bearer(teamA) });
  t.equal(forbidden.status, 403);
  t.match(await forbidden.json(), { error: { code: 'FLEETCOL_SSE_FORBIDDEN_FILTER' } });
  const allowed = await openStream(`${f.base}/v1/events?agent=team-a-2`, bearer(teamA));
  t.equal(allowed.status, 200);
  allowed.close();
});

t.test('auth_expired at expiry, then a lossless resume with a new ticket', async (t) => {
  const f = await startFeed({ auth: { jwt: { secret: SECRET } } });
  t.teardown(() => f.stop());
  const long = await token({}, { expSec: 600 });
  // exp has one-second resolution: expire 2-3 s from now; auth_expired comes a second before.
  const short = await token({}, { expSec: 3 });
  const first = await openStream(`${f.base}/v1/events?type=span&ticket=${await ticketFor(f.base, short)}`);
  t.equal(first.status, 200);
  const sender = spanSender(f);
  await first.ended;
  const expired = first.events.at(-1)!;
  t.equal(expired.type, 'auth_expired', 'the last event before the close is auth_expired');
  t.ok(expired.data.expires_at > Date.now() - 2000);
  const last = first.lastEventId();
  await sleep(200); // events keep coming while the client is away
  const second = await openStream(`${f.base}/v1/events?type=span&ticket=${await ticketFor(f.base, long)}`, { 'last-event-id': last });
  t.teardown(() => second.close());
  t.equal(second.status, 200);
  await sleep(200);
  const n = await sender.stop();
  await waitFor(() => second.events.some((e) => e.data?.name === `s${n - 1}`), 3000, 'the last span');
  const names = [...first.events, ...second.events].filter((e) => e.type === 'span').map((e) => e.data.name);
  t.same(names, Array.from({ length: n }, (_, i) => `s${i}`), `all ${n} spans exactly once across the expiry`);
});

t.test('at expiry the client first gets what the write window still owed it, then auth_expired', async (t) => {
  // A 2-s window: without the hand-over, up to 2 s of spans would come only after a resume.
  const f = await startFeed({ auth: { jwt: { secret: SECRET } }, flush_interval: '10ms', write_window: '2s' });
  t.teardown(() => f.stop());
  const short = await token({}, { expSec: 3 });
  const st = await openStream(`${f.base}/v1/events?type=span`, bearer(short));
  t.equal(st.status, 200);
  const sender = spanSender(f);
  await st.ended;
  const sentBeforeClose = await sender.stop();
  t.equal(st.events.at(-1)!.type, 'auth_expired');
  const names = st.events.filter((e) => e.type === 'span').map((e) => e.data.name);
  t.same(names, Array.from({ length: names.length }, (_, i) => `s${i}`), 'a gap-free prefix, in order');
  t.ok(sentBeforeClose - names.length <= 3, `all but the last few sent before the close arrived (${names.length} of ${sentBeforeClose})`);
});

t.test('a token that expires months from now keeps its stream (longer than a timer can wait)', async (t) => {
  const f = await startFeed({ auth: { jwt: { secret: SECRET } } });
  t.teardown(() => f.stop());
  const st = await openStream(`${f.base}/v1/events`, bearer(await token({}, { expSec: 90 * 86_400 })));
  t.teardown(() => st.close());
  t.equal(st.status, 200);
  await waitEvent(st, (e) => e.type === 'subscription_confirmed');
  await sleep(300);
  await f.exp.consume(spans([{ agent: 'a', name: 'later' }]));
  await waitEvent(st, (e) => e.data?.name === 'later');
  t.notOk(st.events.some((e) => e.type === 'auth_expired'), 'no auth_expired');
});

async function ticketFor(base: string, tok: string): Promise<string> {
  const r = await fetch(`${base}/v1/tickets`, { method: 'POST', headers: bearer(tok) });
  return ((await r.json()) as { ticket: string }).ticket;
}

t.test('tokens and tickets never appear in the logs', async (t) => {
  let out = '';
  const logger = pino({ level: 'trace' }, new Writable({ write(c, _e, cb) { out += c; cb(); } }));
  const f = await startFeed({ auth: { jwt: { secret: SECRET } } }, { logger });
  t.teardown(() => f.stop());
  const tok = await token();
  const bad = await token({}, { expSec: -10 });
  const ticket = await ticketFor(f.base, tok);
  const s = await openStream(`${f.base}/v1/events?ticket=${ticket}`);
  s.close();
  await fetch(`${f.base}/v1/events?ticket=${ticket}`);
  await fetch(`${f.base}/v1/events`, { headers: bearer(bad) });
  await fetch(`${f.base}/v1/agents`, { headers: { cookie: `fleetcol_token=${bad}` } });
  await sleep(50);
  await f.stop();
  t.ok(out.length > 0, 'something was logged');
  t.notOk(out.includes(tok), 'no token');
  t.notOk(out.includes(bad), 'no expired token');
  t.notOk(out.includes(ticket), 'no ticket');
  t.notOk(out.includes(tok.split('.')[2]!), 'no signature');
});

t.test('ES256 public key file and JWKS URL', async (t) => {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = publicKey.export({ type: 'spki', format: 'pem' }) as string;
  const sign = (kid?: string) =>
    new SignJWT({}).setProtectedHeader({ alg: 'ES256', ...(kid ? { kid } : {}) }).setSubject('x').setExpirationTime('5m').sign(privateKey);
  const f = await startFeed({ auth: { jwt: { public_key_file: tempFile('pub.pem', pem) } } });
  t.teardown(() => f.stop());
  t.equal((await fetch(`${f.base}/v1/agents`, { headers: bearer(await sign()) })).status, 200, 'public_key_file');
  t.equal((await fetch(`${f.base}/v1/agents`, { headers: bearer(await token()) })).status, 401, 'HS256 token against an EC key');

  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
  const port = await freePort();
  const jwks = http.createServer((_q, r) => r.end(JSON.stringify({ keys: [jwk] })));
  await new Promise<void>((r) => jwks.listen(port, '127.0.0.1', () => r()));
  t.teardown(() => new Promise<void>((r) => jwks.close(() => r())));
  const g = await startFeed({ auth: { jwt: { jwks_url: `http://127.0.0.1:${port}/jwks.json` } } });
  t.teardown(() => g.stop());
  t.equal((await fetch(`${g.base}/v1/agents`, { headers: bearer(await sign('k1')) })).status, 200, 'jwks_url');
  t.equal((await fetch(`${g.base}/v1/agents`, { headers: bearer(await sign('k2')) })).status, 401, 'unknown kid');
});

t.test('CORS: allowed origins get the headers and a preflight answer; others do not', async (t) => {
  const f = await startFeed({ cors: { allowed_origins: ['https://dash.example'] } });
  t.teardown(() => f.stop());
  const pre = await fetch(`${f.base}/v1/events`, { method: 'OPTIONS', headers: { origin: 'https://dash.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'last-event-id' } });
  t.equal(pre.status, 204);
  t.equal(pre.headers.get('access-control-allow-origin'), 'https://dash.example');
  t.match(pre.headers.get('access-control-allow-headers'), /Last-Event-ID/);
  const s = await openStream(`${f.base}/v1/events`, { origin: 'https://dash.example' });
  t.equal(s.headers['access-control-allow-origin'], 'https://dash.example');
  t.equal(s.headers['access-control-allow-credentials'], 'true');
  s.close();
  const other = await fetch(`${f.base}/v1/agents`, { headers: { origin: 'https://evil.example' } });
  t.equal(other.headers.get('access-control-allow-origin'), null);
});
