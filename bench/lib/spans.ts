// Realistic agent-fleet trace requests, encoded once with the OpenTelemetry JS SDK's own OTLP
// protobuf serializer (the bytes an SDK would send). Each request is one agent's batch: one
// resource, one scope, and traces of 10 spans each (an `invoke_agent` root, `chat` calls and
// `execute_tool` calls), every span with ~12 attributes (gen_ai.* among them) and 2 events.
import { randomBytes } from 'node:crypto';
import { SpanKind, SpanStatusCode, TraceFlags, type Attributes, type HrTime } from '@opentelemetry/api';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { countSpans, traceIdOffsets } from './wire.js';

export interface EncodedRequest {
  bytes: Buffer;
  spans: number;
  /** Where each span's trace_id starts; the load generator stamps a sequence number there. */
  traceIdOffsets: number[];
  /** Of those, the spans of traces begun in the previous request (genai mix): stamped with the
   *  previous request's number, so they join the children sent with it. */
  previous: boolean[];
}

/** `current`: every span in current GenAI names, its agent on the resource. `genai` (the genai
 *  processor's benchmark): half the requests in OpenInference names, half in current ones; only
 *  invoke_agent roots name their agent; children end and are sent before their root, and 20 % of
 *  spans (two traces of ten per 100) are sent one request before their root. */
export type Mix = 'current' | 'genai';

const MODELS = ['gpt-4o', 'claude-sonnet-4', 'gemini-2.0-flash', 'llama-3.3-70b'];
const PROVIDERS = ['openai', 'anthropic', 'gcp.gemini', 'groq'];
/** The same providers as OpenInference's llm.provider spells them. */
const OI_PROVIDERS = ['openai', 'anthropic', 'google', 'groq'];
const TOOLS = ['web_search', 'read_file', 'run_python', 'sql_query', 'send_email'];
const SCOPE = { name: 'fleet-agent-sdk', version: '1.4.2' };

function hr(ms: number): HrTime {
  return [Math.floor(ms / 1000), Math.round((ms % 1000) * 1e6)];
}

/** A seeded PRNG so every run builds the same pool (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function span(
  resource: Resource,
  traceId: string,
  spanId: string,
  parentSpanId: string | undefined,
  name: string,
  kind: SpanKind,
  startMs: number,
  durMs: number,
  attributes: Attributes,
  events: { name: string; atMs: number; attributes: Attributes }[],
  error: boolean,
): ReadableSpan {
  const ctx = { traceId, spanId, traceFlags: TraceFlags.SAMPLED };
  return {
    name,
    kind,
    spanContext: () => ctx,
    parentSpanContext: parentSpanId ? { traceId, spanId: parentSpanId, traceFlags: TraceFlags.SAMPLED } : undefined,
    startTime: hr(startMs),
    endTime: hr(startMs + durMs),
    duration: hr(durMs),
    status: error ? { code: SpanStatusCode.ERROR, message: 'upstream returned 529 overloaded' } : { code: SpanStatusCode.OK },
    attributes,
    links: [],
    events: events.map((e) => ({ name: e.name, time: hr(e.atMs), attributes: e.attributes, droppedAttributesCount: 0 })),
    ended: true,
    resource,
    instrumentationScope: SCOPE,
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}

/** Builds one request of `spansPerRequest` spans (a multiple of 10 is not required). */
function buildRequest(index: number, spansPerRequest: number, rand: () => number, nowMs: number): ReadableSpan[] {
  const agent = index % 50;
  const resource = resourceFromAttributes({
    'service.name': `agent-${agent % 7}`,
    'service.version': '2.3.1',
    'service.instance.id': `agent-${agent}-${index}`,
    'service.namespace': 'fleet-a',
    'host.name': `worker-${agent % 5}.fleet.internal`,
    'deployment.environment.name': 'production',
    'gen_ai.agent.id': `agent-${agent}`,
    'telemetry.sdk.name': 'opentelemetry',
    'telemetry.sdk.language': 'nodejs',
    'telemetry.sdk.version': '2.0.0',
  });
  const spans: ReadableSpan[] = [];
  let traceId = '';
  let rootId = '';
  let t = nowMs - 60_000 + rand() * 1000;
  for (let i = 0; i < spansPerRequest; i++) {
    const pos = i % 10;
    const spanId = randomBytes(8).toString('hex');
    const m = Math.floor(rand() * MODELS.length);
    const conversation = `conv-${index}-${Math.floor(i / 10)}`;
    const common: Attributes = {
      'gen_ai.agent.id': `agent-${agent}`,
      'gen_ai.agent.name': `Research assistant ${agent}`,
      'gen_ai.conversation.id': conversation,
    };
    if (pos === 0) {
      traceId = randomBytes(16).toString('hex');
      rootId = spanId;
      spans.push(
        span(resource, traceId, spanId, undefined, `invoke_agent Research assistant ${agent}`, SpanKind.INTERNAL, t, 4200 + rand() * 3000, {
          ...common,
          'gen_ai.operation.name': 'invoke_agent',
          'gen_ai.provider.name': PROVIDERS[m]!,
          'gen_ai.request.model': MODELS[m]!,
          'gen_ai.usage.input_tokens': 12000 + Math.floor(rand() * 4000),
          'gen_ai.usage.output_tokens': 900 + Math.floor(rand() * 600),
          'gen_ai.usage.cost': 0.0123 + rand() / 100,
          'a2a.task.id': `task-${index}-${i}`,
          'a2a.task.state': 'completed',
          'a2a.protocol.version': '0.3.0',
        }, [
          { name: 'a2a.task.status', atMs: t + 5, attributes: { 'a2a.task.state': 'working' } },
          { name: 'a2a.task.status', atMs: t + 4100, attributes: { 'a2a.task.state': 'completed' } },
        ], false),
      );
    } else if (pos % 2 === 1) {
      const input = 800 + Math.floor(rand() * 3000);
      const output = 50 + Math.floor(rand() * 700);
      spans.push(
        span(resource, traceId, spanId, rootId, `chat ${MODELS[m]}`, SpanKind.CLIENT, t + pos * 400, 350 + rand() * 900, {
          ...common,
          'gen_ai.operation.name': 'chat',
          'gen_ai.provider.name': PROVIDERS[m]!,
          'gen_ai.request.model': MODELS[m]!,
          'gen_ai.response.model': `${MODELS[m]}-2025-01-01`,
          'gen_ai.request.temperature': 0.2,
          'gen_ai.request.max_tokens': 4096,
          'gen_ai.usage.input_tokens': input,
          'gen_ai.usage.output_tokens': output,
          'gen_ai.response.finish_reasons': ['stop'],
          'server.address': 'api.llm-gateway.internal',
        }, [
          { name: 'gen_ai.content.prompt', atMs: t + pos * 400 + 1, attributes: { 'gen_ai.prompt': 'Summarise the findings of the three sources above in five bullet points.' } },
          { name: 'gen_ai.content.completion', atMs: t + pos * 400 + 340, attributes: { 'gen_ai.completion': 'Here are the five key findings: 1. ...' } },
        ], rand() < 0.02),
      );
    } else {
      const tool = TOOLS[Math.floor(rand() * TOOLS.length)]!;
      spans.push(
        span(resource, traceId, spanId, rootId, `execute_tool ${tool}`, SpanKind.INTERNAL, t + pos * 400 + 200, 20 + rand() * 300, {
          ...common,
          'gen_ai.operation.name': 'execute_tool',
          'gen_ai.tool.name': tool,
          'gen_ai.tool.call.id': `call_${spanId}`,
          'gen_ai.tool.type': 'function',
          'gen_ai.provider.name': PROVIDERS[m]!,
          'gen_ai.request.model': MODELS[m]!,
          'code.function.name': `tools.${tool}`,
          'thread.id': 1,
          'process.pid': 4242,
        }, [
          { name: 'tool.input', atMs: t + pos * 400 + 201, attributes: { 'tool.input.size': 512 } },
          { name: 'tool.output', atMs: t + pos * 400 + 215, attributes: { 'tool.output.size': 2048 } },
        ], false),
      );
    }
    if (pos === 9) t += 8000;
  }
  return spans;
}

interface SplitTrace {
  traceId: string;
  rootId: string;
  agent: number;
  startMs: number;
}

/** One trace of the genai mix: nine children (chat and tool calls) then its invoke_agent root. */
function genaiTrace(resource: Resource, tr: SplitTrace, openinference: boolean, rand: () => number, part: 'children' | 'root' | 'all'): ReadableSpan[] {
  const out: ReadableSpan[] = [];
  const name = `Research assistant ${tr.agent}`;
  const conversation = `conv-${tr.traceId.slice(8, 16)}`;
  if (part !== 'root') {
    for (let pos = 1; pos < 10; pos++) {
      const m = Math.floor(rand() * MODELS.length);
      const at = tr.startMs + pos * 400;
      const id = randomBytes(8).toString('hex');
      if (pos % 2 === 1) {
        const input = 800 + Math.floor(rand() * 3000);
        const output = 50 + Math.floor(rand() * 700);
        const attrs: Attributes = openinference
          ? {
              'openinference.span.kind': 'LLM', 'llm.model_name': MODELS[m]!, 'llm.provider': OI_PROVIDERS[m]!, 'llm.system': OI_PROVIDERS[m]!,
              'llm.invocation_parameters': '{"temperature":0.2,"max_tokens":4096}', 'llm.token_count.prompt': input, 'llm.token_count.completion': output,
              'llm.token_count.total': input + output, 'llm.token_count.prompt_details.cache_read': Math.floor(input / 4),
              'llm.input_messages.0.message.role': 'user', 'llm.input_messages.0.message.content': 'Summarise the findings of the three sources above in five bullet points.',
              'llm.output_messages.0.message.role': 'assistant', 'llm.output_messages.0.message.content': 'Here are the five key findings: 1. ...',
              'session.id': conversation,
            }
          : {
              'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': PROVIDERS[m]!, 'gen_ai.request.model': MODELS[m]!, 'gen_ai.response.model': `${MODELS[m]}-2025-01-01`,
              'gen_ai.request.temperature': 0.2, 'gen_ai.request.max_tokens': 4096, 'gen_ai.usage.input_tokens': input, 'gen_ai.usage.output_tokens': output,
              'gen_ai.usage.cache_read.input_tokens': Math.floor(input / 4), 'gen_ai.response.finish_reasons': ['stop'], 'gen_ai.conversation.id': conversation,
              'server.address': 'api.llm-gateway.internal',
            };
        out.push(span(resource, tr.traceId, id, tr.rootId, openinference ? 'ChatCompletion' : `chat ${MODELS[m]}`, SpanKind.CLIENT, at, 350 + rand() * 900, attrs, [], rand() < 0.02));
      } else {
        const tool = TOOLS[Math.floor(rand() * TOOLS.length)]!;
        const attrs: Attributes = openinference
          ? { 'openinference.span.kind': 'TOOL', 'tool.name': tool, 'tool.parameters': '{"query":"agent fleets"}', 'input.value': '{"query":"agent fleets"}', 'output.value': 'three results', 'session.id': conversation }
          : { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': tool, 'gen_ai.tool.call.id': `call_${id}`, 'gen_ai.tool.type': 'function', 'code.function.name': `tools.${tool}`, 'gen_ai.conversation.id': conversation };
        out.push(span(resource, tr.traceId, id, tr.rootId, openinference ? tool : `execute_tool ${tool}`, SpanKind.INTERNAL, at + 200, 20 + rand() * 300, attrs, [], false));
      }
    }
  }
  if (part !== 'children') {
    const attrs: Attributes = openinference
      ? { 'openinference.span.kind': 'AGENT', 'agent.name': name, 'session.id': conversation, 'input.value': 'Research agent fleets', 'output.value': 'A summary.' }
      : { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.id': `agent-${tr.agent}`, 'gen_ai.agent.name': name, 'gen_ai.conversation.id': conversation };
    out.push(span(resource, tr.traceId, tr.rootId, undefined, openinference ? name : `invoke_agent ${name}`, SpanKind.INTERNAL, tr.startMs, 4200 + rand() * 3000, attrs, [], false));
  }
  return out;
}

/** The genai mix's requests (see Mix): request i carries the children of its two split traces,
 *  the roots of request i-1's (cyclically: request 0 takes the last one's), and whole traces. */
function buildGenaiPool(count: number, spansPerRequest: number, rand: () => number, now: number): Array<{ spans: ReadableSpan[]; previous: boolean[] }> {
  if (spansPerRequest % 10 !== 0) throw new Error('the genai mix needs requests of a multiple of 10 spans');
  const traces = spansPerRequest / 10;
  const split = Math.max(1, Math.round(traces * 0.2));
  const newTrace = (i: number): SplitTrace => ({ traceId: randomBytes(16).toString('hex'), rootId: randomBytes(8).toString('hex'), agent: i % 50, startMs: now - 60_000 + rand() * 1000 });
  const splits = Array.from({ length: count }, (_, i) => Array.from({ length: split }, () => newTrace(i)));
  const out: Array<{ spans: ReadableSpan[]; previous: boolean[] }> = [];
  for (let i = 0; i < count; i++) {
    const oi = i % 2 === 1;
    const resource = resourceFromAttributes({
      'service.name': `agent-${i % 7}`, 'service.version': '2.3.1', 'service.instance.id': `agent-${i % 50}-${i}`, 'service.namespace': 'fleet-a',
      'host.name': `worker-${i % 5}.fleet.internal`, 'deployment.environment.name': 'production',
      'telemetry.sdk.name': 'opentelemetry', 'telemetry.sdk.language': 'nodejs', 'telemetry.sdk.version': '2.0.0',
    });
    const spans: ReadableSpan[] = [];
    const previous: boolean[] = [];
    const add = (list: ReadableSpan[], prev: boolean) => {
      for (const sp of list) {
        spans.push(sp);
        previous.push(prev);
      }
    };
    for (const tr of splits[(i + count - 1) % count]!) add(genaiTrace(resource, tr, (((i + count - 1) % count) % 2) === 1, rand, 'root'), true);
    for (let k = 0; k < traces - split; k++) add(genaiTrace(resource, newTrace(i), oi, rand, 'all'), false);
    for (const tr of splits[i]!) add(genaiTrace(resource, tr, oi, rand, 'children'), false);
    out.push({ spans, previous });
  }
  return out;
}

/** Encodes `count` distinct requests of `spansPerRequest` spans each. */
export function buildPool(count: number, spansPerRequest: number, seed = 1, mix: Mix = 'current'): EncodedRequest[] {
  const rand = rng(seed);
  const now = Date.now();
  const pool: EncodedRequest[] = [];
  const genai = mix === 'genai' ? buildGenaiPool(count, spansPerRequest, rand, now) : undefined;
  for (let i = 0; i < count; i++) {
    const built = genai ? genai[i]!.spans : buildRequest(i, spansPerRequest, rand, now);
    const encoded = ProtobufTraceSerializer.serializeRequest(built);
    if (!encoded) throw new Error('the OTLP serializer returned nothing');
    const bytes = Buffer.from(encoded.buffer, encoded.byteOffset, encoded.byteLength);
    const spans = countSpans(bytes);
    if (spans !== spansPerRequest) throw new Error(`request ${i}: wire count ${spans} != ${spansPerRequest} spans built`);
    const offsets = traceIdOffsets(bytes);
    if (offsets.length !== spans) throw new Error(`request ${i}: found ${offsets.length} trace ids for ${spans} spans`);
    pool.push({ bytes, spans, traceIdOffsets: offsets, previous: genai ? genai[i]!.previous : offsets.map(() => false) });
  }
  return pool;
}
