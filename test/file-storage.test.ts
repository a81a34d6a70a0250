// The file_storage extension's persistent queue, in-process: append/take/ack, restart, damaged
// files, the disk budget, segment deletion and compaction.
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { fileStorageExtensionFactory } from '../extensions/file_storage/factory.js';
import type { FileStorage } from '../extensions/file_storage/storage.js';
import { io, scanSegment } from '../extensions/file_storage/segment.js';
import type { Queue, QueueEntry } from '../src/exporterhelper/queue.js';
import { Telemetry } from '../src/pdata/telemetry.js';
import { MetricsRegistry } from '../src/telemetry/metrics.js';
import { metricValue } from './helper.js';
import { traces } from './data.js';

const MiB = 1024 * 1024;
const host = { extension: () => undefined };

interface Opened {
  storage: FileStorage;
  q: Queue<Telemetry>;
  registry: MetricsRegistry;
  logs: Array<Record<string, any>>;
  metrics(): Promise<string>;
  close(): Promise<void>;
}

async function open(dir: string, over: Record<string, unknown> = {}, qopts: { capacity?: number; sizer?: 'requests' | 'items' | 'bytes' } = {}): Promise<Opened> {
  const registry = new MetricsRegistry();
  const logs: Array<Record<string, any>> = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => void logs.push(JSON.parse(s)) });
  const set = { id: 'file_storage', kind: 'extension' as const, logger, metrics: registry.scoped('extension', 'file_storage'), shutdownTimeoutMs: 5000 };
  const cfg = {
    directory: dir,
    fsync: false,
    max_size: 256 * MiB,
    segment_size: 1 * MiB,
    compaction: { on_start: false, on_rebound: false, check_interval: 0 },
    ...over,
  };
  const storage = fileStorageExtensionFactory.createExtension!(set, cfg as never) as FileStorage;
  await storage.start();
  const q = storage.openQueue({ owner: 'otlp', signals: ['traces'], sizer: qopts.sizer ?? 'requests', capacity: qopts.capacity ?? 1000 });
  return { storage, q, registry, logs, metrics: () => registry.prom.metrics(), close: () => storage.shutdown() };
}

/** Takes what is waiting (never leaves a take() pending). */
async function takeAll(q: Queue<Telemetry>): Promise<QueueEntry<Telemetry>[]> {
  const out: QueueEntry<Telemetry>[] = [];
  while (q.size > 0) {
    const e = await q.take();
    if (!e) break;
    out.push(e);
  }
  return out;
}

const qdir = (dir: string) => path.join(dir, 'exporter.otlp');
const segments = (dir: string) => fs.readdirSync(qdir(dir)).filter((f) => f.startsWith('seg-')).sort().map((f) => path.join(qdir(dir), f));
const counts = (es: QueueEntry<Telemetry>[]) => es.map((e) => e.item.itemCount);
const logged = (o: Opened, re: RegExp) => o.logs.filter((l) => re.test(String(l.msg)));

t.test('append, take, ack; the item comes back byte for byte', async (t) => {
  const dir = t.testdir();
  const o = await open(dir);
  const sent = [traces(3), traces(5), traces(7)];
  for (const b of sent) t.ok(o.q.offer(b, 1), 'offer accepted');
  t.equal(o.q.size, 3);
  t.equal(o.q.persistent, true);
  const got = await takeAll(o.q);
  t.same(counts(got), [3, 5, 7], 'FIFO');
  t.same(Buffer.from(got[1]!.item.toProto()), Buffer.from(sent[1]!.toProto()), 'same protobuf bytes');
  t.equal(o.q.size, 0);
  for (const e of got) e.done();
  // A consumer waiting gets the next offer straight from memory.
  const waiting = o.q.take();
  const b = traces(2);
  o.q.offer(b, 1);
  const e = (await waiting)!;
  t.equal(e.item, b, 'handed over without a read');
  e.done();
  const m = await o.metrics();
  t.ok(metricValue(m, 'fleetcol_file_storage_bytes', 'exporter="otlp"') > 0, 'bytes gauge');
  t.equal(metricValue(m, 'fleetcol_file_storage_records', 'exporter="otlp"'), 0, 'nothing un-acked');
  await o.close();
  const again = await open(dir);
  t.equal(again.q.size, 0, 'everything was acked: nothing resent after a restart');
  t.same(segments(dir), [], 'the fully acked segment was deleted at start');
  await again.close();
});

t.test('restart resumes only the un-acked records, acked out of order', async (t) => {
  const dir = t.testdir();
  const o = await open(dir);
  for (let n = 1; n <= 6; n++) o.q.offer(traces(n), 1);
  const got = await takeAll(o.q);
  // Acked: 1, 3, 4 (out of order); 2 and 5 in flight when stopping; 6 taken, never settled.
  for (const i of [2, 0, 3]) got[i]!.done();
  got[1]!.release!();
  got[4]!.release!();
  o.q.offer(traces(7), 1); // waiting, never taken
  await o.close();

  const r = await open(dir);
  t.equal(r.q.size, 4, '2, 5, 6 and 7 come back');
  const again = await takeAll(r.q);
  t.same(counts(again), [2, 5, 6, 7], 'in order, acked ones skipped');
  again[0]!.done();
  again[2]!.done();
  await r.close();
  const r2 = await open(dir);
  t.same(counts(await takeAll(r2.q)), [5, 7], 'acks of the second run kept too');
  await r2.close();
});

t.test('torn tail: a segment cut mid-record loses that record only, logged with the count', async (t) => {
  const dir = t.testdir();
  const o = await open(dir);
  for (const n of [1, 2, 3]) o.q.offer(traces(n), 1);
  await o.close();
  const [seg] = segments(dir);
  const size = fs.statSync(seg!).size;
  fs.truncateSync(seg!, size - 100);

  const r = await open(dir);
  t.same(counts(await takeAll(r.q)), [1, 2], 'the records before the tear');
  t.equal(metricValue(await r.metrics(), 'fleetcol_file_storage_records_lost_total', 'exporter="otlp"'), 1, 'one record counted lost');
  const lines = logged(r, /lost/);
  t.ok(lines.some((l) => l.records === 1 && l.reason === 'length past end of file'), 'the damage is logged with its reason and count');
  t.ok(lines.some((l) => /1 record \(\d+ bytes\) lost to damaged files; sending the rest/.test(l.msg)), 'and a summary');
  await r.close();
});

t.test('a flipped byte inside a record: that record is skipped, the ones after it are read', async (t) => {
  const dir = t.testdir();
  const o = await open(dir);
  for (const n of [1, 2, 3, 4]) o.q.offer(traces(n), 1);
  await o.close();
  const [seg] = segments(dir);
  const recs = scanSegment(seg!).records;
  const fd = fs.openSync(seg!, 'r+');
  const at = recs[1]!.offset + 24 + 10; // in the payload of the second record
  const b = Buffer.alloc(1);
  fs.readSync(fd, b, 0, 1, at);
  b[0] = b[0]! ^ 0x40;
  fs.writeSync(fd, b, 0, 1, at);
  fs.closeSync(fd);

  const r = await open(dir);
  t.same(counts(await takeAll(r.q)), [1, 3, 4], 'resynced on the next record');
  t.equal(metricValue(await r.metrics(), 'fleetcol_file_storage_records_lost_total', 'exporter="otlp"'), 1);
  t.ok(logged(r, /checksum mismatch/).some((l) => l.records === 1), 'logged as a checksum mismatch, 1 record');
  await r.close();
});

t.test('a damaged length field: the resync finds the next record', async (t) => {
  const dir = t.testdir();
  const o = await open(dir);
  for (const n of [1, 2, 3]) o.q.offer(traces(n), 1);
  await o.close();
  const [seg] = segments(dir);
  const recs = scanSegment(seg!).records;
  const fd = fs.openSync(seg!, 'r+');
  fs.writeSync(fd, Buffer.from([0xff, 0xff, 0x00, 0x00]), 0, 4, recs[0]!.offset + 4); // length of the first record
  fs.closeSync(fd);
  const r = await open(dir);
  t.same(counts(await takeAll(r.q)), [2, 3]);
  t.equal(metricValue(await r.metrics(), 'fleetcol_file_storage_records_lost_total', 'exporter="otlp"'), 1);
  await r.close();
});

t.test('garbage appended after the last record, and an empty segment file', async (t) => {
  const dir = t.testdir();
  const o = await open(dir);
  o.q.offer(traces(1), 1);
  await o.close();
  const [seg] = segments(dir);
  fs.appendFileSync(seg!, Buffer.alloc(300, 0));
  fs.writeFileSync(path.join(qdir(dir), 'seg-0000000000000099.log'), '');
  const r = await open(dir);
  t.same(counts(await takeAll(r.q)), [1]);
  t.equal(metricValue(await r.metrics(), 'fleetcol_file_storage_records_lost_total', 'exporter="otlp"'), 1, 'zeroes holding no record header count as one unknown record');
  t.notOk(fs.existsSync(path.join(qdir(dir), 'seg-0000000000000099.log')), 'the empty segment is removed');
  r.q.offer(traces(9), 1);
  t.same(counts(await takeAll(r.q)), [9], 'new records go to a new segment');
  await r.close();
});

t.test('a merged batch is written from its parts and read back as one record, after a restart too', async (t) => {
  const dir = t.testdir();
  const a = traces(3);
  const b = traces(5);
  const merged = Telemetry.merge([a, b]);
  t.equal(merged.protoParts().length, 2, 'held as two parts');
  const o = await open(dir);
  t.ok(o.q.offer(merged, 1));
  t.equal(merged.protoParts().length, 2, 'not joined to be written');
  await o.close();
  const r = await open(dir);
  const [e] = await takeAll(r.q);
  t.ok(e, 'the record is there after a restart');
  t.equal(e!.item.itemCount, 8);
  t.same(Buffer.from(e!.item.toProto()), Buffer.concat([a.toProto(), b.toProto()]), 'the bytes of both parts, in order');
  e!.done();
  await r.close();
});

t.test('max_size: offers are refused with a log line and a metric, and accepted again once acked', async (t) => {
  const dir = t.testdir();
  // 256 KiB budget, 64 KiB segments; each batch of 40 spans is ~24 KiB.
  const o = await open(dir, { max_size: 256 * 1024, segment_size: 64 * 1024 });
  const budget = 256 * 1024;
  const rec = 24 + traces(40).byteSize;
  let accepted = 0;
  while (o.q.offer(traces(40), 1)) accepted++;
  t.ok(accepted * rec <= budget && (accepted + 2) * rec > budget - 4096, `accepted ${accepted} batches of ${rec} bytes before the budget ran out`);
  t.notOk(o.q.offer(traces(40), 1), 'still refused');
  const waiting = traces(40);
  for (let i = 0; i < 5; i++) t.notOk(o.q.offer(waiting, 1), 'a batch waiting with block_on_overflow, offered again');
  const m = await o.metrics();
  t.equal(metricValue(m, 'fleetcol_file_storage_write_refused_total', 'reason="max_size"'), 3, 'each refused batch counted once, however often it is offered');
  t.ok(metricValue(m, 'fleetcol_file_storage_bytes', 'exporter="otlp"') <= 256 * 1024, 'within the budget');
  const lines = logged(o, /persistent queue full/);
  t.equal(lines.length, 1, 'one log line for three refusals (rate-limited)');
  t.match(lines[0]!.msg, /max_size 256KiB/);
  for (const e of await takeAll(o.q)) e.done();
  t.ok(o.q.offer(traces(40), 1), 'space came back when the acked segments were deleted');
  await o.close();
});

t.test('queue_size (in sizer units) still bounds the persistent queue', async (t) => {
  const dir = t.testdir();
  const o = await open(dir, {}, { sizer: 'items', capacity: 10 });
  t.ok(o.q.offer(traces(6), 6));
  t.notOk(o.q.offer(traces(6), 6), '12 items > 10');
  t.ok(o.q.offer(traces(4), 4));
  t.equal(o.q.size, 10);
  await o.close();
  const r = await open(dir, {}, { sizer: 'items', capacity: 10 });
  t.equal(r.q.size, 10, 'sizes recomputed from the records after a restart');
  await r.close();
});

t.test('segments roll, and go once all their records are acked', async (t) => {
  const dir = t.testdir();
  const o = await open(dir, { segment_size: 64 * 1024 });
  for (let i = 0; i < 20; i++) o.q.offer(traces(40), 1);
  const n = segments(dir).length;
  t.ok(n >= 5, `${n} segments`);
  const got = await takeAll(o.q);
  for (const e of got.slice(0, 10)) e.done();
  t.ok(segments(dir).length < n, 'acked segments deleted while running');
  for (const e of got.slice(10)) e.done();
  t.equal(segments(dir).length, 1, 'only the segment being written remains');
  await o.close();
});

t.test('compaction on_rebound: a batch stuck in retries no longer pins its segment', async (t) => {
  const dir = t.testdir();
  const o = await open(dir, { segment_size: 64 * 1024, compaction: { on_start: false, on_rebound: true, check_interval: 3_600_000 } });
  for (let i = 0; i < 8; i++) o.q.offer(traces(40), 1);
  const first = segments(dir)[0]!;
  const got = await takeAll(o.q);
  const stuck = got[0]!; // in the first segment, never acked
  for (const e of got.slice(1)) e.done();
  t.ok(fs.existsSync(first), 'the stuck record keeps the first segment');
  const rebound = () => (o.q as unknown as { rebound(): void }).rebound();
  rebound();
  t.ok(fs.existsSync(first), 'not at the first look');
  rebound();
  t.notOk(fs.existsSync(first), 'moved and deleted at the second');
  t.ok(logged(o, /compaction: moved 1 in-flight records/).length === 1);
  await o.close();
  const r = await open(dir);
  t.same(counts(await takeAll(r.q)), [40], 'the stuck batch is still there after a restart, once');
  await r.close();
  void stuck;
});

t.test('compaction on_start: mostly acked segments are rewritten', async (t) => {
  const dir = t.testdir();
  const o = await open(dir, { segment_size: 64 * 1024 });
  for (let i = 1; i <= 12; i++) o.q.offer(traces(i === 2 ? 41 : 40), 1);
  const got = await takeAll(o.q);
  for (const e of got) if (e.item.itemCount !== 41) e.done();
  await o.close();
  const before = segments(dir);
  t.equal(before.length, 2, 'the sparse first segment and the last one');
  const r = await open(dir, { segment_size: 64 * 1024, compaction: { on_start: true, on_rebound: false, check_interval: 0 } });
  t.notOk(fs.existsSync(before[0]!), 'the sparse segment was rewritten and deleted');
  t.same(counts(await takeAll(r.q)), [41]);
  await r.close();
});

t.test('disk full (ENOSPC) refuses the offer, cuts the torn write back, never throws', async (t) => {
  const dir = t.testdir();
  const realWritev = io.writevSync;
  t.teardown(() => void (io.writevSync = realWritev));
  const o = await open(dir);
  t.ok(o.q.offer(traces(1), 1));
  const [seg] = segments(dir);
  const size = fs.statSync(seg!).size;
  // What a full disk does: part of the write lands, then ENOSPC.
  io.writevSync = (fd, bufs, pos) => {
    realWritev(fd, [bufs[0]!], pos);
    throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
  };
  t.notOk(o.q.offer(traces(2), 1), 'refused');
  t.notOk(o.q.offer(traces(3), 1), 'refused again');
  t.equal(fs.statSync(seg!).size, size, 'the partial write was cut back');
  io.writevSync = realWritev;
  const m = await o.metrics();
  t.equal(metricValue(m, 'fleetcol_file_storage_write_refused_total', 'reason="disk_full"'), 2);
  t.equal(logged(o, /disk full writing/).length, 1, 'one log line (rate-limited)');
  await o.close();
  const r = await open(dir);
  t.same(counts(await takeAll(r.q)), [1], 'no torn record left behind');
  t.equal(metricValue(await r.metrics(), 'fleetcol_file_storage_records_lost_total', 'exporter="otlp"'), 0);
  t.ok(r.q.offer(traces(4), 1), 'accepted once there is room');
  await r.close();
});

t.test('one daemon per directory', async (t) => {
  const dir = t.testdir();
  const o = await open(dir);
  const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  t.teardown(() => void holder.kill('SIGKILL'));
  await new Promise((r) => holder.once('spawn', r));
  fs.writeFileSync(path.join(dir, '.lock'), `${holder.pid}\n`); // another live fleetcol, as far as the lock can tell
  const registry = new MetricsRegistry();
  const other = fileStorageExtensionFactory.createExtension!({ id: 'file_storage', kind: 'extension', logger: pino({ level: 'silent' }), metrics: registry.scoped('extension', 'x'), shutdownTimeoutMs: 1000 }, { directory: dir, fsync: false, max_size: MiB, segment_size: MiB, compaction: { on_start: false, on_rebound: false, check_interval: 0 } });
  await t.rejects(other.start(host), /is in use by process/);
  fs.writeFileSync(path.join(dir, '.lock'), '999999999\n'); // a dead holder
  await other.start(host);
  await other.shutdown();
  await o.close();
});

/** Counts the segments' fdatasync calls (restored at the test's end) and when each began, so a
 *  test can tell how long a request waited for its sync to start, whatever the sync itself takes. */
function countSyncs(t: Test): { syncs: number; startedAt: number[] } {
  const realSync = io.fdatasyncSync;
  t.teardown(() => void (io.fdatasyncSync = realSync));
  const counted = { syncs: 0, startedAt: [] as number[] };
  io.fdatasyncSync = (fd) => {
    counted.syncs++;
    counted.startedAt.push(performance.now());
    realSync(fd);
  };
  return counted;
}

t.test('fsync: the offers of one event-loop turn share one fdatasync (group commit), and synced() waits for it', async (t) => {
  const dir = t.testdir();
  const realSync = io.fdatasyncSync;
  const counted = countSyncs(t);
  const o = await open(dir, { fsync: true });
  const q = o.q;
  for (let i = 0; i < 10; i++) t.ok(q.offer(traces(1), 1));
  t.equal(counted.syncs, 0, 'offer() writes; it does not sync');
  const waits = Array.from({ length: 10 }, () => q.synced!());
  await Promise.all(waits);
  t.equal(counted.syncs, 1, 'ten offers, one fdatasync');
  q.offer(traces(1), 1);
  await q.synced!();
  t.equal(counted.syncs, 2, 'the next turn\'s offers, the next one');
  await q.synced!();
  t.equal(counted.syncs, 2, 'nothing written since: no sync');
  io.fdatasyncSync = () => {
    throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
  };
  q.offer(traces(1), 1);
  await t.rejects(q.synced!(), /EIO/, 'a failed sync is the callers\' refusal');
  io.fdatasyncSync = realSync;
  await o.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('fsync_delay: a steady stream shares its syncs, up to eight requests each; a lone offer is synced at once', async (t) => {
  const dir = t.testdir();
  const counted = countSyncs(t);
  // The delay is long beside the 5 ms between offers, so a slow turn on a busy machine does not
  // change the groups; the times asserted are far from the delay, not speeds.
  const o = await open(dir, { fsync: true, fsync_delay: 2000 });
  const q = o.q;
  let t0 = performance.now();
  q.offer(traces(1), 1);
  await q.synced!();
  t.ok(counted.startedAt[0]! - t0 < 1000, 'the first offer (no gap known yet) does not wait for the delay');
  t.equal(counted.syncs, 1);
  // 19 more, 5 ms apart: groups of eight end their turn with a sync; the last three wait for the
  // delay, as no fourth is expected before it is over... until it is over.
  const waits: Promise<void>[] = [];
  const syncsAt: number[] = [];
  t0 = performance.now();
  for (let i = 0; i < 19; i++) {
    q.offer(traces(1), 1);
    waits.push(q.synced!());
    await sleep(5);
    syncsAt.push(counted.syncs);
  }
  await Promise.all(waits);
  t.equal(counted.syncs, 4, 'one sync, then 19 offers in groups of 8, 8 and 3');
  const m = await o.metrics();
  t.match(m, /fleetcol_file_storage_group_commits_total\{extension="file_storage",exporter="otlp"\} 4\n/, 'the commits counted');
  t.match(m, /fleetcol_file_storage_group_commit_requests_total\{extension="file_storage",exporter="otlp"\} 20\n/, 'and the requests they answered');
  t.equal(syncsAt[7], 2, 'the eighth offer\'s turn ran the first group\'s sync');
  t.equal(syncsAt[15], 3);
  t.ok(performance.now() - t0 >= 1990, 'the last group waited for the delay');
  await o.close();
});

t.test('fsync_delay: offers further apart than the delay are synced at once, not after it', async (t) => {
  const dir = t.testdir();
  const counted = countSyncs(t);
  const o = await open(dir, { fsync: true, fsync_delay: 1000 });
  const q = o.q;
  const waited: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    q.offer(traces(1), 1);
    await q.synced!();
    waited.push(counted.startedAt[i]! - t0);
    await sleep(1100);
  }
  t.equal(counted.syncs, 3, 'one sync each');
  t.ok(Math.max(...waited) < 900, `none waited for the 1 s delay before its sync began (${waited.map((w) => w.toFixed(1)).join(', ')} ms)`);
  await o.close();
});

t.test('fsync_delay: a commit still waiting when the queue closes is run then, and its callers answered', async (t) => {
  const dir = t.testdir();
  const counted = countSyncs(t);
  const o = await open(dir, { fsync: true, fsync_delay: 60_000 });
  const q = o.q;
  q.offer(traces(1), 1);
  await q.synced!();
  await sleep(5);
  q.offer(traces(1), 1);
  let answered = false;
  const wait = q.synced!().then(() => void (answered = true));
  await sleep(20);
  t.equal(answered, false, 'waiting for others to join (the delay is a minute)');
  const t0 = performance.now();
  await o.close();
  await wait;
  t.ok(performance.now() - t0 < 5000, 'answered at close, not after the delay');
  t.equal(counted.syncs, 2);
  const o2 = await open(dir, { fsync: true });
  t.equal(o2.q.size, 2, 'both on disk after a restart');
  await o2.close();
});
