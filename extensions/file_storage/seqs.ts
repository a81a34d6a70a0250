// The seqs of a queue's un-acked records, in increasing order, and the watermark they imply:
// every seq below the first un-acked one is acked. Acks come nearly in order (a few consumers
// finish out of order), so a ring of numbers plus a small set of early acks is enough.
export class LiveSeqs {
  private a = new Float64Array(256);
  private head = 0;
  private n = 0;
  /** Acked while an older seq is still un-acked. */
  readonly early = new Set<number>();

  get length(): number {
    return this.n;
  }

  /** The first un-acked seq, or `fallback` if none. */
  first(fallback: number): number {
    return this.n > 0 ? this.a[this.head]! : fallback;
  }

  /** Adds a seq larger than every seq held. */
  push(seq: number): void {
    if (this.n === this.a.length) {
      const b = new Float64Array(this.a.length * 2);
      for (let i = 0; i < this.n; i++) b[i] = this.a[(this.head + i) % this.a.length]!;
      this.a = b;
      this.head = 0;
    }
    this.a[(this.head + this.n) % this.a.length] = seq;
    this.n++;
  }

  /** Marks `seq` acked; true if the watermark moved (then `first()` is the new watermark). */
  ack(seq: number): boolean {
    if (this.n === 0 || this.a[this.head] !== seq) {
      this.early.add(seq);
      return false;
    }
    this.shift();
    while (this.n > 0 && this.early.delete(this.a[this.head]!)) this.shift();
    return true;
  }

  private shift(): void {
    this.head = (this.head + 1) % this.a.length;
    this.n--;
  }
}
