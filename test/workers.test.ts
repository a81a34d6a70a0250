// The worker-thread pool (service.workers): decoding on a thread gives exactly what decoding inline
// gives, for every signal and both formats; malformed input is still INVALID_ARGUMENT / 400; bytes
// are moved, not copied, when the caller hands them over; a saturated pool refuses as retryable.
import t from 'tap';
import { pino } from 'pino';
import { RetryableError } from '../src/consumer.js';
import { DecodeError, Telemetry, type Signal } from '../src/pdata/telemetry.js';
import { MetricsRegistry } from '../src/telemetry/metrics.js';
import { WorkerPool, inlineDecoder, inlineWorkers, type Format } from '../src/workers/pool.js';
import { taskRef } from '../src/workers/task.js';
import type { GzipResult } from '../src/workers/tasks.js';
import { gunzipSync } from 'node:zlib';
import { loadConfig } from '../src/config/load.js';
import { usableCpus } from '../src/config/service.js';
import { availableParallelism } from 'node:os';
import { registry } from '../src/components.js';
import { freePort, metricValue, OtlpGrpcClient, startDaemon, startSink, tempFile, waitFor } from './helper.js';
import { sdkLogs, sdkMetrics, sdkTraces } from './pdata-sdk-fixtures.js';
import { traces } from './data.js';

const silent = pino({ level: 'silent' });

/** A pool that sends everything to its thread (no size threshold). */
function allToWorkers(threads = 1, max_queue = 64): WorkerPool {
  return new WorkerPool({ threads, max_queue, proto_min_size: 0, json_min_size: 0, young_generation_size: 48 << 20 }, silent, new MetricsRegistry());
}

const fixtures = { traces: sdkTraces, metrics: sdkMetrics, logs: sdkLogs } as const;

t.test('worker path = inline path, every signal, protobuf and JSON', async (t) => {
  const pool = allToWorkers();
  t.teardown(() => pool.close());
  for (const signal of Object.keys(fixtures) as Signal[]) {
    const payload = await fixtures[signal]();
    for (const format of ['proto', 'json'] as Format[]) {
      const body = format === 'proto' ? payload.proto : Buffer.from(payload.json);
      const inline = await inlineDecoder.decode(signal, format, body);
      const worker = await pool.decode(signal, format, body);
      t.ok(inline.itemCount > 0, `${signal} ${format}: ${inline.itemCount} items`);
      t.equal(worker.itemCount, inline.itemCount, `${signal} ${format}: same item count`);
      t.same(Buffer.from(worker.toProto()), Buffer.from(inline.toProto()), `${signal} ${format}: same protobuf bytes`);
      t.same(worker.request(), inline.request(), `${signal} ${format}: same decoded tree`);
    }
  }
});

t.test('a large request (4000 spans) decodes alike on a thread', async (t) => {
  const pool = allToWorkers();
  t.teardown(() => pool.close());
  const big = Telemetry.merge(Array.from({ length: 40 }, () => traces(100)));
  const proto = Buffer.from(big.toProto());
  const json = Buffer.from(big.toJSON());
  for (const [format, body] of [['proto', proto], ['json', json]] as const) {
    const w = await pool.decode('traces', format, body);
    t.equal(w.itemCount, 4000, `${format}: 4000 spans`);
    t.same(Buffer.from(w.toProto()), proto, `${format}: the same bytes as inline`);
  }
});

t.test('malformed input from a thread: the same DecodeError as inline', async (t) => {
  const pool = allToWorkers();
  t.teardown(() => pool.close());
  const good = Buffer.from(traces(3).toProto());
  const cases: Array<[Format, Buffer]> = [
    ['proto', good.subarray(0, good.length - 7)], // truncated
    ['proto', Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f])], // length past the end
    ['json', Buffer.from('{"resourceSpans": [')],
    ['json', Buffer.from('{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz"}]}]}]}')],
  ];
  for (const [format, body] of cases) {
    const inline = await inlineDecoder.decode('traces', format, body).then(() => undefined, (e: unknown) => e);
    const worker = await pool.decode('traces', format, body).then(() => undefined, (e: unknown) => e);
    t.type(inline, DecodeError);
    t.type(worker, DecodeError, `${format}: a DecodeError from the thread too`);
    t.equal((worker as Error).message, (inline as Error).message, `${format}: ${(inline as Error).message}`);
  }
});

t.test('bytes are moved when handed over, copied otherwise', async (t) => {
  const pool = allToWorkers();
  t.teardown(() => pool.close());
  const src = traces(50).toProto();
  const kept = Buffer.from(src); // an own, exactly sized buffer
  const r1 = await pool.decode('traces', 'proto', kept, false);
  t.equal(kept.byteLength, src.byteLength, 'not handed over: the caller keeps its bytes');
  t.equal(r1.itemCount, 50);
  const given = Buffer.from(src);
  const r2 = await pool.decode('traces', 'proto', given, true);
  t.equal(given.byteLength, 0, 'handed over: its buffer was transferred (detached here), not copied');
  t.equal(r2.itemCount, 50);
  t.same(Buffer.from(r2.toProto()), Buffer.from(src), 'and came back as the batch bytes');
  const pooled = Buffer.from(traces(1).toProto()); // small: a slice of Node's shared 8 KiB pool
  t.ok(pooled.byteLength < pooled.buffer.byteLength, 'a pooled buffer');
  await pool.decode('traces', 'proto', pooled, true);
  t.ok(pooled.byteLength > 0, 'a pooled buffer is never transferred, even when handed over');
});

t.test('a body in chunks: whole chunks move as they are, views are copied; both decode alike', async (t) => {
  const pool = allToWorkers();
  t.teardown(() => pool.close());
  const src = Buffer.from(traces(60).toProto());
  const json = Buffer.from(Telemetry.fromProto('traces', src).toJSON());
  // Chunks that are each all of their buffer, as node:http delivers a body.
  const cut = (b: Buffer, n: number) => Array.from({ length: Math.ceil(b.length / n) }, (_, i) => Buffer.from(new Uint8Array(b.subarray(i * n, (i + 1) * n)).buffer));
  const own = cut(src, 1000);
  const r1 = await pool.decode('traces', 'proto', own, true);
  t.ok(own.every((c) => c.byteLength === 0), 'handed over: every chunk was transferred');
  t.same(Buffer.from(r1.toProto()), src, 'joined in the thread to the same bytes');
  const ownJson = cut(json, 4096);
  const r2 = await pool.decode('traces', 'json', ownJson, true);
  t.equal(r2.itemCount, 60, 'JSON in chunks decodes on the thread');
  t.same(Buffer.from(r2.toProto()), src);
  // Views of one larger buffer (node:http2's DATA chunks) are never transferred.
  const views = [src.subarray(0, 500), src.subarray(500)];
  const r3 = await pool.decode('traces', 'proto', views, true);
  t.equal(src.byteLength > 0 && views[0]!.byteLength, 500, 'views stay usable');
  t.same(Buffer.from(r3.toProto()), src);
  const notGiven = cut(src, 1000);
  await pool.decode('traces', 'proto', notGiven, false);
  t.ok(notGiven.every((c) => c.byteLength > 0), 'not handed over: the caller keeps its chunks');
  const bad = cut(Buffer.from('{"resourceSpans":[{"scopeSpans":[{"spans":[{"spanId":"not hex"}]}]}]}'), 10);
  await t.rejects(pool.decode('traces', 'json', bad, true), /invalid OTLP\/JSON/, 'malformed input in chunks: the same DecodeError');
});

t.test('below the size thresholds, requests stay on the main thread', async (t) => {
  const reg = new MetricsRegistry();
  const pool = new WorkerPool({ threads: 1, max_queue: 8, proto_min_size: 1 << 20, json_min_size: 1 << 20, young_generation_size: 48 << 20 }, silent, reg);
  t.teardown(() => pool.close());
  await pool.decode('traces', 'proto', Buffer.from(traces(5).toProto()));
  await pool.decode('traces', 'json', Buffer.from(traces(5).toJSON()));
  const m = await reg.prom.metrics();
  t.equal(metricValue(m, 'fleetcol_workers_tasks_total', 'thread="main"'), 1, 'counted per format and thread');
  t.equal(metricValue(m, 'fleetcol_workers_tasks_total', 'format="json",thread="main"'), 1);
  t.equal(metricValue(m, 'fleetcol_workers_tasks_total', 'thread="worker"'), 0, 'nothing went to a thread');
  t.equal(metricValue(m, 'fleetcol_workers_threads'), 0, 'no thread started while nothing needs one');
});

t.test('decoding on the event loop leaves it turns for I/O during a burst (threads: 0)', async (t) => {
  const pool = new WorkerPool({ threads: 0, max_queue: 8, proto_min_size: 0, json_min_size: 0, young_generation_size: 48 << 20 }, silent, new MetricsRegistry());
  const body = Buffer.from(traces(1000).toJSON());
  // A socket's read, stood in for by a timer that is due at once; it must not wait for the burst.
  let timerFiredAfter = -1;
  let done = 0;
  setTimeout(() => (timerFiredAfter = done), 0);
  const started = performance.now();
  await Promise.all(
    Array.from({ length: 40 }, async () => {
      const got = await pool.decode('traces', 'json', body);
      t.equal(got.itemCount, 1000);
      done++;
    }),
  );
  const ms = performance.now() - started;
  t.ok(timerFiredAfter >= 0 && timerFiredAfter < 40, `the timer ran after ${timerFiredAfter} of 40 decodes (${ms.toFixed(0)} ms in all)`);
  t.equal(done, 40, 'every request decoded');
  await pool.close();
});

t.test('a saturated pool refuses as retryable', async (t) => {
  const pool = allToWorkers(1, 2);
  t.teardown(() => pool.close());
  const body = Buffer.from(Telemetry.merge(Array.from({ length: 10 }, () => traces(100))).toJSON());
  const results = await Promise.allSettled(Array.from({ length: 12 }, () => pool.decode('traces', 'json', body)));
  const refused = results.filter((r) => r.status === 'rejected');
  t.ok(refused.length > 0, `${refused.length} of 12 refused`);
  t.ok(refused.every((r) => (r as PromiseRejectedResult).reason instanceof RetryableError), 'each as retryable');
  t.ok(results.some((r) => r.status === 'fulfilled'), 'the rest decoded');
});

t.test('service.workers in the config: defaults, validation', async (t) => {
  const base = 'receivers:\n  otlp:\nexporters:\n  debug:\nservice:\n  pipelines:\n    traces: { receivers: [otlp], exporters: [debug] }\n';
  const d = loadConfig({ files: [tempFile('a.yaml', base)], registry, env: {} });
  t.ok(d.config!.service.workers.threads >= 1, 'at least one thread by default');
  t.match(d.config!.service.workers, { max_queue: 256, proto_min_size: 256 * 1024, json_min_size: 4096, young_generation_size: 48 * 1024 * 1024 });
  const set = loadConfig({ files: [tempFile('b.yaml', `${base}  workers: { threads: 0, json_min_size: 1KiB }\n`)], registry, env: {} });
  t.match(set.config!.service.workers, { threads: 0, json_min_size: 1024, max_queue: 256 });
  const bad = loadConfig({ files: [tempFile('c.yaml', `${base}  workers: { threads: -1, speed: 3 }\n`)], registry, env: {} });
  t.same(bad.errors.map((e) => e.path).sort(), ['service.workers.speed', 'service.workers.threads']);
});

t.test('default thread count follows a container CPU limit (cgroup quota)', async (t) => {
  const files = (m: Record<string, string>) => (p: string) => {
    if (p in m) return m[p]!;
    throw new Error('ENOENT');
  };
  const cpus = availableParallelism();
  t.equal(usableCpus(files({})), cpus, 'no cgroup files: the CPU count');
  t.equal(usableCpus(files({ '/sys/fs/cgroup/cpu.max': 'max 100000\n' })), cpus, 'v2 without a quota');
  t.equal(usableCpus(files({ '/sys/fs/cgroup/cpu.max': '50000 100000\n' })), 1, 'v2: half a CPU counts as one');
  t.equal(usableCpus(files({ '/sys/fs/cgroup/cpu.max': `${150000 * cpus} 100000\n` })), cpus, 'never more than the CPUs there are');
  t.equal(usableCpus(files({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '100000', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000' })), 1, 'v1: one CPU');
  t.equal(usableCpus(files({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '-1', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000' })), cpus, 'v1 without a quota');
});

// ---------------------------------------------------------------------------------------------
// In the daemon: everything through a thread, compared with what arrives from an inline daemon.

t.test('export steps on the pool: gzip on a thread gives what zlib gives; inline without a pool; the input moves', async (t) => {
  const pool = allToWorkers();
  t.teardown(() => pool.close());
  const GZIP = taskRef(import.meta.url, '../src/workers/tasks', 'gzip');
  const body = (await sdkTraces()).proto;
  const input = new Uint8Array(body).buffer;
  const r = await pool.run<GzipResult>(GZIP, { input, length: body.length, level: 1 }, [input]);
  t.equal(input.byteLength, 0, 'the input moved to the thread');
  t.same(gunzipSync(new Uint8Array(r.buffer, r.offset, r.length)), Buffer.from(body), 'gunzips to the input');
  t.equal(r.input.byteLength, body.length, 'the input moved back, to be freed here');
  t.ok(pool.offloads, 'a pool with threads offloads');
  const roomy = new Uint8Array(body.length + 100);
  roomy.set(body);
  const again = await inlineWorkers.run<GzipResult>(GZIP, { input: roomy.buffer, length: body.length, level: 1 });
  t.same(gunzipSync(new Uint8Array(again.buffer, again.offset, again.length)), Buffer.from(body), 'the same task inline, of the first `length` bytes of a larger buffer');
  t.notOk(inlineWorkers.offloads, 'inline workers say they do not offload');
  await t.rejects(pool.run({ module: GZIP.module, name: 'nope' }, {}), RetryableError, 'a task that fails is answered as retryable');
});

t.test('daemon with workers: OTLP/HTTP JSON and OTLP/gRPC protobuf through the pool; malformed → 400 / INVALID_ARGUMENT', async (t) => {
  const sink = await startSink();
  t.teardown(() => sink.close());
  const grpcPort = await freePort();
  const httpPort = await freePort();
  const daemon = await startDaemon(`
receivers:
  otlp:
    protocols:
      grpc: { endpoint: 127.0.0.1:${grpcPort} }
      http: { endpoint: 127.0.0.1:${httpPort} }
exporters:
  otlp: { endpoint: ${sink.endpoint}, tls: { insecure: true }, compression: gzip }
service:
  workers: { threads: 2, proto_min_size: 0, json_min_size: 0 }
  pipelines:
    traces: { receivers: [otlp], exporters: [otlp] }
    logs: { receivers: [otlp], exporters: [otlp] }
`);
  t.teardown(() => daemon.stop());
  const client = new OtlpGrpcClient(grpcPort);
  t.teardown(() => client.close());

  const tr = await sdkTraces();
  const lg = await sdkLogs();
  const post = (path: string, body: Uint8Array<ArrayBuffer> | string, type: string) =>
    fetch(`http://127.0.0.1:${httpPort}${path}`, { method: 'POST', body, headers: { 'content-type': type } });
  t.equal((await post('/v1/traces', tr.json, 'application/json')).status, 200, 'JSON traces accepted');
  t.equal((await post('/v1/logs', lg.json, 'application/json')).status, 200, 'JSON logs accepted');
  t.equal((await post('/v1/logs', Buffer.from(lg.proto), 'application/x-protobuf')).status, 200, 'protobuf logs over HTTP accepted');
  const g = await client.export('traces', Buffer.from(tr.proto));
  t.equal(g.err, undefined, 'protobuf traces over gRPC accepted');

  const badJson = await post('/v1/traces', '{"resourceSpans":[{"scopeSpans":[{"spans":[{"spanId":"not hex"}]}]}]}', 'application/json');
  t.equal(badJson.status, 400, 'malformed JSON: 400');
  t.match(await badJson.text(), /malformed traces request: invalid OTLP\/JSON/);
  const badProto = await post('/v1/traces', Buffer.from([0x0a, 0xff, 0xff, 0x03]), 'application/x-protobuf');
  t.equal(badProto.status, 400, 'malformed protobuf over HTTP: 400');
  const bad = await client.export('traces', Buffer.from([0x0a, 0xff, 0xff, 0x03]));
  t.equal(bad.err?.code, 3, 'malformed protobuf over gRPC: INVALID_ARGUMENT');
  t.match(bad.err?.details, /malformed traces request/);

  const want = { traces: 2 * (await inlineDecoder.decode('traces', 'proto', tr.proto)).itemCount, logs: 2 * (await inlineDecoder.decode('logs', 'proto', lg.proto)).itemCount };
  await waitFor(() => sink.items('traces') === want.traces && sink.items('logs') === want.logs, 10_000, 'everything at the sink');
  // What went through a thread is byte for byte what the SDK's protobuf encoding gives.
  const protos = sink.received.traces.map((b) => Buffer.from(b.toProto()).toString('hex')).sort();
  const expected = Buffer.from((await inlineDecoder.decode('traces', 'json', Buffer.from(tr.json))).toProto()).toString('hex');
  t.same(protos, [expected, Buffer.from(tr.proto).toString('hex')].sort(), 'JSON decoded on a thread = the same spans as the protobuf request');

  const m = await daemon.metrics();
  t.ok(metricValue(m, 'fleetcol_workers_tasks_total', 'format="json",thread="worker"') >= 3, 'JSON decoded on the threads');
  t.ok(metricValue(m, 'fleetcol_workers_tasks_total', 'format="proto",thread="worker"') >= 3, 'protobuf validated on the threads');
  t.ok(metricValue(m, 'fleetcol_workers_export_tasks_total', 'task="gzip",thread="worker"') >= 2, 'export requests gzipped on the threads');
  const threads = metricValue(m, 'fleetcol_workers_threads');
  t.ok(threads >= 1 && threads <= 2, `threads started on demand, at most two (${threads})`);
});
