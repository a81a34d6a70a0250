// Prices of model calls in USD. Built-in prices come from @pydantic/genai-prices (maintained by
// Pydantic, MIT, updated weekly, works offline from its bundled data; its model matching knows
// dated snapshots, Bedrock and Vertex ids, tiers and price changes over time). Its calcPrice costs
// 10-25 µs per call (matching the model each time), more than the rest of the pipeline spends on a
// span, so each (provider, model) is resolved through it once an hour and the per-call arithmetic,
// the same as its own for token units, is done here (test/genai-pricing.test.ts compares the two).
// Prices in config (`pricing.models`, `pricing.file`) come first.
import { readFileSync } from 'node:fs';
import { calcPrice, type ModelPrice } from '@pydantic/genai-prices';
import { Ajv } from 'ajv';
import { LineCounter, parseDocument } from 'yaml';
import type { ConfigCheckProblem } from '../../src/component.js';
import { globMatch } from '../../src/glob.js';
import { providerName } from '../../src/vocab/index.js';

export interface PriceRow {
  /** a model name, or a glob (`*`, `?`); matched case-insensitively */
  match: string;
  /** only for this provider (any spelling; compared as gen_ai.provider.name) */
  provider?: string;
  input_per_mtok: number;
  output_per_mtok: number;
  cache_read_per_mtok?: number;
  cache_write_per_mtok?: number;
  reasoning_per_mtok?: number;
}

export interface PricingConfig {
  models: PriceRow[];
  file?: string;
  /** use @pydantic/genai-prices for models the rows above do not price */
  builtin: boolean;
}

/** Token counts as the GenAI conventions define them: input includes the cache reads and writes,
 *  output includes the reasoning tokens. */
export interface Usage {
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
  reasoning: number;
}

export const PRICE_ROW_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['match', 'input_per_mtok', 'output_per_mtok'],
  properties: {
    match: { type: 'string', minLength: 1, maxLength: 256, description: 'Model name or glob (`*`, `?`), case-insensitive.' },
    provider: { type: 'string', maxLength: 64, description: 'Only for this provider (gen_ai.provider.name, any spelling).' },
    input_per_mtok: { type: 'number', minimum: 0, description: 'USD per million input tokens (not cached).' },
    output_per_mtok: { type: 'number', minimum: 0, description: 'USD per million output tokens.' },
    cache_read_per_mtok: { type: 'number', minimum: 0, description: 'USD per million cache-read input tokens (default: input price).' },
    cache_write_per_mtok: { type: 'number', minimum: 0, description: 'USD per million cache-write input tokens (default: input price).' },
    reasoning_per_mtok: { type: 'number', minimum: 0, description: 'USD per million reasoning tokens (default: output price).' },
  },
} as const;

const FILE_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['models'],
  properties: { models: { type: 'array', items: PRICE_ROW_SCHEMA } },
};

/** Reads a price file (YAML or JSON: `models: [...]`); problems carry the file's line and column. */
export function readPriceFile(file: string): { rows: PriceRow[]; problems: ConfigCheckProblem[] } {
  const path = ['pricing', 'file'];
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return { rows: [], problems: [{ path, message: `cannot read price file ${file}: ${(e as Error).message}` }] };
  }
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const pos = lc.linePos(e.pos[0]);
    return { rows: [], problems: [{ path, message: `price file is not valid YAML or JSON: ${e.message.split('\n')[0]}`, at: { file, line: pos.line, col: pos.col } }] };
  }
  const data = doc.toJS({ maxAliasCount: 100 }) as unknown;
  const validate = new Ajv({ allErrors: true, strict: false }).compile(FILE_SCHEMA);
  if (validate(data)) return { rows: (data as { models: PriceRow[] }).models, problems: [] };
  const problems: ConfigCheckProblem[] = [];
  for (const err of validate.errors ?? []) {
    const segs = err.instancePath.split('/').slice(1).map((s) => (/^\d+$/.test(s) ? Number(s) : s.replace(/~1/g, '/').replace(/~0/g, '~')));
    const node = doc.getIn(segs, true) as { range?: [number, number, number] } | undefined;
    const at = node?.range ? lc.linePos(node.range[0]) : { line: 1, col: 1 };
    const where = err.instancePath === '' ? 'the file' : err.instancePath.slice(1).replace(/\//g, '.');
    const extra = err.keyword === 'additionalProperties' ? ` "${(err.params as { additionalProperty: string }).additionalProperty}"` : '';
    problems.push({ path, message: `price file: ${where} ${err.message}${extra}`, at: { file, line: at.line, col: at.col } });
  }
  return { rows: [], problems };
}

/** gen_ai.provider.name → the provider ids @pydantic/genai-prices knows. */
const PRICE_PROVIDER: Readonly<Record<string, string>> = {
  openai: 'openai', anthropic: 'anthropic', 'aws.bedrock': 'aws', 'azure.ai.openai': 'azure', 'azure.ai.inference': 'azure',
  'gcp.gemini': 'google', 'gcp.vertex_ai': 'google', 'gcp.gen_ai': 'google', groq: 'groq', mistral_ai: 'mistral', x_ai: 'x-ai',
  deepseek: 'deepseek', cohere: 'cohere', perplexity: 'perplexity', moonshot_ai: 'moonshotai',
};

/** How long a resolved built-in price is used before asking the package again (prices can change
 *  on a date). */
const RESOLVED_TTL_MS = 3_600_000;
/** Resolved (provider, model) pairs kept at most; past it, all are forgotten. */
const MAX_RESOLVED = 4096;
/** Longest model name looked up (a client sends it). */
export const MAX_MODEL_LENGTH = 256;

interface Resolved {
  price: ModelPrice | null;
  until: number;
}

type Tiered = { base: number; tiers: readonly { start: number; price: number }[] };

function unitPrice(p: number | Tiered | undefined, tokens: number, inputTotal: number): number {
  if (p === undefined || tokens <= 0) return 0;
  if (typeof p === 'number') return (p * tokens) / 1e6;
  let rate = p.base;
  for (const t of p.tiers) if (inputTotal > t.start) rate = t.price;
  return (rate * tokens) / 1e6;
}

export class Pricing {
  private readonly exact = new Map<string, PriceRow[]>();
  private readonly globs: PriceRow[] = [];
  /** built-in prices by provider ('' for none), then model: the names come from the reader's
   *  string cache, so two lookups cost less than a key string made per span */
  private readonly resolved = new Map<string, Map<string, Resolved>>();
  private resolvedCount = 0;

  constructor(rows: readonly PriceRow[], private readonly builtin: boolean) {
    for (const r of rows) {
      const m = r.match.toLowerCase();
      if (/[*?]/.test(m)) this.globs.push({ ...r, match: m });
      else {
        const list = this.exact.get(m) ?? [];
        list.push(r);
        this.exact.set(m, list);
      }
    }
  }

  /** The cost of one call in USD (a config row first, then the built-in table), or undefined when
   *  nothing prices the model. */
  price(provider: string | undefined, model: string, u: Usage, now: number): number | undefined {
    if (model.length > MAX_MODEL_LENGTH) return undefined;
    const m = model.toLowerCase();
    const row = this.row(provider, m);
    if (row !== undefined) return rowCost(row, u);
    if (!this.builtin) return undefined;
    const price = this.builtinPrice(provider, model, now);
    return price === null ? undefined : modelPriceCost(price, u);
  }

  private row(provider: string | undefined, m: string): PriceRow | undefined {
    const fits = (r: PriceRow) => r.provider === undefined || (provider !== undefined && providerName(r.provider) === provider);
    const exact = this.exact.get(m);
    if (exact) for (const r of exact) if (fits(r)) return r;
    for (const r of this.globs) if (fits(r) && globMatch(r.match, m)) return r;
    return undefined;
  }

  private builtinPrice(provider: string | undefined, model: string, now: number): ModelPrice | null {
    let byModel = this.resolved.get(provider ?? '');
    const hit = byModel?.get(model);
    if (hit !== undefined && hit.until > now) return hit.price;
    const providerId = provider === undefined ? undefined : PRICE_PROVIDER[provider];
    let price: ModelPrice | null = null;
    try {
      const at = new Date(now);
      const r = calcPrice({}, model, providerId ? { providerId, timestamp: at } : { timestamp: at }) ?? (providerId ? calcPrice({}, model, { timestamp: at }) : null);
      price = r?.model_price ?? null;
    } catch {
      price = null;
    }
    if (hit === undefined && ++this.resolvedCount > MAX_RESOLVED) {
      // Past the bound (models named by clients), every pair is asked again.
      this.resolved.clear();
      this.resolvedCount = 1;
      byModel = undefined;
    }
    if (byModel === undefined) this.resolved.set(provider ?? '', (byModel = new Map()));
    byModel.set(model, { price, until: now + RESOLVED_TTL_MS });
    return price;
  }
}

/** Cost from a config row: uncached input, cache reads and writes, output and reasoning each at
 *  their own price. */
export function rowCost(r: PriceRow, u: Usage): number {
  const uncached = Math.max(0, u.input - u.cacheRead - u.cacheWrite);
  const reasoning = r.reasoning_per_mtok === undefined ? 0 : Math.min(u.reasoning, u.output);
  return (
    (uncached * r.input_per_mtok +
      u.cacheRead * (r.cache_read_per_mtok ?? r.input_per_mtok) +
      u.cacheWrite * (r.cache_write_per_mtok ?? r.input_per_mtok) +
      (u.output - reasoning) * r.output_per_mtok +
      reasoning * (r.reasoning_per_mtok ?? r.output_per_mtok)) /
    1e6
  );
}

/** Cost from a genai-prices model price, token units as the package prices them: the tier of
 *  every unit is chosen by the total input tokens; a unit the model has no price for is charged
 *  at its parent's (cache reads at the input price, reasoning at the output price). */
export function modelPriceCost(p: ModelPrice, u: Usage): number {
  const input = p['input_mtok'] as number | Tiered | undefined;
  const cacheRead = (p['cache_read_mtok'] as number | Tiered | undefined) ?? input;
  const cacheWrite = (p['cache_write_mtok'] as number | Tiered | undefined) ?? input;
  const output = p['output_mtok'] as number | Tiered | undefined;
  const reasoningPrice = p['output_reasoning_mtok'] as number | Tiered | undefined;
  const reasoning = reasoningPrice === undefined ? 0 : Math.min(u.reasoning, u.output);
  const uncached = Math.max(0, u.input - u.cacheRead - u.cacheWrite);
  return (
    unitPrice(input, uncached, u.input) +
    unitPrice(cacheRead, u.cacheRead, u.input) +
    unitPrice(cacheWrite, u.cacheWrite, u.input) +
    unitPrice(output, u.output - reasoning, u.input) +
    unitPrice(reasoningPrice, reasoning, u.input)
  );
}
