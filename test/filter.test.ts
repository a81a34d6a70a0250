// filter: include / exclude, any / all, on item, scope and resource attributes, span name, kind,
// status, span events, log severity, metric names and points; bad patterns caught at configure time.
import t from 'tap';
import { stringify } from 'yaml';
import { registry } from '../src/components.js';
import { loadConfig } from '../src/config/load.js';
import { consumerOf } from '../src/consumer.js';
import { Telemetry, type ExportLogsServiceRequest, type ExportMetricsServiceRequest, type ExportTraceServiceRequest, type Signal } from '../src/pdata/telemetry.js';
import type { FilterConfig } from '../processors/filter/processor.js';
import { anchoredPrefix } from '../processors/filter/conditions.js';
import { attrs, spanRequest } from './genai-support.js';
import { metricValue, settings, tempFile } from './helper.js';

function load(over: Record<string, unknown>, signal: Signal = 'traces') {
  const doc = {
    receivers: { otlp: { protocols: { http: { endpoint: '127.0.0.1:1' } } } },
    processors: { filter: over },
    exporters: { debug: {} },
    service: { pipelines: { [signal]: { receivers: ['otlp'], processors: ['filter'], exporters: ['debug'] } } },
  };
  return loadConfig({ files: [tempFile('filter.yaml', stringify(doc))], registry });
}

function filterConfig(over: Record<string, unknown>, signal: Signal = 'traces'): FilterConfig {
  const r = load(over, signal);
  if (r.errors.length > 0) throw new Error(JSON.stringify(r.errors));
  return (r.config as any).processors.get('filter').config;
}

async function run(over: Record<string, unknown>, batch: Telemetry) {
  const out: Telemetry[] = [];
  const set = settings('processor', 'filter');
  const p = registry.get('processor', 'filter')!.createProcessor!(set, filterConfig(over, batch.signal), batch.signal, consumerOf(async (b) => void out.push(b)));
  await p.consume(batch);
  return { out, metrics: await set.registry.prom.metrics() };
}

const spanNames = (out: Telemetry[]) => out.flatMap((b) => (b.request() as ExportTraceServiceRequest).resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans.map((x) => x.name))));

t.test('README example: drop health-check spans', async (t) => {
  const cfg = { spans: { exclude: { match: 'any', conditions: [{ attribute: 'url.path', regex: '^/(healthz|readyz|livez)$' }, { name_regex: '^GET /health' }] } } };
  const { out, metrics } = await run(cfg, spanRequest([
    { id: 1, name: 'GET /healthz', attrs: { 'url.path': '/healthz' } },
    { id: 2, name: 'GET /health/deep' },
    { id: 3, name: 'invoke_agent planner', attrs: { 'gen_ai.operation.name': 'invoke_agent' } },
    { id: 4, name: 'GET /api', attrs: { 'url.path': '/api/healthz' } },
  ]));
  t.same(spanNames(out), ['invoke_agent planner', 'GET /api']);
  t.equal(metricValue(metrics, 'fleetcol_processor_filter_dropped'), 2);
  t.equal(metricValue(metrics, 'fleetcol_processor_filter_kept'), 2);
});

t.test('include with all-of; status, kind, resource attributes', async (t) => {
  const cfg = { spans: { include: { match: 'all', conditions: [{ status: ['error'] }, { attribute: 'service.name', on: 'resource', equals: 'svc' }] } } };
  const { out } = await run(cfg, spanRequest([{ id: 1, name: 'a', status: 2 }, { id: 2, name: 'b', status: 0 }, { id: 3, name: 'c', status: 1 }]));
  t.same(spanNames(out), ['a']);
  const none = await run({ spans: { include: { conditions: [{ attribute: 'service.name', on: 'resource', equals: 'other' }] } } }, spanRequest([{ id: 1, name: 'a' }]));
  t.equal(none.out.length, 0, 'nothing left: nothing sent');
  const kind = await run({ spans: { exclude: { conditions: [{ kind: ['internal'] }] } } }, spanRequest([{ id: 1, name: 'a' }]));
  t.equal(kind.out.length, 0, 'spanRequest spans are internal');
  const exists = await run({ spans: { exclude: { conditions: [{ attribute: 'x', exists: false }] } } }, spanRequest([{ id: 1, name: 'has', attrs: { x: 1 } }, { id: 2, name: 'not' }]));
  t.same(spanNames(exists.out), ['has']);
  const scope = await run({ spans: { exclude: { conditions: [{ attribute: 'lib', on: 'scope' }] } } }, spanRequest([{ id: 1, name: 'a' }]));
  t.same(spanNames(scope.out), ['a'], 'the scope has no such attribute');
});

t.test('span events by name', async (t) => {
  const b = spanRequest([{ id: 1, name: 'a' }]);
  const req = b.request() as ExportTraceServiceRequest;
  req.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.events = [
    { timeUnixNano: 1n, name: 'token', attributes: [], droppedAttributesCount: 0 },
    { timeUnixNano: 2n, name: 'exception', attributes: attrs({ 'exception.type': 'E' }), droppedAttributesCount: 0 },
  ];
  b.markModified();
  const { out, metrics } = await run({ span_events: { exclude: { conditions: [{ name: 'token' }] } } }, Telemetry.fromProto('traces', b.toProto()));
  const ev = (out[0]!.request() as ExportTraceServiceRequest).resourceSpans[0]!.scopeSpans[0]!.spans[0]!.events.map((e) => e.name);
  t.same(ev, ['exception']);
  t.equal(metricValue(metrics, 'fleetcol_processor_filter_dropped_span_events'), 1);
});

t.test('README example: drop agent heartbeats and debug logs', async (t) => {
  const rec = (name: string, sev: number) => ({ timeUnixNano: 1n, observedTimeUnixNano: 1n, severityNumber: sev, severityText: '', attributes: attrs({ 'event.name': name }), droppedAttributesCount: 0, flags: 0, traceId: new Uint8Array(0), spanId: new Uint8Array(0) });
  const req: ExportLogsServiceRequest = { resourceLogs: [{ resource: { attributes: [], droppedAttributesCount: 0 }, schemaUrl: '', scopeLogs: [{ scope: { name: '', version: '', attributes: [], droppedAttributesCount: 0 }, schemaUrl: '', logRecords: [rec('fleet.agent.heartbeat', 9), rec('a2a.task.status', 9), rec('x', 5), rec('y', 17)] }] }] };
  const cfg = { logs: { exclude: { match: 'any', conditions: [{ attribute: 'event.name', equals: 'fleet.agent.heartbeat' }, { severity_below: 'info' }] } } };
  const { out } = await run(cfg, Telemetry.fromRequest('logs', req));
  const names = (out[0]!.request() as ExportLogsServiceRequest).resourceLogs[0]!.scopeLogs[0]!.logRecords.map((l) => l.attributes[0]!.value!.stringValue);
  t.same(names, ['a2a.task.status', 'y']);
  const errs = await run({ logs: { include: { conditions: [{ severity_min: 'error' }] } } }, Telemetry.fromRequest('logs', structuredClone(req)));
  t.equal(errs.out[0]!.itemCount, 1);
});

t.test('metric points by metric name and point attributes', async (t) => {
  const point = (v: string) => ({ attributes: attrs({ agent: v }), startTimeUnixNano: 0n, timeUnixNano: 1n, asInt: 1n, exemplars: [], flags: 0 });
  const req: ExportMetricsServiceRequest = { resourceMetrics: [{ resource: { attributes: [], droppedAttributesCount: 0 }, schemaUrl: '', scopeMetrics: [{ scope: { name: '', version: '', attributes: [], droppedAttributesCount: 0 }, schemaUrl: '', metrics: [
    { name: 'gen_ai.client.token.usage', description: '', unit: '', gauge: { dataPoints: [point('a'), point('test-1')] } },
    { name: 'debug.internal', description: '', unit: '', gauge: { dataPoints: [point('a')] } },
  ] }] }] };
  const cfg = { metrics: { exclude: { match: 'any', conditions: [{ metric_name_regex: '^debug\\.' }, { attribute: 'agent', regex: '^test-' }] } } };
  const { out, metrics } = await run(cfg, Telemetry.fromRequest('metrics', req));
  const ms = (out[0]!.request() as ExportMetricsServiceRequest).resourceMetrics[0]!.scopeMetrics[0]!.metrics;
  t.same(ms.map((m) => m.name), ['gen_ai.client.token.usage']);
  t.equal(ms[0]!.gauge!.dataPoints.length, 1);
  t.equal(metricValue(metrics, 'fleetcol_processor_filter_dropped'), 2);
});

t.test('configure time: a bad or overlong pattern, a key without attribute, unknown keys', async (t) => {
  const bad = load({ spans: { exclude: { conditions: [{ attribute: 'a', regex: '(' }] } } });
  t.match(bad.errors.map((e) => e.message).join('\n'), /invalid regular expression/);
  const long = load({ spans: { exclude: { conditions: [{ attribute: 'a', regex: 'a'.repeat(2000) }] } } });
  t.ok(long.errors.length > 0, 'pattern length bounded');
  t.ok(load({ spans: { exclude: { conditions: [{ equals: 'x' }] } } }).errors.length > 0, 'equals without attribute');
  t.ok(load({ spans: { exclude: { conditions: [{ nope: 1 }] } } }).errors.length > 0, 'unknown key');
});

t.test('a long value is matched on its first 4096 characters only (bounded work)', async (t) => {
  const long = 'a'.repeat(100_000) + '!';
  const { out } = await run({ spans: { exclude: { conditions: [{ attribute: 'v', regex: '!$' }] } } }, spanRequest([{ id: 1, name: 's', attrs: { v: long } }]));
  t.equal(out.length, 1, 'the end of a 100 kB value is not seen');
});

t.test('a name pattern\'s anchored prefix: what every match begins with, or nothing', async (t) => {
  const cases: Array<[string, string]> = [
    ['^GET /health', 'GET /health'], ['^GET /health$', 'GET /health'], ['GET /health', ''], ['^n+', 'n'], ['^ab?', 'a'], ['^ab*c', 'a'],
    ['^ab{2}', 'a'], ['^a.c', 'a'], ['^chat|^GET', ''], ['^(chat|GET)', ''], ['^a[|]b', 'a'], ['^a\\|b', 'a'], ['^(a|b)c|d', ''],
    ['^$', ''], ['^', ''], ['^ключ', ''], ['^aк?', 'a'], ['^a😀?', 'a'], ['^(?:n)0', ''], ['^a\\.b', 'a'],
  ];
  for (const [pattern, prefix] of cases) {
    t.equal(anchoredPrefix(pattern), prefix, pattern);
    // every string the pattern matches begins with the prefix
    const re = new RegExp(pattern, 'u');
    for (const s of ['GET /healthz', 'GET /health', 'nnn', 'a', 'ab', 'abbc', 'ac', 'abc', 'chat', 'x|b', 'a|b', 'a.b', 'dd', '', 'ключ', 'a😀', 'aк', 'n0', 'd']) {
      if (re.test(s)) t.ok(s.startsWith(prefix), `${pattern} matches ${JSON.stringify(s)}, which begins with ${JSON.stringify(prefix)}`);
    }
  }
});
