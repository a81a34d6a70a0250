// Writer processes (`writers: N`): plain-HTTP streams at the live edge are handed, socket and all,
// to child processes that write them; the exporter forwards every event, keeps resuming streams,
// auth and limits, and hears when a handed stream ends. Real child processes, real sockets.
import t from 'tap';
import { SignJWT } from 'jose';
import { captureLog, internals, openStream, serverSockets, spans, startFeed, waitEvent, type Feed } from './sse-support.js';
import { metricValue, sleep, waitFor } from './helper.js';

const spanNames = (st: { events: { type: string; data: any }[] }) => st.events.filter((e) => e.type === 'span' && e.data.operation !== 'invoke_agent').map((e) => e.data.name);
const seqOf = (id: string) => Number(id.slice(id.lastIndexOf('-') + 1));

const metric = async (f: Feed, name: string) => metricValue(await f.set.registry.prom.metrics(), `fleetcol_${name}`);

t.test('handed streams get every event once and in order; a resuming stream stays with the exporter', async (t) => {
  const f = await startFeed({ writers: 2, write_window: '40ms' });
  t.teardown(() => f.stop());
  const streams = await Promise.all(Array.from({ length: 6 }, () => openStream(`${f.base}/v1/events`)));
  t.teardown(() => streams.forEach((s) => s.close()));
  for (const st of streams) {
    const hello = await waitEvent(st, (e) => e.type === 'subscription_confirmed');
    t.equal(hello.data.resume.replay, false);
    t.equal(st.retries[0], hello.data.retry_ms, 'retry: first, as from the exporter');
    t.equal(st.headers['content-type'], 'text/event-stream; charset=utf-8');
  }
  const { writers, hub } = internals(f);
  t.equal(writers.streams, 6, 'all six in writer processes');
  t.equal(hub.clients.size, 0, 'none in the exporter');
  t.equal(await metric(f, 'exporter_sse_clients'), 6);
  await waitFor(() => serverSockets(f) === 0, 5000, 'the exporter closed its copies of the handed sockets');
  t.pass('the exporter keeps no copy of a handed socket');

  const names: string[] = [];
  for (let i = 0; i < 30; i++) {
    names.push(`s${i}`);
    await f.exp.consume(spans([{ agent: `a${i % 3}`, name: `s${i}` }]));
    if (i % 5 === 0) await sleep(3);
  }
  await f.exp.consume(spans([{ agent: 'a0', op: 'invoke_agent', root: true, error: true }]));
  for (const st of streams) {
    await waitEvent(st, (e) => e.type === 'task_failed');
    t.same(spanNames(st), names, 'every span once, in order');
    const seqs = st.events.slice(1).map((e) => seqOf(e.id!));
    t.ok(seqs.every((s, i) => i === 0 || s > seqs[i - 1]!), 'ids increase');
  }
  t.equal(streams[0]!.events[1]!.id, streams[5]!.events[1]!.id, 'the exporter\'s ids, whichever process writes');

  // Resuming from the history: replayed by the exporter itself.
  const from = streams[0]!.events[10]!.id!;
  const resumed = await openStream(`${f.base}/v1/events`, { 'last-event-id': from });
  t.teardown(() => resumed.close());
  await waitEvent(resumed, (e) => e.type === 'task_failed');
  t.same(spanNames(resumed), names.slice(names.indexOf(streams[0]!.events[11]!.data.name)), 'what came after the id');
  t.equal(hub.clients.size, 1, 'the resuming stream is the exporter\'s');

  // Deliveries written by the writers reach the exporter's counter (reported each second).
  await waitFor(async () => (await metric(f, 'exporter_sse_deliveries')) >= 6 * 31, 5000, 'deliveries counted');
  t.ok((await metric(f, 'exporter_sse_write_delay_seconds_count')) > 0, 'writer ticks in the write-delay histogram');
});

t.test('a handed stream that ends gives back its per-client slot', async (t) => {
  const log = captureLog();
  const f = await startFeed({ writers: 1, max_connections_per_client: 2 }, { logger: log.logger });
  t.teardown(() => f.stop());
  const a = await openStream(`${f.base}/v1/events`);
  const b = await openStream(`${f.base}/v1/events`);
  t.teardown(() => [a, b].forEach((s) => s.close()));
  await Promise.all([a, b].map((s) => waitEvent(s, (e) => e.type === 'subscription_confirmed')));
  const third = await openStream(`${f.base}/v1/events`);
  t.equal(third.status, 429, 'two streams held');
  a.close();
  await waitFor(() => internals(f).writers.streams === 1, 5000, 'the writer saw it end');
  const closed = log.text().split('\n').filter((l) => l.includes('SSE stream closed')).map((l) => JSON.parse(l).reason);
  t.same(closed, ['client'], 'logged with the reason the writer saw (the client left)');
  const again = await openStream(`${f.base}/v1/events`);
  t.teardown(() => again.close());
  t.equal(again.status, 200, 'the slot is free again');
  await waitEvent(again, (e) => e.type === 'subscription_confirmed');
});

t.test('auth in a writer: the agent scope holds, and auth_expired comes at expiry', async (t) => {
  const secret = 'test-secret-that-is-long-enough-for-hs256';
  const f = await startFeed({ writers: 1, auth: { jwt: { secret } } });
  t.teardown(() => f.stop());
  const exp = Math.floor(Date.now() / 1000) + 3;
  const tok = await new SignJWT({ fleetcol_agents: ['team-a-*'] }).setProtectedHeader({ alg: 'HS256' }).setSubject('alice').setExpirationTime(exp).sign(new TextEncoder().encode(secret));
  const st = await openStream(`${f.base}/v1/events`, { authorization: `Bearer ${tok}` });
  t.teardown(() => st.close());
  await waitEvent(st, (e) => e.type === 'subscription_confirmed');
  t.equal(internals(f).writers.streams, 1, 'handed to the writer');
  await f.exp.consume(spans([{ agent: 'team-b-1', name: 'b' }, { agent: 'team-a-1', name: 'a' }]));
  await waitEvent(st, (e) => e.data?.name === 'a');
  t.same(spanNames(st), ['a'], 'only the agents the token may see');
  const expired = await waitEvent(st, (e) => e.type === 'auth_expired', 'auth_expired', 6000);
  t.ok(expired.at <= exp * 1000, 'before exp');
  await st.ended;
  t.pass('the stream ended');
});

t.test('shutdown: every handed stream gets a retry: and is closed', async (t) => {
  const f = await startFeed({ writers: 2, retry: '1500ms', shutdown_retry_spread: '1s' });
  const streams = await Promise.all(Array.from({ length: 4 }, () => openStream(`${f.base}/v1/events`)));
  for (const st of streams) await waitEvent(st, (e) => e.type === 'subscription_confirmed');
  await f.exp.consume(spans([{ agent: 'a', name: 'last' }]));
  await f.stop();
  for (const st of streams) {
    await st.ended;
    t.same(spanNames(st), ['last'], 'what was owed, written before the end');
    t.equal(st.retries.length, 2, 'retry: on connect and at shutdown');
    t.ok(st.retries[1]! >= 1500 && st.retries[1]! <= 2500, `spread retry (${st.retries[1]})`);
  }
  // Stopped well inside a writer's 1 s report: its last report (sent as it exits) is counted.
  const live = streams.reduce((n, st) => n + st.events.filter((e) => e.type !== 'subscription_confirmed').length, 0);
  t.ok(live >= 4, `events written to the streams (${live})`);
  t.equal(await metric(f, 'exporter_sse_deliveries'), live, 'every delivery a writer made is in the exporter\'s counter after shutdown');
});
