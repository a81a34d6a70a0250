// The config as a tree of nodes that remember where they were written, so that any problem found
// after merging files, --set overrides and env substitution can still point at file:line:col.
import type { Loc } from './errors.js';

export type Scalar = string | number | boolean | null;

export interface MapEntry {
  keyLoc: Loc;
  value: Node;
}
export interface MapNode {
  t: 'map';
  loc: Loc;
  entries: Map<string, MapEntry>;
}
export interface SeqNode {
  t: 'seq';
  loc: Loc;
  items: Node[];
}
export interface ScalarNode {
  t: 'scalar';
  loc: Loc;
  value: Scalar;
  /** Plain (unquoted, untagged) scalars get typed after a whole-value `${env:...}` substitution. */
  plain: boolean;
}
export type Node = MapNode | SeqNode | ScalarNode;

export const emptyMap = (loc: Loc): MapNode => ({ t: 'map', loc, entries: new Map() });

export function isNull(n: Node | undefined): boolean {
  return n === undefined || (n.t === 'scalar' && n.value === null);
}

/** Deep-merges `over` onto `base`: maps merge key by key (later wins), anything else is replaced. */
export function mergeNodes(base: Node, over: Node): Node {
  if (base.t === 'map' && isNull(over)) return base; // `processors:` with nothing under it adds nothing
  if (base.t !== 'map' || over.t !== 'map') return over;
  const entries = new Map(base.entries);
  for (const [k, e] of over.entries) {
    const prev = entries.get(k);
    entries.set(k, prev ? { keyLoc: e.keyLoc, value: mergeNodes(prev.value, e.value) } : e);
  }
  return { t: 'map', loc: over.loc, entries };
}

/** Sets `value` at `path`, creating maps along the way (and replacing non-maps in the way). */
export function setPath(root: MapNode, path: string[], value: Node, loc: Loc): void {
  let m = root;
  for (let i = 0; i < path.length - 1; i++) {
    const e = m.entries.get(path[i]!);
    if (e && e.value.t === 'map') {
      const copy: MapNode = { t: 'map', loc: e.value.loc, entries: new Map(e.value.entries) };
      m.entries.set(path[i]!, { keyLoc: e.keyLoc, value: copy });
      m = copy;
    } else {
      const next = emptyMap(loc);
      m.entries.set(path[i]!, { keyLoc: loc, value: next });
      m = next;
    }
  }
  const last = path[path.length - 1]!;
  const prev = m.entries.get(last);
  m.entries.set(last, { keyLoc: loc, value: prev ? mergeNodes(prev.value, value) : value });
}

/** Plain JS value of a node (what JSON-schema validation sees). */
export function toPlain(n: Node): unknown {
  switch (n.t) {
    case 'scalar':
      return n.value;
    case 'seq':
      return n.items.map(toPlain);
    case 'map': {
      const o: Record<string, unknown> = {};
      for (const [k, e] of n.entries) setKey(o, k, toPlain(e.value));
      return o;
    }
  }
}

/** Assigns without ever touching the prototype (a YAML key may well be `__proto__`). */
export function setKey(o: Record<string, unknown>, k: string, v: unknown): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

/**
 * Finds where `path` (below `n`) was written. `keyLoc` is the key's position (for unknown or
 * missing keys), `valueLoc` the value's. A path that leaves the user's tree (a default) falls back
 * to the deepest ancestor that exists.
 */
export function locate(n: Node, path: readonly string[], rootKeyLoc: Loc): { keyLoc: Loc; valueLoc: Loc; found: boolean } {
  let keyLoc = rootKeyLoc;
  let cur: Node = n;
  for (const seg of path) {
    let next: Node | undefined;
    if (cur.t === 'map') {
      const e = cur.entries.get(seg);
      if (e) {
        keyLoc = e.keyLoc;
        next = e.value;
      }
    } else if (cur.t === 'seq' && /^\d+$/.test(seg)) {
      next = cur.items[Number(seg)];
      if (next) keyLoc = next.loc;
    }
    if (!next) return { keyLoc, valueLoc: keyLoc, found: false };
    cur = next;
  }
  return { keyLoc, valueLoc: isNull(cur) ? keyLoc : cur.loc, found: true };
}

/** `a.b[0].c` from path segments (numeric segments are list indexes). */
export function joinPath(segs: readonly string[]): string {
  let s = '';
  for (const seg of segs) {
    if (/^\d+$/.test(seg) && s) s += `[${seg}]`;
    else s += s ? `.${seg}` : seg;
  }
  return s;
}
