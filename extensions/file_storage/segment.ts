// One segment file of a queue's log: created, appended to while it is the newest, read back
// record by record, deleted once every record in it is acked.
import { closeSync, fdatasyncSync, fsyncSync, ftruncateSync, openSync, readFileSync, readSync, unlinkSync, writeSync, writevSync } from 'node:fs';
import { join } from 'node:path';
import { FILE_MAGIC, HEADER_SIZE, checkCrc, parseAt, payloadLength, peekHeader, seqsIn, type ParsedRecord, type Payload, type RecordHeader } from './record.js';

/** The write call appends go through; tests swap it to play a full disk. */
export const io = { writevSync, fdatasyncSync };

export const SEGMENT_NAME = /^seg-(\d{16})\.log$/;
export const segmentName = (id: number) => `seg-${String(id).padStart(16, '0')}.log`;

/** Records waiting to be read: (offset, seq, units) triples in a growable typed array. */
export class PendingIndex {
  private a = new Float64Array(3 * 64);
  private head = 0;
  private tail = 0;

  get length(): number {
    return (this.tail - this.head) / 3;
  }

  push(offset: number, seq: number, units: number): void {
    if (this.tail + 3 > this.a.length) {
      const live = this.a.subarray(this.head, this.tail);
      const next = this.head > this.a.length / 2 ? this.a : new Float64Array(this.a.length * 2);
      next.set(live, 0);
      this.a = next;
      this.tail -= this.head;
      this.head = 0;
    }
    this.a[this.tail++] = offset;
    this.a[this.tail++] = seq;
    this.a[this.tail++] = units;
  }

  /** Removes the first triple and writes it into `out`; false if empty. */
  shift(out: { offset: number; seq: number; units: number }): boolean {
    if (this.head === this.tail) return false;
    out.offset = this.a[this.head++]!;
    out.seq = this.a[this.head++]!;
    out.units = this.a[this.head++]!;
    if (this.head === this.tail) this.head = this.tail = 0;
    return true;
  }
}

export class Segment {
  /** Records not yet acked (read or not). */
  live = 0;
  /** Bytes of live records' payloads and headers. */
  liveBytes = 0;
  /** Records not yet handed out. */
  readonly pending = new PendingIndex();
  /** Still the one being appended to. */
  writable: boolean;
  /** Set by the rebound check: `live` when this segment was last seen stuck. */
  stuckLive = -1;
  /** Records added and not yet written, as writev buffers; `size` counts them. */
  private queued: Uint8Array[] = [];
  /** Bytes in the file: `size` less what is queued. */
  private written: number;

  private constructor(
    readonly id: number,
    readonly path: string,
    private fd: number,
    public size: number,
    writable: boolean,
  ) {
    this.writable = writable;
    this.written = size;
  }

  /** A new, empty segment (the file header written). */
  static create(dir: string, id: number, fsync: boolean): Segment {
    const path = join(dir, segmentName(id));
    const fd = openSync(path, 'wx+');
    try {
      if (writeSync(fd, FILE_MAGIC, 0, FILE_MAGIC.length, 0) !== FILE_MAGIC.length) throw new Error(`short write creating ${path}`);
      if (fsync) {
        fdatasyncSync(fd);
        syncDir(dir);
      }
    } catch (err) {
      closeSync(fd);
      try {
        unlinkSync(path);
      } catch {
        // nothing more to undo
      }
      throw err;
    }
    return new Segment(id, path, fd, FILE_MAGIC.length, true);
  }

  /** An existing segment, read-only. */
  static open(dir: string, id: number, size: number): Segment {
    const path = join(dir, segmentName(id));
    return new Segment(id, path, openSync(path, 'r'), size, false);
  }

  /** Queues one record (header and payload) at the end of the segment, to be written by write();
   *  returns the record's offset. */
  add(header: Buffer, payload: Payload): number {
    const at = this.size;
    this.queued.push(header);
    if (payload instanceof Uint8Array) this.queued.push(payload);
    else for (const p of payload) this.queued.push(p);
    this.size = at + header.length + payloadLength(payload);
    return at;
  }

  /** Writes what add() queued, in one writev. On an error or a short write (disk full) the file is
   *  cut back to where it was, the queued records are dropped and the error thrown. */
  write(): void {
    if (this.queued.length === 0) return;
    const at = this.written;
    const total = this.size - at;
    const bufs = this.queued;
    this.queued = [];
    try {
      const n = io.writevSync(this.fd, bufs, at);
      if (n !== total) throw Object.assign(new Error(`short write (${n} of ${total} bytes): disk full?`), { code: 'ENOSPC' });
    } catch (err) {
      this.size = at;
      // Also after a throw: a failing writev may have written part of the records.
      this.truncate(at);
      throw err;
    }
    this.written = this.size;
  }

  /** Takes the segment back to `to` bytes: queued records past it are dropped, written ones
   *  truncated (a batch that failed in a later segment). */
  cut(to: number): void {
    this.queued = [];
    this.size = to;
    if (to >= this.written) return;
    this.written = to;
    this.truncate(to);
  }

  private truncate(to: number): void {
    try {
      ftruncateSync(this.fd, to);
    } catch {
      // what is past `to` stays; the startup scan reads or skips it. Stop appending here.
      this.writable = false;
    }
  }

  /** fdatasync of what was written (group commit: see PersistentQueue.flush). False if the
   *  segment was closed meanwhile (deleted once every record in it was acked: nothing to keep). */
  sync(): boolean {
    if (this.fd < 0) return false;
    io.fdatasyncSync(this.fd);
    return true;
  }

  /** Reads and checks the record at `offset`. */
  read(offset: number): { header: RecordHeader; payload: Buffer } | { error: string } {
    const hb = Buffer.allocUnsafe(HEADER_SIZE);
    if (readSync(this.fd, hb, 0, HEADER_SIZE, offset) !== HEADER_SIZE) return { error: 'truncated header' };
    const header = peekHeader(hb, 0);
    if (!header) return { error: 'bad header' };
    const payload = Buffer.allocUnsafe(header.length);
    if (header.length > 0 && readSync(this.fd, payload, 0, header.length, offset + HEADER_SIZE) !== header.length) return { error: 'length past end of file' };
    if (!checkCrc(hb, payload)) return { error: 'checksum mismatch' };
    return { header, payload };
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
    this.writable = false;
  }

  /** Closes and removes the file. */
  delete(): void {
    this.close();
    unlinkSync(this.path);
  }
}

export interface Damage {
  offset: number;
  bytes: number;
  reason: string;
  /** Seqs the damaged region's headers name (unverified), undefined where unreadable. */
  seqs: Array<number | undefined>;
}

export interface Scan {
  size: number;
  /** False when the file header itself is wrong (the rest was still searched for records). */
  headerOk: boolean;
  records: ParsedRecord[];
  damage: Damage[];
}

/** Reads a whole segment and checks every record; damaged stretches are skipped to the next
 *  record whose checksum holds. */
export function scanSegment(path: string): Scan {
  const buf = readFileSync(path);
  const headerOk = buf.length >= FILE_MAGIC.length && buf.subarray(0, FILE_MAGIC.length).equals(FILE_MAGIC);
  const scan: Scan = { size: buf.length, headerOk, records: [], damage: [] };
  let at = Math.min(FILE_MAGIC.length, buf.length);
  if (!headerOk && buf.length > 0) scan.damage.push({ offset: 0, bytes: at, reason: 'bad file header', seqs: [] });
  while (at < buf.length) {
    const p = parseAt(buf, at);
    if (p.ok) {
      scan.records.push(p.record);
      at = p.record.end;
    } else {
      scan.damage.push({ offset: p.offset, bytes: p.next - p.offset, reason: p.reason, seqs: seqsIn(buf, p.offset, p.next) });
      at = p.next;
    }
  }
  return scan;
}

export function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
