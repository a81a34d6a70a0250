// The gRPC receiver's own HTTP/2 server against independent HTTP/2 and gRPC implementations
// (issue 18): Python's hyper-h2 (Debian python3-h2) driving conformance cases frame by frame,
// gRPC C-core (Debian python3-grpcio) as a real gRPC client, and nghttp2's nghttp and h2load
// (Debian nghttp2-client). `.ci/run` installs them; without them each suite prints SKIP (and fails
// under CI=true, where nothing may skip).
import t, { type Test } from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { otlpReceiverFactory } from '../receivers/otlp/factory.js';
import { consumerOf } from '../src/consumer.js';
import type { Telemetry } from '../src/pdata/telemetry.js';
import { freePort, settings, tempFile } from './helper.js';
import { traces } from './data.js';

const PY = '/usr/bin/python3';
const PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';
const hasPython = (mod: string) => existsSync(PY) && spawnSync(PY, ['-c', `import ${mod}`]).status === 0;
const has = (bin: string) => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;

function missing(what: string, install: string): void {
  if (process.env.CI) t.fail(`${what} is missing under CI=true (${install})`);
  else t.comment(`SKIP: ${what} is missing (${install})`);
}

async function receiver(t: Test) {
  const port = await freePort();
  const got: Telemetry[] = [];
  const rcv = otlpReceiverFactory.createReceiver!(settings('receiver', `otlp/peers-${port}`), { protocols: { grpc: { endpoint: `127.0.0.1:${port}` } }, max_inflight_bytes: 64 << 20 }, { traces: consumerOf(async (b) => void got.push(b)) });
  await rcv.start({ extension: () => undefined });
  t.teardown(() => rcv.shutdown());
  return { port, got };
}

/** Runs a program to its end (bounded); its exit code and output. */
function run(cmd: string, args: string[], timeoutMs = 60_000): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

function framed(message: Uint8Array): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
}

// ---- hyper-h2: conformance, frame by frame ----

const H2_SCRIPT = String.raw`
import json, socket, sys
import h2.config, h2.connection, h2.events, h2.settings

port = int(sys.argv[1]); body = open(sys.argv[2], 'rb').read(); case = sys.argv[3]
PATH = '${PATH}'
cfg = h2.config.H2Configuration(client_side=True, validate_outbound_headers=False, normalize_outbound_headers=False, validate_inbound_headers=False)
conn = h2.connection.H2Connection(config=cfg)
conn.local_settings = h2.settings.Settings(client=True, initial_values={h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: 1 << 20})
s = socket.create_connection(('127.0.0.1', port)); s.settimeout(5)
conn.initiate_connection(); s.sendall(conn.data_to_send())
GOOD = [(':method', 'POST'), (':scheme', 'http'), (':path', PATH), (':authority', 'x'), ('content-type', 'application/grpc'), ('te', 'trailers')]
out = {'events': [], 'settings': {}}

def pump(until, limit=2000):
    for _ in range(limit):
        try:
            data = s.recv(65536)
        except socket.timeout:
            return
        if not data:
            out['events'].append('closed'); return
        for ev in conn.receive_data(data):
            if isinstance(ev, h2.events.RemoteSettingsChanged):
                for k, v in ev.changed_settings.items(): out['settings'][int(k)] = v.new_value
            elif isinstance(ev, h2.events.StreamReset):
                out['events'].append(['reset', ev.stream_id, int(ev.error_code)])
            elif isinstance(ev, h2.events.ConnectionTerminated):
                out['events'].append(['goaway', int(ev.error_code)])
            elif isinstance(ev, h2.events.TrailersReceived):
                out['events'].append(['trailers', ev.stream_id, dict((k.decode(), v.decode()) for k, v in ev.headers)])
            elif isinstance(ev, h2.events.PingAckReceived):
                out['events'].append(['pong'])
            elif isinstance(ev, h2.events.DataReceived):
                conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
        s.sendall(conn.data_to_send())
        if until(): return

def has(kind):
    return lambda: any(e[0] == kind for e in out['events'] if isinstance(e, list))

if case == 'call':
    for sid in (1, 3, 5):
        conn.send_headers(sid, GOOD); conn.send_data(sid, body, end_stream=True)
    s.sendall(conn.data_to_send())
    pump(lambda: sum(1 for e in out['events'] if isinstance(e, list) and e[0] == 'trailers') == 3)
elif case == 'big':
    # 4 MiB - 1 KiB in one request: flow control both windows, in 16 KiB frames.
    conn.send_headers(1, GOOD); s.sendall(conn.data_to_send())
    sent = 0
    while sent < len(body):
        room = min(conn.local_flow_control_window(1), conn.max_outbound_frame_size, len(body) - sent)
        if room <= 0:
            pump(lambda: conn.local_flow_control_window(1) > 0, 50); continue
        conn.send_data(1, body[sent:sent + room], end_stream=(sent + room == len(body))); sent += room
        s.sendall(conn.data_to_send())
    pump(has('trailers'))
elif case.startswith('bad:'):
    name, value = case[4:].split('=', 1)
    fields = [f for f in GOOD if f[0] != name] if value == '<drop>' else GOOD + [(name, value.replace('<CR>', '\r').replace('<LF>', '\n'))]
    conn.send_headers(1, fields, end_stream=True); conn.ping(b'12345678'); s.sendall(conn.data_to_send())
    pump(lambda: has('reset')() and has('pong')())
elif case == 'huge-headers':
    conn.send_headers(1, GOOD + [('x-big', 'v' * 70000)], end_stream=True); conn.ping(b'12345678'); s.sendall(conn.data_to_send())
    pump(lambda: has('reset')() and has('pong')())
elif case == 'rapid-reset':
    for i in range(3000):
        sid = 1 + 2 * i
        conn.send_headers(sid, GOOD); conn.reset_stream(sid)
        if i % 100 == 99:
            try:
                s.sendall(conn.data_to_send())
            except OSError:
                break
    try:
        s.sendall(conn.data_to_send())
    except OSError:
        pass
    pump(has('goaway'))
print(json.dumps(out))
`;

if (!hasPython('h2')) {
  missing('python3-h2 (hyper-h2 for /usr/bin/python3)', 'apt-get install -y python3-h2');
} else {
  t.test('hyper-h2: calls, flow control, header rules, header list size, rapid reset', async (t) => {
    const { port, got } = await receiver(t);
    const script = tempFile('h2-case.py', H2_SCRIPT);
    const small = tempFile('small.bin', '');
    writeFileSync(small, framed(traces(3).toProto()));
    const big = tempFile('big.bin', '');
    // As many spans as fit under the 4 MiB limit.
    const perSpan = traces(100).toProto().length / 100;
    const bigBody = traces(Math.floor(((4 << 20) - 64 * 1024) / perSpan)).toProto();
    writeFileSync(big, framed(bigBody));
    type Out = { events: Array<string | [string, ...unknown[]]>; settings: Record<string, number> };
    const h2case = async (c: string, body = small): Promise<Out> => {
      const r = await run(PY, [script, String(port), body, c]);
      if (r.code !== 0) throw new Error(`h2 case ${c} failed: ${r.out}`);
      return JSON.parse(r.out.trim().split('\n').at(-1)!) as Out;
    };
    const calls = await h2case('call');
    const trailers = calls.events.filter((e): e is [string, number, Record<string, string>] => Array.isArray(e) && e[0] === 'trailers');
    t.same(trailers.map((e) => e[2]['grpc-status']), ['0', '0', '0'], 'three calls on one connection, each grpc-status 0');
    t.equal(calls.settings['6'], 65536, 'SETTINGS_MAX_HEADER_LIST_SIZE advertised');
    t.equal(got.length, 3);
    const large = await h2case('big', big);
    const answer = large.events.find((e): e is [string, number, Record<string, string>] => Array.isArray(e) && e[0] === 'trailers');
    t.equal(answer?.[2]['grpc-status'], '0', `a request of ${bigBody.length} bytes is served (stream and connection windows credited as it arrives)`);
    const reset = (o: Out) => o.events.find((e): e is [string, number, number] => Array.isArray(e) && e[0] === 'reset');
    for (const c of ['X-Upper=1', 'connection=close', 'te=gzip', 'x-a=a<CR>b', 'x-a=a<LF>b', ':scheme=<drop>', ':status=200', 'content-length=12']) {
      const o = await h2case(`bad:${c}`);
      t.same(reset(o)?.slice(1), [1, 1], `${c}: RST_STREAM PROTOCOL_ERROR on that stream`);
      t.ok(o.events.some((e) => Array.isArray(e) && e[0] === 'pong') && !o.events.some((e) => Array.isArray(e) && e[0] === 'goaway'), `${c}: the connection goes on`);
    }
    const huge = await h2case('huge-headers');
    t.same(reset(huge)?.slice(1, 2), [1], 'a 70 KB header list: that stream refused');
    t.notOk(huge.events.some((e) => Array.isArray(e) && e[0] === 'goaway'), 'not the connection');
    const rr = await h2case('rapid-reset');
    t.same(rr.events.find((e) => Array.isArray(e) && e[0] === 'goaway'), ['goaway', 11], 'rapid reset: GOAWAY ENHANCE_YOUR_CALM');
  });
}

// ---- gRPC C-core ----

const GRPC_SCRIPT = String.raw`
import sys, grpc
port = int(sys.argv[1]); good = open(sys.argv[2], 'rb').read(); bad = open(sys.argv[3], 'rb').read()
PATH = '${PATH}'
with grpc.insecure_channel('127.0.0.1:%d' % port) as ch:
    call = ch.unary_unary(PATH)
    for comp in (grpc.Compression.NoCompression, grpc.Compression.Gzip):
        call(good, timeout=10, compression=comp)
        print('ok', 'gzip' if comp == grpc.Compression.Gzip else 'identity')
    try:
        call(bad, timeout=10)
        print('bad accepted')
    except grpc.RpcError as e:
        print('bad', e.code().name)
    n = 0
    for _ in range(200):
        call(good, timeout=10); n += 1
    print('calls', n)
`;

if (!hasPython('grpc')) {
  missing('python3-grpcio (gRPC C-core for /usr/bin/python3)', 'apt-get install -y python3-grpcio');
} else {
  t.test('gRPC C-core client: plain and gzip calls, INVALID_ARGUMENT for a bad request, 200 calls on one channel', async (t) => {
    const { port, got } = await receiver(t);
    const good = tempFile('good.bin', '');
    writeFileSync(good, traces(5).toProto());
    const bad = tempFile('bad.bin', '');
    writeFileSync(bad, Buffer.from([0x0a, 0x05, 0x12, 0x03, 0x12, 0x01, 0x0a])); // a span whose trace id is 1 byte
    const r = await run(PY, [tempFile('grpc-client.py', GRPC_SCRIPT), String(port), good, bad]);
    if (r.code !== 0) t.comment(r.out);
    t.equal(r.code, 0, 'the gRPC client exits 0');
    t.match(r.out, /ok identity/, 'an uncompressed call');
    t.match(r.out, /ok gzip/, 'a gzip call');
    t.match(r.out, /bad INVALID_ARGUMENT/);
    t.match(r.out, /calls 200/);
    t.equal(got.length, 202);
  });
}

// ---- nghttp2 ----

if (!has('nghttp') || !has('h2load')) {
  missing('nghttp and h2load', 'apt-get install -y nghttp2-client');
} else {
  t.test('nghttp2: nghttp makes a gRPC call; h2load runs 2,000 over 4 connections', async (t) => {
    const { port, got } = await receiver(t);
    const body = tempFile('body.bin', '');
    writeFileSync(body, framed(traces(2).toProto()));
    const url = `http://127.0.0.1:${port}${PATH}`;
    const one = await run('nghttp', ['-v', '-d', body, '-H', 'content-type: application/grpc', '-H', 'te: trailers', url]);
    if (one.code !== 0) t.comment(one.out.slice(-2000));
    t.equal(one.code, 0, 'nghttp exits 0');
    t.match(one.out, /grpc-status: 0/, 'nghttp: grpc-status 0 in the trailers');
    const load = await run('h2load', ['-n', '2000', '-c', '4', '-m', '16', '-d', body, '-H', 'content-type: application/grpc', '-H', 'te: trailers', url]);
    if (load.code !== 0) t.comment(load.out.slice(-2000));
    t.equal(load.code, 0, 'h2load exits 0');
    t.match(load.out, /2000 succeeded, 0 failed, 0 errored/, 'h2load: every request succeeded');
    t.equal(got.length, 2001);
  });
}
