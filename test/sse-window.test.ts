// The write window: connections visited round-robin, each tick the share of them that the time
// since the last tick is of the window, a visit writing everything the connection is owed; a
// high-lane event writes every connection at once. White-box on the hub (ticks and their clock
// driven by hand), then end to end through the exporter with a real stream.
import t from 'tap';
import { Hub } from '../exporters/sse/hub.js';
import { Client, type Filter } from '../exporters/sse/client.js';
import type { Sink } from '../exporters/sse/transport.js';
import { openStream, spans, startFeed, waitEvent } from './sse-support.js';
import { waitFor } from './helper.js';

function recordingSink(): Sink & { writes: string[] } {
  const s = {
    writes: [] as string[],
    closed: false,
    write(chunks: readonly Buffer[]) {
      s.writes.push(Buffer.concat(chunks as Buffer[]).toString());
    },
    backlog: () => 0,
    blocked: () => false,
    onDrain() {},
    onClose() {},
    close() {},
  };
  return s;
}

const ALL: Filter = { agents: null, types: null, minSeverity: 0, scope: null };

const TICK = 60_000;

/** Ticks are driven by hand, each with its own clock (`at(k)`: the k-th tick's time): an interval
 *  long enough that no timer fires during a test. */
function hubWithClients(n: number, windowTicks: number, filter: Filter = ALL, historySize = 1000) {
  const hub = new Hub({ historySize, historyTtlMs: 0, flushIntervalMs: TICK, writeWindowMs: TICK * windowTicks });
  const sinks = Array.from({ length: n }, () => recordingSink());
  const clients = sinks.map((sink) => {
    const c = new Client(sink, filter, 1 << 20, hub, hub.lastSeq(), false, 'p');
    hub.add(c);
    return c;
  });
  return { hub, sinks, clients };
}

const T0 = Date.now();
const at = (tick: number) => T0 + tick * TICK;

const span = (agent: string, n: number) => ({ type: 'span', agent, severity: 1, data: { n } });
/** The `n` of every span event a sink was written, in order. */
const ns = (s: { writes: string[] }) => [...s.writes.join('').matchAll(/"n":(\d+)/g)].map((m) => Number(m[1]));

t.test('each connection is written once per window, with everything since its last write, exactly once and in order', async (t) => {
  const { hub, sinks } = hubWithClients(8, 4);
  t.teardown(() => hub.stop());
  t.equal(hub.windowMs, 4 * TICK);
  let n = 0;
  const writtenPerTick: number[] = [];
  for (let tick = 0; tick < 12; tick++) {
    for (let i = 0; i < 3; i++) hub.publish(span(`a${i}`, n++), at(tick));
    const before = sinks.map((s) => s.writes.length);
    hub.flush(false, at(tick + 1));
    writtenPerTick.push(sinks.filter((s, i) => s.writes.length > before[i]!).length);
  }
  t.same(writtenPerTick, Array(12).fill(2), 'a quarter of the connections per tick (a tick is a quarter of the window)');
  for (const [i, s] of sinks.entries()) {
    t.equal(s.writes.length, 3, `connection ${i}: one write per window`);
    // Round-robin: connections 2k and 2k+1 are written on ticks k, k+4, k+8, each time with
    // everything published up to that tick.
    const upTo = (8 + Math.floor(i / 2) + 1) * 3;
    t.same(ns(s), Array.from({ length: upTo }, (_, k) => k), `connection ${i}: events 0..${upTo - 1} once, in order`);
  }
  // Ticks with nothing new still write the connections owed something, then the hub goes quiet.
  for (let tick = 12; tick < 16; tick++) hub.flush(false, at(tick + 1));
  for (const s of sinks) t.same(ns(s), Array.from({ length: n }, (_, k) => k), 'everything delivered within one more window');
  t.equal((hub as unknown as { recent: unknown[] }).recent.length, 0, 'nothing held once every connection has everything');
  t.same(sinks.map((s) => s.writes.length), [4, 4, 4, 4, 4, 4, 3, 3], 'one more write for those owed something');
});

t.test('the pace is set by the clock: a late tick visits what the time since the last one is worth, at most every connection', async (t) => {
  const { hub, sinks } = hubWithClients(6, 3);
  t.teardown(() => hub.stop());
  hub.publish(span('a', 0), at(0));
  hub.flush(false, at(0) + 10 * TICK); // ten ticks late: one whole round, not more
  t.ok(sinks.every((s) => s.writes.length === 1), 'every connection written once');
  hub.publish(span('a', 1), at(10));
  hub.flush(false, at(11));
  t.equal(sinks.filter((s) => s.writes.length === 2).length, 2, 'on time: a third of them');
  hub.flush(false, at(13)); // two ticks' worth
  t.ok(sinks.every((s) => s.writes.length === 2), 'the other two thirds');
  for (const s of sinks) t.same(ns(s), [0, 1]);
});

t.test('writes that would not fit in the window stretch it: the pace follows what a write costs here', async (t) => {
  // A 4-ms window of 1-ms ticks; 8 connections whose writes take ~1 ms of wall time each: a round
  // takes ~8 ms, so the window is stretched to ~8 / 0.75 ms and each tick writes fewer of them.
  const run = (writeMs: number) => {
    const hub = new Hub({ historySize: 1000, historyTtlMs: 0, flushIntervalMs: 1, writeWindowMs: 4 });
    const sinks = Array.from({ length: 8 }, () => {
      const s = recordingSink();
      const write = s.write;
      s.write = (chunks) => {
        const until = performance.now() + writeMs;
        while (performance.now() < until);
        write(chunks);
      };
      return s;
    });
    for (const sink of sinks) hub.add(new Client(sink, ALL, 1 << 20, hub, hub.lastSeq(), false, 'p'));
    const t0 = 1_000_000;
    for (let tick = 0; tick < 80; tick++) {
      hub.publish(span('a', tick), t0 + tick);
      hub.flush(false, t0 + tick + 1);
    }
    hub.stop();
    return { hub, writes: sinks.reduce((a, s) => a + s.writes.length, 0), got: sinks.map((s) => ns(s)) };
  };
  const fast = run(0);
  t.equal(fast.hub.effectiveWindowMs, 4, 'cheap writes: the configured window');
  t.ok(fast.writes >= 155 && fast.writes <= 161, `two connections per tick (${fast.writes} writes in 80 ticks)`);
  const slow = run(1);
  t.ok(slow.hub.effectiveWindowMs > 8 && slow.hub.effectiveWindowMs <= 32, `stretched (at most 8 × write_window) to ${slow.hub.effectiveWindowMs.toFixed(1)} ms`);
  t.ok(slow.writes < fast.writes * 0.75, `fewer writes, each carrying more (${slow.writes})`);
  for (const got of slow.got) t.same(got, got.length === 0 ? [] : Array.from({ length: got.length }, (_, k) => k), 'in order, none lost');
});

t.test('a tick with a high-lane event writes every connection, with the low-lane events it was owed first', async (t) => {
  const { hub, sinks } = hubWithClients(6, 3);
  t.teardown(() => hub.stop());
  hub.publish(span('a', 0), at(0));
  hub.flush(false, at(1)); // a third of them
  t.equal(sinks.filter((s) => s.writes.length === 1).length, 2);
  hub.publish(span('a', 1), at(1));
  hub.publish({ type: 'task_failed', agent: 'a', severity: 3, data: { n: 2 } }, at(1));
  const before = sinks.map((s) => s.writes.length);
  hub.flush(false, at(1) + 1);
  t.ok(sinks.every((s, i) => s.writes.length === before[i]! + 1), 'every connection written on this tick');
  for (const s of sinks) {
    t.same(ns(s), [0, 1, 2], 'the earlier low-lane events, then the high-lane one');
    t.match(s.writes.join(''), /event: span[\s\S]*event: span[\s\S]*event: task_failed/);
  }
});

t.test('filtered connections get what matches, in their turn; a connection added mid-window only what came after it', async (t) => {
  const { hub, sinks } = hubWithClients(4, 2, { ...ALL, agents: new Set(['b']) });
  t.teardown(() => hub.stop());
  for (let i = 0; i < 6; i++) hub.publish(span(i % 2 === 0 ? 'a' : 'b', i), at(0));
  hub.flush(false, at(1));
  hub.flush(false, at(2));
  for (const s of sinks) t.same(ns(s), [1, 3, 5], 'agent b only');
  const late = recordingSink();
  const c = new Client(late, ALL, 1 << 20, hub, hub.lastSeq(), false, 'p');
  hub.add(c);
  hub.publish(span('a', 6), at(2));
  hub.flush(false, at(3));
  hub.flush(false, at(4));
  t.same(ns(late), [6]);
});

for (const historySize of [1000, 0]) t.test(`connections coming and going mid-round: each gets every event from its start, once and in order (history ${historySize})`, async (t) => {
  // With no history, a connection the hub forgot it still owed would get a reset and lose events.
  const { hub, sinks, clients } = hubWithClients(10, 5, ALL, historySize);
  t.teardown(() => hub.stop());
  const live = clients.map((c, i) => ({ c, sink: sinks[i]!, from: 0 }));
  let n = 0;
  let seed = 7;
  const rand = (k: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % k);
  for (let tick = 0; tick < 40; tick++) {
    for (let i = 0; i < 2; i++) hub.publish(span('a', n++), at(tick));
    if (tick % 3 === 0) {
      // One leaves (its socket closes: the client is gone from the registry), one comes.
      const gone = live.splice(rand(live.length), 1)[0]!;
      hub.clients.delete(gone.c);
      const sink = recordingSink();
      const c = new Client(sink, ALL, 1 << 20, hub, hub.lastSeq(), false, 'p');
      hub.add(c);
      live.push({ c, sink, from: n });
    }
    hub.flush(false, at(tick + 1));
  }
  for (let tick = 40; tick < 46; tick++) hub.flush(false, at(tick + 1));
  for (const { sink, from } of live) {
    t.same(ns(sink), Array.from({ length: n - from }, (_, k) => from + k), `from ${from}: once, in order`);
    t.notMatch(sink.writes.join(''), /event: reset/, 'no reset');
  }
  t.equal((hub as unknown as { recent: unknown[] }).recent.length, 0, 'nothing held at the end');
});

t.test('closeAll writes everything owed to every connection before closing', async (t) => {
  const { hub, sinks } = hubWithClients(4, 4);
  t.teardown(() => hub.stop());
  for (let i = 0; i < 3; i++) hub.publish(span('a', i), at(0));
  hub.flush(false, at(1));
  hub.closeAll('shutdown', () => Buffer.from('retry: 1000\n\n'), 10);
  for (const s of sinks) t.same(ns(s), [0, 1, 2]);
});

t.test('write_window through the exporter: spans arrive within the window, once and in order; a task event at once', async (t) => {
  const f = await startFeed({ flush_interval: '10ms', write_window: '80ms' });
  t.teardown(() => f.stop());
  const streams = await Promise.all(Array.from({ length: 6 }, () => openStream(`${f.base}/v1/events`)));
  t.teardown(() => streams.forEach((st) => st.close()));
  for (const st of streams) await waitEvent(st, (e) => e.type === 'subscription_confirmed');
  const sent: number[] = [];
  for (let i = 0; i < 20; i++) {
    await f.exp.consume(spans([{ agent: `a${i % 3}`, op: 'chat', inTokens: i + 1 }]));
    sent.push(i + 1);
    await new Promise((r) => setTimeout(r, 5));
  }
  for (const st of streams) {
    await waitFor(() => st.events.filter((e) => e.type === 'span').length === 20, 10_000, 'all 20 spans');
    t.same(st.events.filter((e) => e.type === 'span').map((e) => e.data.input_tokens), sent, 'once, in order');
  }
  const at = Date.now();
  await f.exp.consume(spans([{ agent: 'a0', op: 'invoke_agent', root: true, error: true }]));
  await Promise.all(streams.map((st) => waitEvent(st, (e) => e.type === 'task_failed')));
  t.ok(Date.now() - at < 1000, 'high-lane event not held for the window');
});

t.test('the write delay: after each tick that wrote live events, how long the oldest of them waited', async (t) => {
  const { hub, sinks } = hubWithClients(4, 2);
  t.teardown(() => hub.stop());
  const seen: number[] = [];
  hub.onTick = (ms) => seen.push(ms);
  const now = Date.now();
  hub.publish(span('a', 0), now - 300);
  hub.publish(span('a', 1), now - 100);
  hub.flush(false, now - 300 + TICK); // half of them (the delay is measured by the real clock)
  t.equal(seen.length, 1, 'one observation per tick that wrote');
  t.ok(seen[0]! >= 300 && seen[0]! < 1000, `the oldest event written, not the newest (${seen[0]} ms)`);
  t.equal(sinks.filter((s) => s.writes.length === 1).length, 2, 'written: half');
  hub.flush(false, now - 300 + 2 * TICK); // the other half, owed the same two events
  t.equal(seen.length, 2);
  t.ok(seen[1]! >= 300, 'the other half waited as long');
  hub.flush(false, now - 300 + 3 * TICK); // nothing new and nothing owed: no write, no observation
  t.equal(seen.length, 2, 'a tick that wrote nothing is not observed');
});

t.test('the write delay through the exporter: fleetcol_exporter_sse_write_delay_seconds', async (t) => {
  const f = await startFeed({ flush_interval: '10ms', write_window: '40ms' });
  t.teardown(() => f.stop());
  const st = await openStream(`${f.base}/v1/events`);
  t.teardown(() => st.close());
  await waitEvent(st, (e) => e.type === 'subscription_confirmed');
  for (let i = 0; i < 5; i++) await f.exp.consume(spans([{ agent: 'a0', op: 'chat', inTokens: i + 1 }]));
  await waitFor(() => st.events.filter((e) => e.type === 'span').length === 5, 10_000, 'the spans');
  const text = await f.set.registry.prom.metrics();
  const count = Number(/^fleetcol_exporter_sse_write_delay_seconds_count\{[^}]*\} (\S+)$/m.exec(text)?.[1]);
  const sum = Number(/^fleetcol_exporter_sse_write_delay_seconds_sum\{[^}]*\} (\S+)$/m.exec(text)?.[1]);
  t.ok(count >= 1, `ticks observed (${count})`);
  t.ok(sum / count < 1, `each within the window plus a little (mean ${(sum / count).toFixed(3)} s)`);
  const bucket = text.split('\n').find((l) => l.startsWith('fleetcol_exporter_sse_write_delay_seconds_bucket{') && l.includes('le="0.06"'));
  t.ok(bucket?.includes('exporter="sse"'), 'buckets around the default window, labelled by exporter');
});
