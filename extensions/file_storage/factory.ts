import type { Factory, JsonSchema } from '../../src/component.js';
import { FileStorage, type FileStorageConfig } from './storage.js';

const schema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['directory'],
  properties: {
    directory: { type: 'string', minLength: 1, description: 'Where the queues live (created if missing); one folder per exporter.' },
    fsync: { type: 'boolean', description: 'fdatasync what was written before the receiver answers OK: survives power loss, not only a crash of fleetcol. The requests of one event-loop turn share one fdatasync (group commit).' },
    fsync_delay: { type: 'string', 'x-duration': true, description: 'With fsync: how long a request may wait for others to share its fdatasync (0s: the next turn of the event loop). A few ms at a steady rate cut the syncs, and their CPU, several-fold, for as much answer latency.' },
    max_size: { type: 'string', 'x-size': true, description: 'Disk budget of all queues in the directory; beyond it new data is refused (retryable).' },
    segment_size: { type: 'string', 'x-size': true, description: 'Size of one log file; a file is deleted once all its records are acked (at most max_size/4).' },
    compaction: {
      type: 'object',
      additionalProperties: false,
      description: 'Reclaiming space held by a few un-acked records in otherwise acked files.',
      properties: {
        on_start: { type: 'boolean', description: 'At start, move the records of mostly acked files to a new file and delete the old ones.' },
        on_rebound: { type: 'boolean', description: 'While running, move batches stuck in retries out of otherwise acked files.' },
        check_interval: { type: 'string', 'x-duration': true, description: 'How often on_rebound looks.' },
      },
    },
  },
};

export function defaultFileStorageConfig() {
  return {
    fsync: false,
    fsync_delay: '0s',
    max_size: '1GiB',
    segment_size: '32MiB',
    compaction: { on_start: false, on_rebound: true, check_interval: '5s' },
  };
}

export const fileStorageExtensionFactory: Factory<FileStorageConfig> = {
  type: 'file_storage',
  kind: 'extension',
  description: 'Crash-safe, at-least-once persistent sending queues on disk (`sending_queue.storage`): checksummed segment log, ack log, disk budget.',
  schema,
  createDefaultConfig: () => defaultFileStorageConfig() as unknown as FileStorageConfig,
  createExtension: (set, cfg) => new FileStorage(set, cfg),
};
