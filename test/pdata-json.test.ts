// OTLP/JSON: the output format, the lenient input forms, and refusals of bad input.
import t from 'tap';
import {
  Telemetry, type ExportLogsServiceRequest, type ExportMetricsServiceRequest, type ExportTraceServiceRequest,
} from '../src/pdata/telemetry.js';
import { plainTree } from './pdata-helpers.js';

const TRACE_ID = Buffer.from('5b8efff798038103d269b633813fc60c', 'hex');
const SPAN_ID = Buffer.from('eee19b7ec3c1b174', 'hex');

function traceRequest(): ExportTraceServiceRequest {
  return {
    resourceSpans: [{
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'json "quoted" \u2603' } }], droppedAttributesCount: 0 },
      schemaUrl: '',
      scopeSpans: [{
        scope: { name: 'lib', version: '', attributes: [], droppedAttributesCount: 0 },
        schemaUrl: '',
        spans: [{
          traceId: TRACE_ID, spanId: SPAN_ID, traceState: '', parentSpanId: SPAN_ID, flags: 256, name: 'GET /',
          kind: 2, startTimeUnixNano: 1_700_000_000_123_456_789n, endTimeUnixNano: 1_700_000_000_223_456_789n,
          attributes: [
            { key: 'big', value: { intValue: 2n ** 60n } },
            { key: 'zero', value: { intValue: 0n } },
            { key: 'no', value: { boolValue: false } },
            { key: 'nan', value: { doubleValue: NaN } },
            { key: 'inf', value: { doubleValue: -Infinity } },
            { key: 'raw', value: { bytesValue: Uint8Array.from([0xfb, 0xff]) } },
          ],
          droppedAttributesCount: 0, events: [], droppedEventsCount: 3,
          links: [{ traceId: TRACE_ID, spanId: SPAN_ID, traceState: 'a=b', attributes: [], droppedAttributesCount: 0, flags: 0 }],
          droppedLinksCount: 0, status: { code: 2, message: 'failed' },
        }],
      }],
    }],
  };
}

t.test('OTLP/JSON output: hex ids, int64 strings, integer enums, camelCase, defaults left out', async (t) => {
  const json = Telemetry.fromRequest('traces', traceRequest()).toJSON();
  const o = JSON.parse(json);
  const s = o.resourceSpans[0].scopeSpans[0].spans[0];
  t.equal(s.traceId, '5b8efff798038103d269b633813fc60c', 'traceId hex');
  t.equal(s.spanId, 'eee19b7ec3c1b174', 'spanId hex');
  t.equal(s.parentSpanId, 'eee19b7ec3c1b174', 'parentSpanId hex');
  t.equal(s.links[0].traceId, '5b8efff798038103d269b633813fc60c', 'link ids hex');
  t.equal(s.startTimeUnixNano, '1700000000123456789', 'fixed64 as a decimal string, exact');
  t.equal(s.kind, 2, 'enum as integer');
  t.same(s.status, { message: 'failed', code: 2 });
  t.equal(s.flags, 256);
  t.equal(s.droppedEventsCount, 3);
  t.notOk('droppedAttributesCount' in s, 'zero counts left out');
  t.notOk('traceState' in s, 'empty strings left out');
  t.notOk('events' in s, 'empty arrays left out');
  const attrs = Object.fromEntries(s.attributes.map((a: any) => [a.key, a.value]));
  t.same(attrs.big, { intValue: '1152921504606846976' }, 'int64 string');
  t.same(attrs.zero, { intValue: '0' }, 'oneof member written even at its default');
  t.same(attrs.no, { boolValue: false });
  t.same(attrs.nan, { doubleValue: 'NaN' });
  t.same(attrs.inf, { doubleValue: '-Infinity' });
  t.same(attrs.raw, { bytesValue: '+/8=' }, 'other bytes base64');
  t.equal(o.resourceSpans[0].resource.attributes[0].value.stringValue, 'json "quoted" \u2603');
  t.notMatch(json, /"[a-z]+_[a-z_]+":/, 'no snake_case key');
  t.notMatch(json, /"scope":\{[^}]*"version"/, 'empty scope version left out');

  const back = Telemetry.fromJSON('traces', json);
  const direct = Telemetry.fromProto('traces', Telemetry.fromRequest('traces', traceRequest()).toProto());
  t.strictSame(plainTree(back.request()), plainTree(direct.request()), 'JSON round trip gives the protobuf decode back');
});

t.test('OTLP/JSON output of metrics and logs', async (t) => {
  const metrics: ExportMetricsServiceRequest = {
    resourceMetrics: [{ schemaUrl: '', scopeMetrics: [{ schemaUrl: '', metrics: [
      { name: 'n', description: '', unit: '', sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints: [{ attributes: [], startTimeUnixNano: 0n, timeUnixNano: 5n, asInt: -7n, exemplars: [], flags: 0 }] } },
      { name: 'h', description: '', unit: '', histogram: { aggregationTemporality: 1, dataPoints: [{ attributes: [], startTimeUnixNano: 0n, timeUnixNano: 5n, count: 3n, sum: 0, bucketCounts: [1n, 2n], explicitBounds: [1.5], exemplars: [], flags: 0 }] } },
    ] }] }],
  };
  const m = JSON.parse(Telemetry.fromRequest('metrics', metrics).toJSON()).resourceMetrics[0].scopeMetrics[0].metrics;
  t.same(m[0], { name: 'n', sum: { dataPoints: [{ timeUnixNano: '5', asInt: '-7' }], aggregationTemporality: 2, isMonotonic: true } });
  t.same(m[1].histogram.dataPoints[0], { timeUnixNano: '5', count: '3', sum: 0, bucketCounts: ['1', '2'], explicitBounds: [1.5] }, 'optional sum written even when 0');
  t.equal(m[1].histogram.aggregationTemporality, 1);

  const logs: ExportLogsServiceRequest = {
    resourceLogs: [{ schemaUrl: '', scopeLogs: [{ schemaUrl: '', logRecords: [{
      timeUnixNano: 1n, observedTimeUnixNano: 2n, severityNumber: 17, severityText: 'ERROR', body: { stringValue: 'x' },
      attributes: [], droppedAttributesCount: 0, flags: 1, traceId: TRACE_ID, spanId: SPAN_ID,
    }] }] }],
  };
  const r = JSON.parse(Telemetry.fromRequest('logs', logs).toJSON()).resourceLogs[0].scopeLogs[0].logRecords[0];
  t.same(r, { timeUnixNano: '1', severityNumber: 17, severityText: 'ERROR', body: { stringValue: 'x' }, flags: 1, traceId: '5b8efff798038103d269b633813fc60c', spanId: 'eee19b7ec3c1b174', observedTimeUnixNano: '2' });
});

t.test('OTLP/JSON input: snake_case, upper-case hex, numbers for int64, enum names, unknown keys, null', async (t) => {
  const text = JSON.stringify({
    resource_spans: [{
      resource: { attributes: [{ key: 'k', value: { int_value: 42, extra: true } }], dropped_attributes_count: null },
      futureField: { anything: [1, 2] },
      scopeSpans: [{
        scope: { name: 's' },
        spans: [{
          trace_id: '5B8EFFF798038103D269B633813FC60C', spanId: 'EEE19b7ec3c1b174', parent_span_id: '',
          name: 'x', kind: 'SPAN_KIND_CLIENT', start_time_unix_nano: 1000, endTimeUnixNano: '2000',
          attributes: [{ key: 'd', value: { doubleValue: '2.5' } }, { key: 'i', value: { intValue: '-9' } }],
          status: { code: 'STATUS_CODE_ERROR' }, droppedAttributesCount: '4', unknownKey: 'ignored',
        }],
      }],
    }],
  });
  const tel = Telemetry.fromJSON('traces', Buffer.from(text));
  t.equal(tel.itemCount, 1);
  const rs = (tel.request() as ExportTraceServiceRequest).resourceSpans[0]!;
  t.same(rs.resource!.attributes[0]!.value, { intValue: 42n });
  const s = rs.scopeSpans[0]!.spans[0]!;
  t.same(Buffer.from(s.traceId), TRACE_ID, 'hex ids are case-insensitive');
  t.same(Buffer.from(s.spanId), SPAN_ID);
  t.equal(s.parentSpanId.length, 0);
  t.equal(s.kind, 3, 'enum name accepted');
  t.equal(s.status!.code, 2);
  t.equal(s.startTimeUnixNano, 1000n, 'int64 from a number');
  t.equal(s.endTimeUnixNano, 2000n, 'int64 from a string');
  t.equal(s.droppedAttributesCount, 4, 'uint32 from a string');
  t.same(s.attributes.map((a) => a.value), [{ doubleValue: 2.5 }, { intValue: -9n }]);

  const logs = Telemetry.fromJSON('logs', '{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"severityNumber":"SEVERITY_NUMBER_WARN"},{"severity_number":21}]}]}]}');
  t.same((logs.request() as ExportLogsServiceRequest).resourceLogs[0]!.scopeLogs[0]!.logRecords.map((r) => r.severityNumber), [13, 21]);
  const metrics = Telemetry.fromJSON('metrics', '{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"m","sum":{"aggregationTemporality":"AGGREGATION_TEMPORALITY_DELTA","dataPoints":[{"asDouble":"Infinity"},{"asInt":"12"}]}}]}]}]}');
  t.equal(metrics.itemCount, 2);
  const sum = (metrics.request() as ExportMetricsServiceRequest).resourceMetrics[0]!.scopeMetrics[0]!.metrics[0]!.sum!;
  t.same([sum.aggregationTemporality, sum.dataPoints[0]!.asDouble, sum.dataPoints[1]!.asInt], [1, Infinity, 12n]);
  t.equal(Telemetry.fromJSON('traces', '{}').itemCount, 0, 'empty request');
});

t.test('OTLP/JSON input errors', async (t) => {
  const span = (fields: Record<string, unknown>) => JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [{ name: 'x', ...fields }] }] }] });
  const bad = (json: string | Uint8Array, message: RegExp, what: string) =>
    t.throws(() => Telemetry.fromJSON('traces', json), { name: 'DecodeError', message }, what);
  bad('{"resourceSpans": [', /^invalid JSON/, 'truncated JSON');
  bad('not json', /^invalid JSON/, 'not JSON at all');
  bad(Uint8Array.from([0x7b, 0xff, 0x7d]), /^invalid JSON/, 'invalid UTF-8');
  bad(span({ traceId: 5 }), /at \.resourceSpans\[0\]\.scopeSpans\[0\]\.spans\[0\]\.traceId: expected a hex string, got 5/, '"traceId": 5');
  bad(span({ traceId: '5b8efff798038103d269b633813fc60' }), /traceId: expected a hex string/, 'odd-length hex');
  bad(span({ spanId: 'zz8efff798038103' }), /spanId: expected a hex string/, 'non-hex characters');
  bad(span({ parentSpanId: 'AAECAwQFBgc=' }), /parentSpanId: expected a hex string/, 'base64 where hex is due');
  bad(span({ name: 7 }), /\.name: expected a string, got 7/, 'number for a string');
  bad(span({ kind: 'SPAN_KIND_BOGUS' }), /\.kind: expected an enum number or name/, 'unknown enum name');
  bad(span({ kind: 1.5 }), /\.kind: expected a 32-bit integer/, 'fraction for an enum');
  bad(span({ droppedAttributesCount: -1 }), /droppedAttributesCount: expected a 32-bit unsigned integer/, 'negative uint32');
  bad(span({ startTimeUnixNano: '-5' }), /startTimeUnixNano: expected an unsigned 64-bit integer/, 'negative fixed64');
  bad(span({ startTimeUnixNano: '1.5e3' }), /startTimeUnixNano: expected a 64-bit integer/, 'non-integer string for int64');
  bad(span({ startTimeUnixNano: 1.5 }), /startTimeUnixNano: expected a 64-bit integer/, 'fraction for int64');
  bad(span({ attributes: [{ key: 'a', value: { boolValue: 'true' } }] }), /attributes\[0\]\.value\.boolValue: expected true or false/, 'string for a bool');
  bad(span({ attributes: [{ key: 'a', value: { bytesValue: '!!' } }] }), /bytesValue: expected a base64 string/, 'bad base64');
  bad(span({ attributes: {} }), /\.attributes: expected an array, got an object/, 'object for a repeated field');
  bad(span({ status: 'ok' }), /\.status: expected an object \(Status\), got "ok"/, 'string for a message');
  bad('[]', /at \(top level\): expected an object \(ExportTraceServiceRequest\), got an array/, 'array at the top');
  bad('{"resourceSpans":[{}, 3]}', /resourceSpans\[1\]: expected an object \(ResourceSpans\), got 3/, 'number in a message list');
  bad('{"resourceSpans":[null]}', /resourceSpans\[0\]: expected an object \(ResourceSpans\), got null/, 'null in a message list');
});
