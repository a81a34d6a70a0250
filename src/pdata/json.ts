// The generic OTLP/JSON mapper (both ways), driven by the same descriptors as the protobuf codec.
// OTLP/JSON is proto3 JSON with three changes: trace/span ids are hex, enums are integers only, and
// unknown keys are ignored. Output: lowerCamelCase keys, 64-bit integers as decimal strings, other
// bytes base64, proto3 defaults left out (as in the protobuf encoding). Input is lenient where proto3
// JSON is: snake_case keys, numbers or strings for integers, enum names, null for "absent".
import { createMessage } from './decode.js';
import { isDefault } from './encode.js';
import { DecodeError, MAX_DEPTH } from './errors.js';
import {
  type FieldDesc, type MessageDesc, K_BOOL, K_BYTES, K_DOUBLE, K_ENUM, K_FIXED32, K_FIXED64, K_INT32,
  K_INT64, K_MESSAGE, K_SFIXED64, K_SINT32, K_STRING, K_UINT32, K_UINT64,
} from './schema.js';
import { plain } from './wire.js';

// ---- object tree -> JSON text ----

export function messageToJSON(d: MessageDesc, obj: object): string {
  return jsonMsg(d, obj);
}

function jsonMsg(d: MessageDesc, obj: any): string {
  let s = '{';
  const fields = d.fields;
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i]!;
    const v = obj[f.name];
    if (v === undefined || v === null) continue;
    let out: string;
    if (f.repeated) {
      if (v.length === 0) continue;
      out = '[';
      for (let j = 0; j < v.length; j++) out += (j === 0 ? '' : ',') + jsonValue(f, v[j]);
      out += ']';
    } else {
      if (f.kind !== K_MESSAGE && !f.presence && isDefault(f, v)) continue;
      out = jsonValue(f, v);
    }
    s += (s.length === 1 ? '' : ',') + f.jsonKey + out;
  }
  return s + '}';
}

function asBuffer(v: Uint8Array): Buffer {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

function jsonValue(f: FieldDesc, v: any): string {
  switch (f.kind) {
    case K_MESSAGE: return jsonMsg(f.msg!, v);
    case K_STRING: return JSON.stringify(v);
    case K_BYTES: return '"' + asBuffer(v).toString(f.hex ? 'hex' : 'base64') + '"';
    case K_BOOL: return v ? 'true' : 'false';
    case K_DOUBLE:
      if (Number.isFinite(v)) return String(v);
      return v !== v ? '"NaN"' : v > 0 ? '"Infinity"' : '"-Infinity"';
    case K_INT64: case K_UINT64: case K_FIXED64: case K_SFIXED64: return '"' + String(v) + '"';
    default: return String(v);
  }
}

// ---- parsed JSON -> object tree ----

/** Carries the JSON path up from where the problem is; turned into a DecodeError at the top. */
class JsonProblem extends Error {
  readonly segs: string[] = [];
}

function problem(what: string, v: unknown): JsonProblem {
  const shown = typeof v === 'string' ? JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v) : Array.isArray(v) ? 'an array' : v === null ? 'null' : typeof v === 'object' ? 'an object' : String(v);
  return new JsonProblem(`expected ${what}, got ${shown}`);
}

/** Parses OTLP/JSON text (or its UTF-8 bytes) as a message of type `d`. */
export function messageFromJSON<T>(d: MessageDesc, json: string | Uint8Array): T {
  let text: string;
  let parsed: unknown;
  try {
    text = typeof json === 'string' ? json : new TextDecoder('utf-8', { fatal: true }).decode(json);
    parsed = JSON.parse(text);
  } catch (err) {
    throw new DecodeError(`invalid JSON: ${(err as Error).message}`);
  }
  depth = -1; // the root is level 0, as in the protobuf scan
  try {
    return fromMsg(d, parsed) as T;
  } catch (err) {
    if (!(err instanceof JsonProblem)) throw err;
    const path = err.segs.reverse().join('') || '(top level)';
    throw new DecodeError(`invalid OTLP/JSON at ${path}: ${err.message}`);
  }
}

/** Nesting now; reset by messageFromJSON (see scan.ts). */
let depth = 0;

function fromMsg(d: MessageDesc, o: any): any {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw problem(`an object (${d.name})`, o);
  if (++depth > MAX_DEPTH) throw new JsonProblem(`messages nested deeper than ${MAX_DEPTH} levels`);
  const obj = createMessage(d);
  for (const key in o) {
    const f = d.byJson.get(key);
    if (f === undefined) continue; // unknown keys are ignored, as OTLP/JSON requires
    const v = o[key];
    if (v === null) continue;
    try {
      if (f.repeated) {
        if (!Array.isArray(v)) throw problem('an array', v);
        const arr = obj[f.name];
        for (let i = 0; i < v.length; i++) {
          try {
            arr.push(fromValue(f, v[i]));
          } catch (err) {
            if (err instanceof JsonProblem) err.segs.push(`[${i}]`);
            throw err;
          }
        }
      } else {
        obj[f.name] = fromValue(f, v);
        if (f.oneof !== undefined) for (const s of f.siblings) if (s in obj && s !== f.name) delete obj[s];
      }
    } catch (err) {
      if (err instanceof JsonProblem) err.segs.push('.' + f.name);
      throw err;
    }
  }
  depth--;
  return obj;
}

const INT_RE = /^-?\d+$/;
const HEX_RE = /^(?:[0-9a-fA-F]{2})*$/;
const B64_RE = /^[A-Za-z0-9+/_-]*={0,2}$/;
const MIN_I64 = -(2n ** 63n), MAX_I64 = 2n ** 63n - 1n, MAX_U64 = 2n ** 64n - 1n;

function int32Of(f: FieldDesc, v: unknown): number {
  let n: number;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string' && INT_RE.test(v)) n = Number(v);
  else if (typeof v === 'string' && f.enumValues !== undefined && v in f.enumValues) return f.enumValues[v]!;
  else throw problem(f.kind === K_ENUM ? 'an enum number or name' : 'an integer', v);
  const unsigned = f.kind === K_UINT32 || f.kind === K_FIXED32;
  const lo = unsigned ? 0 : -2147483648, hi = unsigned ? 4294967295 : 2147483647;
  if (!Number.isInteger(n) || n < lo || n > hi) throw problem(unsigned ? 'a 32-bit unsigned integer' : 'a 32-bit integer', v);
  return n;
}

function int64Of(f: FieldDesc, v: unknown): bigint {
  let n: bigint;
  if (typeof v === 'number' && Number.isInteger(v)) n = BigInt(v);
  else if (typeof v === 'string' && INT_RE.test(v)) n = BigInt(v);
  else throw problem('a 64-bit integer (number or decimal string)', v);
  const unsigned = f.kind === K_UINT64 || f.kind === K_FIXED64;
  if (unsigned ? n < 0n || n > MAX_U64 : n < MIN_I64 || n > MAX_I64) throw problem(unsigned ? 'an unsigned 64-bit integer' : 'a signed 64-bit integer', v);
  return n;
}

function doubleOf(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    if (v === 'NaN') return NaN;
    if (v === 'Infinity') return Infinity;
    if (v === '-Infinity') return -Infinity;
    const n = Number(v);
    if (v.trim() !== '' && Number.isFinite(n)) return n;
  }
  throw problem('a number', v);
}

function bytesOf(f: FieldDesc, v: unknown): Uint8Array {
  if (typeof v === 'string') {
    if (f.hex) {
      if (HEX_RE.test(v)) return plain(Buffer.from(v, 'hex'));
      throw problem('a hex string', v);
    }
    if (B64_RE.test(v) && v.replace(/=+$/, '').length % 4 !== 1) return plain(Buffer.from(v, 'base64'));
  }
  throw problem(f.hex ? 'a hex string' : 'a base64 string', v);
}

function fromValue(f: FieldDesc, v: unknown): unknown {
  switch (f.kind) {
    case K_MESSAGE: return fromMsg(f.msg!, v);
    case K_STRING:
      if (typeof v !== 'string') throw problem('a string', v);
      return v;
    case K_BOOL:
      if (typeof v !== 'boolean') throw problem('true or false', v);
      return v;
    case K_BYTES: {
      const b = bytesOf(f, v);
      if (f.idLength !== 0 && b.length !== 0 && b.length !== f.idLength) throw problem(`an id of ${f.idLength} bytes (${2 * f.idLength} hex digits) or empty`, v);
      return b;
    }
    case K_DOUBLE: return doubleOf(v);
    case K_INT64: case K_UINT64: case K_FIXED64: case K_SFIXED64: return int64Of(f, v);
    case K_INT32: case K_UINT32: case K_SINT32: case K_FIXED32: case K_ENUM: return int32Of(f, v);
    default: throw new Error(`pdata: unhandled kind ${f.kind}`);
  }
}
