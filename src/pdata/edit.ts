// Editing spans and log records at wire level: dropping items, dropping and adding attributes,
// cutting fields (span events), setting a span's tracestate. A processor that does any of it would
// otherwise decode and re-encode the whole request, which costs ~9 µs per span (bench/pdata.ts),
// several times what the rest of the pipeline spends on it. Here each item's fields are located,
// attribute keys compared as bytes, values read only when asked for, and the request is written
// again from the original bytes: untouched items and containers are copied, edited items get their
// kept fields copied and new ones appended. A request nothing changes in is not written at all: the
// caller passes the original on (bench/sampler.ts). Input must already be validated (scanMessage).
import { encodeMessage } from './encode.js';
import { MESSAGES, WT_I32, WT_I64, WT_LEN, WT_VARINT, type MessageDesc } from './schema.js';
import type { AnyValue, InstrumentationScope, Resource } from './telemetry.js';
import { decodeMessage } from './decode.js';
import { DecodeError } from './errors.js';
import { Reader, truncated, Writer } from './wire.js';
import { statusCodeIn, type KeySet } from './read.js';

export type EditableSignal = 'traces' | 'logs';

/** Field numbers of an item message that the view reads. */
const ATTRIBUTES: Record<EditableSignal, number> = { traces: 9, logs: 6 };

/** Field numbers of Span, LogRecord and Span.Event that visitors read (WireItem.bytes, string...). */
export const SPAN = { traceId: 1, spanId: 2, traceState: 3, parentSpanId: 4, name: 5, kind: 6, attributes: 9, events: 11, status: 15 } as const;
export const LOG_RECORD = { severityNumber: 2, attributes: 6, traceId: 9, spanId: 10, eventName: 12 } as const;
export const SPAN_EVENT = { name: 2, attributes: 3 } as const;
/** Where an item's trace id is. */
export const TRACE_ID: Readonly<Record<EditableSignal, number>> = { traces: SPAN.traceId, logs: LOG_RECORD.traceId };
const MAX_FIELD = 16;

const ANY_VALUE = MESSAGES.AnyValue!;
const RESOURCE = MESSAGES.Resource!;
const SCOPE = MESSAGES.InstrumentationScope!;

/** One span or log record: its attributes (keys read, values on demand) and its other fields.
 *  editItems reads the items of a request into one view after another: a held item's view is left
 *  to the visitor (it may tag the hold with it), a deferred item's is valid until settle returns,
 *  any other during its visit only. */
export class WireItem {
  /** the item's body, without its tag and length */
  start = 0;
  end = 0;
  /** per attribute: [start, end) of its whole field (tag included), of its key's bytes and of its
   *  AnyValue body (-1, -1 when it has no key or no value); entries beyond `attrLen` are stale.
   *  Until kvRead, the third entry is where the KeyValue's body starts and the rest are unset. */
  private readonly attrs: number[] = [];
  private attrLen = 0;
  private kvRead = false;
  /** the keys as strings, made on first use (a visitor that looks up a few keys compares bytes) */
  private keyList: string[] | undefined;
  private readonly keyBuf: string[] = [];
  /** [start, end) of the last occurrence of each other field (number ≤ 16), value bytes only, when
   *  its bit is set in `present`; a plain array: a typed array per item cost more than the rest */
  private readonly at: number[] = new Array<number>(2 * MAX_FIELD + 2).fill(0);
  private present = 0;
  /** per watched key (the KeySet's order): the first attribute with that key, -1 for none; valid
   *  while `watchExact` (every attribute was a key then a value, so each key was where it lies) */
  private readonly found: Int32Array | undefined;
  private watchExact = true;

  /** keys: the attribute keys the visitor looks up (watched()), matched while the item is read,
   *  so a lookup is not a second walk over the attributes. */
  constructor(public r: Reader, start: number, end: number, private readonly attrNo: number, private readonly watch?: KeySet) {
    if (watch !== undefined) this.found = new Int32Array(watch.keys.length);
    this.read(start, end);
  }

  /** Makes this the view of the item at [start, end) of the same buffer. Every span of a request
   *  goes through here, so tags and lengths of one byte (nearly all) are read inline; longer ones
   *  and anything out of bounds go to the Reader, which throws. */
  read(start: number, end: number): void {
    const r = this.r;
    const b = r.buf;
    const attrNo = this.attrNo;
    const a = this.attrs;
    const at = this.at;
    this.start = start;
    this.end = end;
    this.keyList = undefined;
    const watch = this.watch;
    const found = this.found;
    const lengths = watch?.shortLengths;
    if (found !== undefined) found.fill(-1);
    let exact = true;
    let present = 0;
    let k = 0;
    let p = start;
    while (p < end) {
      const fieldStart = p;
      let tag = b[p]!;
      if (tag < 0x80) p++;
      else {
        r.pos = p;
        tag = r.uint32(end);
        p = r.pos;
      }
      const no = tag >>> 3;
      const wt = tag & 7;
      if (wt === WT_LEN) {
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
        if (vEnd > end) lengthPastEnd(fieldStart);
        if (no === attrNo) {
          a[k] = fieldStart;
          a[k + 1] = vEnd;
          a[k + 2] = p;
          if (watch !== undefined && exact) {
            // A key with a one-byte length, then nothing or a value filling the KeyValue (what
            // every encoder writes): its key is where it lies. Any other shape: watched() reads.
            const kn = b[p + 1]!;
            const ke = p + 2 + kn;
            let shaped = b[p] === 0x0a && kn < 0x80 && ke <= vEnd;
            if (shaped && ke < vEnd) {
              const v1 = b[ke + 1]!;
              shaped = b[ke] === 0x12 && (v1 < 0x80 ? ke + 2 + v1 === vEnd : ke + 2 < vEnd && b[ke + 2]! < 0x80 && ke + 3 + ((v1 & 0x7f) | (b[ke + 2]! << 7)) === vEnd);
            }
            if (!shaped) exact = false;
            else if (lengths![kn] !== 0) {
              const w = watch.find(b, p + 2, ke);
              if (w >= 0 && found![w]! < 0) found![w] = k / 6;
            }
          }
          k += 6;
          p = vEnd;
          continue;
        }
        if (no <= MAX_FIELD) {
          at[2 * no] = p;
          at[2 * no + 1] = vEnd;
          present |= 1 << no;
        }
        p = vEnd;
        continue;
      }
      const vs = p;
      if (wt === WT_I64) p += 8;
      else if (wt === WT_I32) p += 4;
      else if (wt === WT_VARINT && p < end && b[p]! < 0x80) p++;
      else {
        r.pos = p;
        r.skip(wt, end);
        p = r.pos;
      }
      if (p > end) throw truncated(vs);
      if (no <= MAX_FIELD) {
        at[2 * no] = vs;
        at[2 * no + 1] = p;
        present |= 1 << no;
      }
    }
    this.attrLen = k;
    this.present = present;
    this.kvRead = false;
    this.watchExact = exact;
  }

  /** The first attribute whose key is the watched KeySet's key `w` (the view was made with one),
   *  or -1: indexOf(watch.keys[w]) without walking the attributes again. */
  watched(w: number): number {
    if (this.watchExact) return this.found![this.watch!.canonical[w]!]!;
    return this.indexOf(this.watch!.keys[w]!);
  }

  /** Whether field `no`'s value bytes are `want` (a string compared without decoding it). */
  fieldIs(no: number, want: Uint8Array): boolean {
    const s = this.from(no);
    if (this.to(no) - s !== want.length) return false;
    const b = this.r.buf;
    for (let i = want.length - 1; i >= 0; i--) if (b[s + i] !== want[i]) return false;
    return true;
  }

  /** Whether field `no`'s value bytes begin with `prefix`. */
  fieldStartsWith(no: number, prefix: Uint8Array): boolean {
    const s = this.from(no);
    if (this.to(no) - s < prefix.length) return false;
    const b = this.r.buf;
    for (let i = 0; i < prefix.length; i++) if (b[s + i] !== prefix[i]) return false;
    return true;
  }

  /** Reads where each attribute's key and value are (read() notes only where the attribute is). */
  private readKvs(): void {
    const r = this.r;
    const b = r.buf;
    const a = this.attrs;
    for (let i = 0; i < this.attrLen; i += 6) {
      let p = a[i + 2]!;
      const end = a[i + 1]!;
      let ks = -1, ke = -1, vs = -1, ve = -1;
      while (p < end) {
        const t = b[p]!;
        if (t >= 0x80 || (t & 7) !== WT_LEN) {
          // not a key or a value: skipped by the Reader
          r.pos = p;
          r.skip(r.uint32(end) & 7, end);
          p = r.pos;
          continue;
        }
        p++;
        let m = p < end ? b[p]! : 0x80;
        if (m < 0x80) p++;
        else if (p + 1 < end && b[p + 1]! < 0x80) {
          m = (m & 0x7f) | (b[p + 1]! << 7);
          p += 2;
        } else {
          r.pos = p;
          m = r.length(end);
          p = r.pos;
        }
        if (p + m > end) lengthPastEnd(p);
        if (t === 0x0a) {
          ks = p;
          ke = p + m;
        } else if (t === 0x12) {
          vs = p;
          ve = p + m;
        }
        p += m;
      }
      a[i + 2] = ks;
      a[i + 3] = ke;
      a[i + 4] = vs;
      a[i + 5] = ve;
    }
    this.kvRead = true;
  }

  get count(): number {
    return this.attrLen / 6;
  }

  /** The attribute keys, in order ('' for a key-less attribute). The array is the view's: valid
   *  while the view shows this item. */
  get keys(): readonly string[] {
    if (this.keyList === undefined) {
      if (!this.kvRead) this.readKvs();
      const a = this.attrs;
      // One array per view, refilled for each item it shows: an array per item was ~250 bytes of
      // garbage per span (bench/alloc.ts).
      const list = this.keyBuf;
      let j = 0;
      for (let i = 0; i < this.attrLen; i += 6) list[j++] = a[i + 2]! < 0 ? '' : this.r.string(a[i + 2]!, a[i + 3]!);
      if (list.length !== j) list.length = j;
      this.keyList = list;
    }
    return this.keyList;
  }

  /** The first attribute named `key`, or -1; compared as bytes while the keys are not decoded.
   *  Before the attributes are read through, a KeyValue that is its key then its value (what every
   *  encoder writes) is matched where it lies; any other shape reads them all. */
  indexOf(key: string): number {
    if (this.keyList !== undefined) return this.keyList.indexOf(key);
    const n = key.length;
    for (let j = 0; j < n; j++) if (key.charCodeAt(j) >= 0x80) return this.keys.indexOf(key);
    const a = this.attrs;
    const b = this.r.buf;
    if (this.kvRead) {
      next: for (let i = 0; i < this.attrLen; i += 6) {
        const ks = a[i + 2]!;
        if (a[i + 3]! - ks !== n) continue;
        for (let j = 0; j < n; j++) if (b[ks + j] !== key.charCodeAt(j)) continue next;
        return i / 6;
      }
      return -1;
    }
    next: for (let i = 0; i < this.attrLen; i += 6) {
      const bs = a[i + 2]!;
      const fe = a[i + 1]!;
      const kn = b[bs + 1]!;
      const ke = bs + 2 + kn;
      // key then value, each with a one-byte length, filling the KeyValue: the key is where it lies
      const shaped = b[bs] === 0x0a && kn < 0x80 && bs + 1 < fe && (ke === fe || (b[ke] === 0x12 && ke + 2 + b[ke + 1]! === fe && b[ke + 1]! < 0x80));
      if (!shaped) {
        this.readKvs();
        return this.indexOf(key);
      }
      if (kn !== n) continue;
      for (let j = 0; j < n; j++) if (b[bs + 2 + j] !== key.charCodeAt(j)) continue next;
      return i / 6;
    }
    return -1;
  }

  /** [start, end) of attribute i's whole field (tag included). */
  attrStart(i: number): number {
    return this.attrs[6 * i]!;
  }

  attrEnd(i: number): number {
    return this.attrs[6 * i + 1]!;
  }

  /** The value of attribute i, decoded. */
  value(i: number): AnyValue | undefined {
    if (!this.kvRead) this.readKvs();
    const s = this.attrs[6 * i + 4]!;
    if (s < 0) return undefined;
    return decodeMessage<AnyValue>(ANY_VALUE, this.r.buf.subarray(s, this.attrs[6 * i + 5]!));
  }

  /** The value of attribute i as a string, when it is a string (cheaper than value()). */
  stringValue(i: number): string | undefined {
    if (!this.kvRead) this.readKvs();
    const s = this.attrs[6 * i + 4]!;
    const e = this.attrs[6 * i + 5]!;
    if (s < 0 || e - s < 1 || this.r.buf[s] !== 0x0a) return this.scalarString(i);
    const r = this.r;
    r.pos = s + 1;
    const n = r.length(e);
    if (r.pos + n !== e) return this.scalarString(i);
    return r.string(r.pos, e);
  }

  private scalarString(i: number): string | undefined {
    const v = this.value(i);
    if (v === undefined) return undefined;
    if (typeof v.stringValue === 'string') return v.stringValue;
    if (typeof v.intValue === 'bigint') return v.intValue.toString();
    if (typeof v.doubleValue === 'number') return String(v.doubleValue);
    if (typeof v.boolValue === 'boolean') return String(v.boolValue);
    return undefined;
  }

  /** The AnyValue bytes of attribute i, to carry it under another key without decoding. */
  rawValue(i: number): Uint8Array | undefined {
    if (!this.kvRead) this.readKvs();
    const s = this.attrs[6 * i + 4]!;
    return s < 0 ? undefined : this.r.buf.subarray(s, this.attrs[6 * i + 5]!);
  }

  /** Byte length of attribute i's value encoding (a bound on the content it carries). */
  valueSize(i: number): number {
    if (!this.kvRead) this.readKvs();
    const s = this.attrs[6 * i + 4]!;
    return s < 0 ? 0 : this.attrs[6 * i + 5]! - s;
  }

  /** The value of attribute i as a number, when it is an int, a double or a numeric string; read
   *  in place (decoding an AnyValue builds a reader and objects). */
  numberValue(i: number): number | undefined {
    if (!this.kvRead) this.readKvs();
    const s = this.attrs[6 * i + 4]!;
    const e = this.attrs[6 * i + 5]!;
    if (s < 0 || e <= s) return undefined;
    const r = this.r;
    r.pos = s;
    const t = r.uint32(e);
    if (t === 0x18) {
      r.varint64(e);
      return r.hi < 0x200000 ? r.hi * 4294967296 + r.lo : Number(BigInt.asIntN(64, (BigInt(r.hi) << 32n) | BigInt(r.lo)));
    }
    if (t === 0x21 && e - r.pos >= 8) return r.view.getFloat64(r.pos, true);
    if (t === 0x0a) {
      const n = r.length(e);
      const str = r.string(r.pos, r.pos + n);
      if (str.trim() === '') return undefined;
      const x = Number(str);
      return Number.isFinite(x) ? x : undefined;
    }
    return undefined;
  }

  has(no: number): boolean {
    return no <= MAX_FIELD && (this.present & (1 << no)) !== 0;
  }

  /** [from(no), to(no)) are field `no`'s value bytes in r.buf: bytes() without a view (0, 0 when
   *  absent). */
  from(no: number): number {
    return this.has(no) ? this.at[2 * no]! : 0;
  }

  to(no: number): number {
    return this.has(no) ? this.at[2 * no + 1]! : 0;
  }

  bytes(no: number): Uint8Array {
    return this.has(no) ? this.r.buf.subarray(this.at[2 * no]!, this.at[2 * no + 1]!) : EMPTY;
  }

  /** Field `no`'s bytes as a latin1 string: a cheap map key for ids. */
  key(no: number): string {
    return this.has(no) ? this.r.idKey(this.at[2 * no]!, this.at[2 * no + 1]!) : '';
  }

  string(no: number): string {
    return this.has(no) ? this.r.string(this.at[2 * no]!, this.at[2 * no + 1]!) : '';
  }

  /** A varint field's low 32 bits (kind, severity number). */
  varint(no: number): number {
    if (!this.has(no)) return 0;
    this.r.pos = this.at[2 * no]!;
    return this.r.uint32(this.at[2 * no + 1]!);
  }

  /** An int32 or enum field, signed as the decoder reads it (a negative enum stays negative). */
  int32(no: number): number {
    return this.varint(no) | 0;
  }

  fixed64(no: number): bigint {
    if (!this.has(no)) return 0n;
    return this.r.view.getBigUint64(this.at[2 * no]!, true);
  }

  /** A span's status code (Status.code, field 3 of field 15), signed as the decoder reads it. */
  statusCode(): number {
    return this.has(15) ? statusCodeIn(this.r, this.at[30]!, this.at[31]!) : 0;
  }

  /** Every occurrence of length-delimited field `no` (span events, links; a string sent twice):
   *  [field start (tag included), value start, value end] each. Walks the item again. */
  occurrences(no: number): number[] {
    const out: number[] = [];
    const r = this.r;
    const end = this.end;
    r.pos = this.start;
    while (r.pos < end) {
      const fs = r.pos;
      const tag = r.uint32(end);
      if (tag >>> 3 === no && (tag & 7) === WT_LEN) {
        const n = r.length(end);
        out.push(fs, r.pos, r.pos + n);
        r.pos += n;
      } else r.skip(tag & 7, end);
    }
    return out;
  }

  /** The spare list this view may go back to once no one refers to it (views that watch no keys,
   *  by their items' attribute field), undefined for others. */
  spareList(): WireItem[] | undefined {
    return this.watch === undefined ? spareViews[this.attrNo] : undefined;
  }

  /** A view of a message nested in this item (from occurrences()), e.g. a span event, whose
   *  attributes are field `attrNo`. */
  nested(start: number, end: number, attrNo: number): WireItem {
    return new WireItem(this.r, start, end, attrNo);
  }
}

const EMPTY = new Uint8Array(0);

/** Views of deferred items settled without being held, kept for the items of later requests, per
 *  attribute field (spans 9, log records 6): a new view's arrays grow with its attributes, which
 *  was ~1.1 KB of garbage per deferred span (the genai processor defers every span whose agent is
 *  not known yet; the daemon's 1 MiB young generation made that garbage cost CPU). */
const spareViews: Partial<Record<number, WireItem[]>> = { 9: [], 6: [] };
const MAX_SPARE_VIEWS = 256;

/** The view of the item at [start, end): a spare one when there is one. */
function viewOf(r: Reader, start: number, end: number, attrNo: number, keys: KeySet | undefined): WireItem {
  const spare = keys === undefined ? spareViews[attrNo]?.pop() : undefined;
  if (spare === undefined) return new WireItem(r, start, end, attrNo, keys);
  spare.r = r;
  spare.read(start, end);
  return spare;
}

/** Gives back the view of an item held with it as its tag, once the caller is done with it: a
 *  later request's item is read into it. */
export function releaseView(v: WireItem): void {
  release(v);
}

/** What a spare view reads from: none of the requests it was used for (a spare view that kept its
 *  last request's Reader would keep that request's buffer alive). */
const NO_READER = new Reader(new Uint8Array(0));

function release(v: WireItem): void {
  const list = v.spareList();
  if (list === undefined || list.length >= MAX_SPARE_VIEWS) return;
  v.r = NO_READER;
  list.push(v);
}

function lengthPastEnd(at: number): never {
  throw new DecodeError(`a length at byte ${at} runs past the end of its message`);
}

/** A new attribute: its value either decoded or as the AnyValue bytes of another attribute. */
export interface NewAttr {
  key: string;
  value?: AnyValue;
  raw?: Uint8Array;
}

/** What to do with an item: drop some of its attributes (by index), append others, leave out
 *  other fields, set a span's tracestate. */
export interface ItemEdit {
  drop?: readonly number[];
  add?: readonly NewAttr[];
  /** whole fields to leave out, as [start, end) pairs of positions in the item's buffer (from
   *  WireItem.occurrences: field start and value end), e.g. span events */
  cut?: readonly number[];
  /** spans only: the tracestate (field 3) the span is written with, replacing the one it has; ''
   *  leaves it without */
  traceState?: string;
}

/** The decision that leaves an item out of the request. A resource or scope left without items is
 *  left out too. */
export const DROP: Readonly<{ dropItem: true }> = Object.freeze({ dropItem: true });

/** An item taken out of the request to be sent later (see EditResult.held). */
export interface HeldItem {
  /** the item as it will be written: its edit already applied */
  bytes: Uint8Array;
  /** what the visitor tagged the hold with */
  tag?: unknown;
  /** raw fields of its resource and scope containers, shared by the items that came with them */
  container: Container;
}

/** The fields of a ResourceX and ScopeX other than their items, as raw bytes. */
export interface Container {
  resource: Uint8Array;
  scope: Uint8Array;
}

/** What the visitor decides: undefined keeps the item as it is, an edit changes it, DROP leaves it
 *  out, `hold` takes it out with the edit applied (tagged for the caller), `defer` asks again once
 *  the whole request has been visited. */
export type Decision = undefined | ItemEdit | typeof DROP | { hold: true; edit?: ItemEdit; tag?: unknown } | { defer: true; edit?: ItemEdit };

/** Where an item is: its resource and instrumentation scope, each decoded on first use (once per
 *  resource or scope), as the request has shown them so far. */
export interface EditContext {
  readonly resource: Resource | undefined;
  readonly scope: InstrumentationScope | undefined;
  /** The instrumentation scope's name. */
  readonly scopeName: string;
}

export interface EditResult {
  /** The request with the edits made and the dropped and held items taken out; undefined when
   *  nothing changed (the caller keeps the original bytes). */
  bytes: Uint8Array | undefined;
  /** Items left in `bytes`. */
  count: number;
  held: HeldItem[];
}

interface Scope {
  pre: number[];
  post: number[];
  /** its items are entries [from, to) of the call's item positions, three per item: its start, its
   *  end and its slot (an index into the call's slots, -1 when the visitor kept it as it is: no
   *  object per item) */
  from: number;
  to: number;
  /** items left once every item is decided */
  live: number;
  size: number;
  /** [start, end) of the InstrumentationScope's body, -1 until seen */
  at: number;
  atEnd: number;
}
interface ResourceNode {
  pre: number[];
  post: number[];
  scopes: Scope[];
  size: number;
  /** [start, end) of the Resource's body, -1 until seen */
  at: number;
  atEnd: number;
}

/** The EditContext of the items of one scope. */
class ScopeContext implements EditContext {
  private res: Resource | undefined;
  private resAt = -1;
  private sc: InstrumentationScope | undefined;
  private scAt = -1;
  private name: string | undefined;

  constructor(private readonly buf: Uint8Array, private readonly node: ResourceNode, private readonly s: Scope) {}

  get resource(): Resource | undefined {
    const n = this.node;
    if (n.at < 0) return undefined;
    if (this.resAt !== n.at) {
      this.res = decodeMessage<Resource>(RESOURCE, this.buf.subarray(n.at, n.atEnd));
      this.resAt = n.at;
    }
    return this.res;
  }

  get scope(): InstrumentationScope | undefined {
    const s = this.s;
    if (s.at < 0) return undefined;
    if (this.scAt !== s.at) {
      this.sc = decodeMessage<InstrumentationScope>(SCOPE, this.buf.subarray(s.at, s.atEnd));
      this.scAt = s.at;
      this.name = this.sc.name;
    }
    return this.sc;
  }

  get scopeName(): string {
    if (this.s.at < 0) return '';
    if (this.scAt !== this.s.at) void this.scope; // decodes it, and its name
    return this.name ?? '';
  }
}

function addRange(list: number[], start: number, end: number): void {
  const n = list.length;
  if (n > 0 && list[n - 1] === start) list[n - 1] = end;
  else list.push(start, end);
}

const rangesSize = (r: readonly number[]): number => {
  let n = 0;
  for (let i = 0; i < r.length; i += 2) n += r[i + 1]! - r[i]!;
  return n;
};

function varintLen(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
}

// New attributes are written straight into the output: their sizes are computed first (the
// length prefixes come before them), without encoding them into buffers of their own. A small
// buffer per attribute cost more than the rest of the edit (an ArrayBuffer each).

function utf8Length(s: string): number {
  const n = s.length;
  if (n > 64) return Buffer.byteLength(s, 'utf8');
  for (let i = 0; i < n; i++) if (s.charCodeAt(i) >= 0x80) return Buffer.byteLength(s, 'utf8');
  return n;
}

function varint64Length(v: bigint): number {
  if (v < 0n) return 10;
  if (v < 0x10000000n) return varintLen(Number(v));
  let n = 5;
  for (let x = v >> 35n; x > 0n; x >>= 7n) n++;
  return n;
}

/** Values other than scalars (arrays, maps, bytes) are encoded once, generically. */
const encodedOf = new WeakMap<NewAttr, Uint8Array>();
function encodedValue(a: NewAttr): Uint8Array {
  let e = encodedOf.get(a);
  if (e === undefined) encodedOf.set(a, (e = encodeMessage(ANY_VALUE, a.value ?? {}, 64)));
  return e;
}

/** Size of an attribute's AnyValue body. */
function valueSize(a: NewAttr): number {
  if (a.raw !== undefined) return a.raw.length;
  const v = a.value;
  if (v === undefined) return 0;
  if (typeof v.stringValue === 'string') {
    const n = utf8Length(v.stringValue);
    return 1 + varintLen(n) + n;
  }
  if (typeof v.boolValue === 'boolean') return 2;
  if (typeof v.intValue === 'bigint') return 1 + varint64Length(v.intValue);
  if (typeof v.doubleValue === 'number') return 9;
  return encodedValue(a).length;
}

/** New attributes' keys as UTF-8, encoded once: they repeat (the conventions' names), and were
 *  measured and encoded again for every attribute of every span. Bounded: a key may come from a
 *  client (content kept under its own name). */
const keyBytesCache = new Map<string, Uint8Array>();
const MAX_CACHED_KEYS = 4096;

function keyBytes(key: string): Uint8Array {
  let b = keyBytesCache.get(key);
  if (b === undefined) {
    b = new Uint8Array(Buffer.from(key, 'utf8'));
    if (keyBytesCache.size >= MAX_CACHED_KEYS) keyBytesCache.clear();
    keyBytesCache.set(key, b);
  }
  return b;
}

function kvBodySize(keyLen: number, valueLen: number): number {
  return 1 + varintLen(keyLen) + keyLen + 1 + varintLen(valueLen) + valueLen;
}

/** Size of an attribute's KeyValue body. */
function attrBodySize(a: NewAttr): number {
  return kvBodySize(keyBytes(a.key).length, valueSize(a));
}

/** Size of an attribute as a field of its item (tag included). */
function attrFieldSize(a: NewAttr): number {
  const n = attrBodySize(a);
  return 1 + varintLen(n) + n;
}

function writeAttr(w: Writer, a: NewAttr, attrTag: number): void {
  const key = keyBytes(a.key);
  const vs = valueSize(a);
  w.uvarint(attrTag);
  w.uvarint(kvBodySize(key.length, vs));
  w.uvarint(0x0a);
  w.bytes(key);
  w.uvarint(0x12);
  w.uvarint(vs);
  if (a.raw !== undefined) {
    w.raw(a.raw, 0, a.raw.length);
    return;
  }
  const v = a.value;
  if (v === undefined) return;
  if (typeof v.stringValue === 'string') {
    w.uvarint(0x0a);
    w.string(v.stringValue);
  } else if (typeof v.boolValue === 'boolean') {
    w.uvarint(0x10);
    w.uvarint(v.boolValue ? 1 : 0);
  } else if (typeof v.intValue === 'bigint') {
    w.uvarint(0x18);
    w.varint64(v.intValue);
  } else if (typeof v.doubleValue === 'number') {
    w.uvarint(0x21);
    w.double(v.doubleValue);
  } else {
    const e = encodedValue(a);
    w.raw(e, 0, e.length);
  }
}

const TRACE_STATE_TAG = (SPAN.traceState << 3) | WT_LEN;

/** Whether an edit changes anything. */
function changes(e: ItemEdit): boolean {
  return (e.drop !== undefined && e.drop.length > 0) || (e.add !== undefined && e.add.length > 0) || (e.cut !== undefined && e.cut.length > 0) || e.traceState !== undefined;
}

/** The ranges of an item an edit leaves out: [start, end) pairs, in order and disjoint. */
function cutsOf(item: WireItem, edit: ItemEdit): number[] {
  const out: number[] = [];
  if (edit.drop) for (const i of edit.drop) out.push(item.attrStart(i), item.attrEnd(i));
  if (edit.cut) for (const x of edit.cut) out.push(x);
  if (edit.traceState !== undefined) {
    const ts = item.occurrences(SPAN.traceState);
    for (let i = 0; i < ts.length; i += 3) out.push(ts[i]!, ts[i + 2]!);
  }
  let sorted = true;
  for (let i = 2; i < out.length; i += 2) if (out[i]! < out[i - 1]!) { sorted = false; break; }
  if (sorted) return out;
  // Several sources, or several rules dropping one attribute: sorted and merged.
  const pairs: Array<[number, number]> = [];
  for (let i = 0; i < out.length; i += 2) pairs.push([out[i]!, out[i + 1]!]);
  pairs.sort((a, b) => a[0] - b[0]);
  const merged: number[] = [];
  for (const [s, e] of pairs) {
    const n = merged.length;
    if (n > 0 && s <= merged[n - 1]!) merged[n - 1] = Math.max(merged[n - 1]!, e);
    else merged.push(s, e);
  }
  return merged;
}

function editedSize(item: WireItem, edit: ItemEdit, cuts: readonly number[]): number {
  let size = item.end - item.start - rangesSize(cuts);
  if (edit.add) for (const a of edit.add) size += attrFieldSize(a);
  if (edit.traceState) {
    const n = utf8Length(edit.traceState);
    size += 1 + varintLen(n) + n;
  }
  return size;
}

/** Writes the item at [start, end) of `buf` with its edit. */
function writeEdited(w: Writer, buf: Uint8Array, start: number, end: number, edit: ItemEdit, cuts: readonly number[], attrTag: number): void {
  let from = start;
  for (let i = 0; i < cuts.length; i += 2) {
    if (cuts[i]! > from) w.raw(buf, from, cuts[i]!);
    from = cuts[i + 1]!;
  }
  if (end > from) w.raw(buf, from, end);
  if (edit.add) for (const a of edit.add) writeAttr(w, a, attrTag);
  if (edit.traceState) {
    w.uvarint(TRACE_STATE_TAG);
    w.string(edit.traceState);
  }
}

interface PendingHold {
  item: WireItem;
  edit: ItemEdit | undefined;
  container: Container;
  tag: unknown;
}

/** The held items of one request, edited, in one buffer (views of it each): one allocation per
 *  request rather than one per item. */
function heldOut(pending: readonly PendingHold[], attrTag: number, out: HeldItem[]): void {
  let total = 0;
  const cuts: Array<number[] | undefined> = [];
  for (const p of pending) {
    const c = p.edit ? cutsOf(p.item, p.edit) : undefined;
    cuts.push(c);
    total += p.edit ? editedSize(p.item, p.edit, c!) : p.item.end - p.item.start;
  }
  const w = new Writer(total);
  const starts: number[] = [];
  for (let i = 0; i < pending.length; i++) {
    const p = pending[i]!;
    starts.push(w.pos);
    if (p.edit) writeEdited(w, p.item.r.buf, p.item.start, p.item.end, p.edit, cuts[i]!, attrTag);
    else w.raw(p.item.r.buf, p.item.start, p.item.end);
  }
  const b = w.buf;
  for (let i = 0; i < pending.length; i++) {
    const end = i + 1 < pending.length ? starts[i + 1]! : w.pos;
    out.push({ bytes: b.subarray(starts[i]!, end), container: pending[i]!.container, tag: pending[i]!.tag });
  }
}

/** An item the visitor edited or deferred. */
interface Slot {
  /** a deferred item's view, for settle */
  item: WireItem | undefined;
  /** undefined: written as it came */
  edit: ItemEdit | undefined;
  /** the ranges the edit leaves out (cutsOf) */
  cuts: number[] | undefined;
  /** held or dropped by settle: not written */
  gone: boolean;
  /** its size as written */
  size: number;
}

/** A slot for an item edited by `e`, sized now. */
function editedSlot(signal: EditableSignal, item: WireItem, e: ItemEdit): Slot {
  if (signal !== 'traces' && e.traceState !== undefined) throw new TypeError('editItems: traceState is a span field');
  const cuts = cutsOf(item, e);
  return { item: undefined, edit: e, cuts, gone: false, size: editedSize(item, e, cuts) };
}

/**
 * Visits every span (traces) or log record (logs) of a validated request with its resource and
 * scope; writes the request again with the visitor's edits, without the items it drops or holds.
 * The visitor may defer an item: `settle` then decides it once every item of the request has been
 * seen (a span whose parent comes later in the same request). New sizes are summed after that, and
 * the request written with exact length prefixes. When nothing is edited, dropped or held the
 * result has no bytes: the original stands, not copied.
 */
export function editItems(
  signal: EditableSignal,
  bytes: Uint8Array,
  visit: (item: WireItem, ctx: EditContext) => Decision,
  settle?: (item: WireItem, edit: ItemEdit | undefined) => Decision,
  keys?: KeySet,
): EditResult {
  if (positionsBusy) return edit(signal, bytes, visit, settle, keys, []);
  positionsBusy = true;
  try {
    return edit(signal, bytes, visit, settle, keys, positions);
  } finally {
    positionsBusy = false;
    if (positions.length > KEEP_POSITIONS) positions.length = 0; // a huge request's list is not kept
  }
}

/** Entries of the item position list kept between calls (three per item). */
const KEEP_POSITIONS = 3 * 8192;

/** The item positions of editItems calls, kept from one call to the next: a list grown per request
 *  was most of the garbage a request that keeps every item left. A call made while another runs (a
 *  visitor editing some other request) gets a list of its own. */
const positions: number[] = [];
let positionsBusy = false;

function edit(
  signal: EditableSignal,
  bytes: Uint8Array,
  visit: (item: WireItem, ctx: EditContext) => Decision,
  settle: ((item: WireItem, edit: ItemEdit | undefined) => Decision) | undefined,
  keys: KeySet | undefined,
  pos: number[],
): EditResult {
  let np = 0;
  const r = new Reader(bytes);
  const buf = r.buf;
  const attrNo = ATTRIBUTES[signal];
  const attrTag = attrNo * 8 + WT_LEN;
  const resources: ResourceNode[] = [];
  const held: HeldItem[] = [];
  const slots: Slot[] = [];
  const deferred: Array<{ slot: Slot; node: ResourceNode; scope: Scope }> = [];
  const pending: PendingHold[] = [];
  let changed = false;
  /** the view the next item is read into, while no decision refers to it */
  let view: WireItem | undefined;
  const end = buf.length;
  while (r.pos < end) {
    const start = r.pos;
    const tag = r.uint32(end);
    if (tag !== 0x0a) {
      r.skip(tag & 7, end);
      resources.push({ pre: [start, r.pos], post: [], scopes: [], size: -1, at: -1, atEnd: -1 });
      continue;
    }
    const rn = r.length(end);
    const rEnd = r.pos + rn;
    const node: ResourceNode = { pre: [], post: [], scopes: [], size: 0, at: -1, atEnd: -1 };
    let seenScope = false;
    while (r.pos < rEnd) {
      const fs = r.pos;
      const t = r.uint32(rEnd);
      if (t === 0x0a) {
        const n = r.length(rEnd);
        node.at = r.pos;
        node.atEnd = r.pos + n;
        r.pos += n;
        addRange(seenScope ? node.post : node.pre, fs, r.pos);
      } else if (t === 0x12) {
        seenScope = true;
        const sn = r.length(rEnd);
        const sEnd = r.pos + sn;
        const scope: Scope = { pre: [], post: [], from: np, to: np, live: 0, size: 0, at: -1, atEnd: -1 };
        const ctx = new ScopeContext(buf, node, scope);
        let seenItem = false;
        while (r.pos < sEnd) {
          const ss = r.pos;
          const st = r.uint32(sEnd);
          if (st === 0x12) {
            seenItem = true;
            const n = r.length(sEnd);
            const itemStart = r.pos;
            const itemEnd = itemStart + n;
            if (view === undefined) view = viewOf(r, itemStart, itemEnd, attrNo, keys);
            else view.read(itemStart, itemEnd);
            const item = view;
            const d = visit(item, ctx);
            r.pos = itemEnd; // the visitor's reads move the reader
            if (d === DROP) {
              changed = true;
              continue;
            }
            if (d === undefined) {
              pos[np++] = itemStart;
              pos[np++] = itemEnd;
              pos[np++] = -1;
              continue;
            }
            if ('hold' in d) {
              view = undefined; // the decision refers to it: the next item gets a view of its own
              changed = true;
              pending.push({ item, edit: d.edit, container: containerOf(node, scope, buf), tag: d.tag });
              continue;
            }
            if ('defer' in d) {
              view = undefined;
              const slot: Slot = { item, edit: d.edit, cuts: undefined, gone: false, size: n };
              deferred.push({ slot, node, scope });
              pos[np++] = itemStart;
              pos[np++] = itemEnd;
              pos[np++] = slots.length;
              slots.push(slot);
              continue;
            }
            // An edit is sized now: the view goes on to the next item.
            const e = d as ItemEdit;
            if (!changes(e)) {
              pos[np++] = itemStart;
              pos[np++] = itemEnd;
              pos[np++] = -1;
              continue;
            }
            changed = true;
            pos[np++] = itemStart;
            pos[np++] = itemEnd;
            pos[np++] = slots.length;
            slots.push(editedSlot(signal, item, e));
          } else {
            if (st === 0x0a) {
              const n = r.length(sEnd);
              scope.at = r.pos;
              scope.atEnd = r.pos + n;
              r.pos += n;
            } else r.skip(st & 7, sEnd);
            addRange(seenItem ? scope.post : scope.pre, ss, r.pos);
          }
        }
        r.pos = sEnd;
        scope.to = np;
        node.scopes.push(scope);
      } else {
        r.skip(t & 7, rEnd);
        addRange(seenScope ? node.post : node.pre, fs, r.pos);
      }
    }
    r.pos = rEnd;
    resources.push(node);
  }
  /** settled views no decision refers to any more */
  const done: WireItem[] = [];
  for (const { slot, node, scope } of deferred) {
    const item = slot.item!;
    const d = settle ? settle(item, slot.edit) : slot.edit;
    if (d === DROP) {
      slot.gone = true;
      changed = true;
      done.push(item);
    } else if (d !== undefined && 'hold' in d) {
      slot.gone = true;
      changed = true;
      pending.push({ item, edit: d.edit, container: containerOf(node, scope, buf), tag: d.tag });
    } else {
      const e = d !== undefined && 'defer' in d ? d.edit : (d as ItemEdit | undefined);
      if (e !== undefined && changes(e)) {
        changed = true;
        Object.assign(slot, editedSlot(signal, item, e));
      } else slot.edit = undefined;
      slot.item = undefined;
      done.push(item);
    }
  }
  containers.clear();
  if (pending.length > 0) heldOut(pending, attrTag, held);
  // Views no one refers to go back for later requests: those of deferred items settled without a
  // hold (a held item's view may be its tag), and the one items were read into.
  for (const v of done) release(v);
  if (view !== undefined) release(view);

  // Sizes, now that every item is decided.
  let count = 0;
  for (const node of resources) {
    if (node.size < 0) continue;
    for (const scope of node.scopes) {
      const items = pos;
      let live = 0;
      for (let i = scope.from; i < scope.to; i += 3) {
        const si = items[i + 2]!;
        if (si < 0) {
          live++;
          continue;
        }
        if (!slots[si]!.gone) live++;
      }
      scope.live = live;
      count += live;
    }
  }
  if (!changed) return { bytes: undefined, count, held };

  // What is written: a scope without items and a resource without scopes are left out, as the
  // processors that work on the decoded request leave them.
  const sizeOf = (items: readonly number[], i: number): number => (items[i + 2]! < 0 ? items[i + 1]! - items[i]! : slots[items[i + 2]!]!.size);
  const goneAt = (items: readonly number[], i: number): boolean => items[i + 2]! >= 0 && slots[items[i + 2]!]!.gone;
  let total = 0;
  for (const node of resources) {
    if (node.size < 0) {
      total += rangesSize(node.pre);
      continue;
    }
    node.scopes = node.scopes.filter((s) => s.live > 0);
    if (node.scopes.length === 0) continue;
    node.size = rangesSize(node.pre) + rangesSize(node.post);
    for (const scope of node.scopes) {
      scope.size = rangesSize(scope.pre) + rangesSize(scope.post);
      const items = pos;
      for (let i = scope.from; i < scope.to; i += 3) {
        if (goneAt(items, i)) continue;
        const n = sizeOf(items, i);
        scope.size += 1 + varintLen(n) + n;
      }
      node.size += 1 + varintLen(scope.size) + scope.size;
    }
    total += 1 + varintLen(node.size) + node.size;
  }
  const w = new Writer(total + 16);
  for (const node of resources) {
    if (node.size < 0) {
      w.raw(buf, node.pre[0]!, node.pre[1]!);
      continue;
    }
    if (node.scopes.length === 0) continue;
    w.uvarint(0x0a);
    w.uvarint(node.size);
    for (let i = 0; i < node.pre.length; i += 2) w.raw(buf, node.pre[i]!, node.pre[i + 1]!);
    for (const scope of node.scopes) {
      w.uvarint(0x12);
      w.uvarint(scope.size);
      for (let i = 0; i < scope.pre.length; i += 2) w.raw(buf, scope.pre[i]!, scope.pre[i + 1]!);
      const items = pos;
      for (let i = scope.from; i < scope.to; i += 3) {
        if (goneAt(items, i)) continue;
        w.uvarint(0x12);
        w.uvarint(sizeOf(items, i));
        const slot = items[i + 2]! < 0 ? undefined : slots[items[i + 2]!]!;
        if (slot === undefined || slot.edit === undefined) w.raw(buf, items[i]!, items[i + 1]!);
        else writeEdited(w, buf, items[i]!, items[i + 1]!, slot.edit, slot.cuts!, attrTag);
      }
      for (let i = 0; i < scope.post.length; i += 2) w.raw(buf, scope.post[i]!, scope.post[i + 1]!);
    }
    for (let i = 0; i < node.post.length; i += 2) w.raw(buf, node.post[i]!, node.post[i + 1]!);
  }
  return { bytes: w.finish(), count, held };
}

/** Containers of held items, one per resource node and scope while a request is being edited. */
const containers = new Map<ResourceNode, Map<Scope, Container>>();

function containerOf(node: ResourceNode, scope: Scope, buf: Uint8Array): Container {
  let byScope = containers.get(node);
  if (byScope === undefined) containers.set(node, (byScope = new Map()));
  let c = byScope.get(scope);
  if (c === undefined) {
    // The resource's other fields seen so far are its resource (field 1) in every sender we know;
    // fields after the scopes (schema_url) are read when the request is rebuilt, see rebuild().
    c = { resource: copyRanges(buf, node.pre), scope: copyRanges(buf, scope.pre) };
    byScope.set(scope, c);
  }
  return c;
}

function copyRanges(buf: Uint8Array, ranges: readonly number[]): Uint8Array {
  const out = new Uint8Array(rangesSize(ranges));
  let at = 0;
  for (let i = 0; i < ranges.length; i += 2) {
    out.set(buf.subarray(ranges[i]!, ranges[i + 1]!), at);
    at += ranges[i + 1]! - ranges[i]!;
  }
  return out;
}

/** A request holding `items` (held earlier, perhaps from several requests), grouped under their
 *  resource and scope as they came, each with `add` appended (what was learnt while it waited). */
export function requestOf(signal: EditableSignal, items: ReadonlyArray<HeldItem & { add?: readonly NewAttr[] }>): Uint8Array {
  const attrTag = ATTRIBUTES[signal] * 8 + WT_LEN;
  const byContainer = new Map<Container, Array<HeldItem & { add?: readonly NewAttr[] }>>();
  for (const it of items) {
    let list = byContainer.get(it.container);
    if (list === undefined) byContainer.set(it.container, (list = []));
    list.push(it);
  }
  const sizeOf = (it: HeldItem & { add?: readonly NewAttr[] }) => {
    let n = it.bytes.length;
    if (it.add) for (const a of it.add) n += attrFieldSize(a);
    return n;
  };
  let total = 0;
  const sizes = new Map<Container, { scope: number; resource: number }>();
  for (const [c, list] of byContainer) {
    let scope = c.scope.length;
    for (const it of list) {
      const n = sizeOf(it);
      scope += 1 + varintLen(n) + n;
    }
    const resource = c.resource.length + 1 + varintLen(scope) + scope;
    sizes.set(c, { scope, resource });
    total += 1 + varintLen(resource) + resource;
  }
  const w = new Writer(total);
  for (const [c, list] of byContainer) {
    const sz = sizes.get(c)!;
    w.uvarint(0x0a);
    w.uvarint(sz.resource);
    w.raw(c.resource, 0, c.resource.length);
    w.uvarint(0x12);
    w.uvarint(sz.scope);
    w.raw(c.scope, 0, c.scope.length);
    for (const it of list) {
      w.uvarint(0x12);
      w.uvarint(sizeOf(it));
      w.raw(it.bytes, 0, it.bytes.length);
      if (it.add) for (const a of it.add) writeAttr(w, a, attrTag);
    }
  }
  return w.finish();
}

/** The item message descriptor of a signal (for tests and tools). */
export const ITEM_DESC: Readonly<Record<EditableSignal, MessageDesc>> = { traces: MESSAGES.Span!, logs: MESSAGES.LogRecord! };
