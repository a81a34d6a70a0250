// memory_limiter in the daemon under a flood: OpenTelemetry JS SDK senders (OTLP/gRPC and
// OTLP/HTTP) push spans with 4 KiB payloads as fast as they can into a pipeline whose tail_sampling
// stage holds every span for 4 s, several times the rate that fits under the limit. fleetcol's RSS
// must stay under limit_mib, the senders must be refused (UNAVAILABLE / 503, which the SDK retries),
// the daemon must not crash, and every span whose export call the SDK saw succeed must reach the
// backend once the flood is over.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { OTLPTraceExporter as GrpcTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as ProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { Acks, Backend, bounded, sdkPipeline, type SdkPipeline } from './sdk-acks.js';
import { freePort, metricValue, sleep, startDaemon } from './helper.js';

const LIMIT_MIB = 512;
const FLOOD_MS = 12_000;
const PAYLOAD = 4096;

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

t.test(`flood with the OTel SDK: RSS stays under limit_mib ${LIMIT_MIB}, senders are refused and retry, nothing accepted is lost`, async (t) => {
  const [grpcPort, httpPort, backendPort] = [await freePort(), await freePort(), await freePort()];
  const backend = new Backend(backendPort);
  await backend.up();
  t.teardown(() => backend.down());
  const daemon = await startDaemon(`
receivers:
  otlp:
    protocols:
      grpc: { endpoint: 127.0.0.1:${grpcPort} }
      http: { endpoint: 127.0.0.1:${httpPort} }
processors:
  memory_limiter: { check_interval: 100ms, limit_mib: ${LIMIT_MIB}, spike_limit_mib: 160 }
  tail_sampling:
    decision_wait: 4s
    num_traces: 1000000
    max_bytes: 2GiB
    policies: [ { name: all, type: always_sample } ]
exporters:
  otlp:
    endpoint: 127.0.0.1:${backendPort}
    tls: { insecure: true }
service:
  pipelines:
    traces: { receivers: [otlp], processors: [memory_limiter, tail_sampling], exporters: [otlp] }
`);
  t.teardown(() => daemon.stop('SIGKILL'));
  const pid = daemon.proc.pid!;

  const acks = new Acks();
  const opts = { maxQueueSize: 40_000, maxExportBatchSize: 256, scheduledDelayMillis: 20, payloadBytes: PAYLOAD };
  const senders: SdkPipeline[] = [
    sdkPipeline('grpc-1', acks.wrap('grpc-1', new GrpcTraceExporter({ url: `http://127.0.0.1:${grpcPort}`, timeoutMillis: 10_000 })), opts),
    sdkPipeline('grpc-2', acks.wrap('grpc-2', new GrpcTraceExporter({ url: `http://127.0.0.1:${grpcPort}`, timeoutMillis: 10_000 })), opts),
    sdkPipeline('http-1', acks.wrap('http-1', new ProtoTraceExporter({ url: `http://127.0.0.1:${httpPort}/v1/traces`, timeoutMillis: 10_000 })), opts),
    sdkPipeline('http-2', acks.wrap('http-2', new ProtoTraceExporter({ url: `http://127.0.0.1:${httpPort}/v1/traces`, timeoutMillis: 10_000 })), opts),
  ];
  t.teardown(() => Promise.all(senders.map((s) => s.shutdown())));

  // The flood: every sender's queue kept topped up; RSS sampled every 50 ms.
  let maxRss = 0;
  const baseRss = rssMiB(pid);
  const timeline: number[] = [];
  let exited = false;
  void daemon.exited.then(() => (exited = true));
  const sampler = setInterval(() => {
    if (exited) return;
    const rss = rssMiB(pid);
    maxRss = Math.max(maxRss, rss);
    if (timeline.length < 2000) timeline.push(Math.round(rss));
  }, 50);
  t.teardown(() => clearInterval(sampler));
  let emitted = 0;
  const end = Date.now() + FLOOD_MS;
  while (Date.now() < end && !exited) {
    for (const s of senders) s.emit(500);
    emitted += 2000;
    await sleep(5);
  }
  const refusedDuringFlood = metricValue(await daemon.metrics(), 'fleetcol_processor_memory_limiter_refused') ?? 0;

  // Let the SDK finish (its retries included), then the held traces' decisions and the export.
  await bounded(Promise.allSettled(senders.map((s) => s.provider.forceFlush())), 60_000, 'SDK forceFlush').catch((err: Error) => t.comment(err.message));
  await bounded(acks.idle(), 60_000, 'export calls in flight');
  const deadline = Date.now() + 30_000;
  const missing = () => [...acks.acked.keys()].filter((id) => !backend.arrivals.has(id));
  while (missing().length > 0 && Date.now() < deadline && !exited) await sleep(200);
  clearInterval(sampler);

  const metrics = exited ? '' : await daemon.metrics();
  t.comment(
    `emitted ${emitted} spans; ${acks.calls} export calls, ${acks.ok} OK, ${acks.failed} failed; ` +
      `${acks.acked.size} spans acknowledged, ${backend.arrivals.size} arrived; ` +
      `refused ${metricValue(metrics, 'fleetcol_processor_memory_limiter_refused')} items (during the flood ${refusedDuringFlood}), ` +
      `accepted ${metricValue(metrics, 'fleetcol_processor_memory_limiter_accepted')}; RSS at start ${baseRss.toFixed(0)} MiB, max ${maxRss.toFixed(0)} MiB ` +
      `(every 0.5 s: ${timeline.filter((_, i) => i % 10 === 0).join(' ')}); ` +
      `SDK errors: ${acks.errorSummary()}; ${acks.senderSummary()}`,
  );
  t.notOk(exited, 'the daemon did not crash');
  t.ok(maxRss > 0 && maxRss < LIMIT_MIB, `RSS stayed under limit_mib (max ${maxRss.toFixed(0)} MiB < ${LIMIT_MIB})`);
  t.ok(refusedDuringFlood > 0, 'the flood was refused while memory was above the soft limit');
  t.ok(acks.acked.size > 0, 'spans were accepted');
  // A refused call carries a retry delay of at least 1 s (Retry-After / RetryInfo); an OK call
  // that took that long was refused first and succeeded on the SDK's retry.
  const retriedOk = [...acks.okAt].filter(([call, at]) => at - (acks.startAt.get(call) ?? at) >= 900).length;
  t.comment(`${retriedOk} OK export calls took ≥ 0.9 s (refused, then retried)`);
  t.ok(retriedOk > 0, 'refused senders retried and were accepted');
  const accepted = metricValue(metrics, 'fleetcol_processor_memory_limiter_accepted') ?? 0;
  t.ok(accepted >= acks.acked.size, 'the limiter let through at least what the SDK saw acknowledged');
  if (!t.same(missing().slice(0, 10), [], 'every acknowledged span reached the backend')) t.comment(daemon.output().slice(-4000));
  // Once the flood is over the daemon accepts again (memory returned below the soft limit).
  const after = new Acks();
  const late = sdkPipeline('after', after.wrap('after', new ProtoTraceExporter({ url: `http://127.0.0.1:${httpPort}/v1/traces`, timeoutMillis: 10_000 })), opts);
  t.teardown(() => late.shutdown());
  const recoverBy = Date.now() + 20_000;
  while (after.acked.size === 0 && Date.now() < recoverBy && !exited) {
    late.emit(10);
    await late.provider.forceFlush().catch(() => {});
    if (after.acked.size === 0) await sleep(500);
  }
  t.ok(after.acked.size > 0, `accepting again after the flood (RSS ${exited ? '-' : rssMiB(pid).toFixed(0)} MiB)`);
  // At least once: a call the SDK timed out or retried after fleetcol took it arrives twice.
  t.comment(`${backend.duplicates()} duplicate arrivals (allowed)`);
});
