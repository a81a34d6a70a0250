// Process-wide accounting of the bytes fleetcol holds in memory on the pipeline's behalf: batches
// in sending queues (waiting, in flight, or blocked waiting for room), requests in the worker
// pool. Each holder registers a reader; nothing is counted on the hot path here, holders keep
// their own running totals and this adds them up when asked. A memory_limiter processor reads
// total() to refuse data before the process runs short; own metrics publish it
// (fleetcol_process_buffered_bytes, and per exporter fleetcol_exporter_queue_bytes).
export interface MemoryHolder {
  /** `exporter`, `workers`, ... */
  kind: string;
  id: string;
  bytes(): number;
}

export class MemoryAccounting {
  private readonly holders = new Set<MemoryHolder>();

  /** Adds a holder; returns the function that removes it (call it at shutdown). */
  register(kind: string, id: string, bytes: () => number): () => void {
    const h: MemoryHolder = { kind, id, bytes };
    this.holders.add(h);
    return () => void this.holders.delete(h);
  }

  /** Bytes held by every registered holder now. */
  total(): number {
    let n = 0;
    for (const h of this.holders) n += h.bytes();
    return n;
  }

  /** Each holder's bytes, e.g. for a log line when memory runs short. */
  snapshot(): Array<{ kind: string; id: string; bytes: number }> {
    return [...this.holders].map((h) => ({ kind: h.kind, id: h.id, bytes: h.bytes() }));
  }
}

/** The one accounting object of the process. */
export const memoryAccounting = new MemoryAccounting();
