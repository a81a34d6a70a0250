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
  /** Waits until take() has an entry to hand out at once (true), or the queue is closed and will
   *  hand out nothing more (false). Resolves with a boolean, never an entry: a consumer idles here
   *  for seconds, long enough for V8 to move its promise and frame to the old generation, and a
   *  batch stored into an old object stays alive until the next mark-compact, with every socket
   *  read it is a view of. Consumers wait here, then take() from a fresh frame. One waiter is
   *  woken per offer; a consumer that loses the race to another finds take() waiting. */
  ready(): Promise<boolean>;
  /** Stops accepting offers; take() keeps draining what is held (in memory). */
  close(): void;
  /** Drops everything held; returns what was dropped. A persistent queue drops nothing. */
  drain(): T[];
  /** Releases what the queue holds open (files), once no entry is out any more. */
  dispose?(): void;
  /** Calls `listener` whenever room may have been made (an entry was taken or acknowledged, or the
   *  queue closed), always from a microtask, never inside a call into the queue, so the listener
   *  may offer() at once. Returns the unsubscribe function. `block_on_overflow` waits on this; a
   *  queue without it is polled. */
  onSpace?(listener: () => void): () => void;
  /** True if what the queue holds survives a restart. */
  readonly persistent?: boolean;
  /** Resolves once everything offered so far is on the disk (a persistent queue with fsync: one
   *  fdatasync for all the offers of an event-loop turn, a group commit); absent when offer()
   *  alone is enough. Rejects if the sync failed (the offers may not be on the disk). */
  synced?(): Promise<void>;
  readonly size: number;
  readonly capacity: number;
}

export type Sizer = 'requests' | 'items' | 'bytes';

/** The listeners of Queue.onSpace: any number of notify() calls in one turn make one callback
 *  round, run from a microtask. */
export class SpaceListeners {
  private readonly listeners = new Set<() => void>();
  private scheduled = false;

  subscribe(listener: () => void): () => void {
    // Wrapped, so one listener subscribed twice gets two independent subscriptions.
    const l = () => listener();
    this.listeners.add(l);
    return () => void this.listeners.delete(l);
  }

  notify(): void {
    if (this.scheduled || this.listeners.size === 0) return;
    this.scheduled = true;
    queueMicrotask(this.run);
  }

  private readonly run = (): void => {
    this.scheduled = false;
    for (const l of [...this.listeners]) l();
  };
}
