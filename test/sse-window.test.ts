// The write window: each connection written on one tick in W with everything since its last write;
// a high-lane event writes every connection at once. White-box on the hub (ticks driven by hand),
// then end to end through the exporter with a real stream.
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

/** Ticks are driven by hand: an interval long enough that no timer fires during a test. */
function hubWithClients(n: number, windowTicks: number, filter: Filter = ALL) {
  const hub = new Hub({ historySize: 1000, historyTtlMs: 0, flushIntervalMs: 60_000, writeWindowMs: 60_000 * windowTicks });
  const sinks = Array.from({ length: n }, () => recordingSink());
  const clients = sinks.map((sink) => {
    const c = new Client(sink, filter, 1 << 20, hub, hub.lastSeq(), false, 'p');
    hub.add(c);
    return c;
  });
  return { hub, sinks, clients };
}

const span = (agent: string, n: number) => ({ type: 'span', agent, severity: 1, data: { n } });
/** The `n` of every span event a sink was written, in order. */
const ns = (s: { writes: string[] }) => [...s.writes.join('').matchAll(/"n":(\d+)/g)].map((m) => Number(m[1]));

t.test('each connection is written on one tick in W, with everything since its last write, exactly once and in order', async (t) => {
  const { hub, sinks } = hubWithClients(8, 4);
  t.teardown(() => hub.stop());
  t.equal(hub.phases, 4);
  let n = 0;
  const writtenPerTick: number[] = [];
  for (let tick = 0; tick < 12; tick++) {
    for (let i = 0; i < 3; i++) hub.publish(span(`a${i}`, n++));
    const before = sinks.map((s) => s.writes.length);
    hub.flush();
    writtenPerTick.push(sinks.filter((s, i) => s.writes.length > before[i]!).length);
  }
  t.same(writtenPerTick, Array(12).fill(2), 'a quarter of the connections per tick');
  for (const [i, s] of sinks.entries()) {
    t.equal(s.writes.length, 3, `connection ${i}: one write per window`);
    const got = ns(s);
    // Its last write was on its phase's last tick; what came after waits for its next one.
    const phase = i % 4;
    const upTo = (8 + phase + 1) * 3;
    t.same(got, Array.from({ length: upTo }, (_, k) => k), `connection ${i}: events 0..${upTo - 1} once, in order`);
  }
  // Ticks with nothing new still write the phases that are owed something, then the hub goes quiet.
  for (let tick = 0; tick < 4; tick++) hub.flush();
  for (const s of sinks) t.same(ns(s), Array.from({ length: n }, (_, k) => k), 'everything delivered within one more window');
  t.equal((hub as unknown as { recent: unknown[] }).recent.length, 0, 'nothing held once every connection has everything');
  t.ok(sinks.every((s) => s.writes.length >= 3 && s.writes.length <= 4));
});

t.test('a tick with a high-lane event writes every connection, with the low-lane events it was owed first', async (t) => {
  const { hub, sinks } = hubWithClients(6, 3);
  t.teardown(() => hub.stop());
  hub.publish(span('a', 0));
  hub.flush(); // phase 0 only
  hub.publish(span('a', 1));
  hub.publish({ type: 'task_failed', agent: 'a', severity: 3, data: { n: 2 } });
  const before = sinks.map((s) => s.writes.length);
  hub.flush();
  t.ok(sinks.every((s, i) => s.writes.length === before[i]! + 1), 'every connection written on this tick');
  for (const s of sinks) {
    t.same(ns(s), [0, 1, 2], 'the earlier low-lane events, then the high-lane one');
    t.match(s.writes.join(''), /event: span[\s\S]*event: span[\s\S]*event: task_failed/);
  }
});

t.test('filtered connections get what matches, on their phase; a connection added mid-window only what came after it', async (t) => {
  const { hub, sinks } = hubWithClients(4, 2, { ...ALL, agents: new Set(['b']) });
  t.teardown(() => hub.stop());
  for (let i = 0; i < 6; i++) hub.publish(span(i % 2 === 0 ? 'a' : 'b', i));
  hub.flush();
  hub.flush();
  for (const s of sinks) t.same(ns(s), [1, 3, 5], 'agent b only');
  const late = recordingSink();
  const c = new Client(late, ALL, 1 << 20, hub, hub.lastSeq(), false, 'p');
  hub.add(c);
  hub.publish(span('a', 6));
  hub.flush();
  hub.flush();
  t.same(ns(late), [6]);
});

t.test('closeAll writes everything owed to every connection before closing', async (t) => {
  const { hub, sinks } = hubWithClients(4, 4);
  t.teardown(() => hub.stop());
  for (let i = 0; i < 3; i++) hub.publish(span('a', i));
  hub.flush();
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
    await waitFor(() => st.events.filter((e) => e.type === 'span').length === 20, 'all 20 spans');
    t.same(st.events.filter((e) => e.type === 'span').map((e) => e.data.input_tokens), sent, 'once, in order');
  }
  const at = Date.now();
  await f.exp.consume(spans([{ agent: 'a0', op: 'invoke_agent', root: true, error: true }]));
  await Promise.all(streams.map((st) => waitEvent(st, (e) => e.type === 'task_failed')));
  t.ok(Date.now() - at < 1000, 'high-lane event not held for the window');
});

t.test('a connection owed an event that has waited a whole window is written whatever its phase', async (t) => {
  const { hub, sinks } = hubWithClients(6, 3); // window: 3 ticks of 60 s
  t.teardown(() => hub.stop());
  hub.publish(span('a', 0), Date.now() - 200_000); // published longer ago than the window (as when ticks stretch)
  hub.flush();
  t.ok(sinks.every((s) => s.writes.length === 1), 'every connection written on the first tick');
  hub.publish(span('a', 1));
  hub.flush();
  t.equal(sinks.filter((s) => s.writes.length === 2).length, 2, 'a fresh event: only the phase due');
});

t.test('the write delay: after each tick that wrote live events, how long the oldest of them waited', async (t) => {
  const { hub, sinks } = hubWithClients(4, 2); // two phases
  t.teardown(() => hub.stop());
  const seen: number[] = [];
  hub.onTick = (ms) => seen.push(ms);
  const now = Date.now();
  hub.publish(span('a', 0), now - 300);
  hub.publish(span('a', 1), now - 100);
  hub.flush(); // phase 0 (neither event has waited the 120-s window)
  t.equal(seen.length, 1, 'one observation per tick that wrote');
  t.ok(seen[0]! >= 300 && seen[0]! < 1000, `the oldest event written, not the newest (${seen[0]} ms)`);
  t.equal(sinks.filter((s) => s.writes.length === 1).length, 2, 'written: the phase due');
  hub.flush(); // phase 1, owed the same two events
  t.equal(seen.length, 2);
  t.ok(seen[1]! >= 300, 'the other phase waited as long');
  hub.flush(); // nothing new and nothing owed: no write, no observation
  t.equal(seen.length, 2, 'a tick that wrote nothing is not observed');
});

t.test('the write delay through the exporter: fleetcol_exporter_sse_write_delay_seconds', async (t) => {
  const f = await startFeed({ flush_interval: '10ms', write_window: '40ms' });
  t.teardown(() => f.stop());
  const st = await openStream(`${f.base}/v1/events`);
  t.teardown(() => st.close());
  await waitEvent(st, (e) => e.type === 'subscription_confirmed');
  for (let i = 0; i < 5; i++) await f.exp.consume(spans([{ agent: 'a0', op: 'chat', inTokens: i + 1 }]));
  await waitFor(() => st.events.filter((e) => e.type === 'span').length === 5, 'the spans');
  const text = await f.set.registry.prom.metrics();
  const count = Number(/^fleetcol_exporter_sse_write_delay_seconds_count\{[^}]*\} (\S+)$/m.exec(text)?.[1]);
  const sum = Number(/^fleetcol_exporter_sse_write_delay_seconds_sum\{[^}]*\} (\S+)$/m.exec(text)?.[1]);
  t.ok(count >= 1, `ticks observed (${count})`);
  t.ok(sum / count < 1, `each within the window plus a little (mean ${(sum / count).toFixed(3)} s)`);
  const bucket = text.split('\n').find((l) => l.startsWith('fleetcol_exporter_sse_write_delay_seconds_bucket{') && l.includes('le="0.06"'));
  t.ok(bucket?.includes('exporter="sse"'), 'buckets around the default window, labelled by exporter');
});
