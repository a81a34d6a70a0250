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
  /** Bytes held per client (remote address), so one client cannot take the whole limit. */
  private readonly byClient = new Map<string, number>();

  constructor(
    readonly limit: number,
    /** What one client may hold of it (max_inflight_bytes_per_client). */
    readonly perClient: number = limit,
  ) {}

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

  /** Bytes the client holds now. */
  ofClient(client: string): number {
    return this.byClient.get(client) ?? 0;
  }

  /** A per-request tally, counted against the client's share too. */
  request(client = ''): RequestBytes {
    let held = 0;
    const byClient = this.byClient;
    const credit = (n: number) => {
      const c = (byClient.get(client) ?? 0) + n;
      if (c <= 0) byClient.delete(client);
      else byClient.set(client, c);
    };
    return {
      take: (n) => {
        if ((byClient.get(client) ?? 0) + n > this.perClient) return false;
        if (!this.take(n)) return false;
        held += n;
        credit(n);
        return true;
      },
      add: (n) => {
        this.add(n);
        held += n;
        credit(n);
      },
      release: () => {
        this.give(held);
        credit(-held);
        held = 0;
      },
    };
  }
}
