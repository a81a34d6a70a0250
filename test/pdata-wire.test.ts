// Wire-level behaviour: unknown fields pass through, malformed input is refused up front.
import t from 'tap';
import { DecodeError, Telemetry, type ExportTraceServiceRequest, type Signal } from '../src/pdata/telemetry.js';
import { Reader } from '../src/pdata/wire.js';
import { bytes, f32, f64, ld, rng, str, varint, vi, indexOfBytes } from './pdata-helpers.js';

const TRACE_ID = Array.from({ length: 16 }, (_, i) => i + 1);
const kv = (k: string, v: string, ...extra: number[][]) => [...str(1, k), ...ld(2, str(1, v)), ...extra.flat()];
const span = (name: string, ...extra: number[][]) => [
  ...ld(1, TRACE_ID), ...ld(2, [9, 9, 9, 9, 9, 9, 9, 9]), ...str(5, name), ...vi(6, 2),
  ...f64(7, 1_700_000_000_000_000_000n), ...f64(8, 1_700_000_000_000_500_000n),
  ...ld(9, kv('a', 'b')), ...extra.flat(),
];

// Field 99 in a Span (varint), in a KeyValue (bytes) and at the top level (fixed32 and bytes).
const UNKNOWN_SPAN = vi(99, 123456789);
const UNKNOWN_KV = ld(99, [1, 2, 3]);
const UNKNOWN_TOP = [f32(99, 0xdeadbeef), str(98, 'from the future')];
const WITH_UNKNOWN = bytes(
  ld(1,
    ld(1, ld(1, kv('service.name', 'svc', UNKNOWN_KV))),
    ld(2, ld(1, str(1, 'scope')), ld(2, span('one', UNKNOWN_SPAN)), ld(2, span('two')))),
  ...UNKNOWN_TOP,
);

t.test('unknown fields survive decode -> modify -> encode', async (t) => {
  const tel = Telemetry.fromProto('traces', WITH_UNKNOWN);
  t.equal(tel.itemCount, 2);
  const req = tel.request() as ExportTraceServiceRequest;
  t.same(req.$unknown, UNKNOWN_TOP.map((u) => Uint8Array.from(u)), 'top level, tags included');
  const rs = req.resourceSpans[0]!;
  t.same(rs.resource!.attributes[0]!.$unknown, [Uint8Array.from(UNKNOWN_KV)], 'in a KeyValue');
  const [one, two] = rs.scopeSpans[0]!.spans;
  t.same(one!.$unknown, [Uint8Array.from(UNKNOWN_SPAN)], 'in a Span');
  t.equal(two!.$unknown, undefined, 'only where there were some');

  tel.markModified();
  t.same(Buffer.from(tel.toProto()), Buffer.from(WITH_UNKNOWN), 'unchanged tree re-encodes to the same bytes');

  one!.name = 'renamed';
  tel.markModified();
  const out = tel.toProto();
  for (const u of [UNKNOWN_SPAN, UNKNOWN_KV, ...UNKNOWN_TOP]) t.ok(indexOfBytes(out, Uint8Array.from(u)) >= 0, `field ${u[0]} bytes present`);
  const back = Telemetry.fromProto('traces', out).request() as ExportTraceServiceRequest;
  t.equal(back.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.name, 'renamed');
  t.same(back.$unknown, req.$unknown);
  t.same(back.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.$unknown, one!.$unknown);
  t.same(back.resourceSpans[0]!.resource!.attributes[0]!.$unknown, [Uint8Array.from(UNKNOWN_KV)]);

  const parts = Telemetry.fromProto('traces', out).split(1);
  t.equal(parts.length, 2);
  for (const p of parts) t.same((p.request() as ExportTraceServiceRequest).$unknown, req.$unknown, 'split repeats top-level unknown fields');
  t.notMatch(tel.toJSON(), /99|future/, 'OTLP/JSON has no place for unknown fields');
});

/** Ends of the top-level fields: the only prefixes that are whole messages. */
function topLevelBoundaries(b: Uint8Array): Set<number> {
  const ends = new Set([0]);
  let p = 0;
  const read = () => { let v = 0, s = 0, c = 0; do { c = b[p++]!; v += (c & 0x7f) * 2 ** s; s += 7; } while (c & 0x80); return v; };
  while (p < b.length) {
    const tag = read();
    const wt = tag & 7;
    if (wt === 2) { const n = read(); p += n; } else if (wt === 0) read(); else p += wt === 1 ? 8 : 4;
    ends.add(p);
  }
  return ends;
}

t.test('every truncation of a valid request is refused, except at top-level field boundaries', async (t) => {
  const full = bytes(WITH_UNKNOWN, ld(1, ld(2, ld(2, span('three')))));
  const ends = topLevelBoundaries(full);
  t.same([...ends].sort((a, b) => a - b).length, 5, 'empty, two resources, two unknown fields');
  const wrong: string[] = [];
  for (let len = 0; len < full.length; len++) {
    const prefix = full.subarray(0, len);
    try {
      const tel = Telemetry.fromProto('traces', prefix);
      if (!ends.has(len)) wrong.push(`prefix ${len} accepted`);
      tel.request();
    } catch (err) {
      if (!(err instanceof DecodeError)) wrong.push(`prefix ${len}: ${String(err)}`);
      else if (ends.has(len)) wrong.push(`prefix ${len} refused: ${err.message}`);
      else if (!/byte \d+/.test(err.message)) wrong.push(`prefix ${len}: no offset in "${err.message}"`);
    }
  }
  t.same(wrong, [], `${full.length} prefixes checked`);
  t.throws(() => Telemetry.fromProto('traces', full.subarray(0, 40)), { name: 'DecodeError', message: /truncated|past the end/ });
});

t.test('random bytes: refused with DecodeError, or (rarely) valid and then fully decodable', async (t) => {
  const next = rng(20240611);
  let refused = 0, accepted = 0;
  const wrong: string[] = [];
  const signals: Signal[] = ['traces', 'metrics', 'logs'];
  for (let i = 0; i < 3000; i++) {
    const b = Uint8Array.from({ length: 1 + Math.floor(next() * 120) }, () => Math.floor(next() * 256));
    const signal = signals[i % 3]!;
    try {
      const tel = Telemetry.fromProto(signal, b);
      accepted++;
      try { tel.request(); tel.markModified(); tel.toProto(); tel.toJSON(); } catch (err) { wrong.push(`accepted #${i} but: ${String(err)}`); }
    } catch (err) {
      refused++;
      if (!(err instanceof DecodeError)) wrong.push(`#${i}: ${String(err)}`);
    }
  }
  t.same(wrong, []);
  t.ok(refused > 2700, `${refused} refused, ${accepted} accepted`);

  // Corrupting one byte of a valid request: never anything but DecodeError, never a bad decode.
  for (let i = 0; i < 3000; i++) {
    const b = Uint8Array.from(WITH_UNKNOWN);
    b[Math.floor(next() * b.length)] = Math.floor(next() * 256);
    try {
      const tel = Telemetry.fromProto('traces', b);
      tel.request();
      tel.split(1);
    } catch (err) {
      if (!(err instanceof DecodeError)) wrong.push(`mutation #${i}: ${String(err)}`);
    }
  }
  t.same(wrong, [], 'single-byte corruptions');
});

t.test('malformed structures', async (t) => {
  const wrap = (...spanFields: number[][]) => bytes(ld(1, ld(2, ld(2, ...spanFields))));
  t.throws(() => Telemetry.fromProto('traces', wrap(vi(5, 7))), { name: 'DecodeError', message: /wrong wire type 0 for Span\.name .*byte \d+/ }, 'Span.name as a varint');
  t.throws(() => Telemetry.fromProto('traces', bytes(vi(1, 1))), { message: /wrong wire type 0 for ExportTraceServiceRequest\.resourceSpans/ });
  t.throws(() => Telemetry.fromProto('traces', wrap(f32(7, 1))), { message: /Span\.startTimeUnixNano/ }, 'fixed64 sent as fixed32');
  t.throws(() => Telemetry.fromProto('traces', wrap([0x2a, 50, 1, 2])), { message: /length 50 at byte \d+ runs past/ }, 'length past the end of its parent');
  t.throws(() => Telemetry.fromProto('traces', bytes(ld(1, ld(2, [0x12, 5, 0x12, 9, 0, 0, 0])))), { message: /runs past/ }, 'nested length beyond the enclosing one');
  t.throws(() => Telemetry.fromProto('traces', wrap([0x30, ...Array(10).fill(0xff), 1])), { message: /longer than 10 bytes/ });
  t.throws(() => Telemetry.fromProto('traces', wrap([0x9b, 0x06])), { message: /unsupported wire type 3/ }, 'group start (unknown field 99)');
  t.throws(() => Telemetry.fromProto('traces', wrap([0x9f, 0x06])), { message: /unsupported wire type 7/ });
  t.throws(() => Telemetry.fromProto('traces', bytes([0x00, 0x00])), { message: /field number 0/ });
  const hist = (counts: number[]) => bytes(ld(1, ld(2, ld(2, ld(9, ld(1, ld(6, counts)))))));
  t.equal(Telemetry.fromProto('metrics', hist(Array(16).fill(0))).itemCount, 1, 'packed fixed64 of 16 bytes');
  t.throws(() => Telemetry.fromProto('metrics', hist(Array(12).fill(0))), { message: /packed HistogramDataPoint\.bucketCounts .* multiple of 8/ });
  t.throws(() => Telemetry.fromProto('traces', wrap(ld(9, ld(2, [0x0a, 3, 0x41])))), { message: /in KeyValue\.value in Span\.attributes in ScopeSpans\.spans/ }, 'the path is named');
  t.equal(Telemetry.fromProto('traces', new Uint8Array(0)).itemCount, 0, 'empty request is valid');
  t.equal(Telemetry.fromProto('traces', Buffer.from(WITH_UNKNOWN)).itemCount, 2, 'a Node Buffer is accepted');
  t.same(varint(300), [0xac, 0x02], 'test wire builder sanity');
});

t.test('protobuf merge rules: last oneof member wins, a repeated singular message merges', async (t) => {
  const attr = (...value: number[][]) => ld(9, str(1, 'k'), ld(2, ...value));
  const req = bytes(ld(1, ld(2, ld(2,
    str(5, 'first'), str(5, 'second'),
    attr(str(1, 'text'), vi(3, 5)),
    ld(15, str(2, 'msg')), ld(15, vi(3, 2)),
  ))));
  const s = (Telemetry.fromProto('traces', req).request() as ExportTraceServiceRequest).resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
  t.equal(s.name, 'second', 'a repeated scalar: last one wins');
  t.same(s.attributes[0]!.value, { intValue: 5n }, 'oneof: the later member replaces the earlier');
  t.same(s.status, { message: 'msg', code: 2 }, 'two Status occurrences merge');
  const metric = bytes(ld(1, ld(2, ld(2, str(1, 'm'), ld(5, ld(1, f64(3, 1n))), ld(7, vi(2, 1))))));
  const tel = Telemetry.fromProto('metrics', metric);
  t.equal(tel.itemCount, 1, 'the scan counts what is on the wire');
  const m = (tel.request() as any).resourceMetrics[0].scopeMetrics[0].metrics[0];
  t.same([m.gauge, m.sum?.aggregationTemporality], [undefined, 1], 'oneof of messages: the later one wins');
});

t.test('Reader.string: the short-string cache answers as the UTF-8 decoder does, hits and misses alike', async (t) => {
  const next = rng(7);
  const alphabet = 'abcdefghijklmnopqrstuvwxyz._0123456789-';
  const strings: string[] = ['', 'a', 'ab', 'abc', 'abcd', 'x'.repeat(39), 'y'.repeat(40), 'z'.repeat(41), 'é', 'ab\u00e9', 'llm.input_messages.0.message.role', 'llm.input_messages.1.message.role'];
  for (let i = 0; i < 3000; i++) {
    const n = Math.floor(next() * 46);
    let s = '';
    for (let k = 0; k < n; k++) s += alphabet[Math.floor(next() * alphabet.length)];
    if (next() < 0.05 && n > 0) s = s.slice(0, n - 1) + 'ü'; // non-ASCII: not cached
    strings.push(s);
  }
  const buf = Buffer.from(strings.join(''), 'utf8');
  const at: number[] = [];
  let p = 0;
  for (const s of strings) {
    const n = Buffer.byteLength(s, 'utf8');
    at.push(p, p + n);
    p += n;
  }
  const r = new Reader(new Uint8Array(buf.buffer, buf.byteOffset, buf.length));
  const wrong: string[] = [];
  // Three rounds, in different orders: first misses, then hits, then slots taken by others.
  for (const order of [1, -1, 1]) {
    for (let j = 0; j < strings.length; j++) {
      const i = order > 0 ? j : strings.length - 1 - j;
      const got = r.string(at[2 * i]!, at[2 * i + 1]!);
      if (got !== strings[i]) wrong.push(`${JSON.stringify(strings[i])} read as ${JSON.stringify(got)}`);
    }
  }
  t.same(wrong.slice(0, 5), [], `every one of ${strings.length} strings read back right three times`);
});

t.test('Reader.idKey: the id cache answers as latin1 decoding does, for ids repeated and not', async (t) => {
  const next = rng(3);
  const ids: Uint8Array[] = [];
  for (let i = 0; i < 4000; i++) {
    const n = [0, 1, 3, 4, 5, 8, 8, 16, 16, 16, 17, 20][Math.floor(next() * 12)]!;
    ids.push(Uint8Array.from({ length: n }, () => Math.floor(next() * 256)));
    if (next() < 0.3 && i > 0) ids.push(ids[Math.floor(next() * i)]!); // a repeat: a hit, or its slot taken since
  }
  const buf = Buffer.concat(ids);
  const r = new Reader(new Uint8Array(buf.buffer, buf.byteOffset, buf.length));
  const wrong: string[] = [];
  for (let pass = 0; pass < 2; pass++) {
    let at = 0;
    for (const id of ids) {
      const got = r.idKey(at, at + id.length);
      if (got !== Buffer.from(id).toString('latin1')) wrong.push(Buffer.from(id).toString('hex'));
      at += id.length;
    }
  }
  t.same(wrong.slice(0, 5), [], `${ids.length} ids read back right twice`);
});
