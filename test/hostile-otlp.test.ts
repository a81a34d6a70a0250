// Hostile input to the OTLP receivers (issue 18, items 4-10), on raw sockets: malformed requests
// refuse their own stream and the connection goes on; rapid reset and other no-work floods get
// GOAWAY ENHANCE_YOUR_CALM and the socket is closed; bad gRPC framing, deep nesting, invalid UTF-8
// and ids of the wrong length are permanent errors (INVALID_ARGUMENT / 400, or INTERNAL for gRPC
// framing), on the event loop and on a worker thread alike.
import t, { type Test } from 'tap';
import http2 from 'node:http2';
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { otlpExporterFactory } from '../exporters/otlp/factory.js';
import { otlpReceiverFactory } from '../receivers/otlp/factory.js';
import type { OtlpReceiverConfig } from '../receivers/otlp/receiver.js';
import { memoryAccounting } from '../src/memory.js';
import { encodeHeaderBlock } from '../receivers/otlp/hpack.js';
import { consumerOf } from '../src/consumer.js';
import { MAX_DEPTH } from '../src/pdata/errors.js';
import { Telemetry } from '../src/pdata/telemetry.js';
import { freePort, settings, startDaemon, startSink, waitFor } from './helper.js';
import { traceBytes, traceRequestOf, traces } from './data.js';
import { PREFACE, frame, frames, goAwayCode } from './h2-frames.js';

const PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';
const T = { DATA: 0, HEADERS: 1, PRIORITY: 2, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, CONTINUATION: 9 } as const;
const END_STREAM = 0x1;
const END_HEADERS = 0x4;
const GOOD: Array<[string, string]> = [[':method', 'POST'], [':scheme', 'http'], [':path', PATH], [':authority', 'x'], ['content-type', 'application/grpc'], ['te', 'trailers']];

function framed(message: Uint8Array, flag = 0): Buffer {
  const head = Buffer.alloc(5);
  head[0] = flag;
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
}

async function startReceiver(t: Test, extra: Partial<OtlpReceiverConfig> = {}) {
  const port = await freePort();
  const httpPort = await freePort();
  const got: Telemetry[] = [];
  const set = settings('receiver', `otlp/hostile-${port}`);
  const rcv = otlpReceiverFactory.createReceiver!(
    set,
    { protocols: { grpc: { endpoint: `127.0.0.1:${port}` }, http: { endpoint: `127.0.0.1:${httpPort}` } }, max_inflight_bytes: 64 << 20, ...extra },
    { traces: consumerOf(async (b) => void got.push(b)) },
  );
  await rcv.start({ extension: () => undefined });
  t.teardown(() => rcv.shutdown());
  /** The value of one of the receiver's counters, by name and a label fragment. */
  const counter = async (name: string, labels: string) => {
    const line = (await set.registry.prom.metrics()).split('\n').find((l) => l.startsWith(`fleetcol_${name}_total{`) && l.includes(labels));
    return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
  };
  const inflight = () => memoryAccounting.snapshot().find((h) => h.id === set.id)?.bytes ?? NaN;
  return { port, httpPort, got, counter, inflight };
}

interface Exchange {
  frames: Array<[number, number, number, Buffer]>;
  closed: boolean;
  ms: number;
}

/** Preface, SETTINGS, then `bytes`; collects what the server sends until `done` says so, the
 *  server closes, or 3 s pass. */
function exchange(port: number, bytes: Buffer, done: (f: Exchange['frames']) => boolean): Promise<Exchange> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const got: Buffer[] = [];
    const s = net.connect(port, '127.0.0.1', () => s.write(Buffer.concat([PREFACE, frame(T.SETTINGS, 0, 0), bytes])));
    let finished = false;
    const finish = (closed: boolean) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ frames: frames(Buffer.concat(got)), closed, ms: Date.now() - t0 });
    };
    const timer = setTimeout(() => finish(false), 3000);
    s.on('data', (c: Buffer) => {
      got.push(c);
      if (done(frames(Buffer.concat(got)))) finish(false);
    });
    s.on('error', () => {});
    s.on('close', () => finish(true));
  });
}

const ping = (tag: string) => frame(T.PING, 0, 0, Buffer.from(tag.padEnd(8, '.').slice(0, 8)));
const pongOf = (tag: string) => (f: Exchange['frames']) => f.some(([type, flags, , p]) => type === T.PING && flags === 1 && p.toString().startsWith(tag));
const rstOf = (f: Exchange['frames'], id: number) => f.find(([type, , sid]) => type === T.RST_STREAM && sid === id)?.[3].readUInt32BE(0);
const headers = (id: number, fields: Array<[string, string]>, flags = END_HEADERS) => frame(T.HEADERS, flags, id, encodeHeaderBlock(fields));

t.test('malformed requests refuse their own stream (RST_STREAM PROTOCOL_ERROR); the connection goes on', async (t) => {
  const { port, got, counter } = await startReceiver(t);
  const without = (name: string) => GOOD.filter(([n]) => n !== name);
  const cases: Array<[string, Array<[string, string]>]> = [
    ['an uppercase field name', [...GOOD, ['X-Upper', '1']]],
    ['connection: keep-alive', [...GOOD, ['connection', 'keep-alive']]],
    ['transfer-encoding', [...GOOD, ['transfer-encoding', 'chunked']]],
    ['te other than trailers', [...without('te'), ['te', 'gzip']]],
    ['CR in a value', [...GOOD, ['x-a', 'a\rb']]],
    ['LF in a value', [...GOOD, ['x-a', 'a\nb']]],
    ['NUL in a value', [...GOOD, ['x-a', 'a\0b']]],
    ['a pseudo-header after a regular field', [...without(':authority'), [':authority', 'x']]],
    ['an unknown pseudo-header', [...GOOD.slice(0, 4), [':foo', 'x'], ...GOOD.slice(4)]],
    ['a response pseudo-header', [[':status', '200'], ...GOOD]],
    ['a repeated pseudo-header', [GOOD[0]!, ...GOOD]],
    ['no :scheme', without(':scheme')],
    ['a content-length that is not a number', [...GOOD, ['content-length', '12abc']]],
  ];
  for (const [what, fields] of cases) {
    const x = await exchange(port, Buffer.concat([headers(1, fields), ping('after')]), pongOf('after'));
    t.equal(rstOf(x.frames, 1), 1, `${what}: RST_STREAM PROTOCOL_ERROR on that stream`);
    t.ok(pongOf('after')(x.frames) && !x.frames.some(([type]) => type === T.GOAWAY), `${what}: the connection goes on`);
  }
  // content-length that does not match the DATA, either way.
  const body = framed(traces(1).toProto());
  for (const [what, cl] of [['longer', body.length + 5], ['shorter', body.length - 5]] as const) {
    const x = await exchange(port, Buffer.concat([headers(1, [...GOOD, ['content-length', String(cl)]]), frame(T.DATA, END_STREAM, 1, body), ping('after')]), pongOf('after'));
    t.equal(rstOf(x.frames, 1), 1, `content-length ${what} than the DATA: RST_STREAM PROTOCOL_ERROR`);
  }
  // A matching content-length is a call like any other.
  const ok = await exchange(port, Buffer.concat([headers(1, [...GOOD, ['content-length', String(body.length)]]), frame(T.DATA, END_STREAM, 1, body)]), (f) => f.some(([type, flags, sid]) => type === T.HEADERS && sid === 1 && (flags & END_STREAM) !== 0));
  t.notOk(rstOf(ok.frames, 1) === 1, 'a matching content-length is served');
  t.equal(got.length, 1, 'only the good request reached the pipeline');
  t.equal(await counter('receiver_http2_refused', 'what="stream",code="PROTOCOL_ERROR"'), cases.length + 2, 'each refusal counted in fleetcol_receiver_http2_refused_total');
});

t.test('a header list past 64 KiB refuses that stream, not the connection; the limit is advertised', async (t) => {
  const { port } = await startReceiver(t);
  const block = encodeHeaderBlock([...GOOD, ['x-big', 'v'.repeat(70_000)]]);
  const parts = [frame(T.HEADERS, 0, 1, block.subarray(0, 16_000))];
  for (let at = 16_000; at < block.length; at += 16_000) parts.push(frame(T.CONTINUATION, at + 16_000 >= block.length ? END_HEADERS : 0, 1, block.subarray(at, at + 16_000)));
  const x = await exchange(port, Buffer.concat([...parts, ping('after')]), pongOf('after'));
  t.equal(rstOf(x.frames, 1), 1, 'RST_STREAM on that stream');
  t.notOk(x.frames.some(([type]) => type === T.GOAWAY), 'no GOAWAY (was COMPRESSION_ERROR for the connection)');
  const s = x.frames.find(([type, flags]) => type === T.SETTINGS && flags === 0)![3];
  const advertised = new Map<number, number>();
  for (let i = 0; i < s.length; i += 6) advertised.set(s.readUInt16BE(i), s.readUInt32BE(i + 2));
  t.equal(advertised.get(6), 65536, 'SETTINGS_MAX_HEADER_LIST_SIZE 65536');
});

t.test('PRIORITY on itself is a stream error; HEADERS on a used stream id a connection error', async (t) => {
  const { port } = await startReceiver(t);
  const self = Buffer.alloc(5);
  self.writeUInt32BE(3, 0);
  const p = await exchange(port, Buffer.concat([frame(T.PRIORITY, 0, 3, self), ping('after')]), pongOf('after'));
  t.equal(rstOf(p.frames, 3), 1, 'RST_STREAM PROTOCOL_ERROR (§5.3.1)');
  t.notOk(p.frames.some(([type]) => type === T.GOAWAY));
  const lower = await exchange(port, Buffer.concat([headers(5, GOOD), headers(3, GOOD)]), (f) => f.some(([type]) => type === T.GOAWAY));
  t.equal(goAwayCode(Buffer.concat(lower.frames.map(([type, flags, id, payload]) => frame(type, flags, id, payload))))?.code, 1, 'GOAWAY PROTOCOL_ERROR (§5.1.1), not silence');
});

t.test('rapid reset: GOAWAY ENHANCE_YOUR_CALM, nothing more read, the socket closed within 2 s, another client served meanwhile', async (t) => {
  const { port, got, counter } = await startReceiver(t);
  const good = http2.connect(`http://127.0.0.1:${port}`);
  t.teardown(() => good.close());
  const rst = Buffer.alloc(4);
  rst.writeUInt32BE(8, 0); // CANCEL
  const pairs: Buffer[] = [];
  for (let i = 0; i < 5000; i++) {
    const id = 1 + 2 * i;
    pairs.push(headers(id, GOOD), frame(T.RST_STREAM, 0, id, rst));
  }
  const flood = Buffer.concat(pairs);
  const x = await new Promise<{ code: number | undefined; closedMs: number; written: number }>((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    const t0 = Date.now();
    const got: Buffer[] = [];
    let written = 0;
    s.on('connect', () => {
      s.write(Buffer.concat([PREFACE, frame(T.SETTINGS, 0, 0)]));
      // Keeps flooding until the server closes: it must not keep reading.
      const more = () => {
        while (!s.destroyed && written < 200 && s.write(flood)) written++;
        if (!s.destroyed && written < 200) s.once('drain', more);
      };
      more();
    });
    s.on('data', (c: Buffer) => got.push(c));
    s.on('error', () => {});
    s.on('close', () => resolve({ code: goAwayCode(Buffer.concat(got))?.code, closedMs: Date.now() - t0, written }));
    setTimeout(() => s.destroy(), 15_000);
  });
  t.equal(x.code, 11, 'GOAWAY ENHANCE_YOUR_CALM');
  t.ok(x.closedMs < 10_000, `closed by the server after ${x.closedMs} ms (${x.written} writes of 5,000 pairs)`);
  const answer = await new Promise<string>((resolve, reject) => {
    const st = good.request({ ':method': 'POST', ':path': PATH, 'content-type': 'application/grpc', te: 'trailers' });
    st.on('trailers', (h) => resolve(String(h['grpc-status'])));
    st.on('error', reject);
    st.resume();
    st.end(framed(traces(2).toProto()));
  });
  t.equal(answer, '0', 'a well-behaved connection is served');
  t.equal(got.length, 1, 'none of the reset streams reached the pipeline');
  t.equal(await counter('receiver_http2_refused', 'what="connection",code="ENHANCE_YOUR_CALM"'), 1, 'counted');
});

/** A gRPC call done with node:http2; the grpc-status and grpc-message. */
function grpcCall(port: number, body: Buffer, contentType = 'application/grpc'): Promise<{ status: string; message: string }> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  return new Promise((resolve, reject) => {
    const st = session.request({ ':method': 'POST', ':path': PATH, 'content-type': contentType, te: 'trailers' });
    let status = '';
    let message = '';
    const take = (h: http2.IncomingHttpHeaders) => {
      if (h['grpc-status'] !== undefined) status = String(h['grpc-status']);
      if (h['grpc-message'] !== undefined) message = decodeURIComponent(String(h['grpc-message']));
    };
    st.on('response', take);
    st.on('trailers', take);
    st.on('close', () => {
      session.close();
      resolve({ status, message });
    });
    st.on('error', reject);
    st.resume();
    st.end(body);
  });
}

t.test('gRPC framing: a compressed flag past 1 and a codec other than proto are refused', async (t) => {
  const { port, got, counter } = await startReceiver(t);
  const msg = traces(1).toProto();
  for (const flag of [2, 0x80, 0xff]) {
    const r = await grpcCall(port, framed(msg, flag));
    t.equal(r.status, '13', `flag ${flag}: INTERNAL`);
    t.match(r.message, /compressed flag/);
  }
  const json = await grpcCall(port, framed(msg), 'application/grpc+json');
  t.equal(json.status, '3', 'application/grpc+json: INVALID_ARGUMENT, not decoded as protobuf');
  t.equal((await grpcCall(port, framed(msg), 'application/grpc+proto')).status, '0', 'application/grpc+proto is protobuf');
  t.equal(got.length, 1);
  t.equal(await counter('receiver_malformed_requests', 'transport="grpc"'), 4, 'each counted in fleetcol_receiver_malformed_requests_total');
});

// ---- payloads a strict backend refuses ----

function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}
const field = (no: number, payload: Uint8Array): Buffer => Buffer.concat([Buffer.from([(no << 3) | 2, ...varint(payload.length)]), payload]);

/** A request whose one span carries `attr` (a KeyValue's bytes) and the given ids. */
function request(opts: { attr?: Uint8Array; traceId?: Uint8Array; spanId?: Uint8Array; name?: Uint8Array }): Buffer {
  const span = Buffer.concat([
    field(1, opts.traceId ?? Buffer.alloc(16, 1)),
    field(2, opts.spanId ?? Buffer.alloc(8, 2)),
    field(5, opts.name ?? Buffer.from('op')),
    ...(opts.attr ? [field(9, opts.attr)] : []),
  ]);
  return field(1, field(2, field(2, span)));
}

/** A KeyValue whose value is `depth` arrays nested in each other. */
function deepAttr(depth: number): Buffer {
  let v: Buffer = field(1, Buffer.from('x')); // AnyValue{string_value}
  for (let i = 0; i < depth; i++) v = field(5, field(1, v)); // AnyValue{array_value: ArrayValue{values: v}}
  return Buffer.concat([field(1, Buffer.from('k')), field(2, v)]);
}

function deepJson(depth: number): string {
  let v = '{"stringValue":"x"}';
  for (let i = 0; i < depth; i++) v = `{"arrayValue":{"values":[${v}]}}`;
  return `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708","name":"op","attributes":[{"key":"k","value":${v}}]}]}]}]}`;
}

const BAD_PROTO: Array<[string, Buffer]> = [
  ['AnyValue nested 100,000 deep', request({ attr: deepAttr(100_000) })],
  ['invalid UTF-8 in a span name', request({ name: Buffer.from([0x61, 0xc3, 0x28]) })],
  ['a lone continuation byte in an attribute key', request({ attr: Buffer.concat([field(1, Buffer.from([0x80])), field(2, field(1, Buffer.from('v')))]) })],
  ['a trace id of 15 bytes', request({ traceId: Buffer.alloc(15, 1) })],
  ['a trace id of 17 bytes', request({ traceId: Buffer.alloc(17, 1) })],
  ['a trace id of 500 bytes', request({ traceId: Buffer.alloc(500, 1) })],
  ['a span id of 3 bytes', request({ spanId: Buffer.alloc(3, 1) })],
  ['a span id of 7 bytes', request({ spanId: Buffer.alloc(7, 1) })],
  ['a span id of 100 bytes', request({ spanId: Buffer.alloc(100, 1) })],
];

t.test('protobuf a strict backend refuses: INVALID_ARGUMENT / 400 on the event loop', async (t) => {
  const { port, httpPort, got, counter } = await startReceiver(t);
  for (const [what, body] of BAD_PROTO) {
    const g = await grpcCall(port, framed(body));
    t.equal(g.status, '3', `gRPC, ${what}: INVALID_ARGUMENT`);
    const h = await fetch(`http://127.0.0.1:${httpPort}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: new Uint8Array(body) });
    t.equal(h.status, 400, `HTTP, ${what}: 400`);
  }
  t.equal((await grpcCall(port, framed(request({ name: Buffer.from('héllo ✓') })))).status, '0', 'valid UTF-8 is accepted');
  t.equal((await grpcCall(port, framed(request({ traceId: Buffer.alloc(0), spanId: Buffer.alloc(0) })))).status, '0', 'empty ids are accepted');
  t.equal((await grpcCall(port, framed(request({ attr: deepAttr(MAX_DEPTH / 4) })))).status, '0', `nesting within ${MAX_DEPTH} levels is accepted`);
  t.equal(got.length, 3);
  t.equal(await counter('receiver_malformed_requests', 'transport="grpc"'), BAD_PROTO.length, 'counted in fleetcol_receiver_malformed_requests_total');
  t.equal(await counter('receiver_malformed_requests', 'transport="http"'), BAD_PROTO.length);
  const json = await fetch(`http://127.0.0.1:${httpPort}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: deepJson(10_000) });
  t.equal(json.status, 400, 'OTLP/JSON nested 10,000 deep: 400');
  const shortId = deepJson(0).replace('"spanId":"0102030405060708"', '"spanId":"010203"');
  t.equal((await fetch(`http://127.0.0.1:${httpPort}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: shortId })).status, 400, 'OTLP/JSON span id of 3 bytes: 400');
});

t.test('the same on a worker thread: INVALID_ARGUMENT / 400, never UNAVAILABLE / 503 (SDKs would retry forever)', async (t) => {
  const port = await freePort();
  const httpPort = await freePort();
  const daemon = await startDaemon(`receivers:
  otlp: { protocols: { grpc: { endpoint: 127.0.0.1:${port} }, http: { endpoint: 127.0.0.1:${httpPort} } } }
exporters:
  debug: {}
service:
  workers: { threads: 1, proto_min_size: 1KiB, json_min_size: 1KiB }
  pipelines: { traces: { receivers: [otlp], exporters: [debug] } }
`);
  t.teardown(() => daemon.stop('SIGKILL'));
  const deep = request({ attr: deepAttr(100_000) });
  t.equal((await grpcCall(port, framed(deep))).status, '3', 'gRPC, 100,000 deep: INVALID_ARGUMENT');
  const h = await fetch(`http://127.0.0.1:${httpPort}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: new Uint8Array(deep) });
  t.equal(h.status, 400, 'HTTP protobuf, 100,000 deep: 400');
  const j = await fetch(`http://127.0.0.1:${httpPort}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: deepJson(10_000) });
  t.equal(j.status, 400, 'HTTP JSON, 10,000 deep: 400');
  const utf = Buffer.concat([request({ name: Buffer.from([0xff, 0xfe]) }), traceBytes(20)]);
  t.equal((await grpcCall(port, framed(utf))).status, '3', 'invalid UTF-8 in a request past proto_min_size: INVALID_ARGUMENT');
  t.equal((await grpcCall(port, framed(traceBytes(20)))).status, '0', 'and a good one is served');
});

/** A gRPC call from `localAddress` that sends `send` bytes of a message declared `declared` bytes
 *  long and then waits (never finishing unless send covers it); the grpc-status it gets, if any. */
function partialCall(port: number, declared: number, send: number, localAddress = '127.0.0.1'): { status: Promise<string>; close(): void } {
  const session = http2.connect(`http://127.0.0.1:${port}`, { createConnection: () => net.connect({ host: '127.0.0.1', port, localAddress }) });
  session.on('error', () => {});
  const st = session.request({ ':method': 'POST', ':path': PATH, 'content-type': 'application/grpc', te: 'trailers' });
  st.on('error', () => {});
  const status = new Promise<string>((resolve) => {
    const take = (h: http2.IncomingHttpHeaders) => h['grpc-status'] !== undefined && resolve(String(h['grpc-status']) + ' ' + decodeURIComponent(String(h['grpc-message'] ?? '')));
    st.on('response', take);
    st.on('trailers', take);
    st.on('close', () => resolve('closed'));
  });
  const head = Buffer.alloc(5);
  head.writeUInt32BE(declared, 1);
  st.write(Buffer.concat([head, Buffer.alloc(send - 5, 0x0a)]));
  return { status, close: () => session.destroy() };
}

t.test('a request body that stops making progress is cut and frees what it held (gRPC and HTTP)', async (t) => {
  const { port, httpPort, inflight } = await startReceiver(t, { read_stall_timeout: 400 });
  const call = partialCall(port, 4 << 20, 64 * 1024);
  t.teardown(call.close);
  await waitFor(() => inflight() > 0, 5000, 'bytes held');
  t.match(await call.status, /^14 request body made no progress for 400 ms/, 'gRPC: UNAVAILABLE');
  await waitFor(() => inflight() === 0, 5000, 'freed');
  const status = await new Promise<string>((resolve) => {
    const s = net.connect(httpPort, '127.0.0.1', () => s.write('POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Length: 100000\r\n\r\n' + 'x'.repeat(1000)));
    let got = '';
    s.on('data', (c: Buffer) => (got += c.toString('latin1')));
    s.on('error', () => {});
    s.on('close', () => resolve(got.split('\r\n')[0] ?? ''));
    setTimeout(() => s.destroy(), 5000);
  });
  t.match(status, /^HTTP\/1\.1 408/, 'HTTP: 408');
  await waitFor(() => inflight() === 0, 5000, 'freed');
});

t.test('one client cannot take the whole max_inflight_bytes: others are still served', async (t) => {
  const { port, httpPort } = await startReceiver(t, { max_inflight_bytes: 16 << 20, read_stall_timeout: 60_000 });
  // 127.0.0.1 holds 3 of 4 MiB each and never finishes; its share is a quarter: 4 MiB.
  const hogs = [0, 1, 2].map(() => partialCall(port, 4 << 20, (3 << 20) + 5));
  t.teardown(() => hogs.forEach((h) => h.close()));
  // Whichever of its calls come last are refused: two of the three, each past its 4 MiB share.
  const statuses: string[] = [];
  for (const h of hogs) void h.status.then((x) => statuses.push(x));
  await waitFor(() => statuses.length >= 2, 10_000, 'two of the hog\'s calls answered');
  t.equal(statuses.filter((x) => /^14 this client holds max_inflight_bytes_per_client/.test(x)).length, 2, `two of the hog's calls are refused (${statuses.join('; ')})`);
  // Another client (127.0.0.2) is served meanwhile.
  const body = framed(traces(2000).toProto());
  const session = http2.connect(`http://127.0.0.1:${port}`, { createConnection: () => net.connect({ host: '127.0.0.1', port, localAddress: '127.0.0.2' }) });
  t.teardown(() => session.close());
  const answer = await new Promise<string>((resolve, reject) => {
    const st = session.request({ ':method': 'POST', ':path': PATH, 'content-type': 'application/grpc', te: 'trailers' });
    st.on('trailers', (h) => resolve(String(h['grpc-status'])));
    st.on('error', reject);
    st.resume();
    st.end(body);
  });
  t.equal(answer, '0', `another client's ${body.length}-byte request is served`);
  const h = await fetch(`http://127.0.0.1:${httpPort}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: new Uint8Array(traces(10).toProto()) });
  t.equal(h.status, 200, 'and over HTTP, a small one from the same address as the hog fits its share');
});

t.test('otlp exporter: a batch the backend refuses as malformed is halved until the bad part is isolated', async (t) => {
  // A strict backend: any request holding a span named "bad" is refused whole.
  const sink = await startSink({
    answer: (_n, _signal, batch) =>
      traceRequestOf(batch).resourceSpans.some((rs) => rs.scopeSpans.some((ss) => ss.spans.some((sp) => sp.name === 'bad')))
        ? { code: grpc.status.INVALID_ARGUMENT, details: 'invalid span' }
        : undefined,
  });
  t.teardown(() => sink.close());
  const d = otlpExporterFactory.createDefaultConfig();
  const set = settings('exporter', 'otlp');
  const exp = otlpExporterFactory.createExporter!(set, { ...d, endpoint: sink.endpoint, tls: { insecure: true }, timeout: 2000, compression: 'none', sending_queue: { ...d.sending_queue, enabled: false }, retry_on_failure: { ...d.retry_on_failure, enabled: false } }, ['traces']);
  await exp.start({ extension: () => undefined });
  t.teardown(() => exp.shutdown());
  const good = traces(99);
  const bad = traces(1);
  traceRequestOf(bad).resourceSpans[0]!.scopeSpans[0]!.spans[0]!.name = 'bad';
  bad.markModified();
  const merged = Telemetry.merge([traces(50), bad, good]);
  const err = await exp.consume(merged).catch((e: unknown) => e);
  t.match(err, { name: 'PermanentError', rejected: 1 }, 'only the bad item is reported refused');
  t.equal(sink.items('traces'), 149, 'the 149 good spans of the other clients arrived');
});
