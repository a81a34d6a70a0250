// What an exporter asks of a storage extension (`sending_queue.storage: <extension id>`): a
// persistent queue of its own. The core knows storage only through this interface; the
// implementation (extensions/file_storage) is reached through the registry.
import type { Extension } from '../component.js';
import type { Signal, Telemetry } from '../pdata/telemetry.js';
import type { Queue, Sizer } from './queue.js';

export interface QueueStorageOptions {
  /** The exporter's id: each exporter gets its own sub-queue, named after it. */
  owner: string;
  signals: readonly Signal[];
  sizer: Sizer;
  /** sending_queue.queue_size, in sizer units. */
  capacity: number;
}

export interface QueueStorage extends Extension {
  /** Opens (creating or recovering) the exporter's queue. Throws if it cannot. */
  openQueue(opts: QueueStorageOptions): Queue<Telemetry>;
}

export function isQueueStorage(ext: Extension | undefined): ext is QueueStorage {
  return ext !== undefined && typeof (ext as Partial<QueueStorage>).openQueue === 'function';
}
