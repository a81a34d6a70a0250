// Reading spans and log records at wire level for components that only look (connectors): each
// item's attribute keys are compared, as bytes, with the few keys the reader asked for, and only
// those values are read. Nothing is allocated per item (one view is reused), where editItems
// builds a string per key and arrays per item; for a reader that wants 10 of a span's 30 keys
// most of the cost of a span was those strings and the garbage they left. Input must already be
// validated (scanMessage).
import { decodeMessage } from './decode.js';
import { MESSAGES } from './schema.js';
import type { Resource } from './telemetry.js';
import { Reader, truncated } from './wire.js';

export type ReadableSignal = 'traces' | 'logs';

const RESOURCE = MESSAGES.Resource!;
/** Field numbers of the item's attributes. */
const ATTRIBUTES: Record<ReadableSignal, number> = { traces: 9, logs: 6 };
/** Other fields the view keeps the position of: numbers 1..MAX_FIELD. */
const MAX_FIELD = 16;
const TWO32 = 4294967296;

/** The attribute keys a reader wants, matched against key bytes without making strings. */
export class KeySet {
  /** per byte length, the wanted keys of that length (UTF-8) and their indexes */
  private readonly byLength: Array<{ bytes: Uint8Array[]; index: number[] } | undefined> = [];
  /** 1 at each byte length below 128 some wanted key has: a key of another length is passed over
   *  with one load */
  readonly shortLengths = new Uint8Array(128);

  /** per key, the index of the first key with the same bytes: find() answers with that one, so a
   *  key listed twice (a sampler's priority attribute also its from_attribute, a dimension that
   *  is also a base key) is looked up through it */
  readonly canonical: number[] = [];

  constructor(readonly keys: readonly string[]) {
    keys.forEach((k, index) => {
      const bytes = Buffer.from(k, 'utf8');
      const slot = (this.byLength[bytes.length] ??= { bytes: [], index: [] });
      const same = slot.bytes.findIndex((b) => Buffer.compare(b, bytes) === 0);
      if (same >= 0) {
        this.canonical.push(slot.index[same]!);
        return;
      }
      this.canonical.push(index);
      slot.bytes.push(bytes);
      slot.index.push(index);
      if (bytes.length < 128) this.shortLengths[bytes.length] = 1;
    });
  }

  /** The index of the key in b[s, e), or -1. Compared from the end: wanted keys share prefixes
   *  (`gen_ai.`) more often than suffixes. */
  find(b: Uint8Array, s: number, e: number): number {
    const slot = this.byLength[e - s];
    if (slot === undefined) return -1;
    const list = slot.bytes;
    next: for (let c = 0; c < list.length; c++) {
      const k = list[c]!;
      for (let i = k.length - 1; i >= 0; i--) if (b[s + i] !== k[i]) continue next;
      return slot.index[c]!;
    }
    return -1;
  }
}

/** One span or log record; the same object is handed to the visitor for every item. */
export class ItemView {
  r!: Reader;
  /** [start, end) of the value body of each wanted key; -1 when the item has no such attribute */
  private readonly vs: Int32Array;
  private readonly ve: Int32Array;
  /** [start, end) of the last occurrence of each other field (number ≤ MAX_FIELD), value bytes only */
  private readonly at = new Int32Array(2 * (MAX_FIELD + 1));

  constructor(readonly keys: KeySet) {
    this.vs = new Int32Array(keys.keys.length);
    this.ve = new Int32Array(keys.keys.length);
  }

  /** Reads the item at [start, end) of r. Tags and lengths of one or two bytes (nearly all) are
   *  read inline, and a KeyValue written as its key then its value (what every encoder writes) is
   *  matched where it lies; anything else goes to the Reader (kv()). Calls into the Reader per
   *  field were most of this connector's read (bench/genai-metrics.ts). The inline reads are
   *  WireItem.read's (edit.ts), written out in both: a helper would have to hand back a value and
   *  a new position per field, an object or a trip through the Reader, which is what they avoid. */
  load(r: Reader, start: number, end: number, attrNo: number): void {
    this.r = r;
    this.vs.fill(-1);
    this.at.fill(-1);
    const b = r.buf;
    const keys = this.keys;
    const lengths = keys.shortLengths;
    const at = this.at;
    let p = start;
    while (p < end) {
      let tag = b[p]!;
      if (tag < 0x80) p++;
      else {
        r.pos = p;
        tag = r.uint32(end);
        p = r.pos;
      }
      const no = tag >>> 3;
      const wt = tag & 7;
      if (wt === 2) {
        let n = p < end ? b[p]! : 0x80;
        if (n < 0x80) p++;
        else if (p + 1 < end && b[p + 1]! < 0x80) {
          n = (n & 0x7f) | (b[p + 1]! << 7);
          p += 2;
        } else {
          r.pos = p;
          n = r.length(end);
          p = r.pos;
        }
        const vEnd = p + n;
        if (vEnd > end) throw truncated(p);
        if (no === attrNo) {
          const kn = b[p + 1]!;
          if (b[p] !== 0x0a || kn >= 0x80 || p + 2 + kn > vEnd) this.kv(r, p, vEnd);
          else if (lengths[kn] !== 0) {
            // A wanted length: the key, then its value filling the rest, or any other shape.
            const ke = p + 2 + kn;
            const v1 = b[ke + 1]!;
            if (ke + 2 <= vEnd && b[ke] === 0x12 && v1 < 0x80 && ke + 2 + v1 === vEnd) {
              const k = keys.find(b, p + 2, ke);
              if (k >= 0) {
                this.vs[k] = ke + 2;
                this.ve[k] = vEnd;
              }
            } else this.kv(r, p, vEnd);
          }
          // else: a key of a length no wanted key has (its value need not be found)
          p = vEnd;
          continue;
        }
        if (no <= MAX_FIELD) {
          at[2 * no] = p; // the body, without its length prefix
          at[2 * no + 1] = vEnd;
        }
        p = vEnd;
        continue;
      }
      const vs = p;
      if (wt === 1) p += 8;
      else if (wt === 5) p += 4;
      else if (wt === 0 && p < end && b[p]! < 0x80) p++;
      else {
        r.pos = p;
        r.skip(wt, end);
        p = r.pos;
      }
      if (p > end) throw truncated(vs);
      if (no <= MAX_FIELD) {
        at[2 * no] = vs;
        at[2 * no + 1] = p;
      }
    }
  }

  /** A KeyValue at [s, kvEnd) of any shape, through the Reader: its key (the last one when it has
   *  several) and its value, when the key is wanted. */
  private kv(r: Reader, s: number, kvEnd: number): void {
    const buf = r.buf;
    r.pos = s;
    let k = -1;
    let vs = -1, ve = -1;
    while (r.pos < kvEnd) {
      const t = r.uint32(kvEnd);
      if (t === 0x0a) {
        const kn = r.length(kvEnd);
        k = this.keys.find(buf, r.pos, r.pos + kn);
        r.pos += kn;
        if (k < 0) break; // not wanted: the value need not be found
      } else if (t === 0x12) {
        const vn = r.length(kvEnd);
        vs = r.pos;
        ve = vs + vn;
        r.pos = ve;
      } else r.skip(t & 7, kvEnd);
    }
    if (k >= 0) {
      this.vs[k] = vs;
      this.ve[k] = ve;
    }
  }

  /** Whether the item has wanted key k. */
  has(k: number): boolean {
    return this.vs[this.keys.canonical[k]!]! >= 0;
  }

  /** Puts the reader at wanted key k's value; returns the value's end, -1 when the item has none. */
  private seek(k: number): number {
    k = this.keys.canonical[k]!;
    const s = this.vs[k]!;
    if (s < 0) return -1;
    this.r.pos = s;
    return this.ve[k]!;
  }

  /** Wanted key k's value when it is a string (other scalars printed), else undefined. */
  string(k: number): string | undefined {
    const e = this.seek(k);
    if (e < 0) return undefined;
    const r = this.r;
    while (r.pos < e) {
      const t = r.uint32(e);
      switch (t) {
        case 0x0a: {
          const n = r.length(e);
          return r.string(r.pos, r.pos + n);
        }
        case 0x10: return r.uint32(e) !== 0 ? 'true' : 'false';
        case 0x18: {
          r.varint64(e);
          return r.hi < 0x200000 ? String(r.hi * TWO32 + r.lo) : BigInt.asIntN(64, (BigInt(r.hi) << 32n) | BigInt(r.lo)).toString();
        }
        case 0x21: return String(r.view.getFloat64(r.pos, true));
        default: r.skip(t & 7, e);
      }
    }
    return undefined;
  }

  /** Wanted key k's value as a number: an int, a double or a numeric string. */
  number(k: number): number | undefined {
    const e = this.seek(k);
    if (e < 0) return undefined;
    const r = this.r;
    while (r.pos < e) {
      const t = r.uint32(e);
      switch (t) {
        case 0x18:
          r.varint64(e);
          return r.hi < 0x200000 ? r.hi * TWO32 + r.lo : Number(BigInt.asIntN(64, (BigInt(r.hi) << 32n) | BigInt(r.lo)));
        case 0x21: return r.view.getFloat64(r.pos, true);
        case 0x0a: {
          const n = r.length(e);
          const str = r.string(r.pos, r.pos + n);
          if (str.trim() === '') return undefined;
          const x = Number(str);
          return Number.isFinite(x) ? x : undefined;
        }
        default: r.skip(t & 7, e);
      }
    }
    return undefined;
  }

  /** Whether the item has field `no`. */
  hasField(no: number): boolean {
    return this.at[2 * no]! >= 0;
  }

  /** Field `no` as a string ('' when absent). */
  fieldString(no: number): string {
    const s = this.at[2 * no]!;
    return s < 0 ? '' : this.r.string(s, this.at[2 * no + 1]!);
  }

  /** Field `no`'s bytes, copied (they outlive the request). */
  fieldBytes(no: number): Uint8Array {
    const s = this.at[2 * no]!;
    return s < 0 ? new Uint8Array(0) : this.r.buf.slice(s, this.at[2 * no + 1]!);
  }

  /** A varint field's low 32 bits (kind, severity number); 0 when absent. */
  varint(no: number): number {
    const s = this.at[2 * no]!;
    if (s < 0) return 0;
    this.r.pos = s;
    return this.r.uint32(this.at[2 * no + 1]!);
  }

  /** A fixed64 field (a time in ns); 0n when absent. */
  fixed64(no: number): bigint {
    const s = this.at[2 * no]!;
    return s < 0 ? 0n : this.r.view.getBigUint64(s, true);
  }

  /** Seconds from fixed64 field `from` to fixed64 field `to` (a span's duration: 7, 8), without
   *  BigInts; 0 when either is absent or the end is before the start. */
  seconds(from: number, to: number): number {
    const a = this.at[2 * from]!, b = this.at[2 * to]!;
    if (a < 0 || b < 0) return 0;
    const v = this.r.view;
    const ns = (v.getUint32(b + 4, true) - v.getUint32(a + 4, true)) * TWO32 + (v.getUint32(b, true) - v.getUint32(a, true));
    return ns > 0 ? ns / 1e9 : 0;
  }

  /** A span's status code (Status.code, field 3 of field 15), signed as the decoder reads it. */
  statusCode(): number {
    const s = this.at[30]!;
    return s < 0 ? 0 : statusCodeIn(this.r, s, this.at[31]!);
  }
}

/** The code (field 3) of a Status message at [s, e) of r's buffer, signed as the decoder reads an
 *  enum; 0 when absent. Shared by the span views here and in edit.ts. */
export function statusCodeIn(r: Reader, s: number, e: number): number {
  r.pos = s;
  let code = 0;
  while (r.pos < e) {
    const t = r.uint32(e);
    if (t === 0x18) code = r.uint32(e) | 0;
    else r.skip(t & 7, e);
  }
  return code;
}

/** The resource of the items being visited: its encoding as a string (a cache key: equal
 *  resources in different requests give equal keys) and the decoded message on first use. */
export class ResourceRef {
  private decoded: Resource | undefined | null = null;
  constructor(
    private readonly r: Reader,
    private readonly start: number,
    private readonly end: number,
  ) {}

  /** The resource's bytes as a latin1 string ('' when the items have no resource). */
  get key(): string {
    return this.start < 0 ? '' : this.r.nb.toString('latin1', this.start, this.end);
  }

  get resource(): Resource | undefined {
    if (this.decoded === null) this.decoded = this.start < 0 ? undefined : decodeMessage<Resource>(RESOURCE, this.r.buf.subarray(this.start, this.end));
    return this.decoded;
  }
}

/**
 * Visits every span (traces) or log record (logs) of a validated request with its resource (one
 * ResourceRef per resource). The view is valid only during the call.
 */
export function readItems(signal: ReadableSignal, bytes: Uint8Array, view: ItemView, visit: (item: ItemView, resource: ResourceRef) => void): void {
  const r = new Reader(bytes);
  const attrNo = ATTRIBUTES[signal];
  const end = r.buf.length;
  while (r.pos < end) {
    const tag = r.uint32(end);
    if (tag !== 0x0a) { r.skip(tag & 7, end); continue; }
    const n = r.length(end);
    const rEnd = r.pos + n;
    // Resource first (senders write field 1 first; a resource after its scopes is found first).
    let rs = -1, re = -1;
    const scopes: number[] = [];
    while (r.pos < rEnd) {
      const t = r.uint32(rEnd);
      if (t === 0x0a) {
        const rn = r.length(rEnd);
        rs = r.pos;
        re = r.pos + rn;
        r.pos = re;
      } else if (t === 0x12) {
        const sn = r.length(rEnd);
        scopes.push(r.pos, r.pos + sn);
        r.pos += sn;
      } else r.skip(t & 7, rEnd);
    }
    const resource = new ResourceRef(r, rs, re);
    for (let i = 0; i < scopes.length; i += 2) {
      const se = scopes[i + 1]!;
      r.pos = scopes[i]!;
      while (r.pos < se) {
        const t = r.uint32(se);
        if (t !== 0x12) { r.skip(t & 7, se); continue; }
        const inLen = r.length(se);
        const itemStart = r.pos;
        const itemEnd = itemStart + inLen;
        view.load(r, itemStart, itemEnd, attrNo);
        visit(view, resource);
        r.pos = itemEnd;
      }
    }
    r.pos = rEnd;
  }
}
