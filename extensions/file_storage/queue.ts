// One exporter's persistent sending queue: a log of segment files plus an ack log, in its own
// folder. Implements the exporter helper's Queue<Telemetry> contract:
//
// - offer() appends the batch's protobuf bytes as one checksummed record with a synchronous write
//   before it returns true, so an OK to the client means the data is in the file. With `fsync`,
//   synced() then resolves once it is on the disk: the offers of one event-loop turn share one
//   fdatasync (a group commit), and the exporter answers only after it. offer() returns false,
//   never throws, when the queue is at queue_size, the disk budget (max_size) is spent or the disk
//   is full.
// - take() hands out the next record: straight from memory when a consumer is already waiting
//   (the steady state), else read back from its segment.
// - entry.done() acks: one 16-byte entry in the ack log. A segment goes once all its records are
//   acked and it is no longer appended to.
// - After a crash the startup scan re-reads every segment, skips damaged stretches (counting and
//   logging what they held), and queues every record the ack log does not name: at-least-once.
import { existsSync, mkdirSync, readdirSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { SpaceListeners, type Queue, type QueueEntry, type Sizer } from '../../src/exporterhelper/queue.js';
import { Telemetry, type Signal } from '../../src/pdata/telemetry.js';
import type { BoundCounter, SelfMetrics } from '../../src/telemetry/metrics.js';
import { formatSize } from '../../src/config/units.js';
import { memoryAccounting } from '../../src/memory.js';
import { AckLog, readAckLog } from './acklog.js';
import { FILE_MAGIC, HEADER_SIZE, encodeHeader, payloadLength, type ParsedRecord, type Payload } from './record.js';
import { SEGMENT_NAME, Segment, scanSegment, type Damage } from './segment.js';
import { LiveSeqs } from './seqs.js';

/** The disk budget (max_size) every queue of one storage shares. */
export class Budget {
  used = 0;
  constructor(readonly max: number) {}
}

export interface CompactionSettings {
  /** At start, move the live records of mostly-acked segments to a new one and delete those. */
  on_start: boolean;
  /** While running, move in-flight records out of otherwise acked segments that stay stuck. */
  on_rebound: boolean;
  /** How often the rebound check runs, ms. */
  check_interval: number;
}

export interface PersistentQueueOptions {
  dir: string;
  owner: string;
  sizer: Sizer;
  capacity: number;
  fsync: boolean;
  /** Group commit: how long the first request of a commit waits for others (0: the next turn). */
  fsyncDelayMs?: number;
  segmentSize: number;
  compaction: CompactionSettings;
  budget: Budget;
  logger: Logger;
  metrics: SelfMetrics;
}

/** A record handed out and not yet acked. Compaction may move it, so entries point here. */
interface Inflight {
  seg: Segment;
  seq: number;
  bytes: number;
  item: Telemetry;
}

type RefuseReason = 'max_size' | 'disk_full' | 'io_error';

const ACKLOG_REWRITE_BYTES = 64 * 1024;
/** Most bytes of just-written records kept in memory for the consumers (see `recent`). */
const RECENT_MAX_BYTES = 8 << 20;
const REFUSE_LOG_INTERVAL_MS = 10_000;
/** A segment is worth rewriting when its live records fill at most this share of it. */
const SPARSE = 0.5;
/** With fsync_delay: a commit this many requests wait for runs at the end of the turn (a sync's
 *  cost shared eight ways is small beside a request's own). */
const GROUP_MAX = 8;

interface PendingCommit {
  promise: Promise<void>;
  settle: (err?: unknown) => void;
  /** performance.now() of its first request. */
  firstAt: number;
  waiting: number;
  /** Set to run at the end of this turn or by its timer: no longer decided per offer. */
  scheduled: boolean;
  timer: NodeJS.Timeout | undefined;
}

export class PersistentQueue implements Queue<Telemetry> {
  readonly persistent = true;
  readonly capacity: number;
  private readonly o: PersistentQueueOptions;
  private readonly log: Logger;
  private readonly segments: Segment[] = [];
  private active: Segment | undefined;
  private nextSegmentId = 1;
  private nextSeq = 0;
  private readonly live = new LiveSeqs();
  /** Acked records from before this start that are still in a segment (above the watermark). */
  private readonly ackedAtStart = new Set<number>();
  private readonly ackLog: AckLog;
  private readonly inflight = new Set<Inflight>();
  private waiters: Array<(e: QueueEntry<Telemetry> | undefined) => void> = [];
  private readyWaiters: Array<(ready: boolean) => void> = [];
  private waitingUnits = 0;
  private waitingRecords = 0;
  /** Bytes of this queue's files. */
  private bytes = 0;
  private closed = false;
  private disposed = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly unitsOf: (r: { items: number; length: number }) => number;
  private readonly lostCounter: BoundCounter;
  private readonly commitsC: BoundCounter;
  private readonly committedC: BoundCounter;
  private readonly refusedCounters: Record<RefuseReason, BoundCounter>;
  private refusedSinceLog = 0;
  /** Batches already counted as refused (see refuse()). */
  private readonly refusedBatches = new WeakSet<Telemetry>();
  private lastRefuseLog = 0;
  private readonly scratch = { offset: 0, seq: 0, units: 0 };
  /** onSpace listeners: told when a record is handed out (queue_size) or acked (max_size). */
  private readonly space = new SpaceListeners();
  /** Records just written, by seq, kept in memory until taken (bounded by RECENT_MAX_BYTES): a
   *  consumer that keeps up takes them from here instead of reading its own writes back from the
   *  file (a pread and a checksum per request with sending_queue.batch). Only a copy of the file. */
  private readonly recent = new Map<number, Telemetry>();
  /** With fsync: segments appended to since the last group commit, and the commit to come. */
  private readonly dirty = new Set<Segment>();
  private commit: PendingCommit | undefined;
  /** When synced() was last called, and the smoothed gap between calls (ms; -1: not yet known). */
  private lastSyncedAt = -1;
  private offerGap = -1;
  private recentBytes = 0;
  private readonly unregisterMemory: () => void;

  constructor(opts: PersistentQueueOptions) {
    this.o = opts;
    this.capacity = opts.capacity;
    this.log = opts.logger;
    this.unitsOf = opts.sizer === 'requests' ? () => 1 : opts.sizer === 'items' ? (r) => r.items : (r) => r.length;
    const exporter = { exporter: opts.owner };
    this.lostCounter = opts.metrics.counter('file_storage_records_lost_total', 'Queued records lost to damaged or unreadable queue files.', exporter);
    this.refusedCounters = {
      max_size: opts.metrics.counter('file_storage_write_refused_total', 'Batches the persistent queue refused: max_size reached, disk full or write error.', { ...exporter, reason: 'max_size' }),
      disk_full: opts.metrics.counter('file_storage_write_refused_total', '', { ...exporter, reason: 'disk_full' }),
      io_error: opts.metrics.counter('file_storage_write_refused_total', '', { ...exporter, reason: 'io_error' }),
    };
    this.commitsC = opts.metrics.counter('file_storage_group_commits_total', 'With fsync: group commits run (one fdatasync per segment written to), and so how often the queue synced; see file_storage_group_commit_requests_total.', exporter);
    this.committedC = opts.metrics.counter('file_storage_group_commit_requests_total', 'With fsync: requests answered by a group commit. Divided by file_storage_group_commits_total: how many shared each sync (fsync_delay).', exporter);
    opts.metrics.gauge('file_storage_bytes', 'Bytes of queue files on disk (segments and ack log).', () => this.bytes, exporter);
    opts.metrics.gauge('file_storage_records', 'Records on disk not yet acked by the backend (queued or in flight).', () => this.live.length, exporter);
    this.unregisterMemory = memoryAccounting.register('extension', `file_storage/${opts.owner}`, () => this.recentBytes);

    mkdirSync(opts.dir, { recursive: true });
    const before = folderBytes(opts.dir);
    const acks = this.recover();
    this.ackLog = new AckLog(
      join(opts.dir, 'acks.log'),
      opts.fsync,
      (d) => this.grow(d),
      (err) => this.log.warn({ err: err.message }, 'cannot write the ack log: records acked from now on may be sent again after a restart'),
    );
    this.ackLog.rewrite(this.watermark(), this.ackedAtStart);
    // What recovery kept replaces what the folder held before in the shared budget.
    opts.budget.used -= before;
    if (opts.compaction.on_start) this.compactAtStart();
    if (acks.damagedBytes > 0) this.log.warn({ bytes: acks.damagedBytes }, `ack log: ignored a damaged tail of ${acks.damagedBytes} bytes; some records may be sent twice`);
    if (opts.compaction.on_rebound && opts.compaction.check_interval > 0) {
      this.timer = setInterval(() => this.rebound(), opts.compaction.check_interval);
      this.timer.unref();
    }
  }

  get size(): number {
    return this.waitingUnits;
  }

  // -------------------------------------------------------------------------------------------
  // startup

  /** Scans every segment; queues what the ack log does not name; deletes what is fully acked. */
  private recover(): ReturnType<typeof readAckLog> {
    const { dir } = this.o;
    const acks = readAckLog(join(dir, 'acks.log'));
    const isAcked = (s: number) => s < acks.watermark || acks.acked.has(s);
    if (existsSync(join(dir, 'acks.log.tmp'))) unlinkSync(join(dir, 'acks.log.tmp'));
    const ids = readdirSync(dir)
      .map((f) => SEGMENT_NAME.exec(f))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
    let maxSeq = acks.maxSeq;
    let prevSeq: number | undefined;
    let lost = 0;
    let lostBytes = 0;
    let queued = 0;
    let queuedItems = 0;
    const liveSeqs: number[] = [];
    for (const id of ids) {
      this.nextSegmentId = id + 1;
      const seg = Segment.open(dir, id, 0);
      const scan = scanSegment(seg.path);
      seg.size = scan.size;
      // Damage first, while the neighbouring good records tell which seqs it swallowed.
      const at = (d: Damage) => scan.records.findIndex((r) => r.offset > d.offset);
      for (const d of scan.damage) {
        const i = at(d);
        const before = i < 0 ? (scan.records.at(-1)?.seq ?? prevSeq) : i > 0 ? scan.records[i - 1]!.seq : prevSeq;
        const after = i < 0 ? undefined : scan.records[i]!.seq;
        const n = lostRecords(d, before, after, isAcked);
        lost += n;
        lostBytes += d.bytes;
        this.log.error({ segment: seg.path, offset: d.offset, bytes: d.bytes, records: n, reason: d.reason }, `damaged queue file: ${d.reason} at ${seg.path}:${d.offset}; skipped ${d.bytes} bytes (${n} record${n === 1 ? '' : 's'} lost)`);
      }
      for (const r of scan.records) {
        if (r.seq > maxSeq) maxSeq = r.seq;
        prevSeq = r.seq;
        if (isAcked(r.seq)) {
          if (r.seq >= acks.watermark) this.ackedAtStart.add(r.seq);
          continue;
        }
        this.queueRecovered(seg, r);
        liveSeqs.push(r.seq);
        queued++;
        queuedItems += r.items;
      }
      if (seg.live === 0) {
        seg.delete();
        continue;
      }
      this.segments.push(seg);
      this.grow(seg.size);
    }
    if (liveSeqs.some((s, i) => i > 0 && s < liveSeqs[i - 1]!)) liveSeqs.sort((a, b) => a - b);
    for (const s of liveSeqs) this.live.push(s);
    this.nextSeq = Math.max(maxSeq + 1, acks.watermark);
    if (lost > 0) {
      this.lostCounter.inc(lost);
      this.log.error({ records: lost, bytes: lostBytes }, `persistent queue: ${lost} record${lost === 1 ? '' : 's'} (${lostBytes} bytes) lost to damaged files; sending the rest`);
    }
    if (queued > 0) this.log.info({ records: queued, items: queuedItems, segments: this.segments.length, bytes: this.bytes }, `persistent queue: resuming ${queued} unsent records (${queuedItems} items) from disk`);
    return acks;
  }

  private queueRecovered(seg: Segment, r: ParsedRecord): void {
    const units = this.unitsOf(r);
    seg.pending.push(r.offset, r.seq, units);
    seg.live++;
    seg.liveBytes += r.end - r.offset;
    this.waitingUnits += units;
    this.waitingRecords++;
  }

  /** on_start: sparse segments' live records go to a new segment; the old files go. */
  private compactAtStart(): void {
    for (const seg of [...this.segments]) {
      if (seg.writable || seg.live === 0 || seg.liveBytes > seg.size * SPARSE) continue;
      if (this.o.budget.used + seg.liveBytes + FILE_MAGIC.length > this.o.budget.max) continue;
      const moved = this.moveWaiting(seg);
      this.log.info({ segment: seg.path, records: moved }, `compaction: moved ${moved} records out of a mostly acked segment`);
    }
  }

  /** Re-appends a segment's waiting records elsewhere and acks the originals; returns how many. */
  private moveWaiting(seg: Segment): number {
    // Moved records get new seqs: what the memory copy holds under the old ones is dropped.
    this.forgetRecent();
    const recs: Array<{ offset: number; seq: number; units: number }> = [];
    while (seg.pending.shift(this.scratch)) recs.push({ ...this.scratch });
    let moved = 0;
    for (let i = 0; i < recs.length; i++) {
      const r = recs[i]!;
      const got = seg.read(r.offset);
      this.waitingUnits -= r.units;
      this.waitingRecords--;
      if ('error' in got) {
        this.lose(seg, r.seq, got.error, r.offset);
        continue;
      }
      const put = this.append(got.header.signal, got.header.items, got.payload);
      if (!put) {
        // No room after all: the rest stay where they are.
        for (const x of recs.slice(i)) {
          seg.pending.push(x.offset, x.seq, x.units);
          this.waitingUnits += x.units;
          this.waitingRecords++;
        }
        break;
      }
      put.seg.pending.push(put.offset, put.seq, r.units);
      this.waitingUnits += r.units;
      this.waitingRecords++;
      this.ack(seg, r.seq, HEADER_SIZE + got.payload.length);
      moved++;
    }
    return moved;
  }

  // -------------------------------------------------------------------------------------------
  // the Queue contract

  offer(item: Telemetry, size: number): boolean {
    if (this.closed) return false;
    // As the memory queue: one oversized item still goes into an empty queue.
    if (this.waitingUnits > 0 && this.waitingUnits + size > this.capacity) return false;
    // A merged batch's parts are written as they are (one writev), not joined first.
    const put = this.append(item.signal, item.itemCount, item.protoParts(), item);
    if (!put) return false;
    const waiter = this.waiters.shift();
    if (waiter) {
      waiter(this.entry({ seg: put.seg, seq: put.seq, bytes: HEADER_SIZE + item.byteSize, item }));
    } else {
      put.seg.pending.push(put.offset, put.seq, size);
      this.waitingUnits += size;
      this.waitingRecords++;
      const bytes = item.byteSize;
      if (this.recentBytes + bytes <= RECENT_MAX_BYTES) {
        // A copy sharing only the encoding: the caller's object may get a decoded tree later (an
        // sse exporter beside this one), which this cache must not keep alive.
        this.recent.set(put.seq, item.clone());
        this.recentBytes += bytes;
      }
      this.readyWaiters.shift()?.(true);
    }
    return true;
  }

  /** Group commit: the offers of one event-loop turn share one fdatasync per segment, run at the
   *  end of the turn; their callers answer OK once it is done. With `fsync_delay`, a commit may
   *  wait for the offers of later turns, but only while another offer is expected before the
   *  delay is over (from the recent gap between offers) and fewer than GROUP_MAX wait: at a steady
   *  rate the sync runs in the turn that brought the last request that fits, never waking the
   *  loop for a timer, and at a low rate it runs at once. On this VM a sync between paced writes
   *  costs ~120 µs of CPU more than the write alone, whatever the file's layout
   *  (`bench/fsync-cost.ts --rate 100`): the only saving is fewer syncs. */
  synced(): Promise<void> {
    if (!this.o.fsync || this.dirty.size === 0) return Promise.resolve();
    const now = performance.now();
    if (this.lastSyncedAt >= 0) {
      const gap = now - this.lastSyncedAt;
      this.offerGap = this.offerGap < 0 ? gap : this.offerGap + (gap - this.offerGap) / 4;
    }
    this.lastSyncedAt = now;
    let c = this.commit;
    if (!c) {
      let settle!: (err?: unknown) => void;
      const promise = new Promise<void>((resolve, reject) => (settle = (err) => (err === undefined ? resolve() : reject(err))));
      c = this.commit = { promise, settle, firstAt: now, waiting: 0, scheduled: false, timer: undefined };
    }
    c.waiting++;
    if (!c.scheduled) {
      const delay = this.o.fsyncDelayMs ?? 0;
      const gap = this.offerGap < 0 ? Infinity : this.offerGap;
      if (delay <= 0 || c.waiting >= GROUP_MAX || now + gap >= c.firstAt + delay) {
        c.scheduled = true;
        if (c.timer) clearTimeout(c.timer);
        setImmediate(() => this.runCommit(c!));
      } else {
        c.timer ??= setTimeout(() => {
          c!.scheduled = true;
          this.runCommit(c!);
        }, c.firstAt + delay - now);
      }
    }
    return c.promise;
  }

  private runCommit(c: PendingCommit): void {
    if (this.commit !== c) return;
    this.commit = undefined;
    if (c.timer) clearTimeout(c.timer);
    const segs = [...this.dirty];
    this.dirty.clear();
    try {
      for (const seg of segs) seg.sync();
      this.commitsC.inc();
      this.committedC.inc(c.waiting);
      c.settle();
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'persistent queue: fdatasync failed; the requests waiting for it are refused (retryable)');
      c.settle(err);
    }
  }

  ready(): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    if (this.waitingRecords > 0) return Promise.resolve(true);
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  take(): Promise<QueueEntry<Telemetry> | undefined> {
    if (this.closed) return Promise.resolve(undefined);
    const e = this.next();
    if (e) return Promise.resolve(e);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  close(): void {
    this.closed = true;
    for (const w of this.waiters.splice(0)) w(undefined);
    for (const w of this.readyWaiters.splice(0)) w(false);
    this.space.notify();
  }

  onSpace(listener: () => void): () => void {
    return this.space.subscribe(listener);
  }

  drain(): Telemetry[] {
    this.close();
    return [];
  }

  dispose(): void {
    if (this.disposed) return;
    this.close();
    this.disposed = true;
    // A group commit still to run would find the files closed: run it now.
    if (this.commit) this.runCommit(this.commit);
    this.forgetRecent();
    this.unregisterMemory();
    clearInterval(this.timer);
    const kept = this.live.length;
    if (kept > 0) this.log.info({ records: kept, waiting: this.waitingRecords, in_flight: this.inflight.size, bytes: this.bytes }, `persistent queue: ${kept} unsent records kept on disk for the next start`);
    for (const s of this.segments) s.close();
    this.ackLog.close();
  }

  // -------------------------------------------------------------------------------------------
  // internals

  private watermark(): number {
    return this.live.first(this.nextSeq);
  }

  private grow(delta: number): void {
    this.bytes += delta;
    this.o.budget.used += delta;
  }

  /** Writes one record to the newest segment (a new one when it is full); undefined (logged,
   *  counted) when it does not fit the budget or the disk. */
  private append(signal: Signal, items: number, payload: Payload, item?: Telemetry): { seg: Segment; offset: number; seq: number } | undefined {
    const recBytes = HEADER_SIZE + payloadLength(payload);
    const budget = this.o.budget;
    const seg = this.active;
    let roll = !seg || !seg.writable || (seg.size + recBytes > this.o.segmentSize && seg.size > FILE_MAGIC.length);
    if (budget.used + recBytes + (roll ? FILE_MAGIC.length : 0) > budget.max) {
      // A newest segment holding only acked records goes when a new one starts: count that in.
      const freed = seg && seg.writable && seg.live === 0 ? seg.size : 0;
      if (freed === 0 || budget.used + recBytes + FILE_MAGIC.length - freed > budget.max) {
        this.refuse('max_size', undefined, recBytes, item);
        return undefined;
      }
      roll = true;
    }
    try {
      const to = roll ? this.roll() : seg!;
      const seq = this.nextSeq;
      // With fsync, an offered record is synced by the group commit (synced()) before its OK; a
      // record compaction moves is synced here, before its original is acked and deleted.
      const offset = to.append(encodeHeader(payload, { items, seq, signal, flags: 0 }), payload, this.o.fsync && item === undefined);
      if (this.o.fsync && item !== undefined) this.dirty.add(to);
      this.nextSeq++;
      this.grow(recBytes);
      to.live++;
      to.liveBytes += recBytes;
      this.live.push(seq);
      return { seg: to, offset, seq };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      this.refuse(code === 'ENOSPC' || code === 'EDQUOT' ? 'disk_full' : 'io_error', err as Error, recBytes, item);
      return undefined;
    }
  }

  private roll(): Segment {
    const old = this.active;
    const seg = Segment.create(this.o.dir, this.nextSegmentId++, this.o.fsync);
    this.grow(seg.size);
    this.segments.push(seg);
    this.active = seg;
    if (old) {
      old.writable = false;
      this.maybeDelete(old);
    }
    return seg;
  }

  private refuse(reason: RefuseReason, err: Error | undefined, recBytes: number, item: Telemetry | undefined): void {
    // A batch waiting with block_on_overflow is offered again each time room may have been made:
    // count each batch once, not each attempt.
    if (item !== undefined) {
      if (this.refusedBatches.has(item)) return;
      this.refusedBatches.add(item);
    }
    this.refusedCounters[reason].inc();
    this.refusedSinceLog++;
    const now = Date.now();
    if (now - this.lastRefuseLog < REFUSE_LOG_INTERVAL_MS) return;
    const n = this.refusedSinceLog;
    this.lastRefuseLog = now;
    this.refusedSinceLog = 0;
    const { used, max } = this.o.budget;
    const fields = { reason, refused: n, used_bytes: used, max_size: max, record_bytes: recBytes, dir: this.o.dir, err: err?.message };
    const msg =
      reason === 'max_size'
        ? `persistent queue full: ${formatSize(used)} of max_size ${formatSize(max)} used; refusing new data until the backend takes some (${n} batches refused)`
        : reason === 'disk_full'
          ? `disk full writing ${this.o.dir}: refusing new data (${n} batches refused)`
          : `cannot write ${this.o.dir}: ${err?.message}; refusing new data (${n} batches refused)`;
    this.log.error(fields, msg);
  }

  /** The next waiting record, read back from its segment. */
  private next(): QueueEntry<Telemetry> | undefined {
    for (let i = 0; i < this.segments.length; i++) {
      const seg = this.segments[i]!;
      while (seg.pending.shift(this.scratch)) {
        const { offset, seq, units } = this.scratch;
        this.waitingUnits -= units;
        this.waitingRecords--;
        let item = this.recent.get(seq);
        let why = '';
        if (item !== undefined) {
          this.recent.delete(seq);
          this.recentBytes -= item.byteSize;
        } else {
          const got = seg.read(offset);
          if ('error' in got) why = got.error;
          // Validated when it was received and checksummed since: no second validating scan.
          else item = Telemetry.fromValidated(got.header.signal, got.payload, got.header.items);
        }
        if (item) {
          this.space.notify();
          return this.entry({ seg, seq, bytes: HEADER_SIZE + item.byteSize, item });
        }
        this.lose(seg, seq, why, offset);
        // lose() may have deleted the segment: look at the same index again.
        if (this.segments[i] !== seg) {
          i--;
          break;
        }
      }
    }
    return undefined;
  }

  private forgetRecent(): void {
    this.recent.clear();
    this.recentBytes = 0;
  }

  /** A record that could not be read back: counted, logged, acked so it is not retried. */
  private lose(seg: Segment, seq: number, why: string, offset: number): void {
    this.lostCounter.inc();
    this.log.error({ segment: seg.path, offset, reason: why }, `persistent queue: record unreadable (${why}) at ${seg.path}:${offset}; 1 record lost`);
    this.ack(seg, seq, 0);
  }

  private entry(f: Inflight): QueueEntry<Telemetry> {
    this.inflight.add(f);
    let settled = false;
    return {
      item: f.item,
      done: () => {
        if (settled) return;
        settled = true;
        this.inflight.delete(f);
        if (!this.disposed) this.ack(f.seg, f.seq, f.bytes);
      },
      release: () => {
        // Stays un-acked on disk: the next start sends it.
        settled = true;
        this.inflight.delete(f);
      },
    };
  }

  private ack(seg: Segment, seq: number, bytes: number): void {
    seg.live--;
    seg.liveBytes -= bytes;
    if (this.live.ack(seq)) this.ackLog.watermark(this.watermark());
    else this.ackLog.ack(seq);
    if (this.ackLog.size > ACKLOG_REWRITE_BYTES) this.rewriteAckLog();
    this.maybeDelete(seg);
    this.space.notify();
  }

  private rewriteAckLog(): void {
    const wm = this.watermark();
    for (const s of this.ackedAtStart) if (s < wm) this.ackedAtStart.delete(s);
    this.ackLog.rewrite(wm, [...this.live.early, ...this.ackedAtStart]);
  }

  /** Deletes a segment once nothing in it is un-acked and nothing more goes in. */
  private maybeDelete(seg: Segment): void {
    if (seg.live > 0 || seg.writable) return;
    const i = this.segments.indexOf(seg);
    if (i < 0) return;
    this.segments.splice(i, 1);
    if (this.active === seg) this.active = undefined;
    try {
      seg.delete();
    } catch (err) {
      this.log.warn({ segment: seg.path, err: (err as Error).message }, 'cannot delete an acked segment; the next start retries');
      return;
    }
    this.grow(-seg.size);
  }

  /** on_rebound: a closed segment whose only un-acked records are in flight (a batch the backend
   *  keeps refusing) would pin its whole file; after one more check interval in that state, those
   *  records are re-appended to the newest segment and the old file deleted. */
  private rebound(): void {
    if (this.closed) return;
    for (const seg of [...this.segments]) {
      if (seg.writable || seg.live === 0 || seg.pending.length > 0 || seg.liveBytes > seg.size * SPARSE) {
        seg.stuckLive = -1;
        continue;
      }
      if (seg.stuckLive !== seg.live) {
        seg.stuckLive = seg.live;
        continue;
      }
      let moved = 0;
      for (const f of [...this.inflight]) {
        if (f.seg !== seg) continue;
        const put = this.append(f.item.signal, f.item.itemCount, f.item.protoParts());
        if (!put) break;
        const old = { seq: f.seq, bytes: f.bytes };
        f.seg = put.seg;
        f.seq = put.seq;
        f.bytes = HEADER_SIZE + f.item.byteSize;
        this.ack(seg, old.seq, old.bytes);
        moved++;
      }
      if (moved > 0) this.log.info({ segment: seg.path, records: moved }, `compaction: moved ${moved} in-flight records out of an otherwise acked segment`);
    }
  }
}

/** How many records a damaged stretch held that were not acked: from the seqs of the good
 *  records around it when known, else from the (unverified) headers inside it. */
function lostRecords(d: Damage, before: number | undefined, after: number | undefined, isAcked: (s: number) => boolean): number {
  if (d.reason === 'bad file header') return 0;
  if (before !== undefined && after !== undefined && after > before) {
    let n = 0;
    for (let s = before + 1; s < after; s++) if (!isAcked(s)) n++;
    return n;
  }
  if (d.seqs.length === 0) return 1;
  return d.seqs.filter((s) => s === undefined || !isAcked(s)).length;
}

function folderBytes(dir: string): number {
  let n = 0;
  for (const f of readdirSync(dir)) {
    try {
      const st = statSync(join(dir, f));
      if (st.isFile()) n += st.size;
    } catch {
      // gone meanwhile
    }
  }
  return n;
}
