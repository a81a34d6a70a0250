// The sending queue's contract. The in-memory queue implements it now; a persistent one (file
// storage) slots in behind the same interface: `take` hands out an entry, and the entry is only
// forgotten when `done` is called after the backend confirmed it (or it was dropped for good).
export interface QueueEntry<T> {
  readonly item: T;
  done(): void;
}

export interface Queue<T> {
  /** Adds an item of the given size (in the queue's sizer unit); false if it does not fit. */
  offer(item: T, size: number): boolean;
  /** Waits for the next entry; undefined once the queue is closed and empty. */
  take(): Promise<QueueEntry<T> | undefined>;
  /** Stops accepting offers; take() keeps draining what is held. */
  close(): void;
  /** Drops everything held; returns what was dropped. */
  drain(): T[];
  readonly size: number;
  readonly capacity: number;
}

export type Sizer = 'requests' | 'items' | 'bytes';
