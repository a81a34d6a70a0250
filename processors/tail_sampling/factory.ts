import type { ConfigCheckProblem, Factory } from '../../src/component.js';
import { POLICY_SCHEMA, type PolicyConfig } from './policies.js';
import { TailSamplingProcessor, type TailSamplingConfig } from './processor.js';

export const tailSamplingProcessorFactory: Factory<TailSamplingConfig> = {
  type: 'tail_sampling',
  kind: 'processor',
  description: 'Keeps whole traces by policies once they are complete: the collector\'s (latency, status_code, attributes, probabilistic, rate and bytes limits, span_count, trace_state, and, drop, composite) and agent policies (genai_cost, genai_tokens, agent, tool_error, agent_loop). Spans wait as encoded bytes.',
  signals: ['traces'],
  crashLoses: 'the spans of every trace waiting for its decision (up to decision_wait of traffic, bounded by num_traces and max_bytes)',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      decision_wait: { type: ['string', 'number'], 'x-duration': true, description: 'How long after a trace\'s first span it is decided.' },
      decision_wait_after_root_received: { type: ['string', 'number'], 'x-duration': true, description: 'Decide this long after the trace\'s root invoke_agent span arrived, if sooner (0: off). Agent traces are long; their root ends last.' },
      num_traces: { type: 'integer', minimum: 1, description: 'Traces waiting at most; past it the oldest is decided per on_evict.' },
      max_bytes: { type: ['string', 'number'], 'x-size': true, description: 'Bytes of waiting spans at most; past it the oldest traces are evicted.' },
      expected_new_traces_per_sec: { type: 'integer', minimum: 0, description: 'Traces expected per second: fleetcol\'s maps grow as needed, so it only serves to warn at start when num_traces is below it × decision_wait (traces would be evicted before their decision).' },
      sample_on_first_match: { type: 'boolean', description: 'Stop at the first policy that keeps the trace (a later drop policy is then not read).' },
      decision_cache: {
        type: 'object',
        additionalProperties: false,
        description: 'Decisions remembered, so spans arriving after their trace was decided follow it.',
        properties: {
          sampled_cache_size: { type: 'integer', minimum: 0, description: 'Kept traces remembered.' },
          non_sampled_cache_size: { type: 'integer', minimum: 0, description: 'Dropped traces remembered.' },
        },
      },
      on_evict: { enum: ['sample', 'drop'], description: 'What happens to a trace evicted before its decision.' },
      policy_attribute: { type: 'boolean', description: 'Add tail_sampling.policy (the policy that kept it) to kept spans.' },
      policies: { type: 'array', maxItems: 256, items: POLICY_SCHEMA, description: 'Policies: { name, type, <type>: {...} }. A trace is kept when any policy keeps it and no drop policy matches.' },
    },
  },
  createDefaultConfig: () => ({
    decision_wait: '30s',
    decision_wait_after_root_received: '0s',
    num_traces: 50000,
    max_bytes: '256MiB',
    expected_new_traces_per_sec: 0,
    sample_on_first_match: false,
    decision_cache: { sampled_cache_size: 100000, non_sampled_cache_size: 100000 },
    on_evict: 'drop',
    policy_attribute: false,
    policies: [],
  }) as unknown as TailSamplingConfig,
  check(cfg: TailSamplingConfig): ConfigCheckProblem[] {
    const out: ConfigCheckProblem[] = [];
    const names = new Set<string>();
    const visit = (list: PolicyConfig[], path: string[]) => list.forEach((p, i) => {
      if (names.has(p.name) && path.length === 1) out.push({ path: [...path, String(i), 'name'], message: `policy name ${JSON.stringify(p.name)} used twice` });
      names.add(p.name);
      const c = p[p.type] as Record<string, unknown> | undefined;
      if (c === undefined && !['always_sample', 'tool_error'].includes(p.type)) out.push({ path: [...path, String(i)], message: `type ${p.type} needs its block \`${p.type}: {...}\`` });
      if (p.type === 'string_attribute' && c?.enabled_regex_matching === true) {
        for (const v of (c.values ?? []) as string[]) {
          try { new RegExp(v, 'u'); } catch (e) { out.push({ path: [...path, String(i), 'string_attribute', 'values'], message: `invalid regular expression: ${(e as Error).message}` }); }
        }
      }
      for (const sub of ['and_sub_policy', 'drop_sub_policy', 'composite_sub_policy']) {
        const l = c?.[sub];
        if (Array.isArray(l)) visit(l as PolicyConfig[], [...path, String(i), p.type, sub]);
      }
    });
    visit(cfg.policies, ['policies']);
    return out;
  },
  createProcessor: (set, cfg, signal, next) => new TailSamplingProcessor(set, cfg, signal, next),
};
