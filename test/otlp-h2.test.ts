// The OTLP/gRPC receiver's own HTTP/2 server (receivers/otlp/h2.ts) against node:http2's client
// (nghttp2) and raw sockets: flow control both ways, CONTINUATION, PING, cancellation, graceful
// shutdown, and protocol errors that end one connection while the others keep being served.
import t, { type Test } from 'tap';
import http2 from 'node:http2';
import net from 'node:net';
import { otlpReceiverFactory } from '../receivers/otlp/factory.js';
import { H2Connection } from '../receivers/otlp/h2.js';
import { encodeHeaderBlock } from '../receivers/otlp/hpack.js';
import { consumerOf, type Consumer } from '../src/consumer.js';
import { memoryAccounting } from '../src/memory.js';
import type { Telemetry } from '../src/pdata/telemetry.js';
import { freePort, settings, sleep, waitFor } from './helper.js';
import { traces } from './data.js';
import { PREFACE, frame, frames, goAwayCode, raw } from './h2-frames.js';

const PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

function framed(message: Uint8Array): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
}

async function startReceiver(t: Test, consumer: Consumer, grpc: Record<string, unknown> = {}) {
  const port = await freePort();
  const id = `otlp/h2-${port}`;
  const set = settings('receiver', id);
  const rcv = otlpReceiverFactory.createReceiver!(set, { protocols: { grpc: { endpoint: `127.0.0.1:${port}`, ...grpc } }, max_inflight_bytes: 64 << 20 }, { traces: consumer });
  await rcv.start({ extension: () => undefined });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await rcv.shutdown();
  };
  t.teardown(stop);
  const inflight = () => memoryAccounting.snapshot().find((h) => h.id === id)?.bytes ?? NaN;
  return { port, stop, inflight };
}

interface Answer {
  status: string | undefined;
  message: string | undefined;
  body: Buffer;
  httpStatus: number | undefined;
}

function call(session: http2.ClientHttp2Session, body: Buffer, headers: http2.OutgoingHttpHeaders = {}): Promise<Answer> {
  const stream = session.request({ ':method': 'POST', ':path': PATH, 'content-type': 'application/grpc', te: 'trailers', ...headers });
  return new Promise((resolve, reject) => {
    const got: Buffer[] = [];
    let httpStatus: number | undefined;
    let status: string | undefined;
    let message: string | undefined;
    stream.on('response', (h) => {
      httpStatus = Number(h[':status']);
      if (h['grpc-status'] !== undefined) {
        status = String(h['grpc-status']);
        message = h['grpc-message'] as string | undefined;
      }
    });
    stream.on('trailers', (h) => {
      status = String(h['grpc-status']);
      message = h['grpc-message'] as string | undefined;
    });
    stream.on('data', (c: Buffer) => got.push(c));
    stream.on('close', () => resolve({ status, message, body: Buffer.concat(got), httpStatus }));
    stream.on('error', reject);
    stream.end(body);
  });
}

const sink = () => {
  const got: Telemetry[] = [];
  return { got, consumer: consumerOf(async (b) => void got.push(b)) };
};

t.test('large requests: stream and connection windows are credited as DATA arrives', async (t) => {
  const { got, consumer } = sink();
  const { port } = await startReceiver(t, consumer, { max_recv_msg_size: 16 * 1024 * 1024 });
  const session = http2.connect(`http://127.0.0.1:${port}`);
  t.teardown(() => session.close());
  // Each request is several times the 1 MiB stream window; together they pass the 4 MiB
  // connection window twice over.
  const big = traces(7500);
  const body = framed(big.toProto());
  t.ok(body.length > 3 * 1024 * 1024, `request of ${body.length} bytes`);
  for (let i = 0; i < 3; i++) {
    const a = await call(session, body);
    t.equal(a.status, '0', `request ${i + 1}: OK`);
  }
  t.equal(got.length, 3);
  t.same(got.map((b) => b.itemCount), [7500, 7500, 7500], 'every span arrived');
});

t.test('many concurrent streams on one connection, each answered', async (t) => {
  const { got, consumer } = sink();
  const { port } = await startReceiver(t, consumer);
  const session = http2.connect(`http://127.0.0.1:${port}`);
  t.teardown(() => session.close());
  const answers = await Promise.all(Array.from({ length: 300 }, (_, i) => call(session, framed(traces(1 + (i % 7)).toProto()))));
  t.same(answers.map((a) => a.status), answers.map(() => '0'), '300 calls answered OK');
  t.equal(got.reduce((n, b) => n + b.itemCount, 0), Array.from({ length: 300 }, (_, i) => 1 + (i % 7)).reduce((a, b) => a + b, 0), 'every span arrived');
});

t.test('a header block over CONTINUATION frames, Huffman and the dynamic table across calls', async (t) => {
  const { got, consumer } = sink();
  const { port } = await startReceiver(t, consumer, {});
  const session = http2.connect(`http://127.0.0.1:${port}`, { maxSendHeaderBlockLength: 200_000 });
  t.teardown(() => session.close());
  for (let i = 0; i < 3; i++) {
    // 40 KB of header: past the 16 KiB frame size, so nghttp2 sends HEADERS + CONTINUATION.
    const a = await call(session, framed(traces(2).toProto()), { 'x-big': 'v'.repeat(40_000) + i, 'x-call': `call-${i}` });
    t.equal(a.status, '0', `call ${i + 1} with a 40 KB header: OK`);
  }
  t.equal(got.length, 3);
});

t.test('the response waits for the client\'s flow-control window', async (t) => {
  const { consumer } = sink();
  const { port } = await startReceiver(t, consumer);
  // A 2-byte stream window: the 5-byte response message goes in three DATA frames, each after a
  // WINDOW_UPDATE from the client.
  const session = http2.connect(`http://127.0.0.1:${port}`, { settings: { initialWindowSize: 2 } });
  t.teardown(() => session.close());
  const a = await call(session, framed(traces(3).toProto()));
  t.equal(a.status, '0', 'OK');
  t.same([...a.body], [0, 0, 0, 0, 0], 'the whole (empty) response message arrived');
});

t.test('PING is answered; a cancelled request releases what it held; the connection goes on', async (t) => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const got: Telemetry[] = [];
  const { port, inflight } = await startReceiver(t, consumerOf(async (b) => {
    await gate;
    got.push(b);
  }));
  const session = http2.connect(`http://127.0.0.1:${port}`);
  t.teardown(() => session.close());
  // (node's client cancels a ping sent before its session is connected, whatever the server)
  await new Promise((resolve) => session.once('connect', resolve));
  const rtt = await new Promise<number>((resolve, reject) => session.ping((err, ms) => (err ? reject(err) : resolve(ms))));
  t.ok(rtt >= 0, `PING acknowledged (${rtt.toFixed(2)} ms)`);

  // Half a request, then the client gives up on it.
  const body = framed(traces(50).toProto());
  const stream = session.request({ ':method': 'POST', ':path': PATH, 'content-type': 'application/grpc', te: 'trailers' });
  stream.on('error', () => {});
  stream.write(body.subarray(0, body.length >> 1));
  await waitFor(() => inflight() > 0, 5000, 'bytes held for the half-sent request');
  stream.close(http2.constants.NGHTTP2_CANCEL);
  await waitFor(() => inflight() === 0, 5000, 'held bytes released after RST_STREAM');
  t.equal(inflight(), 0, 'the cancelled request holds nothing');

  const pending = call(session, body);
  await sleep(50);
  release();
  t.equal((await pending).status, '0', 'the next request on the same connection is answered');
  t.equal(got.length, 1, 'only the complete request reached the pipeline');
});

t.test('not gRPC: 415; unknown method: UNIMPLEMENTED', async (t) => {
  const { consumer } = sink();
  const { port } = await startReceiver(t, consumer);
  const session = http2.connect(`http://127.0.0.1:${port}`);
  t.teardown(() => session.close());
  const notGrpc = await call(session, Buffer.from('{}'), { 'content-type': 'application/json' });
  t.equal(notGrpc.httpStatus, 415, 'a JSON body on the gRPC port: 415');
  t.match(notGrpc.body.toString(), /gRPC requests only/);
  const unknown = await call(session, framed(Buffer.alloc(0)), { ':path': '/nope.Service/Method' });
  t.equal(unknown.status, '12', 'unknown method: UNIMPLEMENTED');
  t.match(unknown.message, /unknown method \/nope\.Service\/Method/);
});

t.test('protocol errors end that connection with GOAWAY; other connections are unaffected', async (t) => {
  const { got, consumer } = sink();
  const { port } = await startReceiver(t, consumer);
  const session = http2.connect(`http://127.0.0.1:${port}`);
  t.teardown(() => session.close());
  t.equal((await call(session, framed(traces(1).toProto()))).status, '0', 'a good client before');

  const http1 = (await raw(port, Buffer.from('POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n'))).toString();
  t.match(http1, /^HTTP\/1\.1 505 /, 'HTTP/1.1 on the gRPC port: 505, in HTTP/1.1');
  t.match(http1, /gRPC \(HTTP\/2\)/);

  const garbage = await raw(port, Buffer.from('GARBAGE GARBAGE GARBAGE GARBAGE\r\n'));
  t.equal(goAwayCode(garbage)?.code, 1, 'not the preface: GOAWAY PROTOCOL_ERROR');

  const settings = frame(4, 0, 0);
  const cases: Array<[string, Buffer, number]> = [
    ['first frame not SETTINGS', frame(6, 0, 0, Buffer.alloc(8)), 1],
    ['DATA on stream 0', Buffer.concat([settings, frame(0, 0, 0, Buffer.from('x'))]), 1],
    ['DATA on an idle stream', Buffer.concat([settings, frame(0, 0, 5, Buffer.from('x'))]), 1],
    ['a frame past the 16 KiB frame size', Buffer.concat([settings, frame(0, 0, 1, Buffer.alloc(20000))]), 6],
    ['SETTINGS of a bad length', Buffer.concat([settings, frame(4, 0, 0, Buffer.alloc(5))]), 6],
    ['WINDOW_UPDATE of 0 on the connection', Buffer.concat([settings, frame(8, 0, 0, Buffer.alloc(4))]), 1],
    ['a header block HPACK cannot decode', Buffer.concat([settings, frame(1, 0x4 | 0x1, 1, Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]))]), 9],
    ['HEADERS then something other than CONTINUATION', Buffer.concat([settings, frame(1, 0, 1, Buffer.from([0x83])), frame(6, 0, 0, Buffer.alloc(8))]), 1],
    ['an even stream id', Buffer.concat([settings, frame(1, 0x5, 2, Buffer.from([0x83, 0x84]))]), 1],
    ['PUSH_PROMISE from a client', Buffer.concat([settings, frame(5, 0x4, 1, Buffer.alloc(4))]), 1],
  ];
  for (const [what, bytes, code] of cases) {
    const answer = await raw(port, Buffer.concat([Buffer.from(PREFACE), bytes]));
    t.equal(goAwayCode(answer)?.code, code, `${what}: GOAWAY with error ${code}`);
  }
  // A valid exchange done by hand: SETTINGS ACK, PING ACK.
  const ping = Buffer.from('12345678');
  const ok = frames(await raw(port, Buffer.concat([Buffer.from(PREFACE), settings, frame(6, 0, 0, ping), frame(7, 0, 0, Buffer.alloc(8))])));
  t.ok(ok.some(([type, flags]) => type === 4 && flags === 1), 'SETTINGS acknowledged');
  t.ok(ok.some(([type, flags, , p]) => type === 6 && flags === 1 && p.equals(ping)), 'PING answered with its payload');

  t.equal((await call(session, framed(traces(2).toProto()))).status, '0', 'the good client is still served');
  t.equal(got.length, 2);
});

t.test('shutdown: GOAWAY, the call in flight is answered, then the connection ends', async (t) => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const { port, stop } = await startReceiver(t, consumerOf(async () => gate));
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on('error', () => {});
  const goaway = new Promise<number>((resolve) => session.once('goaway', (code) => resolve(code)));
  const inFlight = call(session, framed(traces(4).toProto()));
  await sleep(100);
  const stopped = stop();
  t.equal(await goaway, 0, 'GOAWAY NO_ERROR sent at once');
  release();
  t.equal((await inFlight).status, '0', 'the call in flight is answered');
  await stopped;
  await waitFor(() => session.closed || session.destroyed, 5000, 'session closed by the server');
  t.pass('the server stopped once its connections ended');
});

t.test('a client that sends PINGs and never reads is cut off; others are served', async (t) => {
  const { got, consumer } = sink();
  const { port } = await startReceiver(t, consumer);
  const session = http2.connect(`http://127.0.0.1:${port}`);
  t.teardown(() => session.close());
  const pings = Buffer.concat(Array.from({ length: 20_000 }, (_, i) => frame(6, 0, 0, Buffer.from(String(i).padStart(8, '0')))));
  const closed = await new Promise<{ bytes: number; goAway: number | undefined }>((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => {});
    s.pause(); // reads nothing while it floods
    s.write(Buffer.concat([Buffer.from(PREFACE), frame(4, 0, 0)]));
    let sent = 0;
    const flood = () => {
      while (sent < 40 && s.write(pings)) sent++;
      if (sent < 40 && !s.destroyed) s.once('drain', flood);
    };
    flood();
    const got: Buffer[] = [];
    // Once the server has given up (its socket ended), read what it sent.
    setTimeout(() => {
      s.on('data', (c: Buffer) => got.push(c));
      s.resume();
    }, 1500);
    const timer = setTimeout(() => s.destroy(), 10_000);
    s.on('close', () => {
      clearTimeout(timer);
      const all = Buffer.concat(got);
      const tail = all.subarray(Math.max(0, all.length - 4096));
      // GOAWAY is the last frame: find it from the end (frames before it may be cut by the window).
      const at = tail.lastIndexOf(Buffer.from([0x07, 0x00, 0x00, 0x00, 0x00, 0x00]));
      resolve({ bytes: all.length, goAway: at >= 3 ? tail.readUInt32BE(at + 6 + 4) : undefined });
    });
  });
  t.equal(closed.goAway, 11, `the flooding client got GOAWAY ENHANCE_YOUR_CALM after ${closed.bytes} bytes and was closed`);
  t.ok(closed.bytes < 20_000 * 17 * 40, 'it was not answered every PING');
  t.equal((await call(session, framed(traces(1).toProto()))).status, '0', 'another client is served');
  t.equal(got.length, 1);
});

t.test('a handler that throws ends that connection with INTERNAL_ERROR, reported, not the process', async (t) => {
  const reported: unknown[] = [];
  const server = net.createServer((socket) => {
    new H2Connection(socket, { maxConcurrentStreams: 10, handshakeTimeoutMs: 10_000, onInternalError: (err) => reported.push(err) }, () => {
      throw new Error('handler bug');
    }, () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  const session = http2.connect(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}`);
  session.on('error', () => {});
  const goaway = new Promise<number>((resolve) => session.once('goaway', (code) => resolve(code)));
  const stream = session.request({ ':method': 'POST', ':path': PATH });
  stream.on('error', () => {});
  stream.end();
  t.equal(await goaway, 2, 'GOAWAY INTERNAL_ERROR');
  t.match(String(reported[0]), /handler bug/, 'the error was handed to onInternalError');
  session.destroy();
});

t.test('a gzip request cancelled while it is decompressed releases what it held', async (t) => {
  const { got, consumer } = sink();
  const { port, inflight } = await startReceiver(t, consumer);
  const { gzipSync } = await import('node:zlib');
  const body = gzipSync(traces(400).toProto());
  const head = Buffer.alloc(5);
  head[0] = 1;
  head.writeUInt32BE(body.length, 1);
  const headers = encodeHeaderBlock([[':method', 'POST'], [':scheme', 'http'], [':path', PATH], [':authority', 'x'], ['content-type', 'application/grpc'], ['grpc-encoding', 'gzip'], ['te', 'trailers']]);
  // Ten calls, each complete and then cancelled in the same write, as when a deadline fires: the
  // receiver reads the cancel while it decompresses.
  const calls: Buffer[] = [];
  for (let i = 0; i < 10; i++) {
    const id = 1 + 2 * i;
    const rst = Buffer.alloc(4);
    rst.writeUInt32BE(8, 0);
    calls.push(frame(1, 0x4, id, headers), frame(0, 0x1, id, Buffer.concat([head, body])), frame(3, 0, id, rst));
  }
  const answer = frames(await raw(port, Buffer.concat([Buffer.from(PREFACE), frame(4, 0, 0), ...calls, frame(7, 0, 0, Buffer.alloc(8))])));
  t.notOk(answer.some(([type]) => type === 7), 'no connection error');
  await waitFor(() => inflight() === 0, 5000, 'held bytes back to 0');
  await sleep(300);
  t.equal(inflight(), 0, 'nothing held once the cancelled calls are done');
  t.equal(got.length, 0, 'no cancelled call reached the pipeline');
  const session = http2.connect(`http://127.0.0.1:${port}`);
  t.teardown(() => session.close());
  t.equal((await call(session, framed(traces(3).toProto()))).status, '0', 'the receiver goes on');
});

t.test('client trailers on a stream already answered are ignored; the connection goes on', async (t) => {
  const { got, consumer } = sink();
  const { port } = await startReceiver(t, consumer);
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on('error', () => {});
  t.teardown(() => session.close());
  let goaway = false;
  session.on('goaway', () => (goaway = true));
  // A slow request in flight on the same connection.
  const slowBody = framed(traces(5).toProto());
  const slow = session.request({ ':method': 'POST', ':path': PATH, 'content-type': 'application/grpc', te: 'trailers' });
  const slowStatus = new Promise<string>((resolve, reject) => {
    slow.on('trailers', (h) => resolve(String(h['grpc-status'])));
    slow.on('error', reject);
  });
  slow.resume();
  slow.write(slowBody.subarray(0, 10));
  // Answered at its headers (UNIMPLEMENTED), while its body and trailers are still coming.
  const early = session.request({ ':method': 'POST', ':path': '/nope.Service/Method', 'content-type': 'application/grpc', te: 'trailers' }, { waitForTrailers: true });
  early.on('error', () => {});
  early.on('wantTrailers', () => early.sendTrailers({ 'x-done': '1' }));
  early.resume();
  early.end(framed(Buffer.alloc(100)));
  await new Promise((resolve) => early.on('close', resolve));
  await sleep(100);
  slow.end(slowBody.subarray(10));
  t.equal(await slowStatus, '0', 'the other call on the connection is answered');
  t.notOk(goaway, 'no GOAWAY');
  t.equal(got.length, 1);
});

t.test('a connection that does not complete the HTTP/2 handshake in time is closed; one that does stays', async (t) => {
  const server = net.createServer((socket) => {
    new H2Connection(socket, { maxConcurrentStreams: 10, handshakeTimeoutMs: 300 }, () => {}, () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => server.close());
  const port = (server.address() as net.AddressInfo).port;
  const closedAfter = (bytes: Buffer) =>
    new Promise<number>((resolve) => {
      const t0 = Date.now();
      const s = net.connect(port, '127.0.0.1', () => s.write(bytes));
      s.on('data', () => {});
      s.on('error', () => {});
      s.on('close', () => resolve(Date.now() - t0));
      setTimeout(() => s.destroy(), 5000).unref();
    });
  const silent = await closedAfter(Buffer.alloc(0));
  t.ok(silent >= 250 && silent < 2000, `a client that sends nothing: closed after ${silent} ms`);
  const prefaceOnly = await closedAfter(Buffer.from(PREFACE));
  t.ok(prefaceOnly >= 250 && prefaceOnly < 2000, `the preface but no SETTINGS: closed after ${prefaceOnly} ms`);

  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on('error', () => {});
  t.teardown(() => session.destroy());
  await new Promise<void>((r) => session.once('remoteSettings', () => r()));
  await sleep(600);
  t.notOk(session.closed || session.destroyed, 'a client that completed the handshake is kept past the deadline');
});

t.test('keepalive.server_parameters.max_connection_idle: an unused connection gets GOAWAY and ends; a busy one does not', async (t) => {
  const { got, consumer } = sink();
  const { port } = await startReceiver(t, consumer, { keepalive: { server_parameters: { max_connection_idle: 300 } } });
  const busy = http2.connect(`http://127.0.0.1:${port}`);
  busy.on('error', () => {});
  t.teardown(() => busy.destroy());
  let busyGoaway = false;
  busy.on('goaway', () => (busyGoaway = true));
  const idle = http2.connect(`http://127.0.0.1:${port}`);
  idle.on('error', () => {});
  t.teardown(() => idle.destroy());
  const t0 = Date.now();
  const goaway = new Promise<number>((r) => idle.once('goaway', (code) => r(code)));
  t.equal((await call(idle, framed(traces(1).toProto()))).status, '0', 'a call, then nothing');
  for (let i = 0; i < 8; i++) {
    t.equal((await call(busy, framed(traces(1).toProto()))).status, '0');
    await sleep(100);
  }
  t.equal(await goaway, 0, 'the idle connection: GOAWAY NO_ERROR');
  const after = Date.now() - t0;
  t.ok(after >= 250 && after < 1500, `about the idle limit after its last call (${after} ms)`);
  await waitFor(() => idle.destroyed, 3000, 'the idle connection closed');
  t.notOk(busyGoaway, 'the connection with a call every 100 ms was not idle for 300 ms: no GOAWAY');
  t.equal(got.length, 9);
});

t.test('keepalive.server_parameters.max_connection_age: GOAWAY at the age; a call in flight finishes within the grace, one past it is cut', async (t) => {
  let release!: () => void;
  let gate = new Promise<void>((r) => (release = r));
  const { port } = await startReceiver(t, consumerOf(async () => gate), { keepalive: { server_parameters: { max_connection_age: 300, max_connection_age_grace: 600 } } });

  const a = http2.connect(`http://127.0.0.1:${port}`);
  a.on('error', () => {});
  t.teardown(() => a.destroy());
  const t0 = Date.now();
  const goawayA = new Promise<number>((r) => a.once('goaway', (code) => r(code)));
  const inFlight = call(a, framed(traces(1).toProto()));
  t.equal(await goawayA, 0, 'GOAWAY NO_ERROR');
  const at = Date.now() - t0;
  t.ok(at >= 250 && at < 1200, `at about the age, ±10 % (${at} ms)`);
  await sleep(100);
  release();
  t.equal((await inFlight).status, '0', 'the call in flight when GOAWAY came is answered within the grace');
  await waitFor(() => a.destroyed, 3000, 'then the connection ends');

  gate = new Promise<void>(() => {}); // never answered
  const b = http2.connect(`http://127.0.0.1:${port}`);
  b.on('error', () => {});
  t.teardown(() => b.destroy());
  const t1 = Date.now();
  const stuck = call(b, framed(traces(1).toProto())).catch((e: Error) => ({ status: undefined, message: e.message }));
  // (node's client marks the session closed at GOAWAY; it is destroyed when the server hangs up)
  await waitFor(() => b.destroyed, 5000, 'a connection whose call outlives the grace is closed');
  const closedAt = Date.now() - t1;
  t.ok(closedAt >= 750 && closedAt < 3000, `closed after the age plus the grace (${closedAt} ms)`);
  t.not((await stuck).status, '0', 'that call is not answered OK');
});
