// Item counting, merging and splitting of batches.
import t from 'tap';
import {
  Telemetry, type ExportLogsServiceRequest, type ExportMetricsServiceRequest, type ExportTraceServiceRequest,
  type KeyValue, type Metric, type NumberDataPoint, type Span,
} from '../src/pdata/telemetry.js';
import { plainTree } from './pdata-helpers.js';

const attr = (key: string, v: string): KeyValue => ({ key, value: { stringValue: v } });

function span(name: string): Span {
  return {
    traceId: new Uint8Array(16).fill(1), spanId: new Uint8Array(8).fill(2), traceState: '', parentSpanId: new Uint8Array(0),
    flags: 0, name, kind: 1, startTimeUnixNano: 10n, endTimeUnixNano: 20n, attributes: [attr('i', name)],
    droppedAttributesCount: 0, events: [], droppedEventsCount: 0, links: [], droppedLinksCount: 0,
  };
}

/** resources × scopes × spans, span names "r<r>s<s>-<i>"; one extra empty scope in resource 0. */
function traces(resources: number, scopes: number, spans: number): ExportTraceServiceRequest {
  return {
    resourceSpans: Array.from({ length: resources }, (_, r) => ({
      resource: { attributes: [attr('service.name', `svc-${r}`), attr('host', 'h1')], droppedAttributesCount: 0 },
      schemaUrl: 'https://example.com/schema',
      scopeSpans: [
        ...Array.from({ length: scopes }, (_, s) => ({
          scope: { name: `scope-${s}`, version: '1', attributes: [], droppedAttributesCount: 0 },
          schemaUrl: '',
          spans: Array.from({ length: spans }, (_, i) => span(`r${r}s${s}-${i}`)),
        })),
        ...(r === 0 ? [{ scope: { name: 'empty', version: '', attributes: [], droppedAttributesCount: 0 }, schemaUrl: '', spans: [] }] : []),
      ],
    })),
  };
}

const point = (v: number): NumberDataPoint => ({ attributes: [attr('p', String(v))], startTimeUnixNano: 1n, timeUnixNano: 2n, asDouble: v, exemplars: [], flags: 0 });

function metrics(): ExportMetricsServiceRequest {
  const m = (name: string, data: Partial<Metric>): Metric => ({ name, description: '', unit: '1', ...data });
  const hp = { attributes: [], startTimeUnixNano: 1n, timeUnixNano: 2n, count: 3n, sum: 6, bucketCounts: [1n, 2n], explicitBounds: [1.5], exemplars: [], flags: 0 };
  const ep = { attributes: [], startTimeUnixNano: 1n, timeUnixNano: 2n, count: 1n, scale: -2, zeroCount: 0n, positive: { offset: -3, bucketCounts: [1n] }, flags: 0, exemplars: [], zeroThreshold: 0 };
  const sp = { attributes: [], startTimeUnixNano: 1n, timeUnixNano: 2n, count: 4n, sum: 10, quantileValues: [{ quantile: 0.5, value: 2 }], flags: 0 };
  return {
    resourceMetrics: [{
      resource: { attributes: [attr('service.name', 'm')], droppedAttributesCount: 0 },
      schemaUrl: '',
      scopeMetrics: [{
        scope: { name: 'meter', version: '', attributes: [], droppedAttributesCount: 0 },
        schemaUrl: '',
        metrics: [
          m('gauge', { gauge: { dataPoints: [point(1), point(2)] } }),
          m('sum', { sum: { dataPoints: [point(1), point(2), point(3)], aggregationTemporality: 1, isMonotonic: true } }),
          m('hist', { histogram: { dataPoints: [hp, hp], aggregationTemporality: 2 } }),
          m('exp', { exponentialHistogram: { dataPoints: [ep], aggregationTemporality: 2 } }),
          m('summary', { summary: { dataPoints: [sp, sp, sp, sp] } }),
          m('nodata', {}),
        ],
      }],
    }],
  };
}

function logs(n: number): ExportLogsServiceRequest {
  return {
    resourceLogs: [{
      resource: { attributes: [attr('service.name', 'l')], droppedAttributesCount: 0 }, schemaUrl: '',
      scopeLogs: [{
        schemaUrl: '',
        logRecords: Array.from({ length: n }, (_, i) => ({
          timeUnixNano: BigInt(i), observedTimeUnixNano: 0n, severityNumber: 9, severityText: '', body: { stringValue: `line ${i}` },
          attributes: [], droppedAttributesCount: 0, flags: 0, traceId: new Uint8Array(0), spanId: new Uint8Array(0),
        })),
      }],
    }],
  };
}

const spanNames = (tel: Telemetry) => (tel.request() as ExportTraceServiceRequest).resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((s) => s.name)));

t.test('itemCount for each signal, from the tree and from the wire', async (t) => {
  const cases: [Telemetry, number][] = [
    [Telemetry.fromRequest('traces', traces(2, 3, 4)), 24],
    [Telemetry.fromRequest('metrics', metrics()), 2 + 3 + 2 + 1 + 4],
    [Telemetry.fromRequest('logs', logs(7)), 7],
  ];
  for (const [tel, n] of cases) {
    t.equal(tel.itemCount, n, `${tel.signal}: counted on the tree`);
    t.equal(Telemetry.fromProto(tel.signal, tel.toProto()).itemCount, n, `${tel.signal}: counted by the wire scan`);
    t.equal(Telemetry.fromJSON(tel.signal, tel.toJSON()).itemCount, n, `${tel.signal}: counted after JSON`);
  }
  const tel = Telemetry.fromProto('traces', Telemetry.fromRequest('traces', traces(1, 1, 2)).toProto());
  (tel.request() as ExportTraceServiceRequest).resourceSpans[0]!.scopeSpans[0]!.spans.push(span('added'));
  tel.markModified();
  t.equal(tel.itemCount, 3, 'recounted after markModified');
  t.equal(Telemetry.fromProto('traces', tel.toProto()).itemCount, 3);
});

t.test('merge of byte batches is a byte concatenation', async (t) => {
  const a = Telemetry.fromProto('traces', Telemetry.fromRequest('traces', traces(1, 1, 3)).toProto());
  const b = Telemetry.fromProto('traces', Telemetry.fromRequest('traces', traces(2, 1, 2)).toProto());
  const m = Telemetry.merge([a, b]);
  t.equal(m.itemCount, 7);
  t.same(Buffer.from(m.toProto()), Buffer.concat([a.toProto(), b.toProto()]), 'bytes concatenated');
  t.equal(m.byteSize, a.byteSize + b.byteSize);
  t.same(spanNames(m), [...spanNames(a), ...spanNames(b)], 'order kept');
  t.equal((m.request() as ExportTraceServiceRequest).resourceSpans.length, 3);

  const c = Telemetry.fromProto('traces', b.toProto());
  (c.request() as ExportTraceServiceRequest).resourceSpans.pop();
  c.markModified();
  const m2 = Telemetry.merge([a, c]);
  t.equal(m2.itemCount, 5, 'a modified part is re-encoded first');
  t.equal(Telemetry.merge([a]), a, 'one part: itself');
  t.throws(() => Telemetry.merge([a, Telemetry.fromRequest('logs', logs(1))]), TypeError);
  t.throws(() => Telemetry.merge([]), RangeError);
});

t.test('merge keeps the parts unjoined until one buffer is needed', async (t) => {
  const a = Telemetry.fromProto('traces', Telemetry.fromRequest('traces', traces(1, 1, 3)).toProto());
  const b = Telemetry.fromProto('traces', Telemetry.fromRequest('traces', traces(2, 1, 2)).toProto());
  const c = Telemetry.fromProto('traces', Telemetry.fromRequest('traces', traces(1, 2, 1)).toProto());
  const ab = Telemetry.merge([a, b]);
  const parts = ab.protoParts();
  t.equal(parts.length, 2, 'two parts');
  t.equal(parts[0], a.toProto(), 'the first part is a\'s own buffer, not a copy');
  t.equal(parts[1], b.toProto(), 'the second is b\'s');
  t.equal(ab.byteSize, a.byteSize + b.byteSize, 'size without joining');
  t.equal(ab.protoParts().length, 2, 'still unjoined after byteSize');
  const abc = Telemetry.merge([ab, c]);
  t.same(abc.protoParts(), [a.toProto(), b.toProto(), c.toProto()], 'a merge of merges is flat');
  t.equal(abc.itemCount, 3 + 4 + 2);
  const copy = abc.clone();
  t.same(copy.protoParts(), abc.protoParts(), 'a clone shares the parts');
  t.same(Buffer.from(copy.toProto()), Buffer.concat([a.toProto(), b.toProto(), c.toProto()]), 'joined on demand');
  t.equal(copy.protoParts().length, 1, 'then held as one buffer');
  t.equal(abc.protoParts().length, 3, 'the original is unaffected');
  t.same(spanNames(abc), [...spanNames(a), ...spanNames(b), ...spanNames(c)], 'decodes in order');
  const empty = Telemetry.merge([Telemetry.fromProto('traces', new Uint8Array(0)), Telemetry.fromProto('traces', new Uint8Array(0))]);
  t.equal(empty.itemCount, 0);
  t.equal(empty.toProto().length, 0, 'a merge of empty batches is empty');
});

t.test('a body in chunks is validated as one message and kept as its chunks', async (t) => {
  const whole = Buffer.from(Telemetry.fromRequest('traces', traces(2, 2, 3)).toProto());
  const expected = Telemetry.fromProto('traces', whole);
  // Cut at every position (tags, lengths and varints split across chunks) and into many pieces.
  for (let cut = 0; cut <= whole.length; cut++) {
    const b = Telemetry.fromProtoParts('traces', [whole.subarray(0, cut), whole.subarray(cut)]);
    if (b.itemCount !== expected.itemCount) t.fail(`cut at ${cut}: ${b.itemCount} items`);
  }
  const pieces: Buffer[] = [];
  for (let at = 0; at < whole.length; at += 7) pieces.push(whole.subarray(at, at + 7));
  const b = Telemetry.fromProtoParts('traces', pieces);
  t.equal(b.itemCount, expected.itemCount, 'items counted across 7-byte chunks');
  t.equal(b.protoParts().length, pieces.length, 'kept as the chunks, not joined');
  t.equal(b.protoParts()[1]!.buffer, whole.buffer, 'the chunks themselves, not copies');
  t.same(Buffer.from(b.toProto()), whole, 'joined on demand to the same bytes');
  t.same(spanNames(b), spanNames(expected), 'decodes to the same spans');
  t.equal(Telemetry.fromProtoParts('traces', [whole]).protoParts().length, 1, 'one chunk is the plain case');
  t.equal(Telemetry.fromProtoParts('traces', []).itemCount, 0, 'no chunks is an empty request');
  // Malformed input is refused the same way, wherever the chunks are cut.
  const cutShort = whole.subarray(0, whole.length - 3);
  t.throws(() => Telemetry.fromProtoParts('traces', [cutShort.subarray(0, 10), cutShort.subarray(10)]), /runs past the end|truncated/);
  const bad = Buffer.from(whole);
  bad[0] = 0x0a | 0x05; // field 1 with wire type 5 (I32) instead of LEN
  t.throws(() => Telemetry.fromProtoParts('traces', [bad.subarray(0, 1), bad.subarray(1)]), /wrong wire type/);
  // A message longer than the kept scratch memory is scanned in a buffer of its own.
  const big = Buffer.from(Telemetry.fromRequest('traces', traces(60, 4, 80)).toProto());
  t.ok(big.length > 1 << 20, `a ${big.length}-byte request`);
  const bigParts = [big.subarray(0, 1000), big.subarray(1000)];
  t.equal(Telemetry.fromProtoParts('traces', bigParts).itemCount, 60 * 4 * 80);
  t.equal(Telemetry.fromProtoParts('traces', [whole.subarray(0, 5), whole.subarray(5)]).itemCount, expected.itemCount, 'and the scratch still works after it');
});

t.test('withProto lends the scan\'s joined copy while it is current, and copies once it is not', async (t) => {
  const a = Buffer.from(Telemetry.fromRequest('traces', traces(2, 2, 5)).toProto());
  const b = Buffer.from(Telemetry.fromRequest('traces', traces(1, 1, 3)).toProto());
  const split = (x: Buffer) => [x.subarray(0, 11), x.subarray(11)];
  const ta = Telemetry.fromProtoParts('traces', split(a));
  // Right after its scan: the scan's scratch, not a second join.
  let first: Uint8Array | undefined;
  ta.withProto((bytes) => {
    t.same(Buffer.from(bytes), a, 'the same bytes');
    first = bytes;
    // A scan while the copy is lent goes elsewhere: the bytes being read stay as they were.
    const tb = Telemetry.fromProtoParts('traces', split(b));
    t.equal(tb.itemCount, 3, 'a scan meanwhile works');
    t.same(Buffer.from(bytes), a, 'and leaves the lent bytes alone');
    tb.withProto((inner) => t.same(Buffer.from(inner), b, 'a nested withProto gets its own bytes'));
  });
  // One request scanned since: ta's copy is still in its slot.
  let tc = Telemetry.fromProtoParts('traces', split(b));
  ta.withProto((bytes) => {
    t.same(Buffer.from(bytes), a, 'still lent after another scan');
    t.equal(bytes.buffer, first!.buffer, 'from the same slot');
  });
  // Once every slot was used again, it is joined again.
  for (let i = 0; i < 8; i++) Telemetry.fromProtoParts('traces', split(b));
  ta.withProto((bytes) => t.same(Buffer.from(bytes), a, 'joined again after eight more scans, the same bytes'));
  tc.withProto((bytes) => t.same(Buffer.from(bytes), b, 'and a request whose slot was reused gets its own bytes'));
  const td = Telemetry.fromProtoParts('traces', split(b));
  td.withProto((bytes) => t.same(Buffer.from(bytes), b, 'the latest scan is lent'));
  tc = td;
  const cl = tc.clone();
  cl.withProto((bytes) => t.same(Buffer.from(bytes), b, 'and so to its clone'));
  // A request over 256 KiB is scanned in the large slot, lent the same way, and left alone by small ones.
  const large = Buffer.from(Telemetry.fromRequest('traces', traces(4, 4, 300)).toProto());
  t.ok(large.length > 256 << 10 && large.length < 1 << 20, `a ${large.length}-byte request`);
  const tl = Telemetry.fromProtoParts('traces', split(large));
  for (let i = 0; i < 9; i++) Telemetry.fromProtoParts('traces', split(b));
  tl.withProto((bytes) => t.same(Buffer.from(bytes), large, 'the large request, after nine small ones'));
  // A request that fails its scan overwrote the scratch: the last good one is joined again.
  t.throws(() => Telemetry.fromProtoParts('traces', [a.subarray(0, 20), a.subarray(20, a.length - 3)]));
  tc.withProto((bytes) => t.same(Buffer.from(bytes), b, 'after a failed scan, the right bytes'));
});

t.test('split of traces keeps order, repeats resource and scope', async (t) => {
  const tel = Telemetry.fromProto('traces', Telemetry.fromRequest('traces', traces(2, 2, 5)).toProto());
  const all = spanNames(tel);
  const parts = tel.split(3);
  t.same(parts.map((p) => p.itemCount), [3, 3, 3, 3, 3, 3, 2]);
  t.same(parts.map((p) => Telemetry.fromProto('traces', p.toProto()).itemCount), [3, 3, 3, 3, 3, 3, 2], 'counts agree with a rescan');
  t.same(parts.flatMap(spanNames), all, 'same spans, same order');
  for (const [i, p] of parts.entries()) {
    const req = p.request() as ExportTraceServiceRequest;
    for (const rs of req.resourceSpans) {
      const svc = rs.resource!.attributes[0]!.value!.stringValue!;
      t.equal(rs.resource!.attributes[1]!.key, 'host', `part ${i}: resource attributes kept`);
      t.equal(rs.schemaUrl, 'https://example.com/schema');
      for (const ss of rs.scopeSpans) {
        for (const s of ss.spans) t.ok(s.name.startsWith(`r${svc.slice(4)}${ss.scope!.name.replace('scope-', 's')}-`), `part ${i}: ${s.name} under its resource and scope`);
      }
    }
  }
  // part 1 (spans 3..5) crosses the boundary of scope-0 and scope-1 of resource 0
  t.same((parts[1]!.request() as ExportTraceServiceRequest).resourceSpans[0]!.scopeSpans.map((s) => s.spans.length), [2, 1]);
  t.ok(parts.some((p) => (p.request() as ExportTraceServiceRequest).resourceSpans.some((rs) => rs.scopeSpans.some((ss) => ss.scope!.name === 'empty'))), 'the empty scope travels with one part');
  const merged = Telemetry.merge(parts);
  t.same(spanNames(merged), all, 'merge of the parts gives back every span');
  t.same(tel.split(20), [tel], 'nothing to split');
  t.same(tel.split(1).length, 20);
  t.throws(() => tel.split(0), RangeError);
});

t.test('split of metrics cuts inside a metric, repeating name and temporality', async (t) => {
  const tel = Telemetry.fromRequest('metrics', metrics());
  const parts = tel.split(4);
  t.same(parts.map((p) => p.itemCount), [4, 4, 4]);
  const shapes = parts.map((p) => (p.request() as ExportMetricsServiceRequest).resourceMetrics[0]!.scopeMetrics[0]!.metrics.map((m) => {
    const data = m.gauge ?? m.sum ?? m.histogram ?? m.exponentialHistogram ?? m.summary;
    return `${m.name}:${data ? data.dataPoints.length : '-'}`;
  }));
  t.same(shapes, [['gauge:2', 'sum:2'], ['sum:1', 'hist:2', 'exp:1'], ['summary:4', 'nodata:-']]);
  const sum = (parts[1]!.request() as ExportMetricsServiceRequest).resourceMetrics[0]!.scopeMetrics[0]!.metrics[0]!.sum!;
  t.same([sum.aggregationTemporality, sum.isMonotonic, sum.dataPoints[0]!.asDouble], [1, true, 3], 'second half of the sum keeps its settings');
  const whole = Telemetry.merge(parts).request() as ExportMetricsServiceRequest;
  const points = whole.resourceMetrics.flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics.flatMap((m) => (m.gauge ?? m.sum)?.dataPoints ?? [])));
  t.same(points.map((p) => p.asDouble), [1, 2, 1, 2, 3]);
});

t.test('split of logs and of a modified batch', async (t) => {
  const tel = Telemetry.fromRequest('logs', logs(10));
  const parts = tel.split(4);
  t.same(parts.map((p) => p.itemCount), [4, 4, 2]);
  const bodies = parts.flatMap((p) => (p.request() as ExportLogsServiceRequest).resourceLogs[0]!.scopeLogs[0]!.logRecords.map((r) => r.body!.stringValue));
  t.same(bodies, Array.from({ length: 10 }, (_, i) => `line ${i}`));
  for (const p of parts) t.equal((p.request() as ExportLogsServiceRequest).resourceLogs[0]!.resource!.attributes[0]!.value!.stringValue, 'l');
  const fromBytes = Telemetry.fromProto('logs', tel.toProto());
  (fromBytes.request() as ExportLogsServiceRequest).resourceLogs[0]!.scopeLogs[0]!.logRecords.splice(0, 5);
  fromBytes.markModified();
  const cut = fromBytes.split(2);
  t.same(cut.map((p) => p.itemCount), [2, 2, 1], 'a modified batch is split by what it holds now');
  t.equal((cut[2]!.request() as ExportLogsServiceRequest).resourceLogs[0]!.scopeLogs[0]!.logRecords[0]!.body!.stringValue, 'line 9');
});

t.test('clone is independent', async (t) => {
  const tel = Telemetry.fromProto('traces', Telemetry.fromRequest('traces', traces(1, 1, 2)).toProto());
  const copy = tel.clone();
  t.equal(copy.toProto(), tel.toProto(), 'undecoded: shares the immutable bytes');
  (copy.request() as ExportTraceServiceRequest).resourceSpans[0]!.scopeSpans[0]!.spans[0]!.name = 'changed';
  copy.markModified();
  t.same(spanNames(tel), ['r0s0-0', 'r0s0-1'], 'original untouched');
  t.same(spanNames(copy), ['changed', 'r0s0-1']);
  const modified = Telemetry.fromRequest('traces', traces(1, 1, 1));
  const c2 = modified.clone();
  (modified.request() as ExportTraceServiceRequest).resourceSpans[0]!.scopeSpans[0]!.spans[0]!.name = 'x';
  modified.markModified();
  t.same(spanNames(c2), ['r0s0-0'], 'clone of a tree is a deep copy');
  const decoded = Telemetry.fromProto('traces', Telemetry.fromRequest('traces', traces(1, 1, 1)).toProto()).request();
  t.strictSame(plainTree(c2.request()), plainTree(decoded), 'with the same content');
});
