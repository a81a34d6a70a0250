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

/** Glob patterns (`*`, `?`) → one predicate; `*` alone matches everything. */
export function globMatcher(patterns: readonly string[]): (s: string) => boolean {
  if (patterns.includes('*')) return () => true;
  const exact = new Set<string>();
  const res: RegExp[] = [];
  for (const p of patterns) {
    if (!/[*?]/.test(p)) exact.add(p);
    else res.push(new RegExp('^' + p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$', 's'));
  }
  return (s) => exact.has(s) || res.some((r) => r.test(s));
}
