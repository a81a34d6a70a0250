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

  private constructor(
    readonly id: number,
    readonly path: string,
    private fd: number,
    public size: number,
    writable: boolean,
  ) {
    this.writable = writable;
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

  /** Appends one record (header and payload in one write); returns the record's offset. On an
   *  error or a short write (disk full) the file is cut back to where it was and the error thrown. */
  append(header: Buffer, payload: Payload, fsync: boolean): number {
    const at = this.size;
    const total = header.length + payloadLength(payload);
    let written = 0;
    try {
      written = io.writevSync(this.fd, payload instanceof Uint8Array ? [header, payload] : [header, ...payload], at);
      if (written !== total) throw Object.assign(new Error(`short write (${written} of ${total} bytes): disk full?`), { code: 'ENOSPC' });
      if (fsync) fdatasyncSync(this.fd);
    } catch (err) {
      try {
        // Also after a throw: a failing writev may have written part of the record.
        ftruncateSync(this.fd, at);
      } catch {
        // the torn record stays; the startup scan skips it. Stop appending here.
        this.writable = false;
      }
      throw err;
    }
    this.size = at + total;
    return at;
  }

  /** fdatasync of what was appended (group commit: see PersistentQueue.synced). False if the
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
