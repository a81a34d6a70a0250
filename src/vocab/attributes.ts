// Reading and writing OTLP attributes: the one lookup every component uses. Attribute lists are
// short, so lookups are linear scans without building maps.
import type { AnyValue, KeyValue } from '../pdata/telemetry.js';

export type Attributes = readonly KeyValue[] | undefined;

export function attr(kvs: Attributes, key: string): AnyValue | undefined {
  if (kvs === undefined) return undefined;
  for (let i = 0; i < kvs.length; i++) if (kvs[i]!.key === key) return kvs[i]!.value;
  return undefined;
}

export function has(kvs: Attributes, key: string): boolean {
  if (kvs === undefined) return false;
  for (let i = 0; i < kvs.length; i++) if (kvs[i]!.key === key) return true;
  return false;
}

/** A scalar as a string (numbers and booleans spelled out); arrays, maps and bytes give undefined. */
export function str(v: AnyValue | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v.stringValue === 'string') return v.stringValue;
  if (typeof v.intValue === 'bigint') return v.intValue.toString();
  if (typeof v.doubleValue === 'number') return String(v.doubleValue);
  if (typeof v.boolValue === 'boolean') return String(v.boolValue);
  return undefined;
}

/** A number from an int, a double or a numeric string. */
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

export const strAttr = (kvs: Attributes, key: string): string | undefined => str(attr(kvs, key));
export const numAttr = (kvs: Attributes, key: string): number | undefined => num(attr(kvs, key));

/** First string found for `key` in the item's attributes, then the resource's. */
export function pick(key: string, own: Attributes, resource: Attributes): string | undefined {
  return str(attr(own, key)) ?? str(attr(resource, key));
}

/** A JSON-friendly form of any attribute value: bigints as numbers when safe, bytes as hex. */
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
  if (v.kvlistValue) return plainAttributes(v.kvlistValue.values);
  return null;
}

/** Attributes as a plain object (the last of duplicated keys wins). */
export function plainAttributes(kvs: Attributes): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  if (kvs) for (const kv of kvs) o[kv.key] = plainValue(kv.value);
  return o;
}

export const stringValue = (s: string): AnyValue => ({ stringValue: s });
export const intValue = (n: number | bigint): AnyValue => ({ intValue: BigInt(typeof n === 'number' ? Math.trunc(n) : n) });
export const doubleValue = (n: number): AnyValue => ({ doubleValue: n });

/** Sets `key` (replacing the first entry with that key, else appending). */
export function setAttr(kvs: KeyValue[], key: string, value: AnyValue): void {
  for (let i = 0; i < kvs.length; i++) {
    if (kvs[i]!.key === key) {
      kvs[i] = { key, value };
      return;
    }
  }
  kvs.push({ key, value });
}

/** Removes every entry for the keys `drop` says yes to; returns how many went. */
export function removeAttrs(kvs: KeyValue[], drop: (key: string) => boolean): number {
  let w = 0;
  for (let r = 0; r < kvs.length; r++) if (!drop(kvs[r]!.key)) kvs[w++] = kvs[r]!;
  const removed = kvs.length - w;
  kvs.length = w;
  return removed;
}
