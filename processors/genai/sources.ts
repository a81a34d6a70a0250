// Where each framework's attribute names go in the GenAI conventions: one table per source
// convention, a row per attribute, so that adding a framework is adding rows. Names were taken from
// each convention's own package or spec (noted per table); the targets are src/vocab's.
import { GenAI, Operation } from '../../src/vocab/index.js';

/** How a value is carried to its target. */
export type ValueRule =
  | 'copy' // as it is (no decoding)
  | 'provider' // a provider spelling → gen_ai.provider.name (src/vocab providerName)
  | 'int' // a number, or a numeric string, as an int
  | 'double'
  | 'string_array' // a string (comma-separated ones split) → a one- or many-element string array
  | 'chat_messages' // a JSON list of chat messages in a provider's shape → the conventions' {role, parts}
  | Readonly<Record<string, string | null>>; // a value table (looked up in lower case); null: no target

/** Which spans a row applies to. */
export type When =
  | 'always'
  | 'model_call' // Vercel AI SDK: only the per-call doGenerate/doStream/doEmbed spans carry per-call usage
  | 'run'; // Vercel AI SDK: only the outer generateText/streamText/... spans

export interface Row {
  from: string;
  to: string;
  value?: ValueRule;
  when?: When;
}

/** Flattened message lists (`llm.input_messages.0.message.role`) rebuilt into one JSON attribute. */
export interface MessageList {
  prefix: string;
  to: string;
  /** the part of a key after `<prefix><index>.` that holds the role, the text, a tool call id */
  role: string;
  content: string;
  toolCallId?: string;
  /** tool calls: `<toolCalls><j>.<name|args|id>` */
  toolCalls?: { prefix: string; id: string; name: string; args: string };
}

export interface BuiltinSource {
  name: string;
  /** the convention and version its names come from */
  convention: string;
  rows: readonly Row[];
  messages?: readonly MessageList[];
  /** Does this convention's input token count include cached tokens (as the GenAI conventions
   *  say)? When not, cache reads and writes are added to it. */
  inputIncludesCache: boolean;
  /** JSON attributes holding usage objects (Langfuse usage_details): key → where each field goes */
  usageJson?: { from: string; fields: Readonly<Record<string, 'input' | 'output' | 'total' | 'cache_read' | 'cache_write' | 'reasoning' | 'cost'>> };
  /** span names that state an operation (frameworks that name spans rather than set an attribute) */
  spanNames?: Readonly<Record<string, string>>;
}

const OPENINFERENCE_KINDS = {
  llm: Operation.chat, embedding: Operation.embeddings, retriever: Operation.retrieval, reranker: Operation.retrieval,
  tool: Operation.executeTool, agent: Operation.invokeAgent, prompt: null, chain: null, guardrail: null, evaluator: null,
} as const;

const TRACELOOP_KINDS = {
  workflow: Operation.invokeWorkflow, agent: Operation.invokeAgent, tool: Operation.executeTool, task: null, session: null, unknown: null,
} as const;

const TRACELOOP_REQUEST_TYPES = {
  chat: Operation.chat, completion: Operation.textCompletion, embedding: Operation.embeddings, rerank: Operation.retrieval, unknown: null,
} as const;

/** The GenAI conventions' own older spellings (v1.36 to v1.41, and what instrumentations wrote
 *  under them). Always first: every other source's output is in current names. */
export const SEMCONV: BuiltinSource = {
  name: 'semconv',
  convention: 'OpenTelemetry GenAI conventions up to v1.41.0 (open-telemetry/semantic-conventions model/gen-ai/deprecated)',
  inputIncludesCache: true,
  rows: [
    { from: 'gen_ai.system', to: GenAI.providerName, value: 'provider' },
    { from: 'gen_ai.usage.prompt_tokens', to: GenAI.inputTokens },
    { from: 'gen_ai.usage.completion_tokens', to: GenAI.outputTokens },
    { from: 'gen_ai.usage.cache_creation.input_tokens', to: GenAI.cacheWriteTokens },
    { from: 'gen_ai.openai.request.seed', to: 'gen_ai.request.seed' },
    { from: 'gen_ai.prompt', to: GenAI.inputMessages },
    { from: 'gen_ai.completion', to: GenAI.outputMessages },
  ],
};

export const BUILTIN_SOURCES: readonly BuiltinSource[] = [
  {
    // @arizeai/openinference-semantic-conventions 2.12.0; the collector's genainormalizer rows.
    name: 'openinference',
    convention: 'OpenInference semantic conventions 2.12 (@arizeai/openinference-semantic-conventions)',
    inputIncludesCache: true,
    rows: [
      { from: 'openinference.span.kind', to: GenAI.operationName, value: OPENINFERENCE_KINDS },
      { from: 'llm.provider', to: GenAI.providerName, value: 'provider' },
      { from: 'llm.system', to: GenAI.providerName, value: 'provider' },
      { from: 'llm.model_name', to: GenAI.requestModel },
      { from: 'llm.request.model_name', to: GenAI.requestModel },
      { from: 'llm.response.model_name', to: GenAI.responseModel },
      { from: 'embedding.model_name', to: GenAI.requestModel },
      { from: 'reranker.model_name', to: GenAI.requestModel },
      { from: 'llm.token_count.prompt', to: GenAI.inputTokens, value: 'int' },
      { from: 'llm.token_count.completion', to: GenAI.outputTokens, value: 'int' },
      { from: 'llm.token_count.total', to: GenAI.totalTokens, value: 'int' },
      { from: 'llm.token_count.prompt_details.cache_read', to: GenAI.cacheReadTokens, value: 'int' },
      { from: 'llm.token_count.prompt_details.cache_write', to: GenAI.cacheWriteTokens, value: 'int' },
      { from: 'llm.token_count.completion_details.reasoning', to: GenAI.reasoningTokens, value: 'int' },
      { from: 'llm.token_count.prompt_details.audio', to: 'gen_ai.usage.audio.input_tokens', value: 'int' },
      { from: 'llm.token_count.completion_details.audio', to: 'gen_ai.usage.audio.output_tokens', value: 'int' },
      { from: 'llm.cost.total', to: GenAI.cost, value: 'double' },
      { from: 'llm.finish_reason', to: GenAI.finishReasons, value: 'string_array' },
      { from: 'tool.name', to: GenAI.toolName },
      { from: 'tool.description', to: GenAI.toolDescription },
      { from: 'tool_call.id', to: GenAI.toolCallId },
      { from: 'tool_call.function.arguments', to: GenAI.toolCallArguments },
      { from: 'agent.name', to: GenAI.agentName },
      { from: 'session.id', to: GenAI.conversationId },
      { from: 'llm.tools', to: GenAI.toolDefinitions },
    ],
    messages: [
      { prefix: 'llm.input_messages.', to: GenAI.inputMessages, role: 'message.role', content: 'message.content', toolCallId: 'message.tool_call_id', toolCalls: { prefix: 'message.tool_calls.', id: 'tool_call.id', name: 'tool_call.function.name', args: 'tool_call.function.arguments' } },
      { prefix: 'llm.output_messages.', to: GenAI.outputMessages, role: 'message.role', content: 'message.content', toolCalls: { prefix: 'message.tool_calls.', id: 'tool_call.id', name: 'tool_call.function.name', args: 'tool_call.function.arguments' } },
    ],
  },
  {
    // @traceloop/ai-semantic-conventions 0.5.29 (llm.*), 0.8-0.22 (flattened gen_ai.prompt.N.*), 0.25+
    // (current conventions, plus a few names of its own); the collector's genainormalizer rows.
    name: 'openllmetry',
    convention: 'OpenLLMetry / Traceloop (@traceloop/ai-semantic-conventions 0.5.29 to 0.27)',
    inputIncludesCache: true,
    rows: [
      { from: 'llm.request.type', to: GenAI.operationName, value: TRACELOOP_REQUEST_TYPES },
      { from: 'traceloop.span.kind', to: GenAI.operationName, value: TRACELOOP_KINDS },
      { from: 'llm.vendor', to: GenAI.providerName, value: 'provider' },
      { from: 'llm.request.model', to: GenAI.requestModel },
      { from: 'llm.response.model', to: GenAI.responseModel },
      { from: 'llm.request.max_tokens', to: GenAI.requestMaxTokens },
      { from: 'llm.temperature', to: GenAI.requestTemperature },
      { from: 'llm.request.temperature', to: GenAI.requestTemperature },
      { from: 'llm.top_p', to: GenAI.requestTopP },
      { from: 'llm.request.top_p', to: GenAI.requestTopP },
      { from: 'llm.top_k', to: GenAI.requestTopK },
      { from: 'llm.frequency_penalty', to: 'gen_ai.request.frequency_penalty' },
      { from: 'llm.presence_penalty', to: 'gen_ai.request.presence_penalty' },
      { from: 'llm.chat.stop_sequences', to: 'gen_ai.request.stop_sequences' },
      { from: 'llm.request.functions', to: GenAI.toolDefinitions },
      { from: 'llm.response.finish_reason', to: GenAI.finishReasons, value: 'string_array' },
      { from: 'llm.response.stop_reason', to: GenAI.finishReasons, value: 'string_array' },
      { from: 'llm.usage.prompt_tokens', to: GenAI.inputTokens, value: 'int' },
      { from: 'llm.usage.completion_tokens', to: GenAI.outputTokens, value: 'int' },
      { from: 'llm.usage.total_tokens', to: GenAI.totalTokens, value: 'int' },
      { from: 'gen_ai.usage.cache_read_input_tokens', to: GenAI.cacheReadTokens, value: 'int' },
      { from: 'gen_ai.usage.cache_creation_input_tokens', to: GenAI.cacheWriteTokens, value: 'int' },
      { from: 'gen_ai.usage.reasoning_tokens', to: GenAI.reasoningTokens, value: 'int' },
      { from: 'traceloop.entity.input', to: GenAI.inputMessages },
      { from: 'traceloop.entity.output', to: GenAI.outputMessages },
      { from: 'traceloop.workflow.name', to: GenAI.workflowName },
    ],
    messages: [
      { prefix: 'gen_ai.prompt.', to: GenAI.inputMessages, role: 'role', content: 'content', toolCallId: 'tool_call_id' },
      { prefix: 'gen_ai.completion.', to: GenAI.outputMessages, role: 'role', content: 'content', toolCalls: { prefix: 'tool_calls.', id: 'id', name: 'name', args: 'arguments' } },
      { prefix: 'llm.prompts.', to: GenAI.inputMessages, role: 'role', content: 'content' },
      { prefix: 'llm.completions.', to: GenAI.outputMessages, role: 'role', content: 'content' },
    ],
  },
  {
    // ai@4-6 (`experimental_telemetry`), and ai@7's LegacyOpenTelemetry: dist/index.mjs of each.
    // Per-call usage is on doGenerate/doStream spans, the outer span repeats the sum: only the
    // per-call spans' ai.usage.* count. ai@7's own GenAI spans need no rows (see aggregate_agent_usage).
    name: 'vercel_ai',
    convention: 'Vercel AI SDK telemetry, ai.* spans (ai@4 to ai@6, @ai-sdk/otel LegacyOpenTelemetry)',
    inputIncludesCache: true,
    spanNames: {
      'ai.generateText': Operation.invokeAgent, 'ai.streamText': Operation.invokeAgent,
      'ai.generateObject': Operation.invokeAgent, 'ai.streamObject': Operation.invokeAgent,
      'ai.generateText.doGenerate': Operation.chat, 'ai.streamText.doStream': Operation.chat,
      'ai.generateObject.doGenerate': Operation.chat, 'ai.streamObject.doStream': Operation.chat,
      'ai.embed.doEmbed': Operation.embeddings, 'ai.embedMany.doEmbed': Operation.embeddings,
      'ai.rerank.doRerank': Operation.retrieval, 'ai.toolCall': Operation.executeTool,
    },
    rows: [
      { from: 'ai.model.provider', to: GenAI.providerName, value: 'provider' },
      { from: 'ai.model.id', to: GenAI.requestModel },
      { from: 'ai.response.model', to: GenAI.responseModel },
      { from: 'ai.response.id', to: GenAI.responseId },
      { from: 'ai.response.finishReason', to: GenAI.finishReasons, value: 'string_array', when: 'model_call' },
      { from: 'ai.usage.promptTokens', to: GenAI.inputTokens, value: 'int', when: 'model_call' },
      { from: 'ai.usage.inputTokens', to: GenAI.inputTokens, value: 'int', when: 'model_call' },
      { from: 'ai.usage.tokens', to: GenAI.inputTokens, value: 'int', when: 'model_call' },
      { from: 'ai.usage.completionTokens', to: GenAI.outputTokens, value: 'int', when: 'model_call' },
      { from: 'ai.usage.outputTokens', to: GenAI.outputTokens, value: 'int', when: 'model_call' },
      { from: 'ai.usage.cachedInputTokens', to: GenAI.cacheReadTokens, value: 'int', when: 'model_call' },
      { from: 'ai.usage.inputTokenDetails.cacheReadTokens', to: GenAI.cacheReadTokens, value: 'int', when: 'model_call' },
      { from: 'ai.usage.inputTokenDetails.cacheWriteTokens', to: GenAI.cacheWriteTokens, value: 'int', when: 'model_call' },
      { from: 'ai.usage.reasoningTokens', to: GenAI.reasoningTokens, value: 'int', when: 'model_call' },
      { from: 'ai.usage.outputTokenDetails.reasoningTokens', to: GenAI.reasoningTokens, value: 'int', when: 'model_call' },
      { from: 'ai.telemetry.functionId', to: GenAI.agentName, when: 'run' },
      { from: 'ai.toolCall.name', to: GenAI.toolName },
      { from: 'ai.toolCall.id', to: GenAI.toolCallId },
      { from: 'ai.toolCall.args', to: GenAI.toolCallArguments },
      { from: 'ai.toolCall.input', to: GenAI.toolCallArguments },
      { from: 'ai.toolCall.result', to: GenAI.toolCallResult },
      { from: 'ai.toolCall.output', to: GenAI.toolCallResult },
      { from: 'ai.prompt.messages', to: GenAI.inputMessages, value: 'chat_messages', when: 'model_call' },
      { from: 'ai.telemetry.metadata.sessionId', to: GenAI.conversationId },
    ],
  },
  {
    // @langfuse/core 5.11 LangfuseOtelSpanAttributes. Usage keys are additive there (each is priced
    // on its own), so `input` leaves the cached tokens out.
    name: 'langfuse',
    convention: 'Langfuse OTel attributes (@langfuse/core 4.x and 5.x)',
    inputIncludesCache: false,
    rows: [
      { from: 'langfuse.observation.type', to: GenAI.operationName, value: { generation: Operation.chat, embedding: Operation.embeddings, agent: Operation.invokeAgent, tool: Operation.executeTool, retriever: Operation.retrieval, span: null, event: null, chain: null, evaluator: null, guardrail: null } },
      { from: 'langfuse.observation.model.name', to: GenAI.requestModel },
      { from: 'langfuse.observation.input', to: GenAI.inputMessages, value: 'chat_messages' },
      { from: 'langfuse.observation.output', to: GenAI.outputMessages, value: 'chat_messages' },
      { from: 'langfuse.session.id', to: GenAI.conversationId },
    ],
    usageJson: {
      from: 'langfuse.observation.usage_details',
      fields: {
        input: 'input', prompt_tokens: 'input', input_tokens: 'input', output: 'output', completion_tokens: 'output', output_tokens: 'output',
        total: 'total', cache_read_input_tokens: 'cache_read', input_cached_tokens: 'cache_read', input_cache_read: 'cache_read',
        cache_creation_input_tokens: 'cache_write', input_cache_creation: 'cache_write', output_reasoning_tokens: 'reasoning', reasoning_tokens: 'reasoning',
      },
    },
  },
  {
    // langsmith 0.12 lib/experimental/otel (constants.mjs, translator.mjs).
    name: 'langsmith',
    convention: 'LangSmith OTel export (langsmith 0.12 experimental/otel)',
    inputIncludesCache: true,
    rows: [
      { from: 'langsmith.span.kind', to: GenAI.operationName, value: { llm: Operation.chat, tool: Operation.executeTool, retriever: Operation.retrieval, embedding: Operation.embeddings, chain: null, prompt: null, parser: null } },
      { from: 'langsmith.metadata.ls_model_name', to: GenAI.requestModel },
      { from: 'langsmith.metadata.ls_provider', to: GenAI.providerName, value: 'provider' },
      { from: 'langsmith.metadata.thread_id', to: GenAI.conversationId },
      { from: 'langsmith.metadata.session_id', to: GenAI.conversationId },
      { from: 'langsmith.metadata.conversation_id', to: GenAI.conversationId },
    ],
  },
  {
    // pydantic/pydantic-ai v2.33 _instrumentation.py (format versions 2 to 6).
    name: 'pydanticai',
    convention: 'Pydantic AI instrumentation (format versions 2 to 6) and Logfire',
    inputIncludesCache: true,
    spanNames: { 'agent run': Operation.invokeAgent, 'running tool': Operation.executeTool, 'running output function': Operation.executeTool },
    rows: [
      { from: 'agent_name', to: GenAI.agentName },
      { from: 'model_name', to: GenAI.requestModel },
      { from: 'operation.cost', to: GenAI.cost, value: 'double' },
      { from: 'tool_arguments', to: GenAI.toolCallArguments },
      { from: 'tool_response', to: GenAI.toolCallResult },
      { from: 'gen_ai.usage.details.reasoning_tokens', to: GenAI.reasoningTokens, value: 'int' },
    ],
  },
  {
    // The collector's genainormalizer crewai rows, and crewAI's own telemetry (telemetry.py).
    name: 'crewai',
    convention: 'CrewAI telemetry attributes',
    inputIncludesCache: true,
    rows: [
      { from: 'agent_role', to: GenAI.agentName },
      { from: 'crewai.agent.role', to: GenAI.agentName },
      { from: 'crew_id', to: GenAI.conversationId },
      { from: 'crewai.crew.name', to: GenAI.workflowName },
      { from: 'tool_name', to: GenAI.toolName },
    ],
  },
  {
    // The collector's genainormalizer langchain rows.
    name: 'langchain',
    convention: 'LangChain / LangGraph attributes',
    inputIncludesCache: true,
    rows: [
      { from: 'lc.metadata.thread_id', to: GenAI.conversationId },
      { from: 'langgraph.node.name', to: GenAI.agentName },
    ],
  },
];

export const BUILTIN_NAMES: readonly string[] = BUILTIN_SOURCES.map((s) => s.name);
