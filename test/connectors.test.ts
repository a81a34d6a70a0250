// Connectors: the collector's config shape (a connector is an exporter of one pipeline and a
// receiver of another), their config errors with places (unsupported pair, unused, cycles), and
// the graph they build: a traces pipeline feeding genai_metrics, whose metrics pipeline reaches an
// OTLP sink; back-pressure through a connector that forwards.
import t from 'tap';
import { join } from 'node:path';
import { loadConfig } from '../src/config/load.js';
import { registry as fakes } from './fixtures/config/fakes.js';
import { OtlpGrpcClient, freePort, startDaemon, startSink, waitFor } from './helper.js';
import { logRequest, spanRequest } from './genai-support.js';
import { Telemetry, type ExportLogsServiceRequest, type ExportMetricsServiceRequest } from '../src/pdata/telemetry.js';

const load = (t: { testdir: (fixture: Record<string, string>) => string }, yaml: string) => {
  const dir = t.testdir({ 'c.yaml': yaml });
  const file = join(dir, 'c.yaml');
  return { file, r: loadConfig({ files: [file], registry: fakes, env: {} }) };
};

t.test('connectors: a valid graph; unsupported pairs, one-sided use and cycles are errors at their place', async (t) => {
  const ok = load(t, `receivers: { otlp: {} }
connectors: { spanmetrics: {} }
exporters: { debug: {}, prometheus: {} }
service:
  pipelines:
    traces: { receivers: [otlp], exporters: [spanmetrics, debug] }
    metrics: { receivers: [spanmetrics, otlp], exporters: [prometheus] }
`);
  t.same(ok.r.errors, []);
  t.ok(ok.r.config?.connectors.has('spanmetrics'));

  const bad = load(t, `receivers: { otlp: {} }
connectors: { spanmetrics: {}, forward: {}, forward/idle: {} }
exporters: { debug: {}, prometheus: {} }
service:
  pipelines:
    logs: { receivers: [otlp], exporters: [spanmetrics] }
    metrics: { receivers: [spanmetrics], exporters: [prometheus] }
    traces: { receivers: [otlp], exporters: [forward/idle] }
`);
  const msgs = bad.r.errors.map((e) => `${e.path} @${e.location?.split(':').slice(-2).join(':')}: ${e.message}`);
  t.match(msgs.join('\n'), /service\.pipelines\.logs\.exporters\[0\] @6:44: connector "spanmetrics" cannot be an exporter of a logs pipeline \(it connects traces → metrics\)/);
  t.match(msgs.join('\n'), /connector "spanmetrics" has nothing to give pipeline "metrics": it connects traces → metrics, and no traces pipeline lists it under exporters/);
  t.match(msgs.join('\n'), /connectors\.forward @2:32: connector "forward" is not listed under exporters of any pipeline/);
  t.match(msgs.join('\n'), /connectors\.forward\/idle @2:45: connector "forward\/idle" is not listed under receivers of any pipeline/);

  const cycle = load(t, `receivers: { otlp: {} }
connectors: { forward: {}, forward/back: {} }
exporters: { debug: {} }
service:
  pipelines:
    traces: { receivers: [otlp, forward/back], exporters: [forward] }
    traces/2: { receivers: [forward], exporters: [forward/back, debug] }
`);
  const c = cycle.r.errors.find((e) => /cycle/.test(e.message));
  t.ok(c, 'a cycle is an error');
  t.match(c!.message, /pipelines form a cycle through connectors: traces → \(forward\) → traces\/2 → \(forward\/back\) → traces/);
  t.match(c!.location, /c\.yaml:6:\d+/);
});

t.test('genai_metrics in a running daemon: spans in, metrics out to an OTLP sink', async (t) => {
  const sink = await startSink();
  const port = await freePort();
  const d = await startDaemon(`receivers:
  otlp: { protocols: { grpc: { endpoint: 127.0.0.1:${port} } } }
connectors:
  genai_metrics: { metrics_flush_interval: 200ms }
exporters:
  otlp: { endpoint: ${sink.endpoint}, tls: { insecure: true } }
service:
  pipelines:
    traces: { receivers: [otlp], exporters: [genai_metrics] }
    metrics: { receivers: [genai_metrics], exporters: [otlp] }
`);
  t.teardown(async () => {
    await d.stop();
    await sink.close();
  });
  const client = new OtlpGrpcClient(port);
  t.teardown(() => client.close());
  const req = spanRequest([
    { id: 1, name: 'chat gpt-4o', attrs: { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'gpt-4o', 'gen_ai.agent.name': 'planner', 'gen_ai.usage.input_tokens': 100, 'gen_ai.usage.output_tokens': 10, 'gen_ai.usage.cost': { double: 0.5 } } },
  ]);
  const { err } = await client.export('traces', Buffer.from(req.toProto()));
  t.equal(err, undefined);
  await waitFor(() => sink.received.metrics.length > 0, 10_000, 'metrics at the sink');
  const names = new Set<string>();
  for (const b of sink.received.metrics) {
    const m = Telemetry.fromProto('metrics', b.toProto()).request() as ExportMetricsServiceRequest;
    for (const rm of m.resourceMetrics) for (const sm of rm.scopeMetrics) for (const x of sm.metrics) names.add(x.name);
  }
  t.ok(names.has('gen_ai.client.token.usage') && names.has('gen_ai.client.operation.duration') && names.has('fleetcol.gen_ai.cost'), [...names].join(', '));
});

t.test('the fleet connector: agent states and task lifecycles as log records at an OTLP sink', async (t) => {
  const sink = await startSink();
  const port = await freePort();
  const d = await startDaemon(`receivers:
  otlp: { protocols: { grpc: { endpoint: 127.0.0.1:${port} } } }
connectors:
  fleet: { flush_interval: 100ms, alerts: [ { name: spend, when: cost, above: 1 } ] }
exporters:
  otlp: { endpoint: ${sink.endpoint}, tls: { insecure: true } }
service:
  pipelines:
    traces: { receivers: [otlp], exporters: [fleet] }
    logs/in: { receivers: [otlp], exporters: [fleet] }
    logs: { receivers: [fleet], exporters: [otlp] }
`);
  t.teardown(async () => {
    await d.stop();
    await sink.close();
  });
  const client = new OtlpGrpcClient(port);
  t.teardown(() => client.close());
  const spans = spanRequest([
    { id: 2, parent: 1, name: 'chat gpt-4o', attrs: { 'gen_ai.operation.name': 'chat', 'gen_ai.agent.id': 'r-1', 'gen_ai.usage.cost': { double: 2 } } },
    { id: 1, name: 'invoke_agent researcher', attrs: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.id': 'r-1', 'gen_ai.agent.name': 'researcher' } },
  ]);
  t.equal((await client.export('traces', Buffer.from(spans.toProto()))).err, undefined);
  const logs = logRequest([{ attrs: { 'gen_ai.agent.id': 'a-2', 'a2a.task.id': 't-9', 'a2a.task.state': 'TASK_STATE_WORKING' }, event: 'a2a.task.status' }]);
  t.equal((await client.export('logs', Buffer.from(logs.toProto()))).err, undefined);
  const seen = () => {
    const out: Array<Record<string, unknown>> = [];
    for (const b of sink.received.logs) {
      const req = Telemetry.fromProto('logs', b.toProto()).request() as ExportLogsServiceRequest;
      for (const rl of req.resourceLogs) for (const sl of rl.scopeLogs) for (const r of sl.logRecords) out.push({ name: r.eventName, severity: r.severityNumber, ...Object.fromEntries(r.attributes.map((a) => [a.key, a.value?.stringValue ?? Number(a.value?.intValue ?? a.value?.doubleValue)])) });
    }
    return out;
  };
  await waitFor(() => seen().some((r) => r['name'] === 'fleet.task.started' && r['gen_ai.agent.id'] === 'a-2'), 10_000, 'records at the sink');
  const recs = seen();
  const names = (agent: string) => recs.filter((r) => r['gen_ai.agent.id'] === agent).map((r) => r['name']);
  t.match(names('r-1'), ['fleet.agent.online']);
  t.ok(names('r-1').includes('fleet.task.started') && names('r-1').includes('fleet.task.completed'), names('r-1').join(', '));
  t.ok(names('a-2').includes('fleet.agent.online') && names('a-2').includes('fleet.task.started'));
  const started = recs.find((r) => r['name'] === 'fleet.task.started' && r['gen_ai.agent.id'] === 'a-2')!;
  t.equal(started['a2a.task.id'], 't-9');
  await waitFor(() => seen().some((r) => r['name'] === 'fleet.alert'), 5000, 'the cost alert');
  const alert = seen().find((r) => r['name'] === 'fleet.alert')!;
  t.match(alert, { 'fleet.alert.name': 'spend', 'fleet.alert.state': 'raised', 'gen_ai.agent.id': 'r-1' });
});
