// Exporter `prometheus` end to end against a real Prometheus (Debian package `prometheus`) that
// scrapes it every second (it asks for OpenMetrics, which is on, so its OpenMetrics parser reads our
// output; exemplar storage on): the OpenTelemetry JS SDK sends a gauge, monotonic sums (cumulative
// and delta), histograms (cumulative and delta) and an exponential histogram over OTLP/HTTP to
// fleetcol; PromQL finds them with the right names, labels and values. A hand-built batch carries
// exemplars, which Prometheus' exemplar API returns. `promtool check metrics` lints the text output.
// Without the binaries: SKIP (a failure under CI=true).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { ValueType } from '@opentelemetry/api';
import { AggregationTemporalityPreference, OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationType, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { Telemetry } from '../src/pdata/telemetry.js';
import { freePort, metricValue, startDaemon, waitFor } from './helper.js';

import { PROMETHEUS, PROMTOOL, query, startPrometheus } from './prometheus-support.js';

function missing(what: string): void {
  if (process.env.CI) t.fail(`${what} is missing under CI=true (apt-get install -y prometheus)`);
  else t.comment(`SKIP: ${what} is missing, so the prometheus exporter cannot be scraped by it (apt-get install -y prometheus)`);
}

if (!existsSync(PROMETHEUS) || !existsSync(PROMTOOL)) {
  missing(existsSync(PROMETHEUS) ? PROMTOOL : PROMETHEUS);
} else {
  t.test('OTel SDK → fleetcol → exporter prometheus ← Prometheus scrapes: names, labels, values', async (t) => {
    const promPort = await freePort();
    const httpPort = await freePort();
    const exporterPort = await freePort();
    const daemon = await startDaemon(`
receivers:
  otlp:
    protocols:
      http: { endpoint: 127.0.0.1:${httpPort} }
exporters:
  prometheus:
    endpoint: 127.0.0.1:${exporterPort}
    const_labels: { fleet: test }
    enable_open_metrics: true
service:
  pipelines:
    metrics: { receivers: [otlp], exporters: [prometheus] }
`);
    t.teardown(() => daemon.stop());
    const prom = await startPrometheus(promPort, `127.0.0.1:${exporterPort}`);
    t.teardown(() => prom.stop());

    // Cumulative (the SDK's default): counter, histogram, exponential histogram, up-down counter, gauge.
    const reader = new PeriodicExportingMetricReader({ exporter: new OTLPMetricExporter({ url: `http://127.0.0.1:${httpPort}/v1/metrics` }), exportIntervalMillis: 3_600_000 });
    const provider = new MeterProvider({
      resource: resourceFromAttributes({ 'service.name': 'planner', 'service.namespace': 'agents', 'service.instance.id': 'pod-7', 'deployment.environment': 'test' }),
      readers: [reader],
      views: [{ instrumentName: 'gen_ai.client.operation.duration', aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM } }],
    });
    t.teardown(() => provider.shutdown());
    const meter = provider.getMeter('agent-runtime');
    const tasks = meter.createCounter('agent.tasks', { description: 'tasks run', valueType: ValueType.INT });
    tasks.add(3, { outcome: 'ok' });
    tasks.add(2, { outcome: 'ok' });
    tasks.add(1, { outcome: 'error' });
    const tokens = meter.createHistogram('gen_ai.client.token.usage', { description: 'tokens', unit: '{token}', advice: { explicitBucketBoundaries: [100, 1000, 10000] } });
    for (const v of [50, 700, 700, 4000, 20000]) tokens.record(v, { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'm-1', 'gen_ai.token.type': 'input' });
    const duration = meter.createHistogram('gen_ai.client.operation.duration', { description: 'operation duration', unit: 's' });
    const durations = [0.2, 0.4, 1.5, 3, 12, 0.05];
    for (const v of durations) duration.record(v, { 'gen_ai.operation.name': 'chat' });
    const inflight = meter.createUpDownCounter('agent.tasks.inflight', { description: 'tasks in flight' });
    inflight.add(4);
    inflight.add(-1);
    const load = meter.createGauge('agent.load', { description: 'load', unit: '1' });
    load.record(0.75);
    await reader.forceFlush();

    // Delta: a counter and a histogram flushed twice; the exporter adds the deltas up.
    const deltaReader = new PeriodicExportingMetricReader({ exporter: new OTLPMetricExporter({ url: `http://127.0.0.1:${httpPort}/v1/metrics`, temporalityPreference: AggregationTemporalityPreference.DELTA }), exportIntervalMillis: 3_600_000 });
    const deltaProvider = new MeterProvider({ resource: resourceFromAttributes({ 'service.name': 'worker' }), readers: [deltaReader] });
    t.teardown(() => deltaProvider.shutdown());
    const dmeter = deltaProvider.getMeter('worker');
    const calls = dmeter.createCounter('worker.calls', { description: 'calls' });
    const latency = dmeter.createHistogram('worker.latency', { description: 'latency', unit: 's', advice: { explicitBucketBoundaries: [0.01, 0.1] } });
    calls.add(3, { tool: 'search' });
    latency.record(0.005);
    latency.record(0.05);
    await deltaReader.forceFlush();
    calls.add(4, { tool: 'search' });
    latency.record(0.5);
    await deltaReader.forceFlush();

    // Exemplars: the JS SDK records none, so a hand-built batch carries them.
    const now = BigInt(Date.now()) * 1_000_000n;
    const trace = Buffer.from('4bf92f3577b34da6a3ce929d0e0e4736', 'hex');
    const span = Buffer.from('00f067aa0ba902b7', 'hex');
    const handmade = Telemetry.fromRequest('metrics', {
      resourceMetrics: [{
        schemaUrl: '',
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'handmade' } }], droppedAttributesCount: 0 },
        scopeMetrics: [{ schemaUrl: '', metrics: [
          { name: 'handmade.calls', description: 'calls with an exemplar', unit: '', sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints: [{ attributes: [], startTimeUnixNano: now - 10_000_000_000n, timeUnixNano: now, asDouble: 11, exemplars: [{ filteredAttributes: [], timeUnixNano: now, asDouble: 1, traceId: trace, spanId: span }], flags: 0 }] } },
        ] }],
      }],
    }).toProto();
    const r = await fetch(`http://127.0.0.1:${httpPort}/v1/metrics`, { method: 'POST', body: Buffer.from(handmade), headers: { 'content-type': 'application/x-protobuf' } });
    t.equal(r.status, 200, 'the hand-built batch accepted');

    const one = async (expr: string) =>
      waitFor(async () => {
        const v = await query(prom, expr);
        return v.length > 0 ? v : undefined;
      }, 20_000, `${expr} in Prometheus`).catch(async (e) => {
        throw new Error(`${(e as Error).message}\nprometheus: ${prom.output().slice(-2000)}\nexporter:\n${(await (await fetch(`http://127.0.0.1:${exporterPort}/metrics`)).text()).slice(0, 4000)}`);
      });

    const ok = await one('agent_tasks_total{outcome="ok"}');
    t.equal(ok[0]!.value[1], '5', 'counter with _total, value summed by the SDK');
    t.equal(ok[0]!.metric.job, 'agents/planner', 'job = service.namespace/service.name');
    t.equal(ok[0]!.metric.instance, 'pod-7', 'instance = service.instance.id');
    t.equal(ok[0]!.metric.fleet, 'test', 'const label');
    t.equal((await one('agent_tasks_total{outcome="error"}'))[0]!.value[1], '1');

    const buckets = await one('gen_ai_client_token_usage_bucket{gen_ai_token_type="input"}');
    const byLe = Object.fromEntries(buckets.map((b) => [b.metric.le, b.value[1]]));
    t.same(byLe, { '100': '1', '1000': '3', '10000': '4', '+Inf': '5' }, 'histogram buckets, cumulative');
    t.equal(buckets[0]!.metric.gen_ai_request_model, 'm-1', 'attribute as a sanitised label');
    t.equal((await one('gen_ai_client_token_usage_sum'))[0]!.value[1], '25450');
    t.equal((await one('gen_ai_client_token_usage_count'))[0]!.value[1], '5');

    // The exponential histogram as classic buckets: every bound is an exponential boundary, so each
    // bucket holds exactly the values at or under its bound.
    t.equal((await one('gen_ai_client_operation_duration_seconds_count'))[0]!.value[1], '6', 'exponential histogram: count');
    const esum = Number((await one('gen_ai_client_operation_duration_seconds_sum'))[0]!.value[1]);
    t.ok(Math.abs(esum - 17.15) < 1e-9, `exponential histogram: sum (${esum})`);
    const ebuckets = await one('gen_ai_client_operation_duration_seconds_bucket');
    t.ok(ebuckets.length >= 3 && ebuckets.length <= 42, `${ebuckets.length} classic buckets`);
    for (const b of ebuckets) {
      const le = b.metric.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(b.metric.le);
      t.equal(Number(b.value[1]), durations.filter((v) => v <= le).length, `bucket le=${b.metric.le}`);
    }
    const p50 = Number((await one('histogram_quantile(0.5, gen_ai_client_operation_duration_seconds_bucket)'))[0]!.value[1]);
    t.ok(p50 > 0.2 && p50 <= 1.5, `p50 from the classic buckets (${p50})`);

    t.equal((await one('agent_tasks_inflight'))[0]!.value[1], '3', 'up-down counter as a gauge');
    t.equal((await one('agent_load_ratio'))[0]!.value[1], '0.75', 'gauge of unit 1 with _ratio');
    const info = await one('target_info{job="agents/planner"}');
    t.equal(info[0]!.metric.deployment_environment, 'test', 'resource attributes on target_info');
    t.equal(info[0]!.metric.instance, 'pod-7');

    const dcalls = await waitFor(async () => {
      const v = await query(prom, 'worker_calls_total{tool="search"}');
      return v[0]?.value[1] === '7' ? v : undefined;
    }, 20_000, 'the delta counter at 7');
    t.equal(dcalls[0]!.metric.job, 'worker', 'delta counter accumulated: 3 + 4');
    const dl = await waitFor(async () => {
      const v = await query(prom, 'worker_latency_seconds_count');
      return v[0]?.value[1] === '3' ? v : undefined;
    }, 20_000, 'the delta histogram at 3');
    t.ok(dl, 'delta histogram count: 2 + 1');
    const dbuckets = Object.fromEntries((await one('worker_latency_seconds_bucket')).map((b) => [b.metric.le, b.value[1]]));
    t.same(dbuckets, { '0.01': '1', '0.1': '2', '+Inf': '3' }, 'delta histogram buckets accumulated');
    const dsum = Number((await one('worker_latency_seconds_sum'))[0]!.value[1]);
    t.ok(Math.abs(dsum - 0.555) < 1e-9, `delta histogram sum (${dsum})`);

    // Exemplars, through Prometheus' OpenMetrics parser and exemplar storage.
    await one('handmade_calls_total');
    const exemplars = await waitFor(async () => {
      const end = Date.now() / 1000 + 60;
      const res = await fetch(`${prom.url}/api/v1/query_exemplars?query=handmade_calls_total&start=${end - 600}&end=${end}`);
      const body = (await res.json()) as { data: { seriesLabels: Record<string, string>; exemplars: { labels: Record<string, string>; value: string }[] }[] };
      return body.data.length > 0 ? body.data : undefined;
    }, 20_000, 'an exemplar in Prometheus');
    t.equal(exemplars[0]!.exemplars[0]!.labels.trace_id, '4bf92f3577b34da6a3ce929d0e0e4736', 'exemplar trace_id');
    t.equal(exemplars[0]!.exemplars[0]!.labels.span_id, '00f067aa0ba902b7', 'exemplar span_id');
    t.equal(exemplars[0]!.exemplars[0]!.value, '1');

    // The scrape endpoint's text output passes promtool's lint.
    const text = await (await fetch(`http://127.0.0.1:${exporterPort}/metrics`)).text();
    const lint = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8' });
    t.equal(lint.status, 0, `promtool check metrics: ${lint.stdout}${lint.stderr}`);

    const own = await daemon.metrics();
    t.ok(metricValue(own, 'fleetcol_exporter_prometheus_scrapes', 'exporter="prometheus"') >= 2, 'scrapes counted');
    t.ok(metricValue(own, 'fleetcol_exporter_prometheus_series', 'exporter="prometheus"') >= 10, 'series held');
    const up = await one('up{job="fleetcol"}');
    t.equal(up[0]!.value[1], '1', 'Prometheus scrapes fleetcol without errors');
  });
}
