// prometheusremotewrite end to end against a real Prometheus (Debian package `prometheus`, with its
// remote-write receiver and native histograms on): the OpenTelemetry JS SDK sends metrics over
// OTLP/HTTP to fleetcol while Prometheus is still down; fleetcol retries; once Prometheus is up,
// PromQL sees every series with the values the SDK recorded. The translation runs on a worker thread.
import t from 'tap';
import { existsSync } from 'node:fs';
import { ValueType } from '@opentelemetry/api';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationType, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { Telemetry } from '../src/pdata/telemetry.js';
import { freePort, metricValue, startDaemon, waitFor } from './helper.js';

import { PROMETHEUS, query, startPrometheus as startPrometheusWith } from './prometheus-support.js';

const startPrometheus = (port: number) => startPrometheusWith(port, undefined, ['--web.enable-remote-write-receiver', '--enable-feature=native-histograms']);

if (!existsSync(PROMETHEUS)) {
  if (process.env.CI) t.fail(`${PROMETHEUS} is missing under CI=true, where nothing may skip (apt-get install -y prometheus)`);
  else t.comment(`SKIP: ${PROMETHEUS} is missing, so the remote-write test cannot run (apt-get install -y prometheus)`);
} else {
  t.test('OTel SDK → fleetcol → Prometheus remote write: retried while down, every series queryable', async (t) => {
    const promPort = await freePort();
    const httpPort = await freePort();
    const daemon = await startDaemon(`
receivers:
  otlp:
    protocols:
      http: { endpoint: 127.0.0.1:${httpPort} }
exporters:
  prometheusremotewrite:
    endpoint: http://127.0.0.1:${promPort}/api/v1/write
    external_labels: { fleet: test }
    max_batch_size_bytes: 1KiB   # several requests per batch
    retry_on_failure: { initial_interval: 200ms, max_interval: 1s, max_elapsed_time: 60s }
service:
  workers: { threads: 1 }
  pipelines:
    metrics: { receivers: [otlp], exporters: [prometheusremotewrite] }
`);
    t.teardown(() => daemon.stop());

    const exporter = new OTLPMetricExporter({ url: `http://127.0.0.1:${httpPort}/v1/metrics`, timeoutMillis: 10_000 });
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000, exportTimeoutMillis: 10_000 });
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
    const tokens = meter.createHistogram('gen_ai.client.token.usage', { unit: '{token}', advice: { explicitBucketBoundaries: [100, 1000, 10000] } });
    for (const v of [50, 700, 700, 4000, 20000]) tokens.record(v, { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'm-1', 'gen_ai.token.type': 'input' });
    const duration = meter.createHistogram('gen_ai.client.operation.duration', { unit: 's' });
    for (const v of [0.2, 0.4, 1.5, 3, 12, 0.05]) duration.record(v, { 'gen_ai.operation.name': 'chat' });
    const inflight = meter.createUpDownCounter('agent.tasks.inflight');
    inflight.add(4);
    inflight.add(-1);
    const load = meter.createGauge('agent.load', { unit: '1' });
    load.record(0.75);
    await reader.forceFlush();

    // Prometheus is not up yet: fleetcol accepted the points and retries.
    await waitFor(async () => metricValue(await daemon.metrics(), 'fleetcol_exporter_retries_total', 'exporter="prometheusremotewrite"') >= 1, 10_000, 'a retry while Prometheus is down');
    const prom = await startPrometheus(promPort);
    t.teardown(() => prom.stop());

    const one = async (expr: string) => {
      const r = await waitFor(async () => {
        const v = await query(prom, expr);
        return v.length > 0 ? v : undefined;
      }, 20_000, `${expr} in Prometheus`);
      return r;
    };
    const ok = await one('agent_tasks_total{outcome="ok"}');
    t.equal(ok[0]!.value[1], '5', 'counter with _total, value summed by the SDK');
    t.equal(ok[0]!.metric.job, 'agents/planner', 'job = service.namespace/service.name');
    t.equal(ok[0]!.metric.instance, 'pod-7', 'instance = service.instance.id');
    t.equal(ok[0]!.metric.fleet, 'test', 'external label');
    t.equal((await one('agent_tasks_total{outcome="error"}'))[0]!.value[1], '1');

    const buckets = await one('gen_ai_client_token_usage_bucket{gen_ai_token_type="input"}');
    const byLe = Object.fromEntries(buckets.map((b) => [b.metric.le, b.value[1]]));
    t.same(byLe, { '100': '1', '1000': '3', '10000': '4', '+Inf': '5' }, 'histogram buckets, cumulative');
    t.equal((await one('gen_ai_client_token_usage_sum'))[0]!.value[1], '25450');
    t.equal((await one('gen_ai_client_token_usage_count'))[0]!.value[1], '5');

    t.equal((await one('histogram_count(gen_ai_client_operation_duration_seconds)'))[0]!.value[1], '6', 'exponential histogram as a native histogram: count');
    const sum = Number((await one('histogram_sum(gen_ai_client_operation_duration_seconds)'))[0]!.value[1]);
    t.ok(Math.abs(sum - 17.15) < 1e-9, `native histogram: sum (${sum})`);
    // Between 1 and 4 seconds: 1.5 and 3 (bucket bounds make the estimate approximate, not the count outside).
    const between = Number((await one('histogram_fraction(0, 1, gen_ai_client_operation_duration_seconds)'))[0]!.value[1]);
    t.ok(Math.abs(between - 3 / 6) < 0.1, `native histogram buckets: fraction under 1s ≈ 0.5 (${between})`);

    t.equal((await one('agent_tasks_inflight'))[0]!.value[1], '3', 'up-down counter as a gauge');
    t.equal((await one('agent_load_ratio'))[0]!.value[1], '0.75', 'gauge of unit 1 with _ratio');
    const info = await one('target_info');
    t.equal(info[0]!.metric.deployment_environment, 'test', 'resource attributes on target_info');
    t.equal(info[0]!.metric.job, 'agents/planner');

    const m = await daemon.metrics();
    // 2 counter points (two outcomes), one each of the histograms, the up-down counter and the gauge
    t.equal(metricValue(m, 'fleetcol_exporter_sent_metric_points', 'exporter="prometheusremotewrite"'), 6, 'sent points counted');
    t.equal(metricValue(m, 'fleetcol_exporter_send_failed_metric_points', 'exporter="prometheusremotewrite"'), 0, 'nothing failed for good');
    t.ok(metricValue(m, 'fleetcol_exporter_remote_write_requests', 'exporter="prometheusremotewrite"') >= 1, 'requests counted');
    t.ok(metricValue(m, 'fleetcol_workers_export_tasks_total', 'task="toRemoteWrite",thread="worker"') >= 1, 'translated on a worker thread');
    t.ok(metricValue(m, 'fleetcol_exporter_remote_write_requests', 'exporter="prometheusremotewrite"') >= 2, 'the batch went as several requests');

    // A batch whose first request Prometheus refuses (a sample older than its series' newest: out
    // of order, HTTP 400): dropped and counted without retries, and its other requests still go.
    const retriesBefore = metricValue(m, 'fleetcol_exporter_retries_total', 'exporter="prometheusremotewrite"');
    const old = BigInt(Date.now() - 10 * 60_000) * 1_000_000n;
    const fresh = BigInt(Date.now()) * 1_000_000n;
    const kv = (key: string, v: string) => ({ key, value: { stringValue: v } });
    const pt = (time: bigint, value: number, attrs: ReturnType<typeof kv>[]) => ({ attributes: attrs, startTimeUnixNano: 0n, timeUnixNano: time, asDouble: value, exemplars: [], flags: 0 });
    const late = Telemetry.fromRequest('metrics', {
      resourceMetrics: [{
        schemaUrl: '',
        resource: { attributes: [kv('service.name', 'planner'), kv('service.namespace', 'agents'), kv('service.instance.id', 'pod-7'), kv('deployment.environment', 'test')], droppedAttributesCount: 0 },
        scopeMetrics: [{ schemaUrl: '', metrics: [
          { name: 'agent.tasks', description: '', unit: '', sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints: [pt(old, 1, [kv('outcome', 'ok')])] } },
          { name: 'late.probe', description: '', unit: '', gauge: { dataPoints: Array.from({ length: 40 }, (_, i) => pt(fresh, i, [kv('probe', `p${i}`)])) } },
        ] }],
      }],
    }).toProto();
    const r = await fetch(`http://127.0.0.1:${httpPort}/v1/metrics`, { method: 'POST', body: Buffer.from(late), headers: { 'content-type': 'application/x-protobuf' } });
    t.equal(r.status, 200, 'fleetcol accepted the batch');
    const probes = await waitFor(async () => {
      const v = await query(prom, 'late_probe');
      return v.length === 40 ? v : undefined;
    }, 20_000, 'the 40 probe series in Prometheus').catch(async (e) => {
      throw new Error(`${e.message}: ${(await query(prom, 'late_probe')).length} there; fleetcol:\n${daemon.output().slice(-3000)}\n${await daemon.metrics()}`);
    });
    t.equal(probes.length, 40, 'every good series arrived, those in the refused request too (isolated by halving it)');
    const after = await waitFor(async () => {
      const text = await daemon.metrics();
      return metricValue(text, 'fleetcol_exporter_send_failed_metric_points', 'exporter="prometheusremotewrite"') > 0 ? text : undefined;
    }, 10_000, 'the refused batch counted');
    t.equal(metricValue(after, 'fleetcol_exporter_send_failed_metric_points', 'exporter="prometheusremotewrite"'), 1, 'the refused point counted as failed');
    t.equal(metricValue(after, 'fleetcol_exporter_sent_metric_points', 'exporter="prometheusremotewrite"'), 6 + 40, 'the 40 others as sent');
    t.equal(metricValue(after, 'fleetcol_exporter_remote_write_refused_series', 'exporter="prometheusremotewrite"'), 1, 'one series refused');
    t.equal(metricValue(after, 'fleetcol_exporter_retries_total', 'exporter="prometheusremotewrite"'), retriesBefore, 'a 400 is not retried');
    t.match(daemon.output(), /remote write refused 1 series \(1 points\): remote write answered HTTP 400/, 'logged with Prometheus\' answer');
    t.equal((await query(prom, 'agent_tasks_total{outcome="ok"}'))[0]!.value[1], '5', 'the stored series is unchanged');
  });
}
