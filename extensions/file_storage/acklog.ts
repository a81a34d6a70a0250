// The ack log of one queue: which records the backend confirmed (or that were dropped for good).
// Append-only 16-byte entries, rewritten (write a temp file, rename over) when it grows:
//
//   entry = type u8 | 3 zero bytes | seq u48 | 2 zero bytes | crc32 of bytes 0..12 u32
//   type 1 ACK        the record `seq` is acked
//   type 2 WATERMARK  every record with a seq below `seq` is acked
//
// Acks are never fsynced: an ack lost in a crash only makes a record go out twice, which
// at-least-once allows. A damaged tail (a torn last entry) ends the log where it starts. For the
// same reason the acks of one synchronous run (a merged batch's records, acked one by one) are
// gathered and written with one call from a microtask.
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs';
import { crc32 } from './record.js';

const ENTRY = 16;
const ACK = 1;
const WATERMARK = 2;

export interface AckState {
  /** Every seq below is acked. */
  watermark: number;
  /** Acked seqs at or above the watermark. */
  acked: Set<number>;
  /** Highest seq the log names (records with it may be gone from the segments). */
  maxSeq: number;
  /** Bytes of a damaged tail that were ignored. */
  damagedBytes: number;
}

export function readAckLog(path: string): AckState {
  const st: AckState = { watermark: 0, acked: new Set(), maxSeq: -1, damagedBytes: 0 };
  if (!existsSync(path)) return st;
  const buf = readFileSync(path);
  let at = 0;
  for (; at + ENTRY <= buf.length; at += ENTRY) {
    if (buf.readUInt32LE(at + 12) !== crc32(buf.subarray(at, at + 12))) break;
    const type = buf[at]!;
    const seq = buf.readUIntLE(at + 4, 6);
    if (type === WATERMARK) {
      if (seq > st.watermark) st.watermark = seq;
      if (seq - 1 > st.maxSeq) st.maxSeq = seq - 1;
    } else if (type === ACK) {
      st.acked.add(seq);
      if (seq > st.maxSeq) st.maxSeq = seq;
    } else break;
  }
  st.damagedBytes = buf.length - at;
  for (const s of st.acked) if (s < st.watermark) st.acked.delete(s);
  return st;
}

function entry(b: Buffer, at: number, type: number, seq: number): void {
  b.fill(0, at, at + ENTRY);
  b[at] = type;
  b.writeUIntLE(seq, at + 4, 6);
  b.writeUInt32LE(crc32(b.subarray(at, at + 12)), at + 12);
}

/** Entries gathered before a write; more are written at once. */
const GATHER = 64;

export class AckLog {
  private fd: number;
  private readonly gathered = Buffer.alloc(ENTRY * GATHER);
  private gatheredBytes = 0;
  private flushQueued = false;
  private readonly flushNow = () => this.flush();
  /** Bytes on disk. */
  size: number;
  private failed = false;

  constructor(
    readonly path: string,
    private readonly fsync: boolean,
    /** Told of every change in the file's size (the disk budget). */
    private readonly onResize: (delta: number) => void,
    /** Told when an ack could not be written (it will be sent again after a restart). */
    private readonly onError: (err: Error) => void,
  ) {
    this.fd = openSync(path, 'a');
    this.size = statSync(path).size;
    onResize(this.size);
  }

  ack(seq: number): void {
    this.append(ACK, seq);
  }

  watermark(seq: number): void {
    this.append(WATERMARK, seq);
  }

  private append(type: number, seq: number): void {
    if (this.fd < 0) return;
    entry(this.gathered, this.gatheredBytes, type, seq);
    this.gatheredBytes += ENTRY;
    if (this.gatheredBytes === this.gathered.length) this.flush();
    else if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(this.flushNow);
    }
  }

  /** Writes the gathered entries. */
  flush(): void {
    this.flushQueued = false;
    const n = this.gatheredBytes;
    if (n === 0 || this.fd < 0) return;
    this.gatheredBytes = 0;
    try {
      const written = writeSync(this.fd, this.gathered, 0, n);
      this.size += written;
      this.onResize(written);
      this.failed = false;
    } catch (err) {
      if (!this.failed) this.onError(err as Error);
      this.failed = true;
    }
  }

  /** Replaces the log with one watermark entry and the acks above it. */
  rewrite(watermark: number, acked: Iterable<number>): void {
    // Entries still gathered are in `acked` or below `watermark`: the new log has them.
    this.gatheredBytes = 0;
    const seqs = [...acked].filter((s) => s >= watermark);
    const b = Buffer.alloc(ENTRY * (1 + seqs.length));
    entry(b, 0, WATERMARK, watermark);
    seqs.forEach((s, i) => entry(b, ENTRY * (i + 1), ACK, s));
    const tmp = `${this.path}.tmp`;
    try {
      const fd = openSync(tmp, 'w');
      try {
        writeSync(fd, b, 0, b.length);
        if (this.fsync) fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, this.path);
    } catch (err) {
      // The old log is still whole; it only keeps growing until a rewrite works.
      if (!this.failed) this.onError(err as Error);
      this.failed = true;
      return;
    }
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = openSync(this.path, 'a');
    this.onResize(b.length - this.size);
    this.size = b.length;
  }

  close(): void {
    this.flush();
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}
