// src/pdata/read.ts: the read-only wire view gives, for the keys asked for, what a full decode
// gives, for spans and log records, across resources and scopes; keys of equal length and shared
// prefixes are told apart; keys not asked for are skipped.
import t from 'tap';
import { ItemView, KeySet, readItems } from '../src/pdata/read.js';
import { Reader } from '../src/pdata/wire.js';
import { bytes, ld, rng, str, vi } from './pdata-helpers.js';
import type { ExportTraceServiceRequest } from '../src/pdata/telemetry.js';
import { Telemetry } from '../src/pdata/telemetry.js';
import { logRequest, spanRequest } from './genai-support.js';

t.test('KeySet: exact byte matches only, equal lengths and shared prefixes apart', async (t) => {
  const ks = new KeySet(['gen_ai.agent.id', 'gen_ai.agent.xx', 'a', 'ключ']);
  const find = (k: string) => {
    const b = Buffer.from(`..${k}..`);
    return ks.find(b, 2, 2 + Buffer.byteLength(k));
  };
  t.equal(find('gen_ai.agent.id'), 0);
  t.equal(find('gen_ai.agent.xx'), 1);
  t.equal(find('gen_ai.agent.iD'), -1);
  t.equal(find('a'), 2);
  t.equal(find('b'), -1);
  t.equal(find('ключ'), 3, 'UTF-8 keys');
  t.equal(find(''), -1);
});

t.test('spans: wanted values, fixed fields and resources as a decode gives them', async (t) => {
  const req = spanRequest([
    { id: 1, name: 'chat gpt-4o', attrs: { model: 'gpt-4o', tokens: 120, cost: { double: 0.25 }, flag: true, numeric: '42', skip: 'x'.repeat(300) }, status: 2 },
    { id: 2, parent: 1, name: 'execute_tool', attrs: { tokens: -7 } },
  ], { 'service.name': 'svc-a' });
  // A second resource, appended as its own ResourceSpans.
  const second = spanRequest([{ id: 3, name: 'other', attrs: { model: 'm2' } }], { 'service.name': 'svc-b' });
  const a = req.request() as ExportTraceServiceRequest;
  const b = second.request() as ExportTraceServiceRequest;
  const both = Telemetry.fromRequest('traces', { resourceSpans: [...a.resourceSpans, ...b.resourceSpans] }).toProto();
  const ks = new KeySet(['model', 'tokens', 'cost', 'flag', 'numeric', 'absent']);
  const seen: unknown[] = [];
  readItems('traces', both, new ItemView(ks), (it, res) => {
    seen.push({
      service: res.resource?.attributes.find((kv) => kv.key === 'service.name')?.value?.stringValue,
      name: it.fieldString(5), kind: it.varint(6), status: it.statusCode(), seconds: it.seconds(7, 8),
      model: it.string(0), tokens: it.number(1), cost: it.number(2), flag: it.string(3), numeric: it.number(4), absent: it.has(5),
      spanId: Buffer.from(it.fieldBytes(2)).toString('hex'),
    });
  });
  t.same(seen, [
    { service: 'svc-a', name: 'chat gpt-4o', kind: 1, status: 2, seconds: 0.001, model: 'gpt-4o', tokens: 120, cost: 0.25, flag: 'true', numeric: 42, absent: false, spanId: Buffer.from(a.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.spanId).toString('hex') },
    { service: 'svc-a', name: 'execute_tool', kind: 1, status: 0, seconds: 0.001, model: undefined, tokens: -7, cost: undefined, flag: undefined, numeric: undefined, absent: false, spanId: Buffer.from(a.resourceSpans[0]!.scopeSpans[0]!.spans[1]!.spanId).toString('hex') },
    { service: 'svc-b', name: 'other', kind: 1, status: 0, seconds: 0.001, model: 'm2', tokens: undefined, cost: undefined, flag: undefined, numeric: undefined, absent: false, spanId: Buffer.from(b.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.spanId).toString('hex') },
  ]);
});

t.test('a key listed twice is found under both its indexes (a dimension that is also a base key)', async (t) => {
  const req = spanRequest([{ id: 1, name: 'chat', attrs: { model: 'gpt-4o', tokens: 3 } }], { 'service.name': 'svc' });
  const ks = new KeySet(['model', 'tokens', 'model', 'absent', 'tokens']);
  t.same(ks.canonical, [0, 1, 0, 3, 1]);
  readItems('traces', req.toProto(), new ItemView(ks), (it) => {
    t.same([it.string(0), it.string(2), it.number(1), it.number(4), it.has(2), it.has(3)], ['gpt-4o', 'gpt-4o', 3, 3, true, false]);
  });
});

t.test('log records: attributes at their own field number', async (t) => {
  const req = logRequest([{ attrs: { 'event.name': 'a2a.task.status', n: 3 }, trace: 5 }, { attrs: { n: 4 } }]);
  const ks = new KeySet(['n', 'event.name']);
  const got: unknown[] = [];
  readItems('logs', req.toProto(), new ItemView(ks), (it) => got.push([it.number(0), it.string(1), it.hasField(9)]));
  t.same(got, [[3, 'a2a.task.status', true], [4, undefined, false]]);
});

/** What ItemView finds for each wanted key in one span's attributes, by the rule it has always
 *  followed, written plainly through the Reader: per KeyValue, the key fields in turn (the first
 *  one not wanted ends the KeyValue), the last value field; later KeyValues win. */
function referenceValues(span: Uint8Array, wanted: readonly string[]): Array<string | undefined> {
  const r = new Reader(span);
  const out: Array<[number, number]> = wanted.map(() => [-1, -1]);
  while (r.pos < span.length) {
    const tag = r.uint32(span.length);
    if (tag !== 0x4a) { r.skip(tag & 7, span.length); continue; }
    const n = r.length(span.length);
    const kvEnd = r.pos + n;
    let k = -1, vs = -1, ve = -1;
    while (r.pos < kvEnd) {
      const t = r.uint32(kvEnd);
      if (t === 0x0a) {
        const kn = r.length(kvEnd);
        k = wanted.indexOf(Buffer.from(span.subarray(r.pos, r.pos + kn)).toString('utf8'));
        r.pos += kn;
        if (k < 0) break;
      } else if (t === 0x12) {
        const vn = r.length(kvEnd);
        vs = r.pos;
        ve = vs + vn;
        r.pos = ve;
      } else r.skip(t & 7, kvEnd);
    }
    if (k >= 0) out[k] = [vs, ve];
    r.pos = kvEnd;
  }
  // Each value is an AnyValue holding a string (field 1): the string.
  return out.map(([s, e]) => {
    if (s < 0) return undefined;
    const v = new Reader(span.subarray(s, e));
    v.uint32(e - s);
    const n = v.length(e - s);
    return Buffer.from(span.subarray(s + v.pos, s + v.pos + n)).toString('utf8');
  });
}

t.test('ItemView.load: every KeyValue shape read as the plain reading rule reads it, 2,000 random spans', async (t) => {
  const next = rng(5);
  const wanted = ['gen_ai.operation.name', 'model', 'k'.repeat(130), 'tokens', 'x'];
  const others = ['other', 'gen_ai.operation.nam', 'modem', 'y', 'k'.repeat(129)];
  const sv = (s: string) => ld(2, str(1, s)); // an AnyValue string, as KeyValue field 2
  const wrong: string[] = [];
  for (let n = 0; n < 2000; n++) {
    const attrs: number[][] = [];
    for (let a = Math.floor(next() * 8); a > 0; a--) {
      const key = next() < 0.6 ? wanted[Math.floor(next() * wanted.length)]! : others[Math.floor(next() * others.length)]!;
      const value = next() < 0.1 ? 'v'.repeat(200 + Math.floor(next() * 20000)) : `v${n}-${a}`;
      const shape = Math.floor(next() * 8);
      const kv =
        shape === 0 ? [...sv(value), ...str(1, key)] // value first
        : shape === 1 ? [...str(1, 'other'), ...str(1, key), ...sv(value)] // two keys, an unwanted one first
        : shape === 2 ? [...str(1, key), ...str(1, 'model'), ...sv(value)] // two keys, a wanted one last
        : shape === 3 ? [...str(1, key)] // no value
        : shape === 4 ? [...str(1, key), ...sv(value), ...vi(3, 7)] // an unknown field after
        : shape === 5 ? [...str(1, key), ...sv(value), ...sv(`${value}-last`)] // two values: the last counts
        : [...str(1, key), ...sv(value)]; // the common shape
      attrs.push(ld(9, kv));
    }
    const span = bytes(ld(1, new Uint8Array(16).fill(n & 0xff)), str(5, `s${n}`), vi(6, 1), ...attrs, ld(15, vi(3, 2)));
    const view = new ItemView(new KeySet(wanted));
    view.load(new Reader(span), 0, span.length, 9);
    const want = referenceValues(span, wanted);
    for (let k = 0; k < wanted.length; k++) {
      const got = view.has(k) ? view.string(k) : undefined;
      if (got !== want[k]) wrong.push(`span ${n} key ${k}: ${String(got).slice(0, 40)} != ${String(want[k]).slice(0, 40)}`);
    }
    if (view.fieldString(5) !== `s${n}` || view.statusCode() !== 2) wrong.push(`span ${n}: fields`);
  }
  t.same(wrong.slice(0, 5), [], 'every wanted value found where the rule finds it');
});
