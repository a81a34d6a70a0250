// Resume: Last-Event-ID header or last_event_id query replays what came after, filtered; an id that
// left the history (or belongs to an earlier run) gets `reset` naming the oldest id, then the replay.
// Also with the `eventsource` npm client, which reconnects by itself with Last-Event-ID.
import t from 'tap';
import { EventSource } from 'eventsource';
import { openStream, spans, startFeed, waitEvent } from './sse-support.js';
import { sleep, waitFor } from './helper.js';

const seq = (id: string) => Number(id.split('-')[1]);

t.test('Last-Event-ID header and last_event_id query replay what came after, filtered', async (t) => {
  const f = await startFeed();
  t.teardown(() => f.stop());
  const st = await openStream(`${f.base}/v1/events`);
  for (let n = 0; n < 10; n++) await f.exp.consume(spans([{ agent: n % 2 ? 'odd' : 'even', name: `s${n}` }]));
  await waitFor(() => st.events.filter((e) => e.type === 'span').length === 10, 3000, 'ten spans');
  st.close();
  const spanEvs = st.events.filter((e) => e.type === 'span');
  const mid = spanEvs[4]!; // s4
  const r1 = await openStream(`${f.base}/v1/events`, { 'last-event-id': mid.id! });
  t.teardown(() => r1.close());
  await waitFor(() => r1.events.filter((e) => e.type === 'span').length === 5, 3000, 'replay');
  const conf = r1.events[0]!;
  t.equal(conf.type, 'subscription_confirmed');
  t.equal(conf.id, mid.id, 'subscription_confirmed carries the resume point as its id');
  t.equal(conf.data.resume.replay, true);
  t.same(r1.events.filter((e) => e.type === 'span').map((e) => e.data.name), ['s5', 's6', 's7', 's8', 's9']);
  t.notOk(r1.events.some((e) => e.type === 'reset'));

  const r2 = await openStream(`${f.base}/v1/events?agent=odd&last_event_id=${encodeURIComponent(mid.id!)}`);
  t.teardown(() => r2.close());
  await waitFor(() => r2.events.filter((e) => e.type === 'span').length === 3, 3000, 'filtered replay');
  await sleep(50);
  t.same(r2.events.filter((e) => e.type === 'span').map((e) => e.data.name), ['s5', 's7', 's9']);
  // live events follow the replay, in order, no gap, no duplicate
  await f.exp.consume(spans([{ agent: 'odd', name: 'live' }]));
  await waitEvent(r2, (e) => e.data?.name === 'live');
  const ids = r2.events.slice(1).map((e) => seq(e.id!));
  t.same(ids, [...ids].sort((a, b) => a - b), 'ids increase across replay and live');
  t.equal(new Set(ids).size, ids.length);
});

t.test('an id that left the history gets reset with the oldest id held, then the replay', async (t) => {
  const f = await startFeed({ history: { size: 5 } });
  t.teardown(() => f.stop());
  const st = await openStream(`${f.base}/v1/events?type=span`);
  for (let n = 0; n < 12; n++) await f.exp.consume(spans([{ agent: 'a', name: `s${n}` }]));
  await waitFor(() => st.events.filter((e) => e.type === 'span').length === 12, 3000, 'spans');
  st.close();
  const first = st.events.find((e) => e.type === 'span')!;
  const r = await openStream(`${f.base}/v1/events`, { 'last-event-id': first.id! });
  t.teardown(() => r.close());
  await waitFor(() => r.events.filter((e) => e.type === 'span').length === 5, 3000, 'replay of what is held');
  t.same(r.events.slice(0, 2).map((e) => e.type), ['subscription_confirmed', 'reset']);
  const reset = r.events[1]!;
  const oldestHeld = r.events[2]!;
  t.equal(reset.data.oldest_id, oldestHeld.id, 'reset names the oldest id held');
  t.equal(seq(reset.id!), seq(oldestHeld.id!) - 1, "reset's own id resumes right before it");
  t.same(r.events.filter((e) => e.type === 'span').map((e) => e.data.name), ['s7', 's8', 's9', 's10', 's11']);
});

t.test('an id from another run (epoch) or garbage gets reset', async (t) => {
  const f = await startFeed();
  t.teardown(() => f.stop());
  await f.exp.consume(spans([{ agent: 'a', name: 'x' }]));
  for (const id of ['1-5', 'not-an-id', `${Date.now() + 10_000_000}-1`]) {
    const r = await openStream(`${f.base}/v1/events`, { 'last-event-id': id });
    await waitEvent(r, (e) => e.type === 'span');
    t.same(r.events.slice(0, 2).map((e) => e.type), ['subscription_confirmed', 'reset'], id);
    r.close();
  }
});

t.test('ttl: events older than history.ttl are not replayed', async (t) => {
  const f = await startFeed({ history: { size: 100, ttl: '200ms' } });
  t.teardown(() => f.stop());
  const st = await openStream(`${f.base}/v1/events?type=span`);
  t.teardown(() => st.close());
  await f.exp.consume(spans([{ agent: 'a', name: 'old' }]));
  const old = await waitEvent(st, (e) => e.type === 'span');
  await sleep(400);
  await f.exp.consume(spans([{ agent: 'a', name: 'new' }]));
  await waitEvent(st, (e) => e.data?.name === 'new');
  await sleep(30);
  const r = await openStream(`${f.base}/v1/events?type=span`, { 'last-event-id': old.id! });
  t.teardown(() => r.close());
  await waitEvent(r, (e) => e.type === 'span');
  t.same(r.events.map((e) => e.type), ['subscription_confirmed', 'span']);
});

t.test('eventsource client: follows, is dropped by the server, reconnects with Last-Event-ID, misses nothing', async (t) => {
  const f = await startFeed({ retry: '100ms' });
  t.teardown(() => f.stop());
  const got: { id: string; name: string }[] = [];
  const es = new EventSource(`${f.base}/v1/events?type=span`);
  t.teardown(() => es.close());
  let opens = 0;
  es.onopen = () => opens++;
  es.addEventListener('span', (e) => got.push({ id: e.lastEventId, name: JSON.parse(e.data).name }));
  await waitFor(() => opens === 1, 3000, 'open');
  let n = 0;
  const send = async (k: number) => {
    for (let i = 0; i < k; i++) await f.exp.consume(spans([{ agent: 'a', name: `s${n++}` }]));
  };
  await send(20);
  await waitFor(() => got.length === 20, 3000, 'first 20');
  // The server drops every connection; events keep coming while the client is away.
  for (const c of [...(f.exp as any).hub.clients]) c.close('shutdown', undefined, 10);
  await send(20);
  await waitFor(() => opens === 2, 5000, 'reconnect');
  await send(20);
  await waitFor(() => got.length >= 60, 5000, 'all 60');
  await sleep(50);
  t.same(got.map((g) => g.name), Array.from({ length: 60 }, (_, i) => `s${i}`), 'every event exactly once, in order');
});
