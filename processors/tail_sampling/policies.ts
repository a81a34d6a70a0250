// Tail-sampling policies: the collector's (always_sample, latency, status_code, string_attribute,
// numeric_attribute, boolean_attribute, probabilistic, rate_limiting, bytes_limiting, span_count,
// trace_state, and, drop, composite) and agent policies (genai_cost, genai_tokens, agent,
// tool_error, agent_loop), compiled once into functions of a trace's facts.
import { globMatcher, MAX_GLOB_LENGTH } from '../../src/glob.js';
import { fnv1aSeeded, hashSeedBound } from '../probabilistic_sampler/sampling.js';
import { MAX_VALUE_BYTES, type Needs, type TraceFacts } from './facts.js';

export interface PolicyConfig {
  name: string;
  type: string;
  [k: string]: unknown;
}

/** sampled, or not; `drop` for a drop policy that matched (it overrides every other). */
export type Verdict = boolean | 'drop';
export interface Policy {
  name: string;
  evaluate(f: TraceFacts, traceId: Uint8Array, nowMs: number): Verdict;
}

const STATUS: Record<string, number> = { UNSET: 0, OK: 1, ERROR: 2 };

/** A bucket of `rate` per second, holding at most `burst`. */
class Bucket {
  private tokens: number;
  private at = 0;
  constructor(private readonly rate: number, private readonly burst: number) {
    this.tokens = burst;
  }
  take(n: number, nowMs: number): boolean {
    if (this.at > 0) this.tokens = Math.min(this.burst, this.tokens + ((nowMs - this.at) / 1000) * this.rate);
    this.at = nowMs;
    if (this.tokens < n) return false;
    this.tokens -= n;
    return true;
  }
}

type Sub = Record<string, any>;

export function compilePolicy(p: PolicyConfig, needs: Needs): Policy {
  const c = (p[p.type] ?? {}) as Sub;
  const name = p.name;
  const ev = (fn: (f: TraceFacts, id: Uint8Array, now: number) => Verdict): Policy => ({ name, evaluate: fn });
  switch (p.type) {
    case 'always_sample':
      return ev(() => true);
    case 'latency': {
      const lo = BigInt(Math.round((c.threshold_ms ?? 0) * 1e6));
      const hi = c.upper_threshold_ms ? BigInt(Math.round(c.upper_threshold_ms * 1e6)) : -1n;
      return ev((f) => {
        const d = f.maxEnd - f.minStart;
        return d >= lo && (hi < 0n || d <= hi);
      });
    }
    case 'status_code': {
      let mask = 0;
      for (const s of (c.status_codes ?? []) as string[]) mask |= 1 << (STATUS[s] ?? 0);
      return ev((f) => (f.statuses & mask) !== 0);
    }
    case 'string_attribute': {
      const key = String(c.key);
      needs.strings.add(key);
      const values = (c.values ?? []) as string[];
      const invert = c.invert_match === true;
      let match: (s: string) => boolean;
      if (c.enabled_regex_matching === true) {
        const res = values.map((v) => new RegExp(v, 'u'));
        match = (s) => res.some((r) => r.test(s));
      } else {
        const set = new Set(values);
        match = (s) => set.has(s);
      }
      return ev((f) => {
        const vs = f.strings.get(key);
        let hit = false;
        if (vs !== undefined) for (const v of vs) if (match(v)) { hit = true; break; }
        return invert ? !hit : hit;
      });
    }
    case 'numeric_attribute': {
      const key = String(c.key);
      needs.numbers.add(key);
      const min = typeof c.min_value === 'number' ? c.min_value : -Infinity;
      const max = typeof c.max_value === 'number' ? c.max_value : Infinity;
      const invert = c.invert_match === true;
      return ev((f) => {
        const hit = (f.numbers.get(key) ?? []).some((n) => n >= min && n <= max);
        return invert ? !hit : hit;
      });
    }
    case 'boolean_attribute': {
      const key = String(c.key);
      needs.bools.add(key);
      const want = c.value === true;
      return ev((f) => f.bools.get(key)?.has(want) === true);
    }
    case 'probabilistic': {
      const bound = hashSeedBound(c.sampling_percentage ?? 0);
      const salt = Buffer.from(String(c.hash_salt ?? ''));
      const seed = fnv1aSeeded(0, salt);
      return ev((_f, id) => (fnv1aSeeded(seed, id) & 0x3fff) < bound);
    }
    case 'rate_limiting': {
      const b = new Bucket(c.spans_per_second, c.spans_per_second);
      return ev((f, _id, now) => b.take(f.spans, now));
    }
    case 'bytes_limiting': {
      const b = new Bucket(c.bytes_per_second, c.burst_capacity ?? c.bytes_per_second * 2);
      return ev((f, _id, now) => b.take(f.bytes, now));
    }
    case 'span_count': {
      const min = c.min_spans ?? 0;
      const max = c.max_spans ?? Infinity;
      return ev((f) => f.spans >= min && f.spans <= max);
    }
    case 'trace_state': {
      needs.traceState = true;
      const members = ((c.values ?? []) as string[]).map((v) => `${c.key}=${v}`);
      return ev((f) => members.some((m) => f.traceStates.has(m)));
    }
    case 'genai_cost': {
      const min = c.min_usd ?? 0;
      return ev((f) => f.cost >= min);
    }
    case 'genai_tokens': {
      const min = c.min_tokens ?? 0;
      return ev((f) => f.tokens >= min);
    }
    case 'agent': {
      const m = globMatcher((c.patterns ?? []) as string[]);
      return ev((f) => {
        for (const a of f.agents) if (m(a.length > MAX_GLOB_LENGTH * 4 ? a.slice(0, MAX_GLOB_LENGTH * 4) : a)) return true;
        return false;
      });
    }
    case 'tool_error':
      return ev((f) => f.toolError);
    case 'agent_loop': {
      const min = c.min_repeats ?? 3;
      return ev((f) => f.maxRepeats >= min);
    }
    case 'and': {
      const subs = ((c.and_sub_policy ?? []) as PolicyConfig[]).map((s) => compilePolicy(s, needs));
      return ev((f, id, now) => subs.length > 0 && subs.every((s) => s.evaluate(f, id, now) === true));
    }
    case 'drop': {
      const subs = ((c.drop_sub_policy ?? []) as PolicyConfig[]).map((s) => compilePolicy(s, needs));
      return ev((f, id, now) => (subs.length > 0 && subs.every((s) => s.evaluate(f, id, now) === true) ? 'drop' : false));
    }
    case 'composite': {
      const total = c.max_total_spans_per_second as number;
      const byName = new Map(((c.composite_sub_policy ?? []) as PolicyConfig[]).map((s) => [s.name, compilePolicy(s, needs)]));
      const order = ((c.policy_order ?? [...byName.keys()]) as string[]).filter((n) => byName.has(n));
      const shares = new Map(((c.rate_allocation ?? []) as Array<{ policy: string; percent: number }>).map((r) => [r.policy, r.percent]));
      // Each sub-policy spends its share of the spans per second; one without a share spends what is left.
      const buckets = new Map(order.map((n) => {
        const rate = shares.has(n) ? (total * shares.get(n)!) / 100 : total;
        return [n, new Bucket(rate, rate)];
      }));
      const all = new Bucket(total, total);
      return ev((f, id, now) => {
        for (const n of order) {
          if (byName.get(n)!.evaluate(f, id, now) !== true) continue;
          return buckets.get(n)!.take(f.spans, now) && all.take(f.spans, now);
        }
        return false;
      });
    }
    default:
      throw new Error(`unknown policy type ${JSON.stringify(p.type)}`);
  }
}

// ---- schema --------------------------------------------------------------------------------------

const num = (description: string, minimum = 0) => ({ type: 'number', minimum, description });
const int = (description: string, minimum = 0) => ({ type: 'integer', minimum, description });
const obj = (properties: Record<string, unknown>, required: string[] = []) => ({ type: 'object', additionalProperties: false, required, properties });
const key = { type: 'string', minLength: 1, maxLength: 256, description: 'Attribute key.' };

/** Each policy type's own block. */
export const POLICY_BLOCKS: Record<string, unknown> = {
  always_sample: obj({}),
  latency: obj({ threshold_ms: num('Traces lasting at least this long (first start to last end).'), upper_threshold_ms: num('... and at most this long (0: no bound).') }, ['threshold_ms']),
  status_code: obj({ status_codes: { type: 'array', minItems: 1, items: { enum: ['OK', 'ERROR', 'UNSET'] }, description: 'A span with one of these.' } }, ['status_codes']),
  string_attribute: obj({
    key, values: { type: 'array', minItems: 1, maxItems: 1024, items: { type: 'string', maxLength: 1024 }, description: 'Values (or patterns) of a span attribute.' },
    enabled_regex_matching: { type: 'boolean', description: 'values are regular expressions (matched on the first 4096 characters).' },
    invert_match: { type: 'boolean', description: 'Sample traces where none matches.' },
  }, ['key', 'values']),
  numeric_attribute: obj({ key, min_value: { type: 'number' }, max_value: { type: 'number' }, invert_match: { type: 'boolean' } }, ['key']),
  boolean_attribute: obj({ key, value: { type: 'boolean' } }, ['key', 'value']),
  probabilistic: obj({ sampling_percentage: num('Percentage of traces (hash of the trace id).'), hash_salt: { type: 'string', maxLength: 256 } }, ['sampling_percentage']),
  rate_limiting: obj({ spans_per_second: int('Spans per second sampled at most.', 1) }, ['spans_per_second']),
  bytes_limiting: obj({ bytes_per_second: int('Span bytes per second sampled at most.', 1), burst_capacity: int('Bytes that may go at once (default twice the rate).', 1) }, ['bytes_per_second']),
  span_count: obj({ min_spans: int('At least this many spans.'), max_spans: int('At most this many (absent: no bound).') }, ['min_spans']),
  trace_state: obj({ key: { type: 'string', minLength: 1, maxLength: 256 }, values: { type: 'array', minItems: 1, items: { type: 'string', maxLength: 256 } } }, ['key', 'values']),
  genai_cost: obj({ min_usd: num('Traces whose summed gen_ai.usage.cost is at least this (USD).') }, ['min_usd']),
  genai_tokens: obj({ min_tokens: num('Traces whose summed input + output tokens are at least this.') }, ['min_tokens']),
  agent: obj({ patterns: { type: 'array', minItems: 1, maxItems: 256, items: { type: 'string', minLength: 1, maxLength: MAX_GLOB_LENGTH }, description: 'Glob patterns (*, ?) on gen_ai.agent.id or gen_ai.agent.name.' } }, ['patterns']),
  tool_error: obj({}),
  agent_loop: obj({ min_repeats: int('The same tool with the same arguments (first 4096 bytes) called this many times in one trace.', 2) }, ['min_repeats']),
};

export const LEAF_TYPES = Object.keys(POLICY_BLOCKS);

function policySchema(types: string[], extra: Record<string, unknown>): Record<string, unknown> {
  return {
    type: 'object',
    additionalProperties: false,
    required: ['name', 'type'],
    properties: { name: { type: 'string', minLength: 1, maxLength: 128 }, type: { enum: types }, ...Object.fromEntries(types.filter((t) => t in POLICY_BLOCKS).map((t) => [t, POLICY_BLOCKS[t]])), ...extra },
  };
}

const SUB = policySchema(LEAF_TYPES, {});
export const POLICY_SCHEMA = policySchema([...LEAF_TYPES, 'and', 'drop', 'composite'], {
  and: obj({ and_sub_policy: { type: 'array', minItems: 1, items: SUB } }, ['and_sub_policy']),
  drop: obj({ drop_sub_policy: { type: 'array', minItems: 1, items: SUB } }, ['drop_sub_policy']),
  composite: obj({
    max_total_spans_per_second: int('Spans per second sampled at most, shared out by rate_allocation.', 1),
    policy_order: { type: 'array', items: { type: 'string' } },
    composite_sub_policy: { type: 'array', minItems: 1, items: SUB },
    rate_allocation: { type: 'array', items: obj({ policy: { type: 'string' }, percent: num('Share of max_total_spans_per_second.') }, ['policy', 'percent']) },
  }, ['max_total_spans_per_second', 'composite_sub_policy']),
});

export { MAX_VALUE_BYTES };
