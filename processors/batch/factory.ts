import type { Factory } from '../../src/component.js';
import { BatchProcessor, type BatchConfig } from './processor.js';

export const batchProcessorFactory: Factory<BatchConfig> = {
  type: 'batch',
  kind: 'processor',
  description: 'Groups batches by size or time before export. In front of a persistent queue each caller waits until its batch is in the queue (an OK stays durable; prefer `sending_queue.batch` there); otherwise it answers at once and holds (bounded) what the next stage refuses.',
  signals: ['traces', 'metrics', 'logs'],
  crashLosesUnlessNextDurable: 'what it holds (up to `timeout` of items, and what the next stage refuses, up to max_pending_items)',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      send_batch_size: { type: 'integer', minimum: 1, description: 'Send as soon as this many items are held.' },
      timeout: { type: ['string', 'number'], 'x-duration': true, description: 'Send what is held after this long (0s: no waiting).' },
      send_batch_max_size: { type: 'integer', minimum: 0, description: 'Split batches larger than this (0: no limit).' },
      max_pending_items: { type: 'integer', minimum: 0, description: 'Items held at most (waiting for a cut, or for the next stage); past it, refuse upstream (0: 10 × send_batch_size).' },
    },
  },
  createDefaultConfig: () => ({ send_batch_size: 8192, timeout: '200ms' as unknown as number, send_batch_max_size: 0, max_pending_items: 0 }),
  createProcessor: (set, cfg, _signal, next) => new BatchProcessor(set, cfg, next),
};
