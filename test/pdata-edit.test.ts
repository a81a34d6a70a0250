// src/pdata/edit.ts at wire level: items dropped (first, middle, last, a whole scope, a whole
// resource), tracestates set and replaced, span events cut, the original bytes returned when nothing
// changes; then, over seeded random requests of many shapes, the edited bytes against the same
// decisions made on the decoded request and encoded again, for editItems itself and for the
// probabilistic_sampler and filter processors against their decoded references.
import t from 'tap';
import { consumerOf } from '../src/consumer.js';
import { decodeMessage } from '../src/pdata/decode.js';
import { DROP, editItems, SPAN, type Decision, type ItemEdit, type WireItem } from '../src/pdata/edit.js';
import { KeySet } from '../src/pdata/read.js';
import { Writer } from '../src/pdata/wire.js';
import { REQUEST_DESC } from '../src/pdata/schema.js';
import {
  Telemetry, type AnyValue, type ExportLogsServiceRequest, type ExportTraceServiceRequest, type KeyValue, type LogRecord, type Signal, type Span,
} from '../src/pdata/telemetry.js';
import { filterProcessorFactory } from '../processors/filter/factory.js';
import { filterRecords, filterSpans } from '../processors/filter/decoded.js';
import { keeper, type FilterConfig } from '../processors/filter/processor.js';
import type { ConditionConfig } from '../processors/filter/conditions.js';
import { probabilisticSamplerProcessorFactory } from '../processors/probabilistic_sampler/factory.js';
import { sampleRecords, sampleSpans } from '../processors/probabilistic_sampler/decoded.js';
import { ProbabilisticSampler, type ProbabilisticSamplerConfig } from '../processors/probabilistic_sampler/processor.js';
import { metricValue, settings } from './helper.js';

// ---- requests -----------------------------------------------------------------------------------

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** A canonical text of a decoded request: ids as hex, 64-bit integers as text, unknown fields kept. */
function canon(req: unknown): string {
  return JSON.stringify(req, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v instanceof Uint8Array ? hex(v) : v));
}

const decodeTraces = (b: Uint8Array) => decodeMessage<ExportTraceServiceRequest>(REQUEST_DESC.traces!, b);
const decodeLogs = (b: Uint8Array) => decodeMessage<ExportLogsServiceRequest>(REQUEST_DESC.logs!, b);
const encode = (signal: Signal, req: ExportTraceServiceRequest | ExportLogsServiceRequest) => Telemetry.fromRequest(signal, structuredClone(req)).toProto();

function span(name: string, over: Partial<Span> = {}): Span {
  return {
    traceId: Uint8Array.from({ length: 16 }, (_, i) => i + name.length), spanId: Uint8Array.from({ length: 8 }, (_, i) => i + 1), traceState: '',
    parentSpanId: new Uint8Array(0), flags: 257, name, kind: 3, startTimeUnixNano: 1_700_000_000_000_000_000n, endTimeUnixNano: 1_700_000_000_500_000_000n,
    attributes: [{ key: 'a', value: { stringValue: name } }, { key: 'n', value: { intValue: 7n } }], droppedAttributesCount: 1,
    events: [{ timeUnixNano: 5n, name: 'e1', attributes: [{ key: 'x', value: { boolValue: true } }], droppedAttributesCount: 0 }],
    droppedEventsCount: 2, links: [], droppedLinksCount: 0, status: { code: 2, message: 'boom' }, ...over,
  };
}

function traces(resources: Array<Array<Span[]>>): ExportTraceServiceRequest {
  return {
    resourceSpans: resources.map((scopes, r) => ({
      resource: { attributes: [{ key: 'service.name', value: { stringValue: `svc-${r}` } }], droppedAttributesCount: 0 },
      schemaUrl: `https://schema/${r}`,
      scopeSpans: scopes.map((spans, s) => ({ scope: { name: `lib-${r}-${s}`, version: '1', attributes: [], droppedAttributesCount: 0 }, schemaUrl: '', spans })),
    })),
  };
}

/** editItems over traces with `decide` per span name; the result decoded (or the original). */
function edit(req: ExportTraceServiceRequest, decide: (name: string, item: WireItem) => Decision) {
  const bytes = encode('traces', req);
  const res = editItems('traces', bytes, (item) => decide(item.string(SPAN.name), item));
  return { res, out: res.bytes === undefined ? undefined : decodeTraces(res.bytes), bytes };
}

/** The decoded request with the spans `keep` refuses taken out, empty containers removed. */
function without(req: ExportTraceServiceRequest, keep: (s: Span) => boolean): ExportTraceServiceRequest {
  const r = structuredClone(req);
  for (const rs of r.resourceSpans) {
    for (const ss of rs.scopeSpans) ss.spans = ss.spans.filter(keep);
    rs.scopeSpans = rs.scopeSpans.filter((ss) => ss.spans.length > 0);
  }
  r.resourceSpans = r.resourceSpans.filter((rs) => rs.scopeSpans.length > 0);
  return r;
}

const roundTrip = (req: ExportTraceServiceRequest) => decodeTraces(encode('traces', req));

// ---- the operations -----------------------------------------------------------------------------

t.test('drop the first, a middle and the last item; the rest as it was', async (t) => {
  const req = traces([[[span('a'), span('b'), span('c'), span('d')]]]);
  for (const gone of ['a', 'b', 'd']) {
    const { res, out } = edit(req, (name) => (name === gone ? DROP : undefined));
    t.equal(res.count, 3, `${gone}: three left`);
    t.equal(canon(out), canon(roundTrip(without(req, (s) => s.name !== gone))), `${gone}: the others, their scope and resource intact`);
  }
  const two = edit(req, (name) => (name === 'a' || name === 'c' ? DROP : undefined));
  t.same(two.out!.resourceSpans[0]!.scopeSpans[0]!.spans.map((s) => s.name), ['b', 'd'], 'two dropped');
});

t.test('deferred views are reused by later requests: settle always sees its own item', async (t) => {
  // Requests of different sizes (the views' arrays grow and shrink), every span deferred; settle
  // reads each span's name and attributes and adds one naming it, held ones keep their view.
  for (let round = 0; round < 4; round++) {
    const spans = Array.from({ length: 3 + round * 5 }, (_, i) => span(`r${round}-s${i}`, {
      attributes: Array.from({ length: 1 + ((i * 7 + round) % 23) }, (_, k) => ({ key: `k${k}`, value: { stringValue: `r${round}-s${i}-v${k}` } })),
    }));
    const req = traces([[spans]]);
    const seen: string[] = [];
    const held: string[] = [];
    const res = editItems('traces', encode('traces', req), () => ({ defer: true }), (item) => {
      const name = item.string(SPAN.name);
      seen.push(name);
      const i = Number(name.split('-s')[1]);
      t.equal(item.count, spans[i]!.attributes.length, `${name}: its own attribute count`);
      t.equal(item.stringValue(item.count - 1), `${name}-v${item.count - 1}`, `${name}: its own last value`);
      if (i % 4 === 3) {
        held.push(name);
        return { hold: true, tag: item };
      }
      return { add: [{ key: 'settled', value: { stringValue: name } }] };
    });
    t.same(seen, spans.map((s) => s.name), `round ${round}: every span settled, in order`);
    // A held item's view is its tag: still its own after the call.
    t.same(res.held.map((h) => (h.tag as WireItem).string(SPAN.name)), held, `round ${round}: held views intact`);
    const out = decodeTraces(res.bytes!);
    const names = out.resourceSpans[0]!.scopeSpans[0]!.spans.map((sp) => [sp.name, sp.attributes.at(-1)!.value!.stringValue]);
    t.same(names, spans.filter((_, i) => i % 4 !== 3).map((sp) => [sp.name, sp.name]), `round ${round}: each kept span carries its own name`);
  }
});

t.test('a scope, a resource, everything dropped: the containers left empty go too', async (t) => {
  const req = traces([[[span('a1'), span('a2')], [span('b1')]], [[span('c1')], [span('d1'), span('d2')]]]);
  const scope = edit(req, (name) => (name.startsWith('b') ? DROP : undefined));
  t.equal(scope.out!.resourceSpans[0]!.scopeSpans.length, 1, 'the emptied scope is gone');
  t.equal(canon(scope.out), canon(roundTrip(without(req, (s) => !s.name.startsWith('b')))));
  const resource = edit(req, (name) => (name.startsWith('c') || name.startsWith('d') ? DROP : undefined));
  t.equal(resource.out!.resourceSpans.length, 1, 'the emptied resource is gone');
  t.equal(canon(resource.out), canon(roundTrip(without(req, (s) => s.name < 'c'))));
  const all = edit(req, () => DROP);
  t.equal(all.res.count, 0);
  t.equal(all.res.bytes!.length, 0, 'nothing left: an empty request');
});

t.test('nothing dropped or edited: the original bytes, not a copy', async (t) => {
  // a scope without spans, kept as it came when nothing is rewritten
  const req = traces([[[span('a'), span('b')], []], [[span('c')]]]);
  const { res, bytes } = edit(req, () => undefined);
  t.equal(res.bytes, undefined, 'no new bytes: the caller passes the request on');
  t.equal(res.count, 3);
  const edits = edit(req, () => ({ drop: [], add: [] }));
  t.equal(edits.res.bytes, undefined, 'empty edits change nothing');
  const one = edit(req, (name) => (name === 'c' ? DROP : undefined));
  t.equal(canon(one.out), canon(roundTrip(without(req, (s) => s.name !== 'c'))), 'once rewritten, the empty scope is left out as the decoded path leaves it');
  t.ok(bytes.length > 0);
});

t.test('tracestate set when absent, replaced when present, removed; other fields intact', async (t) => {
  const req = traces([[[span('none'), span('some', { traceState: 'ot=th:8,vendor=x' }), span('gone', { traceState: 'ot=th:c' })]]]);
  const ts: Record<string, string> = { none: 'ot=th:c', some: 'ot=th:e,vendor=x', gone: '' };
  const { out } = edit(req, (name) => ({ traceState: ts[name] }));
  const expect = structuredClone(req);
  for (const s of expect.resourceSpans[0]!.scopeSpans[0]!.spans) s.traceState = ts[s.name]!;
  t.equal(canon(out), canon(roundTrip(expect)));
  t.same(out!.resourceSpans[0]!.scopeSpans[0]!.spans.map((s) => s.traceState), ['ot=th:c', 'ot=th:e,vendor=x', '']);
  // with attributes dropped and added, and a long (two-byte length) tracestate
  const long = 'ot=th:8,' + Array.from({ length: 30 }, (_, i) => `v${i}=abcdef`).join(',');
  const mixed = edit(req, (name, item) => (name === 'some' ? { traceState: long, drop: [item.indexOf('n')], add: [{ key: 'z', value: { doubleValue: 1.5 } }] } : undefined));
  const s = mixed.out!.resourceSpans[0]!.scopeSpans[0]!.spans[1]!;
  t.equal(s.traceState, long);
  t.same(s.attributes.map((a) => a.key), ['a', 'z']);
  t.equal(canon({ ...s, traceState: '', attributes: [] }), canon({ ...roundTrip(req).resourceSpans[0]!.scopeSpans[0]!.spans[1]!, traceState: '', attributes: [] }));
});

t.test('span events cut; logs dropped; a tracestate on a log record refused', async (t) => {
  const req = traces([[[span('a', { events: [
    { timeUnixNano: 1n, name: 'keep', attributes: [], droppedAttributesCount: 0 },
    { timeUnixNano: 2n, name: 'cut', attributes: [{ key: 'k', value: { stringValue: 'v' } }], droppedAttributesCount: 0 },
    { timeUnixNano: 3n, name: 'keep2', attributes: [], droppedAttributesCount: 0 },
  ] })]]]);
  const { out } = edit(req, (_name, item) => {
    const at = item.occurrences(SPAN.events);
    const cut: number[] = [];
    for (let i = 0; i < at.length; i += 3) if (item.nested(at[i + 1]!, at[i + 2]!, 3).string(2) === 'cut') cut.push(at[i]!, at[i + 2]!);
    return { cut };
  });
  t.same(out!.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.events.map((e) => e.name), ['keep', 'keep2']);
  const rec = (n: number): LogRecord => ({ timeUnixNano: BigInt(n), observedTimeUnixNano: 0n, severityNumber: 9, severityText: 'INFO', attributes: [], droppedAttributesCount: 0, flags: 0, traceId: new Uint8Array(0), spanId: new Uint8Array(0) });
  const logs: ExportLogsServiceRequest = { resourceLogs: [{ resource: { attributes: [], droppedAttributesCount: 0 }, schemaUrl: '', scopeLogs: [{ schemaUrl: '', logRecords: [rec(1), rec(2), rec(3)] }] }] };
  const res = editItems('logs', encode('logs', logs), (item) => (item.fixed64(1) === 2n ? DROP : undefined));
  t.same(decodeLogs(res.bytes!).resourceLogs[0]!.scopeLogs[0]!.logRecords.map((l) => l.timeUnixNano), [1n, 3n]);
  t.throws(() => editItems('logs', encode('logs', logs), () => ({ traceState: 'ot=th:8' })), /span field/);
});

t.test('watched keys: found while the item is read, as indexOf and the decoder find them, whatever the KeyValue shape', async (t) => {
  const keys = new KeySet(['sampling.priority', 'url.path', 'k'.repeat(200), 'ключ', 'absent', 'url.path', 'ключ', 'absent']); // some listed twice
  /** a KeyValue's body from fields written in the order given */
  const kv = (fields: Array<[number, Uint8Array]>) => {
    const w = new Writer(64);
    for (const [tag, body] of fields) {
      w.uvarint(tag);
      w.uvarint(body.length);
      w.raw(body, 0, body.length);
    }
    return w.finish();
  };
  const key = (k: string) => Buffer.from(k, 'utf8');
  const str = (v: string) => kv([[0x0a, Buffer.from(v, 'utf8')]]);
  const shapes: Record<string, Uint8Array[]> = {
    'key then value': [kv([[0x0a, key('a')], [0x12, str('x')]]), kv([[0x0a, key('url.path')], [0x12, str('/healthz')]])],
    'a long value (two- and three-byte lengths)': [kv([[0x0a, key('sampling.priority')], [0x12, str('9'.repeat(300))]]), kv([[0x0a, key('url.path')], [0x12, str('/'.repeat(20000))]])],
    'a key of 200 bytes': [kv([[0x0a, key('k'.repeat(200))], [0x12, str('v')]]), kv([[0x0a, key('url.path')]])],
    'value before key': [kv([[0x12, str('x')], [0x0a, key('url.path')]]), kv([[0x0a, key('sampling.priority')], [0x12, str('1')]])],
    'a second key field (the last counts)': [kv([[0x0a, key('other')], [0x12, str('x')], [0x0a, key('sampling.priority')]]), kv([[0x0a, key('url.path')]])],
    'the wanted key first, then another': [kv([[0x0a, key('url.path')], [0x0a, key('nope')], [0x12, str('x')]]), kv([[0x0a, key('ключ')], [0x12, str('y')]])],
    'a key twice across attributes (the first counts)': [kv([[0x0a, key('ключ')], [0x12, str('1')]]), kv([[0x0a, key('ключ')], [0x12, str('2')]])],
    'no key, no value, an empty body': [kv([]), kv([[0x12, str('x')]]), kv([[0x0a, key('url.path')]])],
  };
  for (const [label, attrs] of Object.entries(shapes)) {
    // a span: trace id, name, the attributes, a status
    const w = new Writer(256);
    w.uvarint(0x0a); w.uvarint(16); w.raw(new Uint8Array(16).fill(7), 0, 16);
    w.uvarint(0x2a); w.string('chat');
    for (const a of attrs) { w.uvarint(0x4a); w.uvarint(a.length); w.raw(a, 0, a.length); }
    w.uvarint(0x7a); w.uvarint(2); w.uvarint(0x18); w.uvarint(2);
    const span = w.finish();
    const req = new Writer(span.length + 16);
    const scope = new Writer(span.length + 8);
    scope.uvarint(0x12); scope.uvarint(span.length); scope.raw(span, 0, span.length);
    const sc = scope.finish();
    const rs = new Writer(sc.length + 8);
    rs.uvarint(0x12); rs.uvarint(sc.length); rs.raw(sc, 0, sc.length);
    const r = rs.finish();
    req.uvarint(0x0a); req.uvarint(r.length); req.raw(r, 0, r.length);
    const bytes = req.finish();
    const decoded = decodeTraces(bytes).resourceSpans[0]!.scopeSpans[0]!.spans[0]!.attributes.map((a) => a.key);
    editItems('traces', bytes, (item) => {
      keys.keys.forEach((k, w) => {
        t.equal(item.watched(w), decoded.indexOf(k), `${label}: ${k.slice(0, 20)} where the decoder has it`);
        t.equal(item.watched(w), item.indexOf(k), `${label}: ${k.slice(0, 20)} as indexOf`);
      });
      return undefined;
    }, undefined, keys);
  }
});

// ---- random requests ----------------------------------------------------------------------------

/** mulberry32: the same requests on every run. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

class Gen {
  constructor(readonly rand: () => number) {}
  int(n: number): number {
    return Math.floor(this.rand() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  chance(p: number): boolean {
    return this.rand() < p;
  }
  bytes(n: number): Uint8Array {
    return Uint8Array.from({ length: n }, () => this.int(256));
  }

  traceId(): Uint8Array {
    return this.pick([() => this.bytes(16), () => this.bytes(16), () => this.bytes(16), () => new Uint8Array(0), () => new Uint8Array(16)])();
  }

  value(depth = 0): AnyValue | undefined {
    switch (this.int(depth > 0 ? 6 : 9)) {
      case 0: return { stringValue: this.pick(['', 'a', 'abc', 'v1', 'svc-1', '/healthz', 'chat', 'ключ', 'x'.repeat(200), '12', ' 3.5 ']) };
      case 1: return { intValue: this.pick([0n, 1n, 5n, -3n, 1n << 40n, -(1n << 62n)]) };
      case 2: return { doubleValue: this.pick([0, 0.5, -2.25, Number.NaN, 1e300]) };
      case 3: return { boolValue: this.chance(0.5) };
      case 4: return { bytesValue: this.bytes(this.int(6)) };
      case 5: return undefined;
      case 6: return { arrayValue: { values: [this.value(depth + 1) ?? {}, { stringValue: 'e' }] } };
      case 7: return { kvlistValue: { values: [{ key: 'in', value: this.value(depth + 1) }] } };
      default: return {};
    }
  }

  attributes(keys: readonly string[], max: number): KeyValue[] {
    return Array.from({ length: this.int(max + 1) }, () => {
      const kv: KeyValue = { key: this.pick(keys) };
      const v = this.value();
      if (v !== undefined) kv.value = v;
      return kv;
    });
  }

  traceState(): string {
    return this.pick(['', '', 'ot=th:8', 'ot=th:c;rv:d0000000000000', 'vendor=x,ot=th:e', 'ot=rv:10000000000000', 'ot=th:zz', 'ot=th:8,ot=th:c', ' vendor=y ', 'ot=th:0', 'a=b,c=d']);
  }
}

const ITEM_KEYS = ['k1', 'k2', 'k3', 'sampling.priority', 'prio', 'record.id', 'url.path', 'ключ', ''];
const RESOURCE_KEYS = ['service.name', 'host.name', 'k1'];
const SCOPE_KEYS = ['lib.attr', 'k2'];

/** A request of any shape: 0-3 resources of 0-3 scopes of 0-5 items, sometimes with unknown fields. */
function randomRequest(g: Gen, signal: 'traces' | 'logs'): ExportTraceServiceRequest | ExportLogsServiceRequest {
  const resources = Array.from({ length: g.int(4) }, () => ({
    ...(g.chance(0.8) ? { resource: { attributes: g.attributes(RESOURCE_KEYS, 3), droppedAttributesCount: g.int(2) } } : {}),
    schemaUrl: g.pick(['', 'https://opentelemetry.io/schemas/1.30.0']),
    scopes: Array.from({ length: g.int(4) }, () => ({
      ...(g.chance(0.8) ? { scope: { name: g.pick(['', 'lib', 'agent-sdk']), version: '', attributes: g.attributes(SCOPE_KEYS, 2), droppedAttributesCount: 0 } } : {}),
      schemaUrl: '',
      items: g.int(6),
    })),
  }));
  if (signal === 'traces') {
    return {
      resourceSpans: resources.map((r) => ({
        ...(r.resource ? { resource: r.resource } : {}), schemaUrl: r.schemaUrl,
        scopeSpans: r.scopes.map((s) => ({ ...(s.scope ? { scope: s.scope } : {}), schemaUrl: s.schemaUrl, spans: Array.from({ length: s.items }, () => randomSpan(g)) })),
      })),
    };
  }
  return {
    resourceLogs: resources.map((r) => ({
      ...(r.resource ? { resource: r.resource } : {}), schemaUrl: r.schemaUrl,
      scopeLogs: r.scopes.map((s) => ({ ...(s.scope ? { scope: s.scope } : {}), schemaUrl: s.schemaUrl, logRecords: Array.from({ length: s.items }, () => randomRecord(g)) })),
    })),
  };
}

function randomSpan(g: Gen): Span {
  const s: Span = {
    traceId: g.traceId(), spanId: g.bytes(8), traceState: g.traceState(), parentSpanId: g.chance(0.5) ? g.bytes(8) : new Uint8Array(0),
    flags: g.int(512), name: g.pick(['', 'n0', 'n1', 'n2', 'GET /healthz', 'chat gpt-4o', 'n'.repeat(150)]), kind: g.int(6),
    startTimeUnixNano: BigInt(g.int(1e9)), endTimeUnixNano: BigInt(g.int(1e9)), attributes: g.attributes(ITEM_KEYS, 6), droppedAttributesCount: g.int(3),
    events: Array.from({ length: g.int(4) }, () => ({ timeUnixNano: BigInt(g.int(100)), name: g.pick(['e0', 'e1', 'exception']), attributes: g.attributes(ITEM_KEYS, 2), droppedAttributesCount: 0 })),
    droppedEventsCount: 0, links: g.chance(0.2) ? [{ traceId: g.bytes(16), spanId: g.bytes(8), traceState: '', attributes: [], droppedAttributesCount: 0, flags: 0 }] : [],
    droppedLinksCount: 0,
  };
  if (g.chance(0.7)) s.status = { code: g.int(3), message: g.pick(['', 'err']) };
  if (g.chance(0.1)) s.$unknown = [Uint8Array.of(0xf8, 0x06, g.int(100))]; // field 111, a varint
  return s;
}

function randomRecord(g: Gen): LogRecord {
  const l: LogRecord = {
    timeUnixNano: BigInt(g.int(1e9)), observedTimeUnixNano: 0n, severityNumber: g.int(25), severityText: g.pick(['', 'INFO']),
    attributes: g.attributes(ITEM_KEYS, 5), droppedAttributesCount: 0, flags: g.int(3), traceId: g.traceId(), spanId: g.chance(0.5) ? g.bytes(8) : new Uint8Array(0),
  };
  if (g.chance(0.5)) l.eventName = g.pick(['', 'n0', 'fleet.agent.heartbeat']);
  if (g.chance(0.5)) l.body = { stringValue: 'body' };
  return l;
}

/** Removes the scopes without items and the resources without scopes: the one difference allowed
 *  between a request passed on unchanged and its decoded reference. */
function pruned(req: ExportTraceServiceRequest | ExportLogsServiceRequest): unknown {
  const r = structuredClone(req) as any;
  const [res, sc, it] = 'resourceSpans' in r ? ['resourceSpans', 'scopeSpans', 'spans'] : ['resourceLogs', 'scopeLogs', 'logRecords'];
  for (const x of r[res]) x[sc] = x[sc].filter((s: any) => s[it].length > 0);
  r[res] = r[res].filter((x: any) => x[sc].length > 0);
  return r;
}

/** An edit decided from where the span is and what it holds, the same on both paths. */
function randomDecision(g: Gen, s: { attrs: number; events: number }): { kind: 'keep' | 'drop' | 'edit'; traceState?: string; dropAttr?: number[]; cutEvents?: number[]; add?: boolean } {
  const k = g.int(6);
  if (k === 0) return { kind: 'drop' };
  if (k <= 2) return { kind: 'keep' };
  const d: ReturnType<typeof randomDecision> = { kind: 'edit' };
  if (g.chance(0.5)) d.traceState = g.pick(['', 'ot=th:c', 'ot=th:e;rv:d0000000000000,vendor=x', 'z'.repeat(300)]);
  if (s.attrs > 0 && g.chance(0.5)) d.dropAttr = Array.from({ length: 1 + g.int(2) }, () => g.int(s.attrs)); // repeats allowed
  if (s.events > 0 && g.chance(0.5)) d.cutEvents = [g.int(s.events)];
  if (g.chance(0.3)) d.add = true;
  return d;
}

t.test('editItems on random requests: the same as the decisions made on the decoded request', async (t) => {
  let changed = 0, unchanged = 0;
  for (let seed = 1; seed <= 400; seed++) {
    const g = new Gen(rng(seed));
    const req = randomRequest(g, 'traces') as ExportTraceServiceRequest;
    const bytes = encode('traces', req);
    const original = decodeTraces(bytes);
    // decisions drawn in item order, from a generator of their own, for both paths
    const decisions: Array<ReturnType<typeof randomDecision>> = [];
    const dg = new Gen(rng(seed * 7919));
    for (const rs of original.resourceSpans) for (const ss of rs.scopeSpans) for (const s of ss.spans) decisions.push(randomDecision(dg, { attrs: s.attributes.length, events: s.events.length }));

    let i = 0;
    const res = editItems('traces', bytes, (item): Decision => {
      const d = decisions[i++]!;
      if (d.kind === 'drop') return DROP;
      if (d.kind === 'keep') return undefined;
      const e: ItemEdit = {};
      if (d.traceState !== undefined) e.traceState = d.traceState;
      if (d.dropAttr) e.drop = d.dropAttr;
      if (d.cutEvents) {
        const at = item.occurrences(SPAN.events);
        e.cut = d.cutEvents.flatMap((k) => [at[3 * k]!, at[3 * k + 2]!]);
      }
      if (d.add) e.add = [{ key: 'added', value: { stringValue: `s${seed}` } }];
      return e;
    });

    const expect = structuredClone(original);
    let j = 0;
    for (const rs of expect.resourceSpans) {
      for (const ss of rs.scopeSpans) {
        ss.spans = ss.spans.filter((s) => {
          const d = decisions[j++]!;
          if (d.kind === 'drop') return false;
          if (d.kind === 'keep') return true;
          if (d.traceState !== undefined) s.traceState = d.traceState;
          if (d.dropAttr) s.attributes = s.attributes.filter((_, k) => !d.dropAttr!.includes(k));
          if (d.cutEvents) s.events = s.events.filter((_, k) => !d.cutEvents!.includes(k));
          if (d.add) s.attributes.push({ key: 'added', value: { stringValue: `s${seed}` } });
          return true;
        });
      }
    }
    const reference = decodeTraces(encode('traces', without(expect, () => true)));
    if (res.bytes === undefined) {
      unchanged++;
      t.equal(canon(pruned(original)), canon(reference), `seed ${seed}: unchanged, as the decoded path has it`);
    } else {
      changed++;
      t.equal(canon(decodeTraces(res.bytes)), canon(reference), `seed ${seed}`);
    }
    t.equal(res.count, reference.resourceSpans.reduce((n, rs) => n + rs.scopeSpans.reduce((m, ss) => m + ss.spans.length, 0), 0), `seed ${seed}: count`);
  }
  t.ok(changed > 100 && unchanged > 20, `both cases seen: ${changed} rewritten, ${unchanged} unchanged`);
});

// ---- the processors against their decoded references ---------------------------------------------

/** Runs a processor made by `make` on the request as the receiver hands it over (held as parts). */
async function through(make: (next: ReturnType<typeof consumerOf>) => { consume(b: Telemetry): Promise<void> }, signal: Signal, bytes: Uint8Array) {
  const out: Telemetry[] = [];
  const p = make(consumerOf(async (b) => void out.push(b)));
  const parts = [bytes.subarray(0, bytes.length >> 1), bytes.subarray(bytes.length >> 1)];
  const batch = Telemetry.fromProtoParts(signal, parts);
  await p.consume(batch);
  return { out, same: out.length === 1 && out[0] === batch };
}

function samplerConfig(g: Gen): ProbabilisticSamplerConfig {
  const cfg: ProbabilisticSamplerConfig = {
    ...(probabilisticSamplerProcessorFactory.createDefaultConfig() as ProbabilisticSamplerConfig),
    sampling_percentage: g.pick([0, 1, 25, 37.5, 50, 99, 100, 150]),
    hash_seed: g.pick([0, 22, 0xdeadbeef]),
    fail_closed: g.chance(0.5),
    sampling_precision: 1 + g.int(14),
    attribute_source: g.pick(['traceID', 'record'] as const),
    from_attribute: g.pick(['', 'record.id', 'k1', 'ключ']),
    sampling_priority: g.pick(['', 'prio']),
  };
  if (g.chance(0.8)) cfg.mode = g.pick(['hash_seed', 'proportional', 'equalizing'] as const);
  return cfg;
}

t.test('probabilistic_sampler on random requests: the decoded path\'s output and counts', async (t) => {
  let kept = 0, dropped = 0, passedOn = 0;
  for (let seed = 1; seed <= 300; seed++) {
    const g = new Gen(rng(1000 + seed));
    for (const signal of ['traces', 'logs'] as const) {
      const cfg = samplerConfig(g);
      const req = randomRequest(g, signal);
      const bytes = encode(signal, req);
      const set = settings('processor', 'ps');
      const { out, same } = await through((next) => probabilisticSamplerProcessorFactory.createProcessor!(set, cfg, signal, next), signal, bytes);
      const sampler = new ProbabilisticSampler(cfg, signal);
      const ref = signal === 'traces' ? decodeTraces(bytes) : decodeLogs(bytes);
      const left = signal === 'traces' ? sampleSpans(sampler, ref as ExportTraceServiceRequest) : sampleRecords(sampler, ref as ExportLogsServiceRequest);
      const label = `seed ${seed} ${signal} ${JSON.stringify(cfg)}`;
      if (left === 0) t.equal(out.length, 0, `${label}: nothing sent`);
      else {
        t.equal(out.length, 1, label);
        const got = signal === 'traces' ? decodeTraces(out[0]!.toProto()) : decodeLogs(out[0]!.toProto());
        t.equal(canon(same ? pruned(got) : got), canon(decodeMessage(REQUEST_DESC[signal]!, encode(signal, ref))), label);
        t.equal(out[0]!.itemCount, left, `${label}: count`);
        if (same) passedOn++;
      }
      const m = await set.registry.prom.metrics();
      const total = Telemetry.fromProto(signal, bytes).itemCount;
      t.equal((metricValue(m, 'fleetcol_processor_probabilistic_sampler_kept') || 0), left, `${label}: kept metric`);
      t.equal((metricValue(m, 'fleetcol_processor_probabilistic_sampler_dropped') || 0), total - left, `${label}: dropped metric`);
      kept += left;
      dropped += total - left;
    }
  }
  t.ok(kept > 200 && dropped > 200 && passedOn > 10, `kept ${kept}, dropped ${dropped}, ${passedOn} requests passed on as they came`);
});

const CONDITIONS: ConditionConfig[] = [
  { attribute: 'k1', equals: 'v1' }, { attribute: 'k1', equals: 5 }, { attribute: 'k2', regex: '^a' }, { attribute: 'k3', exists: false },
  { attribute: 'ключ' }, { attribute: 'url.path', regex: '^/(healthz|readyz)$' }, { attribute: 'k2', equals: true },
  { attribute: 'service.name', on: 'resource', equals: 'svc-1' }, { attribute: 'k1', on: 'resource' }, { attribute: 'lib.attr', on: 'scope' },
  { attribute: 'k2', on: 'scope', regex: '.' }, { name: 'n1' }, { name_regex: '^(n[0-2]|e1)' }, { name_regex: '^GET /health' },
  { kind: ['client', 'server'] }, { status: ['error'] }, { status: ['unset', 'ok'] }, { severity_min: 'warn' }, { severity_below: 'info' },
  { name: 'fleet.agent.heartbeat' }, { attribute: 'x', equals: '' }, { attribute: 'k1', regex: '^x{100}' },
  // name patterns whose anchored prefix is compared as bytes first (or that have none)
  { name_regex: '^n+' }, { name_regex: '^n1?' }, { name_regex: '^chat|^GET' }, { name_regex: '^chat gpt-4o$' }, { name: '' }, { name_regex: '^(?:n)0' },
];

function filterBlock(g: Gen) {
  const match = () => ({ match: g.pick(['any', 'all'] as const), conditions: Array.from({ length: 1 + g.int(3) }, () => g.pick(CONDITIONS)) });
  const b: Record<string, unknown> = {};
  if (g.chance(0.6)) b.include = match();
  if (!b.include || g.chance(0.5)) b.exclude = match();
  return b;
}

t.test('filter on random requests: the decoded path\'s output and counts', async (t) => {
  let kept = 0, dropped = 0, events = 0, passedOn = 0;
  for (let seed = 1; seed <= 300; seed++) {
    const g = new Gen(rng(5000 + seed));
    for (const signal of ['traces', 'logs'] as const) {
      const cfg: FilterConfig = {};
      if (signal === 'logs') cfg.logs = filterBlock(g);
      else {
        if (g.chance(0.8)) cfg.spans = filterBlock(g);
        if (!cfg.spans || g.chance(0.3)) cfg.span_events = filterBlock(g);
      }
      const req = randomRequest(g, signal);
      const bytes = encode(signal, req);
      const set = settings('processor', 'filter');
      const { out, same } = await through((next) => filterProcessorFactory.createProcessor!(set, cfg, signal, next), signal, bytes);
      const ref = signal === 'traces' ? decodeTraces(bytes) : decodeLogs(bytes);
      const c = signal === 'traces' ? filterSpans(keeper(cfg.spans), keeper(cfg.span_events), ref as ExportTraceServiceRequest) : filterRecords(keeper(cfg.logs)!, ref as ExportLogsServiceRequest);
      const label = `seed ${seed} ${signal} ${JSON.stringify(cfg)}`;
      if (c.kept === 0) t.equal(out.length, 0, `${label}: nothing sent`);
      else {
        t.equal(out.length, 1, label);
        const got = signal === 'traces' ? decodeTraces(out[0]!.toProto()) : decodeLogs(out[0]!.toProto());
        t.equal(canon(same ? pruned(got) : got), canon(decodeMessage(REQUEST_DESC[signal]!, encode(signal, ref))), label);
        t.equal(out[0]!.itemCount, c.kept, `${label}: count`);
        if (same) passedOn++;
      }
      const m = await set.registry.prom.metrics();
      t.equal(metricValue(m, 'fleetcol_processor_filter_kept') || 0, c.kept, `${label}: kept metric`);
      t.equal(metricValue(m, 'fleetcol_processor_filter_dropped') || 0, c.dropped, `${label}: dropped metric`);
      t.equal(metricValue(m, 'fleetcol_processor_filter_dropped_span_events') || 0, c.events, `${label}: dropped events metric`);
      kept += c.kept;
      dropped += c.dropped;
      events += c.events;
    }
  }
  t.ok(kept > 200 && dropped > 200 && events > 20 && passedOn > 10, `kept ${kept}, dropped ${dropped}, events dropped ${events}, ${passedOn} requests passed on as they came`);
});

t.test('keeping everything, each processor passes the batch on as it came: its parts, not a joined copy', async (t) => {
  const bytes = encode('traces', traces([[[span('a'), span('b', { attributes: [{ key: 'url.path', value: { stringValue: '/api' } }] })]]]));
  const parts = [bytes.subarray(0, 40), bytes.subarray(40)];
  const makers = {
    probabilistic_sampler: (next: ReturnType<typeof consumerOf>) => probabilisticSamplerProcessorFactory.createProcessor!(settings('processor', 'ps'), {
      ...(probabilisticSamplerProcessorFactory.createDefaultConfig() as ProbabilisticSamplerConfig), mode: 'hash_seed', hash_seed: 22, sampling_percentage: 100,
    }, 'traces', next),
    filter: (next: ReturnType<typeof consumerOf>) => filterProcessorFactory.createProcessor!(settings('processor', 'filter'), {
      spans: { exclude: { match: 'any', conditions: [{ attribute: 'url.path', regex: '^/(healthz|readyz)$' }, { name_regex: '^GET /health' }] } },
    }, 'traces', next),
  };
  for (const [name, make] of Object.entries(makers)) {
    const out: Telemetry[] = [];
    const batch = Telemetry.fromProtoParts('traces', parts);
    await make(consumerOf(async (b) => void out.push(b))).consume(batch);
    t.equal(out[0], batch, `${name}: the same batch`);
    const sent = out[0]!.protoParts();
    t.ok(sent.length === 2 && sent[0] === parts[0] && sent[1] === parts[1], `${name}: still the parts it arrived in`);
  }
});
