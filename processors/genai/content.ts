// Content hygiene: prompts, completions, tool arguments and results under any dialect's name are
// kept, dropped, cut to a byte limit, or replaced by their SHA-256, so that a sidecar does not ship
// prompts to a backend by accident.
import { createHash } from 'node:crypto';
import type { AnyValue } from '../../src/pdata/telemetry.js';
import { GenAI, plainValue } from '../../src/vocab/index.js';

export type ContentMode = 'keep' | 'drop' | 'truncate' | 'hash';

/** Attributes that carry content, by exact name. */
const CONTENT_KEYS = new Set<string>([
  GenAI.inputMessages, GenAI.outputMessages, GenAI.systemInstructions, GenAI.toolCallArguments, GenAI.toolCallResult,
  'gen_ai.prompt', 'gen_ai.completion', 'gen_ai.retrieval.query.text', 'gen_ai.retrieval.documents',
  // OpenInference
  'input.value', 'output.value', 'llm.prompts', 'llm.prompt_template.template', 'llm.prompt_template.variables', 'tool.parameters',
  'retrieval.documents', 'embedding.text',
  // Vercel AI SDK
  'ai.prompt', 'ai.prompt.messages', 'ai.prompt.system', 'ai.response.text', 'ai.response.toolCalls', 'ai.response.object', 'ai.response.reasoning',
  'ai.toolCall.args', 'ai.toolCall.result', 'ai.toolCall.input', 'ai.toolCall.output', 'ai.value', 'ai.values', 'ai.embedding', 'ai.embeddings', 'ai.schema',
  // OpenLLMetry / Traceloop
  'traceloop.entity.input', 'traceloop.entity.output',
  // Langfuse, LangSmith
  'langfuse.observation.input', 'langfuse.observation.output', 'langfuse.trace.input', 'langfuse.trace.output',
  'langsmith.inputs', 'langsmith.outputs', 'gen_ai.prompt.raw', 'gen_ai.completion.raw',
  // Pydantic AI / Logfire
  'all_messages_events', 'pydantic_ai.all_messages', 'tool_arguments', 'tool_response', 'final_result',
  // CrewAI / LangChain (through OpenLLMetry or their own exporters)
  'crewai.task.description', 'crewai.task.expected_output', 'crewai.agent.backstory', 'crewai.agent.goal',
]);

/** Attributes that carry content, by prefix (flattened message lists). */
const CONTENT_PREFIXES = [
  'gen_ai.prompt.', 'gen_ai.completion.', 'llm.input_messages.', 'llm.output_messages.', 'llm.prompts.', 'llm.completions.',
  'llm.prompt_template.', 'llm.tools.', 'retrieval.documents.', 'embedding.embeddings.', 'ai.prompt.', 'langsmith.inputs.', 'langsmith.outputs.',
];

/** Prefix entries that are counts or metadata, not content. */
const NOT_CONTENT = new Set(['gen_ai.prompt.name', 'gen_ai.prompt.id', 'gen_ai.prompt.version', 'ai.prompt.format']);

/** Prefixes grouped by their first segment (`llm`, `gen_ai`, ...): most keys are told apart by
 *  one Set lookup and one Map lookup. */
const PREFIXES_BY_HEAD = new Map<string, string[]>();
for (const p of CONTENT_PREFIXES) {
  const head = p.slice(0, p.indexOf('.'));
  const list = PREFIXES_BY_HEAD.get(head) ?? [];
  list.push(p);
  PREFIXES_BY_HEAD.set(head, list);
}

export function isContent(key: string): boolean {
  if (CONTENT_KEYS.has(key)) return true;
  const dot = key.indexOf('.');
  if (dot < 0) return false;
  const list = PREFIXES_BY_HEAD.get(key.slice(0, dot));
  if (list === undefined || NOT_CONTENT.has(key)) return false;
  for (const p of list) if (key.startsWith(p)) return true;
  return false;
}

/** A string cut to at most `max` UTF-8 bytes, on a character boundary, marked with an ellipsis. */
export function cutUtf8(s: string, max: number): string {
  if (s.length * 3 <= max) return s; // cannot exceed max bytes
  const b = Buffer.from(s, 'utf8');
  if (b.length <= max) return s;
  const room = Math.max(0, max - 3); // the ellipsis takes 3 bytes
  let end = room;
  while (end > 0 && (b[end]! & 0xc0) === 0x80) end--; // not inside a multi-byte character
  return b.subarray(0, end).toString('utf8') + '…';
}

/** The value that replaces a content value under `mode`; undefined means drop the attribute;
 *  `same` means keep it as it is. */
export function applyContent(mode: ContentMode, value: AnyValue | undefined, encodedSize: number, maxBytes: number): AnyValue | undefined | 'same' {
  if (mode === 'keep') return 'same';
  if (mode === 'drop') return undefined;
  const text = value === undefined ? '' : typeof value.stringValue === 'string' ? value.stringValue : JSON.stringify(plainValue(value));
  if (mode === 'hash') return { stringValue: `sha256:${createHash('sha256').update(text).digest('hex')}` };
  if (encodedSize <= maxBytes && typeof value?.stringValue === 'string') return 'same';
  return { stringValue: cutUtf8(text, maxBytes) };
}
