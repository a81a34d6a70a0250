import type { Factory, JsonSchema } from '../../src/component.js';
import { FileStorage, type FileStorageConfig } from './storage.js';

const schema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['directory'],
  properties: {
    directory: { type: 'string', minLength: 1, description: 'Where the queues live (created if missing); one folder per exporter.' },
    fsync: { type: 'boolean', description: 'fdatasync what was written before the receiver answers OK: survives power loss, not only a crash of fleetcol. Requests share an fdatasync (group commit): those of one event-loop turn, and see fsync_delay.' },
    fsync_delay: { type: 'string', 'x-duration': true, description: 'With fsync: the longest a request waits for others to share its fdatasync. It waits only while another request is expected before then (from the recent gap between requests) and fewer than 8 wait, so a lone request is synced at once; at a steady 100 requests/s a 30ms delay makes one fdatasync per ~3-4 requests. 0s: the requests of one event-loop turn only.' },
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
    fsync_delay: '30ms',
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
