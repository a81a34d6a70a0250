// Small helpers of the feed: ids as hex, times in ms. (Attribute lookup is the core's: src/vocab;
// glob patterns src/glob.ts.)
export const hex = (b: Uint8Array | undefined): string => (b && b.length > 0 ? Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex') : '');

/** ns since the epoch → ms (float, µs precision). */
export const nsToMs = (ns: bigint): number => Number(ns / 1000n) / 1000;
