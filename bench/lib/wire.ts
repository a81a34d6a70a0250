// Wire-level protobuf helpers for the benchmark: count the spans in an ExportTraceServiceRequest
// without decoding it, and find where the trace ids sit so the load generator can make every
// request's ids unique by patching bytes.
//
// ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
// ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; string schema_url = 3; }
// ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; string schema_url = 3; }
// Span { bytes trace_id = 1; bytes span_id = 2; ... }

const WT_VARINT = 0;
const WT_I64 = 1;
const WT_LEN = 2;
const WT_I32 = 5;

export class WireError extends Error {
  override readonly name = 'WireError';
}

/** Reads a varint at `pos`; returns the value (exact up to 2^53) and stores the next position in `out[0]`. */
function varint(buf: Uint8Array, pos: number, end: number, out: number[]): number {
  let value = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= end) throw new WireError(`truncated varint at ${pos}`);
    const b = buf[pos++]!;
    value += (b & 0x7f) * mul;
    if (b < 0x80) {
      out[0] = pos;
      return value;
    }
    mul *= 128;
  }
  throw new WireError(`varint too long at ${pos}`);
}

/** Calls `onField(field, start, end)` for every length-delimited field in [pos, end); skips the rest. */
function walk(buf: Uint8Array, pos: number, end: number, onLen: (field: number, start: number, end: number) => void): void {
  const next = [0];
  while (pos < end) {
    const key = varint(buf, pos, end, next);
    pos = next[0]!;
    const field = Math.floor(key / 8);
    switch (key & 7) {
      case WT_VARINT:
        varint(buf, pos, end, next);
        pos = next[0]!;
        break;
      case WT_I64:
        pos += 8;
        break;
      case WT_I32:
        pos += 4;
        break;
      case WT_LEN: {
        const len = varint(buf, pos, end, next);
        pos = next[0]!;
        if (pos + len > end) throw new WireError(`field ${field} length ${len} overruns message at ${pos}`);
        onLen(field, pos, pos + len);
        pos += len;
        break;
      }
      default:
        throw new WireError(`unsupported wire type ${key & 7} at ${pos}`);
    }
    if (pos > end) throw new WireError(`truncated field ${field}`);
  }
}

/** Number of spans in an ExportTraceServiceRequest: fields 1 (ResourceSpans) → 2 (ScopeSpans) → 2 (Span). */
export function countSpans(buf: Uint8Array): number {
  let n = 0;
  walk(buf, 0, buf.length, (f, s, e) => {
    if (f !== 1) return;
    walk(buf, s, e, (f2, s2, e2) => {
      if (f2 !== 2) return;
      walk(buf, s2, e2, (f3) => {
        if (f3 === 2) n++;
      });
    });
  });
  return n;
}

/** Byte offsets of the 16-byte trace_id of every span (the generated spans carry no links, whose
 *  trace ids would need patching too). */
export function traceIdOffsets(buf: Uint8Array): number[] {
  const offsets: number[] = [];
  walk(buf, 0, buf.length, (f, s, e) => {
    if (f !== 1) return;
    walk(buf, s, e, (f2, s2, e2) => {
      if (f2 !== 2) return;
      walk(buf, s2, e2, (f3, s3, e3) => {
        if (f3 !== 2) return;
        walk(buf, s3, e3, (f4, s4, e4) => {
          if (f4 === 1 && e4 - s4 === 16) offsets.push(s4);
        });
      });
    });
  });
  return offsets;
}
