// The demo's waits. When the demo stops, every wait ends at once and later ones do not wait: tasks
// under way run their remaining steps straight through and end as planned, so each trace is whole
// (root span ended) when the SDK flushes, and the dashboard is left with no task hanging open.

export class Pace {
  private stopped = false;
  private readonly pending = new Map<NodeJS.Timeout, () => void>();

  get stopping(): boolean {
    return this.stopped;
  }

  wait(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.pending.delete(t);
        resolve();
      }, ms);
      this.pending.set(t, resolve);
    });
  }

  stop(): void {
    this.stopped = true;
    for (const [t, resolve] of this.pending) {
      clearTimeout(t);
      resolve();
    }
    this.pending.clear();
  }
}

/** A uniformly random number in [min, max). */
export const between = (min: number, max: number): number => min + Math.random() * (max - min);
/** A uniformly random integer in [min, max]. */
export const intBetween = (min: number, max: number): number => Math.floor(between(min, max + 1));
export const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)]!;
export const chance = (p: number): boolean => Math.random() < p;
