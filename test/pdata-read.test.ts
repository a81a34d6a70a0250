// src/pdata/read.ts: the read-only wire view gives, for the keys asked for, what a full decode
// gives, for spans and log records, across resources and scopes; keys of equal length and shared
// prefixes are told apart; keys not asked for are skipped.
import t from 'tap';
import { ItemView, KeySet, readItems } from '../src/pdata/read.js';
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
