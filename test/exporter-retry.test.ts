// The OTLP exporter's retry classification, against a real gRPC backend that refuses on demand.
import t from 'tap';
import { pino } from 'pino';
import * as grpc from '@grpc/grpc-js';
import { otlpExporterFactory } from '../exporters/otlp/factory.js';
import { tempoExporterFactory } from '../exporters/tempo/factory.js';
import { settings, startSink, metricValue, waitFor, sleep } from './helper.js';
import { traces } from './data.js';
import type { Factory } from '../src/component.js';

function config(factory: Factory, endpoint: string, extra: Record<string, unknown> = {}) {
  const d = factory.createDefaultConfig();
  return {
    ...d,
    endpoint,
    tls: { insecure: true },
    timeout: 5000,
    retry_on_failure: { ...d.retry_on_failure, initial_interval: 50, max_interval: 200, max_elapsed_time: 10_000 },
    ...extra,
  };
}

const host = { extension: () => undefined };

t.test('UNAVAILABLE twice then OK: the data arrives once', async (t) => {
  const sink = await startSink({ answer: (n) => (n < 2 ? { code: grpc.status.UNAVAILABLE } : undefined) });
  const set = settings('exporter', 'otlp');
  const exp = otlpExporterFactory.createExporter!(set, config(otlpExporterFactory, sink.endpoint), ['traces']);
  await exp.start(host);
  t.teardown(() => sink.close());
  await exp.consume(traces(7));
  await waitFor(() => sink.items('traces') === 7, 5000, 'spans delivered');
  await sleep(200);
  t.equal(sink.requests, 3, 'two refusals, one success');
  t.equal(sink.received.traces.length, 1, 'delivered exactly once');
  await exp.shutdown();
  const m = await set.registry.prom.metrics();
  t.equal(metricValue(m, 'fleetcol_exporter_sent_spans'), 7);
  t.equal(metricValue(m, 'fleetcol_exporter_retries_total'), 2);
  t.equal(metricValue(m, 'fleetcol_exporter_send_failed_spans'), 0);
});

t.test('a permanent error drops the batch at once and counts it', async (t) => {
  const sink = await startSink({ answer: () => ({ code: grpc.status.INVALID_ARGUMENT, details: 'bad data' }) });
  const set = settings('exporter', 'otlp');
  const exp = otlpExporterFactory.createExporter!(set, config(otlpExporterFactory, sink.endpoint), ['traces']);
  await exp.start(host);
  t.teardown(() => sink.close());
  await exp.consume(traces(64));
  await waitFor(async () => metricValue(await set.registry.prom.metrics(), 'fleetcol_exporter_send_failed_spans') === 64, 5000, 'counted');
  await sleep(300);
  // Halves and quarters are tried (to isolate bad items); when none is taken it stops there.
  t.equal(sink.requests, 7, 'not retried: one call, then six to look for the bad items');
  await exp.shutdown();
});

t.test('RESOURCE_EXHAUSTED: permanent without RetryInfo, retried after the delay with it', async (t) => {
  let firstAt = 0;
  let secondAt = 0;
  const sink = await startSink({
    answer: (n) => {
      if (n === 0) return { code: grpc.status.RESOURCE_EXHAUSTED };
      if (n === 1) {
        firstAt = Date.now();
        return { code: grpc.status.RESOURCE_EXHAUSTED, retryAfterMs: 700 };
      }
      secondAt = Date.now();
      return undefined;
    },
  });
  const set = settings('exporter', 'otlp');
  const exp = otlpExporterFactory.createExporter!(set, config(otlpExporterFactory, sink.endpoint, { sending_queue: { enabled: false, num_consumers: 1, queue_size: 1, sizer: 'requests' } }), ['traces']);
  await exp.start(host);
  t.teardown(() => sink.close());
  await t.rejects(exp.consume(traces(2)), 'without RetryInfo: fails at once (queue disabled, so the caller sees it)');
  t.equal(sink.requests, 1);
  await exp.consume(traces(3));
  t.equal(sink.items('traces'), 3, 'with RetryInfo: delivered after a retry');
  t.ok(secondAt - firstAt >= 650, `waited the server's delay (${secondAt - firstAt}ms)`);
  await exp.shutdown();
});

t.test('max_elapsed_time bounds the retries', async (t) => {
  const sink = await startSink({ answer: () => ({ code: grpc.status.UNAVAILABLE }) });
  const set = settings('exporter', 'otlp');
  const cfg = config(otlpExporterFactory, sink.endpoint, { sending_queue: { enabled: false, num_consumers: 1, queue_size: 1, sizer: 'requests' } });
  cfg.retry_on_failure = { ...cfg.retry_on_failure, initial_interval: 50, max_interval: 100, max_elapsed_time: 600 };
  const exp = otlpExporterFactory.createExporter!(set, cfg, ['traces']);
  await exp.start(host);
  t.teardown(() => sink.close());
  const started = Date.now();
  await t.rejects(exp.consume(traces(1)), /no more retries/);
  t.ok(Date.now() - started < 2000, 'gave up within the bound');
  t.ok(sink.requests >= 3, `retried (${sink.requests} attempts)`);
  await exp.shutdown();
});

t.test('tempo sends the tenant as X-Scope-OrgID, and headers as metadata', async (t) => {
  const sink = await startSink();
  const set = settings('exporter', 'tempo');
  const exp = tempoExporterFactory.createExporter!(set, config(tempoExporterFactory, sink.endpoint, { tenant: 'fleet-a', headers: { 'x-team': 'ops' } }), ['traces']);
  await exp.start(host);
  t.teardown(() => sink.close());
  await exp.consume(traces(2));
  await waitFor(() => sink.items('traces') === 2, 5000, 'delivered');
  t.same(sink.metadata[0]!.get('x-scope-orgid'), ['fleet-a']);
  t.same(sink.metadata[0]!.get('x-team'), ['ops']);
  await exp.shutdown();
});

t.test('shutdown drains the queue to the backend', async (t) => {
  const sink = await startSink();
  const set = settings('exporter', 'otlp');
  const exp = otlpExporterFactory.createExporter!(set, config(otlpExporterFactory, sink.endpoint, { sending_queue: { enabled: true, num_consumers: 1, queue_size: 100, sizer: 'requests' } }), ['traces']);
  await exp.start(host);
  t.teardown(() => sink.close());
  for (let i = 0; i < 20; i++) await exp.consume(traces(5));
  await exp.shutdown();
  t.equal(sink.items('traces'), 100, 'everything queued was sent before shutdown returned');
});

t.test('an attempt that runs past `timeout` is logged as a timeout and retried', async (t) => {
  const sink = await startSink({ delayMs: 400 });
  const lines: string[] = [];
  const set = { ...settings('exporter', 'otlp'), logger: pino({ level: 'warn' }, { write: (s: string) => void lines.push(s) }) };
  const exp = otlpExporterFactory.createExporter!(set, config(otlpExporterFactory, sink.endpoint, { timeout: 100 }), ['traces']);
  await exp.start(host);
  t.teardown(() => sink.close());
  await exp.consume(traces(3));
  await waitFor(() => lines.filter((l) => l.includes('export failed, will retry')).length >= 2, 5000, 'two failed attempts logged');
  const first = JSON.parse(lines.find((l) => l.includes('export failed, will retry'))!);
  t.match(first.err, /^export timed out after 100ms \(/, 'the log says the attempt timed out, with the call\'s own status after it');
  t.ok(sink.requests >= 2, 'and the batch was sent again');
  await exp.shutdown();
});
