import type { Factory } from '../../src/component.js';
import { ProbabilisticSamplerProcessor, type ProbabilisticSamplerConfig } from './processor.js';

export const probabilisticSamplerProcessorFactory: Factory<ProbabilisticSamplerConfig> = {
  type: 'probabilistic_sampler',
  kind: 'processor',
  description: 'Keeps a share of traces (by trace id) and log records (by trace id, else an attribute), decision-compatible with the collector\'s: hash_seed (FNV), proportional and equalizing (OTEP 235, threshold written to tracestate as ot=th).',
  signals: ['traces', 'logs'],
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      mode: { enum: ['hash_seed', 'proportional', 'equalizing'], description: 'hash_seed: the collector\'s original FNV hash of hash_seed and the trace id (14 bits). proportional: each item\'s sampling probability is multiplied by sampling_percentage (OTEP 235). equalizing: items end at sampling_percentage, those already sampled lower pass as they are. Absent: hash_seed when hash_seed is set (or logs are sampled by record), else proportional, as the collector decides.' },
      sampling_percentage: { type: 'number', minimum: 0, description: 'Percentage of traces or records kept; 100 or more keeps all, 0 none.' },
      hash_seed: { type: 'integer', minimum: 0, maximum: 4294967295, description: 'Seed of the hash (hash_seed mode; logs hashed by attribute in every mode). Tiers of collectors that should keep the same traces use the same seed; tiers that sample again use different ones.' },
      fail_closed: { type: 'boolean', description: 'Drop items whose randomness cannot be read (no trace id and no attribute, a malformed or inconsistent tracestate); false keeps them.' },
      sampling_precision: { type: 'integer', minimum: 1, maximum: 14, description: 'Hex digits of the threshold written to tracestate (ot=th).' },
      attribute_source: { enum: ['traceID', 'record'], description: 'Logs: traceID samples by the record\'s trace id (from_attribute when it has none); record by from_attribute only.' },
      from_attribute: { type: 'string', maxLength: 256, description: 'Logs: the attribute whose value is hashed when the trace id is not used (its first 4096 bytes).' },
      sampling_priority: { type: 'string', maxLength: 256, description: 'Logs: the attribute whose number overrides the decision (0 drops, more keeps); sampling.priority is read too. Spans always honour sampling.priority.' },
    },
  },
  createDefaultConfig: () => ({
    sampling_percentage: 0,
    hash_seed: 0,
    fail_closed: true,
    sampling_precision: 4,
    attribute_source: 'traceID',
    from_attribute: '',
    sampling_priority: '',
  }),
  createProcessor: (set, cfg, signal, next) => new ProbabilisticSamplerProcessor(set, cfg, signal, next),
};
