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
  /** [start, end) of the last occurrence of each other field (number ≤ 16), value bytes only */
  private readonly at = new Int32Array(2 * (MAX_FIELD + 1)).fill(-1);

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

  has(no: number): boolean {
    return this.at[2 * no]! >= 0;
  }

  bytes(no: number): Uint8Array {
    const s = this.at[2 * no]!;
    return s < 0 ? EMPTY : this.r.buf.subarray(s, this.at[2 * no + 1]!);
  }

  string(no: number): string {
    const s = this.at[2 * no]!;
    return s < 0 ? '' : this.r.string(s, this.at[2 * no + 1]!);
  }

  /** A varint field's low 32 bits (kind, severity number). */
  varint(no: number): number {
    const s = this.at[2 * no]!;
    if (s < 0) return 0;
    this.r.pos = s;
    return this.r.uint32(this.at[2 * no + 1]!);
  }

  fixed64(no: number): bigint {
    const s = this.at[2 * no]!;
    if (s < 0) return 0n;
    return this.r.view.getBigUint64(s, true);
  }

  /** A span's status code (Status.code, field 3 of field 15). */
  statusCode(): number {
    const s = this.at[30]!;
    if (s < 0) return 0;
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
  /** raw fields of its resource and scope containers, shared by the items that came with them */
  container: Container;
}

/** The fields of a ResourceX and ScopeX other than their items, as raw bytes. */
export interface Container {
  resource: Uint8Array;
  scope: Uint8Array;
}

/** What the visitor decides: undefined keeps the item as it is, an edit changes it, `hold` takes it
 *  out with the edit applied. */
export type Decision = undefined | ItemEdit | { hold: true; edit?: ItemEdit };

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
  items: { start: number; end: number; edit: ItemEdit | undefined; size: number }[];
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

/** Encoded new attributes, reused between the size pass and the write pass. */
const encodedOf = new WeakMap<NewAttr, Uint8Array>();

function encodeAttr(a: NewAttr): Uint8Array {
  let e = encodedOf.get(a);
  if (e !== undefined) return e;
  const key = Buffer.from(a.key, 'utf8');
  const value = a.raw ?? encodeMessage(ANY_VALUE, a.value ?? {}, 64);
  const w = new Writer(key.length + value.length + 12);
  w.uvarint(0x0a);
  w.bytes(key);
  w.uvarint(0x12);
  w.bytes(value);
  e = w.finish();
  encodedOf.set(a, e);
  return e;
}

function editedSize(item: WireItem, edit: ItemEdit, attrTagLen: number): number {
  let size = item.end - item.start;
  if (edit.drop) for (const i of edit.drop) size -= item.fields[2 * i + 1]! - item.fields[2 * i]!;
  if (edit.add) {
    for (const a of edit.add) {
      const n = encodeAttr(a).length;
      size += attrTagLen + varintLen(n) + n;
    }
  }
  return size;
}

function writeEdited(w: Writer, item: WireItem, edit: ItemEdit, attrTag: number): void {
  const buf = item.r.buf;
  if (edit.drop && edit.drop.length > 0) {
    const cuts = [...edit.drop].sort((a, b) => a - b);
    let from = item.start;
    for (const i of cuts) {
      const s = item.fields[2 * i]!;
      if (s > from) w.raw(buf, from, s);
      from = Math.max(from, item.fields[2 * i + 1]!);
    }
    if (item.end > from) w.raw(buf, from, item.end);
  } else w.raw(buf, item.start, item.end);
  if (edit.add) {
    for (const a of edit.add) {
      w.uvarint(attrTag);
      w.bytes(encodeAttr(a));
    }
  }
}

function itemBytes(item: WireItem, edit: ItemEdit | undefined, attrTag: number): Uint8Array {
  if (edit === undefined) return item.r.buf.slice(item.start, item.end);
  const w = new Writer(editedSize(item, edit, 1) + 16);
  writeEdited(w, item, edit, attrTag);
  return w.finish().slice();
}

/**
 * Visits every span (traces) or log record (logs) of a validated request with its resource; writes
 * the request again with the visitor's edits, without the items it holds. Two passes: the first
 * reads items and sums the new sizes, the second writes with exact length prefixes.
 */
export function editItems(
  signal: EditableSignal,
  bytes: Uint8Array,
  visit: (item: WireItem, ctx: EditContext) => Decision,
): EditResult {
  const r = new Reader(bytes);
  const buf = r.buf;
  const attrNo = ATTRIBUTES[signal];
  const attrTag = attrNo * 8 + WT_LEN;
  const resources: ResourceNode[] = [];
  const held: HeldItem[] = [];
  let changed = false;
  let count = 0;
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
              const container = containerOf(node, scope, buf);
              held.push({ bytes: itemBytes(item, d.edit, attrTag), container });
              continue;
            }
            const edit = d !== undefined && ((d.drop?.length ?? 0) > 0 || (d.add?.length ?? 0) > 0) ? d : undefined;
            if (edit) changed = true;
            const size = edit ? editedSize(item, edit, varintLen(attrTag)) : n;
            scope.items.push({ start: itemStart, end: itemEnd, edit, size });
            scope.size += 1 + varintLen(size) + size;
            count++;
            // keep a reference to the item for the write pass
            itemsOf.set(scope.items[scope.items.length - 1]!, item);
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
        scope.size += rangesSize(scope.pre) + rangesSize(scope.post);
        node.scopes.push(scope);
        node.size += 1 + varintLen(scope.size) + scope.size;
      } else {
        r.skip(t & 7, rEnd);
        addRange(seenScope ? node.post : node.pre, fs, r.pos);
      }
    }
    r.pos = rEnd;
    node.size += rangesSize(node.pre) + rangesSize(node.post);
    resources.push(node);
    containers.delete(node);
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
    if (node.scopes.every((s) => s.items.length === 0) && node.scopes.length > 0) continue; // all held
    w.uvarint(0x0a);
    w.uvarint(node.size);
    for (let i = 0; i < node.pre.length; i += 2) w.raw(buf, node.pre[i]!, node.pre[i + 1]!);
    for (const scope of node.scopes) {
      w.uvarint(0x12);
      w.uvarint(scope.size);
      for (let i = 0; i < scope.pre.length; i += 2) w.raw(buf, scope.pre[i]!, scope.pre[i + 1]!);
      for (const it of scope.items) {
        w.uvarint(0x12);
        w.uvarint(it.size);
        if (it.edit === undefined) w.raw(buf, it.start, it.end);
        else writeEdited(w, itemsOf.get(it)!, it.edit, attrTag);
      }
      for (let i = 0; i < scope.post.length; i += 2) w.raw(buf, scope.post[i]!, scope.post[i + 1]!);
    }
    for (let i = 0; i < node.post.length; i += 2) w.raw(buf, node.post[i]!, node.post[i + 1]!);
  }
  return { bytes: w.finish(), count, held };
}

const itemsOf = new WeakMap<object, WireItem>();

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
 *  resource and scope as they came. */
export function requestOf(items: readonly HeldItem[]): Uint8Array {
  const byContainer = new Map<Container, Uint8Array[]>();
  for (const it of items) {
    let list = byContainer.get(it.container);
    if (list === undefined) byContainer.set(it.container, (list = []));
    list.push(it.bytes);
  }
  const w = new Writer(1024);
  for (const [c, list] of byContainer) {
    let scopeSize = c.scope.length;
    for (const b of list) scopeSize += 1 + varintLen(b.length) + b.length;
    const resourceSize = c.resource.length + 1 + varintLen(scopeSize) + scopeSize;
    w.uvarint(0x0a);
    w.uvarint(resourceSize);
    w.raw(c.resource, 0, c.resource.length);
    w.uvarint(0x12);
    w.uvarint(scopeSize);
    w.raw(c.scope, 0, c.scope.length);
    for (const b of list) {
      w.uvarint(0x12);
      w.bytes(b);
    }
  }
  return w.finish();
}

/** The item message descriptor of a signal (for tests and tools). */
export const ITEM_DESC: Readonly<Record<EditableSignal, MessageDesc>> = { traces: MESSAGES.Span!, logs: MESSAGES.LogRecord! };

/** An item's body with attributes appended (a held item going on with what was learnt since). */
export function appendAttributes(signal: EditableSignal, body: Uint8Array, attrs: readonly NewAttr[]): Uint8Array {
  if (attrs.length === 0) return body;
  const tag = ATTRIBUTES[signal] * 8 + WT_LEN;
  let size = body.length;
  for (const a of attrs) {
    const n = encodeAttr(a).length;
    size += 1 + varintLen(n) + n;
  }
  const w = new Writer(size + 8);
  w.raw(body, 0, body.length);
  for (const a of attrs) {
    w.uvarint(tag);
    w.bytes(encodeAttr(a));
  }
  return w.finish();
}
