// Normalising one span or log record: every source's rows compiled at configure time into one map
// from attribute name to what becomes of it, then applied per item in one pass over its keys. Values
// are decoded only where a rule needs them (value tables, numbers, the facts cost needs); a plain
// rename carries the value's bytes across untouched.
import type { NewAttr, WireItem } from '../../src/pdata/edit.js';
import type { AnyValue } from '../../src/pdata/telemetry.js';
import { A2A, GenAI, num, str, providerName } from '../../src/vocab/index.js';
import { BUILTIN_SOURCES, SEMCONV, type BuiltinSource, type MessageList, type Row, type ValueRule, type When } from './sources.js';

export interface SourceConfig {
  name: string;
  remove_originals?: boolean;
  overwrite?: boolean;
  /** user-defined sources: attribute → target */
  mappings?: Record<string, string>;
  /** user-defined sources: target → { source value → target value } */
  value_mappings?: Record<string, Record<string, string>>;
  /** whether this source's input token count includes cached tokens (default: the convention's) */
  input_includes_cache?: boolean;
}

interface Rule {
  source: string;
  /** the source's place in the list: where two sources name one target, the earlier wins */
  rank: number;
  to: string;
  value: ValueRule;
  when: When;
  remove: boolean;
  overwrite: boolean;
  inputIncludesCache: boolean;
}

interface ListRule {
  source: string;
  list: MessageList;
  remove: boolean;
  overwrite: boolean;
}

interface KeyInfo {
  fact: keyof Facts | undefined;
  rule: Rule | undefined;
  json: { source: BuiltinSource; remove: boolean } | undefined;
  list: ListRule | undefined;
}
const NOTHING: KeyInfo = { fact: undefined, rule: undefined, json: undefined, list: undefined };
/** Distinct keys remembered at most. */
const MAX_KEY_INFOS = 10_000;

/** What cost and attribution need to know of an item, in current names. */
export interface Facts {
  operation: string | undefined;
  provider: string | undefined;
  requestModel: string | undefined;
  responseModel: string | undefined;
  input: number | undefined;
  output: number | undefined;
  cacheRead: number | undefined;
  cacheWrite: number | undefined;
  reasoning: number | undefined;
  total: number | undefined;
  cost: number | undefined;
  agentId: string | undefined;
  agentName: string | undefined;
  /** a2a.task.id: published as a task sighting (src/a2a/sightings.ts) */
  taskId: string | undefined;
  /** the input count read left cached tokens out (a source whose counts are additive) */
  inputExcludesCache: boolean;
}

/** Longest JSON usage object parsed (Langfuse usage_details). */
const MAX_USAGE_JSON = 4096;
/** Longest JSON message list converted (longer ones are carried as they are). */
const MAX_MESSAGES_JSON = 1 << 20;
/** Message list entries rebuilt at most per item (indexes above are left as they are). */
const MAX_MESSAGES = 256;

const FACT_KEYS: Readonly<Record<string, keyof Facts>> = {
  [GenAI.operationName]: 'operation',
  [GenAI.providerName]: 'provider',
  [GenAI.requestModel]: 'requestModel',
  [GenAI.responseModel]: 'responseModel',
  [GenAI.inputTokens]: 'input',
  [GenAI.outputTokens]: 'output',
  [GenAI.cacheReadTokens]: 'cacheRead',
  [GenAI.cacheWriteTokens]: 'cacheWrite',
  [GenAI.reasoningTokens]: 'reasoning',
  [GenAI.totalTokens]: 'total',
  [GenAI.cost]: 'cost',
  [GenAI.agentId]: 'agentId',
  [GenAI.agentName]: 'agentName',
  [A2A.taskId]: 'taskId',
};
const NUMERIC: ReadonlySet<keyof Facts> = new Set(['input', 'output', 'cacheRead', 'cacheWrite', 'reasoning', 'total', 'cost']);

export function emptyFacts(): Facts {
  return {
    operation: undefined, provider: undefined, requestModel: undefined, responseModel: undefined, input: undefined, output: undefined,
    cacheRead: undefined, cacheWrite: undefined, reasoning: undefined, total: undefined, cost: undefined, agentId: undefined, agentName: undefined,
    taskId: undefined, inputExcludesCache: false,
  };
}

function clearFacts(f: Facts): Facts {
  f.operation = f.provider = f.requestModel = f.responseModel = undefined;
  f.input = f.output = f.cacheRead = f.cacheWrite = f.reasoning = f.total = f.cost = undefined;
  f.agentId = f.agentName = f.taskId = undefined;
  f.inputExcludesCache = false;
  return f;
}

/** The result of normalising one item: attributes to drop (indexes) and to add, and its facts. */
export interface Normalized {
  drop: number[];
  add: NewAttr[];
  facts: Facts;
}

export class Normalizer {
  private readonly rules = new Map<string, Rule>();
  private rank = 0;
  private readonly lists: ListRule[] = [];
  private readonly spanNames = new Map<string, string>();
  private readonly usageJson = new Map<string, { source: BuiltinSource; remove: boolean }>();
  /** first characters of every list prefix: most keys skip the prefix scan on one lookup */
  private readonly listHeads = new Set<string>();
  private readonly infos = new Map<string, KeyInfo>();
  /** the flattened message attributes of the item being normalised */
  private readonly listAttrs = new ListAttributes();

  constructor(sources: readonly SourceConfig[]) {
    const builtins = new Map(BUILTIN_SOURCES.map((s) => [s.name, s]));
    // The conventions' own older names come first and always: every other source writes current ones.
    this.addBuiltin(SEMCONV, { name: 'semconv' });
    for (const sc of sources) {
      const b = builtins.get(sc.name);
      if (b !== undefined) this.addBuiltin(b, sc);
      else this.addCustom(sc);
    }
  }

  private addBuiltin(b: BuiltinSource, sc: SourceConfig): void {
    const remove = sc.remove_originals ?? false;
    const overwrite = sc.overwrite ?? false;
    const inputIncludesCache = sc.input_includes_cache ?? b.inputIncludesCache;
    this.rank++;
    for (const row of b.rows) this.addRule(row, b.name, remove, overwrite, inputIncludesCache);
    for (const list of b.messages ?? []) {
      this.lists.push({ source: b.name, list, remove, overwrite });
      this.listHeads.add(list.prefix.slice(0, 4));
    }
    for (const [name, op] of Object.entries(b.spanNames ?? {})) if (!this.spanNames.has(name)) this.spanNames.set(name, op);
    if (b.usageJson) this.usageJson.set(b.usageJson.from, { source: b, remove });
  }

  private addCustom(sc: SourceConfig): void {
    this.rank++;
    for (const [from, to] of Object.entries(sc.mappings ?? {})) {
      const table = sc.value_mappings?.[to];
      const value: ValueRule = table ? Object.fromEntries(Object.entries(table).map(([k, v]) => [k.toLowerCase(), v])) : to === GenAI.providerName ? 'provider' : 'copy';
      // A user's mapping wins over a built-in row for the same attribute (configured later).
      this.rules.delete(from);
      this.addRule({ from, to, value }, sc.name, sc.remove_originals ?? false, sc.overwrite ?? false, sc.input_includes_cache ?? true);
    }
  }

  private addRule(row: Row, source: string, remove: boolean, overwrite: boolean, inputIncludesCache: boolean): void {
    if (this.rules.has(row.from)) return; // the first source listed that knows a name wins
    this.rules.set(row.from, { source, rank: this.rank, to: row.to, value: row.value ?? 'copy', when: row.when ?? 'always', remove, overwrite, inputIncludesCache });
  }

  /** What a key is to the normaliser, worked out once per distinct key: most keys repeat in
   *  every span, and one Map lookup costs less than the four it replaces. Bounded: keys come
   *  from clients. */
  private info(key: string): KeyInfo {
    let info = this.infos.get(key);
    if (info !== undefined) return info;
    const fact = FACT_KEYS[key];
    const rule = this.rules.get(key);
    const json = rule === undefined ? this.usageJson.get(key) : undefined;
    let list: ListRule | undefined;
    if (rule === undefined && json === undefined && this.listHeads.has(key.slice(0, 4))) {
      for (const lr of this.lists) if (key.startsWith(lr.list.prefix)) { list = lr; break; }
    }
    info = fact === undefined && rule === undefined && json === undefined && list === undefined ? NOTHING : { fact, rule, json, list };
    if (this.infos.size < MAX_KEY_INFOS) this.infos.set(key, info);
    return info;
  }

  /** The operation a framework's span name states (Vercel AI SDK, Pydantic AI format 2). */
  operationOfName(name: string): string | undefined {
    return this.spanNames.get(name);
  }

  /** the facts of the item being normalised: one object, cleared per item (an object per span
   *  was ~140 bytes of garbage each) */
  private readonly facts = emptyFacts();

  /** Normalises one item. `name` is the span name ('' for log records). The facts returned are
   *  valid until the next call. */
  apply(item: WireItem, name: string): Normalized {
    const facts = clearFacts(this.facts);
    const drop: number[] = [];
    const add: NewAttr[] = [];
    const keys = item.keys;
    const n = keys.length;
    const modelCall = name.startsWith('ai.') && (name.endsWith('.doGenerate') || name.endsWith('.doStream') || name.endsWith('.doEmbed'));
    const run = !modelCall && this.spanNames.get(name) === 'invoke_agent';
    /** targets present in the item as sent, or added here: a later source does not add them again */
    const present = new Present(keys, add);
    const lists = this.listAttrs;
    lists.clear();
    /** rank of the rule behind each entry of `add` (sparse: other entries have none) */
    let ranks: number[] | undefined;

    for (let i = 0; i < n; i++) {
      const key = keys[i]!;
      const info = this.info(key);
      if (info === NOTHING) continue;
      if (info.fact !== undefined) this.readFact(facts, info.fact, item, i);
      const rule = info.rule;
      if (rule !== undefined) {
        if (rule.when === 'model_call' && !modelCall) continue;
        if (rule.when === 'run' && !run) continue;
        const targetThere = keys.includes(rule.to);
        if (targetThere && !rule.overwrite) {
          if (rule.remove) drop.push(i);
          continue;
        }
        const earlier = addedAt(add, rule.to);
        if (earlier >= 0 && (ranks![earlier] ?? 0) <= rule.rank) {
          if (rule.remove) drop.push(i);
          continue;
        }
        const v = this.convert(rule, item, i);
        if (v !== undefined && earlier >= 0) {
          add[earlier] = v; // an earlier-listed source's value replaces a later one's
          ranks![earlier] = rule.rank;
          const f = FACT_KEYS[rule.to];
          if (f !== undefined) this.factFromNew(facts, f, v, true);
        } else if (v !== undefined) {
          ranks ??= [];
          ranks[add.length] = rule.rank;
          if (targetThere) {
            const at = keys.indexOf(rule.to);
            if (at >= 0) drop.push(at);
          }
          add.push(v);
          
          const f = FACT_KEYS[rule.to];
          if (f !== undefined) this.factFromNew(facts, f, v, targetThere);
          if (rule.to === GenAI.inputTokens && !rule.inputIncludesCache) facts.inputExcludesCache = true;
        }
        if (rule.remove) drop.push(i);
        continue;
      }
      const json = info.json;
      if (json !== undefined) {
        this.usageFromJson(facts, add, present, item, i, json.source);
        if (json.remove) drop.push(i);
        continue;
      }
      const lr = info.list;
      if (lr !== undefined) {
        lists.collect(lr, key, item, i);
        if (lr.remove) drop.push(i);
      }
    }
    for (let l = 0; l < lists.rules.length; l++) {
      const lr = lists.rules[l]!;
      if (present.has(lr.list.to) && !lr.overwrite) continue;
      if (added(add, lr.list.to)) continue;
      add.push({ key: lr.list.to, value: { stringValue: lists.messagesJson(lr) } });
    }
    return { drop, add, facts };
  }

  private readFact(facts: Facts, fact: keyof Facts, item: WireItem, i: number): void {
    if (facts[fact] !== undefined) return;
    if (NUMERIC.has(fact)) (facts as any)[fact] = item.numberValue(i);
    else if (fact !== 'inputExcludesCache') (facts as any)[fact] = item.stringValue(i);
  }

  private factFromNew(facts: Facts, fact: keyof Facts, a: NewAttr, replace = false): void {
    const v = a.value;
    if (v === undefined) return; // a raw copy carries no fact (facts' keys are always decoded)
    if (!replace && facts[fact] !== undefined) return;
    if (NUMERIC.has(fact)) (facts as any)[fact] = num(v);
    else if (fact !== 'inputExcludesCache') (facts as any)[fact] = str(v);
  }

  /** The new attribute for rule `rule` from attribute i, or undefined when its value maps to nothing. */
  private convert(rule: Rule, item: WireItem, i: number): NewAttr | undefined {
    const vr = rule.value;
    if (vr === 'copy') {
      // facts need the value of the few keys they read; decode those once here (no view of the
      // bytes made for them)
      if (FACT_KEYS[rule.to] !== undefined) {
        const v = item.value(i);
        return v === undefined ? undefined : { key: rule.to, value: v };
      }
      const raw = item.rawValue(i);
      return raw === undefined ? undefined : { key: rule.to, raw };
    }
    if (vr === 'provider') {
      const s = item.stringValue(i);
      return s === undefined || s === '' ? undefined : { key: rule.to, value: { stringValue: providerName(s) } };
    }
    if (vr === 'int') {
      const n = item.numberValue(i);
      return n === undefined || !Number.isFinite(n) ? undefined : { key: rule.to, value: { intValue: BigInt(Math.trunc(n)) } };
    }
    if (vr === 'double') {
      const n = item.numberValue(i);
      return n === undefined || !Number.isFinite(n) ? undefined : { key: rule.to, value: { doubleValue: n } };
    }
    if (vr === 'chat_messages') {
      const text = item.valueSize(i) <= MAX_MESSAGES_JSON ? item.stringValue(i) : undefined;
      const messages = text === undefined ? undefined : chatMessages(text);
      // Not a list of messages we can read: carried as it is.
      if (messages === undefined) {
        const raw = item.rawValue(i);
        return raw === undefined ? undefined : { key: rule.to, raw };
      }
      return { key: rule.to, value: { stringValue: JSON.stringify(messages) } };
    }
    if (vr === 'string_array') {
      const v = item.value(i);
      if (v?.arrayValue) return { key: rule.to, value: v };
      const s = str(v);
      if (s === undefined) return undefined;
      const parts = s.split(',').map((p) => p.trim()).filter((p) => p !== '');
      return { key: rule.to, value: { arrayValue: { values: parts.map((p) => ({ stringValue: p })) } } };
    }
    const s = item.stringValue(i);
    if (s === undefined) return undefined;
    const mapped = vr[s.toLowerCase()];
    if (mapped === null) return undefined;
    return { key: rule.to, value: { stringValue: mapped ?? s } };
  }

  private usageFromJson(facts: Facts, add: NewAttr[], present: Present, item: WireItem, i: number, source: BuiltinSource): void {
    if (item.valueSize(i) > MAX_USAGE_JSON) return;
    const s = item.stringValue(i);
    if (s === undefined) return;
    let obj: unknown;
    try {
      obj = JSON.parse(s);
    } catch {
      return;
    }
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return;
    const got: Partial<Record<'input' | 'output' | 'total' | 'cache_read' | 'cache_write' | 'reasoning' | 'cost', number>> = {};
    for (const [k, v] of Object.entries(obj as Record<string, unknown>)) {
      const field = source.usageJson!.fields[k];
      if (field === undefined || typeof v !== 'number' || !Number.isFinite(v) || v < 0) continue;
      got[field] = (got[field] ?? 0) + v;
    }
    const put = (key: string, fact: keyof Facts, v: number | undefined, int = true) => {
      if (v === undefined || present.has(key)) return;
      add.push({ key, value: int ? { intValue: BigInt(Math.trunc(v)) } : { doubleValue: v } });
      (facts as any)[fact] = v;
    };
    // Additive usage (input without the cached tokens): the conventions' input includes them.
    const input = got.input === undefined ? undefined : got.input + (source.inputIncludesCache ? 0 : (got.cache_read ?? 0) + (got.cache_write ?? 0));
    put(GenAI.inputTokens, 'input', input);
    put(GenAI.outputTokens, 'output', got.output);
    put(GenAI.cacheReadTokens, 'cacheRead', got.cache_read);
    put(GenAI.cacheWriteTokens, 'cacheWrite', got.cache_write);
    put(GenAI.reasoningTokens, 'reasoning', got.reasoning);
    put(GenAI.totalTokens, 'total', got.total);
  }
}

/** Whether an item has an attribute, as sent or added: linear scans over a dozen keys cost less
 *  than building a Set per item. */
class Present {
  constructor(
    private readonly keys: readonly string[],
    private readonly add: readonly NewAttr[],
  ) {}
  has(key: string): boolean {
    return this.keys.includes(key) || added(this.add, key);
  }
}

function added(add: readonly NewAttr[], key: string): boolean {
  return addedAt(add, key) >= 0;
}

function addedAt(add: readonly NewAttr[], key: string): number {
  for (let i = 0; i < add.length; i++) if (add[i]!.key === key) return i;
  return -1;
}

/**
 * Chat messages as providers and SDKs write them (`{role, content: string}`, or content parts
 * `{type: 'text', text}`, `{type: 'tool-call' | 'tool_use', toolCallId | id, toolName | name,
 * input | args}`, `{type: 'tool-result' | 'tool_result', toolCallId | tool_use_id, output |
 * result | content}`; a single message object is taken as a list of one) → the conventions'
 * `{role, parts}`. Undefined when the text is no such list.
 */
export function chatMessages(text: string): Array<{ role: string; parts: Part[] }> | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  const list = Array.isArray(v) ? v : v !== null && typeof v === 'object' && 'role' in v ? [v] : undefined;
  if (list === undefined) return undefined;
  const out: Array<{ role: string; parts: Part[] }> = [];
  for (const m of list.slice(0, MAX_MESSAGES)) {
    if (m === null || typeof m !== 'object' || typeof (m as { role?: unknown }).role !== 'string') return undefined;
    const { role, content } = m as { role: string; content?: unknown };
    const parts: Part[] = [];
    if (typeof content === 'string') parts.push({ type: 'text', content });
    else if (Array.isArray(content)) {
      for (const p of content.slice(0, MAX_MESSAGES)) {
        if (p === null || typeof p !== 'object') continue;
        const q = p as Record<string, unknown>;
        const type = q['type'];
        if (type === 'text' && typeof q['text'] === 'string') parts.push({ type: 'text', content: q['text'] });
        else if (type === 'reasoning' && typeof q['text'] === 'string') parts.push({ type: 'reasoning', content: q['text'] });
        else if (type === 'tool-call' || type === 'tool_use' || type === 'tool_call') {
          parts.push({ type: 'tool_call', id: str1(q['toolCallId'] ?? q['id']), name: str1(q['toolName'] ?? q['name']), arguments: q['input'] ?? q['args'] ?? q['arguments'] });
        } else if (type === 'tool-result' || type === 'tool_result') {
          const r = q['output'] ?? q['result'] ?? q['content'];
          parts.push({ type: 'tool_call_response', id: str1(q['toolCallId'] ?? q['tool_use_id']), response: typeof r === 'string' ? r : JSON.stringify(r) });
        }
      }
    }
    out.push({ role, parts });
  }
  return out;
}

const str1 = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

interface Part {
  type: string;
  content?: string;
  id?: string;
  name?: string;
  arguments?: unknown;
  response?: string;
}

/** The flattened message attributes of one item (`<prefix><index>.<field>`), gathered in arrays
 *  reused from item to item, then written as the conventions' messages (`[{role, parts}]`) as JSON
 *  text. Maps and an object per entry, then JSON.stringify over a tree, were ~750 bytes of garbage
 *  per OpenInference span (bench/alloc.ts). */
class ListAttributes {
  /** the lists met, in the order of their first attribute */
  readonly rules: ListRule[] = [];
  private readonly rule: ListRule[] = [];
  private readonly index: number[] = [];
  private readonly key: string[] = [];
  /** where the field begins in the key */
  private readonly field: number[] = [];
  private readonly value: string[] = [];
  private n = 0;

  clear(): void {
    this.rules.length = 0;
    this.n = 0;
  }

  /** Files attribute i (`key`, a string value) under its list's entry; others are left out. */
  collect(lr: ListRule, key: string, item: WireItem, i: number): void {
    const at = lr.list.prefix.length;
    const index = digitsAt(key, at);
    if (index < 0 || index >= MAX_MESSAGES) return;
    const fieldAt = key.indexOf('.', at);
    if (fieldAt + 1 >= key.length) return;
    const value = item.stringValue(i);
    if (value === undefined) return;
    if (!this.rules.includes(lr)) this.rules.push(lr);
    const n = this.n++;
    this.rule[n] = lr;
    this.index[n] = index;
    this.key[n] = key;
    this.field[n] = fieldAt + 1;
    this.value[n] = value;
  }

  /** The value of entry `index`'s field `name` (the last attribute naming it), undefined if none. */
  private fieldValue(lr: ListRule, index: number, name: string): string | undefined {
    let v: string | undefined;
    for (let k = 0; k < this.n; k++) if (this.rule[k] === lr && this.index[k] === index && isField(this.key[k]!, this.field[k]!, name)) v = this.value[k];
    return v;
  }

  /** The list's messages, in index order, as JSON text. */
  messagesJson(lr: ListRule): string {
    const list = lr.list;
    const indexes: number[] = [];
    for (let k = 0; k < this.n; k++) if (this.rule[k] === lr && !indexes.includes(this.index[k]!)) indexes.push(this.index[k]!);
    indexes.sort((a, b) => a - b);
    let out = '[';
    for (let m = 0; m < indexes.length; m++) {
      const index = indexes[m]!;
      let role = this.fieldValue(lr, index, list.role) ?? 'user';
      const callId = list.toolCallId ? this.fieldValue(lr, index, list.toolCallId) : undefined;
      const content = this.fieldValue(lr, index, list.content);
      let parts = '';
      if (callId !== undefined) {
        parts = `{"type":"tool_call_response","id":${JSON.stringify(callId)},"response":${JSON.stringify(content ?? '')}}`;
        if (role === 'user') role = 'tool';
      } else if (content !== undefined) parts = `{"type":"text","content":${JSON.stringify(content)}}`;
      if (list.toolCalls) parts = this.toolCalls(lr, index, list.toolCalls, parts);
      out += `${m > 0 ? ',' : ''}{"role":${JSON.stringify(role)},"parts":[${parts}]}`;
    }
    return out + ']';
  }

  /** `parts` with the entry's tool calls (`<prefix><j>.<id|name|args>`) appended, in j order. */
  private toolCalls(lr: ListRule, index: number, tc: NonNullable<MessageList['toolCalls']>, parts: string): string {
    const calls: number[] = [];
    for (let k = 0; k < this.n; k++) {
      if (this.rule[k] !== lr || this.index[k] !== index) continue;
      const key = this.key[k]!;
      const f = this.field[k]!;
      if (!key.startsWith(tc.prefix, f)) continue;
      const j = digitsAt(key, f + tc.prefix.length);
      if (j >= 0 && !calls.includes(j)) calls.push(j);
    }
    calls.sort((a, b) => a - b);
    for (const j of calls) {
      let id: string | undefined, name: string | undefined, args: string | undefined;
      for (let k = 0; k < this.n; k++) {
        if (this.rule[k] !== lr || this.index[k] !== index) continue;
        const key = this.key[k]!;
        const f = this.field[k]! + tc.prefix.length;
        if (!key.startsWith(tc.prefix, this.field[k]!) || digitsAt(key, f) !== j) continue;
        const sub = key.indexOf('.', f) + 1;
        if (isField(key, sub, tc.id)) id = this.value[k];
        else if (isField(key, sub, tc.name)) name = this.value[k];
        else if (isField(key, sub, tc.args)) args = this.value[k];
      }
      let call = '{"type":"tool_call"';
      if (id !== undefined) call += `,"id":${JSON.stringify(id)}`;
      if (name !== undefined) call += `,"name":${JSON.stringify(name)}`;
      if (args !== undefined) {
        let parsed: unknown = args;
        try {
          parsed = JSON.parse(args);
        } catch {
          parsed = args;
        }
        const text = JSON.stringify(parsed);
        if (text !== undefined) call += `,"arguments":${text}`;
      }
      parts += `${parts === '' ? '' : ','}${call}}`;
    }
    return parts;
  }
}

/** The decimal number at key[at] up to the next '.', or -1 (no digits, another character, no dot
 *  after them, or more than four digits). */
function digitsAt(key: string, at: number): number {
  let v = 0;
  let k = at;
  for (; k < key.length && k - at <= 4; k++) {
    const c = key.charCodeAt(k);
    if (c === 0x2e) break;
    if (c < 0x30 || c > 0x39) return -1;
    v = v * 10 + (c - 0x30);
  }
  return k === at || k >= key.length || key.charCodeAt(k) !== 0x2e ? -1 : v;
}

/** Whether key[at..] is exactly `name`. */
const isField = (key: string, at: number, name: string): boolean => key.length - at === name.length && key.startsWith(name, at);

export type { AnyValue };
