// The GenAI vocabulary: attribute names, operation and provider values, as the OpenTelemetry GenAI
// semantic conventions spell them. Components name these constants instead of spelling strings.

/** The conventions fleetcol writes (and reads, with the older spellings in DEPRECATED below). */
export const GENAI_CONVENTIONS = {
  /** The conventions moved here in 2026-05; it has published no release yet, so fleetcol follows
   *  its main branch as of 2026-08, whose schema is the dev channel's 1.42.0-dev. */
  repository: 'open-telemetry/semantic-conventions-genai',
  version: '1.42.0-dev',
  schemaUrl: 'https://opentelemetry.io/schemas/gen-ai-dev/1.42.0-dev',
  /** The last release of the GenAI conventions inside open-telemetry/semantic-conventions: names
   *  that differ there (cache_creation) are read as older spellings. */
  lastCoreRelease: '1.41.0',
} as const;

export const GenAI = {
  operationName: 'gen_ai.operation.name',
  providerName: 'gen_ai.provider.name',
  requestModel: 'gen_ai.request.model',
  responseModel: 'gen_ai.response.model',
  responseId: 'gen_ai.response.id',
  finishReasons: 'gen_ai.response.finish_reasons',
  requestMaxTokens: 'gen_ai.request.max_tokens',
  requestTemperature: 'gen_ai.request.temperature',
  requestTopP: 'gen_ai.request.top_p',
  requestTopK: 'gen_ai.request.top_k',
  requestStream: 'gen_ai.request.stream',
  inputTokens: 'gen_ai.usage.input_tokens',
  outputTokens: 'gen_ai.usage.output_tokens',
  /** Part of input_tokens, not in addition to it. */
  cacheReadTokens: 'gen_ai.usage.cache_read.input_tokens',
  /** Part of input_tokens, not in addition to it. */
  cacheWriteTokens: 'gen_ai.usage.cache_write.input_tokens',
  /** Part of output_tokens. */
  reasoningTokens: 'gen_ai.usage.reasoning.output_tokens',
  /** input + output; fleetcol's, derived (the conventions leave the sum to the reader). */
  totalTokens: 'gen_ai.usage.total_tokens',
  /** USD; fleetcol's own until the conventions define one. */
  cost: 'gen_ai.usage.cost',
  agentId: 'gen_ai.agent.id',
  agentName: 'gen_ai.agent.name',
  agentDescription: 'gen_ai.agent.description',
  agentVersion: 'gen_ai.agent.version',
  conversationId: 'gen_ai.conversation.id',
  toolName: 'gen_ai.tool.name',
  toolCallId: 'gen_ai.tool.call.id',
  toolType: 'gen_ai.tool.type',
  toolDescription: 'gen_ai.tool.description',
  toolCallArguments: 'gen_ai.tool.call.arguments',
  toolCallResult: 'gen_ai.tool.call.result',
  toolDefinitions: 'gen_ai.tool.definitions',
  inputMessages: 'gen_ai.input.messages',
  outputMessages: 'gen_ai.output.messages',
  systemInstructions: 'gen_ai.system_instructions',
  outputType: 'gen_ai.output.type',
  dataSourceId: 'gen_ai.data_source.id',
  workflowName: 'gen_ai.workflow.name',
  tokenType: 'gen_ai.token.type',
  errorType: 'error.type',
} as const;

/** Where fleetcol's cost came from: `instrumentation` (kept as sent), `price_table`, `config`. */
export const COST_SOURCE = 'fleetcol.gen_ai.cost.source';

/** Older names of current attributes (the value carries over unchanged). */
export const DEPRECATED_ATTRIBUTES: Readonly<Record<string, string>> = {
  'gen_ai.system': GenAI.providerName,
  'gen_ai.usage.prompt_tokens': GenAI.inputTokens,
  'gen_ai.usage.completion_tokens': GenAI.outputTokens,
  'gen_ai.usage.cache_creation.input_tokens': GenAI.cacheWriteTokens,
  'gen_ai.usage.cache_creation_input_tokens': GenAI.cacheWriteTokens,
  'gen_ai.usage.cache_read_input_tokens': GenAI.cacheReadTokens,
  'gen_ai.usage.reasoning_tokens': GenAI.reasoningTokens,
  'gen_ai.openai.request.seed': 'gen_ai.request.seed',
  'gen_ai.prompt': GenAI.inputMessages,
  'gen_ai.completion': GenAI.outputMessages,
};

export const Operation = {
  chat: 'chat',
  textCompletion: 'text_completion',
  generateContent: 'generate_content',
  embeddings: 'embeddings',
  retrieval: 'retrieval',
  executeTool: 'execute_tool',
  createAgent: 'create_agent',
  invokeAgent: 'invoke_agent',
  invokeWorkflow: 'invoke_workflow',
} as const;
export type OperationName = (typeof Operation)[keyof typeof Operation];
export const OPERATIONS: ReadonlySet<string> = new Set(Object.values(Operation));
/** Operations that call a model (and so have tokens and a price). */
export const MODEL_OPERATIONS: ReadonlySet<string> = new Set([Operation.chat, Operation.textCompletion, Operation.generateContent, Operation.embeddings]);

/** Current gen_ai.provider.name values. */
export const PROVIDERS: ReadonlySet<string> = new Set([
  'anthropic', 'aws.bedrock', 'azure.ai.inference', 'azure.ai.openai', 'cohere', 'deepseek', 'gcp.gemini', 'gcp.gen_ai',
  'gcp.vertex_ai', 'groq', 'ibm.watsonx.ai', 'mistral_ai', 'moonshot_ai', 'openai', 'perplexity', 'x_ai',
]);

/** Provider spellings seen in the wild (older conventions, frameworks) → the current value. Keys
 *  are lower case; look up with `providerName`. */
const PROVIDER_ALIASES: Readonly<Record<string, string>> = {
  'az.ai.inference': 'azure.ai.inference',
  'az.ai.openai': 'azure.ai.openai',
  azure: 'azure.ai.openai',
  azure_openai: 'azure.ai.openai',
  'azure-openai': 'azure.ai.openai',
  azureopenai: 'azure.ai.openai',
  vertex_ai: 'gcp.vertex_ai',
  vertexai: 'gcp.vertex_ai',
  'google-vertex': 'gcp.vertex_ai',
  'google.vertex': 'gcp.vertex_ai',
  gemini: 'gcp.gemini',
  google: 'gcp.gemini',
  'google.generative-ai': 'gcp.gemini',
  'google-genai': 'gcp.gen_ai',
  google_genai: 'gcp.gen_ai',
  xai: 'x_ai',
  'x-ai': 'x_ai',
  grok: 'x_ai',
  bedrock: 'aws.bedrock',
  'amazon-bedrock': 'aws.bedrock',
  aws_bedrock: 'aws.bedrock',
  aws: 'aws.bedrock',
  mistral: 'mistral_ai',
  mistralai: 'mistral_ai',
  watsonx: 'ibm.watsonx.ai',
  'ibm-watsonx': 'ibm.watsonx.ai',
  'openai.chat': 'openai',
  'openai.responses': 'openai',
  'openai.completion': 'openai',
  'anthropic.messages': 'anthropic',
  'groq.chat': 'groq',
  'mistral.chat': 'mistral_ai',
  'deepseek.chat': 'deepseek',
  'xai.chat': 'x_ai',
  'google.vertex.chat': 'gcp.vertex_ai',
  'google.generative-ai.chat': 'gcp.gemini',
  'amazon-bedrock.chat': 'aws.bedrock',
  'azure-openai.chat': 'azure.ai.openai',
  'cohere.chat': 'cohere',
  'perplexity.chat': 'perplexity',
  amazon: 'aws.bedrock',
  moonshot: 'moonshot_ai',
  moonshotai: 'moonshot_ai',
  'google-cloud': 'gcp.vertex_ai',
  'bedrock-mantle': 'aws.bedrock',
};

/** Suffixes the Vercel AI SDK puts after a provider (`openai.chat`, `localllm.chat`). */
const API_SUFFIX = /\.(chat|responses|completion|completions|embedding|embeddings|image|transcription|speech)$/;

/** A provider spelling → the current gen_ai.provider.name value (unknown ones lower-cased, kept). */
export function providerName(raw: string): string {
  const v = raw.trim().toLowerCase();
  if (PROVIDERS.has(v)) return v;
  const alias = PROVIDER_ALIASES[v];
  if (alias !== undefined) return alias;
  const bare = v.replace(API_SUFFIX, '');
  return bare === v ? v : providerName(bare);
}

/** Model name prefixes that name one provider without doubt (a model served elsewhere, such as
 *  Claude on Bedrock, carries its host's prefix or an explicit provider). */
const MODEL_PROVIDERS: readonly (readonly [string, string])[] = [
  ['gpt-', 'openai'], ['o1', 'openai'], ['o3', 'openai'], ['o4-', 'openai'], ['chatgpt-', 'openai'], ['text-embedding-', 'openai'],
  ['davinci', 'openai'], ['babbage', 'openai'], ['claude-', 'anthropic'], ['gemini-', 'gcp.gemini'], ['models/gemini', 'gcp.gemini'],
  ['grok-', 'x_ai'], ['deepseek-', 'deepseek'], ['command-', 'cohere'], ['mistral-', 'mistral_ai'], ['mixtral-', 'mistral_ai'],
  ['codestral', 'mistral_ai'], ['pixtral', 'mistral_ai'], ['sonar', 'perplexity'], ['anthropic.claude', 'aws.bedrock'],
  ['amazon.', 'aws.bedrock'], ['us.anthropic.', 'aws.bedrock'], ['eu.anthropic.', 'aws.bedrock'],
];

/** The provider a model name implies, where only one provider serves it under that name. */
export function providerOfModel(model: string): string | undefined {
  const m = model.toLowerCase();
  for (const [prefix, provider] of MODEL_PROVIDERS) {
    if (m.startsWith(prefix)) {
      // o1/o3 also start other names (o1-mini yes, "o3de" no): require a digit boundary.
      if ((prefix === 'o1' || prefix === 'o3') && m.length > 2 && m[2] !== '-') return undefined;
      return provider;
    }
  }
  return undefined;
}

/** The operation a span name states, per the conventions' `{operation} {target}` span names. */
export function operationOfSpanName(name: string): OperationName | undefined {
  const sp = name.indexOf(' ');
  const head = sp < 0 ? name : name.slice(0, sp);
  return OPERATIONS.has(head) ? (head as OperationName) : undefined;
}
