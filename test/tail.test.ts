// `fleetcol tail` against the real daemon: human-readable lines, --raw JSON lines, --agent/--type
// filters, --token (and FLEETCOL_TOKEN) against a JWT feed, 401/403 and auth_expired exit 1 with the
// server's error, a resume with Last-Event-ID after a dropped connection and after a daemon restart
// (nothing lost, nothing twice), usage errors exit 2, SIGINT and a closed stdout exit 0.
import t from 'tap';
import net from 'node:net';
import { SignJWT } from 'jose';
import { freePort, makeCert, runCli, spawnCli, startDaemon, waitFor, type CliProcess, type Daemon } from './helper.js';
import { openStream, records, spans, waitEvent, type SpanSpec } from './sse-support.js';
import { HumanFormat, clean, useColour } from '../src/tail/format.js';

const SECRET = 'tail-test-secret-long-enough-for-hs256';

interface Tail extends CliProcess {
  lines(): string[];
  /** stdout lines parsed as JSON (--raw). */
  events(): Array<{ id: string | null; event: string; data: any }>;
}

function startTail(args: string[], env: Record<string, string> = {}): Tail {
  const cli = spawnCli(['tail', ...args], { NO_COLOR: '', FLEETCOL_TOKEN: '', TZ: 'UTC', ...env });
  const lines = () => cli.stdout().split('\n').filter((l) => l !== '');
  return { ...cli, lines, events: () => lines().map((l) => JSON.parse(l)) };
}

interface Fleet {
  daemon: Daemon;
  otlp: number;
  sse: number;
  url: string;
  yaml: string;
  send(specs: SpanSpec[]): Promise<void>;
  sendRecords(specs: Parameters<typeof records>[0]): Promise<void>;
}

async function fleet(sseExtra = '', ports?: { otlp: number; sse: number; metrics: number }): Promise<Fleet> {
  const otlp = ports?.otlp ?? (await freePort());
  const sse = ports?.sse ?? (await freePort());
  const metrics = ports?.metrics ?? (await freePort());
  const yaml = `
receivers:
  otlp:
    protocols:
      http: { endpoint: 127.0.0.1:${otlp} }
exporters:
  sse: { endpoint: 127.0.0.1:${sse}, heartbeat_interval: 0s, metrics_interval: 0s, flush_interval: 10ms, retry: 200ms, shutdown_retry_spread: 0s, offline_after: 10m${sseExtra} }
service:
  pipelines:
    traces: { receivers: [otlp], exporters: [sse] }
    logs: { receivers: [otlp], exporters: [sse] }
  telemetry: { metrics: { address: 127.0.0.1:${metrics} } }
`;
  const daemon = await startDaemon(yaml);
  const post = async (path: string, body: string) => {
    const r = await fetch(`http://127.0.0.1:${otlp}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    if (r.status !== 200) throw new Error(`OTLP ${path}: ${r.status}`);
  };
  return {
    daemon, otlp, sse, yaml,
    url: `http://127.0.0.1:${sse}/v1/events`,
    send: (specs) => post('/v1/traces', spans(specs).toJSON()),
    sendRecords: (specs) => post('/v1/logs', records(specs).toJSON()),
  };
}

// One daemon for the suites that only read the feed, one with auth: each suite uses its own agent
// names and opens its own tail (which starts at live events), so they do not see each other's.
const shared = (make: () => Promise<Fleet>) => {
  let p: Promise<Fleet> | undefined;
  return () => (p ??= make().then((f) => (t.teardown(() => f.daemon.stop()), f)));
};
const plain = shared(() => fleet());
const secured = shared(() => fleet(`, auth: { jwt: { secret: ${JSON.stringify(SECRET)} } }`));

const following = (tl: Tail) => waitFor(() => /following /.test(tl.stderr()), 10_000, `tail to connect (stderr: ${tl.stderr()})`);
const spanNames = (tl: Tail) => tl.events().filter((e) => e.event === 'span').map((e) => e.data.name as string);

async function token(claims: Record<string, unknown> = {}, expSec = 300): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setSubject('operator').setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + expSec).sign(new TextEncoder().encode(SECRET));
}

t.test('human-readable: a line per event with time, type, agent and summary; SIGINT exits 0', async (t) => {
  const f = await plain();
  const tl = startTail([`127.0.0.1:${f.sse}`]); // host:port means its /v1/events
  t.teardown(() => tl.stop('SIGKILL', 0));
  await following(tl);
  const end = Date.UTC(2025, 0, 2, 3, 4, 5, 678);
  await f.send([
    { agent: 'alpha', name: 'chat alpha', endMs: end, durationMs: 1234, inTokens: 10, outTokens: 5, cost: 0.0031, attrs: [{ key: 'gen_ai.request.model', value: { stringValue: 'gpt-4o' } }] },
    { agent: 'alpha', name: 'tool \u001b[31mred\u001b[0m', endMs: end, error: true },
  ]);
  await f.sendRecords([{ agent: 'beta', event: 'a2a.task.status', state: 'working', task: 'T-1' }]);
  await waitFor(() => /task_started/.test(tl.stdout()), 5000, 'task_started line');
  const out = tl.stdout();
  t.match(out, /^03:04:05\.678 span {12}alpha {2}chat alpha {2}1\.23s {2}unset {2}model=gpt-4o {2}tokens=10\/5 {2}cost=\$0\.0031$/m, 'span: local time, name, duration, status, tokens, cost');
  t.match(out, /^03:04:05\.678 error +alpha +span "tool \\x1b\[31mred\\x1b\[0m" failed: boom$/m, 'error span; control characters from the feed are escaped');
  t.match(out, /^\d\d:\d\d:\d\d\.\d{3} agent_online +alpha +online {2}service=svc$/m);
  t.match(out, /^\d\d:\d\d:\d\d\.\d{3} task_started +beta +task T-1 started$/m);
  t.notMatch(out, /\u001b/, 'no colour when stdout is not a terminal');
  t.notMatch(out, /subscription_confirmed/, 'subscription_confirmed is a notice on stderr, not an event line');
  t.match(tl.stderr(), `following http://127.0.0.1:${f.sse}/v1/events`);
  t.equal(await tl.stop('SIGINT', 5000), 0, 'SIGINT: exit 0');
  t.notMatch(tl.stderr(), /Error|at .*\.js/, 'quietly');
});

t.test('--raw: one JSON object per line, the same ids and types as the feed', async (t) => {
  const f = await plain();
  const st = await openStream(f.url);
  t.teardown(() => st.close());
  const tl = startTail([f.url, '--raw']);
  t.teardown(() => tl.stop('SIGKILL', 0));
  await following(tl);
  await f.send([{ agent: 'a', name: 's1' }, { agent: 'b', name: 's2', error: true }]);
  await f.sendRecords([{ agent: 'a', event: 'fleet.alert', attrs: [{ key: 'alert.name', value: { stringValue: 'budget' } }] }]);
  await waitEvent(st, (e) => e.type === 'alert');
  await waitFor(() => tl.events().some((e) => e.event === 'alert'), 5000, 'alert in tail');
  const evs = tl.events();
  t.equal(evs[0]!.event, 'subscription_confirmed');
  t.match(evs[0]!.data, { filters: { agent: null, type: null }, retry_ms: 200 });
  const mine = evs.slice(1).map((e) => `${e.id} ${e.event}`);
  const feed = st.events.filter((e) => e.type !== 'subscription_confirmed').map((e) => `${e.id} ${e.type}`);
  t.same(mine, feed, 'every event, in order, with its id and type');
  t.same(spanNames(tl), ['s1', 's2']);
  t.match(evs.find((e) => e.event === 'alert')!.data, { agent: 'a', name: 'budget', state: 'raised' }, 'data is the parsed JSON');
  for (const e of evs) t.match(e.id, /^\d+-\d+$/);
});

t.test('--agent and --type filter (repeatable and comma lists)', async (t) => {
  const f = await plain();
  const tl = startTail([f.url, '--raw', '--agent', 'gamma', '--type', 'span,error', '--type', 'task_completed']);
  t.teardown(() => tl.stop('SIGKILL', 0));
  await following(tl);
  await f.send([{ agent: 'delta', name: 'b1' }, { agent: 'gamma', name: 'a1' }, { agent: 'delta', name: 'b2', error: true }, { agent: 'gamma', name: 'a2', error: true }]);
  await f.sendRecords([{ agent: 'gamma', event: 'a2a.task.status', state: 'working', task: 'T' }, { agent: 'gamma', event: 'a2a.task.status', state: 'completed', task: 'T' }]);
  await f.send([{ agent: 'gamma', name: 'last' }]);
  await waitFor(() => spanNames(tl).includes('last'), 5000, 'last span');
  const evs = tl.events();
  t.same(evs[0]!.data.filters, { agent: ['gamma'], type: ['span', 'error', 'task_completed'], min_severity: 'debug' }, 'the server got the filters');
  const rest = evs.slice(1);
  t.ok(rest.every((e) => e.data.agent === 'gamma'), 'only gamma');
  t.same(rest.map((e) => e.event), ['span', 'span', 'error', 'task_completed', 'span'], 'only the types asked for');
  t.same(spanNames(tl), ['a1', 'a2', 'last']);
});

t.test('JWT feed: --token and FLEETCOL_TOKEN work; a bad or missing token exits 1 with the server error; 403 too', async (t) => {
  const f = await secured();
  const good = await token();
  const a = startTail([f.url, '--raw', '--token', good]);
  t.teardown(() => a.stop('SIGKILL', 0));
  const b = startTail([f.url, '--raw'], { FLEETCOL_TOKEN: good });
  t.teardown(() => b.stop('SIGKILL', 0));
  await following(a);
  await following(b);
  await f.send([{ agent: 'x', name: 'secured' }]);
  await waitFor(() => spanNames(a).includes('secured') && spanNames(b).includes('secured'), 5000, 'span through auth');
  t.notMatch(a.stderr() + a.stdout() + b.stderr(), good, 'the token is never printed');

  const bad = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('5m').sign(new TextEncoder().encode('another-secret-another-secret-xx'));
  const scoped = await token({ fleetcol_agents: ['team-a-*'] });
  const [r, none, forbidden] = await Promise.all([
    runCli(['tail', f.url, '--token', bad], { FLEETCOL_TOKEN: '' }),
    runCli(['tail', f.url], { FLEETCOL_TOKEN: '' }),
    runCli(['tail', f.url, '--agent', 'team-b-1', '--token', scoped], { FLEETCOL_TOKEN: '' }),
  ]);
  t.equal(r.code, 1, 'bad token: exit 1');
  t.match(r.stderr, /answered 401 Unauthorized: \{"error":\{"code":"FLEETCOL_SSE_AUTH_INVALID","message":"[^"]+"\}\}/, "the server's JSON error");
  t.notMatch(r.stderr, bad, 'not the token');
  t.equal(r.stdout, '');
  t.equal(none.code, 1, 'no token: exit 1');
  t.match(none.stderr, /FLEETCOL_SSE_AUTH_MISSING/);
  t.match(none.stderr, /no token given: pass --token JWT or set FLEETCOL_TOKEN/);
  t.equal(forbidden.code, 1, '403: exit 1');
  t.match(forbidden.stderr, /answered 403 Forbidden: \{"error":\{"code":"FLEETCOL_SSE_FORBIDDEN_FILTER"/);
});

t.test('auth_expired: exit 1 with the reason and the id to resume from', async (t) => {
  const f = await secured();
  const tl = startTail([f.url, '--type', 'span', '--token', await token({}, 6)]);
  t.teardown(() => tl.stop('SIGKILL', 0));
  await following(tl);
  t.match(tl.stderr(), /the token expires at \d\d:\d\d:\d\d\.\d{3}/);
  await f.send([{ agent: 'x', name: 'before expiry' }]);
  await waitFor(() => /before expiry/.test(tl.stdout()), 5000, 'span');
  t.equal(await Promise.race([tl.exited, new Promise((r) => setTimeout(() => r('timeout'), 10_000))]), 1, 'exit 1 at auth_expired');
  t.match(tl.stdout(), /auth_expired +- +the token expires at/, 'the event is printed');
  t.match(tl.stderr(), /cannot be renewed/);
  t.match(tl.stderr(), new RegExp(`fleetcol tail '${f.url.replace(/[/.?]/g, '\\$&')}\\?type=span&last_event_id=\\d+-\\d+'`), 'how to resume without a gap');
});

/** A TCP relay to the feed that can cut its connections and refuse new ones; records request heads. */
async function relay(target: number) {
  const sockets = new Set<net.Socket>();
  const heads: string[] = [];
  let refusing = false;
  const server = net.createServer((c) => {
    if (refusing) return void c.destroy();
    const up = net.connect(target, '127.0.0.1');
    sockets.add(c).add(up);
    let head = '';
    c.on('data', (d) => {
      if (!head.includes('\r\n\r\n')) {
        head += d;
        if (head.includes('\r\n\r\n')) heads.push(head.toLowerCase());
      }
    });
    c.pipe(up).pipe(c);
    const gone = () => {
      c.destroy();
      up.destroy();
      sockets.delete(c);
      sockets.delete(up);
    };
    c.on('error', gone).on('close', gone);
    up.on('error', gone).on('close', gone);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    heads,
    cut(refuse: boolean) {
      refusing = refuse;
      for (const s of sockets) s.destroy();
    },
    close: () => new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    }),
  };
}

t.test('a dropped connection: reconnects with Last-Event-ID, replays what it missed, nothing twice', async (t) => {
  const f = await plain();
  const r = await relay(f.sse);
  t.teardown(() => r.close());
  const tl = startTail([`http://127.0.0.1:${r.port}/v1/events`, '--raw']);
  t.teardown(() => tl.stop('SIGKILL', 0));
  await following(tl);
  await f.send([{ agent: 'a', name: 's1' }]);
  await waitFor(() => spanNames(tl).includes('s1'), 5000, 's1');
  const lastBefore = tl.events().at(-1)!.id!;
  r.cut(true); // connection dropped, and the feed unreachable for a while
  await waitFor(() => /reconnecting in/.test(tl.stderr()), 5000, 'drop noticed');
  for (const name of ['s2', 's3', 's4']) await f.send([{ agent: 'a', name }]);
  r.cut(false);
  await waitFor(() => /reconnected, resuming after/.test(tl.stderr()), 15_000, 'reconnect');
  await f.send([{ agent: 'a', name: 's5' }]);
  await waitFor(() => spanNames(tl).includes('s5'), 5000, 's5');
  t.same(spanNames(tl), ['s1', 's2', 's3', 's4', 's5'], 'what was sent while away is replayed, in order, once');
  const ids = tl.events().filter((e) => e.event !== 'subscription_confirmed').map((e) => e.id);
  t.equal(new Set(ids).size, ids.length, 'no event id twice');
  t.notOk(tl.events().some((e) => e.event === 'reset'), 'no reset: the id was in history');
  t.match(tl.stderr(), `reconnected, resuming after ${lastBefore}`);
  const resumed = r.heads.at(-1)!;
  t.match(resumed, `last-event-id: ${lastBefore}`, 'Last-Event-ID sent');
});

t.test('a daemon restart: tail waits, reconnects, shows the reset, goes on; nothing twice', async (t) => {
  const ports = { otlp: await freePort(), sse: await freePort(), metrics: await freePort() };
  const first = await fleet('', ports);
  const tl = startTail([first.url, '--raw']);
  t.teardown(() => tl.stop('SIGKILL', 0));
  await following(tl);
  await first.send([{ agent: 'a', name: 'before' }]);
  await waitFor(() => spanNames(tl).includes('before'), 5000, 'before');
  t.equal(await first.daemon.stop(), 0);
  await waitFor(() => /reconnecting in/.test(tl.stderr()), 5000, 'planned shutdown noticed');
  const second = await fleet('', ports);
  t.teardown(() => second.daemon.stop());
  await waitFor(() => /reconnected/.test(tl.stderr()), 20_000, 'reconnect to the new daemon');
  await second.send([{ agent: 'a', name: 'after' }]);
  await waitFor(() => spanNames(tl).includes('after'), 5000, 'after');
  t.same(spanNames(tl), ['before', 'after']);
  const reset = tl.events().find((e) => e.event === 'reset');
  t.ok(reset, 'the reset event is printed');
  t.match(reset!.data, { reason: /another run/ });
  t.match(tl.stderr(), /feed reset/, 'and noticed on stderr');
  const ids = tl.events().filter((e) => e.event !== 'subscription_confirmed').map((e) => e.id);
  t.equal(new Set(ids).size, ids.length, 'no event id twice');

  // The same in human form: the reset is a visible line.
  const human = new HumanFormat(false).line({ id: reset!.id ?? undefined, event: 'reset', data: JSON.stringify(reset!.data) });
  t.match(human, /reset +- +\*\*\* feed reset \(unknown id.*\): events after \d+-\d+ may be missing/);
});

t.test('usage errors exit 2; a filter the server rejects too', async (t) => {
  const bad = [['tail', 'ftp://example/x'], ['tail', 'http://'], ['tail', 'a', 'b'], ['tail', '--bogus'], ['tail', '--agent', ''], ['tail', '--token', ''], ['--raw', 'tail']];
  const jwt = await token();
  const tokenAsUrl = [['tail', jwt], ['tail', 'http://127.0.0.1:1/v1/events', jwt]];
  const [badRuns, tokenRuns, help, top] = await Promise.all([
    Promise.all(bad.map((args) => runCli(args))),
    Promise.all(tokenAsUrl.map((args) => runCli(args))),
    runCli(['tail', '--help']),
    runCli(['--help']),
  ]);
  badRuns.forEach((r, i) => {
    t.equal(r.code, 2, bad[i]!.join(' '));
    t.match(r.stderr, /usage:/);
  });
  for (const r of tokenRuns) {
    t.equal(r.code, 2, 'a token where the URL goes');
    t.match(r.stderr, /token/);
    t.notMatch(r.stderr, jwt, 'and it is not printed');
  }
  t.equal(help.code, 0);
  t.match(help.stdout, /fleetcol tail \[URL\] \[--agent ID\] \[--type T\] \[--token JWT\] \[--raw\]/);
  t.match(top.stdout, /fleetcol tail/);
  const f = await plain();
  const r = await runCli(['tail', f.url, '--type', 'nonsense']);
  t.equal(r.code, 2, '400 from the server: exit 2');
  t.match(r.stderr, /400 Bad Request: .*unknown event type \\"nonsense\\"/);
});

t.test('HTTPS: verified with NODE_EXTRA_CA_CERTS; an unverified certificate exits 1', async (t) => {
  const cert = makeCert();
  if (!cert) return t.plan(0, 'no openssl'); // a plan of 0 with a reason: this test is skipped
  const f = await fleet(`, tls: { cert_file: ${JSON.stringify(cert.cert)}, key_file: ${JSON.stringify(cert.key)} }`);
  t.teardown(() => f.daemon.stop());
  const url = `https://127.0.0.1:${f.sse}/v1/events`;
  const tl = startTail([url, '--raw'], { NODE_EXTRA_CA_CERTS: cert.cert });
  t.teardown(() => tl.stop('SIGKILL', 0));
  await following(tl);
  await f.send([{ agent: 'a', name: 'over tls' }]);
  await waitFor(() => spanNames(tl).includes('over tls'), 5000, 'span over TLS');
  const r = await runCli(['tail', url]);
  t.equal(r.code, 1, 'self-signed, not trusted: exit 1 at once, no retry loop');
  t.match(r.stderr, /self[- ]signed/i);
});

t.test('stdout closed by its reader (| head): exit 0, no stack trace', async (t) => {
  const f = await plain();
  const tl = startTail([f.url]);
  t.teardown(() => tl.stop('SIGKILL', 0));
  await following(tl);
  await f.send([{ agent: 'a', name: 'one' }]);
  await waitFor(() => /one/.test(tl.stdout()), 5000, 'first line');
  tl.proc.stdout!.destroy();
  for (let i = 0; i < 5; i++) await f.send([{ agent: 'a', name: `more-${i}` }]);
  t.equal(await Promise.race([tl.exited, new Promise((r) => setTimeout(() => r('timeout'), 5000))]), 0);
  t.notMatch(tl.stderr(), /EPIPE|Error|fatal/);
});

t.test('colour only on a terminal without NO_COLOR', async (t) => {
  t.equal(useColour({ isTTY: true }, {}), true);
  t.equal(useColour({ isTTY: true }, { NO_COLOR: '1' }), false);
  t.equal(useColour({ isTTY: false }, {}), false);
  t.equal(useColour({}, {}), false);
  t.equal(useColour({ isTTY: true }, { TERM: 'dumb' }), false);
  const line = new HumanFormat(true).line({ id: '1-1', event: 'task_failed', data: JSON.stringify({ agent: 'a', task_id: 'T', state: 'failed', message: 'no', time: 0 }) });
  t.match(line, /\u001b\[31mtask_failed/, 'task_failed in red');
  t.match(line, /task T failed: no/);
  const unknown = new HumanFormat(false).line({ id: '1-2', event: 'brand_new', data: '{"agent":"z","x":[1,2]}' });
  t.match(unknown, /brand_new +z +\{"agent":"z","x":\[1,2\]\}$/m, 'an unknown type prints its data as compact JSON');
  t.equal(clean('a\nb\u0007'), 'a ↵ b\\x07');
});
