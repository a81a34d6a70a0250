// Shutdown (SIGTERM): retries stop, the in-memory queue drains to the backend within
// service.shutdown_timeout (one budget for the whole pipeline), and what cannot be sent is logged
// with its count. (The persistent queue keeps what is unsent: test/file-storage-exporter.test.ts.)
import t from 'tap';
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { otlpExporterFactory } from '../exporters/otlp/factory.js';
import { freePort, metricValue, OtlpGrpcClient, settings, sleep, startDaemon, startSink, waitFor, type Daemon } from './helper.js';
import { traces } from './data.js';

/** The JSON log lines of a daemon whose msg matches. */
function logLines(d: Daemon, msg: RegExp): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const line of d.output().split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const o = JSON.parse(line) as Record<string, unknown>;
      if (typeof o.msg === 'string' && msg.test(o.msg)) out.push(o);
    } catch {
      // not a log line
    }
  }
  return out;
}

async function sendBatches(port: number, n: number, spans: number): Promise<number> {
  const client = new OtlpGrpcClient(port);
  let ok = 0;
  try {
    for (let i = 0; i < n; i++) {
      const r = await client.export('traces', Buffer.from(traces(spans).toProto()));
      if (!r.err) ok++;
    }
  } finally {
    client.close();
  }
  return ok;
}

async function stopTimed(d: Daemon): Promise<{ code: number | null; ms: number }> {
  const t0 = Date.now();
  const code = await d.stop();
  return { code, ms: Date.now() - t0 };
}

t.test('in-process: a batch waiting to retry gets one last attempt at shutdown instead of being dropped', async (t) => {
  const sink = await startSink({ answer: (n) => (n === 0 ? { code: grpc.status.UNAVAILABLE } : undefined) });
  t.teardown(() => sink.close());
  const set = settings('exporter', 'otlp', 10_000);
  const cfg = { ...otlpExporterFactory.createDefaultConfig(), endpoint: sink.endpoint, tls: { insecure: true }, timeout: 5000 };
  cfg.retry_on_failure = { ...cfg.retry_on_failure, initial_interval: 30_000, max_interval: 30_000, max_elapsed_time: 0 };
  const exp = otlpExporterFactory.createExporter!(set, cfg, ['traces']);
  await exp.start({ extension: () => undefined });
  await exp.consume(traces(6));
  await waitFor(() => sink.requests >= 1, 5000, 'the first attempt, refused');
  await sleep(100); // now in a 30-s backoff wait
  const t0 = Date.now();
  await exp.shutdown();
  t.ok(Date.now() - t0 < 2000, `shutdown did not wait out the backoff (${Date.now() - t0} ms)`);
  t.equal(sink.items('traces'), 6, 'the last attempt delivered it');
  const m = await set.registry.prom.metrics();
  t.equal(metricValue(m, 'fleetcol_exporter_sent_spans'), 6);
  t.equal(metricValue(m, 'fleetcol_exporter_send_failed_spans'), 0);
});

t.test('backend down: retries stop, shutdown is quick, and the dropped count is logged', async (t) => {
  const grpcPort = await freePort();
  const down = await freePort();
  const d = await startDaemon(`
receivers:
  otlp: { protocols: { grpc: { endpoint: 127.0.0.1:${grpcPort} } } }
exporters:
  otlp:
    endpoint: 127.0.0.1:${down}
    tls: { insecure: true }
    timeout: 2s
    retry_on_failure: { initial_interval: 5s, max_interval: 30s, max_elapsed_time: 0s }
    sending_queue: { num_consumers: 4, queue_size: 100 }
service:
  shutdown_timeout: 20s
  pipelines:
    traces: { receivers: [otlp], exporters: [otlp] }
`);
  t.teardown(() => d.stop());
  t.equal(await sendBatches(grpcPort, 12, 10), 12, 'all 12 requests accepted');
  await waitFor(async () => metricValue(await d.metrics(), 'fleetcol_exporter_retries_total') >= 4, 10_000, 'the consumers waiting to retry');
  const { code, ms } = await stopTimed(d);
  t.equal(code, 0, 'exit 0');
  t.ok(ms < 5000, `stopped in ${ms} ms, well within shutdown_timeout (20 s): retries stopped`);
  const summary = logLines(d, /^shutdown: \d+ items/);
  t.equal(summary.length, 1, 'one summary line');
  t.match(summary[0], { items: 120, requests: 12, timed_out: false, level: 50 }, 'every unsent item counted: 120 spans in 12 requests');
});

t.test('backend up but slow: shutdown drains the in-memory queue to it', async (t) => {
  const sink = await startSink({ delayMs: 200 });
  t.teardown(() => sink.close());
  const grpcPort = await freePort();
  const d = await startDaemon(`
receivers:
  otlp: { protocols: { grpc: { endpoint: 127.0.0.1:${grpcPort} } } }
exporters:
  otlp:
    endpoint: ${sink.endpoint}
    tls: { insecure: true }
    compression: none
    sending_queue: { num_consumers: 2, queue_size: 100 }
service:
  shutdown_timeout: 20s
  pipelines:
    traces: { receivers: [otlp], exporters: [otlp] }
`);
  t.teardown(() => d.stop());
  t.equal(await sendBatches(grpcPort, 20, 10), 20);
  t.ok(sink.items('traces') < 200, `not all sent yet when SIGTERM comes (${sink.items('traces')} of 200)`);
  const { code, ms } = await stopTimed(d);
  t.equal(code, 0);
  t.equal(sink.items('traces'), 200, `all 200 spans reached the backend before exit (${ms} ms)`);
  t.equal(logLines(d, /could not be sent/).length, 0, 'nothing reported lost');
  t.equal(logLines(d, /^shutdown: sending queue drained/).length, 1, 'the drain is logged');
});

t.test('one shutdown_timeout for the whole pipeline: a processor and an exporter that both wait share it', async (t) => {
  // A backend that accepts connections and never answers: calls hang until cancelled.
  const sockets = new Set<net.Socket>();
  const hang = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    hang.close();
  });
  const hangPort = (hang.address() as net.AddressInfo).port;
  const grpcPort = await freePort();
  const d = await startDaemon(`
receivers:
  otlp: { protocols: { grpc: { endpoint: 127.0.0.1:${grpcPort} } } }
processors:
  batch: { send_batch_size: 10, timeout: 50ms, max_pending_items: 1000 }
exporters:
  otlp:
    endpoint: 127.0.0.1:${hangPort}
    tls: { insecure: true }
    timeout: 60s
    sending_queue: { num_consumers: 1, queue_size: 1 }
service:
  shutdown_timeout: 3s
  pipelines:
    traces: { receivers: [otlp], processors: [batch], exporters: [otlp] }
`);
  t.teardown(() => d.stop());
  t.equal(await sendBatches(grpcPort, 5, 10), 5, 'accepted by the batch processor');
  await sleep(500); // one batch in flight (hanging), one queued, three held by the batch processor
  const { code, ms } = await stopTimed(d);
  t.equal(code, 0);
  t.ok(ms < 5500, `stopped in ${ms} ms: one 3-s budget, not 3 s per component`);
  const fromBatch = logLines(d, /^dropping \d+ items refused by the next stage/).reduce((a, o) => a + Number(o.items), 0);
  const fromExporter = logLines(d, /^shutdown: \d+ items/).reduce((a, o) => a + Number(o.items), 0);
  t.equal(fromBatch + fromExporter, 50, `every span accounted for in the logs (batch processor ${fromBatch}, exporter ${fromExporter})`);
  t.ok(fromExporter >= 10, 'the exporter logged what it held (in flight and queued)');
});
