// What the receiver's validating scan learns about a request while it walks it anyway, for the
// processors that read requests in place (src/pdata/edit.ts) to read less of them:
// - which attribute keys may occur anywhere in it: a 128-bit Bloom filter with one bit per
//   KeyValue key (any nesting: resource, scope, item, event, link, kvlist), so a processor whose
//   keys have no bit set knows that no item has them, without looking;
// - whether it is in canonical order: every message's fields in field-number order and no
//   singular field twice (what every encoder writes). A reader may then stop at the last field it
//   needs, because a later occurrence of an earlier field (which protobuf would let win) cannot
//   follow.
// Both only ever say "may": a request without facts (made by a processor, decoded, from a worker
// or a queue) is read in full.
// The scan notes them only once a component asked for them (collectFacts, at configure time):
// ~65 ns per span of agent spans (7 % of the scan, bench/pdata.ts) that no other pipeline pays.

/** The facts of one request. Immutable: shared by clones and splits. */
export interface WireFacts {
  /** the Bloom filter's four 32-bit words */
  readonly k0: number;
  readonly k1: number;
  readonly k2: number;
  readonly k3: number;
  readonly ordered: boolean;
}

/** The filter bit (0-127) of the key in v's bytes [s, s + n): from its length and its last four
 *  bytes, which tell keys apart better than their first (`gen_ai.`, `llm.`). One load and one
 *  multiply: the scan computes it for every attribute key of every request. */
export function keyBit(v: DataView, s: number, n: number): number {
  const tail = n >= 4 ? v.getUint32(s + n - 4) : n;
  return Math.imul(tail ^ (n << 3), 0x9e3779b1) >>> 25;
}

/** keyBit of a key given as text. */
export function keyBitOf(key: string): number {
  const b = Buffer.from(key, 'utf8');
  return keyBit(new DataView(b.buffer, b.byteOffset, b.length), 0, b.length);
}

/** Whether a key with filter bit `bit` may occur in the request (true when there are no facts). */
export function mayHaveKey(f: WireFacts | undefined, bit: number): boolean {
  if (f === undefined) return true;
  const w = bit >>> 5;
  const word = w === 0 ? f.k0 : w === 1 ? f.k1 : w === 2 ? f.k2 : f.k3;
  return (word & (1 << (bit & 31))) !== 0;
}

/** The facts of requests concatenated (a merged batch): undefined unless each has them. */
export function mergeFacts(list: ReadonlyArray<WireFacts | undefined>): WireFacts | undefined {
  let k0 = 0, k1 = 0, k2 = 0, k3 = 0;
  let ordered = true;
  for (const f of list) {
    if (f === undefined) return undefined;
    k0 |= f.k0;
    k1 |= f.k1;
    k2 |= f.k2;
    k3 |= f.k3;
    // Concatenation changes no message below the request itself, and readers stop within items.
    ordered &&= f.ordered;
  }
  return { k0, k1, k2, k3, ordered };
}

/** Whether scans note facts: set once a component that reads them is configured. */
export let collecting = false;

/** Makes every scan from now on note its request's facts (a processor that reads them calls it
 *  when it is created; `false` is for benchmarks and tests). */
export function collectFacts(on = true): void {
  collecting = on;
}

/** What a scan fills in, reset per scan. */
export class FactsAccumulator {
  /** the filter's words */
  readonly words = new Int32Array(4);
  ordered = true;

  reset(): void {
    this.words.fill(0);
    this.ordered = true;
  }

  facts(): WireFacts {
    const w = this.words;
    return { k0: w[0]!, k1: w[1]!, k2: w[2]!, k3: w[3]!, ordered: this.ordered };
  }
}
