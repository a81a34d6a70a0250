// Settings every exporter shares (the collector's exporterhelper shape). Durations are strings in
// the config; the config loader turns them into milliseconds before a factory sees them.
import type { JsonSchema } from '../component.js';
import type { Sizer } from './queue.js';

export interface QueueSettings {
  enabled: boolean;
  num_consumers: number;
  queue_size: number;
  sizer: Sizer;
  /** Id of a storage extension (file_storage): the queue is kept on disk. */
  storage?: string;
}

export interface RetrySettings {
  enabled: boolean;
  initial_interval: number;
  max_interval: number;
  /** 0 retries forever. */
  max_elapsed_time: number;
  multiplier: number;
  randomization_factor: number;
}

export interface HelperSettings {
  timeout: number;
  sending_queue: QueueSettings;
  retry_on_failure: RetrySettings;
}

export function defaultHelperSettings() {
  return {
    timeout: '5s',
    sending_queue: { enabled: true, num_consumers: 10, queue_size: 1000, sizer: 'requests' as Sizer },
    retry_on_failure: {
      enabled: true,
      initial_interval: '5s',
      max_interval: '30s',
      max_elapsed_time: '300s',
      multiplier: 1.5,
      randomization_factor: 0.5,
    },
  };
}

const duration = { type: ['string', 'number'], 'x-duration': true };

export const helperSchemaProperties: Record<string, JsonSchema> = {
  timeout: { ...duration, description: 'Per-attempt deadline of one export call.' },
  sending_queue: {
    type: 'object',
    additionalProperties: false,
    description: 'Bounded queue between the pipeline and the senders.',
    properties: {
      enabled: { type: 'boolean', description: 'Off: the pipeline waits for each export.' },
      num_consumers: { type: 'integer', minimum: 1, maximum: 1000, description: 'Concurrent exports.' },
      queue_size: { type: 'integer', minimum: 1, description: 'Capacity, in units of `sizer`.' },
      sizer: { enum: ['requests', 'items', 'bytes'], description: 'What queue_size counts.' },
      storage: {
        type: 'string',
        pattern: '^[A-Za-z][A-Za-z0-9_]*(/[A-Za-z0-9_.-]+)?$',
        description: 'Id of a storage extension (e.g. `file_storage`): a persistent queue that survives restarts and crashes.',
      },
    },
  },
  retry_on_failure: {
    type: 'object',
    additionalProperties: false,
    description: 'Exponential backoff for retryable failures.',
    properties: {
      enabled: { type: 'boolean' },
      initial_interval: { ...duration, description: 'First wait.' },
      max_interval: { ...duration, description: 'Longest wait between attempts.' },
      max_elapsed_time: { ...duration, description: 'Give up after this long; 0s retries forever.' },
      multiplier: { type: 'number', minimum: 1 },
      randomization_factor: { type: 'number', minimum: 0, maximum: 1 },
    },
  },
};
