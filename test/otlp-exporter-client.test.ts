// The OTLP exporter's gRPC client (exporters/otlp/grpc-client.ts): TLS variants against a grpc-js
// server (an independent gRPC implementation), and the wire-level edge cases against raw
// node:http2 servers that answer exactly what each case needs.
import t from 'tap';
import http2 from 'node:http2';
import zlib from 'node:zlib';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { otlpExporterFactory } from '../exporters/otlp/factory.js';
import { GrpcClient, GrpcError, Status, type GrpcClientOptions } from '../exporters/otlp/grpc-client.js';
import { encodeStatusWithRetryInfo, retryDelayFromStatus } from '../src/pdata/rpc.js';
import { Telemetry } from '../src/pdata/telemetry.js';
import { makeCert, metricValue, settings, sleep, waitFor } from './helper.js';
import { traces } from './data.js';

const TRACES = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';
const host = { extension: () => undefined };

function exporterConfig(endpoint: string, tls: Record<string, unknown>) {
  const d = otlpExporterFactory.createDefaultConfig();
  return {
    ...d,
    endpoint,
    tls,
    timeout: 3000,
    retry_on_failure: { ...d.retry_on_failure, initial_interval: 50, max_interval: 200, max_elapsed_time: 0 },
  };
}

/** A grpc-js OTLP trace backend with the given credentials; counts the spans it gets. */
async function grpcBackend(creds: grpc.ServerCredentials) {
  const server = new grpc.Server();
  const id = (b: Buffer) => b;
  let spans = 0;
  server.addService(
    { Export: { path: TRACES, requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id } },
    {
      Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
        spans += Telemetry.fromProto('traces', new Uint8Array(call.request)).itemCount;
        cb(null, Buffer.alloc(0));
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', creds, (err, p) => (err ? reject(err) : resolve(p))));
  return { port, spans: () => spans, close: () => new Promise<void>((r) => server.tryShutdown(() => r())) };
}

/** Runs one exporter against a backend: did 5 spans arrive within `ms`, and how many retries? */
async function exportOnce(endpoint: string, tls: Record<string, unknown>, arrived: () => number, ms: number) {
  const set = settings('exporter', 'otlp');
  const exp = otlpExporterFactory.createExporter!(set, exporterConfig(endpoint, tls), ['traces']);
  await exp.start(host);
  await exp.consume(traces(5));
  const deadline = Date.now() + ms;
  while (arrived() < 5 && Date.now() < deadline) await sleep(50);
  const retries = metricValue(await set.registry.prom.metrics(), 'fleetcol_exporter_retries_total');
  await exp.shutdown();
  return { delivered: arrived() >= 5, retries };
}

const pem = makeCert();
const pemNamed = makeCert('DNS:backend.internal', 'backend.internal');
const pemClient = makeCert('DNS:fleetcol-client', 'fleetcol-client');
const noOpenssl = !pem || !pemNamed || !pemClient ? 'openssl is not installed (needed to make test certificates)' : false;

t.test('TLS: ca_file verifies the backend; without it the handshake fails and the batch is retried', { skip: noOpenssl }, async (t) => {
  const b = await grpcBackend(grpc.ServerCredentials.createSsl(null, [{ private_key: readFileSync(pem!.key), cert_chain: readFileSync(pem!.cert) }]));
  t.teardown(b.close);
  const untrusted = await exportOnce(`127.0.0.1:${b.port}`, {}, b.spans, 1500);
  t.notOk(untrusted.delivered, 'a certificate no CA vouches for is refused');
  t.ok(untrusted.retries > 0, `the failed handshake is retryable (${untrusted.retries} retries)`);
  const ok = await exportOnce(`127.0.0.1:${b.port}`, { ca_file: pem!.cert }, b.spans, 5000);
  t.ok(ok.delivered, 'delivered with ca_file');
  t.equal(ok.retries, 0);
});

t.test('TLS: insecure_skip_verify accepts any certificate', { skip: noOpenssl }, async (t) => {
  const b = await grpcBackend(grpc.ServerCredentials.createSsl(null, [{ private_key: readFileSync(pemNamed!.key), cert_chain: readFileSync(pemNamed!.cert) }]));
  t.teardown(b.close);
  const r = await exportOnce(`https://127.0.0.1:${b.port}`, { insecure_skip_verify: true }, b.spans, 5000);
  t.ok(r.delivered, 'delivered to a backend whose certificate names another host and no CA vouches for');
});

t.test('TLS: server_name_override checks the certificate against that name', { skip: noOpenssl }, async (t) => {
  const b = await grpcBackend(grpc.ServerCredentials.createSsl(null, [{ private_key: readFileSync(pemNamed!.key), cert_chain: readFileSync(pemNamed!.cert) }]));
  t.teardown(b.close);
  const wrongName = await exportOnce(`127.0.0.1:${b.port}`, { ca_file: pemNamed!.cert }, b.spans, 1500);
  t.notOk(wrongName.delivered, 'the certificate is for backend.internal, not 127.0.0.1');
  const ok = await exportOnce(`127.0.0.1:${b.port}`, { ca_file: pemNamed!.cert, server_name_override: 'backend.internal' }, b.spans, 5000);
  t.ok(ok.delivered, 'delivered with server_name_override: backend.internal');
});

t.test('mTLS: cert_file/key_file present a client certificate the backend requires', { skip: noOpenssl }, async (t) => {
  const b = await grpcBackend(
    grpc.ServerCredentials.createSsl(readFileSync(pemClient!.cert), [{ private_key: readFileSync(pem!.key), cert_chain: readFileSync(pem!.cert) }], true),
  );
  t.teardown(b.close);
  const anonymous = await exportOnce(`127.0.0.1:${b.port}`, { ca_file: pem!.cert }, b.spans, 1500);
  t.notOk(anonymous.delivered, 'refused without a client certificate');
  const ok = await exportOnce(`127.0.0.1:${b.port}`, { ca_file: pem!.cert, cert_file: pemClient!.cert, key_file: pemClient!.key }, b.spans, 5000);
  t.ok(ok.delivered, 'delivered with the client certificate');
});

// ---- wire-level cases on raw node:http2 servers ----

interface Seen {
  headers: http2.IncomingHttpHeaders;
  body: Buffer;
}

/** An h2c server whose handler answers each stream once its whole body is read. */
async function rawServer(handle: (stream: http2.ServerHttp2Stream, seen: Seen, n: number) => void) {
  const server = http2.createServer();
  const seen: Seen[] = [];
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  server.on('stream', (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', () => {});
    stream.on('end', () => {
      const s = { headers, body: Buffer.concat(chunks) };
      seen.push(s);
      handle(stream, s, seen.length - 1);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    seen,
    sessions,
    close: () => new Promise<void>((r) => {
      for (const s of sessions) s.destroy();
      server.close(() => r());
    }),
  };
}

function clientFor(port: number, extra: Partial<GrpcClientOptions> = {}): GrpcClient {
  return new GrpcClient({ address: `127.0.0.1:${port}`, secure: false, metadata: { 'x-tenant': 'a' }, gzip: false, keepaliveMs: 0, userAgent: 'fleetcol-test', ...extra });
}

const okTrailersReply = (stream: http2.ServerHttp2Stream, message?: Buffer, flag = 0) => {
  stream.respond({ ':status': 200, 'content-type': 'application/grpc', ...(flag ? { 'grpc-encoding': 'gzip' } : {}) }, { waitForTrailers: true });
  stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
  if (!message) return stream.end();
  const p = Buffer.alloc(5);
  p[0] = flag;
  p.writeUInt32BE(message.length, 1);
  stream.end(Buffer.concat([p, message]));
};

async function rejection(p: Promise<unknown>): Promise<GrpcError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof GrpcError) return err;
    throw err;
  }
  throw new Error('the call succeeded');
}

t.test('request: the parts arrive as one length-prefixed message with gRPC headers and metadata', async (t) => {
  const srv = await rawServer((s) => okTrailersReply(s));
  t.teardown(srv.close);
  const c = clientFor(srv.port);
  t.teardown(() => c.close());
  const parts = [Buffer.from('abc'), new Uint8Array([1, 2, 3, 4]), Buffer.from('xyz')];
  const response = await c.unary(TRACES, parts);
  t.equal(response.length, 0, 'no response message');
  const { headers, body } = srv.seen[0]!;
  t.equal(headers[':path'], TRACES);
  t.equal(headers['content-type'], 'application/grpc');
  t.equal(headers.te, 'trailers');
  t.equal(headers['x-tenant'], 'a', 'metadata sent as headers');
  t.equal(headers['grpc-encoding'], undefined, 'identity by default');
  t.same([...body], [0, 0, 0, 0, 10, ...Buffer.from('abc'), 1, 2, 3, 4, ...Buffer.from('xyz')]);
});

t.test('gzip: the request is compressed with the flag set; a compressed response is inflated', async (t) => {
  const reply = Buffer.from('response message');
  const srv = await rawServer((s) => okTrailersReply(s, zlib.gzipSync(reply), 1));
  t.teardown(srv.close);
  const c = clientFor(srv.port, { gzip: true });
  t.teardown(() => c.close());
  const response = await c.unary(TRACES, [Buffer.from('hello '), Buffer.from('world')]);
  t.equal(response.toString(), 'response message');
  const { headers, body } = srv.seen[0]!;
  t.equal(headers['grpc-encoding'], 'gzip');
  t.equal(body[0], 1, 'compressed flag');
  t.equal(body.readUInt32BE(1), body.length - 5);
  t.equal(zlib.gunzipSync(body.subarray(5)).toString(), 'hello world');
  t.same(body.subarray(5), zlib.gzipSync(Buffer.from('hello world'), { level: 1 }), 'level 1 by default');
  const nine = clientFor(srv.port, { gzip: true, gzipLevel: 9 });
  t.teardown(() => nine.close());
  const text = Buffer.from('span '.repeat(2000));
  await nine.unary(TRACES, [text]);
  t.same(srv.seen[1]!.body.subarray(5), zlib.gzipSync(text, { level: 9 }), 'compression_params.level reaches zlib');
});

t.test('status: trailers-only errors, percent-encoded messages, RetryInfo details, HTTP errors', async (t) => {
  const details = Buffer.from(encodeStatusWithRetryInfo(Status.UNAVAILABLE, 'busy', 1500));
  const srv = await rawServer((s, _seen, n) => {
    if (n === 0) s.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '3', 'grpc-message': 'bad%20span%20%C3%A9t%C3%A9' }, { endStream: true });
    else if (n === 1) {
      s.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      s.once('wantTrailers', () => s.sendTrailers({ 'grpc-status': '14', 'grpc-message': 'busy', 'grpc-status-details-bin': details.toString('base64').replace(/=+$/, '') }));
      s.end();
    } else if (n === 2) {
      s.respond({ ':status': 503, 'content-type': 'text/plain' });
      s.end('overloaded');
    } else s.close(http2.constants.NGHTTP2_REFUSED_STREAM);
  });
  t.teardown(srv.close);
  const c = clientFor(srv.port);
  t.teardown(() => c.close());
  const invalid = await rejection(c.unary(TRACES, [Buffer.from('x')]));
  t.equal(invalid.code, Status.INVALID_ARGUMENT);
  t.equal(invalid.details, 'bad span été', 'grpc-message is percent-decoded');
  const busy = await rejection(c.unary(TRACES, [Buffer.from('x')]));
  t.equal(busy.code, Status.UNAVAILABLE);
  t.ok(busy.statusDetails, 'grpc-status-details-bin is passed on');
  t.equal(retryDelayFromStatus(busy.statusDetails!), 1500, 'its RetryInfo delay');
  const http = await rejection(c.unary(TRACES, [Buffer.from('x')]));
  t.equal(http.code, Status.UNAVAILABLE, 'HTTP 503 without a grpc-status maps to UNAVAILABLE');
  const refused = await rejection(c.unary(TRACES, [Buffer.from('x')]));
  t.equal(refused.code, Status.UNAVAILABLE, 'a refused stream is UNAVAILABLE (retryable)');
});

t.test('connection refused is UNAVAILABLE; abort cancels the call on the wire', async (t) => {
  const closed = await rawServer(() => {});
  const port = closed.port;
  await closed.close();
  const down = clientFor(port);
  const e = await rejection(down.unary(TRACES, [Buffer.from('x')]));
  t.equal(e.code, Status.UNAVAILABLE);
  down.close();

  let cancelled = false;
  const hang = await rawServer((s) => s.on('close', () => (cancelled = s.rstCode === http2.constants.NGHTTP2_CANCEL)));
  t.teardown(hang.close);
  const c = clientFor(hang.port);
  t.teardown(() => c.close());
  const ac = new AbortController();
  const call = c.unary(TRACES, [Buffer.from('x')], { signal: ac.signal });
  await waitFor(() => hang.seen.length === 1, 5000, 'request arrived');
  ac.abort();
  const aborted = await rejection(call);
  t.equal(aborted.code, Status.CANCELLED);
  await waitFor(() => cancelled, 5000, 'server saw RST_STREAM CANCEL');
});

t.test('large and concurrent: 3 calls of 24 MiB in flight on one connection all succeed', async (t) => {
  const srv = await rawServer((s) => okTrailersReply(s));
  t.teardown(srv.close);
  const c = clientFor(srv.port);
  t.teardown(() => c.close());
  const part = Buffer.alloc(8 << 20, 7);
  await Promise.all([0, 1, 2].map(() => c.unary(TRACES, [part, part, part])));
  t.equal(srv.seen.length, 3);
  for (const s of srv.seen) t.equal(s.body.length, 5 + 3 * part.length);
  t.equal(srv.sessions.size, 1, 'one connection');
});

t.test('request copies: reused send buffers never mix calls (sequential, concurrent, after a failed call)', async (t) => {
  // Each call's parts get a content pattern of their own and a size of their own, so a buffer
  // reused too early, or a copy of the wrong length, shows up as a wrong body.
  const pattern = (n: number, seed: number) => {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7) & 0xff;
    return b;
  };
  const sizes = [3, 70_000, 1_500_000, 10, 2_200_000, 999_999, 64 * 1024, 1_048_571, 5, 3_000_000];
  const expect = (seed: number) => {
    const n = sizes[seed % sizes.length]!;
    return [pattern(Math.floor(n / 3), seed), pattern(n - Math.floor(n / 3), seed + 100)];
  };
  const srv = await rawServer((s, _seen, i) => (i === 5 ? s.close(http2.constants.NGHTTP2_REFUSED_STREAM) : okTrailersReply(s)));
  t.teardown(srv.close);
  const c = clientFor(srv.port);
  t.teardown(() => c.close());
  for (let seed = 0; seed < 5; seed++) await c.unary(TRACES, expect(seed));
  const refused = await rejection(c.unary(TRACES, expect(5)));
  t.equal(refused.code, Status.UNAVAILABLE, 'the sixth call is refused by the server');
  await Promise.all([6, 7, 8, 9, 10, 11, 12, 13].map((seed) => c.unary(TRACES, expect(seed))));
  t.equal(srv.seen.length, 14);
  for (const got of srv.seen) {
    const length = got.body.readUInt32BE(1);
    t.equal(got.body.length, 5 + length, 'the prefix gives the body length');
  }
  // Sequential calls arrive in order; the concurrent ones in any order: match them by content.
  const bodies = srv.seen.map((x) => x.body.subarray(5));
  for (let seed = 0; seed < 14; seed++) {
    const want = Buffer.concat(expect(seed));
    t.ok(bodies.some((b) => b.equals(want)), `call ${seed} arrived byte for byte (${want.length} bytes)`);
  }
});

t.test('a connection the server closed is replaced on the next call', async (t) => {
  const srv = await rawServer((s) => okTrailersReply(s));
  t.teardown(srv.close);
  const c = clientFor(srv.port);
  t.teardown(() => c.close());
  await c.unary(TRACES, [Buffer.from('1')]);
  for (const s of srv.sessions) s.close(); // GOAWAY
  await waitFor(() => srv.sessions.size === 0, 5000, 'session closed');
  await c.unary(TRACES, [Buffer.from('2')]);
  t.equal(srv.seen.length, 2, 'both calls arrived');
});
