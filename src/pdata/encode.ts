// The generic protobuf encoder: known fields in field-number order, proto3 defaults skipped (oneof
// members and `optional` fields are written whenever set), repeated numbers packed, then the
// `$unknown` fields verbatim. Tolerant of hand-built objects: a missing field counts as its default,
// and a number where a 64-bit bigint is expected is accepted.
import {
  type FieldDesc, type MessageDesc, K_BOOL, K_BYTES, K_DOUBLE, K_ENUM, K_FIXED32, K_FIXED64, K_INT32,
  K_INT64, K_MESSAGE, K_SFIXED64, K_SINT32, K_STRING, K_UINT32, K_UINT64,
} from './schema.js';
import { Writer } from './wire.js';

export function encodeMessage(d: MessageDesc, obj: object, sizeHint = 1024): Uint8Array {
  const w = new Writer(sizeHint);
  writeFields(w, d, obj);
  return w.finish();
}

export function writeFields(w: Writer, d: MessageDesc, obj: any): void {
  const fields = d.fields;
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i]!;
    const v = obj[f.name];
    if (v === undefined || v === null) continue;
    if (f.repeated) {
      const n = v.length;
      if (n === 0) continue;
      if (f.kind === K_MESSAGE) {
        const m = f.msg!;
        for (let j = 0; j < n; j++) {
          w.tag(f.tag, f.tagLen);
          const at = w.beginLen();
          writeFields(w, m, v[j]);
          w.endLen(at);
        }
      } else if (f.packed) {
        w.tag(f.tag, f.tagLen);
        const at = w.beginLen();
        for (let j = 0; j < n; j++) writeScalar(w, f.kind, v[j]);
        w.endLen(at);
      } else {
        for (let j = 0; j < n; j++) { w.tag(f.tag, f.tagLen); writeScalar(w, f.kind, v[j]); }
      }
      continue;
    }
    if (f.kind === K_MESSAGE) {
      w.tag(f.tag, f.tagLen);
      const at = w.beginLen();
      writeFields(w, f.msg!, v);
      w.endLen(at);
      continue;
    }
    if (!f.presence && isDefault(f, v)) continue;
    w.tag(f.tag, f.tagLen);
    writeScalar(w, f.kind, v);
  }
  const u: Uint8Array[] | undefined = obj.$unknown;
  if (u !== undefined) for (let i = 0; i < u.length; i++) w.raw(u[i]!, 0, u[i]!.length);
}

export function isDefault(f: FieldDesc, v: any): boolean {
  switch (f.kind) {
    case K_STRING: return v === '';
    case K_BYTES: return v.length === 0;
    case K_BOOL: return v === false;
    case K_DOUBLE: return v === 0 && 1 / v > 0; // -0 has its own bits: keep it
    case K_INT64: case K_UINT64: case K_FIXED64: case K_SFIXED64: return v === 0n || v === 0;
    default: return v === 0;
  }
}

function big(v: bigint | number): bigint {
  return typeof v === 'bigint' ? v : BigInt(v);
}

function writeScalar(w: Writer, kind: number, v: any): void {
  switch (kind) {
    case K_STRING: w.string(v); return;
    case K_BYTES: w.bytes(v); return;
    case K_DOUBLE: w.double(v); return;
    case K_FIXED64: case K_SFIXED64: w.fixed64(big(v)); return; // two's complement either way
    case K_FIXED32: w.fixed32(v); return;
    case K_INT32: case K_ENUM: w.int32(v | 0); return;
    case K_UINT32: w.uvarint(v >>> 0); return;
    case K_SINT32: w.uvarint(((v << 1) ^ (v >> 31)) >>> 0); return;
    case K_BOOL: w.uvarint(v ? 1 : 0); return;
    case K_INT64: case K_UINT64: w.varint64(big(v)); return;
    default: throw new Error(`pdata: unhandled kind ${kind}`);
  }
}
