// The on-disk record format of the segment log, and the parser the startup scan and the reader
// share. Everything is little-endian.
//
//   segment file = FILE_MAGIC (8 bytes) record*
//   record       = header (24 bytes) payload
//   header       = magic u32 | payload length u32 | item count u32 | seq u48 | signal u8 | flags u8 | crc32 u32
//
// The crc covers header bytes 4..20 (length, items, seq, signal, flags) and the payload, so a
// damaged length is caught too. `seq` numbers every record of one queue, in append order; acks
// name records by it (see acklog.ts). The per-record magic lets a reader find the next record after
// a damaged one: it searches forward for the magic and accepts the first candidate whose crc holds.
import zlib from 'node:zlib';
import type { Signal } from '../../src/pdata/telemetry.js';

export const FILE_MAGIC = Buffer.from('FCQSEG\x00\x01', 'latin1');
export const RECORD_MAGIC = 0x31514346; // "FCQ1"
const MAGIC_BYTES = Buffer.from([0x46, 0x43, 0x51, 0x31]);
export const HEADER_SIZE = 24;
/** Sanity bound on one record: a larger length field is damage, not data. */
export const MAX_PAYLOAD = 512 * 1024 * 1024;

export const SIGNAL_TAG: Record<Signal, number> = { traces: 1, metrics: 2, logs: 3 };
const TAG_SIGNAL: (Signal | undefined)[] = [undefined, 'traces', 'metrics', 'logs'];

/** node:zlib has crc32 from Node 20.15 / 22.2; older 20.x get the table version. */
export const crc32: (data: Uint8Array, value?: number) => number =
  typeof zlib.crc32 === 'function' ? (d, v) => zlib.crc32(d, v) : tableCrc32;

let table: Int32Array | undefined;
function tableCrc32(data: Uint8Array, value = 0): number {
  if (!table) {
    table = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c;
    }
  }
  let c = ~value;
  for (let i = 0; i < data.length; i++) c = table[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

export interface RecordHeader {
  length: number;
  items: number;
  seq: number;
  signal: Signal;
  flags: number;
}

/** The payload of a record: one buffer, or parts written one after the other (a merged batch). */
export type Payload = Uint8Array | readonly Uint8Array[];

export function payloadLength(payload: Payload): number {
  if (payload instanceof Uint8Array) return payload.length;
  let n = 0;
  for (const p of payload) n += p.length;
  return n;
}

/** A fresh 24-byte header for `payload`. */
export function encodeHeader(payload: Payload, h: Omit<RecordHeader, 'length'>): Buffer {
  const b = Buffer.allocUnsafe(HEADER_SIZE);
  b.writeUInt32LE(RECORD_MAGIC, 0);
  b.writeUInt32LE(payloadLength(payload), 4);
  b.writeUInt32LE(h.items >>> 0, 8);
  b.writeUIntLE(h.seq, 12, 6);
  b[18] = SIGNAL_TAG[h.signal];
  b[19] = h.flags;
  let crc = crc32(b.subarray(4, 20));
  if (payload instanceof Uint8Array) crc = crc32(payload, crc);
  else for (const p of payload) crc = crc32(p, crc);
  b.writeUInt32LE(crc, 20);
  return b;
}

/** Reads a header's fields without checking the crc (that needs the payload). undefined if the
 *  magic, length or signal is impossible. */
export function peekHeader(buf: Uint8Array, at: number): RecordHeader | undefined {
  if (at + HEADER_SIZE > buf.length) return undefined;
  const b = Buffer.from(buf.buffer, buf.byteOffset + at, HEADER_SIZE);
  if (b.readUInt32LE(0) !== RECORD_MAGIC) return undefined;
  const length = b.readUInt32LE(4);
  const signal = TAG_SIGNAL[b[18]!];
  if (length > MAX_PAYLOAD || signal === undefined) return undefined;
  return { length, items: b.readUInt32LE(8), seq: b.readUIntLE(12, 6), signal, flags: b[19]! };
}

/** True if the crc stored in `header` matches it and `payload`. */
export function checkCrc(header: Uint8Array, payload: Uint8Array): boolean {
  const b = Buffer.from(header.buffer, header.byteOffset, HEADER_SIZE);
  return b.readUInt32LE(20) === crc32(payload, crc32(b.subarray(4, 20)));
}

export interface ParsedRecord extends RecordHeader {
  /** Offset of the header in the segment. */
  offset: number;
  /** Offset just past the payload. */
  end: number;
}

export type Parse =
  | { ok: true; record: ParsedRecord }
  /** Damage from `offset` to `next` (the next valid record, or the end of the data). */
  | { ok: false; offset: number; next: number; reason: string };

/** Parses the record at `at` in `buf` (a whole segment in memory); on damage, resyncs. */
export function parseAt(buf: Uint8Array, at: number): Parse {
  const why = invalidAt(buf, at);
  if (why === undefined) {
    const h = peekHeader(buf, at)!;
    return { ok: true, record: { ...h, offset: at, end: at + HEADER_SIZE + h.length } };
  }
  return { ok: false, offset: at, next: resync(buf, at + 1), reason: why };
}

function invalidAt(buf: Uint8Array, at: number): string | undefined {
  if (at + HEADER_SIZE > buf.length) return 'truncated header';
  const h = peekHeader(buf, at);
  if (!h) return 'bad header';
  const end = at + HEADER_SIZE + h.length;
  if (end > buf.length) return 'length past end of file';
  if (!checkCrc(buf.subarray(at, at + HEADER_SIZE), buf.subarray(at + HEADER_SIZE, end))) return 'checksum mismatch';
  return undefined;
}

/** The offset of the first valid record at or after `from`, or buf.length if none. */
export function resync(buf: Uint8Array, from: number): number {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.length);
  for (let at = b.indexOf(MAGIC_BYTES, from); at >= 0; at = b.indexOf(MAGIC_BYTES, at + 1)) {
    if (invalidAt(buf, at) === undefined) return at;
  }
  return buf.length;
}

/** Seqs named by the (unverified) headers of what looks like records inside a damaged region:
 *  the best guess of which records a torn or corrupted tail held. */
export function seqsIn(buf: Uint8Array, from: number, to: number): Array<number | undefined> {
  const b = Buffer.from(buf.buffer, buf.byteOffset, to);
  const out: Array<number | undefined> = [];
  for (let at = b.indexOf(MAGIC_BYTES, from); at >= 0 && at < to; at = b.indexOf(MAGIC_BYTES, at + 1)) {
    out.push(at + HEADER_SIZE <= to ? b.readUIntLE(at + 12, 6) : undefined);
  }
  return out;
}
