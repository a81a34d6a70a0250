// Hostile input to the SSE feed (issue 18, items 13-15): query values checked against their own
// allowed sets and bounded, agent scopes matched without a backtracking regex, Origin never
// reflected unless it is a well-formed origin, and `*` without credentials.
import t from 'tap';
import net from 'node:net';
import { SignJWT } from 'jose';
import { globMatch, globMatcher } from '../src/glob.js';
import { MAX_EVENT_DATA } from '../exporters/sse/event.js';
import { memoryAccounting } from '../src/memory.js';
import { metricValue, sleep, waitFor } from './helper.js';
import { internals, startFeed, spans, writerPids } from './sse-support.js';

const SECRET = 'test-secret-that-is-long-enough-for-hs256';
const key = new TextEncoder().encode(SECRET);
const token = (claims: Record<string, unknown>) =>
  new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setSubject('user-1').setIssuedAt().setExpirationTime('5m').sign(key);

/** One raw HTTP/1.1 request (a header value node's own client would refuse); the response head. */
function rawHead(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(request));
    let got = '';
    s.setEncoding('latin1');
    s.on('data', (d: string) => {
      got += d;
      const end = got.indexOf('\r\n\r\n');
      if (end >= 0) {
        s.destroy();
        resolve(got.slice(0, end));
      }
    });
    s.on('error', reject);
    s.setTimeout(5000, () => s.destroy(new Error('no response head')));
  });
}

t.test('globMatch: wildcard semantics', async (t) => {
  const cases: Array<[string, string, boolean]> = [
    ['*-prod', 'api-prod', true],
    ['*-prod', 'api-dev', false],
    ['a?c', 'abc', true],
    ['a?c', 'ac', false],
    ['*', '', true],
    ['a*b*c', 'aXbYc', true],
    ['a*b*c', 'aXbY', false],
    ['a**', 'a', true],
    ['*a*a*a', 'aaaa', true],
    ['*-*-*-*-prod', 'x-y-z-w-prod', true],
    ['*-*-*-*-prod', 'x-y-z-prod', false],
    ['exact', 'exact', true],
  ];
  for (const [p, s, want] of cases) t.equal(globMatch(p, s), want, `${p} ~ ${s}`);
  t.equal(globMatcher(['planner', 'c*'])('coder'), true);
});

t.test('a scope glob against a 10,000-dash agent id is answered, not backtracked', async (t) => {
  // As a RegExp, ^.*-.*-.*-.*-prod$ against 400 dashes took ~11 s of the event loop.
  t.equal(globMatcher(['*-*-*-*-prod'])('-'.repeat(10_000)), false);
});

t.test('a scoped token and spans with long dash ids: the feed stays responsive, ids are cut to 256', async (t) => {
  const f = await startFeed({ auth: { jwt: { secret: SECRET } } });
  t.teardown(() => f.stop());
  const jwt = await token({ fleetcol_agents: ['*-*-*-*-prod'] });
  const res = await fetch(`${f.base}/v1/events`, { headers: { authorization: `Bearer ${jwt}` } });
  t.equal(res.status, 200);
  await f.exp.consume(spans([{ agent: '-'.repeat(400) }, { agent: '-'.repeat(400) + 'x' }, { agent: '-'.repeat(5000) }]));
  const agents = await fetch(`${f.base}/v1/agents`, { headers: { authorization: `Bearer ${await token({})}` } });
  const body = (await agents.json()) as { agents: Array<{ id: string }> };
  t.ok(body.agents.length >= 1 && body.agents.every((a) => a.id.length <= 256), 'agent ids bounded');
  await res.body?.cancel();
  const tooMany = await token({ fleetcol_agents: Array.from({ length: 300 }, (_, i) => `a${i}*`) });
  t.equal((await fetch(`${f.base}/v1/agents`, { headers: { authorization: `Bearer ${tooMany}` } })).status, 401, 'a claim of 300 patterns is refused');
  const tooLong = await token({ fleetcol_agents: ['*'.repeat(300) + 'x'] });
  t.equal((await fetch(`${f.base}/v1/agents`, { headers: { authorization: `Bearer ${tooLong}` } })).status, 401, 'a 301-character pattern is refused');
});

for (const writers of [0, 1]) {
  t.test(`min_severity=constructor and friends are 400, and leave no stream slot held (writers: ${writers})`, async (t) => {
    const f = await startFeed({ writers, max_connections_per_client: 4 });
    t.teardown(() => f.stop());
    if (writers > 0) t.equal(writerPids(f).length, 1);
    for (const v of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf']) {
      for (let i = 0; i < 2; i++) {
        const r = await fetch(`${f.base}/v1/events?min_severity=${v}`);
        t.equal(r.status, 400, `min_severity=${v}`);
        await r.body?.cancel();
      }
    }
    const bad = [`agent=${'a'.repeat(257)}`, `type=${'x'.repeat(300)}`, `last_event_id=${'1'.repeat(300)}`];
    for (const q of bad) {
      const r = await fetch(`${f.base}/v1/events?${q}`);
      t.equal(r.status, 400, q.slice(0, 20));
      await r.body?.cancel();
    }
    const ok = await fetch(`${f.base}/v1/events?min_severity=warn`);
    t.equal(ok.status, 200, 'a valid request still gets a stream: no slot leaked');
    await ok.body?.cancel();
    // The counters are published every second.
    await waitFor(async () => metricValue(await f.set.registry.prom.metrics(), 'fleetcol_exporter_sse_bad_requests_total') === 13, 5000, 'each 400 counted in fleetcol_exporter_sse_bad_requests_total');
    t.pass('each 400 counted in fleetcol_exporter_sse_bad_requests_total');
  });
}

t.test('Origin with a bare CR or LF is not reflected (no header injection), and `*` gives no credentials', async (t) => {
  const f = await startFeed({ cors: { allowed_origins: ['*'] } });
  t.teardown(() => f.stop());
  const port = Number(new URL(f.base).port);
  for (const origin of ['https://a.example\rX-Injected: 1', 'https://a.example\nX-Injected: 1']) {
    const head = await rawHead(port, `GET /v1/events HTTP/1.1\r\nHost: x\r\nOrigin: ${origin}\r\n\r\n`);
    t.notMatch(head, /X-Injected/i, `${JSON.stringify(origin)}: nothing injected`);
    t.notMatch(head, /access-control-allow-origin/i, 'and not reflected');
  }
  const head = await rawHead(port, 'GET /v1/events HTTP/1.1\r\nHost: x\r\nOrigin: https://a.example\r\n\r\n');
  t.match(head, /access-control-allow-origin: https:\/\/a\.example/i, 'a well-formed origin is reflected under *');
  t.notMatch(head, /access-control-allow-credentials/i, 'without credentials under *');
  const g = await startFeed({ cors: { allowed_origins: ['*', 'https://dash.example'] } });
  t.teardown(() => g.stop());
  const listed = await fetch(`${g.base}/v1/agents`, { headers: { origin: 'https://dash.example' } });
  t.equal(listed.headers.get('access-control-allow-credentials'), 'true', 'a listed origin keeps credentials');
});

t.test('clients that never read: each holds at most its budget, in bytes and in queue entries, and the feed is in the memory account', async (t) => {
  const f = await startFeed({ client_queue_max_bytes: '64KiB', write_window: '5ms' });
  t.teardown(() => f.stop());
  const port = Number(new URL(f.base).port);
  const sockets: net.Socket[] = [];
  for (let i = 0; i < 4; i++) {
    const s = net.connect(port, '127.0.0.1', () => s.write('GET /v1/events HTTP/1.1\r\nHost: x\r\n\r\n'));
    s.pause(); // never reads
    s.on('error', () => {});
    sockets.push(s);
  }
  t.teardown(() => sockets.forEach((s) => s.destroy()));
  const hub = internals(f).hub;
  await waitFor(() => hub.clients.size === 4, 5000, 'four streams');
  // Spans of ten agents (low lane, coalesced per agent once a queue is past half) until the
  // sockets' kernel buffers are full and the queues have coalesced for a long while.
  for (let round = 0; round < 400; round++) {
    await f.exp.consume(spans(Array.from({ length: 100 }, (_, i) => ({ agent: `a${i % 10}`, name: `step ${round}-${i} ${'x'.repeat(200)}` }))));
    if (round % 20 === 0) await sleep(10);
  }
  await sleep(100);
  for (const c of hub.clients) {
    t.ok(c.writer.used() <= 64 * 1024, `queued ${c.writer.used()} bytes, within client_queue_max_bytes`);
    t.ok(c.writer.entries < 4096, `${c.writer.entries} queue entries (40,000 events were offered)`);
  }
  const held = memoryAccounting.snapshot().find((h) => h.kind === 'exporter' && h.id === 'sse')?.bytes ?? 0;
  t.ok(held >= hub.history.bytes && held > 0, `the feed's ${held} bytes are in the process-wide account`);
});

t.test('history is bounded in bytes, and one event carries at most 16 KiB', async (t) => {
  const f = await startFeed({ history: { size: 10_000, max_bytes: '1MiB' } });
  t.teardown(() => f.stop());
  const st = await fetch(`${f.base}/v1/events?type=error`);
  const reader = st.body!.getReader();
  const huge = 'n'.repeat(3 << 20);
  for (let i = 0; i < 30; i++) await f.exp.consume(spans([{ agent: 'a', name: huge, error: true }]));
  const hub = internals(f).hub;
  t.ok(hub.history.bytes <= 1 << 20, `history holds ${hub.history.bytes} bytes (max_bytes 1MiB; 30 events with 3 MiB names)`);
  t.ok(hub.history.length > 0);
  let text = '';
  while (!text.includes('event: error')) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  const line = text.split('\n').find((l, i, all) => l.startsWith('data: ') && all[i - 1] === 'event: error')!;
  t.ok(line.length <= MAX_EVENT_DATA + 10, `an error event of ${line.length} bytes`);
  t.match(JSON.parse(line.slice(6)), { truncated: true }, 'says it was cut');
  await reader.cancel();
});
