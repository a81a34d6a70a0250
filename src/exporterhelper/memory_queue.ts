import { SpaceListeners, type Queue, type QueueEntry } from './queue.js';

/** A bounded FIFO in memory. Size is counted in the sizer's unit (requests, items or bytes). */
export class MemoryQueue<T> implements Queue<T> {
  private items: Array<{ item: T; size: number }> = [];
  private head = 0;
  private used = 0;
  private closed = false;
  private waiters: Array<(e: QueueEntry<T> | undefined) => void> = [];
  private readyWaiters: Array<(ready: boolean) => void> = [];
  private readonly space = new SpaceListeners();

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.used;
  }

  offer(item: T, size: number): boolean {
    if (this.closed) return false;
    // One oversized item is still accepted into an empty queue, else it could never be sent.
    if (this.used + size > this.capacity && this.used > 0) return false;
    const waiter = this.waiters.shift();
    if (waiter) {
      waiter(this.entry(item, 0));
      return true;
    }
    this.items.push({ item, size });
    this.used += size;
    this.readyWaiters.shift()?.(true);
    return true;
  }

  ready(): Promise<boolean> {
    if (this.head < this.items.length) return READY;
    if (this.closed) return CLOSED;
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  take(): Promise<QueueEntry<T> | undefined> {
    if (this.head < this.items.length) {
      const { item, size } = this.items[this.head]!;
      this.items[this.head++] = undefined as never;
      if (this.head > 1024 && this.head * 2 > this.items.length) {
        this.items = this.items.slice(this.head);
        this.head = 0;
      }
      this.used -= size;
      this.space.notify();
      return Promise.resolve(this.entry(item, size));
    }
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  close(): void {
    this.closed = true;
    if (this.head >= this.items.length) {
      for (const w of this.waiters.splice(0)) w(undefined);
      for (const w of this.readyWaiters.splice(0)) w(false);
    }
    this.space.notify();
  }

  drain(): T[] {
    const rest = this.items.slice(this.head).map((e) => e.item);
    this.items = [];
    this.head = 0;
    this.used = 0;
    for (const w of this.waiters.splice(0)) w(undefined);
    for (const w of this.readyWaiters.splice(0)) w(false);
    this.space.notify();
    return rest;
  }

  onSpace(listener: () => void): () => void {
    return this.space.subscribe(listener);
  }

  private entry(item: T, _size: number): QueueEntry<T> {
    return { item, done: noop };
  }
}

function noop(): void {}
const READY = Promise.resolve(true);
const CLOSED = Promise.resolve(false);
