// Bounds: every string a client or agent supplies is cut before it is stored or matched.

/** Longest string kept from the wire (states, ids, names, messages) by default. */
export const MAX_STRING = 4096;
/** Longest id (task, context, artifact, event) kept. */
export const MAX_ID = 256;
/** Most artifact ids remembered per task (to tell a new artifact from one seen in a snapshot). */
export const MAX_ARTIFACTS_PER_TASK = 256;

export function clip(s: string, max = MAX_STRING): string {
  return s.length > max ? s.slice(0, max) : s;
}

/** A string field of an untrusted object, cut to `max`; undefined when absent or not a string. */
export function strField(o: unknown, key: string, max = MAX_STRING): string | undefined {
  if (o === null || typeof o !== 'object') return undefined;
  const v = (o as Record<string, unknown>)[key];
  return typeof v === 'string' ? clip(v, max) : undefined;
}

export function objField(o: unknown, key: string): Record<string, unknown> | undefined {
  if (o === null || typeof o !== 'object') return undefined;
  const v = (o as Record<string, unknown>)[key];
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Exponential backoff with full jitter: a random delay in [0, min(max, initial * 2^attempt)). */
export function backoffDelay(attempt: number, initialMs: number, maxMs: number): number {
  const cap = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
  return Math.floor(Math.random() * cap);
}
