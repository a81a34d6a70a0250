// Slow clients: one that reads nothing loses only low-lane events (coalesced, then dropped) while
// high-lane events still fit; when they no longer fit it is disconnected with a final `retry:` and
// resumes from its last id without losing a high-lane event. The other clients get everything, on time.
import t from 'tap';
import { openStream, percentile, slowClient, spans, startFeed, type RawStream } from './sse-support.js';
import { sleep, waitFor } from './helper.js';

const HIGH = new Set(['error', 'task_started', 'task_completed', 'task_failed', 'agent_online', 'agent_offline', 'status_change', 'alert']);
const pad = 'x'.repeat(900);

async function pump(f: Awaited<ReturnType<typeof startFeed>>, round: number, opts: { lows: number; errors: number }) {
  const list = [];
  for (let i = 0; i < opts.lows; i++) list.push({ agent: `a${(round * opts.lows + i) % 40}`, name: `r${round} s${i} ${pad}` });
  for (let i = 0; i < opts.errors; i++) list.push({ agent: `a${i % 20}`, name: `r${round} e${i} ${pad}`, error: true });
  await f.exp.consume(spans(list));
  await sleep(3);
}

const lat = (st: RawStream) => st.events.filter((e) => e.type === 'span').map((e) => e.at - e.data.end);

t.test('a client that reads nothing loses only low-lane events; others get everything on time', async (t) => {
  const f = await startFeed({ client_queue_max_bytes: '64KiB' });
  t.teardown(() => f.stop());
  const hub = (f.exp as any).hub;
  const port = Number(new URL(f.base).port);
  const fast = [await openStream(`${f.base}/v1/events`), await openStream(`${f.base}/v1/events`)];
  t.teardown(() => fast.forEach((s) => s.close()));
  const slow = await slowClient(port, '/v1/events');
  t.teardown(() => slow.socket.destroy());
  await waitFor(() => hub.clients.size === 3, 2000, 'three clients');

  let rounds = 0;
  // Low-lane spans and one error span per round, until the slow client has lost a good number.
  let errors = 0;
  while (hub.counters.dropped + hub.counters.coalesced < 300 && rounds < 3000) {
    const e = rounds % 5 === 0 ? 1 : 0;
    errors += e;
    await pump(f, rounds++, { lows: 5, errors: e });
  }
  t.ok(hub.counters.dropped + hub.counters.coalesced >= 300, `low-lane losses under pressure after ${rounds} rounds (dropped ${hub.counters.dropped}, coalesced ${hub.counters.coalesced})`);
  // A last high-lane event marks the end (a trailing low-lane one may rightly be dropped).
  await pump(f, rounds++, { lows: 0, errors: 1 });
  errors++;
  t.equal(hub.counters.slowDisconnects, 0, 'high-lane events still fit: not disconnected');

  const published = hub.lastSeq();
  for (const s of fast) await waitFor(() => s.events.length > 0 && Number(s.events.at(-1)!.id!.split('-')[1]) === published, 10_000, 'fast client caught up');
  const totalSpans = (rounds - 1) * 5 + errors;
  for (const s of fast) {
    t.equal(s.events.filter((e) => e.type === 'span').length, totalSpans, 'fast client: every span');
    t.equal(s.events.filter((e) => e.type === 'error').length, errors, 'fast client: every error');
  }
  const p99 = percentile(lat(fast[0]!), 99);
  t.ok(p99 < 250, `fast client p99 latency ${p99.toFixed(1)}ms while a client is stuck`);

  // Now the slow client reads what it was given.
  slow.read();
  await waitFor(() => slow.events.length > 0 && Number(slow.events.at(-1)!.id!.split('-')[1]) === published, 10_000, 'slow client drained');
  const fastHigh = fast[0]!.events.filter((e) => HIGH.has(e.type)).map((e) => e.id);
  const slowHigh = slow.events.filter((e) => HIGH.has(e.type)).map((e) => e.id);
  t.same(slowHigh, fastHigh, 'slow client: every high-lane event, in order');
  const slowSpans = slow.events.filter((e) => e.type === 'span').length;
  t.ok(slowSpans < totalSpans, `slow client lost low-lane events only (${totalSpans - slowSpans} of ${totalSpans} spans)`);
  const ids = slow.events.slice(1).map((e) => Number(e.id!.split('-')[1]));
  t.same(ids, [...ids].sort((a, b) => a - b), 'ids in order');
  t.notOk(slow.isClosed(), 'still connected');
});

t.test('when high-lane events do not fit, the client is cut with retry: and resumes losslessly', async (t) => {
  const f = await startFeed({ client_queue_max_bytes: '64KiB', retry: '1234ms', history: { size: 100000 } });
  t.teardown(() => f.stop());
  const hub = (f.exp as any).hub;
  const port = Number(new URL(f.base).port);
  const fast = await openStream(`${f.base}/v1/events`);
  t.teardown(() => fast.close());
  const slow = await slowClient(port, '/v1/events?type=error');
  t.teardown(() => slow.socket.destroy());
  await waitFor(() => hub.clients.size === 2, 2000, 'two clients');
  let rounds = 0;
  while (hub.counters.slowDisconnects === 0 && rounds < 3000) await pump(f, rounds++, { lows: 0, errors: 10 });
  t.equal(hub.counters.slowDisconnects, 1, `cut after ${rounds} rounds of errors`);
  slow.read();
  await slow.closed;
  t.same(slow.retries.at(-1), 1234, 'final retry: before the close');
  t.ok(slow.events.length > 0);
  const last = slow.events.at(-1)!.lastEventId;
  // More errors while it is away; then it comes back with its last id.
  for (let i = 0; i < 5; i++) await pump(f, rounds++, { lows: 0, errors: 10 });
  const back = await openStream(`${f.base}/v1/events?type=error`, { 'last-event-id': last });
  t.teardown(() => back.close());
  const published = hub.lastSeq();
  await waitFor(() => fast.events.length > 0 && Number(fast.events.at(-1)!.id!.split('-')[1]) === published, 10_000, 'fast caught up');
  const want = fast.events.filter((e) => e.type === 'error').map((e) => e.id);
  await waitFor(() => back.events.filter((e) => e.type === 'error').length + slow.events.filter((e) => e.type === 'error').length >= want.length, 10_000, 'resumed client caught up');
  const got = [...slow.events, ...back.events].filter((e) => e.type === 'error').map((e) => e.id);
  t.same(got, want, 'every error exactly once across the cut');
  t.equal(fast.events.filter((e) => e.type === 'error').length, rounds * 10, 'the other client got everything');
});
