// Queue.ready(): what the exporter's consumers wait on between batches (see queue.ts for why they
// do not wait in take()), on the in-memory queue and on file_storage's persistent one.
import t, { type Test } from 'tap';
import { pino } from 'pino';
import { fileStorageExtensionFactory } from '../extensions/file_storage/factory.js';
import type { FileStorage } from '../extensions/file_storage/storage.js';
import { MemoryQueue } from '../src/exporterhelper/memory_queue.js';
import type { Queue } from '../src/exporterhelper/queue.js';
import type { Telemetry } from '../src/pdata/telemetry.js';
import { MetricsRegistry } from '../src/telemetry/metrics.js';
import { traces } from './data.js';

/** Settles within a few turns of the loop, or reports 'pending'. */
async function state<T>(p: Promise<T>): Promise<T | 'pending'> {
  return Promise.race([p, new Promise<'pending'>((r) => setTimeout(() => r('pending'), 20))]);
}

async function fileQueue(dir: string): Promise<{ q: Queue<Telemetry>; close: () => Promise<void> }> {
  const registry = new MetricsRegistry();
  const set = { id: 'file_storage', kind: 'extension' as const, logger: pino({ level: 'silent' }), metrics: registry.scoped('extension', 'file_storage'), shutdownTimeoutMs: 5000 };
  const cfg = { directory: dir, fsync: false, max_size: 64 << 20, segment_size: 1 << 20, compaction: { on_start: false, on_rebound: false, check_interval: 0 } };
  const storage = fileStorageExtensionFactory.createExtension!(set, cfg as never) as FileStorage;
  await storage.start();
  const q = storage.openQueue({ owner: 'otlp', signals: ['traces'], sizer: 'requests', capacity: 100 });
  return { q, close: () => storage.shutdown() };
}

const kinds: Array<[string, (t: Test) => Promise<{ q: Queue<Telemetry>; close: () => Promise<void> }>]> = [
  ['memory', async () => ({ q: new MemoryQueue<Telemetry>(100), close: async () => {} })],
  ['file_storage', async (t) => fileQueue(t.testdir())],
];

for (const [kind, make] of kinds) {
  t.test(`${kind}: ready() waits while empty, wakes one waiter per offer, and says false once closed`, async (t) => {
    const { q, close } = await make(t);
    t.teardown(close);
    const first = q.ready();
    const second = q.ready();
    t.equal(await state(first), 'pending', 'empty: waits');
    t.ok(q.offer(traces(3), 1));
    t.equal(await state(first), true, 'the first waiter is woken by the offer');
    t.equal(await state(second), 'pending', 'one offer wakes one waiter');
    t.equal(await state(q.ready()), true, 'an entry is there: ready at once');
    const e = await q.take();
    t.equal(e?.item.itemCount, 3, 'take() hands out the entry at once');
    e?.done();
    t.ok(q.offer(traces(4), 1));
    t.equal(await state(second), true, 'the next offer wakes the second waiter');
    const e2 = await q.take();
    e2?.done();
    const third = q.ready();
    q.close();
    t.equal(await state(third), false, 'close wakes a waiter with false');
    t.equal(await state(q.ready()), false, 'closed and empty: false at once');
  });
}

t.test('memory: after close, ready() stays true while entries remain to drain, and drain() ends waiters', async (t) => {
  const q = new MemoryQueue<Telemetry>(10);
  q.offer(traces(1), 1);
  q.close();
  t.equal(await state(q.ready()), true, 'closed but holding an entry: take() still hands it out');
  (await q.take())?.done();
  t.equal(await state(q.ready()), false, 'drained: false');
  const open = new MemoryQueue<Telemetry>(10);
  const waiting = open.ready();
  t.same(open.drain(), []);
  t.equal(await state(waiting), false, 'drain() ends a waiting consumer');
});
