// Per-key coalescing, independent of the signal: items wait under their key and only the latest is
// kept. `debounce`: the first item of a burst starts a window; at its end the latest item of the
// key goes on. `max_rate`: a key's first item goes on at once, later ones within `window` of the
// last emission wait and the latest goes on when the window ends. The number of waiting keys is
// bounded; past it an item goes on at once.

export type Mode = 'debounce' | 'max_rate';

export interface Held<T> {
  item: T;
  due: number;
}

export interface CoalescerStats {
  coalesced: number;
  overflow: number;
}

export class Coalescer<T> {
  private readonly pending = new Map<string, Held<T>>();
  /** max_rate: when each key last went on (pruned once older than the window). */
  private readonly lastEmit = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private nextDue = Infinity;
  readonly stats: CoalescerStats = { coalesced: 0, overflow: 0 };

  constructor(
    private readonly mode: Mode,
    private readonly windowMs: number,
    private readonly maxKeys: number,
    /** Items whose time came, in the order their keys first waited. */
    private readonly emit: (items: T[]) => void,
  ) {}

  get size(): number {
    return this.pending.size;
  }

  /** Returns true if the item must go on now (the caller sends it with this batch's passthrough). */
  offer(key: string, item: T, now: number): boolean {
    const held = this.pending.get(key);
    if (held !== undefined) {
      held.item = item;
      this.stats.coalesced++;
      return false;
    }
    if (this.mode === 'max_rate') {
      const last = this.lastEmit.get(key);
      if (last === undefined || now - last >= this.windowMs) {
        this.markEmitted(key, now);
        return true;
      }
      return this.hold(key, item, last + this.windowMs);
    }
    return this.hold(key, item, now + this.windowMs);
  }

  /** Forgets what waits under `key` (a passthrough item superseded it); true if something did. */
  supersede(key: string, now: number): boolean {
    const had = this.pending.delete(key);
    if (had) this.stats.coalesced++;
    if (this.mode === 'max_rate') this.markEmitted(key, now);
    return had;
  }

  private hold(key: string, item: T, due: number): boolean {
    if (this.pending.size >= this.maxKeys) {
      this.stats.overflow++;
      return true;
    }
    this.pending.set(key, { item, due });
    if (due < this.nextDue) this.arm(due);
    return false;
  }

  private markEmitted(key: string, now: number): void {
    this.lastEmit.delete(key); // re-insert: the map stays in emission order, for pruning
    this.lastEmit.set(key, now);
    if (this.lastEmit.size > this.maxKeys * 2) this.prune(now);
  }

  private prune(now: number): void {
    for (const [k, t] of this.lastEmit) {
      if (now - t < this.windowMs) break;
      this.lastEmit.delete(k);
    }
    while (this.lastEmit.size > this.maxKeys * 2) this.lastEmit.delete(this.lastEmit.keys().next().value!);
  }

  private arm(due: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.nextDue = due;
    this.timer = setTimeout(() => this.fire(), Math.max(0, due - Date.now()));
  }

  private fire(now = Date.now()): void {
    this.timer = undefined;
    this.nextDue = Infinity;
    const out: T[] = [];
    let next = Infinity;
    for (const [k, h] of this.pending) {
      if (h.due <= now) {
        out.push(h.item);
        this.pending.delete(k);
        if (this.mode === 'max_rate') this.markEmitted(k, now);
      } else if (h.due < next) next = h.due;
    }
    if (next < Infinity) this.arm(next);
    if (out.length > 0) this.emit(out);
  }

  /** Everything waiting, now (shutdown). */
  drain(): T[] {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.nextDue = Infinity;
    const out = [...this.pending.values()].map((h) => h.item);
    this.pending.clear();
    return out;
  }
}
