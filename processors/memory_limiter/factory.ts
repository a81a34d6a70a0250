import type { ConfigCheckProblem, Factory } from '../../src/component.js';
import { MemoryLimiterProcessor, type MemoryLimiterConfig } from './processor.js';

export const memoryLimiterProcessorFactory: Factory<MemoryLimiterConfig> = {
  type: 'memory_limiter',
  kind: 'processor',
  description: 'Refuses data (retryable: UNAVAILABLE / 503 with a retry delay) while live memory or RSS is above limit − spike, and then forces a full GC at most once a second. Put it first in every pipeline.',
  signals: ['traces', 'metrics', 'logs'],
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      check_interval: { type: ['string', 'number'], 'x-duration': true, description: 'How often memory is read; also the Retry-After given to refused senders (at least 1s).' },
      limit_mib: { type: 'integer', minimum: 0, description: 'Hard limit in MiB; 0 uses limit_percentage.' },
      spike_limit_mib: { type: 'integer', minimum: 0, description: 'Headroom below limit_mib: data is refused above limit − spike. 0: 20 % of the limit.' },
      limit_percentage: { type: 'number', minimum: 0, maximum: 100, description: 'Hard limit as a percentage of the memory available (the cgroup\'s limit, else the machine\'s), when limit_mib is 0.' },
      spike_limit_percentage: { type: 'number', minimum: 0, maximum: 100, description: 'Headroom as a percentage of available memory, with limit_percentage.' },
    },
  },
  createDefaultConfig: () => ({ check_interval: '1s', limit_mib: 0, spike_limit_mib: 0, limit_percentage: 80, spike_limit_percentage: 25 }) as unknown as MemoryLimiterConfig,
  check(cfg: MemoryLimiterConfig): ConfigCheckProblem[] {
    const out: ConfigCheckProblem[] = [];
    if (cfg.limit_mib > 0 && cfg.spike_limit_mib >= cfg.limit_mib) out.push({ path: ['spike_limit_mib'], message: 'must be below limit_mib' });
    if (cfg.limit_mib === 0 && cfg.limit_percentage > 0 && cfg.spike_limit_percentage >= cfg.limit_percentage) out.push({ path: ['spike_limit_percentage'], message: 'must be below limit_percentage' });
    if (cfg.limit_mib === 0 && cfg.limit_percentage === 0) out.push({ path: ['limit_mib'], message: 'limit_mib or limit_percentage must be set' });
    if (!(cfg.check_interval > 0)) out.push({ path: ['check_interval'], message: 'must be more than 0' });
    return out;
  },
  createProcessor: (set, cfg, signal, next) => new MemoryLimiterProcessor(set, cfg, signal, next),
};
