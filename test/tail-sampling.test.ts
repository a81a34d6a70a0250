// tail_sampling: each policy keeps its kind of trace and drops the rest; a trace split over many
// requests, with spans after the decision (the decision cache sends or drops them);
// decision_wait_after_root_received deciding early; eviction counted.
import t from 'tap';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { registry } from '../src/components.js';
import { loadConfig } from '../src/config/load.js';
import { RetryableError, consumerOf } from '../src/consumer.js';
import type { ExportTraceServiceRequest, Telemetry } from '../src/pdata/telemetry.js';
import type { TailSamplingConfig, TailSamplingProcessor } from '../processors/tail_sampling/processor.js';
import { spanRequest, type SpanSpec } from './genai-support.js';
import { metricValue, settings, sleep, tempFile } from './helper.js';

function load(over: Record<string, unknown>) {
  const doc = {
    receivers: { otlp: { protocols: { http: { endpoint: '127.0.0.1:1' } } } },
    processors: { tail_sampling: over },
    exporters: { debug: {} },
    service: { pipelines: { traces: { receivers: ['otlp'], processors: ['tail_sampling'], exporters: ['debug'] } } },
  };
  return loadConfig({ files: [tempFile('ts.yaml', stringify(doc))], registry });
}
function make(over: Record<string, unknown>, refuse: (b: Telemetry) => void = () => {}) {
  const r = load(over);
  if (r.errors.length > 0) throw new Error(JSON.stringify(r.errors));
  const cfg: TailSamplingConfig = (r.config as any).processors.get('tail_sampling').config;
  const out: Telemetry[] = [];
  const set = settings('processor', 'tail_sampling');
  const p = registry.get('processor', 'tail_sampling')!.createProcessor!(set, cfg, 'traces', consumerOf(async (b) => {
    refuse(b);
    out.push(b);
  })) as TailSamplingProcessor;
  const traces = () => new Set(out.flatMap((b) => (b.request() as ExportTraceServiceRequest).resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans.map((x) => new DataView(x.traceId.buffer, x.traceId.byteOffset).getUint32(12))))));
  const spans = () => out.reduce((n, b) => n + b.itemCount, 0);
  return { p, out, set, traces, spans };
}

const op = (o: string, extra: Record<string, string | number | boolean> = {}) => ({ 'gen_ai.operation.name': o, ...extra });
/** One agent trace: root invoke_agent, a chat, a tool call. */
function agentTrace(trace: number, o: { cost?: number; tokens?: number; agent?: string; toolStatus?: number; status?: number; repeats?: number; attrs?: Record<string, string | number | boolean> } = {}): SpanSpec[] {
  const s: SpanSpec[] = [
    { trace, id: trace * 100 + 1, name: 'invoke_agent', attrs: op('invoke_agent', { 'gen_ai.agent.id': o.agent ?? 'helper', ...(o.attrs ?? {}) }), status: o.status },
    { trace, id: trace * 100 + 2, parent: trace * 100 + 1, name: 'chat', attrs: op('chat', { 'gen_ai.usage.cost': { double: o.cost ?? 0.001 } as never, 'gen_ai.usage.input_tokens': o.tokens ?? 10, 'gen_ai.usage.output_tokens': 5 }) },
  ];
  for (let i = 0; i < (o.repeats ?? 1); i++) {
    s.push({ trace, id: trace * 100 + 10 + i, parent: trace * 100 + 1, name: 'execute_tool', attrs: op('execute_tool', { 'gen_ai.tool.name': 'search', 'gen_ai.tool.call.arguments': '{"q":"same"}' }), status: o.toolStatus });
  }
  return s;
}

const POLICIES: Record<string, { policy: Record<string, unknown>; match: Parameters<typeof agentTrace>[1] }> = {
  genai_cost: { policy: { genai_cost: { min_usd: 1 } }, match: { cost: 2.5 } },
  genai_tokens: { policy: { genai_tokens: { min_tokens: 10000 } }, match: { tokens: 20000 } },
  agent: { policy: { agent: { patterns: ['billing-*'] } }, match: { agent: 'billing-7' } },
  tool_error: { policy: { tool_error: {} }, match: { toolStatus: 2 } },
  agent_loop: { policy: { agent_loop: { min_repeats: 4 } }, match: { repeats: 5 } },
  status_code: { policy: { status_code: { status_codes: ['ERROR'] } }, match: { status: 2 } },
  string_attribute: { policy: { string_attribute: { key: 'tenant', values: ['acme'] } }, match: { attrs: { tenant: 'acme' } } },
  string_attribute_regex: { policy: { type: 'string_attribute', string_attribute: { key: 'tenant', values: ['^ac.*$'], enabled_regex_matching: true } }, match: { attrs: { tenant: 'acorn' } } },
  numeric_attribute: { policy: { numeric_attribute: { key: 'retries', min_value: 3, max_value: 10 } }, match: { attrs: { retries: 5 } } },
  boolean_attribute: { policy: { boolean_attribute: { key: 'debug', value: true } }, match: { attrs: { debug: true } } },
  span_count: { policy: { span_count: { min_spans: 8 } }, match: { repeats: 6 } },
};

for (const [name, { policy, match }] of Object.entries(POLICIES)) {
  t.test(`policy ${name}: keeps its kind, drops the rest`, async (t) => {
    const type = (policy.type as string | undefined) ?? Object.keys(policy)[0]!;
    const { p, traces } = make({ decision_wait: '50ms', policies: [{ name, type, ...policy }] });
    await p.start();
    await p.consume(spanRequest([...agentTrace(1, match), ...agentTrace(2), ...agentTrace(3, { repeats: 2 })]));
    await sleep(150);
    p.tick(Date.now() + 1000);
    await p.shutdown();
    t.same([...traces()], [1]);
  });
}

t.test('and, drop, latency, always_sample, probabilistic, rate_limiting, composite; policy attribute', async (t) => {
  const { p, out, traces } = make({
    decision_wait: '10s', policy_attribute: true,
    policies: [
      { name: 'all', type: 'always_sample' },
      { name: 'no-helpers', type: 'drop', drop: { drop_sub_policy: [{ name: 'h', type: 'agent', agent: { patterns: ['helper'] } }] } },
    ],
  });
  await p.consume(spanRequest([...agentTrace(1, { agent: 'x' }), ...agentTrace(2)]));
  p.tick(Date.now() + 20_000);
  await p.shutdown();
  t.same([...traces()], [1], 'drop overrides always_sample');
  const kept = (out[0]!.request() as ExportTraceServiceRequest).resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
  t.same(kept.attributes.find((a) => a.key === 'tail_sampling.policy')?.value, { stringValue: 'all' });

  const and = make({ decision_wait: '10s', policies: [{ name: 'a', type: 'and', and: { and_sub_policy: [
    { name: 'c', type: 'genai_cost', genai_cost: { min_usd: 1 } }, { name: 'e', type: 'tool_error', tool_error: {} }] } }] });
  await and.p.consume(spanRequest([...agentTrace(1, { cost: 2, toolStatus: 2 }), ...agentTrace(2, { cost: 2 }), ...agentTrace(3, { toolStatus: 2 })]));
  and.p.tick(Date.now() + 20_000);
  await and.p.shutdown();
  t.same([...and.traces()], [1], 'and: both');

  const lat = make({ decision_wait: '10s', policies: [{ name: 'l', type: 'latency', latency: { threshold_ms: 0.5 } }, { name: 'p0', type: 'probabilistic', probabilistic: { sampling_percentage: 0 } }] });
  await lat.p.consume(spanRequest(agentTrace(1)));
  lat.p.tick(Date.now() + 20_000);
  await lat.p.shutdown();
  t.same([...lat.traces()], [1], 'latency: spanRequest spans last 1ms');

  const rate = make({ decision_wait: '10s', policies: [{ name: 'r', type: 'rate_limiting', rate_limiting: { spans_per_second: 7 } }] });
  await rate.p.consume(spanRequest([...agentTrace(1), ...agentTrace(2), ...agentTrace(3)]));
  rate.p.tick(Date.now() + 20_000);
  await rate.p.shutdown();
  t.equal(rate.traces().size, 2, 'rate_limiting: 7 spans/s keeps two 3-span traces');

  const comp = make({ decision_wait: '10s', policies: [{ name: 'c', type: 'composite', composite: {
    max_total_spans_per_second: 100, policy_order: ['costly', 'rest'],
    composite_sub_policy: [{ name: 'costly', type: 'genai_cost', genai_cost: { min_usd: 1 } }, { name: 'rest', type: 'always_sample' }],
    rate_allocation: [{ policy: 'costly', percent: 50 }, { policy: 'rest', percent: 3 }] } }] });
  await comp.p.consume(spanRequest([...agentTrace(1, { cost: 5 }), ...agentTrace(2), ...agentTrace(3)]));
  comp.p.tick(Date.now() + 20_000);
  await comp.p.shutdown();
  t.same([...comp.traces()].sort(), [1, 2], 'composite: rest gets 3 spans/s, one trace');
});

t.test('a trace over many requests; spans after the decision follow it (decision cache)', async (t) => {
  const { p, traces, spans, set } = make({ decision_wait: '10s', policies: [{ name: 'costly', type: 'genai_cost', genai_cost: { min_usd: 1 } }] });
  const keep = agentTrace(1, { cost: 3, repeats: 3 });
  const drop = agentTrace(2, { repeats: 3 });
  for (let i = 0; i < 3; i++) await p.consume(spanRequest([keep[i]!, drop[i]!]));
  p.tick(Date.now() + 20_000);
  await sleep(10);
  t.equal(spans(), 3, 'the kept trace\'s first 3 spans');
  for (let i = 3; i < keep.length; i++) await p.consume(spanRequest([keep[i]!, drop[i]!]));
  t.equal(spans(), keep.length, 'late spans of the kept trace go on at once; of the dropped one, nowhere');
  t.same([...traces()], [1]);
  const m = await set.registry.prom.metrics();
  t.equal(metricValue(m, 'fleetcol_processor_tail_sampling_late_spans_sampled'), keep.length - 3);
  t.equal(metricValue(m, 'fleetcol_processor_tail_sampling_late_spans_dropped'), drop.length - 3);
  t.equal(metricValue(m, 'fleetcol_processor_tail_sampling_traces_sampled'), 1);
  t.equal(metricValue(m, 'fleetcol_processor_tail_sampling_traces_not_sampled'), 1);
  t.equal(metricValue(m, 'fleetcol_processor_tail_sampling_policy_sampled', 'policy="costly"'), 1);
  await p.shutdown();
});

t.test('decision_wait_after_root_received decides early once the root invoke_agent span arrived', async (t) => {
  const { p, traces } = make({ decision_wait: '60s', decision_wait_after_root_received: '50ms', policies: [{ name: 'all', type: 'always_sample' }] });
  await p.start();
  const tr = agentTrace(1);
  await p.consume(spanRequest(tr.slice(1))); // children first
  await p.consume(spanRequest(agentTrace(2).slice(1))); // a trace whose root never comes
  await sleep(200);
  t.equal(traces().size, 0, 'no root yet: waits for decision_wait');
  await p.consume(spanRequest(tr.slice(0, 1)));
  await sleep(300);
  t.same([...traces()], [1], 'decided ~50ms after its root, long before 60s');
  await p.shutdown();
});

t.test('num_traces evicts the oldest per on_evict, counted', async (t) => {
  const { p, traces, set } = make({ decision_wait: '60s', num_traces: 2, on_evict: 'sample', policies: [] });
  await p.consume(spanRequest([...agentTrace(1), ...agentTrace(2), ...agentTrace(3)]));
  await sleep(10);
  t.same([...traces()], [1], 'the oldest evicted and sampled');
  t.equal(metricValue(await set.registry.prom.metrics(), 'fleetcol_processor_tail_sampling_traces_evicted'), 1);
  await p.shutdown();
});

t.test('kept traces the next stage refuses for now wait in the outbox and are sent again; a full outbox refuses new spans', async (t) => {
  let refusals = 0;
  let refusing = true;
  const { p, spans, set } = make({ decision_wait: '10s', max_bytes: 10000, policies: [{ name: 'all', type: 'always_sample' }] }, () => {
    if (refusing) {
      refusals++;
      throw new RetryableError('sending queue is full', { retryAfterMs: 60 });
    }
  });
  const kept: ReturnType<typeof agentTrace> = [];
  for (let i = 1; i <= 8; i++) {
    const tr = agentTrace(i, { attrs: { pad: 'p'.repeat(200) } });
    kept.push(...tr);
    await p.consume(spanRequest(tr));
  }
  p.tick(Date.now() + 20_000);
  await sleep(150);
  t.ok(refusals >= 2, `the next stage refused ${refusals} times, each retried after its delay`);
  t.equal(spans(), 0, 'nothing taken yet');
  await t.rejects(p.consume(spanRequest(agentTrace(99))), RetryableError, 'the outbox is over half of max_bytes: new spans refused, retryably');
  refusing = false;
  await sleep(200);
  t.equal(spans(), kept.length, 'every kept span sent once the next stage takes them');
  t.equal(metricValue(await set.registry.prom.metrics(), 'fleetcol_processor_tail_sampling_traces_evicted') ?? 0, 0, 'none evicted');
  await p.consume(spanRequest(agentTrace(100)));
  const m = await set.registry.prom.metrics();
  t.ok(metricValue(m, 'fleetcol_processor_tail_sampling_send_retried_spans')! >= kept.length, 'retries counted');
  t.equal(metricValue(m, 'fleetcol_processor_tail_sampling_send_failed_spans') ?? 0, 0, 'none lost');
  t.equal(metricValue(m, 'fleetcol_processor_tail_sampling_refused_spans'), agentTrace(99).length);
  await p.shutdown();
});

t.test('expected_new_traces_per_sec × decision_wait above num_traces: a warning at start', async (t) => {
  const r = load({ decision_wait: '10s', num_traces: 1000, expected_new_traces_per_sec: 500, policies: [] });
  const cfg: TailSamplingConfig = (r.config as any).processors.get('tail_sampling').config;
  const lines: string[] = [];
  const set = { ...settings('processor', 'tail_sampling/warn'), logger: pino({ level: 'warn' }, { write: (l: string) => void lines.push(l) }) };
  const p = registry.get('processor', 'tail_sampling')!.createProcessor!(set, cfg, 'traces', consumerOf(async () => {}));
  t.match(lines.join(''), /"traces_in_flight":5000.*num_traces is below expected_new_traces_per_sec × decision_wait/);
  await p.shutdown();
});

t.test('config: unknown policy type, missing block, bad regex are errors', async (t) => {
  t.ok(load({ policies: [{ name: 'x', type: 'nope' }] }).errors.length > 0);
  t.ok(load({ policies: [{ name: 'x', type: 'genai_cost' }] }).errors.length > 0);
  t.ok(load({ policies: [{ name: 'x', type: 'string_attribute', string_attribute: { key: 'k', values: ['('], enabled_regex_matching: true } }] }).errors.length > 0);
  t.equal(load({ policies: [{ name: 'c', type: 'genai_cost', genai_cost: { min_usd: 1 } }] }).errors.length, 0);
});
