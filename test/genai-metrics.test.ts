// The genai_metrics connector by value: an agent's trace of 3 model calls and 2 tool calls (one
// failing), through the genai processor, gives the conventions' token and duration histograms with
// their bucket advice, and calls, errors, cost and tool calls per agent/operation/model/tool;
// overflow past max_series, delta temporality, the draft's inference names, exemplars.
import t from 'tap';
import { stringify } from 'yaml';
import { registry } from '../src/components.js';
import { loadConfig } from '../src/config/load.js';
import { consumerOf } from '../src/consumer.js';
import { Telemetry, type ExportMetricsServiceRequest, type HistogramDataPoint, type Metric, type NumberDataPoint } from '../src/pdata/telemetry.js';
import { genaiMetricsConnectorFactory } from '../connectors/genai_metrics/factory.js';
import { DURATION_BUCKETS, TOKEN_BUCKETS, type GenAIMetricsConfig } from '../connectors/genai_metrics/connector.js';
import { metricValue, settings, tempFile } from './helper.js';
import { genaiProcessor, spanRequest } from './genai-support.js';

function config(over: Record<string, unknown> = {}): GenAIMetricsConfig {
  const doc = {
    receivers: { otlp: { protocols: { http: { endpoint: '127.0.0.1:1' } } } },
    connectors: { genai_metrics: over },
    exporters: { debug: {} },
    service: { pipelines: { traces: { receivers: ['otlp'], exporters: ['genai_metrics'] }, metrics: { receivers: ['genai_metrics'], exporters: ['debug'] } } },
  };
  const r = loadConfig({ files: [tempFile('gm.yaml', stringify(doc))], registry });
  if (r.errors.length > 0) throw new Error(JSON.stringify(r.errors));
  return (r.config as any).connectors.get('genai_metrics').config;
}

function connector(over: Record<string, unknown> = {}) {
  const out: Telemetry[] = [];
  const set = settings('connector', 'genai_metrics');
  const c = genaiMetricsConnectorFactory.createConnector!(set, config({ metrics_flush_interval: '1h', ...over }), 'traces', 'metrics', consumerOf(async (b) => void out.push(b)));
  return { c, out, set };
}

const attrsOf = (p: { attributes: { key: string; value?: { stringValue?: string } }[] }) => Object.fromEntries(p.attributes.map((a) => [a.key, a.value?.stringValue]));
function metrics(out: Telemetry[]): Metric[] {
  const last = out.at(-1)!.request() as ExportMetricsServiceRequest;
  return last.resourceMetrics.flatMap((rm) => rm.scopeMetrics.flatMap((sm) => sm.metrics));
}
const find = (ms: Metric[], name: string) => ms.find((m) => m.name === name);

// An agent's trace: invoke_agent root, 3 chat calls (gpt-4o), 2 tool calls (one failing); the
// children name no agent: the genai processor gives them the root's.
function agentTrace() {
  return spanRequest([
    { id: 2, parent: 1, name: 'chat gpt-4o', attrs: { 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4o', 'gen_ai.usage.input_tokens': 1000, 'gen_ai.usage.output_tokens': 100 } },
    { id: 3, parent: 1, name: 'execute_tool search', attrs: { 'gen_ai.tool.name': 'search' } },
    { id: 4, parent: 1, name: 'chat gpt-4o', attrs: { 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4o', 'gen_ai.usage.input_tokens': 2000, 'gen_ai.usage.output_tokens': 200 } },
    { id: 5, parent: 1, name: 'execute_tool fetch', attrs: { 'gen_ai.tool.name': 'fetch', 'error.type': 'timeout' }, status: 2 },
    { id: 6, parent: 1, name: 'chat gpt-4o', attrs: { 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4o', 'gen_ai.usage.input_tokens': 3000, 'gen_ai.usage.output_tokens': 300 } },
    { id: 1, name: 'invoke_agent researcher', attrs: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.id': 'r-1', 'gen_ai.agent.name': 'researcher' } },
  ], { 'service.name': 'fleet-a' });
}

t.test('an agent\'s trace, through genai and genai_metrics, by value', async (t) => {
  const { p, out: normalised } = genaiProcessor();
  await p.consume(agentTrace());
  await p.shutdown();
  const { c, out } = connector();
  for (const b of normalised) await c.consume(b);
  await c.shutdown(); // flushes
  const ms = metrics(out);
  const usage = find(ms, 'gen_ai.client.token.usage')!;
  t.equal(usage.unit, '{token}');
  const inp = usage.histogram!.dataPoints.find((d) => attrsOf(d)['gen_ai.token.type'] === 'input')!;
  t.same(attrsOf(inp), { 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4o', 'gen_ai.agent.id': 'r-1', 'gen_ai.agent.name': 'researcher', 'gen_ai.token.type': 'input' });
  t.equal(inp.count, 3n);
  t.equal(inp.sum, 6000);
  t.same(inp.explicitBounds, TOKEN_BUCKETS);
  // 1000 in (256, 1024], 2000 and 3000 in (1024, 4096]
  t.same(inp.bucketCounts.map(Number), [0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0]);
  const dur = find(ms, 'gen_ai.client.operation.duration')!;
  t.same(dur.histogram!.dataPoints[0]!.explicitBounds, DURATION_BUCKETS);
  const calls = find(ms, 'fleetcol.gen_ai.calls')!.sum!.dataPoints;
  const byOp = (op: string, pts: NumberDataPoint[]) => pts.filter((d) => attrsOf(d)['gen_ai.operation.name'] === op).reduce((n, d) => n + d.asDouble!, 0);
  t.equal(byOp('chat', calls), 3);
  t.equal(byOp('execute_tool', calls), 2);
  t.equal(byOp('invoke_agent', calls), 1);
  const errors = find(ms, 'fleetcol.gen_ai.errors')!.sum!.dataPoints;
  t.equal(errors.length, 1);
  t.match(attrsOf(errors[0]!), { 'gen_ai.operation.name': 'execute_tool', 'error.type': 'timeout', 'gen_ai.agent.name': 'researcher' });
  const cost = find(ms, 'fleetcol.gen_ai.cost')!;
  t.equal(cost.unit, 'USD');
  // gpt-4o: 6000 input at $2.50 and 600 output at $10 per million
  t.equal(Math.round(cost.sum!.dataPoints.reduce((n, d) => n + d.asDouble!, 0) * 1e6), Math.round((6000 * 2.5 + 600 * 10)));
  const tools = find(ms, 'fleetcol.gen_ai.tool.calls')!.sum!.dataPoints.map((d) => `${attrsOf(d)['gen_ai.tool.name']}:${attrsOf(d)['status']}:${d.asDouble}`).sort();
  t.same(tools, ['fetch:error:1', 'search:ok:1']);
  t.equal((out.at(-1)!.request() as ExportMetricsServiceRequest).resourceMetrics[0]!.resource!.attributes[0]!.value!.stringValue, 'fleet-a', 'a resource per service');
});

t.test('spans without an operation: duration histograms by name, kind and status', async (t) => {
  const { c, out } = connector();
  await c.consume(spanRequest([{ id: 1, name: 'GET /health' }, { id: 2, name: 'GET /health', status: 2 }]));
  await c.shutdown();
  const d = find(metrics(out), 'traces.span.metrics.duration')!.histogram!.dataPoints;
  t.same(d.map((x) => `${attrsOf(x)['span.name']}|${attrsOf(x)['span.kind']}|${attrsOf(x)['status.code']}|${x.count}`).sort(), ['GET /health|SPAN_KIND_INTERNAL|STATUS_CODE_ERROR|1', 'GET /health|SPAN_KIND_INTERNAL|STATUS_CODE_UNSET|1']);
});

t.test('cardinality: past max_series one overflow series takes the rest, counted', async (t) => {
  const { c, out, set } = connector({ max_series: 3, span_metrics: { enabled: false } });
  await c.consume(spanRequest(Array.from({ length: 10 }, (_, i) => ({ id: i + 1, name: 'chat', attrs: { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': `m${i}` } }))));
  await c.shutdown();
  const calls = find(metrics(out), 'fleetcol.gen_ai.calls')!.sum!.dataPoints;
  const overflow = calls.find((d) => attrsOf(d)['otel_metric_overflow'] === 'true');
  t.ok(overflow, 'an overflow series');
  t.equal(calls.reduce((n, d) => n + d.asDouble!, 0), 10, 'every call counted');
  t.ok(metricValue(await set.registry.prom.metrics(), 'fleetcol_connector_genai_metrics_overflow_total') > 0);
});

t.test('delta temporality resets between flushes; inference naming; exemplars', async (t) => {
  const { c, out } = connector({ aggregation_temporality: 'AGGREGATION_TEMPORALITY_DELTA', naming: 'inference', exemplars: { enabled: true } });
  const span = { id: 1, name: 'chat', attrs: { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'gpt-4o', 'gen_ai.usage.input_tokens': 10, 'gen_ai.usage.output_tokens': 1 } };
  await c.consume(spanRequest([span]));
  await (c as unknown as { flush(): Promise<void> }).flush();
  await c.consume(spanRequest([span, { ...span, id: 2 }]));
  await c.shutdown();
  const second = metrics(out);
  t.equal(find(second, 'gen_ai.client.inference.usage.input_tokens')!.sum!.dataPoints[0]!.asDouble, 20, 'delta: the second flush counts the second batch only');
  t.equal(find(second, 'gen_ai.client.inference.usage.input_tokens')!.sum!.aggregationTemporality, 1);
  const h = find(second, 'gen_ai.client.inference.operation.input_tokens')!.histogram!.dataPoints[0] as HistogramDataPoint;
  t.equal(h.count, 2n);
  t.ok(h.exemplars.length > 0 && h.exemplars[0]!.traceId.length === 16, 'exemplars carry trace ids');
  t.ok(find(second, 'gen_ai.client.inference.duration'), 'inference duration');
  t.notOk(find(second, 'gen_ai.client.token.usage'), 'no v1.41 token metric under inference naming');
});

t.test('span metrics by name, kind and status; agent and dimensions from the resource; expired series made again', async (t) => {
  const { c, out } = connector({ dimensions: ['tenant'], metrics_expiration: '50ms' });
  const plain = (id: number, name: string, status?: number) => ({ id, name, status });
  await c.consume(spanRequest([plain(1, 'GET /a'), plain(2, 'GET /a'), plain(3, 'GET /a', 2), plain(4, 'GET /b')], { 'service.name': 'web' }));
  await c.consume(spanRequest([{ id: 5, name: 'chat', attrs: { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'gpt-4o' } }], { 'service.name': 'bot', 'gen_ai.agent.name': 'helper', tenant: 'acme' }));
  const flush = () => (c as unknown as { flush(): Promise<void> }).flush();
  await flush();
  let ms = metrics(out);
  const calls = find(ms, 'traces.span.metrics.calls')!.sum!.dataPoints.map((d) => [attrsOf(d)['span.name'], attrsOf(d)['status.code'], attrsOf(d)['span.kind'], d.asDouble]);
  t.same(calls.sort(), [['GET /a', 'STATUS_CODE_ERROR', 'SPAN_KIND_INTERNAL', 1], ['GET /a', 'STATUS_CODE_UNSET', 'SPAN_KIND_INTERNAL', 2], ['GET /b', 'STATUS_CODE_UNSET', 'SPAN_KIND_INTERNAL', 1]]);
  for (const d of find(ms, 'traces.span.metrics.duration')!.histogram!.dataPoints as HistogramDataPoint[]) {
    t.ok(Math.abs(d.sum! - Number(d.count) * 0.001) < 1e-9, 'durations from start and end (1 ms each)');
  }
  const gen = find(ms, 'fleetcol.gen_ai.calls')!.sum!.dataPoints.map(attrsOf);
  t.same(gen, [{ 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'gpt-4o', 'gen_ai.agent.name': 'helper', tenant: 'acme' }], 'agent and tenant from the resource');
  // Past metrics_expiration every series is forgotten; the same spans then make them again
  // (the label sets' cached series are not reused).
  await new Promise((r) => setTimeout(r, 80));
  await flush();
  await c.consume(spanRequest([plain(6, 'GET /a')], { 'service.name': 'web' }));
  await flush();
  ms = metrics(out);
  t.same(find(ms, 'traces.span.metrics.calls')!.sum!.dataPoints.map((d) => [attrsOf(d)['span.name'], d.asDouble]), [['GET /a', 1]], 'a new series, counting from 0');
  await c.shutdown();
});

t.test('a batch held as parts (a batch processor\'s merge, a socket\'s chunks) gives the same metrics as its requests one by one', async (t) => {
  const { p, out: normalised } = genaiProcessor();
  await p.consume(agentTrace());
  await p.consume(spanRequest([{ id: 9, name: 'chat claude', attrs: { 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'anthropic', 'gen_ai.request.model': 'claude-3-5-sonnet', 'gen_ai.usage.input_tokens': 50 } }], { 'service.name': 'fleet-b' }));
  await p.shutdown();
  const encoded = normalised.map((b) => Telemetry.fromProto('traces', b.toProto()));
  const merged = Telemetry.merge([...encoded, ...encoded]);
  t.ok(merged.protoParts().length >= 2, `merged from ${merged.protoParts().length} parts`);
  const one = connector();
  for (const b of [...encoded, ...encoded]) await one.c.consume(b);
  await one.c.shutdown();
  const two = connector();
  await two.c.consume(merged);
  await two.c.shutdown();
  const points = (out: Telemetry[]) => metrics(out).map((m) => JSON.stringify({ name: m.name, points: (m.histogram?.dataPoints ?? m.sum?.dataPoints ?? []).map((d) => ({ ...d, startTimeUnixNano: 0, timeUnixNano: 0, exemplars: [] })) }, (_, v) => (typeof v === 'bigint' ? String(v) : v))).sort();
  const want = points(one.out);
  t.ok(want.length >= 5, `${want.length} metrics`);
  t.same(points(two.out), want, 'the same metrics, by value');
  t.match(want.join('\n'), /fleet-b|claude-3-5-sonnet/, 'the second request\'s spans are counted');
  // A receiver's batch is the chunks its socket delivered, cut anywhere: not requests each.
  const three = connector();
  for (const b of encoded) {
    const bytes = b.toProto();
    const cut = [1, 7, Math.floor(bytes.length / 2), bytes.length - 3].filter((c, i, a) => c > 0 && c < bytes.length && a.indexOf(c) === i);
    const chunks = [0, ...cut].map((start, i) => bytes.subarray(start, [...cut, bytes.length][i]));
    const parts = Telemetry.fromProtoParts('traces', chunks);
    t.ok(parts.protoParts().length > 1, `held as ${parts.protoParts().length} chunks`);
    await three.c.consume(parts);
    await three.c.consume(parts);
  }
  await three.c.shutdown();
  t.same(points(three.out), want, 'the same metrics from socket chunks');
});
