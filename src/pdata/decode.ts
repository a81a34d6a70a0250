// The generic protobuf decoder: one loop for every message, driven by the descriptors in schema.ts.
// Fields the table does not know are kept verbatim (tag included) in `$unknown`, so that a decoded
// and re-encoded request loses nothing a newer sender put in it.
import { DecodeError, MAX_DEPTH, tooDeep } from './errors.js';
import {
  type FieldDesc, type MessageDesc, K_BOOL, K_BYTES, K_DOUBLE, K_ENUM, K_FIXED32, K_FIXED64, K_INT32,
  K_INT64, K_MESSAGE, K_SFIXED64, K_SINT32, K_STRING, K_UINT32, K_UINT64, WT_LEN,
} from './schema.js';
import { Reader } from './wire.js';

/** Decodes a whole message of type `d`. Throws DecodeError on malformed input. */
export function decodeMessage<T>(d: MessageDesc, bytes: Uint8Array): T {
  depth = -1; // the root is level 0, as in the scan: what the scan accepts decodes
  const r = new Reader(bytes);
  return decodeInto(r, d, r.buf.length, undefined) as T;
}

/** A fresh object with proto3 defaults in place and an empty array per repeated field. */
export function createMessage(d: MessageDesc): any {
  return d.create();
}

function wrongWireType(d: MessageDesc, f: FieldDesc, wt: number, at: number): DecodeError {
  return new DecodeError(`wrong wire type ${wt} for ${d.name}.${f.name} (field ${f.no}, expects ${f.wireType}) at byte ${at}`);
}

/** Nesting now; reset by decodeMessage (see scan.ts). */
let depth = 0;

// `into` is set when a singular message field occurs again: protobuf merges the occurrences.
function decodeInto(r: Reader, d: MessageDesc, end: number, into: any): any {
  if (++depth > MAX_DEPTH) throw tooDeep();
  const obj = into ?? d.create();
  const byNo = d.byNo;
  let oneofs = into === undefined ? 0 : -1; // oneof groups already holding a member
  let seen = into === undefined ? 0 : -1; // singular message fields already decoded (by number)
  while (r.pos < end) {
    const start = r.pos;
    const tag = r.uint32(end);
    const no = tag >>> 3;
    const wt = tag & 7;
    const f = no < byNo.length ? byNo[no] : undefined;
    if (f === undefined) {
      if (no === 0) throw new DecodeError(`field number 0 at byte ${start} in ${d.name}`);
      r.skip(wt, end);
      (obj.$unknown ??= []).push(r.buf.slice(start, r.pos));
      continue;
    }
    if (wt !== f.wireType) {
      if (!f.packed || wt !== WT_LEN) throw wrongWireType(d, f, wt, start);
      const arr = obj[f.name];
      const e = r.length(end) + r.pos;
      while (r.pos < e) arr.push(readValue(r, f, e));
      continue;
    }
    if (f.repeated) {
      obj[f.name].push(readValue(r, f, end));
    } else {
      if (f.kind === K_MESSAGE) {
        // a repeat of a singular message field merges into the first (looked up only then)
        const bit = 1 << (f.no & 31);
        const prev = (seen & bit) !== 0 || f.no > 31 ? obj[f.name] : undefined;
        seen |= bit;
        const n = r.length(end);
        obj[f.name] = decodeInto(r, f.msg!, r.pos + n, prev);
      } else {
        obj[f.name] = readValue(r, f, end);
      }
      if (f.oneofBit !== 0) {
        if ((oneofs & f.oneofBit) !== 0) clearSiblings(obj, f);
        oneofs |= f.oneofBit;
      }
    }
  }
  depth--;
  return obj;
}

function clearSiblings(obj: any, f: FieldDesc): void {
  const s = f.siblings;
  for (let i = 0; i < s.length; i++) if (obj[s[i]!] !== undefined) delete obj[s[i]!];
}

function readValue(r: Reader, f: FieldDesc, end: number): unknown {
  switch (f.kind) {
    case K_STRING: {
      const n = r.length(end);
      const s = r.pos;
      r.pos = s + n;
      return r.string(s, s + n);
    }
    case K_MESSAGE: {
      const n = r.length(end);
      return decodeInto(r, f.msg!, r.pos + n, undefined);
    }
    case K_BYTES: {
      const n = r.length(end);
      const s = r.pos;
      r.pos = s + n;
      return r.buf.slice(s, s + n);
    }
    case K_FIXED64: return r.view.getBigUint64(r.fixedEnd(8, end), true);
    case K_SFIXED64: return r.view.getBigInt64(r.fixedEnd(8, end), true);
    case K_DOUBLE: return r.view.getFloat64(r.fixedEnd(8, end), true);
    case K_FIXED32: return r.view.getUint32(r.fixedEnd(4, end), true);
    case K_INT32: case K_ENUM: return r.uint32(end) | 0;
    case K_UINT32: return r.uint32(end);
    case K_SINT32: { const v = r.uint32(end); return (v >>> 1) ^ -(v & 1); }
    case K_BOOL: r.varint64(end); return r.lo !== 0 || r.hi !== 0;
    case K_INT64: return r.int64(end);
    case K_UINT64: return r.uint64(end);
    default: throw new Error(`pdata: unhandled kind ${f.kind}`);
  }
}
