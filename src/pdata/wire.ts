// Protobuf wire primitives: a bounds-checked Reader and a growable Writer. Every read takes the end
// of the enclosing message, so a length that points past its parent is caught where it is read.
import { DecodeError } from './errors.js';

const TWO32 = 4294967296;

/** A plain Uint8Array view (a Node Buffer's slice() would alias instead of copying). */
export function plain(u8: Uint8Array): Uint8Array {
  return u8.constructor === Uint8Array ? u8 : new Uint8Array(u8.buffer, u8.byteOffset, u8.byteLength);
}

export function truncated(at: number): DecodeError {
  return new DecodeError(`truncated input at byte ${at}`);
}

export class Reader {
  readonly buf: Uint8Array;
  readonly view: DataView;
  /** the same bytes as a Buffer, for its native UTF-8 decoder */
  readonly nb: Buffer;
  pos = 0;
  /** the two halves of the last varint64 read */
  lo = 0;
  hi = 0;

  constructor(bytes: Uint8Array) {
    this.buf = plain(bytes);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    this.nb = Buffer.from(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  /** A varint, keeping its low 32 bits (unsigned): tags, lengths and 32-bit fields. */
  uint32(end: number): number {
    const b = this.buf;
    let p = this.pos;
    if (p >= end) throw truncated(p);
    let c = b[p++]!;
    if (c < 0x80) { this.pos = p; return c; }
    let v = c & 0x7f;
    for (let shift = 7; shift < 35; shift += 7) {
      if (p >= end) throw truncated(p);
      c = b[p++]!;
      v |= (c & 0x7f) << shift;
      if (c < 0x80) { this.pos = p; return v >>> 0; }
    }
    for (let i = 0; i < 5; i++) { // bytes 6..10 only carry bits above 32
      if (p >= end) throw truncated(p);
      if (b[p++]! < 0x80) { this.pos = p; return v >>> 0; }
    }
    throw new DecodeError(`varint longer than 10 bytes at byte ${this.pos}`);
  }

  /** A length prefix, which must stay within `end`. */
  length(end: number): number {
    const start = this.pos;
    let n: number;
    if (start < end && this.buf[start]! < 0x80) { n = this.buf[start]!; this.pos = start + 1; } else {
      this.varint64(end);
      n = this.hi === 0 ? this.lo : Infinity;
    }
    if (n > end - this.pos) {
      throw new DecodeError(`length ${n === Infinity ? '>= 2^32' : n} at byte ${start} runs past the end of its message (byte ${end})`);
    }
    return n;
  }

  /** A varint into lo/hi. */
  varint64(end: number): void {
    const b = this.buf;
    let p = this.pos;
    let lo = 0, hi = 0, c = 0;
    for (let shift = 0; shift < 28; shift += 7) {
      if (p >= end) throw truncated(p);
      c = b[p++]!;
      lo |= (c & 0x7f) << shift;
      if (c < 0x80) { this.pos = p; this.lo = lo >>> 0; this.hi = 0; return; }
    }
    if (p >= end) throw truncated(p);
    c = b[p++]!;
    lo |= (c & 0x7f) << 28;
    hi = (c & 0x7f) >> 4;
    if (c >= 0x80) {
      for (let shift = 3; ; shift += 7) {
        if (shift > 31) throw new DecodeError(`varint longer than 10 bytes at byte ${this.pos}`);
        if (p >= end) throw truncated(p);
        c = b[p++]!;
        hi |= (c & 0x7f) << shift;
        if (c < 0x80) break;
      }
    }
    this.pos = p;
    this.lo = lo >>> 0;
    this.hi = hi >>> 0;
  }

  int64(end: number): bigint {
    this.varint64(end);
    const hi = this.hi;
    if (hi < 0x200000) return BigInt(hi * TWO32 + this.lo); // fits a double exactly
    return BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(this.lo));
  }

  uint64(end: number): bigint {
    this.varint64(end);
    const hi = this.hi;
    if (hi < 0x200000) return BigInt(hi * TWO32 + this.lo);
    return (BigInt(hi) << 32n) | BigInt(this.lo);
  }

  fixedEnd(n: number, end: number): number {
    const p = this.pos;
    if (end - p < n) throw truncated(p);
    this.pos = p + n;
    return p;
  }

  /** Skips one value of wire type `wt`; groups are not part of proto3 and are refused. */
  skip(wt: number, end: number): void {
    switch (wt) {
      case 0: this.varint64(end); return;
      case 1: this.fixedEnd(8, end); return;
      case 2: { const n = this.length(end); this.pos += n; return; }
      case 5: this.fixedEnd(4, end); return;
      default: throw new DecodeError(`unsupported wire type ${wt} at byte ${this.pos}`);
    }
  }

  /** Bytes [start, end) as a latin1 string: a map key for trace and span ids. Ids of up to 16
   *  bytes come from a small cache keyed by their bytes: the spans of one trace repeat its id, and
   *  a child names its parent's, so most are the string made for an earlier span. */
  idKey(start: number, end: number): string {
    if (end - start > ID_MAX || end - start < 4) return this.nb.toString('latin1', start, end);
    const hit = ids.find(this.view, this.buf, start, end);
    if (hit !== undefined) return hit;
    return ids.keep(this.nb.toString('latin1', start, end), this.buf, start, end);
  }

  string(start: number, end: number): string {
    if (end - start <= SHORT) {
      const s = shortAscii(this.view, this.buf, start, end);
      if (s !== undefined) return s;
    }
    return this.nb.toString('utf8', start, end);
  }
}

/** Strings made from bytes that repeat, kept by those bytes in a direct-mapped cache: a hit returns
 *  the string made before, so no new string (garbage, and a hash to compute again when it keys a
 *  Map). The bytes are kept beside each string, so that the hash and the comparison read four bytes
 *  at a time: an OpenInference span has ~40 keys of ~25 bytes, and a byte at a time (a hash pass,
 *  then a comparison with the string's characters) was a microsecond per span (bench/genai.ts). */
class StringCache {
  private readonly strings: string[];
  /** per slot, `max` bytes: the cached string's bytes */
  private readonly bytes: Uint8Array;
  private readonly view: DataView;
  /** per slot, the cached string's byte length; -1 when empty */
  private readonly lengths: Int8Array;
  /** the slot the last find() looked in */
  private slot = 0;

  constructor(private readonly bits: number, private readonly max: number) {
    this.strings = new Array<string>(1 << bits).fill('');
    this.bytes = new Uint8Array((1 << bits) * max);
    this.view = new DataView(this.bytes.buffer);
    this.lengths = new Int8Array(1 << bits).fill(-1);
  }

  /** The string kept for b[start, end) (at most `max` bytes; v views b), or undefined. */
  find(v: DataView, b: Uint8Array, start: number, end: number): string | undefined {
    const n = end - start;
    let h = n;
    let i = start;
    for (; i + 4 <= end; i += 4) h = Math.imul(h ^ v.getUint32(i, true), 0x01000193);
    for (; i < end; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
    const slot = (h ^ (h >>> this.bits) ^ (h >>> 22)) & ((1 << this.bits) - 1);
    this.slot = slot;
    if (this.lengths[slot] !== n) return undefined;
    const base = slot * this.max;
    let j = 0;
    for (; j + 4 <= n; j += 4) if (v.getUint32(start + j, true) !== this.view.getUint32(base + j, true)) return undefined;
    for (; j < n; j++) if (b[start + j] !== this.bytes[base + j]) return undefined;
    return this.strings[slot];
  }

  /** Keeps `s`, made from b[start, end), in the slot the last find() looked in; returns it. */
  keep(s: string, b: Uint8Array, start: number, end: number): string {
    const slot = this.slot;
    const base = slot * this.max;
    this.strings[slot] = s;
    this.lengths[slot] = end - start;
    for (let k = start; k < end; k++) this.bytes[base + k - start] = b[k]!;
    return s;
  }
}

/** Ids as latin1 strings (Reader.idKey): a trace's spans repeat its id, a child names its parent's. */
const ID_MAX = 16;
const ids = new StringCache(10, ID_MAX);

/** Short ASCII strings (attribute keys, names, enum-like values): they repeat across the spans of a
 *  batch. */
const SHORT = 40;
const shortStrings = new StringCache(11, SHORT);

function shortAscii(v: DataView, b: Uint8Array, start: number, end: number): string | undefined {
  const hit = shortStrings.find(v, b, start, end);
  // A hit's bytes equal the cached ones, which are ASCII.
  if (hit !== undefined) return hit;
  for (let k = start; k < end; k++) if (b[k]! >= 0x80) return undefined;
  let s = '';
  for (let k = start; k < end; k++) s += String.fromCharCode(b[k]!);
  return shortStrings.keep(s, b, start, end);
}

function varintLength(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
}

/** Longest copy Writer.raw makes byte by byte. */
const RAW_LOOP = 64;

export class Writer {
  buf: Uint8Array;
  view: DataView;
  nb: Buffer;
  pos = 0;

  constructor(capacity = 1024) {
    this.buf = new Uint8Array(Math.max(capacity, 64));
    this.view = new DataView(this.buf.buffer);
    this.nb = Buffer.from(this.buf.buffer);
  }

  ensure(n: number): void {
    if (this.pos + n > this.buf.length) this.grow(n);
  }

  private grow(n: number): void {
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n));
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
    this.nb = Buffer.from(next.buffer);
  }

  /** Non-negative integer up to 2^53. */
  uvarint(v: number): void {
    this.ensure(10);
    const b = this.buf;
    let p = this.pos;
    if (v < TWO32) {
      v >>>= 0;
      while (v > 0x7f) { b[p++] = (v & 0x7f) | 0x80; v >>>= 7; }
    } else {
      while (v > 0x7f) { b[p++] = (v % 128) | 0x80; v = Math.floor(v / 128); }
    }
    b[p++] = v;
    this.pos = p;
  }

  /** int32 / enum: negatives take 10 bytes, sign-extended to 64 bits as protobuf requires. */
  int32(v: number): void {
    if (v >= 0) this.uvarint(v);
    else this.varint64Parts(v >>> 0, 0xffffffff);
  }

  varint64Parts(lo: number, hi: number): void {
    this.ensure(10);
    const b = this.buf;
    let p = this.pos;
    while (hi !== 0 || lo > 0x7f) {
      b[p++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    b[p++] = lo;
    this.pos = p;
  }

  varint64(v: bigint): void {
    if (v >= 0n && v < 0x20000000000000n) { this.uvarint(Number(v)); return; }
    const u = BigInt.asUintN(64, v);
    this.varint64Parts(Number(u & 0xffffffffn), Number(u >> 32n));
  }

  fixed32(v: number): void {
    this.ensure(4);
    this.view.setUint32(this.pos, v >>> 0, true);
    this.pos += 4;
  }

  fixed64(v: bigint): void {
    this.ensure(8);
    this.view.setBigUint64(this.pos, v, true);
    this.pos += 8;
  }

  double(v: number): void {
    this.ensure(8);
    this.view.setFloat64(this.pos, v, true);
    this.pos += 8;
  }

  tag(tag: number, tagLen: number): void {
    if (tagLen === 1) {
      if (this.pos >= this.buf.length) this.grow(1);
      this.buf[this.pos++] = tag;
    } else this.uvarint(tag);
  }

  string(s: string): void {
    const n = s.length;
    if (n > 42) { // past 42 UTF-16 units the length prefix may need 2 bytes: measure first
      const len = Buffer.byteLength(s, 'utf8');
      this.uvarint(len);
      this.ensure(len);
      this.nb.write(s, this.pos, len, 'utf8');
      this.pos += len;
      return;
    }
    this.ensure(n * 3 + 1);
    const b = this.buf;
    const start = this.pos + 1;
    let p = start;
    for (let i = 0; i < n; i++) {
      let c = s.charCodeAt(i);
      if (c < 0x80) { b[p++] = c; continue; }
      if (c < 0x800) { b[p++] = 0xc0 | (c >> 6); b[p++] = 0x80 | (c & 0x3f); continue; }
      if (c >= 0xd800 && c < 0xe000) {
        const d = i + 1 < n ? s.charCodeAt(i + 1) : 0;
        if (c < 0xdc00 && d >= 0xdc00 && d < 0xe000) {
          i++;
          const cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          b[p++] = 0xf0 | (cp >> 18); b[p++] = 0x80 | ((cp >> 12) & 0x3f);
          b[p++] = 0x80 | ((cp >> 6) & 0x3f); b[p++] = 0x80 | (cp & 0x3f);
          continue;
        }
        c = 0xfffd; // lone surrogate: what Buffer and TextEncoder write too
      }
      b[p++] = 0xe0 | (c >> 12); b[p++] = 0x80 | ((c >> 6) & 0x3f); b[p++] = 0x80 | (c & 0x3f);
    }
    b[this.pos] = p - start;
    this.pos = p;
  }

  bytes(v: Uint8Array): void {
    this.uvarint(v.length);
    this.raw(v, 0, v.length);
  }

  /** Copies src[start, end). Up to RAW_LOOP bytes by a loop: a copy by set() needs a subarray of
   *  src, an object for the GC per call (~60 bytes), and edited requests copy many short ranges. */
  raw(src: Uint8Array, start: number, end: number): void {
    const n = end - start;
    this.ensure(n);
    if (n <= RAW_LOOP) {
      const b = this.buf;
      let p = this.pos;
      for (let i = start; i < end; i++) b[p++] = src[i]!;
    } else this.buf.set(start === 0 && end === src.length ? src : src.subarray(start, end), this.pos);
    this.pos += n;
  }

  /** Reserves one byte for a length prefix; endLen() fills it, moving the body if it needs more. */
  beginLen(): number {
    if (this.pos >= this.buf.length) this.grow(1);
    return this.pos++;
  }

  endLen(at: number): void {
    const len = this.pos - at - 1;
    if (len < 0x80) { this.buf[at] = len; return; }
    const extra = varintLength(len) - 1;
    this.ensure(extra);
    const b = this.buf;
    b.copyWithin(at + 1 + extra, at + 1, this.pos);
    this.pos += extra;
    let v = len, p = at;
    while (v > 0x7f) { b[p++] = (v & 0x7f) | 0x80; v >>>= 7; }
    b[p] = v;
  }

  /** The written bytes; copied out only when most of the buffer would be wasted. */
  finish(): Uint8Array {
    if (this.buf.length - this.pos > 4096 && this.pos < this.buf.length / 2) return this.buf.slice(0, this.pos);
    return this.buf.subarray(0, this.pos);
  }
}
