// Splitting a request into parts of at most N items, at wire level: the request is indexed down the
// path fields of the schema (request > resource > scope > items, with metric > data > points for
// metrics); every other field of a container (resource, scope, schema_url, metric name, temporality,
// unknown fields) is copied raw into each part that carries some of its items. Items themselves are
// copied as raw bytes, never decoded. Input must already be validated (scanMessage).
import type { MessageDesc } from './schema.js';
import { WT_LEN } from './schema.js';
import { Reader, Writer } from './wire.js';

interface Node {
  /** field number in the parent; 0 for the request itself */
  no: number;
  /** [start, end) pairs of raw fields before / after the first path field */
  pre: number[];
  post: number[];
  kids: Node[];
  /** [start, end) pairs of whole item fields, tag included */
  items: number[];
  /** items not yet handed out */
  left: number;
  /** next kid or item to hand out */
  cur: number;
}

function addRange(list: number[], start: number, end: number): void {
  const n = list.length;
  if (n > 0 && list[n - 1] === start) list[n - 1] = end; // adjacent: extend
  else list.push(start, end);
}

function index(r: Reader, d: MessageDesc, end: number, no: number): Node {
  const node: Node = { no, pre: [], post: [], kids: [], items: [], left: 0, cur: 0 };
  let seen = false;
  while (r.pos < end) {
    const start = r.pos;
    const tag = r.uint32(end);
    const wt = tag & 7;
    const f = d.byNo[tag >>> 3];
    if (f !== undefined && (f.child || f.item) && wt === WT_LEN) {
      const n = r.length(end);
      if (f.item) {
        r.pos += n;
        node.items.push(start, r.pos);
        node.left++;
      } else {
        const kid = index(r, f.msg!, r.pos + n, f.no);
        node.kids.push(kid);
        node.left += kid.left;
      }
      seen = true;
    } else {
      r.skip(wt, end);
      addRange(seen ? node.post : node.pre, start, r.pos);
    }
  }
  return node;
}

function copyRanges(w: Writer, src: Uint8Array, ranges: number[]): void {
  for (let i = 0; i < ranges.length; i += 2) w.raw(src, ranges[i]!, ranges[i + 1]!);
}

/** Writes `node` holding up to `budget` of its remaining items; returns how many it took. */
function emit(w: Writer, src: Uint8Array, node: Node, budget: number): number {
  let at = -1;
  if (node.no !== 0) {
    w.uvarint(node.no * 8 + WT_LEN);
    at = w.beginLen();
  }
  copyRanges(w, src, node.pre);
  let taken = 0;
  const items = node.items;
  while (node.cur * 2 < items.length && taken < budget) {
    w.raw(src, items[node.cur * 2]!, items[node.cur * 2 + 1]!);
    node.cur++;
    taken++;
  }
  const kids = node.kids;
  while (node.cur < kids.length) {
    const k = kids[node.cur]!;
    if (k.left === 0) { // holds no item (an empty scope, say): goes whole with the current part
      emit(w, src, k, 0);
      node.cur++;
      continue;
    }
    if (taken >= budget) break;
    taken += emit(w, src, k, budget - taken);
    if (k.left !== 0) break;
    node.cur++;
  }
  node.left -= taken;
  copyRanges(w, src, node.post);
  if (at >= 0) w.endLen(at);
  return taken;
}

export interface Part {
  bytes: Uint8Array;
  count: number;
}

/** Cuts a validated request of type `d` into parts of at most `max` items, in order. */
export function splitBytes(d: MessageDesc, bytes: Uint8Array, max: number): Part[] {
  const r = new Reader(bytes);
  const root = index(r, d, r.buf.length, 0);
  const parts: Part[] = [];
  const estimate = Math.ceil((bytes.length * Math.min(1, max / Math.max(1, root.left))) * 1.1) + 256;
  while (root.left > 0) {
    const w = new Writer(estimate);
    const count = emit(w, r.buf, root, max);
    parts.push({ bytes: w.finish(), count });
  }
  return parts;
}
