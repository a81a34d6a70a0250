// A latency histogram with bounded memory: log-linear buckets over whole microseconds, exact below
// 128 µs and 64 buckets per power of two above (each bucket at most 1/64 = 1.6 % wide), up to
// 2^31 µs (36 min). 1,664 counters, a few instructions per record, whatever the rate.

const SUB = 64; // buckets per power of two above the exact range
const EXACT = 2 * SUB; // 0..127 µs: one bucket per µs
const MAX_US = 2 ** 31 - 1;
const BUCKETS = EXACT + (31 - 7) * SUB;

export interface LatencySummary {
  /** Answers recorded. */
  count: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
}

function bucketOf(us: number): number {
  const v = Math.min(MAX_US, Math.max(0, Math.round(us)));
  if (v < EXACT) return v;
  const shift = 31 - Math.clz32(v) - 6; // v >> shift is in [64, 128)
  return EXACT + (shift - 1) * SUB + ((v >> shift) - SUB);
}

/** [lower, upper) bounds of a bucket, µs. */
function boundsOf(i: number): [number, number] {
  if (i < EXACT) return [i, i + 1];
  const shift = Math.floor((i - EXACT) / SUB) + 1;
  const lo = (SUB + ((i - EXACT) % SUB)) * 2 ** shift;
  return [lo, lo + 2 ** shift];
}

export class LatencyHistogram {
  private readonly counts = new Float64Array(BUCKETS);
  private count = 0;
  private sumUs = 0;
  private maxUs = 0;

  /** Records one latency, in milliseconds. */
  record(ms: number): void {
    const us = ms * 1000;
    this.counts[bucketOf(us)]!++;
    this.count++;
    this.sumUs += us;
    if (us > this.maxUs) this.maxUs = us;
  }

  reset(): void {
    this.counts.fill(0);
    this.count = 0;
    this.sumUs = 0;
    this.maxUs = 0;
  }

  /** Nearest-rank percentile (p in 0..100), ms: the middle of its bucket, never above the max seen. */
  percentile(p: number): number {
    if (this.count === 0) return NaN;
    const rank = Math.max(1, Math.ceil((p / 100) * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) {
        const [lo, hi] = boundsOf(i);
        return Math.min(this.maxUs, i < EXACT ? lo : (lo + hi) / 2) / 1000;
      }
    }
    return this.maxUs / 1000;
  }

  summary(): LatencySummary {
    return {
      count: this.count,
      p50Ms: this.percentile(50),
      p99Ms: this.percentile(99),
      maxMs: this.count ? this.maxUs / 1000 : NaN,
      meanMs: this.count ? this.sumUs / this.count / 1000 : NaN,
    };
  }
}
