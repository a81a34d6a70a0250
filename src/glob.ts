// Glob patterns (`*`, `?`) for agent filters, token claims and model names: matched by hand.

/** Longest glob pattern accepted (a token's agents claim, an alert's agent). */
export const MAX_GLOB_LENGTH = 256;

/** Glob patterns (`*`, `?`) → one predicate; `*` alone matches everything. Matched by hand, not
 *  compiled to a RegExp: a pattern comes from a client's token, and `*-*-*-*-x` as a backtracking
 *  regex against a long run of dashes takes exponential time. */
export function globMatcher(patterns: readonly string[]): (s: string) => boolean {
  if (patterns.includes('*')) return () => true;
  const exact = new Set<string>();
  const globs: string[] = [];
  for (const p of patterns) {
    if (!/[*?]/.test(p)) exact.add(p);
    else globs.push(p);
  }
  return (s) => exact.has(s) || globs.some((g) => globMatch(g, s));
}

/** Wildcard match in O(|pattern| × |s|) at worst: on a mismatch, only the last `*` is retried
 *  (one position further), never earlier ones, which a later `*` can always stand in for. */
export function globMatch(pattern: string, s: string): boolean {
  let p = 0;
  let i = 0;
  let star = -1;
  let from = 0;
  while (i < s.length) {
    const c = pattern.charCodeAt(p);
    if (p < pattern.length && (c === 63 /* ? */ || c === s.charCodeAt(i))) {
      p++;
      i++;
    } else if (p < pattern.length && c === 42 /* * */) {
      star = p++;
      from = i;
    } else if (star >= 0) {
      p = star + 1;
      i = ++from;
    } else return false;
  }
  while (p < pattern.length && pattern.charCodeAt(p) === 42) p++;
  return p === pattern.length;
}
