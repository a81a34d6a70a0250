// The sampling arithmetic, apart from any pipeline: the collector's hash_seed decision (FNV-1a over
// the seed and the trace id, 14 bits) and OTEP 235's consistent sampling (56-bit randomness against
// a rejection threshold, written to tracestate as `ot=th:`). Thresholds and randomness are 56-bit
// integers held as BigInt at configure time and as two 28-bit halves per item.

/** 2^56: the number of distinct randomness values. */
export const MAX_ADJUSTED = 1n << 56n;
const HALF = 1 << 28;
/** Hash buckets of the hash_seed mode (14 bits). */
export const HASH_BUCKETS = 0x4000;
/** Longest tracestate read (W3C allows 512 characters; some senders write more). */
export const MAX_TRACESTATE = 1024;

/** FNV-1a, 32 bits, over the seed's 4 little-endian bytes and then `data` (from `start` to `end`). */
export function fnv1aSeeded(seed: number, data: Uint8Array, start = 0, end = data.length): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < 4; i++) {
    h ^= (seed >>> (8 * i)) & 0xff;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  for (let i = start; i < end; i++) {
    h ^= data[i]!;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** The hash_seed mode's accept bound: items whose 14-bit hash is below it are kept. Computed as
 *  the collector does, in 32-bit floats and truncated, so both keep the same items. */
export function hashSeedBound(percentage: number): number {
  const pct = Math.fround(Math.min(percentage, 100));
  return Math.trunc(Math.fround(pct * Math.fround(HASH_BUCKETS / 100)));
}

export function hashSeedKeeps(seed: number, bound: number, data: Uint8Array, start = 0, end = data.length): boolean {
  return (fnv1aSeeded(seed, data, start, end) & (HASH_BUCKETS - 1)) < bound;
}

/** A 56-bit value as [high 28 bits, low 28 bits]. */
export type U56 = readonly [number, number];

export function u56(v: bigint): U56 {
  return [Number(v >> 28n), Number(v & 0xfffffffn)];
}

export function atLeast(r: U56, t: U56): boolean {
  return r[0] > t[0] || (r[0] === t[0] && r[1] >= t[1]);
}

/** Randomness of a trace id (the 16 bytes from `at`): its low 56 bits (bytes 9..15); undefined for
 *  an all-zero or short id. */
export function traceRandomness(buf: Uint8Array, at = 0, end = buf.length): U56 | undefined {
  if (end - at !== 16) return undefined;
  let zero = true;
  for (let i = at; i < end; i++) if (buf[i] !== 0) { zero = false; break; }
  if (zero) return undefined;
  const hi = ((buf[at + 9]! << 20) | (buf[at + 10]! << 12) | (buf[at + 11]! << 4) | (buf[at + 12]! >>> 4)) >>> 0;
  const lo = (((buf[at + 12]! & 0x0f) << 24) | (buf[at + 13]! << 16) | (buf[at + 14]! << 8) | buf[at + 15]!) >>> 0;
  return [hi, lo];
}

/** Randomness made from a hashed value (log records without a trace id), as the collector makes it:
 *  14 bits of 16383 − hash, 28 mixed bits from the hash's unused 18, then the hash's 14 bits. */
export function hashedRandomness(seed: number, data: Uint8Array): U56 {
  const h32 = fnv1aSeeded(seed, data);
  const hashed = BigInt(h32 & (HASH_BUCKETS - 1));
  const unused18 = BigInt(h32 >>> 14);
  const mixed28 = (unused18 ^ (unused18 << 10n)) & 0xfffffffn;
  return u56((BigInt(HASH_BUCKETS - 1) - hashed) << 42n | (mixed28 << 14n) | hashed);
}

/** Parses 1..14 hex digits as a 56-bit value (a threshold is right-padded with zeros, randomness
 *  must have all 14). */
export function parseHex56(s: string, pad: boolean): bigint | undefined {
  if (s.length === 0 || s.length > 14 || (!pad && s.length !== 14)) return undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return undefined;
  }
  return BigInt('0x' + s.padEnd(14, '0'));
}

/** A threshold as `th` writes it: 14 hex digits, trailing zeros stripped ("0" for sample-all). */
export function encodeThreshold(t: bigint): string {
  const s = t.toString(16).padStart(14, '0').replace(/0+$/, '');
  return s === '' ? '0' : s;
}

/** The rejection threshold of probability `p` with `precision` significant hex digits (0 or 14:
 *  exact); undefined when p is outside [2^-56, 1]. */
export function thresholdOf(p: number, precision: number): bigint | undefined {
  if (!(p >= 2 ** -56 && p <= 1)) return undefined;
  if (p === 1) return 0n;
  const scaled = BigInt(Math.round(p * 2 ** 56));
  let t = MAX_ADJUSTED - scaled;
  let prec = precision <= 0 ? 14 : precision;
  for (let reject = 1 - p; reject * 16 < 1 && prec < 14; reject *= 16) prec++;
  const shift = BigInt(4 * (14 - Math.min(prec, 14)));
  if (shift > 0n) {
    t = ((t + (1n << (shift - 1n))) >> shift) << shift;
    if (t >= MAX_ADJUSTED) t = MAX_ADJUSTED - (1n << shift);
  }
  return t;
}

export function probabilityOf(t: bigint): number {
  return Number(MAX_ADJUSTED - t) / 2 ** 56;
}

/** The `ot` member of a W3C tracestate: its sub-keys, and the other members as they were. */
export interface OtState {
  rv: string | undefined;
  th: string | undefined;
  /** other `ot` sub-keys, `k:v` each, in order */
  rest: string[];
  /** the other vendors' members, in order */
  others: string[];
}

/** undefined: not a tracestate fleetcol will edit (too long, malformed `ot`). */
export function parseTraceState(ts: string): OtState | undefined {
  if (ts.length > MAX_TRACESTATE) return undefined;
  const st: OtState = { rv: undefined, th: undefined, rest: [], others: [] };
  if (ts.trim() === '') return st;
  let seenOt = false;
  for (const raw of ts.split(',')) {
    const m = raw.trim();
    if (m === '') continue;
    if (!m.startsWith('ot=')) {
      st.others.push(m);
      continue;
    }
    if (seenOt) return undefined;
    seenOt = true;
    for (const part of m.slice(3).split(';')) {
      if (part === '') continue;
      const c = part.indexOf(':');
      if (c <= 0) return undefined;
      const k = part.slice(0, c);
      const v = part.slice(c + 1);
      if (k === 'rv') st.rv = v;
      else if (k === 'th') st.th = v;
      else st.rest.push(part);
    }
  }
  return st;
}

/** The tracestate with `ot` first (a member a vendor changes moves to the front). */
export function formatTraceState(st: OtState): string {
  const ot: string[] = [];
  if (st.th !== undefined) ot.push(`th:${st.th}`);
  if (st.rv !== undefined) ot.push(`rv:${st.rv}`);
  ot.push(...st.rest);
  const members = ot.length > 0 ? [`ot=${ot.join(';')}`, ...st.others] : st.others;
  return members.join(',');
}

export { HALF as U28 };
