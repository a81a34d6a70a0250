// Shared helpers of the pdata tests: a hand-rolled wire builder (independent of src/pdata/wire.ts),
// a protobufjs oracle, a seeded RNG and a comparable form of decoded trees.
import protobuf from 'protobufjs';
import { protobufjsDescriptor } from '../src/pdata/pbjs.js';

// ---- building protobuf bytes by hand ----

export function varint(v: number | bigint): number[] {
  let n = BigInt.asUintN(64, BigInt(v));
  const out: number[] = [];
  while (n > 0x7fn) { out.push(Number(n & 0x7fn) | 0x80); n >>= 7n; }
  out.push(Number(n));
  return out;
}
export const bytes = (...parts: (number[] | Uint8Array)[]): Uint8Array => Uint8Array.from(parts.flatMap((p) => [...p]));
/** A length-delimited field: tag, length, payload. */
export const ld = (no: number, ...payload: (number[] | Uint8Array)[]): number[] => {
  const body = [...bytes(...payload)];
  return [...varint(no * 8 + 2), ...varint(body.length), ...body];
};
export const vi = (no: number, v: number | bigint): number[] => [...varint(no * 8), ...varint(v)];
export const str = (no: number, s: string): number[] => ld(no, [...Buffer.from(s, 'utf8')]);
export const f64 = (no: number, v: bigint): number[] => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(v);
  return [...varint(no * 8 + 1), ...b];
};
export const f32 = (no: number, v: number): number[] => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return [...varint(no * 8 + 5), ...b];
};

// ---- protobufjs as an independent encoder ----

export const pbRoot = protobuf.Root.fromJSON(protobufjsDescriptor());

function pbIsDefault(v: any): boolean {
  if (v === 0) return 1 / v > 0;
  if (v === '' || v === false) return true;
  if (v instanceof Uint8Array) return v.length === 0;
  if (typeof v === 'object' && v !== null && typeof v.isZero === 'function') return v.isZero();
  return false;
}

/** Drops explicitly written proto3 defaults (not oneof / optional members) from a protobufjs message. */
function strip(type: protobuf.Type, m: any): void {
  for (const f of type.fieldsArray) {
    if (!Object.prototype.hasOwnProperty.call(m, f.name) || m[f.name] == null) continue;
    const sub = f.resolvedType instanceof protobuf.Type ? f.resolvedType : undefined;
    if (f.repeated) { if (sub) for (const x of m[f.name]) strip(sub, x); continue; }
    if (sub) { strip(sub, m[f.name]); continue; }
    if (!f.partOf && pbIsDefault(m[f.name])) delete m[f.name];
  }
}

/** protobufjs' encoding of `bytes` with explicit defaults removed: the canonical encoding. */
export function pbCanonical(typeName: string, input: Uint8Array): Uint8Array {
  const type = pbRoot.lookupType(typeName);
  const m = type.decode(input);
  strip(type, m);
  return type.encode(m).finish();
}

// ---- comparing trees ----

/** A JSON-safe, deep-comparable form: bigint -> "123n", bytes -> "hex:..", no undefined keys. */
export function plainTree(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v, (_k, x) => {
    if (typeof x === 'bigint') return `${x}n`;
    if (x instanceof Uint8Array) return `hex:${Buffer.from(x.buffer, x.byteOffset, x.byteLength).toString('hex')}`;
    if (typeof x === 'number' && !Number.isFinite(x)) return `num:${x}`;
    return x;
  }));
}

// ---- seeded randomness (mulberry32) ----

export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The first offset of `needle` in `buf`; -1 if absent. */
export function indexOfBytes(buf: Uint8Array, needle: Uint8Array): number {
  return Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).indexOf(Buffer.from(needle.buffer, needle.byteOffset, needle.byteLength));
}
