// Round trips of what the official OpenTelemetry JS SDK serializers produce (protobuf and JSON).
import t, { type Test } from 'tap';
import { decodeMessage } from '../src/pdata/decode.js';
import { encodeMessage } from '../src/pdata/encode.js';
import { MESSAGES } from '../src/pdata/schema.js';
import {
  Telemetry, type ExportLogsServiceRequest, type ExportMetricsServiceRequest, type ExportTraceServiceRequest,
  type KeyValue, type Signal,
} from '../src/pdata/telemetry.js';
import { indexOfBytes, pbCanonical, plainTree } from './pdata-helpers.js';
import { sdkLogs, sdkMetrics, sdkTraces, type SdkPayload } from './pdata-sdk-fixtures.js';

const REQUEST_TYPE: Record<Signal, string> = {
  traces: 'ExportTraceServiceRequest', metrics: 'ExportMetricsServiceRequest', logs: 'ExportLogsServiceRequest',
};

/** Every KeyValue of a decoded tree (attributes at any depth). */
function allKeyValues(v: unknown, out: KeyValue[] = []): KeyValue[] {
  if (Array.isArray(v)) for (const x of v) allKeyValues(x, out);
  else if (v !== null && typeof v === 'object' && !(v instanceof Uint8Array)) {
    for (const [k, x] of Object.entries(v)) {
      if ((k === 'attributes' || k === 'filteredAttributes') && Array.isArray(x)) out.push(...x);
      allKeyValues(x, out);
    }
  }
  return out;
}

async function roundTrip(t: Test, signal: Signal, sdk: SdkPayload, items: number, jsonQuirk?: (req: any) => void): Promise<void> {
  const tel = Telemetry.fromProto(signal, sdk.proto);
  t.equal(tel.itemCount, items, 'itemCount from the wire scan');
  t.equal(tel.toProto(), sdk.proto, 'undecoded: toProto hands back the very same bytes');
  t.equal(tel.byteSize, sdk.proto.length);

  const req = tel.request();
  tel.markModified();
  const ours = tel.toProto();
  t.not(ours, sdk.proto, 'modified: re-encoded');

  // The SDK writes some proto3 defaults explicitly (dropped counts of 0, an UNSET status, empty
  // scope version) and some fields out of number order, so it is not canonical as a whole. Against
  // protobufjs' encoding of the same request with those explicit defaults removed, ours is identical.
  t.same(Buffer.from(ours), Buffer.from(pbCanonical(REQUEST_TYPE[signal], sdk.proto)), 'byte-for-byte equal to the canonical encoding');
  t.ok(ours.length <= sdk.proto.length, 'never longer than the SDK encoding');

  // Where the SDK is canonical (attributes), our encoding of each part is found verbatim in its bytes.
  const kvs = allKeyValues(req);
  t.ok(kvs.length > 5, `${kvs.length} attributes`);
  for (const kv of kvs) {
    const enc = encodeMessage(MESSAGES.KeyValue!, kv);
    if (indexOfBytes(sdk.proto, enc) < 0) t.fail(`KeyValue ${kv.key} not found verbatim in the SDK bytes`);
  }

  // Same values either way.
  const again = Telemetry.fromProto(signal, ours);
  t.equal(again.itemCount, items);
  t.strictSame(plainTree(again.request()), plainTree(decodeMessage(MESSAGES[REQUEST_TYPE[signal]]!, sdk.proto)), 'decodes to the same tree');

  // The SDK's JSON serializer, from the same SDK objects, gives the same tree as its protobuf.
  const fromJson = Telemetry.fromJSON(signal, sdk.json);
  t.equal(fromJson.itemCount, items, 'itemCount of the JSON form');
  if (jsonQuirk) { jsonQuirk(fromJson.request()); fromJson.markModified(); }
  t.strictSame(plainTree(fromJson.request()), plainTree(req), 'SDK JSON -> fromJSON matches the protobuf decode');
  t.same(Buffer.from(fromJson.toProto()), Buffer.from(ours), 'and encodes to the same bytes');
}

t.test('traces from the SDK protobuf serializer', async (t) => {
  const sdk = await sdkTraces();
  await roundTrip(t, 'traces', sdk, 5);
  const req = Telemetry.fromProto('traces', sdk.proto).request() as ExportTraceServiceRequest;
  const rs = req.resourceSpans[0]!;
  t.same(rs.resource!.attributes.find((a) => a.key === 'host.cores')!.value, { intValue: 8n });
  t.same(rs.resource!.attributes.find((a) => a.key === 'deployment.ratio')!.value, { doubleValue: 0.25 });
  const scopes = rs.scopeSpans.map((s) => s.scope!.name).sort();
  t.same(scopes, ['fixture-tracer', 'second-scope']);
  const spans = rs.scopeSpans.flatMap((s) => s.spans);
  const byName = new Map(spans.map((s) => [s.name, s]));
  const root = byName.get('root')!;
  t.equal(root.kind, 2, 'SERVER = 2 on the wire (SDK kind + 1)');
  t.equal(root.traceId.length, 16);
  t.equal(root.parentSpanId.length, 0);
  const c1 = byName.get('child-1')!;
  t.same(Buffer.from(c1.parentSpanId), Buffer.from(root.spanId), 'parent id');
  t.same(c1.status, { message: 'boom', code: 2 });
  t.equal(byName.get('child-2')!.status!.code, 1);
  t.ok(c1.endTimeUnixNano >= c1.startTimeUnixNano && c1.startTimeUnixNano > 1_600_000_000_000_000_000n, 'fixed64 times as bigint ns');
  t.same(c1.attributes.find((a) => a.key === 'unicode')!.value, { stringValue: 'héllo ✓ 🚀' });
  t.same(c1.attributes.find((a) => a.key === 'big')!.value, { intValue: 2n ** 40n });
  t.same(c1.attributes.find((a) => a.key === 'tags')!.value!.arrayValue!.values, [{ stringValue: 'a' }, { stringValue: 'b' }]);
  t.same(c1.events.map((e) => e.name), ['started', 'bare']);
  t.equal(c1.links.length, 1);
  t.same(Buffer.from(c1.links[0]!.spanId), Buffer.from(root.spanId));
  t.equal(c1.flags & 0x100, 0x100, 'flags fixed32 (has-is-remote bit)');
});

t.test('metrics from the SDK: sum, gauge, histogram, exponential histogram', async (t) => {
  const sdk = await sdkMetrics();
  t.equal(sdk.points, 9);
  await roundTrip(t, 'metrics', sdk, sdk.points);
  const req = Telemetry.fromProto('metrics', sdk.proto).request() as ExportMetricsServiceRequest;
  const metrics = new Map(req.resourceMetrics[0]!.scopeMetrics[0]!.metrics.map((m) => [m.name, m]));
  const requests = metrics.get('requests')!;
  t.equal(requests.unit, '{request}');
  t.equal(requests.sum!.isMonotonic, true);
  t.equal(requests.sum!.aggregationTemporality, 2, 'cumulative');
  t.same(requests.sum!.dataPoints.map((p) => p.asInt).sort(), [3n, 4n], 'int sum points as sfixed64 bigint');
  t.same(metrics.get('queue.depth')!.sum!.dataPoints[0]!.asDouble, 1.25);
  t.equal(metrics.get('queue.depth')!.sum!.isMonotonic, false);
  t.same(metrics.get('temperature')!.gauge!.dataPoints.map((p) => p.asDouble).sort(), [-3, 19, 21.5]);
  const h = metrics.get('latency')!.histogram!.dataPoints[0]!;
  t.equal(h.count, 5n);
  t.equal(h.sum, 5158);
  t.equal(h.min, 1);
  t.equal(h.max, 5000);
  t.equal(h.bucketCounts.length, h.explicitBounds.length + 1, 'packed fixed64 counts and double bounds');
  t.equal(h.bucketCounts.reduce((a, b) => a + b, 0n), 5n);
  const e = metrics.get('latency.exp')!.exponentialHistogram!.dataPoints;
  t.equal(e.length, 2);
  const big = e.find((p) => p.count === 7n)!;
  t.equal(big.zeroCount, 2n);
  t.ok(big.scale !== 0, `sint32 scale ${big.scale}`);
  t.ok(big.positive!.bucketCounts.length > 0, 'packed uint64 bucket counts');
  t.equal(big.positive!.bucketCounts.reduce((a, b) => a + b, 0n), 5n);
});

t.test('logs from the SDK protobuf serializer', async (t) => {
  const sdk = await sdkLogs();
  // The SDK's JSON serializer writes `"body": {}` for a record without body, where its protobuf
  // serializer writes no body at all; both decode faithfully, so drop that empty body to compare.
  await roundTrip(t, 'logs', sdk, 5, (req: ExportLogsServiceRequest) => {
    for (const rl of req.resourceLogs) for (const sl of rl.scopeLogs) for (const r of sl.logRecords) {
      if (r.body && Object.keys(r.body).length === 0) delete r.body;
    }
  });
  const req = Telemetry.fromProto('logs', sdk.proto).request() as ExportLogsServiceRequest;
  const recs = req.resourceLogs[0]!.scopeLogs.flatMap((s) => s.logRecords);
  t.same(recs[0]!.body, { stringValue: 'plain message' });
  t.equal(recs[0]!.severityNumber, 9);
  t.equal(recs[0]!.severityText, 'INFO');
  const kv = recs[1]!.body!.kvlistValue!.values;
  t.same(kv.find((x) => x.key === 'bytes')!.value, { bytesValue: Uint8Array.from([0, 1, 254, 255]) });
  t.same(kv.find((x) => x.key === 'nested')!.value!.kvlistValue!.values[0]!.value!.arrayValue!.values,
    [{ intValue: 1n }, { stringValue: 'two' }, { boolValue: true }]);
  t.equal(recs[1]!.severityNumber, 18);
  t.same(recs[2]!.body, { doubleValue: 12.75 });
  t.equal(recs[2]!.eventName, 'my.event');
  t.equal(recs[3]!.traceId.length, 16);
  t.equal(recs[3]!.spanId.length, 8);
  t.equal(recs[3]!.flags, 1);
  t.equal(recs[4]!.body, undefined, 'a record without body has none');
});
