// White-box: the per-client writer's lanes against a transport that takes nothing.
import t from 'tap';
import { COALESCED, DROPPED, OK, OVERFLOW, Writer } from '../exporters/sse/writer.js';
import type { Sink } from '../exporters/sse/transport.js';

function fakeSink(): Sink & { written: Buffer[][]; backlogBytes: number; isBlocked: boolean } {
  const s = {
    written: [] as Buffer[][],
    backlogBytes: 0,
    isBlocked: false,
    closed: false,
    write(chunks: readonly Buffer[]) {
      s.written.push([...chunks]);
      s.backlogBytes += chunks.reduce((a, c) => a + c.length, 0);
    },
    backlog: () => s.backlogBytes,
    blocked: () => s.isBlocked,
    onDrain() {},
    onClose() {},
    close() {},
  };
  return s;
}

const ev = (tag: string, size = 100) => Buffer.from(tag.padEnd(size, '.'));
const text = (chunks: Buffer[][]) => chunks.flat().map((b) => b.toString().replace(/\.+$/, ''));

t.test('under half the budget everything queues; past it the latest of a key replaces the earlier, moved to the end', async (t) => {
  const sink = fakeSink();
  sink.isBlocked = true; // takes nothing for now
  const stats = { dropped: 0, coalesced: 0 };
  const w = new Writer(sink, 1000, stats); // half: 500
  for (let i = 0; i < 5; i++) t.equal(w.offerLow(ev(`a${i}`), 'span|a'), OK, `a${i} queued`);
  t.equal(w.offerHigh(ev('H1')), OK);
  t.equal(w.offerLow(ev('a5'), 'span|a'), COALESCED, 'past half: replaces a4');
  t.equal(w.offerLow(ev('b0'), 'span|b'), OK, 'a new key still fits the budget');
  t.equal(stats.coalesced, 1);
  sink.isBlocked = false;
  w.flush();
  sink.backlogBytes = 0; // the kernel took it
  w.flush();
  t.same(text(sink.written), ['a0', 'a1', 'a2', 'a3', 'H1', 'a5', 'b0'], 'a4 replaced by a5, which went to the end: ids stay in order');
});

t.test('past the budget low-lane events are dropped; a high-lane event evicts them; high-only overflow disconnects', async (t) => {
  const sink = fakeSink();
  sink.isBlocked = true;
  const stats = { dropped: 0, coalesced: 0 };
  const w = new Writer(sink, 1000, stats);
  for (let i = 0; i < 10; i++) w.offerLow(ev(`s${i}`), `span|${i}`);
  t.equal(w.offerLow(ev('s10'), 'span|10'), DROPPED, 'full: a low-lane event with a new key is dropped');
  t.equal(w.offerHigh(ev('H1', 300)), OK, 'a high-lane event evicts queued low-lane ones');
  t.equal(stats.dropped, 1 + 3, 'one dropped, three evicted');
  for (let i = 0; i < 2; i++) t.equal(w.offerHigh(ev(`H${i + 2}`, 300)), OK);
  t.equal(w.offerHigh(ev('H4', 300)), OVERFLOW, 'nothing left to evict: the caller must disconnect');
});

t.test('flush hands the transport at most half the budget; the rest stays where it can still be coalesced', async (t) => {
  const sink = fakeSink();
  const stats = { dropped: 0, coalesced: 0 };
  const w = new Writer(sink, 2000, stats);
  sink.isBlocked = true;
  for (let i = 0; i < 15; i++) w.offerLow(ev(`s${i}`), `k${i}`);
  sink.isBlocked = false;
  w.flush();
  t.equal(sink.written.length, 1, 'one write');
  t.equal(sink.backlogBytes, 1000, 'half the budget');
  t.equal(w.used(), 1500);
  w.clear();
});
