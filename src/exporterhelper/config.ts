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
  /** When full, make consume() wait for room (back-pressure) instead of refusing at once. */
  block_on_overflow?: boolean;
  /** How long consume() waits for room with block_on_overflow, ms. */
  block_timeout?: number;
  /** Batching when read from the queue (the collector's exporter-side batching). */
  batch?: BatchSettings;
}

/** sending_queue.batch: requests go into the queue as they arrive (so the receiver's OK waits only
 *  for the queue) and are merged into batches as the senders read them. */
export interface BatchSettings {
  /** Send what is gathered once the oldest of it has waited this long, ms. */
  flush_timeout: number;
  /** Send as soon as this much is gathered (in `sizer` units). */
  min_size: number;
  /** Never send more than this in one request (0: no limit); larger requests are split (items). */
  max_size: number;
  sizer: 'items' | 'bytes';
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
    sending_queue: { enabled: true, num_consumers: 10, queue_size: 1000, sizer: 'requests' as Sizer, block_on_overflow: false, block_timeout: '1s' },
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
      block_on_overflow: {
        type: 'boolean',
        description: 'When the queue is full, wait up to block_timeout for room instead of refusing at once; then refuse as back-pressure (the receiver answers UNAVAILABLE / 503 with a retry delay; not counted as enqueue_failed).',
      },
      block_timeout: { ...duration, description: 'With block_on_overflow: longest wait for room; keep it well under clients\' deadlines (SDKs default to 10s).' },
      batch: {
        type: 'object',
        additionalProperties: false,
        description: 'Batch in the exporter: requests are queued as they arrive (the OK waits only for the queue, on disk with `storage`) and merged into batches as they are read. Use this rather than the batch processor in front of a persistent queue.',
        properties: {
          flush_timeout: { ...duration, default: '200ms', description: 'Send what is gathered once its oldest request has waited this long.' },
          min_size: { type: 'integer', minimum: 0, default: 8192, description: 'Send as soon as this much is gathered (in batch.sizer units).' },
          max_size: { type: 'integer', minimum: 0, default: 0, description: 'Largest request sent (0: no limit); with sizer items, larger ones are split.' },
          sizer: { enum: ['items', 'bytes'], default: 'items', description: 'What min_size and max_size count.' },
        },
      },
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
