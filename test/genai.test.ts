// The genai processor, in process: each source convention's names (from their own packages where
// npm has them), derived values, agent attribution across requests and its bounds, cost (checked
// against @pydantic/genai-prices' own calcPrice and against config prices), content hygiene, logs,
// and configure-time errors with their place. Real instrumentation end to end: genai-e2e.test.ts.
import { calcPrice } from '@pydantic/genai-prices';
import t from 'tap';
import { metricValue, runCli, sleep, tempFile } from './helper.js';
import { genaiProcessor, logRequest, logsOut, spanRequest, spansOut } from './genai-support.js';
import { modelPriceCost, Pricing, type Usage } from '../processors/genai/pricing.js';
import { registry } from '../src/components.js';
import { loadConfig } from '../src/config/load.js';
import { Telemetry, type ExportTraceServiceRequest } from '../src/pdata/telemetry.js';

const host = { extension: () => undefined };
const cents = (x: unknown) => Math.round((x as number) * 100);

t.test('OpenInference: kind, model, provider, tokens with cache details, messages rebuilt, cost', async (t) => {
  const { p, out } = genaiProcessor();
  await p.start(host);
  await p.consume(spanRequest([{
    id: 1, name: 'OpenAI Chat Completions', attrs: {
      'openinference.span.kind': 'LLM', 'llm.model_name': 'gpt-4o-2024-08-06', 'llm.system': 'openai',
      'llm.token_count.prompt': 1_000_000, 'llm.token_count.completion': 500_000, 'llm.token_count.total': 1_500_000,
      'llm.token_count.prompt_details.cache_read': 200_000,
      'llm.input_messages.0.message.role': 'system', 'llm.input_messages.0.message.content': 'be brief',
      'llm.input_messages.1.message.role': 'user', 'llm.input_messages.1.message.content': 'hi',
      'llm.output_messages.0.message.role': 'assistant',
      'llm.output_messages.0.message.tool_calls.0.tool_call.id': 'c1', 'llm.output_messages.0.message.tool_calls.0.tool_call.function.name': 'search',
      'llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments': '{"q":"x"}',
      'session.id': 'conv-7',
    },
  }]));
  const [s] = spansOut(out);
  t.match(s!.a, {
    'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4o-2024-08-06',
    'gen_ai.usage.input_tokens': 1_000_000, 'gen_ai.usage.output_tokens': 500_000, 'gen_ai.usage.cache_read.input_tokens': 200_000,
    'gen_ai.usage.total_tokens': 1_500_000, 'gen_ai.conversation.id': 'conv-7',
    'llm.token_count.prompt': 1_000_000, // originals stay unless remove_originals
  });
  // gpt-4o: $2.50 in, $1.25 cached, $10 out per million: 800k × 2.5 + 200k × 1.25 + 500k × 10 = $7.25
  t.equal(s!.a['gen_ai.usage.cost'], 7.25);
  t.same(JSON.parse(s!.a['gen_ai.input.messages'] as string), [
    { role: 'system', parts: [{ type: 'text', content: 'be brief' }] }, { role: 'user', parts: [{ type: 'text', content: 'hi' }] },
  ]);
  t.same(JSON.parse(s!.a['gen_ai.output.messages'] as string), [{ role: 'assistant', parts: [{ type: 'tool_call', id: 'c1', name: 'search', arguments: { q: 'x' } }] }]);
  await p.shutdown();
});

/** The flattened messages → GenAI messages as the processor built them before it wrote the JSON
 *  itself (a Map per list and per entry, then JSON.stringify): the reference the writer is held to. */
function referenceMessages(attrs: Record<string, string>, prefix: string, toolCallId: boolean): string | undefined {
  const entries = new Map<number, Record<string, string>>();
  for (const [key, value] of Object.entries(attrs)) {
    if (!key.startsWith(prefix)) continue;
    const rest = key.slice(prefix.length);
    const dot = rest.indexOf('.');
    if (dot <= 0 || !/^\d+$/.test(rest.slice(0, dot))) continue;
    const index = Number(rest.slice(0, dot));
    if (index >= 256 || dot + 1 >= rest.length) continue;
    let e = entries.get(index);
    if (e === undefined) entries.set(index, (e = {}));
    e[rest.slice(dot + 1)] = value;
  }
  if (entries.size === 0) return undefined;
  const out: unknown[] = [];
  for (const index of [...entries.keys()].sort((a, b) => a - b)) {
    const e = entries.get(index)!;
    let role = e['message.role'] ?? 'user';
    const parts: unknown[] = [];
    const callId = toolCallId ? e['message.tool_call_id'] : undefined;
    const content = e['message.content'];
    if (callId !== undefined) {
      parts.push({ type: 'tool_call_response', id: callId, response: content ?? '' });
      if (role === 'user') role = 'tool';
    } else if (content !== undefined) parts.push({ type: 'text', content });
    const calls = new Map<number, Record<string, string>>();
    for (const [field, v] of Object.entries(e)) {
      if (!field.startsWith('message.tool_calls.')) continue;
      const rest = field.slice('message.tool_calls.'.length);
      const dot = rest.indexOf('.');
      if (dot <= 0 || !/^\d+$/.test(rest.slice(0, dot))) continue;
      const j = Number(rest.slice(0, dot));
      let c = calls.get(j);
      if (c === undefined) calls.set(j, (c = {}));
      c[rest.slice(dot + 1)] = v;
    }
    for (const j of [...calls.keys()].sort((a, b) => a - b)) {
      const c = calls.get(j)!;
      const args = c['tool_call.function.arguments'];
      let parsed: unknown = args;
      if (args !== undefined) {
        try {
          parsed = JSON.parse(args);
        } catch {
          parsed = args;
        }
      }
      parts.push({ type: 'tool_call', id: c['tool_call.id'], name: c['tool_call.function.name'], arguments: parsed });
    }
    out.push({ role, parts });
  }
  return JSON.stringify(out);
}

t.test('OpenInference flattened messages: written as the reference builds them, 300 random spans', async (t) => {
  let seed = 11;
  const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const fields = ['message.role', 'message.content', 'message.tool_call_id', 'message.tool_calls.0.tool_call.id', 'message.tool_calls.0.tool_call.function.name',
    'message.tool_calls.0.tool_call.function.arguments', 'message.tool_calls.1.tool_call.function.name', 'message.tool_calls.1.tool_call.function.arguments',
    'message.tool_calls.10.tool_call.id', 'message.other', 'message.tool_calls.x.tool_call.id'];
  const values = ['user', 'assistant', 'tool', 'hi "there"\n', '{"q":1}', 'not json {', '', 'é ☃', '[1,2]'];
  const { p, out } = genaiProcessor();
  const specs = [];
  const want: Array<[string | undefined, string | undefined]> = [];
  for (let n = 0; n < 300; n++) {
    const attrs: Record<string, string> = { 'openinference.span.kind': 'LLM' };
    const count = Math.floor(rnd() * 12);
    for (let k = 0; k < count; k++) {
      const list = rnd() < 0.6 ? 'llm.input_messages.' : 'llm.output_messages.';
      const index = pick(['0', '1', '2', '12', '300', '01', 'x']);
      attrs[`${list}${index}.${pick(fields)}`] = pick(values);
    }
    specs.push({ id: n + 1, trace: n + 1, name: 'llm', attrs });
    want.push([referenceMessages(attrs, 'llm.input_messages.', true), referenceMessages(attrs, 'llm.output_messages.', false)]);
  }
  t.ok(want.filter(([i, o]) => i !== undefined && o !== undefined).length > 100, 'most spans have both lists');
  t.ok(want.some(([i]) => i?.includes('tool_call_response')) && want.some(([, o]) => o?.includes('"arguments":{')), 'tool calls and their responses among them');
  await p.consume(spanRequest(specs));
  const got = spansOut(out);
  t.equal(got.length, 300);
  const wrong: string[] = [];
  for (const s of got) {
    const [input, output] = want[s.id - 1]!;
    if (s.a['gen_ai.input.messages'] !== input) wrong.push(`span ${s.id} input: ${String(s.a['gen_ai.input.messages'])} != ${String(input)}`);
    if (s.a['gen_ai.output.messages'] !== output) wrong.push(`span ${s.id} output: ${String(s.a['gen_ai.output.messages'])} != ${String(output)}`);
  }
  t.same(wrong.slice(0, 5), [], 'every span\'s messages as the reference writes them');
  await p.shutdown();
});

t.test('remove_originals and overwrite, per source', async (t) => {
  const { p, out } = genaiProcessor({ sources: [{ name: 'openinference', remove_originals: true, overwrite: true }] });
  await p.consume(spanRequest([{ id: 1, name: 'x', attrs: { 'llm.model_name': 'claude-sonnet-4-20250514', 'gen_ai.request.model': 'old', 'llm.token_count.prompt': 10 } }]));
  const [s] = spansOut(out);
  t.equal(s!.a['gen_ai.request.model'], 'claude-sonnet-4-20250514', 'overwrite: the existing target is replaced');
  t.notOk('llm.model_name' in s!.a, 'remove_originals');
  t.notOk('llm.token_count.prompt' in s!.a);
  t.equal(s!.a['gen_ai.provider.name'], 'anthropic', 'provider derived from the model name');
  const { p: p2, out: out2 } = genaiProcessor({ sources: [{ name: 'openinference' }] });
  await p2.consume(spanRequest([{ id: 1, name: 'x', attrs: { 'llm.model_name': 'claude-x', 'gen_ai.request.model': 'kept' } }]));
  t.equal(spansOut(out2)[0]!.a['gen_ai.request.model'], 'kept', 'without overwrite the item\'s own value stays');
  await p.shutdown();
  await p2.shutdown();
});

t.test('older conventions: gen_ai.system, prompt/completion tokens, cache_creation, provider values', async (t) => {
  const { p, out } = genaiProcessor();
  await p.consume(spanRequest([
    { id: 1, name: 'openai.chat', attrs: { 'gen_ai.system': 'OpenAI', 'llm.request.type': 'chat', 'gen_ai.request.model': 'gpt-4o-mini', 'gen_ai.usage.prompt_tokens': 12, 'gen_ai.usage.completion_tokens': 5, 'gen_ai.prompt.0.role': 'user', 'gen_ai.prompt.0.content': 'hi', 'gen_ai.completion.0.role': 'assistant', 'gen_ai.completion.0.content': 'Hello' } },
    { id: 2, name: 'chat claude', attrs: { 'gen_ai.provider.name': 'az.ai.openai', 'gen_ai.usage.cache_creation.input_tokens': 7, 'gen_ai.request.model': 'gpt-4o' } },
    { id: 3, name: 'chat x', attrs: { 'gen_ai.system': 'vertex_ai', 'gen_ai.request.model': 'gemini-2.5-flash' } },
    { id: 4, name: 'chat y', attrs: { 'gen_ai.provider.name': 'xai', 'gen_ai.request.model': 'grok-3' } },
  ]));
  const s = spansOut(out);
  t.match(s[0]!.a, {
    'gen_ai.provider.name': 'openai', 'gen_ai.operation.name': 'chat', 'gen_ai.usage.input_tokens': 12, 'gen_ai.usage.output_tokens': 5, 'gen_ai.usage.total_tokens': 17,
  });
  t.same(JSON.parse(s[0]!.a['gen_ai.input.messages'] as string), [{ role: 'user', parts: [{ type: 'text', content: 'hi' }] }]);
  t.same(JSON.parse(s[0]!.a['gen_ai.output.messages'] as string), [{ role: 'assistant', parts: [{ type: 'text', content: 'Hello' }] }]);
  t.equal(s[1]!.a['gen_ai.provider.name'], 'azure.ai.openai', 'a deprecated value in the current key is corrected');
  t.equal(s[1]!.a['gen_ai.usage.cache_write.input_tokens'], 7);
  t.equal(s[1]!.a['gen_ai.operation.name'], 'chat', 'operation from the span name');
  t.equal(s[2]!.a['gen_ai.provider.name'], 'gcp.vertex_ai');
  t.equal(s[3]!.a['gen_ai.provider.name'], 'x_ai');
  await p.shutdown();
});

t.test('Vercel AI SDK ai.* spans: per-call usage counted once, the run becomes invoke_agent with its functionId', async (t) => {
  const { p, out } = genaiProcessor();
  await p.consume(spanRequest([
    { id: 2, parent: 1, name: 'ai.generateText.doGenerate', attrs: { 'ai.model.provider': 'openai.chat', 'ai.model.id': 'gpt-4o-mini', 'gen_ai.system': 'openai.chat', 'gen_ai.request.model': 'gpt-4o-mini', 'ai.usage.inputTokens': 10, 'ai.usage.outputTokens': 3, 'gen_ai.usage.input_tokens': 10, 'gen_ai.usage.output_tokens': 3, 'ai.usage.cachedInputTokens': 4 } },
    { id: 3, parent: 1, name: 'ai.toolCall', attrs: { 'ai.toolCall.name': 'add', 'ai.toolCall.id': 'c1', 'ai.toolCall.args': '{"a":1}' } },
    { id: 4, parent: 1, name: 'ai.generateText.doGenerate', attrs: { 'ai.model.provider': 'openai.chat', 'ai.model.id': 'gpt-4o-mini', 'ai.usage.inputTokens': 10, 'ai.usage.outputTokens': 3 } },
    { id: 1, name: 'ai.generateText', attrs: { 'ai.model.provider': 'openai.chat', 'ai.model.id': 'gpt-4o-mini', 'ai.telemetry.functionId': 'planner', 'ai.usage.inputTokens': 20, 'ai.usage.outputTokens': 6 } },
  ]));
  const s = spansOut(out);
  const byId = new Map(s.map((x) => [x.id, x.a]));
  t.equal(byId.get(1)!['gen_ai.operation.name'], 'invoke_agent');
  t.equal(byId.get(1)!['gen_ai.agent.name'], 'planner');
  t.notOk('gen_ai.usage.input_tokens' in byId.get(1)!, 'the run\'s summed ai.usage.* is not counted again');
  t.notOk('gen_ai.usage.cost' in byId.get(1)!);
  const input = s.reduce((n, x) => n + ((x.a['gen_ai.usage.input_tokens'] as number) ?? 0), 0);
  t.equal(input, 20, 'two calls of 10');
  t.match(byId.get(2)!, { 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.usage.cache_read.input_tokens': 4, 'gen_ai.agent.name': 'planner' });
  t.match(byId.get(3)!, { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'add', 'gen_ai.tool.call.id': 'c1', 'gen_ai.agent.name': 'planner' });
  await p.shutdown();
});

t.test('ai@7 GenAI spans: the invoke_agent root\'s usage is renamed aggregated, calls keep theirs', async (t) => {
  const { p, out } = genaiProcessor();
  await p.consume(spanRequest([
    { id: 2, parent: 1, name: 'chat gpt-4o', attrs: { 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4o', 'gen_ai.usage.input_tokens': 100, 'gen_ai.usage.output_tokens': 10 } },
    { id: 1, name: 'invoke_agent gpt-4o', attrs: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': 'writer', 'gen_ai.usage.input_tokens': 100, 'gen_ai.usage.output_tokens': 10, 'gen_ai.usage.cache_creation.input_tokens': 0 } },
  ]));
  const byId = new Map(spansOut(out).map((x) => [x.id, x.a]));
  t.notOk('gen_ai.usage.input_tokens' in byId.get(1)!);
  t.equal(byId.get(1)!['gen_ai.aggregated_usage.input_tokens'], 100);
  t.equal(byId.get(2)!['gen_ai.usage.input_tokens'], 100);
  t.equal(byId.get(2)!['gen_ai.agent.name'], 'writer');
  await p.shutdown();
});

t.test('Langfuse: additive usage_details become the conventions\' counts (input includes cached)', async (t) => {
  const { p, out } = genaiProcessor({ pricing: { models: [{ match: 'my-model', input_per_mtok: 2, output_per_mtok: 8, cache_read_per_mtok: 0.5 }] } });
  await p.consume(spanRequest([{ id: 1, name: 'generation', attrs: {
    'langfuse.observation.type': 'generation', 'langfuse.observation.model.name': 'my-model',
    'langfuse.observation.usage_details': '{"input":1000,"output":300,"total":1500,"cache_read_input_tokens":200}',
  } }]));
  const [s] = spansOut(out);
  t.match(s!.a, { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'my-model', 'gen_ai.usage.input_tokens': 1200, 'gen_ai.usage.cache_read.input_tokens': 200, 'gen_ai.usage.output_tokens': 300 });
  // 1000 × 2 + 200 × 0.5 + 300 × 8 = 4500 per million
  t.equal(s!.a['gen_ai.usage.cost'], 0.0045);
  await p.shutdown();
});

t.test('LangSmith, Pydantic AI, CrewAI, LangChain rows', async (t) => {
  const { p, out } = genaiProcessor();
  await p.consume(spanRequest([
    { id: 1, name: 'ChatOpenAI', attrs: { 'langsmith.span.kind': 'llm', 'langsmith.metadata.ls_model_name': 'gpt-4o', 'langsmith.metadata.ls_provider': 'openai', 'langsmith.metadata.thread_id': 't-1', 'gen_ai.system': 'az.ai.openai' } },
    { id: 2, name: 'agent run', attrs: { agent_name: 'support', model_name: 'gpt-4o' } },
    { id: 3, name: 'running tool', attrs: { tool_arguments: '{"x":1}', tool_response: 'ok', 'gen_ai.tool.name': 'lookup' } },
    { id: 4, name: 'Task Execution', attrs: { agent_role: 'Researcher', crew_id: 'crew-9' } },
    { id: 5, name: 'node', attrs: { 'langgraph.node.name': 'router', 'lc.metadata.thread_id': 'th-2' } },
    { id: 6, name: 'chat gpt-4o', attrs: { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'gpt-4o', 'operation.cost': { double: 0.0123 }, 'gen_ai.usage.input_tokens': 10 } },
  ]));
  const byId = new Map(spansOut(out).map((x) => [x.id, x.a]));
  t.match(byId.get(1)!, { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'gpt-4o', 'gen_ai.conversation.id': 't-1', 'gen_ai.provider.name': 'azure.ai.openai' });
  t.match(byId.get(2)!, { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': 'support' });
  t.match(byId.get(3)!, { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.call.arguments': '{"x":1}', 'gen_ai.tool.call.result': 'ok' });
  t.match(byId.get(4)!, { 'gen_ai.agent.name': 'Researcher', 'gen_ai.conversation.id': 'crew-9' });
  t.match(byId.get(5)!, { 'gen_ai.agent.name': 'router', 'gen_ai.conversation.id': 'th-2' });
  t.equal(byId.get(6)!['gen_ai.usage.cost'], 0.0123, 'a cost the instrumentation set is kept');
  await p.shutdown();
});

t.test('a source of your own, with value mappings', async (t) => {
  const { p, out } = genaiProcessor({ sources: [{ name: 'inhouse', mappings: { 'acme.model': 'gen_ai.request.model', 'acme.kind': 'gen_ai.operation.name' }, value_mappings: { 'gen_ai.operation.name': { LLM_CALL: 'chat' } } }] });
  await p.consume(spanRequest([{ id: 1, name: 'x', attrs: { 'acme.model': 'gpt-4o', 'acme.kind': 'llm_call', 'llm.model_name': 'not-mapped' } }]));
  const [s] = spansOut(out);
  t.match(s!.a, { 'gen_ai.request.model': 'gpt-4o', 'gen_ai.operation.name': 'chat' });
  await p.shutdown();
});

t.test('agent attribution: children in earlier requests wait for their invoke_agent parent', async (t) => {
  const { p, out, set } = genaiProcessor({ agent_context: { wait: '2s' } });
  await p.start(host);
  // request 1: a tool span under an LLM span's sibling chain; request 2: an LLM span; request 3: the agent
  await p.consume(spanRequest([{ id: 3, parent: 2, name: 'execute_tool search', attrs: { 'gen_ai.tool.name': 'search' } }]));
  await p.consume(spanRequest([{ id: 2, parent: 1, name: 'chat gpt-4o', attrs: { 'gen_ai.request.model': 'gpt-4o', 'gen_ai.usage.input_tokens': 10, 'gen_ai.usage.output_tokens': 1 } }]));
  t.equal(spansOut(out).length, 0, 'both held');
  await p.consume(spanRequest([{ id: 9, name: 'GET /health' }, { id: 1, name: 'invoke_agent planner', attrs: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.id': 'p-1', 'gen_ai.agent.name': 'planner' } }]));
  const s = spansOut(out);
  t.same(s.map((x) => x.id).sort(), [1, 2, 3, 9], 'released with the request that completed their chain');
  for (const id of [2, 3]) t.match(s.find((x) => x.id === id)!.a, { 'gen_ai.agent.id': 'p-1', 'gen_ai.agent.name': 'planner' });
  t.notOk('gen_ai.agent.id' in s.find((x) => x.id === 9)!.a, 'a non-GenAI span gets no agent');
  // Later children of a known agent pass at once with it.
  await p.consume(spanRequest([{ id: 4, parent: 1, name: 'chat gpt-4o', attrs: { 'gen_ai.request.model': 'gpt-4o' } }]));
  t.equal(spansOut(out).find((x) => x.id === 4)!.a['gen_ai.agent.name'], 'planner');
  t.equal(metricValue(await set.registry.prom.metrics(), 'fleetcol_processor_genai_context_released_total', 'reason="attributed"'), 2);
  await p.shutdown();
});

t.test('agent attribution: a parent that never comes releases the child at wait, without agent', async (t) => {
  const { p, out, set } = genaiProcessor({ agent_context: { wait: '300ms' } });
  await p.start(host);
  const t0 = Date.now();
  await p.consume(spanRequest([{ id: 2, parent: 77, name: 'chat gpt-4o', attrs: { 'gen_ai.request.model': 'gpt-4o' } }]));
  t.equal(spansOut(out).length, 0);
  while (spansOut(out).length === 0 && Date.now() - t0 < 3000) await sleep(20);
  const waited = Date.now() - t0;
  t.ok(waited >= 250 && waited < 2000, `released after ${waited} ms`);
  t.notOk('gen_ai.agent.name' in spansOut(out)[0]!.a);
  t.equal(metricValue(await set.registry.prom.metrics(), 'fleetcol_processor_genai_context_released_total', 'reason="wait"'), 1);
  // A root span and spans under a root without agent pass at once.
  await p.consume(spanRequest([{ trace: 2, id: 1, name: 'GET /' }]));
  await p.consume(spanRequest([{ trace: 2, id: 2, parent: 1, name: 'chat gpt-4o' }]));
  t.equal(spansOut(out).length, 3);
  await p.shutdown();
});

t.test('agent context bounds: max_traces and max_bytes send the oldest on, counted', async (t) => {
  const { p, out, set } = genaiProcessor({ agent_context: { wait: '10s', max_traces: 3, max_bytes: 100000 } });
  await p.start(host);
  for (let tr = 1; tr <= 5; tr++) await p.consume(spanRequest([{ trace: tr, id: 2, parent: 1, name: 'chat gpt-4o' }]));
  await sleep(50);
  t.equal(spansOut(out).length, 2, 'two traces pushed out by the third, fourth and fifth');
  t.equal(metricValue(await set.registry.prom.metrics(), 'fleetcol_processor_genai_context_released_total', 'reason="max_traces"'), 2);
  const { p: q, out: qout, set: qset } = genaiProcessor({ agent_context: { wait: '10s', max_traces: 1000, max_bytes: 2000 } });
  const big = 'x'.repeat(400);
  for (let i = 0; i < 10; i++) await q.consume(spanRequest([{ trace: 100 + i, id: 2, parent: 1, name: 'chat gpt-4o', attrs: { note: big } }]));
  await sleep(50);
  const m = await qset.registry.prom.metrics();
  t.ok(metricValue(m, 'fleetcol_processor_genai_context_released_total', 'reason="max_bytes"') >= 5, 'the oldest went on');
  t.ok(metricValue(m, 'fleetcol_processor_genai_context_held_bytes') <= 2000, 'held bytes within max_bytes');
  t.equal(spansOut(qout).length + metricValue(m, 'fleetcol_processor_genai_context_held_spans'), 10, 'nothing lost');
  await p.shutdown();
  await q.shutdown();
  t.equal(spansOut(out).length, 5, 'shutdown sends what was held');
});

t.test('wait: 0 holds nothing', async (t) => {
  const { p, out } = genaiProcessor({ agent_context: { wait: 0 } });
  await p.consume(spanRequest([{ id: 2, parent: 1, name: 'chat gpt-4o' }]));
  t.equal(spansOut(out).length, 1);
  await p.shutdown();
});

t.test('cost: cached prompts are not billed twice; raw Anthropic counts get the cache added', async (t) => {
  const { p, out } = genaiProcessor();
  await p.consume(spanRequest([
    // conventions: input 160k includes 100k written and 50k read
    { id: 1, name: 'chat', attrs: { 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'anthropic', 'gen_ai.request.model': 'claude-sonnet-4-20250514', 'gen_ai.usage.input_tokens': 160_000, 'gen_ai.usage.cache_write.input_tokens': 100_000, 'gen_ai.usage.cache_read.input_tokens': 50_000, 'gen_ai.usage.output_tokens': 2000 } },
    // Anthropic's own count (10k uncached) passed through: fewer input than cached tokens
    { id: 2, name: 'chat', attrs: { 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'anthropic', 'gen_ai.request.model': 'claude-sonnet-4-20250514', 'gen_ai.usage.input_tokens': 10_000, 'gen_ai.usage.cache_write.input_tokens': 100_000, 'gen_ai.usage.cache_read.input_tokens': 50_000, 'gen_ai.usage.output_tokens': 2000 } },
  ]));
  const s = spansOut(out);
  // $3 in, $3.75 cache write, $0.30 cache read, $15 out per million: 0.03 + 0.375 + 0.015 + 0.03
  t.equal(cents(s[0]!.a['gen_ai.usage.cost']), 45);
  t.equal(cents(s[1]!.a['gen_ai.usage.cost']), 45);
  t.equal(s[1]!.a['gen_ai.usage.input_tokens'], 160_000, 'the count is corrected to the conventions\' meaning');
  await p.shutdown();
});

t.test('cost: recompute, unknown models counted with bounded names, embeddings priced, tools not', async (t) => {
  const { p, out, set } = genaiProcessor({ recompute: true, max_unknown_models: 2, pricing: { models: [{ match: 'gpt-4o*', input_per_mtok: 1, output_per_mtok: 1 }] } });
  await p.consume(spanRequest([
    { id: 1, name: 'chat', attrs: { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'gpt-4o', 'gen_ai.usage.input_tokens': 1_000_000, 'gen_ai.usage.cost': { double: 99 } } },
    ...['m1', 'm2', 'm3', 'm4'].map((m, i) => ({ id: 10 + i, name: 'chat', attrs: { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': `nobody-prices-${m}`, 'gen_ai.usage.input_tokens': 5 } })),
    { id: 20, name: 'execute_tool x', attrs: { 'gen_ai.request.model': 'gpt-4o', 'gen_ai.usage.input_tokens': 5 } },
  ]));
  const byId = new Map(spansOut(out).map((x) => [x.id, x.a]));
  t.equal(byId.get(1)!['gen_ai.usage.cost'], 1, 'config price, recomputed over the sent cost');
  t.notOk('gen_ai.usage.cost' in byId.get(10)!);
  t.notOk('gen_ai.usage.cost' in byId.get(20)!, 'a tool call has no model price');
  const m = await set.registry.prom.metrics();
  t.equal(metricValue(m, 'fleetcol_processor_genai_unknown_model_total', 'model="nobody-prices-m1"'), 1);
  t.equal(metricValue(m, 'fleetcol_processor_genai_unknown_model_total', 'model="_other"'), 2, 'names past max_unknown_models');
  await p.shutdown();
});

t.test('pricing arithmetic equals @pydantic/genai-prices\' calcPrice', async (t) => {
  const cases: Array<[string, string | undefined, Usage]> = [
    ['gpt-4o', 'openai', { input: 1_000_000, output: 500_000, cacheRead: 200_000, cacheWrite: 0, reasoning: 0 }],
    ['gpt-4o-mini-2024-07-18', undefined, { input: 1200, output: 300, cacheRead: 200, cacheWrite: 0, reasoning: 0 }],
    ['claude-sonnet-4-20250514', 'anthropic', { input: 160_000, output: 2000, cacheRead: 50_000, cacheWrite: 100_000, reasoning: 0 }],
    ['claude-sonnet-4-5', 'anthropic', { input: 250_000, output: 1500, cacheRead: 150_000, cacheWrite: 0, reasoning: 0 }],
    ['gemini-2.5-pro', 'google', { input: 300_000, output: 1000, cacheRead: 0, cacheWrite: 0, reasoning: 0 }],
    ['o3', 'openai', { input: 1000, output: 1000, cacheRead: 400, cacheWrite: 0, reasoning: 800 }],
    ['deepseek-chat', 'deepseek', { input: 10_000, output: 1000, cacheRead: 0, cacheWrite: 0, reasoning: 0 }],
  ];
  const now = Date.now();
  for (const [model, providerId, u] of cases) {
    const ref = calcPrice({ input_tokens: u.input, output_tokens: u.output, cache_read_tokens: u.cacheRead, cache_write_tokens: u.cacheWrite, output_reasoning_tokens: u.reasoning }, model, providerId ? { providerId, timestamp: new Date(now) } : { timestamp: new Date(now) });
    t.ok(ref, `${model} is in the table`);
    t.ok(Math.abs(modelPriceCost(ref!.model_price, u) - ref!.total_price) < 1e-12, `${model}: ${modelPriceCost(ref!.model_price, u)} vs ${ref!.total_price}`);
  }
  const pr = new Pricing([], true);
  t.equal(pr.price(undefined, 'x'.repeat(300), { input: 1, output: 1, cacheRead: 0, cacheWrite: 0, reasoning: 0 }, now), undefined, 'an overlong model name is not looked up');
});

t.test('content: drop, truncate and hash in every dialect; keep by default', async (t) => {
  const text = 'é'.repeat(3000); // 6000 bytes
  const span = { id: 1, name: 'chat', attrs: { 'gen_ai.input.messages': text, 'input.value': text, 'ai.prompt': text, 'llm.input_messages.0.message.content': text, 'llm.input_messages.0.message.role': 'user', 'gen_ai.request.model': 'gpt-4o', 'traceloop.entity.output': 'short' } };
  const run = async (content: string) => {
    const { p, out } = genaiProcessor({ content, content_max_bytes: 1000 });
    await p.consume(spanRequest([span]));
    await p.shutdown();
    return spansOut(out)[0]!.a;
  };
  const kept = await run('keep');
  t.equal(kept['input.value'], text);
  const dropped = await run('drop');
  for (const k of ['gen_ai.input.messages', 'input.value', 'ai.prompt', 'llm.input_messages.0.message.content', 'gen_ai.output.messages', 'traceloop.entity.output']) t.notOk(k in dropped, `${k} dropped`);
  t.equal(dropped['gen_ai.request.model'], 'gpt-4o');
  const cut = await run('truncate');
  for (const k of ['gen_ai.input.messages', 'input.value', 'ai.prompt']) {
    t.ok(Buffer.byteLength(cut[k] as string) <= 1000, `${k} within the limit`);
    t.ok((cut[k] as string).endsWith('…'));
  }
  t.equal(cut['traceloop.entity.output'], 'short', 'short content stays');
  const hashed = await run('hash');
  t.match(hashed['input.value'], /^sha256:[0-9a-f]{64}$/);
  t.equal(hashed['input.value'], hashed['ai.prompt'], 'the same text hashes the same');
});

t.test('logs: normalised, priced, and given the agent of the span they were written in', async (t) => {
  const { p: tp } = genaiProcessor({}, 'traces', 'genai/shared');
  const { p: lp, out } = genaiProcessor({}, 'logs', 'genai/shared');
  await tp.consume(spanRequest([{ id: 1, name: 'invoke_agent a', attrs: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': 'writer' } }]));
  await lp.consume(logRequest([
    { trace: 1, span: 1, event: 'gen_ai.client.inference.operation.details', attrs: { 'gen_ai.system': 'openai', 'gen_ai.request.model': 'gpt-4o', 'gen_ai.usage.input_tokens': 1_000_000, 'gen_ai.usage.output_tokens': 0 } },
    { attrs: { 'a2a.task.state': 'TASK_STATE_WORKING' } },
  ]));
  const [r0, r1] = logsOut(out);
  t.match(r0, { 'gen_ai.provider.name': 'openai', 'gen_ai.agent.name': 'writer', 'gen_ai.usage.cost': 2.5 });
  t.same(r1, { 'a2a.task.state': 'TASK_STATE_WORKING' }, 'other records pass unchanged');
  await tp.shutdown();
  await lp.shutdown();
});

t.test('config: a malformed or missing price file is an error with its place; exit 2', async (t) => {
  const bad = tempFile('prices.yaml', 'models:\n  - match: gpt-x\n    input_per_mtok: 1\n    output_per_mtok: [oops\n');
  const badRow = tempFile('prices2.yaml', 'models:\n  - match: gpt-x\n    input_per_mtok: 1\n');
  const cfg = (file: string) => tempFile('c.yaml', [
    'receivers: { otlp: { protocols: { http: { endpoint: "127.0.0.1:4318" } } } }',
    'processors:',
    '  genai:',
    `    pricing: { file: ${JSON.stringify(file)} }`,
    'exporters: { debug: {} }',
    'service: { pipelines: { traces: { receivers: [otlp], processors: [genai], exporters: [debug] } } }',
  ].join('\n'));
  const r1 = await runCli(['validate', '--config', cfg(bad)]);
  t.equal(r1.code, 2);
  t.match(r1.stderr + r1.stdout, new RegExp(`${bad.replace(/[.]/g, '\\.')}:\\d+:\\d+ processors\\.genai\\.pricing\\.file: price file is not valid YAML`));
  const r2 = await runCli(['validate', '--config', cfg(badRow)]);
  t.equal(r2.code, 2);
  t.match(r2.stderr + r2.stdout, /output_per_mtok/);
  t.match(r2.stderr + r2.stdout, new RegExp(`${badRow.replace(/[.]/g, '\\.')}:2:\\d+`));
  const r3 = await runCli(['validate', '--config', cfg('/nonexistent/prices.yaml')]);
  t.equal(r3.code, 2);
  t.match(r3.stderr + r3.stdout, /cannot read price file/);
  const dup = tempFile('c2.yaml', 'receivers: { otlp: { protocols: { http: { endpoint: "127.0.0.1:4318" } } } }\nprocessors:\n  genai:\n    sources: [ { name: openinference }, { name: openinference }, { name: mine } ]\nexporters: { debug: {} }\nservice: { pipelines: { traces: { receivers: [otlp], processors: [genai], exporters: [debug] } } }\n');
  const r4 = await runCli(['validate', '--config', dup]);
  t.equal(r4.code, 2);
  t.match(r4.stderr + r4.stdout, /listed twice/);
  t.match(r4.stderr + r4.stdout, /"mine" is no built-in source/);
});

t.test('the sse feed shows model, tokens and cost of an OpenInference span, and its cost alert fires', async (t) => {
  const { Fleet } = await import('../src/fleet/model.js');
  const events: Array<{ type: string; data: Record<string, unknown> }> = [];
  const fleet = new Fleet({ offlineAfterMs: 60_000, maxAgents: 100, alerts: [{ name: 'spend', when: 'cost', above: 5, window: 60_000 }] }, (e) => void events.push(e as never));
  const { p, out } = genaiProcessor();
  await p.consume(spanRequest([
    { id: 2, parent: 1, name: 'ChatCompletion', attrs: { 'openinference.span.kind': 'LLM', 'llm.model_name': 'gpt-4o', 'llm.provider': 'openai', 'llm.token_count.prompt': 1_000_000, 'llm.token_count.completion': 500_000, 'llm.token_count.prompt_details.cache_read': 200_000 } },
    { id: 1, name: 'researcher', attrs: { 'openinference.span.kind': 'AGENT', 'agent.name': 'researcher' } },
  ], { 'service.name': 'svc' }));
  for (const b of out) fleet.traces(Telemetry.fromProto('traces', b.toProto()).request() as ExportTraceServiceRequest);
  fleet.tick();
  const span = events.find((e) => e.type === 'span' && e.data['name'] === 'ChatCompletion')!;
  t.match(span.data, { agent: 'researcher', operation: 'chat', model: 'gpt-4o', input_tokens: 1_000_000, output_tokens: 500_000, cost: 7.25 });
  t.ok(events.some((e) => e.type === 'alert' && e.data['name'] === 'spend'), 'cost alert');
  await p.shutdown();
});

t.test('validate warns that genai holds spans in front of a persistent queue', async (t) => {
  const file = tempFile('held-genai.yaml', `receivers: { otlp: { protocols: { grpc: {} } } }
processors: { genai: {} }
extensions: { file_storage: { directory: /tmp/fleetcol-held-genai } }
exporters:
  otlp: { endpoint: 127.0.0.1:4317, sending_queue: { storage: file_storage, batch: {} } }
service:
  extensions: [file_storage]
  pipelines:
    traces: { receivers: [otlp], processors: [genai], exporters: [otlp] }
`);
  const r = loadConfig({ files: [file], registry });
  t.same(r.errors, []);
  const held = r.warnings.filter((w) => w.code === 'FLEETCOL_CONFIG_HELD_BEFORE_PERSISTENT_QUEUE');
  t.equal(held.length, 1);
  t.match(held[0]!.message, /processor "genai" .* a crash loses the spans held for their agent/);
});

t.test('chat messages in the Vercel AI SDK\'s and Langfuse\'s shapes become the conventions\' {role, parts}', async (t) => {
  const { p, out } = genaiProcessor();
  const vercel = JSON.stringify([
    { role: 'system', content: 'be brief' },
    { role: 'user', content: [{ type: 'text', text: 'add 1 and 2' }] },
    { role: 'assistant', content: [{ type: 'tool-call', toolCallId: 'c1', toolName: 'add', input: { a: 1, b: 2 } }] },
    { role: 'tool', content: [{ type: 'tool-result', toolCallId: 'c1', toolName: 'add', output: { type: 'json', value: 3 } }] },
  ]);
  await p.consume(spanRequest([
    { id: 1, name: 'ai.generateText.doGenerate', attrs: { 'ai.model.id': 'gpt-4o', 'ai.prompt.messages': vercel } },
    { id: 2, name: 'gen', attrs: { 'langfuse.observation.type': 'generation', 'langfuse.observation.input': '[{"role":"user","content":"hi"}]', 'langfuse.observation.output': '{"role":"assistant","content":"Hello"}' } },
    { id: 3, name: 'gen', attrs: { 'langfuse.observation.type': 'generation', 'langfuse.observation.input': 'just a string' } },
  ]));
  const byId = new Map(spansOut(out).map((x) => [x.id, x.a]));
  t.same(JSON.parse(byId.get(1)![ 'gen_ai.input.messages'] as string), [
    { role: 'system', parts: [{ type: 'text', content: 'be brief' }] },
    { role: 'user', parts: [{ type: 'text', content: 'add 1 and 2' }] },
    { role: 'assistant', parts: [{ type: 'tool_call', id: 'c1', name: 'add', arguments: { a: 1, b: 2 } }] },
    { role: 'tool', parts: [{ type: 'tool_call_response', id: 'c1', response: '{"type":"json","value":3}' }] },
  ]);
  t.same(JSON.parse(byId.get(2)!['gen_ai.input.messages'] as string), [{ role: 'user', parts: [{ type: 'text', content: 'hi' }] }]);
  t.same(JSON.parse(byId.get(2)!['gen_ai.output.messages'] as string), [{ role: 'assistant', parts: [{ type: 'text', content: 'Hello' }] }], 'one message object is a list of one');
  t.equal(byId.get(3)!['gen_ai.input.messages'], 'just a string', 'what is no message list is carried as it is');
  await p.shutdown();
});
