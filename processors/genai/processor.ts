// The genai processor: spans and log records from any agent framework leave it in the GenAI
// conventions' names (src/vocab), with what can be derived (operation, provider, total tokens),
// their agent (from the nearest invoke_agent ancestor, see context.ts) and their cost in USD
// (pricing.ts), prompts and completions kept, dropped, cut or hashed. It edits the encoded request
// (src/pdata/edit.ts) rather than decoding it: most of the pipeline never decodes a span. An
// `a2a.task.id` it reads on the way is published with its agent as a task sighting
// (src/a2a/sightings.ts), for the a2a receiver to follow that task.
import type { CreateSettings, Processor } from '../../src/component.js';
import type { Consumer } from '../../src/consumer.js';
import { taskSightings } from '../../src/a2a/sightings.js';
import { decodeMessage } from '../../src/pdata/decode.js';
import { MESSAGES } from '../../src/pdata/schema.js';
import { editItems, releaseView, requestOf, type Decision, type EditContext, type HeldItem, type ItemEdit, type NewAttr, type WireItem } from '../../src/pdata/edit.js';
import { Telemetry, type Signal } from '../../src/pdata/telemetry.js';
import type { BoundCounter } from '../../src/telemetry/metrics.js';
import { memoryAccounting } from '../../src/memory.js';
import {
  GenAI, MODEL_OPERATIONS, Operation, clipAgentId, operationOfSpanName, pick, providerName, providerOfModel,
} from '../../src/vocab/index.js';
import { applyContent, isContent, type ContentMode } from './content.js';
import { AgentContext, type AgentRef, type Held } from './context.js';
import { Normalizer, type Facts, type SourceConfig } from './normalize.js';
import { MAX_MODEL_LENGTH, Pricing, readPriceFile, type PricingConfig, type Usage } from './pricing.js';

export interface GenAIConfig {
  sources: SourceConfig[];
  derive: { operation: boolean; provider: boolean; total_tokens: boolean };
  /** invoke_agent / invoke_workflow spans: their usage sums their calls', renamed so sums of spans count each call once */
  aggregate_agent_usage: boolean;
  agent_context: { wait: number; max_traces: number; max_bytes: number };
  pricing: PricingConfig;
  recompute: boolean;
  content: ContentMode;
  content_max_bytes: number;
  max_unknown_models: number;
}

/** Operations whose spans take their agent from an ancestor (the calls an agent makes). */
const ATTRIBUTED = new Set<string>([
  Operation.chat, Operation.textCompletion, Operation.generateContent, Operation.embeddings, Operation.retrieval, Operation.executeTool,
]);
const AGGREGATED = new Set<string>([Operation.invokeAgent, Operation.invokeWorkflow]);
/** usage attributes of an agent span and the names they take there */
const AGGREGATE_NAMES: ReadonlyMap<string, string> = new Map(
  [GenAI.inputTokens, GenAI.outputTokens, GenAI.cacheReadTokens, GenAI.cacheWriteTokens, GenAI.reasoningTokens, GenAI.totalTokens, GenAI.cost, 'gen_ai.usage.cache_creation.input_tokens']
    .map((k) => [k, k.replace('gen_ai.usage.', 'gen_ai.aggregated_usage.')]),
);

/** One agent context per processor id, shared by its traces and logs pipelines. */
const contexts = new Map<string, { ctx: AgentContext; users: number }>();

export class GenAIProcessor implements Processor {
  readonly mutatesData = true;
  private readonly normalizer: Normalizer;
  private readonly pricing: Pricing;
  private readonly ctx: AgentContext;
  private readonly waitMs: number;
  private readonly unknownModels = new Map<string, BoundCounter>();
  private readonly costC: BoundCounter;
  private readonly pricedC: BoundCounter;
  private readonly failedC: BoundCounter;
  private readonly releasedC: Record<string, BoundCounter>;
  private releasedSeen: Record<string, number>;
  private timer: NodeJS.Timeout | undefined;
  private unregister: (() => void) | undefined;
  /** cost and priced calls of the request being edited, counted once per request */
  private tally = { cost: 0, priced: 0 };
  /** the usage of the call being priced (one object, filled per call) */
  private readonly usage: Usage = { input: 0, output: 0, cacheRead: 0, cacheWrite: 0, reasoning: 0 };
  /** sends of items released later than their request, in order */
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly set: CreateSettings,
    private readonly cfg: GenAIConfig,
    private readonly signal: Signal,
    private readonly next: Consumer,
  ) {
    this.normalizer = new Normalizer(cfg.sources);
    const rows = [...cfg.pricing.models, ...(cfg.pricing.file ? readPriceFile(cfg.pricing.file).rows : [])];
    this.pricing = new Pricing(rows, cfg.pricing.builtin);
    this.waitMs = cfg.agent_context.wait;
    let shared = contexts.get(set.id);
    if (shared === undefined) {
      shared = { ctx: new AgentContext({ waitMs: cfg.agent_context.wait, maxTraces: cfg.agent_context.max_traces, maxBytes: cfg.agent_context.max_bytes }), users: 0 };
      contexts.set(set.id, shared);
    }
    shared.users++;
    this.ctx = shared.ctx;
    const m = set.metrics;
    this.costC = m.counter('processor_genai_cost_usd', 'USD of cost the processor computed (prices of model calls).');
    this.pricedC = m.counter('processor_genai_priced_calls', 'Model calls the processor priced.');
    this.failedC = m.counter('processor_genai_send_failed', 'Held spans the next stage refused after their wait (dropped).');
    this.releasedC = {};
    this.releasedSeen = { ...this.ctx.released };
    for (const reason of Object.keys(this.ctx.released)) {
      this.releasedC[reason] = m.counter('processor_genai_context_released', 'Spans held for their agent that went on, by reason (attributed, root_without_agent, wait, max_traces, max_bytes, shutdown).', { reason });
    }
    if (signal === 'traces') {
      m.gauge('processor_genai_context_held_spans', 'Spans held until an ancestor names their agent.', () => this.ctx.heldSpans);
      m.gauge('processor_genai_context_held_bytes', 'Bytes of the spans held for their agent.', () => this.ctx.heldBytes);
      m.gauge('processor_genai_context_traces', 'Traces the agent context remembers.', () => this.ctx.traceCount);
      this.unregister = memoryAccounting.register('processor', set.id, () => this.ctx.heldBytes);
    }
  }

  async start(): Promise<void> {
    if (this.signal !== 'traces' || this.waitMs <= 0) return;
    this.timer = setInterval(() => this.sweep(), Math.max(50, Math.min(1000, this.waitMs / 4)));
    this.timer.unref();
  }

  async consume(batch: Telemetry): Promise<void> {
    if (this.signal === 'traces') return this.consumeSpans(batch);
    if (this.signal === 'logs') return this.consumeLogs(batch);
    return this.next.consume(batch);
  }

  private async consumeSpans(batch: Telemetry): Promise<void> {
    const now = Date.now();
    const released: Array<{ held: Held; agent: AgentRef | undefined }> = [];
    const evicted: Held[] = [];
    // Read in place (Telemetry.withProto): held spans are copies, their views read before it returns.
    const res = batch.withProto((bytes) => {
      const edited = editItems(
        'traces',
        bytes,
        (item, c) => this.span(item, c, now, released, evicted),
        // Once the whole request has been seen: a span whose ancestors came later in it goes on with
        // it; one whose ancestors are still unknown is held.
        (item, edit) => {
          const r = this.ctx.resolve(item.key(1), item.key(4));
          if (r === 'unknown') return { hold: true, edit, tag: item };
          if (r !== 'none') (edit as { add: NewAttr[] }).add.push(...agentAttrs(r));
          return edit;
        },
      );
      for (const h of edited.held) {
        const item = h.tag as WireItem;
        this.ctx.hold({ trace: item.key(1), parent: item.key(4), bytes: h.bytes, container: h.container, until: now + this.waitMs }, now, evicted);
        h.tag = undefined;
        releaseView(item);
      }
      return edited;
    });
    if (evicted.length > 0) this.sendLater(evicted.map((h) => ({ held: h, agent: undefined })));
    this.countReleased();
    this.countPriced();
    let out: Telemetry = res.bytes === undefined ? batch : Telemetry.fromValidated('traces', res.bytes, res.count);
    if (released.length > 0) {
      const extra = Telemetry.fromValidated('traces', requestOf('traces', released.map(withAgent)), released.length);
      out = out.itemCount === 0 ? extra : Telemetry.merge([out, extra]);
    }
    if (out.itemCount === 0) return;
    return this.next.consume(out);
  }

  private span(item: WireItem, c: EditContext, now: number, released: Array<{ held: Held; agent: AgentRef | undefined }>, evicted: Held[]): Decision {
    const name = item.string(5);
    const n = this.normalizer.apply(item, name);
    const f = n.facts;
    const res = c.resource?.attributes;
    let op = f.operation;
    if (op === undefined && this.cfg.derive.operation) {
      op = this.normalizer.operationOfName(name) ?? operationOfSpanName(name);
      if (op !== undefined) {
        n.add.push({ key: GenAI.operationName, value: { stringValue: op } });
        f.operation = op;
      }
    }
    this.derive(item, n.add, n.drop, f, now);
    if (op !== undefined && AGGREGATED.has(op) && this.cfg.aggregate_agent_usage) this.aggregate(item, n.add, n.drop);
    if (this.cfg.content !== 'keep') this.content(item, n.add, n.drop);
    const edit: ItemEdit = n;

    const trace = item.key(1);
    const spanId = item.key(2);
    const parent = item.key(4);
    const ownId = f.agentId ?? pick(GenAI.agentId, undefined, res);
    const ownName = f.agentName ?? pick(GenAI.agentName, undefined, res);
    if (ownId !== undefined || ownName !== undefined) {
      const agent = { id: ownId && clipAgentId(ownId), name: ownName && clipAgentId(ownName) };
      if (f.taskId !== undefined) taskSightings.publish(agent.id, agent.name, f.taskId);
      this.ctx.observe(trace, spanId, parent, agent, now, evicted, released);
      return edit;
    }
    const attributed = op !== undefined && ATTRIBUTED.has(op);
    const r = this.ctx.resolve(trace, parent);
    if (typeof r === 'object') {
      if (f.taskId !== undefined) taskSightings.publish(r.id, r.name, f.taskId);
      if (attributed) n.add.push(...agentAttrs(r));
      this.ctx.observe(trace, spanId, parent, r, now, evicted, released);
      return edit;
    }
    this.ctx.observe(trace, spanId, parent, undefined, now, evicted, released);
    if (r === 'none' || !attributed || this.waitMs <= 0) return edit;
    return { defer: true, edit };
  }

  private async consumeLogs(batch: Telemetry): Promise<void> {
    const now = Date.now();
    const res = batch.withProto((bytes) => editItems('logs', bytes, (item, c) => this.record(item, c, now)));
    this.countPriced();
    return this.next.consume(res.bytes === undefined ? batch : Telemetry.fromValidated('logs', res.bytes, res.count));
  }

  private record(item: WireItem, c: EditContext, now: number): Decision {
    const n = this.normalizer.apply(item, '');
    const f = n.facts;
    this.derive(item, n.add, n.drop, f, now);
    if (this.cfg.content !== 'keep') this.content(item, n.add, n.drop);
    const res = c.resource?.attributes;
    const id = f.agentId ?? pick(GenAI.agentId, undefined, res);
    const name = f.agentName ?? pick(GenAI.agentName, undefined, res);
    if (id === undefined && name === undefined) {
      // A record written inside a span takes that span's agent, when the context knows it.
      const spanId = item.key(10);
      if (spanId !== '') {
        const r = this.ctx.resolve(item.key(9), spanId);
        if (typeof r === 'object') {
          n.add.push(...agentAttrs(r));
          if (f.taskId !== undefined) taskSightings.publish(r.id, r.name, f.taskId);
        }
      }
    } else if (f.taskId !== undefined) {
      taskSightings.publish(id, name, f.taskId);
    }
    return n;
  }

  /** Provider, total tokens and cost, where missing. */
  private derive(item: WireItem, add: NewAttr[], drop: number[], f: Facts, now: number): void {
    const model = f.responseModel ?? f.requestModel;
    if (f.provider !== undefined) {
      const canonical = providerName(f.provider);
      if (canonical !== f.provider) {
        replace(item, add, drop, GenAI.providerName, { stringValue: canonical });
        f.provider = canonical;
      }
    } else if (this.cfg.derive.provider && model !== undefined) {
      const p = providerOfModel(model);
      if (p !== undefined) {
        add.push({ key: GenAI.providerName, value: { stringValue: p } });
        f.provider = p;
      }
    }
    if (f.input === undefined && f.output === undefined) return;
    // Cached tokens are part of input_tokens; a count that leaves them out (a source whose counts
    // are additive, or a raw Anthropic count: fewer input tokens than cached ones) gets them added.
    const cached = (f.cacheRead ?? 0) + (f.cacheWrite ?? 0);
    if (f.input !== undefined && cached > 0 && (f.inputExcludesCache || f.input < cached)) {
      f.input += cached;
      replace(item, add, drop, GenAI.inputTokens, { intValue: BigInt(Math.trunc(f.input)) });
    }
    if (this.cfg.derive.total_tokens && f.total === undefined) {
      f.total = (f.input ?? 0) + (f.output ?? 0);
      add.push({ key: GenAI.totalTokens, value: { intValue: BigInt(Math.trunc(f.total)) } });
    }
    if (f.cost !== undefined && !this.cfg.recompute) return;
    const op = f.operation;
    if (op !== undefined && !MODEL_OPERATIONS.has(op)) return;
    if (model === undefined) return;
    const usage = this.usage;
    usage.input = f.input ?? 0;
    usage.output = f.output ?? 0;
    usage.cacheRead = f.cacheRead ?? 0;
    usage.cacheWrite = f.cacheWrite ?? 0;
    usage.reasoning = f.reasoning ?? 0;
    const cost = this.pricing.price(f.provider, model, usage, now) ?? (f.requestModel !== undefined && f.requestModel !== model ? this.pricing.price(f.provider, f.requestModel, usage, now) : undefined);
    if (cost === undefined) {
      this.unknownModel(model);
      return;
    }
    replace(item, add, drop, GenAI.cost, { doubleValue: cost });
    f.cost = cost;
    this.tally.cost += cost;
    this.tally.priced++;
  }

  /** An agent span's usage sums its calls': under gen_ai.aggregated_usage.* it is not counted twice. */
  private aggregate(item: WireItem, add: NewAttr[], drop: number[]): void {
    for (let i = 0; i < item.count; i++) {
      const to = AGGREGATE_NAMES.get(item.keys[i]!);
      if (to === undefined) continue;
      const raw = item.rawValue(i);
      if (raw !== undefined) add.push({ key: to, raw });
      drop.push(i);
    }
    for (let j = add.length - 1; j >= 0; j--) {
      const to = AGGREGATE_NAMES.get(add[j]!.key);
      if (to !== undefined) add[j] = { ...add[j]!, key: to };
    }
  }

  private content(item: WireItem, add: NewAttr[], drop: number[]): void {
    const mode = this.cfg.content;
    const max = this.cfg.content_max_bytes;
    for (let i = 0; i < item.count; i++) {
      if (!isContent(item.keys[i]!) || drop.includes(i)) continue;
      const v = applyContent(mode, mode === 'drop' ? undefined : item.value(i), item.valueSize(i), max);
      if (v === 'same') continue;
      drop.push(i);
      if (v !== undefined) add.push({ key: item.keys[i]!, value: v });
    }
    for (let j = add.length - 1; j >= 0; j--) {
      const a = add[j]!;
      if (!isContent(a.key)) continue;
      const v = applyContent(mode, a.value ?? decodeRaw(a), a.raw?.length ?? JSON.stringify(a.value ?? '').length, max);
      if (v === 'same') continue;
      if (v === undefined) add.splice(j, 1);
      else add[j] = { key: a.key, value: v };
    }
  }

  private countPriced(): void {
    if (this.tally.priced === 0) return;
    this.costC.inc(this.tally.cost);
    this.pricedC.inc(this.tally.priced);
    this.tally.cost = 0;
    this.tally.priced = 0;
  }

  private unknownModel(model: string): void {
    const key = this.unknownModels.size < this.cfg.max_unknown_models || this.unknownModels.has(model) ? model.slice(0, MAX_MODEL_LENGTH) : '_other';
    let c = this.unknownModels.get(key);
    if (c === undefined) {
      c = this.set.metrics.counter('processor_genai_unknown_model', 'Model calls no price was found for, by model (at most max_unknown_models names; the rest under _other).', { model: key });
      this.unknownModels.set(key, c);
    }
    c.inc();
  }

  private sweep(): void {
    const out = this.ctx.sweep(Date.now());
    this.countReleased();
    if (out.length > 0) this.sendLater(out.map((h) => ({ held: h, agent: undefined })));
  }

  private countReleased(): void {
    for (const [reason, n] of Object.entries(this.ctx.released)) {
      const d = n - (this.releasedSeen[reason] ?? 0);
      if (d > 0) this.releasedC[reason]!.inc(d);
    }
    this.releasedSeen = { ...this.ctx.released };
  }

  /** Spans released after their request was answered: sent on their own, refusals counted. */
  private sendLater(items: Array<{ held: Held; agent: AgentRef | undefined }>): void {
    const t = Telemetry.fromValidated('traces', requestOf('traces', items.map(withAgent)), items.length);
    this.chain = this.chain.then(() => this.next.consume(t)).then(
      () => undefined,
      (err) => {
        this.failedC.inc(items.length);
        this.set.logger.warn({ err: (err as Error).message, spans: items.length }, 'next stage refused spans released from the agent context; dropped');
      },
    );
  }

  async shutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    const shared = contexts.get(this.set.id);
    if (shared && --shared.users === 0) {
      contexts.delete(this.set.id);
      const rest = this.ctx.drain();
      this.countReleased();
      if (rest.length > 0) this.sendLater(rest.map((h) => ({ held: h, agent: undefined })));
    }
    await this.chain;
    this.unregister?.();
    this.set.metrics.dispose();
  }
}

/** The attributes naming an agent: made once per agent and shared by its spans (never changed). */
function agentAttrs(a: AgentRef): readonly NewAttr[] {
  if (a.attrs !== undefined) return a.attrs;
  const out: NewAttr[] = [];
  if (a.id !== undefined) out.push({ key: GenAI.agentId, value: { stringValue: a.id } });
  if (a.name !== undefined) out.push({ key: GenAI.agentName, value: { stringValue: a.name } });
  a.attrs = out;
  return out;
}

function withAgent(r: { held: Held; agent: AgentRef | undefined }): HeldItem & { add?: readonly NewAttr[] } {
  return { bytes: r.held.bytes, container: r.held.container, add: r.agent ? agentAttrs(r.agent) : undefined };
}

/** Sets `key` to `value`: replaces an attribute added here, or drops the item's own and adds. */
function replace(item: WireItem, add: NewAttr[], drop: number[], key: string, value: NewAttr['value']): void {
  for (let j = 0; j < add.length; j++) {
    if (add[j]!.key === key) {
      add[j] = { key, value };
      return;
    }
  }
  const i = item.keys.indexOf(key);
  if (i >= 0 && !drop.includes(i)) drop.push(i);
  add.push({ key, value });
}

function decodeRaw(a: NewAttr): NewAttr['value'] {
  if (a.raw === undefined) return undefined;
  return decodeAnyValue(a.raw);
}

const decodeAnyValue = (raw: Uint8Array): NewAttr['value'] => decodeMessage(MESSAGES.AnyValue!, raw);
