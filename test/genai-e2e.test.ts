// The genai processor end to end, with REAL instrumentation producing the spans: the official
// OpenTelemetry JS SDK in this process (NodeSDK, one TracerProvider, a BatchSpanProcessor exporting
// OTLP/gRPC) sends what the instrumentations record to a fleetcol daemon (otlp receiver -> genai
// -> otlp exporter), and the test reads what comes out at a loopback OTLP/gRPC sink (helper.ts).
// The model calls go to a loopback OpenAI-compatible server in this file (node:http on 127.0.0.1,
// port 0) that answers POST /v1/chat/completions with fixed usage, so every token count and every
// cost is known here.
//
// Drivers, all devDependencies pinned to versions that run on Node 20 with the project's OTel line
// (api 1.10, sdk-trace 3.1, sdk-node 0.301):
//   openai 6.30.1                                 (openai 7 needs Node 22, Traceloop patches <7)
//   @arizeai/openinference-instrumentation-openai 4.2.7  (+ @arizeai/openinference-semantic-conventions 2.12.0)
//   @traceloop/instrumentation-openai 0.27.0      (current GenAI conventions)
//   traceloop-openai-022 = npm:@traceloop/instrumentation-openai@0.22.0  (gen_ai.system="OpenAI",
//                                                  prompt_tokens/completion_tokens, flattened gen_ai.prompt.N.*)
//   ai 6.0.333 with @ai-sdk/openai 3.0.141       (ai 7 / @ai-sdk/otel need Node 22)
//   @langfuse/tracing 5.11.1
// The instrumentations bring their own nested @opentelemetry/api 1.9.1, core 2.x and
// instrumentation 0.46/0.203 (npm nests them); they are given the SDK's TracerProvider explicitly,
// and API 1.9 reads the 1.10 global context manager, so their spans join the SDK's traces.
// (The OTel 3.x SDK packages themselves declare node >=22.15; npm warns EBADENGINE, as it does for
// the rest of the project, and they run on Node 20.) Every source this file covers is driven by
// its real package; none had to be replaced by spans built by hand.
//
// What the real packages record, and this file therefore expects:
// - OpenInference 4.2.7 writes the model the *response* names into llm.model_name, so
//   gen_ai.request.model is gpt-4o-mini-2024-07-18 although gpt-4o-mini was requested; with a
//   loopback baseURL it sets llm.system=openai but no llm.provider.
// - Traceloop 0.27 reports no cached tokens, so its call is priced as 1200 uncached input tokens.
// - ai@6 puts per-call usage on each doGenerate span and the sum of both calls under ai.usage.* on
//   the outer ai.generateText span; ai.toolCall is a child of the outer span, which ends last.
//
// OpenInference and both Traceloop versions patch the same method (OpenAI.Chat.Completions
// .prototype.create), so each case installs its instrumentation, runs, and restores the method;
// patches never stack.
//
// Costs: the expected number is computed here from the per-million prices @pydantic/genai-prices
// (the package fleetcol prices from) publishes for the model, checked against that package's own
// calcPrice total, and compared with fleetcol's gen_ai.usage.cost to the cent and, much tighter, to
// 1e-12 USD. One case is priced by a `pricing.models` row in the daemon's config, so its expected
// number is fixed in this file.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import t, { type Test } from 'tap';
import { DiagLogLevel, ROOT_CONTEXT, SpanKind, TraceFlags, context, diag, trace, type TracerProvider } from '@opentelemetry/api';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { AlwaysOnSampler, BatchSpanProcessor, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { calcPrice } from '@pydantic/genai-prices';
import OpenAI from 'openai';
import { OpenAIInstrumentation as OpenInferenceInstrumentation } from '@arizeai/openinference-instrumentation-openai';
import { SemanticConventions as OI } from '@arizeai/openinference-semantic-conventions';
import { OpenAIInstrumentation as TraceloopInstrumentation } from '@traceloop/instrumentation-openai';
import { OpenAIInstrumentation as Traceloop022Instrumentation } from 'traceloop-openai-022';
import { generateText, jsonSchema, stepCountIs, tool } from 'ai';
import { createOpenAI } from '@ai-sdk/openai';
import { setLangfuseTracerProvider, startObservation } from '@langfuse/tracing';
import type { AnyValue, ExportTraceServiceRequest } from '../src/pdata/telemetry.js';
import { freePort, metricValue, sleep, startDaemon, startSink, waitFor, type Daemon, type Sink } from './helper.js';

// ---------------------------------------------------------------------------------------------
// The loopback OpenAI-compatible server.

/** The model the server says answered: the dated snapshot for gpt-4o-mini, else the name sent. */
const RESPONSE_MODEL: Readonly<Record<string, string>> = { 'gpt-4o-mini': 'gpt-4o-mini-2024-07-18' };
/** Usage of an ordinary call: 1200 input tokens of which 200 cached, 300 output. */
const USAGE = { input: 1200, cacheRead: 200, output: 300 };
/** Usage of the call that follows a tool result (the Vercel AI SDK tool loop's second step). */
const USAGE_AFTER_TOOL = { input: 1600, cacheRead: 400, output: 100 };
const TOOL_CALL_ID = 'call_e2e_weather_1';

interface FakeOpenAI {
  url: string;
  /** request bodies of POST /v1/chat/completions, in order */
  calls: Array<Record<string, any>>;
  /** anything else asked of it */
  other: string[];
  close(): Promise<void>;
}

const openaiUsage = (u: { input: number; cacheRead: number; output: number }) => ({
  prompt_tokens: u.input,
  completion_tokens: u.output,
  total_tokens: u.input + u.output,
  prompt_tokens_details: { cached_tokens: u.cacheRead, audio_tokens: 0 },
  completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0 },
});

async function startFakeOpenAI(): Promise<FakeOpenAI> {
  const calls: Array<Record<string, any>> = [];
  const other: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
        other.push(`${req.method} ${req.url}`);
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"message":"not here"}}');
        return;
      }
      let body: Record<string, any>;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":{"message":"bad json"}}');
        return;
      }
      calls.push(body);
      const messages: Array<{ role: string }> = body.messages ?? [];
      const afterTool = messages.some((m) => m.role === 'tool');
      // With tools offered and no tool result yet: call the tool. Otherwise: answer in text.
      const callTool = Array.isArray(body.tools) && body.tools.length > 0 && !afterTool;
      const message = callTool
        ? { role: 'assistant', content: null, tool_calls: [{ id: TOOL_CALL_ID, type: 'function', function: { name: 'lookup_weather', arguments: '{"city":"Paris"}' } }] }
        : { role: 'assistant', content: afterTool ? 'It is 21 °C in Paris.' : 'OTLP is the OpenTelemetry protocol.' };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({
        id: `chatcmpl-e2e-${calls.length}`,
        object: 'chat.completion',
        created: 1_700_000_000,
        model: RESPONSE_MODEL[body.model] ?? body.model,
        system_fingerprint: 'fp_e2e',
        choices: [{ index: 0, message, logprobs: null, finish_reason: callTool ? 'tool_calls' : 'stop' }],
        usage: openaiUsage(afterTool ? USAGE_AFTER_TOOL : USAGE),
      }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    calls,
    other,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

// ---------------------------------------------------------------------------------------------
// Prices.

interface Expected {
  cost: number;
  /** what the cost was computed from, for messages */
  how: string;
}

/** The cost of one call from the per-million prices @pydantic/genai-prices publishes for `model`
 *  (uncached input, cache reads, output), cross-checked with that package's own total. */
function publishedCost(t: Test, model: string, u: { input: number; cacheRead: number; output: number }): Expected {
  const r = calcPrice({ input_tokens: u.input, cache_read_tokens: u.cacheRead, output_tokens: u.output }, model, { providerId: 'openai' });
  if (r === null) throw new Error(`@pydantic/genai-prices has no price for ${model}`);
  const p = r.model_price as Record<string, number | undefined>;
  const input = p['input_mtok'];
  const output = p['output_mtok'];
  if (typeof input !== 'number' || typeof output !== 'number') throw new Error(`${model}: no flat input/output price (${JSON.stringify(p)})`);
  const cacheRead = typeof p['cache_read_mtok'] === 'number' ? p['cache_read_mtok'] : input;
  const cost = ((u.input - u.cacheRead) * input + u.cacheRead * cacheRead + u.output * output) / 1e6;
  t.ok(cost > 0, `${model} has a price`);
  t.ok(Math.abs(cost - r.total_price) < 1e-12, `per-million arithmetic ${cost} = calcPrice total ${r.total_price}`);
  return { cost, how: `${model}: ${u.input - u.cacheRead}×$${input} + ${u.cacheRead}×$${cacheRead} + ${u.output}×$${output} per Mtok = $${cost}` };
}

function assertCost(t: Test, got: unknown, want: Expected, what: string): void {
  if (typeof got !== 'number') {
    t.fail(`${what}: gen_ai.usage.cost is a number (got ${JSON.stringify(got)}); want ${want.how}`);
    return;
  }
  t.equal(Math.round(got * 100), Math.round(want.cost * 100), `${what}: cost to the cent (${want.how})`);
  t.ok(Math.abs(got - want.cost) < 1e-12, `${what}: cost ${got} = ${want.cost} (to 1e-12 USD)`);
}

// ---------------------------------------------------------------------------------------------
// What arrives at the sink.

interface Got {
  name: string;
  scope: string;
  /** the resource's service.name */
  service: unknown;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  /** attribute values: ints and doubles as numbers, arrays as arrays */
  a: Record<string, unknown>;
  /** attribute value kinds: int, double, string, bool, array, ... */
  kind: Record<string, string>;
  /** keys that occur more than once */
  dups: string[];
  /** index of the sink request it came in */
  request: number;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function plain(v: AnyValue | undefined): [unknown, string] {
  if (v === undefined) return [undefined, 'none'];
  if (v.stringValue !== undefined) return [v.stringValue, 'string'];
  if (v.intValue !== undefined) return [Number(v.intValue), 'int'];
  if (v.doubleValue !== undefined) return [v.doubleValue, 'double'];
  if (v.boolValue !== undefined) return [v.boolValue, 'bool'];
  if (v.arrayValue) return [(v.arrayValue.values ?? []).map((x) => plain(x)[0]), 'array'];
  if (v.kvlistValue) return [Object.fromEntries((v.kvlistValue.values ?? []).map((kv) => [kv.key, plain(kv.value)[0]])), 'kvlist'];
  return [null, 'other'];
}

function spansAt(sink: Sink): Got[] {
  const out: Got[] = [];
  sink.received.traces.forEach((tel, request) => {
    const req = tel.request() as ExportTraceServiceRequest;
    for (const rs of req.resourceSpans ?? []) for (const ss of rs.scopeSpans ?? []) for (const s of ss.spans ?? []) {
      const service = plain(rs.resource?.attributes?.find((kv) => kv.key === 'service.name')?.value)[0];
      const a: Record<string, unknown> = {};
      const kind: Record<string, string> = {};
      const dups: string[] = [];
      for (const kv of s.attributes ?? []) {
        if (kv.key in a) dups.push(kv.key);
        [a[kv.key], kind[kv.key]] = plain(kv.value);
      }
      out.push({ name: s.name, scope: ss.scope?.name ?? '', service, traceId: hex(s.traceId), spanId: hex(s.spanId), parentSpanId: hex(s.parentSpanId), a, kind, dups, request });
    }
  });
  return out;
}

const messages = (v: unknown) => (typeof v === 'string' ? JSON.parse(v) : v);

function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms}ms: ${what}`)), ms))),
  ]);
}

// ---------------------------------------------------------------------------------------------
// Installing an instrumentation on the openai class for one case, and taking it off again.

type Proto = Record<string, unknown>;
/** Every method the three OpenAI instrumentations wrap. */
const PATCHED: ReadonlyArray<[Proto, string]> = [
  [OpenAI.Chat.Completions.prototype as unknown as Proto, 'create'],
  [OpenAI.Completions.prototype as unknown as Proto, 'create'],
  [OpenAI.Embeddings.prototype as unknown as Proto, 'create'],
  [OpenAI.Responses.prototype as unknown as Proto, 'create'],
  [OpenAI.Images.prototype as unknown as Proto, 'generate'],
  [OpenAI.Images.prototype as unknown as Proto, 'edit'],
  [OpenAI.Images.prototype as unknown as Proto, 'createVariation'],
];
const ORIGINAL_CREATE = OpenAI.Chat.Completions.prototype.create;

/** Runs `body` with an instrumentation installed by `install`; afterwards every patched method is
 *  the original again (`uninstall` first, for instrumentations that keep their own flags). */
async function instrumented<T>(t: Test, install: () => void, uninstall: () => void, body: () => Promise<T>): Promise<T> {
  const saved = PATCHED.map(([o, k]) => [o, k, Object.getOwnPropertyDescriptor(o, k)] as const);
  install();
  t.not(OpenAI.Chat.Completions.prototype.create, ORIGINAL_CREATE, 'chat.completions.create is instrumented');
  try {
    return await body();
  } finally {
    uninstall();
    for (const [o, k, d] of saved) {
      if (d) Object.defineProperty(o, k, d);
      else delete o[k];
    }
    t.equal(OpenAI.Chat.Completions.prototype.create, ORIGINAL_CREATE, 'chat.completions.create is the original again');
  }
}

// ---------------------------------------------------------------------------------------------

t.test('real GenAI instrumentation -> fleetcol genai processor -> sink', { timeout: 110_000 }, async (t) => {
  const diagErrors: string[] = [];
  diag.setLogger({
    error: (msg: string, ...args: unknown[]) => diagErrors.push(`${msg} ${args.map((a) => (a instanceof Error ? a.message : String(a))).join(' ')}`),
    warn: () => {}, info: () => {}, debug: () => {}, verbose: () => {},
  }, DiagLogLevel.ERROR);
  t.teardown(() => diag.disable());

  const fake = await startFakeOpenAI();
  t.teardown(() => fake.close());
  const sink = await startSink();
  t.teardown(() => sink.close());
  const grpcPort = await freePort();
  const daemon: Daemon = await startDaemon(`
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:${grpcPort}
processors:
  genai:
    agent_context:
      wait: 2s
    pricing:
      models:
        - match: fleet-house-*
          provider: openai
          input_per_mtok: 10
          output_per_mtok: 30
          cache_read_per_mtok: 2.5
exporters:
  otlp:
    endpoint: ${sink.endpoint}
    tls:
      insecure: true
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [genai]
      exporters: [otlp]
`);
  t.teardown(async () => {
    await daemon.stop();
  });
  const explain = (what: string) => `${what}\n--- fleetcol output (tail) ---\n${daemon.output().slice(-4000)}\n--- SDK errors ---\n${diagErrors.join('\n')}`;

  // --- the SDK: every span to fleetcol (batched; flushed by each case) and to memory ------------
  const otlp = new OTLPTraceExporter({ url: `http://127.0.0.1:${grpcPort}`, timeoutMillis: 10_000 });
  const batch = new BatchSpanProcessor({ exporter: otlp, maxQueueSize: 4096, maxExportBatchSize: 512, scheduledDelayMillis: 60_000 });
  const memory = new InMemorySpanExporter();
  const sdk = new NodeSDK({
    autoDetectResources: false,
    resource: resourceFromAttributes({ 'service.name': 'genai-e2e' }),
    instrumentations: [],
    textMapPropagator: null,
    sampler: new AlwaysOnSampler(),
    spanProcessors: [batch, new SimpleSpanProcessor({ exporter: memory })],
    // no metrics, no logs (NodeSDK would otherwise set up OTLP exporters from the environment)
    metricReaders: [],
    logRecordProcessors: [],
  });
  sdk.start();
  let sdkDown = false;
  t.teardown(async () => {
    if (!sdkDown) await sdk.shutdown().catch(() => {});
  });
  const provider: TracerProvider = trace.getTracerProvider();
  const client = new OpenAI({ apiKey: 'sk-e2e-not-a-key', baseURL: fake.url, maxRetries: 0, timeout: 10_000 });

  /** Spans the SDK finished while `fn` ran. */
  const recorded = async (fn: () => Promise<unknown>): Promise<ReadableSpan[]> => {
    const before = memory.getFinishedSpans().length;
    await fn();
    return memory.getFinishedSpans().slice(before);
  };
  const flush = () => bounded(batch.forceFlush(), 15_000, 'span export to fleetcol');
  /** The sink's copy of each given span, once all have arrived. */
  const arrived = async (spans: readonly ReadableSpan[], ms = 10_000): Promise<Got[]> => {
    const ids = spans.map((s) => s.spanContext().spanId);
    try {
      return await waitFor(() => {
        const got = spansAt(sink);
        const found = ids.map((id) => got.find((g) => g.spanId === id));
        return found.every((g) => g !== undefined) ? (found as Got[]) : undefined;
      }, ms, `${ids.length} span(s) at the sink`);
    } catch (err) {
      throw new Error(explain((err as Error).message));
    }
  };
  const metrics = () => daemon.metrics();
  const released = async (reason: string) => metricValue(await metrics(), 'fleetcol_processor_genai_context_released_total', `reason="${reason}"`);
  const noDuplicates = (t: Test, g: Got) => t.strictSame(g.dups, [], `${g.name}: no attribute twice`);
  const expectedCosts: number[] = [];

  const chat = (model: string, question = 'What is OTLP?') =>
    client.chat.completions.create({ model, temperature: 0.2, messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: question }] });
  const chatMessagesIn = (question = 'What is OTLP?') => [
    { role: 'system', parts: [{ type: 'text', content: 'be brief' }] },
    { role: 'user', parts: [{ type: 'text', content: question }] },
  ];

  // --- a. OpenInference ---------------------------------------------------------------------
  await t.test('a. OpenInference (openai client): operation, provider, model, tokens, messages, cost', { timeout: 30_000 }, async (t) => {
    const oi = new OpenInferenceInstrumentation();
    const spans = await instrumented(t, () => {
      oi.setTracerProvider(provider);
      oi.manuallyInstrument(OpenAI as unknown as Parameters<typeof oi.manuallyInstrument>[0]);
    }, () => oi.disable(), () => recorded(async () => {
      await chat('gpt-4o-mini');
      await chat('fleet-house-7b', 'And OTLP/gRPC?');
    }));
    t.equal(spans.length, 2, 'OpenInference recorded one span per call');
    await flush();
    const [a1, a2] = await arrived(spans);
    const s = a1!;
    t.equal(s.scope, '@arizeai/openinference-instrumentation-openai', 'span from OpenInference');
    t.equal(s.a[OI.LLM_SYSTEM], 'openai', `as sent: ${OI.LLM_SYSTEM}=openai`);
    t.notOk(OI.LLM_PROVIDER in s.a, `as sent: no ${OI.LLM_PROVIDER} (loopback host)`);
    t.equal(s.a[OI.LLM_TOKEN_COUNT_PROMPT], 1200, `as sent: ${OI.LLM_TOKEN_COUNT_PROMPT}=1200 (kept)`);
    t.equal(s.a['gen_ai.operation.name'], 'chat', 'gen_ai.operation.name=chat (openinference.span.kind=LLM)');
    t.equal(s.a['gen_ai.provider.name'], 'openai', 'gen_ai.provider.name=openai (from llm.system)');
    // OpenInference writes the model the response names into llm.model_name.
    t.equal(s.a['gen_ai.request.model'], s.a[OI.LLM_MODEL_NAME], 'gen_ai.request.model from llm.model_name');
    t.equal(s.a['gen_ai.request.model'], 'gpt-4o-mini-2024-07-18', 'the model that answered');
    t.equal(s.a['gen_ai.usage.input_tokens'], 1200, 'input tokens (cached included)');
    t.equal(s.kind['gen_ai.usage.input_tokens'], 'int', 'input tokens as an int');
    t.equal(s.a['gen_ai.usage.output_tokens'], 300, 'output tokens');
    t.equal(s.a['gen_ai.usage.cache_read.input_tokens'], 200, 'cache read tokens');
    t.equal(s.a['gen_ai.usage.total_tokens'], 1500, 'total tokens');
    t.strictSame(messages(s.a['gen_ai.input.messages']), chatMessagesIn(), 'gen_ai.input.messages rebuilt from llm.input_messages.N.*');
    t.strictSame(messages(s.a['gen_ai.output.messages']), [{ role: 'assistant', parts: [{ type: 'text', content: 'OTLP is the OpenTelemetry protocol.' }] }], 'gen_ai.output.messages rebuilt from llm.output_messages.N.*');
    t.notOk('gen_ai.agent.name' in s.a || 'gen_ai.agent.id' in s.a, 'no agent (a root span)');
    const want = publishedCost(t, 'gpt-4o-mini-2024-07-18', USAGE);
    assertCost(t, s.a['gen_ai.usage.cost'], want, 'gpt-4o-mini via OpenInference');
    t.equal(s.kind['gen_ai.usage.cost'], 'double', 'cost as a double');
    expectedCosts.push(want.cost);
    noDuplicates(t, s);

    // The same instrumentation, a model priced by the config row (fleet-house-*: $10 input,
    // $2.50 cache read, $30 output per million): (1000×10 + 200×2.5 + 300×30) / 1e6 = $0.0195.
    const h = a2!;
    t.equal(h.a['gen_ai.request.model'], 'fleet-house-7b', 'config-priced model');
    t.equal(h.a['gen_ai.usage.input_tokens'], 1200, 'input tokens');
    t.equal(h.a['gen_ai.usage.cache_read.input_tokens'], 200, 'cache read tokens');
    assertCost(t, h.a['gen_ai.usage.cost'], { cost: 0.0195, how: 'config row: (1000×10 + 200×2.5 + 300×30) / 1e6' }, 'fleet-house-7b via pricing.models');
    t.equal(Math.round((h.a['gen_ai.usage.cost'] as number) * 100), 2, 'that is 2 cents');
    expectedCosts.push(0.0195);
    noDuplicates(t, h);
  });

  // --- b. Traceloop 0.27 and 0.22 -------------------------------------------------------------
  await t.test('b. Traceloop 0.27 (current conventions): cost added, nothing counted twice', { timeout: 30_000 }, async (t) => {
    const tl = new TraceloopInstrumentation();
    const spans = await instrumented(t, () => {
      tl.setTracerProvider(provider);
      tl.manuallyInstrument(OpenAI);
    }, () => tl.disable(), () => recorded(() => chat('gpt-4o-mini')));
    t.equal(spans.length, 1, 'Traceloop recorded one span');
    await flush();
    const [s] = (await arrived(spans)) as [Got];
    t.equal(s.scope, '@traceloop/instrumentation-openai', 'span from Traceloop');
    t.equal(s.name, 'chat gpt-4o-mini', 'span name in the conventions\' form');
    t.equal(s.a['gen_ai.operation.name'], 'chat', 'operation');
    t.equal(s.a['gen_ai.provider.name'], 'openai', 'provider');
    t.equal(s.a['gen_ai.request.model'], 'gpt-4o-mini', 'request model');
    t.equal(s.a['gen_ai.response.model'], 'gpt-4o-mini-2024-07-18', 'response model');
    t.equal(s.a['gen_ai.usage.input_tokens'], 1200, 'input tokens once, as sent (not 2400)');
    t.equal(s.a['gen_ai.usage.output_tokens'], 300, 'output tokens');
    t.equal(s.a['gen_ai.usage.total_tokens'], 1500, 'total as sent');
    // Traceloop 0.27 does not report cached tokens: the call is priced as 1200 uncached.
    t.notOk('gen_ai.usage.cache_read.input_tokens' in s.a, 'no cache read count (Traceloop reports none)');
    t.strictSame(messages(s.a['gen_ai.input.messages']), chatMessagesIn(), 'gen_ai.input.messages as Traceloop wrote them');
    const want = publishedCost(t, 'gpt-4o-mini-2024-07-18', { input: 1200, cacheRead: 0, output: 300 });
    assertCost(t, s.a['gen_ai.usage.cost'], want, 'Traceloop 0.27');
    expectedCosts.push(want.cost);
    noDuplicates(t, s);
  });

  await t.test('b. Traceloop 0.22 (gen_ai.system, prompt_tokens, flattened gen_ai.prompt.N): onto current names', { timeout: 30_000 }, async (t) => {
    const tl = new Traceloop022Instrumentation();
    const spans = await instrumented(t, () => {
      tl.setTracerProvider(provider);
      tl.manuallyInstrument(OpenAI);
    }, () => tl.disable(), () => recorded(() => chat('gpt-4o-mini')));
    t.equal(spans.length, 1, 'Traceloop 0.22 recorded one span');
    await flush();
    const [s] = (await arrived(spans)) as [Got];
    t.equal(s.name, 'openai.chat', '0.22 span name');
    t.equal(s.a['gen_ai.system'], 'OpenAI', 'as sent: gen_ai.system=OpenAI');
    t.equal(s.a['gen_ai.usage.prompt_tokens'], 1200, 'as sent: gen_ai.usage.prompt_tokens');
    t.equal(s.a['gen_ai.prompt.1.content'], 'What is OTLP?', 'as sent: flattened gen_ai.prompt.N.*');
    t.equal(s.a['gen_ai.provider.name'], 'openai', 'gen_ai.system=OpenAI -> gen_ai.provider.name=openai');
    t.equal(s.a['gen_ai.operation.name'], 'chat', 'llm.request.type=chat -> gen_ai.operation.name=chat');
    t.equal(s.a['gen_ai.usage.input_tokens'], 1200, 'prompt_tokens -> input_tokens');
    t.equal(s.kind['gen_ai.usage.input_tokens'], 'int', 'input tokens as an int');
    t.equal(s.a['gen_ai.usage.output_tokens'], 300, 'completion_tokens -> output_tokens');
    t.equal(s.a['gen_ai.usage.total_tokens'], 1500, 'llm.usage.total_tokens -> total');
    t.strictSame(messages(s.a['gen_ai.input.messages']), chatMessagesIn(), 'gen_ai.prompt.N.* -> gen_ai.input.messages');
    t.strictSame(messages(s.a['gen_ai.output.messages']), [{ role: 'assistant', parts: [{ type: 'text', content: 'OTLP is the OpenTelemetry protocol.' }] }], 'gen_ai.completion.N.* -> gen_ai.output.messages');
    const want = publishedCost(t, 'gpt-4o-mini-2024-07-18', { input: 1200, cacheRead: 0, output: 300 });
    assertCost(t, s.a['gen_ai.usage.cost'], want, 'Traceloop 0.22');
    expectedCosts.push(want.cost);
    noDuplicates(t, s);
  });

  // --- c. Vercel AI SDK ------------------------------------------------------------------------
  await t.test('c. Vercel AI SDK generateText with a tool loop: per-call usage, agent run, attribution', { timeout: 30_000 }, async (t) => {
    const openai = createOpenAI({ apiKey: 'sk-e2e-not-a-key', baseURL: fake.url });
    const callsBefore = fake.calls.length;
    let text: string | undefined;
    const spans = await recorded(async () => {
      const result = await generateText({
        model: openai.chat('gpt-4o-mini'),
        prompt: 'What is the weather in Paris?',
        tools: {
          lookup_weather: tool({
            description: 'Current weather of a city',
            inputSchema: jsonSchema<{ city: string }>({ type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false }),
            execute: async ({ city }) => ({ city, celsius: 21 }),
          }),
        },
        stopWhen: stepCountIs(3),
        maxRetries: 0,
        experimental_telemetry: { isEnabled: true, functionId: 'planner' },
      });
      text = result.text;
    });
    t.equal(text, 'It is 21 °C in Paris.', 'the tool loop ran to the text answer');
    t.equal(fake.calls.length - callsBefore, 2, 'two model calls');
    t.strictSame(spans.map((s) => s.name).sort(), ['ai.generateText', 'ai.generateText.doGenerate', 'ai.generateText.doGenerate', 'ai.toolCall'], 'the SDK recorded two doGenerate, one ai.toolCall, one ai.generateText');
    t.equal(spans.at(-1)?.name, 'ai.generateText', 'the outer span ended last');
    await flush();
    const got = await arrived(spans);
    const outer = got.find((g) => g.name === 'ai.generateText')!;
    const calls = got.filter((g) => g.name === 'ai.generateText.doGenerate').sort((x, y) => (x.a['gen_ai.usage.input_tokens'] as number) - (y.a['gen_ai.usage.input_tokens'] as number));
    const toolSpan = got.find((g) => g.name === 'ai.toolCall')!;
    t.ok(got.every((g) => g.traceId === outer.traceId), 'one trace');

    // the outer run: an agent invocation, named by functionId, with no usage of its own
    t.equal(outer.a['gen_ai.operation.name'], 'invoke_agent', 'outer: gen_ai.operation.name=invoke_agent');
    t.equal(outer.a['gen_ai.agent.name'], 'planner', 'outer: gen_ai.agent.name=planner (functionId)');
    t.equal(outer.a['ai.usage.inputTokens'], 2800, 'outer: as sent, ai.usage.inputTokens sums both calls');
    t.notOk('gen_ai.usage.input_tokens' in outer.a, 'outer: no gen_ai.usage.input_tokens (not counted twice)');
    t.notOk('gen_ai.usage.output_tokens' in outer.a, 'outer: no gen_ai.usage.output_tokens');
    t.notOk('gen_ai.usage.cost' in outer.a, 'outer: no gen_ai.usage.cost');
    noDuplicates(t, outer);

    // the two model calls
    const usages = [USAGE, USAGE_AFTER_TOOL];
    calls.forEach((c, i) => {
      const u = usages[i]!;
      t.equal(c.parentSpanId, outer.spanId, `call ${i + 1}: child of the run`);
      t.equal(c.scope, 'ai', `call ${i + 1}: scope kept`);
      t.equal(c.service, 'genai-e2e', `call ${i + 1}: resource kept`);
      t.equal(c.a['gen_ai.operation.name'], 'chat', `call ${i + 1}: operation chat`);
      t.equal(c.a['gen_ai.provider.name'], 'openai', `call ${i + 1}: provider openai (gen_ai.system=openai.chat)`);
      t.equal(c.a['gen_ai.usage.input_tokens'], u.input, `call ${i + 1}: input tokens ${u.input}`);
      t.equal(c.a['gen_ai.usage.output_tokens'], u.output, `call ${i + 1}: output tokens ${u.output}`);
      t.equal(c.a['gen_ai.usage.cache_read.input_tokens'], u.cacheRead, `call ${i + 1}: cache read ${u.cacheRead} (ai.usage.cachedInputTokens)`);
      t.equal(c.a['gen_ai.usage.total_tokens'], u.input + u.output, `call ${i + 1}: total`);
      t.equal(c.a['gen_ai.agent.name'], 'planner', `call ${i + 1}: gen_ai.agent.name=planner from the run, which ended last`);
      const want = publishedCost(t, 'gpt-4o-mini-2024-07-18', u);
      assertCost(t, c.a['gen_ai.usage.cost'], want, `call ${i + 1}`);
      expectedCosts.push(want.cost);
      noDuplicates(t, c);
    });

    // the tool call
    t.equal(toolSpan.a['gen_ai.operation.name'], 'execute_tool', 'tool: operation execute_tool');
    t.equal(toolSpan.a['gen_ai.tool.name'], 'lookup_weather', 'tool: gen_ai.tool.name');
    t.equal(toolSpan.a['gen_ai.tool.call.id'], TOOL_CALL_ID, 'tool: gen_ai.tool.call.id');
    t.equal(toolSpan.a['gen_ai.agent.name'], 'planner', 'tool: gen_ai.agent.name=planner');
    t.notOk('gen_ai.usage.cost' in toolSpan.a, 'tool: no cost');
    noDuplicates(t, toolSpan);

    // sums over the trace count each call once
    const sum = (k: string) => got.reduce((n, g) => n + (typeof g.a[k] === 'number' ? (g.a[k] as number) : 0), 0);
    t.equal(sum('gen_ai.usage.input_tokens'), USAGE.input + USAGE_AFTER_TOOL.input, 'sum of input tokens over the trace = the two calls\' (2800)');
    t.equal(sum('gen_ai.usage.output_tokens'), USAGE.output + USAGE_AFTER_TOOL.output, 'sum of output tokens over the trace = the two calls\' (400)');
    t.ok(Math.abs(sum('gen_ai.usage.cost') - expectedCosts.slice(-2).reduce((a, b) => a + b, 0)) < 1e-12, 'sum of cost over the trace = the two calls\'');
  });

  // --- d. agent attribution across requests ---------------------------------------------------
  await t.test('d. agent attribution: child exported before its invoke_agent parent; an orphan released after wait', { timeout: 40_000 }, async (t) => {
    const oi = new OpenInferenceInstrumentation();
    const tracer = trace.getTracer('genai-e2e-agent', '1.0.0');
    await instrumented(t, () => {
      oi.setTracerProvider(provider);
      oi.manuallyInstrument(OpenAI as unknown as Parameters<typeof oi.manuallyInstrument>[0]);
    }, () => oi.disable(), async () => {
      // A child whose parent arrives in a later request.
      const attributedBefore = await released('attributed');
      const agent = tracer.startSpan('invoke_agent researcher', {
        kind: SpanKind.INTERNAL,
        attributes: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': 'researcher', 'gen_ai.agent.id': 'r-1' },
      });
      const children = await recorded(() => context.with(trace.setSpan(context.active(), agent), () => chat('gpt-4o-mini', 'Find the OTLP spec')));
      t.equal(children.length, 1, 'one model call span under the agent');
      const child = children[0]!;
      t.equal(child.parentSpanContext?.spanId, agent.spanContext().spanId, 'the OpenInference span is the agent span\'s child (context across API copies)');
      await flush(); // the child alone: the parent has not ended
      await sleep(300);
      const early = spansAt(sink).find((g) => g.spanId === child.spanContext().spanId);
      t.equal(early, undefined, 'the child is held: not at the sink before its parent');
      t.equal(metricValue(await metrics(), 'fleetcol_processor_genai_context_held_spans'), 1, 'fleetcol holds one span');
      const requestsBefore = sink.received.traces.length;
      agent.end();
      const parentRecorded = memory.getFinishedSpans().at(-1)!;
      await flush(); // now the parent, in a later request
      const [c, p] = (await arrived([child, parentRecorded])) as [Got, Got];
      t.ok(c.request >= requestsBefore, 'the child went on after the parent\'s request came');
      t.equal(c.parentSpanId, p.spanId, 'child: parent id kept');
      t.equal(c.traceId, p.traceId, 'child: trace id kept');
      t.equal(c.scope, '@arizeai/openinference-instrumentation-openai', 'child: scope kept through the hold');
      t.equal(c.service, 'genai-e2e', 'child: resource kept through the hold');
      t.equal(p.a['gen_ai.agent.id'], 'r-1', 'parent as sent');
      t.equal(c.a['gen_ai.agent.id'], 'r-1', 'child: gen_ai.agent.id=r-1 from its invoke_agent parent');
      t.equal(c.a['gen_ai.agent.name'], 'researcher', 'child: gen_ai.agent.name=researcher');
      t.equal(c.a['gen_ai.operation.name'], 'chat', 'child: still normalised (operation)');
      t.equal(c.a['gen_ai.usage.input_tokens'], 1200, 'child: still normalised (tokens)');
      const want = publishedCost(t, 'gpt-4o-mini-2024-07-18', USAGE);
      assertCost(t, c.a['gen_ai.usage.cost'], want, 'held child');
      expectedCosts.push(want.cost);
      noDuplicates(t, c);
      t.equal(await released('attributed'), attributedBefore + 1, 'released{reason="attributed"} counted it');

      // A child whose parent never comes: its parent is a remote span fabricated here.
      const waitBefore = await released('wait');
      const remote = trace.setSpanContext(ROOT_CONTEXT, { traceId: randomBytes(16).toString('hex'), spanId: randomBytes(8).toString('hex'), traceFlags: TraceFlags.SAMPLED, isRemote: true });
      const orphans = await recorded(() => context.with(remote, () => chat('gpt-4o-mini', 'Anyone there?')));
      t.equal(orphans.length, 1, 'one model call span under a remote parent');
      const start = Date.now();
      await flush();
      await sleep(1000);
      t.equal(spansAt(sink).find((g) => g.spanId === orphans[0]!.spanContext().spanId), undefined, 'after 1s the orphan is still held');
      const [o] = (await arrived(orphans, 8_000)) as [Got];
      const waited = Date.now() - start;
      t.ok(waited >= 1950 && waited < 5000, `the orphan went on after about the wait (2s): ${waited}ms`);
      t.notOk('gen_ai.agent.id' in o.a || 'gen_ai.agent.name' in o.a, 'the orphan has no agent');
      t.equal(o.a['gen_ai.usage.input_tokens'], 1200, 'the orphan is still normalised');
      assertCost(t, o.a['gen_ai.usage.cost'], want, 'orphan');
      expectedCosts.push(want.cost);
      const waitAfter = await waitFor(async () => {
        const v = await released('wait');
        return v > waitBefore ? v : undefined;
      }, 5000, 'the wait release counted');
      t.equal(waitAfter, waitBefore + 1, 'fleetcol_processor_genai_context_released_total{reason="wait"} counted it');
      t.equal(metricValue(await metrics(), 'fleetcol_processor_genai_context_held_spans'), 0, 'nothing held any more');
    });
  });

  // --- e. Langfuse -----------------------------------------------------------------------------
  await t.test('e. Langfuse generation: additive usage_details onto the conventions\' counts, cost', { timeout: 30_000 }, async (t) => {
    setLangfuseTracerProvider(provider);
    t.teardown(() => setLangfuseTracerProvider(null));
    const spans = await recorded(async () => {
      const gen = startObservation('summarise', {
        model: 'gpt-4o-mini',
        input: [{ role: 'user', content: 'Summarise the incident' }],
        // Langfuse's keys are additive: input leaves the 200 cached tokens out.
        usageDetails: { input: 1000, output: 300, cache_read_input_tokens: 200 },
      }, { asType: 'generation' });
      gen.update({ output: { role: 'assistant', content: 'Nothing broke.' } });
      gen.end();
    });
    t.equal(spans.length, 1, 'Langfuse recorded one observation');
    await flush();
    const [s] = (await arrived(spans)) as [Got];
    t.equal(s.scope, 'langfuse-sdk', 'span from @langfuse/tracing');
    t.equal(s.a['langfuse.observation.type'], 'generation', 'as sent: a generation');
    t.strictSame(JSON.parse(s.a['langfuse.observation.usage_details'] as string), { input: 1000, output: 300, cache_read_input_tokens: 200 }, 'as sent: usage_details');
    t.equal(s.a['gen_ai.operation.name'], 'chat', 'generation -> chat');
    t.equal(s.a['gen_ai.request.model'], 'gpt-4o-mini', 'model');
    t.equal(s.a['gen_ai.provider.name'], 'openai', 'provider from the model name');
    t.equal(s.a['gen_ai.usage.input_tokens'], 1200, 'input 1000 + cached 200 = 1200 (the conventions\' input includes cached)');
    t.equal(s.kind['gen_ai.usage.input_tokens'], 'int', 'input tokens as an int');
    t.equal(s.a['gen_ai.usage.cache_read.input_tokens'], 200, 'cache read 200');
    t.equal(s.a['gen_ai.usage.output_tokens'], 300, 'output 300');
    t.equal(s.a['gen_ai.usage.total_tokens'], 1500, 'total 1500');
    // Langfuse's input is whatever the caller passed; fleetcol carries it as it is.
    t.match(s.a['gen_ai.input.messages'], /Summarise the incident/, 'the observation input is carried to gen_ai.input.messages');
    const want = publishedCost(t, 'gpt-4o-mini', USAGE);
    assertCost(t, s.a['gen_ai.usage.cost'], want, 'Langfuse generation');
    expectedCosts.push(want.cost);
    noDuplicates(t, s);
  });

  // --- fleetcol's own account --------------------------------------------------------------------
  await t.test('self metrics: every call priced once, the cost counter is the sum', { timeout: 20_000 }, async (t) => {
    const text = await metrics();
    t.equal(metricValue(text, 'fleetcol_processor_genai_priced_calls_total'), expectedCosts.length, `${expectedCosts.length} model calls priced`);
    const total = expectedCosts.reduce((a, b) => a + b, 0);
    t.ok(Math.abs(metricValue(text, 'fleetcol_processor_genai_cost_usd_total') - total) < 1e-9, `fleetcol_processor_genai_cost_usd_total = ${total}`);
    t.equal(metricValue(text, 'fleetcol_processor_genai_unknown_model_total'), 0, 'no unknown models');
    t.equal(metricValue(text, 'fleetcol_processor_genai_context_held_spans'), 0, 'nothing held');
    t.strictSame(fake.other, [], 'the fake OpenAI server was asked nothing but chat completions');
    await bounded(sdk.shutdown(), 15_000, 'SDK shutdown');
    sdkDown = true;
    t.strictSame(diagErrors, [], 'no SDK errors');
    const code = await bounded(daemon.stop('SIGTERM'), 30_000, 'fleetcol exit');
    t.equal(code, 0, code === 0 ? 'fleetcol exits 0' : explain('fleetcol exits 0'));
  });
});
