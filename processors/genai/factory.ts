import type { Factory } from '../../src/component.js';
import { GENAI_CONVENTIONS } from '../../src/vocab/index.js';
import { GenAIProcessor, type GenAIConfig } from './processor.js';
import { PRICE_ROW_SCHEMA, readPriceFile } from './pricing.js';
import { BUILTIN_NAMES } from './sources.js';

export const genaiProcessorFactory: Factory<GenAIConfig> = {
  type: 'genai',
  kind: 'processor',
  description: `Spans and log records from OpenInference, OpenLLMetry, the Vercel AI SDK, Langfuse, LangSmith, Pydantic AI, CrewAI and LangChain in the GenAI conventions (${GENAI_CONVENTIONS.repository} ${GENAI_CONVENTIONS.version}), with operation, provider and total tokens derived, each model and tool call's agent (from its invoke_agent ancestor) and cost in USD (@pydantic/genai-prices, overridable); prompts kept, dropped, cut or hashed.`,
  signals: ['traces', 'logs'],
  crashLoses: 'the spans held for their agent (up to agent_context.wait of GenAI spans whose invoke_agent ancestor has not arrived; agent_context.wait: 0 holds nothing)',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      sources: {
        type: 'array',
        description: `Source conventions, applied in this order (the first that names an attribute wins). Built in: ${BUILTIN_NAMES.join(', ')}; any other name is a source of your own, with \`mappings\`. The GenAI conventions' own older names (gen_ai.system, prompt_tokens, cache_creation) are always read.`,
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['name'],
          properties: {
            name: { type: 'string', minLength: 1, maxLength: 64, description: 'A built-in source, or a name for your own.' },
            remove_originals: { type: 'boolean', description: 'Drop the source attribute once mapped (default false).' },
            overwrite: { type: 'boolean', description: 'Replace a target attribute the item already has (default false: it stays).' },
            mappings: { type: 'object', additionalProperties: { type: 'string', minLength: 1 }, description: 'Your own source: attribute → GenAI attribute.' },
            value_mappings: { type: 'object', additionalProperties: { type: 'object', additionalProperties: { type: 'string' } }, description: 'Your own source: target attribute → { source value → value } (case-insensitive).' },
            input_includes_cache: { type: 'boolean', description: 'Whether this source\'s input token count includes cached tokens, as the conventions\' does (default: as the built-in source knows; true for your own).' },
          },
        },
      },
      derive: {
        type: 'object',
        additionalProperties: false,
        description: 'What is derived where missing.',
        properties: {
          operation: { type: 'boolean', description: 'gen_ai.operation.name from the span name (`chat gpt-4o`, `execute_tool search`) or the framework\'s span names.' },
          provider: { type: 'boolean', description: 'gen_ai.provider.name from the model name, where only one provider serves it.' },
          total_tokens: { type: 'boolean', description: 'gen_ai.usage.total_tokens = input + output.' },
        },
      },
      aggregate_agent_usage: { type: 'boolean', description: 'On invoke_agent and invoke_workflow spans, usage and cost (the sum of their calls\') move to gen_ai.aggregated_usage.*, so sums over spans count each call once.' },
      agent_context: {
        type: 'object',
        additionalProperties: false,
        description: 'Model and tool spans take the agent of their nearest invoke_agent ancestor. Children are exported before their parents, so one whose ancestors have not arrived is held.',
        properties: {
          wait: { type: ['string', 'number'], 'x-duration': true, description: 'How long a span waits for its ancestors (then goes on without an agent); 0 holds nothing.' },
          max_traces: { type: 'integer', minimum: 1, description: 'Traces remembered at most; past it the least recently seen is forgotten and its held spans go on.' },
          max_bytes: { type: ['string', 'integer'], 'x-size': true, description: 'Bytes of held spans at most; past it the oldest go on without an agent.' },
        },
      },
      pricing: {
        type: 'object',
        additionalProperties: false,
        description: 'Prices of model calls. Rows here and in `file` come first, then @pydantic/genai-prices.',
        properties: {
          models: { type: 'array', items: PRICE_ROW_SCHEMA, description: 'Prices per million tokens by model name or glob.' },
          file: { type: 'string', description: 'A YAML or JSON file with `models: [...]` rows as above.' },
          builtin: { type: 'boolean', description: 'Use the @pydantic/genai-prices table for models the rows do not price.' },
        },
      },
      recompute: { type: 'boolean', description: 'Price calls whose instrumentation already set a cost (gen_ai.usage.cost, llm.cost.total, operation.cost).' },
      content: { enum: ['keep', 'drop', 'truncate', 'hash'], description: 'Prompts, completions, tool arguments and results, in every dialect: keep, drop, cut to content_max_bytes, or replace by `sha256:<hex>`.' },
      content_max_bytes: { type: ['string', 'integer'], 'x-size': true, description: 'The limit of content: truncate.' },
      max_unknown_models: { type: 'integer', minimum: 0, description: 'Distinct model names counted in fleetcol_processor_genai_unknown_model_total; the rest count as _other.' },
    },
  },
  createDefaultConfig: () =>
    ({
      sources: BUILTIN_NAMES.map((name) => ({ name })),
      derive: { operation: true, provider: true, total_tokens: true },
      aggregate_agent_usage: true,
      agent_context: { wait: '5s', max_traces: 10000, max_bytes: '64MiB' },
      pricing: { models: [], builtin: true },
      recompute: false,
      content: 'keep',
      content_max_bytes: '4KiB',
      max_unknown_models: 100,
    }) as unknown as GenAIConfig,
  check: (cfg) => {
    const problems = cfg.pricing.file ? readPriceFile(cfg.pricing.file).problems : [];
    const seen = new Set<string>();
    cfg.sources.forEach((s, i) => {
      if (seen.has(s.name)) problems.push({ path: ['sources', String(i), 'name'], message: `source "${s.name}" is listed twice` });
      seen.add(s.name);
      const builtin = BUILTIN_NAMES.includes(s.name);
      if (builtin && (s.mappings || s.value_mappings)) problems.push({ path: ['sources', String(i)], message: `built-in source "${s.name}" takes no mappings (give your own source another name)` });
      if (!builtin && !s.mappings) problems.push({ path: ['sources', String(i), 'name'], message: `"${s.name}" is no built-in source (${BUILTIN_NAMES.join(', ')}); a source of your own needs mappings` });
      for (const target of Object.keys(s.value_mappings ?? {})) {
        if (!Object.values(s.mappings ?? {}).includes(target)) problems.push({ path: ['sources', String(i), 'value_mappings', target], message: `"${target}" is no target of this source's mappings` });
      }
    });
    return problems;
  },
  createProcessor: (set, cfg, signal, next) => new GenAIProcessor(set, cfg, signal, next),
};
