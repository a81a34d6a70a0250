// Editing the attributes of spans and log records at wire level. A processor that renames, adds
// or drops a few attributes per item would otherwise decode and re-encode the whole request, which
// costs ~9 µs per span (bench/pdata.ts), several times what the rest of the pipeline spends on it.
// Here each item's attribute keys are read, values only when asked for, and the request is written
// again from the original bytes: untouched items and containers are copied, edited items get their
// kept fields copied and new attributes appended. Input must already be validated (scanMessage).
import { encodeMessage } from './encode.js';
import { MESSAGES, WT_LEN, type MessageDesc } from './schema.js';
import type { AnyValue, Resource } from './telemetry.js';
import { decodeMessage } from './decode.js';
import { Reader, Writer } from './wire.js';

export type EditableSignal = 'traces' | 'logs';

/** Field numbers of an item message that the view reads. */
const ATTRIBUTES: Record<EditableSignal, number> = { traces: 9, logs: 6 };
const MAX_FIELD = 16;

const ANY_VALUE = MESSAGES.AnyValue!;
const RESOURCE = MESSAGES.Resource!;

/** One span or log record: its attributes (keys read, values on demand) and its other fields. */
export class WireItem {
  readonly keys: string[] = [];
  /** [start, end) of each attribute's whole field (tag included) */
  readonly fields: number[] = [];
  /** [start, end) of each attribute's AnyValue body; -1, -1 when it has none */
  readonly values: number[] = [];
  /** [start, end) of the last occurrence of each other field (number ≤ 16), value bytes only;
   *  a plain array (unset: undefined): a typed array per item cost more than the rest of it */
  private readonly at: number[] = [];

  constructor(
    readonly r: Reader,
    /** the item's body, without its tag and length */
    readonly start: number,
    readonly end: number,
    attrNo: number,
  ) {
    r.pos = start;
    while (r.pos < end) {
      const fieldStart = r.pos;
      const tag = r.uint32(end);
      const no = tag >>> 3;
      const wt = tag & 7;
      if (no === attrNo && wt === WT_LEN) {
        const n = r.length(end);
        const kvEnd = r.pos + n;
        let key = '';
        let vs = -1, ve = -1;
        while (r.pos < kvEnd) {
          const t = r.uint32(kvEnd);
          if (t === 0x0a) {
            const kn = r.length(kvEnd);
            key = r.string(r.pos, r.pos + kn);
            r.pos += kn;
          } else if (t === 0x12) {
            const vn = r.length(kvEnd);
            vs = r.pos;
            ve = vs + vn;
            r.pos = ve;
          } else r.skip(t & 7, kvEnd);
        }
        this.keys.push(key);
        this.fields.push(fieldStart, kvEnd);
        this.values.push(vs, ve);
        continue;
      }
      if (no <= MAX_FIELD) {
        if (wt === WT_LEN) {
          const n = r.length(end);
          this.at[2 * no] = r.pos;
          this.at[2 * no + 1] = r.pos + n;
          r.pos += n;
          continue;
        }
        const vs = r.pos;
        r.skip(wt, end);
        this.at[2 * no] = vs;
        this.at[2 * no + 1] = r.pos;
        continue;
      }
      r.skip(wt, end);
    }
  }

  get count(): number {
    return this.keys.length;
  }

  indexOf(key: string): number {
    return this.keys.indexOf(key);
  }

  /** The value of attribute i, decoded. */
  value(i: number): AnyValue | undefined {
    const s = this.values[2 * i]!;
    if (s < 0) return undefined;
    return decodeMessage<AnyValue>(ANY_VALUE, this.r.buf.subarray(s, this.values[2 * i + 1]!));
  }

  /** The value of attribute i as a string, when it is a string (cheaper than value()). */
  stringValue(i: number): string | undefined {
    const s = this.values[2 * i]!;
    const e = this.values[2 * i + 1]!;
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
    const s = this.values[2 * i]!;
    return s < 0 ? undefined : this.r.buf.subarray(s, this.values[2 * i + 1]!);
  }

  /** Byte length of attribute i's value encoding (a bound on the content it carries). */
  valueSize(i: number): number {
    const s = this.values[2 * i]!;
    return s < 0 ? 0 : this.values[2 * i + 1]! - s;
  }

  /** The value of attribute i as a number, when it is an int, a double or a numeric string; read
   *  in place (decoding an AnyValue builds a reader and objects). */
  numberValue(i: number): number | undefined {
    const s = this.values[2 * i]!;
    const e = this.values[2 * i + 1]!;
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
    return this.at[2 * no] !== undefined;
  }

  bytes(no: number): Uint8Array {
    const s = this.at[2 * no];
    return s === undefined ? EMPTY : this.r.buf.subarray(s, this.at[2 * no + 1]!);
  }

  /** Field `no`'s bytes as a latin1 string: a cheap map key for ids. */
  key(no: number): string {
    const s = this.at[2 * no];
    return s === undefined ? '' : this.r.nb.toString('latin1', s, this.at[2 * no + 1]!);
  }

  string(no: number): string {
    const s = this.at[2 * no];
    return s === undefined ? '' : this.r.string(s, this.at[2 * no + 1]!);
  }

  /** A varint field's low 32 bits (kind, severity number). */
  varint(no: number): number {
    const s = this.at[2 * no];
    if (s === undefined) return 0;
    this.r.pos = s;
    return this.r.uint32(this.at[2 * no + 1]!);
  }

  fixed64(no: number): bigint {
    const s = this.at[2 * no];
    if (s === undefined) return 0n;
    return this.r.view.getBigUint64(s, true);
  }

  /** A span's status code (Status.code, field 3 of field 15). */
  statusCode(): number {
    const s = this.at[30];
    if (s === undefined) return 0;
    const e = this.at[31]!;
    const r = this.r;
    r.pos = s;
    let code = 0;
    while (r.pos < e) {
      const t = r.uint32(e);
      if (t === 0x18) code = r.uint32(e);
      else r.skip(t & 7, e);
    }
    return code;
  }
}

const EMPTY = new Uint8Array(0);

/** A new attribute: its value either decoded or as the AnyValue bytes of another attribute. */
export interface NewAttr {
  key: string;
  value?: AnyValue;
  raw?: Uint8Array;
}

/** What to do with an item: drop some of its attributes (by index), append others. */
export interface ItemEdit {
  drop?: readonly number[];
  add?: readonly NewAttr[];
}

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

/** What the visitor decides: undefined keeps the item as it is, an edit changes it, `hold` takes it
 *  out with the edit applied (tagged for the caller), `defer` asks again once the whole request has
 *  been visited. */
export type Decision = undefined | ItemEdit | { hold: true; edit?: ItemEdit; tag?: unknown } | { defer: true; edit?: ItemEdit };

export interface EditContext {
  /** The item's resource, decoded (once per resource). */
  resource: Resource | undefined;
  /** The instrumentation scope's name. */
  scopeName: string;
}

export interface EditResult {
  /** The request with the edits made and the held items taken out; undefined when nothing changed. */
  bytes: Uint8Array | undefined;
  /** Items left in `bytes`. */
  count: number;
  held: HeldItem[];
}

interface Scope {
  pre: number[];
  post: number[];
  items: Slot[];
  size: number;
}
interface ResourceNode {
  pre: number[];
  post: number[];
  scopes: Scope[];
  size: number;
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

/** Size of an attribute's KeyValue body. */
function attrBodySize(a: NewAttr): number {
  const k = utf8Length(a.key);
  const vs = valueSize(a);
  return 1 + varintLen(k) + k + 1 + varintLen(vs) + vs;
}

/** Size of an attribute as a field of its item (tag included). */
function attrFieldSize(a: NewAttr): number {
  const n = attrBodySize(a);
  return 1 + varintLen(n) + n;
}

function writeAttr(w: Writer, a: NewAttr, attrTag: number): void {
  w.uvarint(attrTag);
  w.uvarint(attrBodySize(a));
  w.uvarint(0x0a);
  w.string(a.key);
  w.uvarint(0x12);
  w.uvarint(valueSize(a));
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

function editedSize(item: WireItem, edit: ItemEdit): number {
  let size = item.end - item.start;
  if (edit.drop) for (const i of dropped(edit.drop)) size -= item.fields[2 * i + 1]! - item.fields[2 * i]!;
  if (edit.add) for (const a of edit.add) size += attrFieldSize(a);
  return size;
}

/** Indexes to drop, each once (several rules may drop the same attribute). */
function dropped(drop: readonly number[]): number[] {
  return drop.length <= 1 ? (drop as number[]) : [...new Set(drop)].sort((a, b) => a - b);
}

function writeEdited(w: Writer, item: WireItem, edit: ItemEdit, attrTag: number): void {
  const buf = item.r.buf;
  if (edit.drop && edit.drop.length > 0) {
    let from = item.start;
    for (const i of dropped(edit.drop)) {
      const s = item.fields[2 * i]!;
      if (s > from) w.raw(buf, from, s);
      from = Math.max(from, item.fields[2 * i + 1]!);
    }
    if (item.end > from) w.raw(buf, from, item.end);
  } else w.raw(buf, item.start, item.end);
  if (edit.add) for (const a of edit.add) writeAttr(w, a, attrTag);
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
  for (const p of pending) total += p.edit ? editedSize(p.item, p.edit) : p.item.end - p.item.start;
  const w = new Writer(total);
  const starts: number[] = [];
  for (const p of pending) {
    starts.push(w.pos);
    if (p.edit) writeEdited(w, p.item, p.edit, attrTag);
    else w.raw(p.item.r.buf, p.item.start, p.item.end);
  }
  const b = w.buf;
  for (let i = 0; i < pending.length; i++) {
    const end = i + 1 < pending.length ? starts[i + 1]! : w.pos;
    out.push({ bytes: b.subarray(starts[i]!, end), container: pending[i]!.container, tag: pending[i]!.tag });
  }
}

interface Slot {
  start: number;
  end: number;
  item: WireItem;
  edit: ItemEdit | undefined;
  /** decided after the pass (settle) */
  deferred: boolean;
  held: boolean;
  size: number;
}

/**
 * Visits every span (traces) or log record (logs) of a validated request with its resource; writes
 * the request again with the visitor's edits, without the items it holds. The visitor may defer an
 * item: `settle` then decides it once every item of the request has been seen (a span whose parent
 * comes later in the same request). New sizes are summed after that, and the request written with
 * exact length prefixes.
 */
export function editItems(
  signal: EditableSignal,
  bytes: Uint8Array,
  visit: (item: WireItem, ctx: EditContext) => Decision,
  settle?: (item: WireItem, edit: ItemEdit | undefined) => Decision,
): EditResult {
  const r = new Reader(bytes);
  const buf = r.buf;
  const attrNo = ATTRIBUTES[signal];
  const attrTag = attrNo * 8 + WT_LEN;
  const resources: ResourceNode[] = [];
  const held: HeldItem[] = [];
  const deferred: Array<{ slot: Slot; node: ResourceNode; scope: Scope }> = [];
  const pending: PendingHold[] = [];
  let changed = false;
  const end = buf.length;
  while (r.pos < end) {
    const start = r.pos;
    const tag = r.uint32(end);
    if (tag !== 0x0a) {
      r.skip(tag & 7, end);
      resources.push({ pre: [start, r.pos], post: [], scopes: [], size: -1 });
      continue;
    }
    const rn = r.length(end);
    const rEnd = r.pos + rn;
    const node: ResourceNode = { pre: [], post: [], scopes: [], size: 0 };
    let resource: Resource | undefined;
    let seenScope = false;
    while (r.pos < rEnd) {
      const fs = r.pos;
      const t = r.uint32(rEnd);
      if (t === 0x0a) {
        const n = r.length(rEnd);
        resource = decodeMessage<Resource>(RESOURCE, buf.subarray(r.pos, r.pos + n));
        r.pos += n;
        addRange(seenScope ? node.post : node.pre, fs, r.pos);
      } else if (t === 0x12) {
        seenScope = true;
        const sn = r.length(rEnd);
        const sEnd = r.pos + sn;
        const scope: Scope = { pre: [], post: [], items: [], size: 0 };
        let scopeName = '';
        let seenItem = false;
        while (r.pos < sEnd) {
          const ss = r.pos;
          const st = r.uint32(sEnd);
          if (st === 0x12) {
            seenItem = true;
            const n = r.length(sEnd);
            const itemStart = r.pos;
            const itemEnd = itemStart + n;
            const item = new WireItem(r, itemStart, itemEnd, attrNo);
            const d = visit(item, { resource, scopeName });
            r.pos = itemEnd; // the visitor's reads move the reader
            if (d !== undefined && 'hold' in d) {
              changed = true;
              pending.push({ item, edit: d.edit, container: containerOf(node, scope, buf), tag: d.tag });
              continue;
            }
            const slot: Slot = { start: itemStart, end: itemEnd, item, edit: undefined, deferred: false, held: false, size: n };
            if (d !== undefined && 'defer' in d) {
              slot.deferred = true;
              slot.edit = d.edit;
              deferred.push({ slot, node, scope });
            } else slot.edit = d;
            scope.items.push(slot);
          } else {
            if (st === 0x0a) {
              const n = r.length(sEnd);
              scopeName = scopeNameOf(r, r.pos, r.pos + n);
              r.pos += n;
            } else r.skip(st & 7, sEnd);
            addRange(seenItem ? scope.post : scope.pre, ss, r.pos);
          }
        }
        r.pos = sEnd;
        node.scopes.push(scope);
      } else {
        r.skip(t & 7, rEnd);
        addRange(seenScope ? node.post : node.pre, fs, r.pos);
      }
    }
    r.pos = rEnd;
    resources.push(node);
  }
  for (const { slot, node, scope } of deferred) {
    const d = settle ? settle(slot.item, slot.edit) : slot.edit;
    if (d !== undefined && 'hold' in d) {
      slot.held = true;
      changed = true;
      pending.push({ item: slot.item, edit: d.edit, container: containerOf(node, scope, buf), tag: d.tag });
    } else slot.edit = d !== undefined && 'defer' in d ? d.edit : d;
  }
  containers.clear();
  if (pending.length > 0) heldOut(pending, attrTag, held);

  // Sizes, now that every item is decided.
  let count = 0;
  for (const node of resources) {
    if (node.size < 0) continue;
    node.size = rangesSize(node.pre) + rangesSize(node.post);
    for (const scope of node.scopes) {
      if (deferred.length > 0) scope.items = scope.items.filter((x) => !x.held);
      scope.size = rangesSize(scope.pre) + rangesSize(scope.post);
      for (const slot of scope.items) {
        const e = slot.edit;
        if (e !== undefined && ((e.drop?.length ?? 0) > 0 || (e.add?.length ?? 0) > 0)) {
          changed = true;
          slot.size = editedSize(slot.item, e);
        } else slot.edit = undefined;
        scope.size += 1 + varintLen(slot.size) + slot.size;
        count++;
      }
      node.size += 1 + varintLen(scope.size) + scope.size;
    }
  }
  if (!changed) return { bytes: undefined, count, held };

  let total = 0;
  for (const node of resources) total += node.size < 0 ? rangesSize(node.pre) : 1 + varintLen(node.size) + node.size;
  const w = new Writer(total + 16);
  for (const node of resources) {
    if (node.size < 0) {
      w.raw(buf, node.pre[0]!, node.pre[1]!);
      continue;
    }
    if (node.scopes.length > 0 && node.scopes.every((s) => s.items.length === 0)) continue; // all held
    w.uvarint(0x0a);
    w.uvarint(node.size);
    for (let i = 0; i < node.pre.length; i += 2) w.raw(buf, node.pre[i]!, node.pre[i + 1]!);
    for (const scope of node.scopes) {
      w.uvarint(0x12);
      w.uvarint(scope.size);
      for (let i = 0; i < scope.pre.length; i += 2) w.raw(buf, scope.pre[i]!, scope.pre[i + 1]!);
      for (const slot of scope.items) {
        w.uvarint(0x12);
        w.uvarint(slot.size);
        if (slot.edit === undefined) w.raw(buf, slot.start, slot.end);
        else writeEdited(w, slot.item, slot.edit, attrTag);
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

function scopeNameOf(r: Reader, start: number, end: number): string {
  const save = r.pos;
  r.pos = start;
  let name = '';
  while (r.pos < end) {
    const t = r.uint32(end);
    if (t === 0x0a) {
      const n = r.length(end);
      name = r.string(r.pos, r.pos + n);
      r.pos += n;
    } else r.skip(t & 7, end);
  }
  r.pos = save;
  return name;
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
