// Reading OTLP attributes for the feed: a handful of keys per span or record, looked up linearly
// (attribute lists are short) without building maps.
import type { AnyValue, KeyValue } from '../../src/pdata/telemetry.js';

export function attr(kvs: readonly KeyValue[] | undefined, key: string): AnyValue | undefined {
  if (kvs === undefined) return undefined;
  for (let i = 0; i < kvs.length; i++) if (kvs[i]!.key === key) return kvs[i]!.value;
  return undefined;
}

export function str(v: AnyValue | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v.stringValue === 'string') return v.stringValue;
  if (typeof v.intValue === 'bigint') return v.intValue.toString();
  if (typeof v.doubleValue === 'number') return String(v.doubleValue);
  if (typeof v.boolValue === 'boolean') return String(v.boolValue);
  return undefined;
}

export function num(v: AnyValue | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v.intValue === 'bigint') return Number(v.intValue);
  if (typeof v.doubleValue === 'number') return v.doubleValue;
  if (typeof v.stringValue === 'string' && v.stringValue.trim() !== '') {
    const n = Number(v.stringValue);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

/** First string found for `key` in the item's attributes, then the resource's. */
export function pick(key: string, own: readonly KeyValue[] | undefined, resource: readonly KeyValue[] | undefined): string | undefined {
  return str(attr(own, key)) ?? str(attr(resource, key));
}

/** A JSON-friendly form of any attribute value (bigints as numbers when safe, bytes as hex). */
export function plainValue(v: AnyValue | undefined): unknown {
  if (v === undefined) return null;
  if (typeof v.stringValue === 'string') return v.stringValue;
  if (typeof v.boolValue === 'boolean') return v.boolValue;
  if (typeof v.intValue === 'bigint') {
    const n = Number(v.intValue);
    return Number.isSafeInteger(n) ? n : v.intValue.toString();
  }
  if (typeof v.doubleValue === 'number') return Number.isFinite(v.doubleValue) ? v.doubleValue : String(v.doubleValue);
  if (v.bytesValue) return Buffer.from(v.bytesValue).toString('hex');
  if (v.arrayValue) return v.arrayValue.values.map(plainValue);
  if (v.kvlistValue) {
    const o: Record<string, unknown> = {};
    for (const kv of v.kvlistValue.values) o[kv.key] = plainValue(kv.value);
    return o;
  }
  return null;
}

export const hex = (b: Uint8Array | undefined): string => (b && b.length > 0 ? Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex') : '');

/** ns since the epoch → ms (float, µs precision). */
export const nsToMs = (ns: bigint): number => Number(ns / 1000n) / 1000;

/** Longest glob pattern accepted (a token's agents claim, an alert's agent). */
export const MAX_GLOB_LENGTH = 256;

/** Glob patterns (`*`, `?`) → one predicate; `*` alone matches everything. Matched by hand, not
 *  compiled to a RegExp: a pattern comes from a client's token, and `*-*-*-*-x` as a backtracking
 *  regex against a long run of dashes takes exponential time. */
export function globMatcher(patterns: readonly string[]): (s: string) => boolean {
  if (patterns.includes('*')) return () => true;
  const exact = new Set<string>();
  const globs: string[] = [];
  for (const p of patterns) {
    if (!/[*?]/.test(p)) exact.add(p);
    else globs.push(p);
  }
  return (s) => exact.has(s) || globs.some((g) => globMatch(g, s));
}

/** Wildcard match in O(|pattern| × |s|) at worst: on a mismatch, only the last `*` is retried
 *  (one position further), never earlier ones, which a later `*` can always stand in for. */
export function globMatch(pattern: string, s: string): boolean {
  let p = 0;
  let i = 0;
  let star = -1;
  let from = 0;
  while (i < s.length) {
    const c = pattern.charCodeAt(p);
    if (p < pattern.length && (c === 63 /* ? */ || c === s.charCodeAt(i))) {
      p++;
      i++;
    } else if (p < pattern.length && c === 42 /* * */) {
      star = p++;
      from = i;
    } else if (star >= 0) {
      p = star + 1;
      i = ++from;
    } else return false;
  }
  while (p < pattern.length && pattern.charCodeAt(p) === 42) p++;
  return p === pattern.length;
}
