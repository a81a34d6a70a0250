// When the pipeline refuses only part of a request, the receiver answers OK with partial_success
// (rejected count and message) on gRPC and HTTP, and counts accepted and refused apart.
import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import { otlpReceiverFactory } from '../receivers/otlp/factory.js';
import { PermanentError, consumerOf } from '../src/consumer.js';
import { decodeExportResponse } from '../src/pdata/rpc.js';
import { OtlpGrpcClient, freePort, metricValue, settings } from './helper.js';
import { traceBytes } from './data.js';

t.test('partial success', async (t) => {
  const grpcPort = await freePort();
  const httpPort = await freePort();
  const set = settings('receiver', 'otlp');
  const next = consumerOf(async (b) => {
    throw new PermanentError(`2 of ${b.itemCount} spans have no name`, { rejected: 2 });
  });
  const rcv = otlpReceiverFactory.createReceiver!(
    set,
    { protocols: { grpc: { endpoint: `127.0.0.1:${grpcPort}` }, http: { endpoint: `127.0.0.1:${httpPort}` } }, max_inflight_bytes: 64 << 20 },
    { traces: next },
  );
  await rcv.start({ extension: () => undefined });
  const client = new OtlpGrpcClient(grpcPort);
  t.teardown(async () => {
    client.close();
    await rcv.shutdown();
  });
  const res = await client.export('traces', traceBytes(10));
  t.equal(res.err, undefined, 'answered OK');
  const partial = decodeExportResponse(res.response!);
  t.equal(partial.rejected, 2n, 'gRPC: rejected_spans = 2');
  t.match(partial.errorMessage, /2 of 10 spans/);

  const r = await fetch(`http://127.0.0.1:${httpPort}/v1/traces`, { method: 'POST', body: traceBytes(10), headers: { 'content-type': 'application/x-protobuf' } });
  t.equal(r.status, 200);
  t.equal(decodeExportResponse(new Uint8Array(await r.arrayBuffer())).rejected, 2n, 'HTTP protobuf: rejected_spans = 2');

  const m = await set.registry.prom.metrics();
  t.equal(metricValue(m, 'fleetcol_receiver_accepted_spans', 'transport="grpc"'), 8);
  t.equal(metricValue(m, 'fleetcol_receiver_refused_spans', 'transport="grpc"'), 2);
});

t.test('a receiver without a pipeline for a signal answers UNIMPLEMENTED', async (t) => {
  const grpcPort = await freePort();
  const rcv = otlpReceiverFactory.createReceiver!(settings('receiver', 'otlp'), { protocols: { grpc: { endpoint: `127.0.0.1:${grpcPort}` } }, max_inflight_bytes: 64 << 20 }, { traces: consumerOf(async () => {}) });
  await rcv.start({ extension: () => undefined });
  const client = new OtlpGrpcClient(grpcPort);
  t.teardown(async () => {
    client.close();
    await rcv.shutdown();
  });
  const { err } = await client.export('logs', Buffer.alloc(0));
  t.equal(err?.code, grpc.status.UNIMPLEMENTED);
});
