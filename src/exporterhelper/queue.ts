// The sending queue's contract. The in-memory queue implements it, and so does the persistent one
// a storage extension opens (see storage.ts): `take` hands out an entry, and the entry is only
// forgotten when `done` is called after the backend confirmed it (or it was dropped for good).
export interface QueueEntry<T> {
  readonly item: T;
  /** Sent, or dropped for good: forget it. */
  done(): void;
  /** Neither sent nor dropped (the exporter is stopping): a persistent queue keeps it for the next
   *  start. Absent on queues that cannot keep anything. */
  release?(): void;
}

export interface Queue<T> {
  /** Adds an item of the given size (in the queue's sizer unit); false if it does not fit. */
  offer(item: T, size: number): boolean;
  /** Waits for the next entry; undefined once the queue is closed and empty. A persistent queue
   *  hands out nothing after close(): what it holds stays for the next start. */
  take(): Promise<QueueEntry<T> | undefined>;
  /** Stops accepting offers; take() keeps draining what is held (in memory). */
  close(): void;
  /** Drops everything held; returns what was dropped. A persistent queue drops nothing. */
  drain(): T[];
  /** Releases what the queue holds open (files), once no entry is out any more. */
  dispose?(): void;
  /** True if what the queue holds survives a restart. */
  readonly persistent?: boolean;
  readonly size: number;
  readonly capacity: number;
}

export type Sizer = 'requests' | 'items' | 'bytes';
