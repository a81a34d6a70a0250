// A bounded fuzz run (issue 18): mutated OTLP protobuf and JSON bodies over both transports,
// random HTTP/2 frame sequences, and SSE query and header variants. Every answer must be one a
// client can act on (OK, a permanent refusal, or a retryable one for load), nothing may crash,
// every byte held must be given back, and a well-behaved client must be served at the end.
// Seeded: FLEETCOL_FUZZ_SEED replays a run; FLEETCOL_FUZZ_SCALE multiplies the counts.
import t from 'tap';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { SignJWT } from 'jose';
import { otlpReceiverFactory } from '../receivers/otlp/factory.js';
import { consumerOf } from '../src/consumer.js';
import { memoryAccounting } from '../src/memory.js';
import { Telemetry } from '../src/pdata/telemetry.js';
import { freePort, settings, waitFor } from './helper.js';
import { traces } from './data.js';
import { PREFACE, frame } from './h2-frames.js';
import { internals, spans, startFeed } from './sse-support.js';

const SEED = Number(process.env.FLEETCOL_FUZZ_SEED ?? Date.now() % 1_000_000);
const SCALE = Number(process.env.FLEETCOL_FUZZ_SCALE ?? 1);
const PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

/** mulberry32: a small seeded generator, so a failing run can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = prng(SEED);
const int = (n: number) => Math.floor(rand() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;

/** One to four random edits: flip, overwrite, insert, delete, truncate, duplicate a stretch, or a
 *  huge varint where a length was. */
function mutate(src: Uint8Array): Buffer {
  let b = Buffer.from(src);
  for (let k = 1 + int(4); k > 0; k--) {
    const at = b.length === 0 ? 0 : int(b.length);
    switch (int(7)) {
      case 0: if (b.length) b[at] = b[at]! ^ (1 << int(8)); break;
      case 1: if (b.length) b[at] = int(256); break;
      case 2: b = Buffer.concat([b.subarray(0, at), Buffer.from(Array.from({ length: 1 + int(8) }, () => int(256))), b.subarray(at)]); break;
      case 3: b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + int(16))]); break;
      case 4: b = b.subarray(0, at); break;
      case 5: { const n = 1 + int(64); b = Buffer.concat([b.subarray(0, at + n), b.subarray(at, at + n), b.subarray(at + n)]); break; }
      case 6: b = Buffer.concat([b.subarray(0, at), Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]), b.subarray(at)]); break;
    }
  }
  return b;
}

function mutateText(src: string): string {
  let s = src;
  for (let k = 1 + int(4); k > 0; k--) {
    const at = int(s.length + 1);
    switch (int(4)) {
      case 0: s = s.slice(0, at) + s.slice(at + 1 + int(8)); break;
      case 1: s = s.slice(0, at) + pick(['{', '}', '[', ']', '"', ',', ':', '-1', '1e999', 'null', 'true', '"\\ud800"', '"zz"', '{"a":', '\u0000']) + s.slice(at); break;
      case 2: s = s.slice(0, at); break;
      case 3: s = s.replace(pick(['"traceId":"', '"spanId":"', '"intValue":"', '"stringValue":', '"attributes":']), pick(['"traceId":"0', '"spanId":"zz', '"intValue":"x', '"stringValue":1', '"attributes":{'])); break;
    }
  }
  return s;
}

/** A well-formed Export call on `session`; its grpc-status. */
function wellFormedCall(session: http2.ClientHttp2Session): Promise<string> {
  return new Promise((resolve) => {
    const st = session.request({ ':method': 'POST', ':path': PATH, 'content-type': 'application/grpc', te: 'trailers' });
    const body = traces(3).toProto();
    const head = Buffer.alloc(5);
    head.writeUInt32BE(body.length, 1);
    st.on('trailers', (h) => resolve(String(h['grpc-status'])));
    st.on('error', () => resolve('error'));
    st.resume();
    st.end(Buffer.concat([head, body]));
  });
}

t.comment(`fuzz seed ${SEED} (FLEETCOL_FUZZ_SEED=${SEED} replays it), scale ${SCALE}`);

t.test('OTLP receivers: mutated protobuf and JSON over gRPC and HTTP', async (t) => {
  const port = await freePort();
  const httpPort = await freePort();
  const set = settings('receiver', `otlp/fuzz-${port}`);
  let accepted = 0;
  const rcv = otlpReceiverFactory.createReceiver!(
    set,
    { protocols: { grpc: { endpoint: `127.0.0.1:${port}` }, http: { endpoint: `127.0.0.1:${httpPort}` } }, max_inflight_bytes: 64 << 20 },
    {
      traces: consumerOf(async (b: Telemetry) => {
        // What was accepted must be whole: it counts, re-encodes and decodes.
        accepted += b.itemCount;
        Telemetry.fromProto('traces', b.toProto()).request();
      }),
    },
  );
  await rcv.start({ extension: () => undefined });
  t.teardown(() => rcv.shutdown());
  const seeds = [traces(1).toProto(), traces(7).toProto(), traces(40).toProto()];
  const json = [traces(2).toJSON(), traces(9).toJSON()];

  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on('error', () => {});
  t.teardown(() => session.close());
  const grpcCodes = new Map<string, number>();
  const grpcCall = (body: Buffer) =>
    new Promise<void>((resolve) => {
      const head = Buffer.alloc(5);
      head[0] = int(20) === 0 ? int(3) : 0;
      head.writeUInt32BE(int(30) === 0 ? int(1 << 30) : body.length, 1);
      const st = session.request({ ':method': 'POST', ':path': PATH, 'content-type': 'application/grpc', te: 'trailers', ...(head[0] === 1 ? { 'grpc-encoding': 'gzip' } : {}) });
      let code = 'none';
      const take = (h: http2.IncomingHttpHeaders) => h['grpc-status'] !== undefined && (code = String(h['grpc-status']));
      st.on('response', take);
      st.on('trailers', take);
      st.on('error', () => {});
      st.on('close', () => {
        grpcCodes.set(code, (grpcCodes.get(code) ?? 0) + 1);
        resolve();
      });
      st.resume();
      st.end(Buffer.concat([head, body]));
    });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  t.teardown(() => agent.destroy());
  const httpCodes = new Map<number, number>();
  const httpPost = (body: Buffer | string, type: string) =>
    new Promise<void>((resolve) => {
      const req = http.request({ host: '127.0.0.1', port: httpPort, path: '/v1/traces', method: 'POST', agent, headers: { 'content-type': type } }, (res) => {
        httpCodes.set(res.statusCode ?? 0, (httpCodes.get(res.statusCode ?? 0) ?? 0) + 1);
        res.resume();
        res.on('end', () => resolve());
      });
      req.on('error', () => {
        httpCodes.set(-1, (httpCodes.get(-1) ?? 0) + 1);
        resolve();
      });
      req.end(body);
    });

  const n = Math.round(4000 * SCALE);
  const running = new Set<Promise<void>>();
  const go = async (p: Promise<void>) => {
    running.add(p);
    void p.finally(() => running.delete(p));
    if (running.size >= 16) await Promise.race(running);
  };
  for (let i = 0; i < n; i++) {
    await go(grpcCall(mutate(pick(seeds))));
    await go(httpPost(mutate(pick(seeds)), 'application/x-protobuf'));
    await go(httpPost(mutateText(pick(json)), 'application/json'));
  }
  await Promise.all(running);
  t.comment(`gRPC statuses ${JSON.stringify([...grpcCodes])}; HTTP statuses ${JSON.stringify([...httpCodes])}; ${accepted} spans accepted`);
  // OK, INVALID_ARGUMENT, RESOURCE_EXHAUSTED (a length past the limit), INTERNAL (framing); never
  // UNKNOWN or an unanswered stream.
  for (const code of grpcCodes.keys()) t.ok(['0', '3', '8', '13'].includes(code), `gRPC status ${code} is an answer a client can act on`);
  for (const code of httpCodes.keys()) t.ok([200, 400, 413].includes(code), `HTTP status ${code} is an answer a client can act on`);
  await waitFor(() => (memoryAccounting.snapshot().find((h) => h.id === set.id)?.bytes ?? 0) === 0, 5000, 'every request byte given back');
  const good = await wellFormedCall(session);
  t.equal(good, '0', 'a well-formed request is served after the fuzz');
});

t.test('HTTP/2 server: random frame sequences', async (t) => {
  const port = await freePort();
  const set = settings('receiver', `otlp/fuzz-h2-${port}`);
  const rcv = otlpReceiverFactory.createReceiver!(set, { protocols: { grpc: { endpoint: `127.0.0.1:${port}` } }, max_inflight_bytes: 64 << 20 }, { traces: consumerOf(async () => {}) });
  await rcv.start({ extension: () => undefined });
  t.teardown(() => rcv.shutdown());
  const headerBlocks = [
    Buffer.from([0x83, 0x86, 0x84]), // :method POST, :scheme http, :path /
    Buffer.from([0x83, 0x86, 0x44, 0x03, 0x2f, 0x61, 0x62]), // literal :path with indexing
    Buffer.from([0x3f, 0xe1, 0x1f]), // table size update
  ];
  const randomFrame = (): Buffer => {
    const type = int(12);
    const id = pick([0, 1, 3, 5, 2, 0x7fffffff, 1 + 2 * int(50)]);
    const len = pick([0, 1, 4, 5, 8, 9, 16, int(300), 16384, 16385]);
    let payload: Buffer = Buffer.from(Array.from({ length: Math.min(len, 2000) }, () => int(256)));
    if (type === 1 && int(2) === 0) payload = mutate(pick(headerBlocks));
    if (type === 4 && int(2) === 0) payload = Buffer.from(Array.from({ length: 6 * int(4) }, () => int(256)));
    return frame(type, int(256), id, payload);
  };
  const conns = Math.round(2000 * SCALE);
  let closedByServer = 0;
  const one = () =>
    new Promise<void>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      const parts = [int(10) === 0 ? mutate(PREFACE) : PREFACE, ...(int(5) === 0 ? [] : [frame(4, 0, 0)])];
      for (let k = 1 + int(12); k > 0; k--) parts.push(randomFrame());
      s.on('connect', () => s.write(Buffer.concat(parts)));
      s.on('data', () => {});
      s.on('error', () => {});
      const timer = setTimeout(() => s.destroy(), 300);
      s.on('close', () => {
        clearTimeout(timer);
        resolve();
      });
      s.on('end', () => closedByServer++);
    });
  for (let i = 0; i < conns; i += 20) await Promise.all(Array.from({ length: Math.min(20, conns - i) }, one));
  t.comment(`${conns} connections of random frames; ${closedByServer} ended by the server`);
  await waitFor(() => (memoryAccounting.snapshot().find((h) => h.id === set.id)?.bytes ?? 0) === 0, 5000, 'every request byte given back');
  const session = http2.connect(`http://127.0.0.1:${port}`);
  t.teardown(() => session.close());
  const good = await wellFormedCall(session);
  t.equal(good, '0', 'a well-behaved client is served after the fuzz');
});

t.test('SSE feed: query and header variants', async (t) => {
  const SECRET = 'test-secret-that-is-long-enough-for-hs256';
  const f = await startFeed({ auth: { jwt: { secret: SECRET, agents_claim: 'fleetcol_agents' } }, cors: { allowed_origins: ['https://dash.example', '*'] }, max_connections_per_client: 8 });
  t.teardown(() => f.stop());
  await f.exp.consume(spans([{ agent: 'a' }, { agent: 'b', error: true }]));
  const key = new TextEncoder().encode(SECRET);
  const good = await new SignJWT({ fleetcol_agents: ['a*', 'b'] }).setProtectedHeader({ alg: 'HS256' }).setSubject('fuzz').setIssuedAt().setExpirationTime('5m').sign(key);
  const strings = ['a', 'b', '*', '', 'x'.repeat(300), '__proto__', 'constructor', 'toString', 'span,error', 'heartbeat', 'warn', 'error', 'ERROR', '%00', 'é', '\u2028', '1-1', '0-0', 'a\r\nX: y', '-'.repeat(1000)];
  const params = ['agent', 'type', 'min_severity', 'last_event_id', 'ticket', 'unknown'];
  const port = Number(new URL(f.base).port);
  const codes = new Map<string, number>();
  const rawRequest = (target: string, headers: string[]) =>
    new Promise<void>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => s.write(`GET ${target} HTTP/1.1\r\nHost: x\r\n${headers.join('')}\r\n`));
      let got = '';
      s.on('data', (c: Buffer) => {
        got += c.toString('latin1');
        if (got.includes('\r\n\r\n')) s.destroy();
      });
      s.on('error', () => {});
      const timer = setTimeout(() => s.destroy(), 2000);
      s.on('close', () => {
        clearTimeout(timer);
        const status = /^HTTP\/1\.1 (\d{3})/.exec(got)?.[1] ?? (got === '' ? 'none' : 'garbled');
        codes.set(status, (codes.get(status) ?? 0) + 1);
        resolve();
      });
    });
  const n = Math.round(2000 * SCALE);
  for (let i = 0; i < n; i += 10) {
    await Promise.all(
      Array.from({ length: 10 }, () => {
        const q = Array.from({ length: int(4) }, () => `${pick(params)}=${encodeURIComponent(pick(strings))}`).join('&');
        const path = pick(['/v1/events', '/v1/events', '/v1/agents', '/v1/tickets', '/nope']);
        const headers: string[] = [];
        if (int(2)) headers.push(`Authorization: Bearer ${pick([good, good.slice(0, -3) + 'abc', 'x.y.z', ''])}\r\n`);
        if (int(3) === 0) headers.push(`Last-Event-ID: ${pick(strings).replace(/[\r\n]/g, '')}\r\n`);
        if (int(3) === 0) headers.push(`Origin: ${pick(['https://dash.example', 'https://evil.example', 'null', 'https://a\rb', pick(strings).replace(/[\r\n]/g, '')])}\r\n`);
        if (int(4) === 0) headers.push(`Cookie: ${pick(strings).replace(/[\r\n]/g, '')}\r\n`);
        return rawRequest(`${path}?${q}`, headers);
      }),
    );
  }
  t.comment(`SSE statuses ${JSON.stringify([...codes])}`);
  for (const code of codes.keys()) t.ok(['200', '400', '401', '403', '404', '405', '429', '503'].includes(code), `status ${code} is a deliberate answer (never 500, never none)`);
  const server = (f.exp as unknown as { server: { perPrincipal: Map<string, number> } }).server;
  await waitFor(() => server.perPrincipal.size === 0 && internals(f).hub.clients.size === 0, 5000, 'every stream slot given back');
  const st = await fetch(`${f.base}/v1/events`, { headers: { authorization: `Bearer ${good}` } });
  t.equal(st.status, 200, 'a valid client still gets a stream');
  await st.body?.cancel();
});
