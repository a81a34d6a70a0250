// Export*ServiceResponse and google.rpc.Status helpers, checked against protobufjs as well.
import t from 'tap';
import {
  RETRY_INFO_TYPE_URL, decodeExportResponse, decodeStatus, encodeExportResponse, encodeStatus,
  encodeStatusWithRetryInfo, exportResponseJSON, retryDelayFromStatus,
} from '../src/pdata/rpc.js';
import { bytes, ld, pbRoot, str, vi } from './pdata-helpers.js';

t.test('export response round trip', async (t) => {
  t.equal(encodeExportResponse(0, '').length, 0, 'nothing rejected: empty message');
  t.same(decodeExportResponse(new Uint8Array(0)), { rejected: 0n, errorMessage: '' });
  const b = encodeExportResponse(3, 'bad spans');
  t.same(Buffer.from(b), Buffer.from(bytes(ld(1, vi(1, 3), str(2, 'bad spans')))), 'partial_success{rejected=1, error_message=2}');
  t.same(decodeExportResponse(b), { rejected: 3n, errorMessage: 'bad spans' });
  t.same(decodeExportResponse(encodeExportResponse(2n ** 40n, '')), { rejected: 2n ** 40n, errorMessage: '' });
  t.same(decodeExportResponse(encodeExportResponse(0, 'just a warning')), { rejected: 0n, errorMessage: 'just a warning' });
  const pb = pbRoot.lookupType('ExportResponse').toObject(pbRoot.lookupType('ExportResponse').decode(b), { longs: String });
  t.same(pb, { partialSuccess: { rejected: '3', errorMessage: 'bad spans' } }, 'protobufjs reads the same');
  t.throws(() => decodeExportResponse(Uint8Array.from([0x0a, 9])), { name: 'DecodeError' });
});

t.test('export response JSON', async (t) => {
  t.equal(exportResponseJSON('traces', 0, ''), '{}');
  t.same(JSON.parse(exportResponseJSON('traces', 3, 'x')), { partialSuccess: { rejectedSpans: '3', errorMessage: 'x' } });
  t.same(JSON.parse(exportResponseJSON('metrics', 5, '')), { partialSuccess: { rejectedDataPoints: '5' } });
  t.same(JSON.parse(exportResponseJSON('logs', 1, 'say "hi"')), { partialSuccess: { rejectedLogRecords: '1', errorMessage: 'say "hi"' } });
  t.same(JSON.parse(exportResponseJSON('logs', 0, 'warn')), { partialSuccess: { errorMessage: 'warn' } });
});

t.test('status with RetryInfo round trip', async (t) => {
  const b = encodeStatusWithRetryInfo(14, 'queue full', 2500);
  t.equal(retryDelayFromStatus(b), 2500);
  t.equal(retryDelayFromStatus(encodeStatusWithRetryInfo(8, '', 0)), 0);
  t.equal(retryDelayFromStatus(encodeStatusWithRetryInfo(8, '', 90_061_007)), 90_061_007);
  const st = decodeStatus(b);
  t.equal(st.code, 14);
  t.equal(st.message, 'queue full');
  t.equal(st.details[0]!.typeUrl, RETRY_INFO_TYPE_URL);
  const Status = pbRoot.lookupType('RpcStatus');
  const pb = Status.toObject(Status.decode(b), { longs: String }) as any;
  t.same([pb.code, pb.message, pb.details[0].typeUrl], [14, 'queue full', 'type.googleapis.com/google.rpc.RetryInfo'], 'protobufjs reads the same');
  const ri = pbRoot.lookupType('RetryInfo');
  t.same(ri.toObject(ri.decode(pb.details[0].value), { longs: String }), { retryDelay: { seconds: '2', nanos: 500_000_000 } }, 'Duration{seconds=1, nanos=2}');
  t.same(Buffer.from(b), Buffer.from(bytes(vi(1, 14), str(2, 'queue full'),
    ld(3, str(1, RETRY_INFO_TYPE_URL), ld(2, ld(1, vi(1, 2), vi(2, 500_000_000)))))), 'exact bytes');
});

t.test('retryDelayFromStatus without a usable RetryInfo', async (t) => {
  t.equal(retryDelayFromStatus(encodeStatus(14, 'no details')), undefined, 'no details');
  t.equal(retryDelayFromStatus(bytes(vi(1, 14), ld(3, str(1, 'type.googleapis.com/google.rpc.DebugInfo'), ld(2, [1, 2])))), undefined, 'other detail type');
  t.equal(retryDelayFromStatus(bytes(ld(3, str(1, RETRY_INFO_TYPE_URL), ld(2, [0x0a, 7])))), undefined, 'truncated RetryInfo');
  t.equal(retryDelayFromStatus(Uint8Array.from([0xff, 0xff])), undefined, 'garbage');
  t.equal(retryDelayFromStatus(new Uint8Array(0)), undefined, 'empty');
  const st = encodeStatus(3, 'bad request');
  t.same(Buffer.from(st), Buffer.from(bytes(vi(1, 3), str(2, 'bad request'))));
});
