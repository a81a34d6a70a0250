// Threshold alerts over a sliding window per agent: error_rate (error spans / spans), cost (USD,
// gen_ai.usage.cost) and tokens_per_min. Crossing a threshold emits an `alert` event with state
// "raised"; falling back to or under it emits one with state "cleared".
import { globMatcher } from '../glob.js';
import { SEVERITY, type FleetEvent } from './event.js';

export interface AlertRule {
  name: string;
  when: 'error_rate' | 'cost' | 'tokens_per_min';
  agent?: string;
  above: number;
  /** ms */
  window: number;
}

interface Bucket {
  sec: number;
  spans: number;
  errors: number;
  tokens: number;
  cost: number;
}

class Window {
  readonly buckets: Bucket[];
  constructor(n: number) {
    this.buckets = Array.from({ length: n }, () => ({ sec: -1, spans: 0, errors: 0, tokens: 0, cost: 0 }));
  }
  at(sec: number): Bucket {
    const b = this.buckets[sec % this.buckets.length]!;
    if (b.sec !== sec) {
      b.sec = sec;
      b.spans = b.errors = b.tokens = b.cost = 0;
    }
    return b;
  }
  sum(fromSec: number, toSec: number): Bucket {
    const s: Bucket = { sec: 0, spans: 0, errors: 0, tokens: 0, cost: 0 };
    for (const b of this.buckets) {
      if (b.sec < fromSec || b.sec > toSec) continue;
      s.spans += b.spans;
      s.errors += b.errors;
      s.tokens += b.tokens;
      s.cost += b.cost;
    }
    return s;
  }
}

export class Alerts {
  private readonly rules: Array<AlertRule & { match: (agent: string) => boolean; sec: number }>;
  private readonly windows = new Map<string, Window>();
  private readonly active = new Map<string, number>();
  private readonly seconds: number;

  constructor(rules: readonly AlertRule[], private readonly emit: (ev: FleetEvent) => void) {
    this.rules = rules.map((r) => ({ ...r, match: globMatcher([r.agent ?? '*']), sec: Math.max(1, Math.ceil(r.window / 1000)) }));
    this.seconds = Math.max(1, ...this.rules.map((r) => r.sec)) + 1;
  }

  get enabled(): boolean {
    return this.rules.length > 0;
  }

  record(agent: string, spans: number, errors: number, tokens: number, cost: number, now: number): void {
    if (this.rules.length === 0) return;
    let w = this.windows.get(agent);
    if (w === undefined) this.windows.set(agent, (w = new Window(this.seconds)));
    const b = w.at(Math.floor(now / 1000));
    b.spans += spans;
    b.errors += errors;
    b.tokens += tokens;
    b.cost += cost;
  }

  forget(agent: string): void {
    this.windows.delete(agent);
  }

  evaluate(now: number): void {
    const sec = Math.floor(now / 1000);
    for (const r of this.rules) {
      for (const [agent, w] of this.windows) {
        if (!r.match(agent)) continue;
        const s = w.sum(sec - r.sec + 1, sec);
        const value = r.when === 'error_rate' ? (s.spans > 0 ? s.errors / s.spans : 0) : r.when === 'cost' ? s.cost : s.tokens / (r.window / 60_000);
        const key = `${r.name}\u0000${agent}`;
        const was = this.active.has(key);
        if (value > r.above && !was) {
          this.active.set(key, now);
          this.emit({ type: 'alert', agent, severity: SEVERITY.warn, data: { name: r.name, state: 'raised', when: r.when, agent, value, above: r.above, window_ms: r.window, time: now } });
        } else if (value <= r.above && was) {
          const since = this.active.get(key)!;
          this.active.delete(key);
          this.emit({ type: 'alert', agent, severity: SEVERITY.info, data: { name: r.name, state: 'cleared', when: r.when, agent, value, above: r.above, window_ms: r.window, raised_at: since, time: now } });
        }
      }
    }
  }
}

/** The config of alert rules, as the sse exporter and the fleet connector take it. */
export const ALERT_RULES_SCHEMA = {
  type: 'array',
  description: 'Thresholds per agent over a sliding window; each raises an alert when crossed and clears it when no longer.',
  items: {
    type: 'object',
    additionalProperties: false,
    required: ['name', 'when', 'above'],
    properties: {
      name: { type: 'string', maxLength: 256 },
      when: { enum: ['error_rate', 'cost', 'tokens_per_min'] },
      agent: { type: 'string', maxLength: 256, description: 'Glob of agents the rule applies to (default all).' },
      above: { type: 'number' },
      window: { type: ['string', 'number'], 'x-duration': true, default: '1m' },
    },
  },
};
