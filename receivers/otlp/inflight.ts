// The request bytes one OTLP receiver holds at once, across its gRPC and HTTP connections: bodies
// being read, decoded, or waiting for the pipeline's answer. Bounded by `max_inflight_bytes`: a
// request that would pass it is refused as retryable (UNAVAILABLE / 503) while it is being read,
// so the number of connections does not decide how much memory requests take. Registered with
// the process-wide memory accounting (src/memory.ts).

/** One request's share: take/add through it, release everything once (idempotent). */
export interface RequestBytes {
  take(n: number): boolean;
  add(n: number): void;
  release(): void;
}

export class InflightBytes {
  private used = 0;

  constructor(readonly limit: number) {}

  get bytes(): number {
    return this.used;
  }

  /** Holds n more bytes; false (nothing held) when that would pass the limit. */
  take(n: number): boolean {
    if (this.used + n > this.limit) return false;
    this.used += n;
    return true;
  }

  /** Holds n more bytes whatever the limit (a body already bounded by the size limits, e.g. the
   *  decompressed form of one already held). */
  add(n: number): void {
    this.used += n;
  }

  give(n: number): void {
    this.used -= n;
  }

  /** A per-request tally. */
  request(): RequestBytes {
    let held = 0;
    return {
      take: (n) => {
        if (!this.take(n)) return false;
        held += n;
        return true;
      },
      add: (n) => {
        this.add(n);
        held += n;
      },
      release: () => {
        this.give(held);
        held = 0;
      },
    };
  }
}
