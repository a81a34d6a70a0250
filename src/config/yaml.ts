// YAML text -> position-carrying tree. Every node gets its file:line:col from a LineCounter.
import { LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument, type Document, type Node as YNode } from 'yaml';
import type { Loc } from './errors.js';
import { Code, type Problems } from './errors.js';
import { emptyMap, type MapNode, type Node, type Scalar } from './tree.js';

interface Ctx {
  doc: Document;
  lc: LineCounter;
  source: string;
  order: number;
  problems: Problems;
  /** Nodes being converted, to stop alias cycles. */
  stack: Set<unknown>;
  /** Nodes converted so far (aliases count what they expand to); see MAX_NODES. */
  nodes: number;
}

/** The most nodes one source may expand to. Aliases are expanded as they are converted, so a few
 *  hundred bytes of nested aliases ("billion laughs", or merge keys `<<: *a`) would otherwise grow
 *  into billions of nodes; a real config has a few hundred. */
export const MAX_NODES = 100_000;
/** Marks a conversion stopped at MAX_NODES (reported once, at the node where it stopped). */
class TooBig extends Error {}

/**
 * Parses one config source. Syntax errors are all reported (with positions) and yield undefined:
 * a half-parsed file would only add misleading follow-on errors.
 */
export function parseYamlSource(text: string, source: string, order: number, problems: Problems): MapNode | undefined {
  const lc = new LineCounter();
  // uniqueKeys off: yaml's own duplicate check compares each key with every earlier one (quadratic:
  // a map of 110k keys took a minute); convertMap finds duplicates with a Map instead.
  const doc = parseDocument(text, { lineCounter: lc, merge: true, prettyErrors: true, uniqueKeys: false });
  if (doc.errors.length > 0) {
    const errs = doc.errors;
    for (let i = 0; i < errs.length; i++) {
      // yaml does not recover: one bad token is followed by an "unexpected token" for every token
      // after it. Report the first of such a run and how many followed.
      let run = 0;
      while (errs[i]!.code === 'UNEXPECTED_TOKEN' && errs[i + run + 1]?.code === 'UNEXPECTED_TOKEN') run++;
      const e = errs[i]!;
      const pos = e.linePos?.[0] ?? lc.linePos(e.pos[0]);
      const more = run > 0 ? ` (and ${run} more unexpected tokens after it)` : '';
      problems.error(Code.Yaml, '', { source, order, line: pos.line, col: pos.col }, yamlMessage(e.message) + more);
      i += run;
    }
    return undefined;
  }
  const ctx: Ctx = { doc, lc, source, order, problems, stack: new Set(), nodes: 0 };
  const rootLoc: Loc = { source, order, line: 1, col: 1 };
  if (doc.contents === null) return emptyMap(rootLoc);
  const root = convertBounded(doc.contents as YNode, ctx);
  if (!root) return undefined;
  if (root.t === 'scalar' && root.value === null) return emptyMap(rootLoc);
  if (root.t !== 'map') {
    problems.error(Code.NotAMap, '', root.loc, 'the config must be a map (receivers:, exporters:, service:, ...)');
    return undefined;
  }
  return root;
}

/** Parses a `--set` value: a YAML scalar (or a flow list/map such as `[otlp, debug]`). */
export function parseSetValue(text: string, loc: Loc, problems: Problems): Node | undefined {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc });
  if (doc.errors.length > 0) {
    problems.error(Code.BadSet, '', loc, `invalid value: ${yamlMessage(doc.errors[0]!.message)}`);
    return undefined;
  }
  const ctx: Ctx = { doc, lc, source: loc.source, order: loc.order, problems, stack: new Set(), nodes: 0 };
  if (doc.contents === null) return { t: 'scalar', loc, value: null, plain: true };
  const n = convertBounded(doc.contents as YNode, ctx);
  return n && relocate(n, loc);
}

/** convert(), stopped with one error once the source expands past MAX_NODES. */
function convertBounded(n: YNode, ctx: Ctx): Node | undefined {
  try {
    return convert(n, ctx, undefined);
  } catch (err) {
    if (!(err instanceof TooBig)) throw err;
    ctx.problems.error(Code.Yaml, '', JSON.parse(err.message) as Loc, `the config expands to more than ${MAX_NODES} values (nested aliases or merge keys?); refused`);
    return undefined;
  }
}

/** All nodes of a --set value point at the --set argument itself. */
function relocate(n: Node, loc: Loc): Node {
  if (n.t === 'scalar') return { ...n, loc };
  if (n.t === 'seq') return { t: 'seq', loc, items: n.items.map((i) => relocate(i, loc)) };
  const entries = new Map([...n.entries].map(([k, e]) => [k, { keyLoc: loc, value: relocate(e.value, loc) }]));
  return { t: 'map', loc, entries };
}

/** yaml's messages end in " at line L, column C:" plus a code frame; we print the position ourselves. */
function yamlMessage(m: string): string {
  return m.replace(/ at line \d+, column \d+[\s\S]*$/, '').split('\n')[0]!.trim();
}

function locOf(n: { range?: [number, number, number] | null } | null | undefined, ctx: Ctx, fallback?: Loc): Loc {
  const off = n?.range?.[0];
  if (off === undefined) return fallback ?? { source: ctx.source, order: ctx.order, line: 1, col: 1 };
  const p = ctx.lc.linePos(off);
  return { source: ctx.source, order: ctx.order, line: p.line, col: p.col };
}

function convert(n: YNode | null, ctx: Ctx, fallback: Loc | undefined): Node {
  if (n === null || n === undefined) return { t: 'scalar', loc: fallback ?? locOf(null, ctx), value: null, plain: true };
  const loc = locOf(n, ctx, fallback);
  if (++ctx.nodes > MAX_NODES) throw new TooBig(JSON.stringify(loc));
  if (isAlias(n)) {
    const target = n.resolve(ctx.doc);
    if (!target || ctx.stack.has(target)) {
      ctx.problems.error(Code.Yaml, '', loc, `alias *${n.source} cannot be resolved`);
      return { t: 'scalar', loc, value: null, plain: true };
    }
    return { ...convert(target as YNode, ctx, loc), loc };
  }
  if (isScalar(n)) {
    // An empty value (`key:`) has no text of its own: point at its key instead.
    const empty = n.value === null && (n.source === '' || n.source === undefined);
    return { t: 'scalar', loc: empty && fallback ? fallback : loc, value: scalarValue(n.value), plain: n.type === 'PLAIN' && !n.tag };
  }
  ctx.stack.add(n);
  try {
    if (isSeq(n)) return { t: 'seq', loc, items: n.items.map((i) => convert(i as YNode, ctx, loc)) };
    if (isMap(n)) return convertMap(n, loc, ctx);
  } finally {
    ctx.stack.delete(n);
  }
  return { t: 'scalar', loc, value: null, plain: true };
}

function convertMap(n: import('yaml').YAMLMap, loc: Loc, ctx: Ctx): MapNode {
  const entries: MapNode['entries'] = new Map();
  const merged: MapNode[] = [];
  for (const pair of n.items) {
    const keyNode = pair.key as YNode | null;
    const keyLoc = locOf(keyNode, ctx, loc);
    if (keyNode !== null && !isScalar(keyNode)) {
      ctx.problems.error(Code.Yaml, '', keyLoc, 'map keys must be plain values, not lists or maps');
      continue;
    }
    const value = convert(pair.value as YNode | null, ctx, keyLoc);
    // YAML merge key (`<<: *defaults`; yaml gives it a symbol): its entries fill in keys not written here.
    if (keyNode !== null && typeof keyNode.value === 'symbol') {
      const srcs = value.t === 'seq' ? value.items : [value];
      for (const s of srcs) if (s.t === 'map') merged.push(s);
      continue;
    }
    const key = keyNode === null ? '' : String(keyNode.value ?? '');
    if (entries.has(key)) ctx.problems.error(Code.Yaml, '', keyLoc, `map keys must be unique ("${key.slice(0, 64)}" is repeated)`);
    entries.set(key, { keyLoc, value });
  }
  for (const m of merged) for (const [k, e] of m.entries) if (!entries.has(k)) entries.set(k, e);
  return { t: 'map', loc, entries };
}

function scalarValue(v: unknown): Scalar {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  if (typeof v === 'bigint') return Number(v);
  return String(v);
}

