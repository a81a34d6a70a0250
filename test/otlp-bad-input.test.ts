// Malformed, oversized, unauthenticated and refused requests each get their error, and the next
// good request is still accepted.
import t from 'tap';
import { gzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { retryDelayFromStatus } from '../src/pdata/rpc.js';
import { OtlpGrpcClient, freePort, metricValue, startDaemon, startSink, waitFor } from './helper.js';
import { traceBytes } from './data.js';

const grpcExport = (client: OtlpGrpcClient, body: Buffer, md?: grpc.Metadata) => client.export('traces', body, md);

t.test('bad input over gRPC and HTTP', async (t) => {
  const sink = await startSink();
  const grpcPort = await freePort();
  const httpPort = await freePort();
  const daemon = await startDaemon(`
receivers:
  otlp:
    protocols:
      grpc: { endpoint: 127.0.0.1:${grpcPort}, max_recv_msg_size: 64KiB }
      http: { endpoint: 127.0.0.1:${httpPort}, max_request_body_size: 64KiB }
exporters:
  otlp: { endpoint: ${sink.endpoint}, tls: { insecure: true } }
service:
  pipelines:
    traces: { receivers: [otlp], exporters: [otlp] }
`);
  const client = new OtlpGrpcClient(grpcPort);
  t.teardown(async () => {
    client.close();
    await daemon.stop();
    await sink.close();
  });
  const good = traceBytes(10);
  const url = `http://127.0.0.1:${httpPort}/v1/traces`;
  let expected = 0;

  await t.test('gRPC', async (t) => {
    const truncated = await grpcExport(client, good.subarray(0, good.length - 7));
    t.equal(truncated.err?.code, grpc.status.INVALID_ARGUMENT, 'truncated protobuf: INVALID_ARGUMENT');
    t.match(truncated.err?.details, /malformed traces request/);
    let seed = 7;
    const random = Buffer.from(Array.from({ length: 512 }, () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff));
    t.equal((await grpcExport(client, random)).err?.code, grpc.status.INVALID_ARGUMENT, 'random bytes: INVALID_ARGUMENT');
    const big = await grpcExport(client, traceBytes(2000));
    t.equal(big.err?.code, grpc.status.RESOURCE_EXHAUSTED, 'oversize message: RESOURCE_EXHAUSTED');
    t.match(big.err?.details, /larger than max/i, 'oversize: the error says why');
    const ok = await grpcExport(client, good);
    t.equal(ok.err, undefined, 'the next good request is accepted');
    expected += 10;
  });

  await t.test('HTTP', async (t) => {
    const post = (body: Buffer<ArrayBuffer> | string, headers: Record<string, string>, path = url) =>
      fetch(path, { method: 'POST', body, headers });
    let r = await post('{"resourceSpans": [', { 'content-type': 'application/json' });
    t.equal(r.status, 400, 'invalid JSON: 400');
    const j = (await r.json()) as { code: number; message: string };
    t.equal(j.code, 3, 'JSON Status with INVALID_ARGUMENT');
    t.match(j.message, /malformed traces request/);
    r = await post('{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": 5}]}]}]}', { 'content-type': 'application/json' });
    t.equal(r.status, 400, 'wrong JSON types: 400');
    r = await post(good.subarray(0, 20), { 'content-type': 'application/x-protobuf' });
    t.equal(r.status, 400, 'truncated protobuf: 400');
    await r.arrayBuffer();
    r = await post(good, { 'content-type': 'text/plain' });
    t.equal(r.status, 415, 'wrong content type: 415');
    await r.arrayBuffer();
    r = await post(traceBytes(2000), { 'content-type': 'application/x-protobuf' });
    t.equal(r.status, 413, 'oversize body: 413');
    await r.arrayBuffer();
    r = await post(gzipSync(Buffer.alloc(1024 * 1024)), { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' });
    t.equal(r.status, 413, 'body over the limit once decompressed: 413');
    await r.arrayBuffer();
    r = await post(good, { 'content-type': 'application/x-protobuf', 'content-encoding': 'br' });
    t.equal(r.status, 415, 'unsupported content encoding: 415');
    await r.arrayBuffer();
    r = await fetch(url);
    t.equal(r.status, 405, 'GET: 405');
    await r.arrayBuffer();
    r = await post(good, { 'content-type': 'application/x-protobuf' }, `http://127.0.0.1:${httpPort}/v1/spans`);
    t.equal(r.status, 404, 'unknown path: 404');
    await r.arrayBuffer();
    r = await post(good, { 'content-type': 'application/x-protobuf' });
    t.equal(r.status, 200, 'the next good protobuf request is accepted');
    await r.arrayBuffer();
    r = await post(gzipSync(good), { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' });
    t.equal(r.status, 200, 'gzip body accepted');
    await r.arrayBuffer();
    expected += 20;
  });

  await waitFor(() => sink.items('traces') === expected, 10_000, 'good spans at the sink');
  t.equal(sink.items('traces'), expected, 'only the good requests reached the backend');
  const m = await daemon.metrics();
  t.equal(metricValue(m, 'fleetcol_receiver_accepted_spans', 'transport="grpc"'), 10);
  t.equal(metricValue(m, 'fleetcol_receiver_accepted_spans', 'transport="http"'), 20);
});

t.test('bearer auth', async (t) => {
  const sink = await startSink();
  const grpcPort = await freePort();
  const httpPort = await freePort();
  const daemon = await startDaemon(`
receivers:
  otlp:
    protocols:
      grpc: { endpoint: 127.0.0.1:${grpcPort} }
      http: { endpoint: 127.0.0.1:${httpPort} }
    auth: { bearer_tokens: ["\${env:TEST_TOKEN}"] }
exporters:
  otlp: { endpoint: ${sink.endpoint}, tls: { insecure: true } }
service:
  pipelines:
    traces: { receivers: [otlp], exporters: [otlp] }
`, { env: { TEST_TOKEN: 's3cret-token' } });
  const client = new OtlpGrpcClient(grpcPort);
  t.teardown(async () => {
    client.close();
    await daemon.stop();
    await sink.close();
  });
  const body = traceBytes(3);
  t.equal((await grpcExport(client, body)).err?.code, grpc.status.UNAUTHENTICATED, 'gRPC without token: UNAUTHENTICATED');
  const bad = new grpc.Metadata();
  bad.set('authorization', 'Bearer wrong');
  t.equal((await grpcExport(client, body, bad)).err?.code, grpc.status.UNAUTHENTICATED, 'gRPC wrong token: UNAUTHENTICATED');
  const good = new grpc.Metadata();
  good.set('authorization', 'Bearer s3cret-token');
  t.equal((await grpcExport(client, body, good)).err, undefined, 'gRPC with token: OK');
  let r = await fetch(`http://127.0.0.1:${httpPort}/v1/traces`, { method: 'POST', body, headers: { 'content-type': 'application/x-protobuf' } });
  t.equal(r.status, 401, 'HTTP without token: 401');
  t.equal(r.headers.get('www-authenticate'), 'Bearer');
  await r.arrayBuffer();
  r = await fetch(`http://127.0.0.1:${httpPort}/v1/traces`, { method: 'POST', body, headers: { 'content-type': 'application/x-protobuf', authorization: 'Bearer s3cret-token' } });
  t.equal(r.status, 200, 'HTTP with token: 200');
  await r.arrayBuffer();
  await waitFor(() => sink.items('traces') === 6, 10_000, 'spans at sink');
  t.notMatch(daemon.output(), /s3cret-token/, 'the token never appears in the log');
});

t.test('a refusing pipeline answers UNAVAILABLE with RetryInfo / 503 with Retry-After', async (t) => {
  const grpcPort = await freePort();
  const httpPort = await freePort();
  const deadPort = await freePort(); // nothing listens: every export fails and is retried
  const daemon = await startDaemon(`
receivers:
  otlp:
    protocols:
      grpc: { endpoint: 127.0.0.1:${grpcPort} }
      http: { endpoint: 127.0.0.1:${httpPort} }
exporters:
  otlp:
    endpoint: 127.0.0.1:${deadPort}
    tls: { insecure: true }
    sending_queue: { queue_size: 1, num_consumers: 1 }
    retry_on_failure: { initial_interval: 30s, max_elapsed_time: 0s }
service:
  pipelines:
    traces: { receivers: [otlp], exporters: [otlp] }
`);
  const client = new OtlpGrpcClient(grpcPort);
  t.teardown(async () => {
    client.close();
    await daemon.stop('SIGKILL');
  });
  const body = traceBytes(5);
  // The first request is taken by the one consumer (now retrying), the second fills the queue.
  t.equal((await grpcExport(client, body)).err, undefined);
  await waitFor(async () => metricValue(await daemon.metrics(), 'fleetcol_exporter_queue_size') === 0, 5000, 'consumer took the first');
  t.equal((await grpcExport(client, body)).err, undefined);
  const refused = await grpcExport(client, body);
  t.equal(refused.err?.code, grpc.status.UNAVAILABLE, 'queue full: UNAVAILABLE');
  const details = refused.err?.metadata.get('grpc-status-details-bin')[0];
  t.ok(Buffer.isBuffer(details), 'carries google.rpc.Status details');
  t.ok((retryDelayFromStatus(details as Buffer) ?? 0) > 0, 'with a RetryInfo delay');
  const r = await fetch(`http://127.0.0.1:${httpPort}/v1/traces`, { method: 'POST', body, headers: { 'content-type': 'application/x-protobuf' } });
  t.equal(r.status, 503, 'HTTP: 503');
  t.ok(Number(r.headers.get('retry-after')) >= 1, 'with Retry-After');
  await r.arrayBuffer();
  const m = await daemon.metrics();
  t.equal(metricValue(m, 'fleetcol_receiver_refused_spans', 'transport="grpc"'), 5, 'refused spans counted');
  t.equal(metricValue(m, 'fleetcol_exporter_enqueue_failed_spans'), 10, 'enqueue failures counted');
});
