// Filter conditions, compiled once at configure time into predicates over one item's view: its
// attributes, its scope's and resource's, its name, kind, status, severity, metric name. Regular
// expressions come from the config (bounded in length) and run on values cut to MAX_SUBJECT
// characters, so a client's long value cannot make a match slow.

/** Longest pattern accepted in the config. */
export const MAX_PATTERN = 1024;
/** Characters of a client-supplied value a pattern or a comparison sees at most. */
export const MAX_SUBJECT = 4096;

export type Where = 'item' | 'scope' | 'resource';
export type SeverityName = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
export const SEVERITY_FLOOR: Record<SeverityName, number> = { trace: 1, debug: 5, info: 9, warn: 13, error: 17, fatal: 21 };
const KINDS: Record<string, number> = { unspecified: 0, internal: 1, server: 2, client: 3, producer: 4, consumer: 5 };
const STATUSES: Record<string, number> = { unset: 0, ok: 1, error: 2 };

/** One condition: every key it sets must hold. */
export interface ConditionConfig {
  attribute?: string;
  on?: Where;
  equals?: string | number | boolean;
  regex?: string;
  exists?: boolean;
  name?: string;
  name_regex?: string;
  kind?: string[];
  status?: string[];
  severity_min?: SeverityName;
  severity_below?: SeverityName;
  metric_name?: string;
  metric_name_regex?: string;
}

export interface MatchConfig {
  match: 'any' | 'all';
  conditions: ConditionConfig[];
}

/** A text a condition compares with, also as its UTF-8 bytes (compared with an encoded item's
 *  bytes without decoding them). */
export interface Literal {
  text: string;
  bytes: Uint8Array;
}

export const literal = (text: string): Literal => ({ text, bytes: Buffer.from(text, 'utf8') });

/** What a condition sees of an item, read when a condition asks (views.ts: of an encoded item or a
 *  decoded one). */
export interface View {
  /** Whether the item, its scope or its resource has attribute `key`. `id` is the key's index in
   *  the list compileMatch registered the item's keys in (-1 for scope and resource). */
  has(on: Where, key: string, id: number): boolean;
  /** That attribute's value as text, when it is a scalar. */
  text(on: Where, key: string, id: number): string | undefined;
  /** Span, span event or log record event name; metric name for metric points. */
  name(): string;
  /** name() === want.text */
  nameIs(want: Literal): boolean;
  /** name().startsWith(prefix.text) */
  nameStartsWith(prefix: Literal): boolean;
  kind(): number;
  status(): number;
  severity(): number;
  metricName(): string;
}

export type Predicate = (v: View) => boolean;

const cut = (s: string) => (s.length > MAX_SUBJECT ? s.slice(0, MAX_SUBJECT) : s);

/** Compiles a regex from the config; throws with a message fit for the user. */
export function compilePattern(p: string): RegExp {
  if (p.length > MAX_PATTERN) throw new Error(`pattern longer than ${MAX_PATTERN} characters`);
  return new RegExp(p, 'u');
}

/** The text every match of a pattern begins with: the literal characters after a leading `^`, up
 *  to the first special one ('' when there are none, or when the pattern has an alternative at
 *  its top level, which the `^` does not cover). A name is compared with it, as bytes on the
 *  encoded path, before the expression runs: most names fail there, undecoded. */
export function anchoredPrefix(p: string): string {
  if (!p.startsWith('^')) return '';
  // a top-level '|': '^a|b' also matches names not starting with 'a'
  let depth = 0;
  for (let i = 0; i < p.length; i++) {
    const ch = p[i]!;
    if (ch === '\\') i++;
    else if (ch === '[') {
      for (i++; i < p.length && p[i] !== ']'; i++) if (p[i] === '\\') i++;
    } else if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (ch === '|' && depth === 0) return '';
  }
  let end = 1;
  // ASCII only: a quantifier after a character beyond it would leave half of that in the prefix
  while (end < p.length && p.charCodeAt(end) < 0x80 && !'\\^$.|?*+()[]{}'.includes(p[end]!)) end++;
  // a quantifier applies to the character before it, which is then not required
  if (end < p.length && '?*{'.includes(p[end]!)) end--;
  // (a character beyond ASCII ends the prefix as well)
  return p.slice(1, Math.max(1, end));
}

/** Compiles one condition. Item attribute keys are added to `keys` (once each); the view is given
 *  their index there, for a view that matched those keys while reading the item. */
export function compileCondition(c: ConditionConfig, keys: string[] = []): Predicate {
  const parts: Predicate[] = [];
  if (c.attribute !== undefined) {
    const key = c.attribute;
    const on = c.on ?? 'item';
    let id = -1;
    if (on === 'item') {
      id = keys.indexOf(key);
      if (id < 0) id = keys.push(key) - 1;
    }
    if (c.exists !== undefined) {
      const want = c.exists;
      parts.push((v) => v.has(on, key, id) === want);
    }
    if (c.equals !== undefined) {
      const want = String(c.equals);
      parts.push((v) => {
        const s = v.text(on, key, id);
        return s !== undefined && s.length === want.length && s === want;
      });
    }
    if (c.regex !== undefined) {
      const re = compilePattern(c.regex);
      parts.push((v) => {
        const s = v.text(on, key, id);
        return s !== undefined && re.test(cut(s));
      });
    }
    if (c.exists === undefined && c.equals === undefined && c.regex === undefined) parts.push((v) => v.has(on, key, id));
  }
  if (c.name !== undefined) {
    const want = literal(c.name);
    parts.push((v) => v.nameIs(want));
  }
  if (c.name_regex !== undefined) {
    const re = compilePattern(c.name_regex);
    const prefix = anchoredPrefix(c.name_regex);
    if (prefix === '') parts.push((v) => re.test(cut(v.name())));
    else {
      const want = literal(prefix);
      parts.push((v) => v.nameStartsWith(want) && re.test(cut(v.name())));
    }
  }
  if (c.kind !== undefined) {
    const kinds = new Set(c.kind.map((k) => KINDS[k.toLowerCase()] ?? -1));
    parts.push((v) => kinds.has(v.kind()));
  }
  if (c.status !== undefined) {
    const st = new Set(c.status.map((k) => STATUSES[k.toLowerCase()] ?? -1));
    parts.push((v) => st.has(v.status()));
  }
  if (c.severity_min !== undefined) {
    const floor = SEVERITY_FLOOR[c.severity_min];
    parts.push((v) => v.severity() >= floor);
  }
  if (c.severity_below !== undefined) {
    const ceil = SEVERITY_FLOOR[c.severity_below];
    parts.push((v) => {
      const sev = v.severity();
      return sev > 0 && sev < ceil;
    });
  }
  if (c.metric_name !== undefined) {
    const want = c.metric_name;
    parts.push((v) => v.metricName() === want);
  }
  if (c.metric_name_regex !== undefined) {
    const re = compilePattern(c.metric_name_regex);
    parts.push((v) => re.test(cut(v.metricName())));
  }
  if (parts.length === 0) return () => false;
  if (parts.length === 1) return parts[0]!;
  return allOf(parts);
}

// Loops rather than every/some: a callback closing over the view was an allocation per item.
function allOf(ps: readonly Predicate[]): Predicate {
  return (v) => {
    for (let i = 0; i < ps.length; i++) if (!ps[i]!(v)) return false;
    return true;
  };
}

function anyOf(ps: readonly Predicate[]): Predicate {
  return (v) => {
    for (let i = 0; i < ps.length; i++) if (ps[i]!(v)) return true;
    return false;
  };
}

export function compileMatch(m: MatchConfig | undefined, keys: string[] = []): Predicate | undefined {
  if (m === undefined || m.conditions.length === 0) return undefined;
  const ps = m.conditions.map((c) => compileCondition(c, keys));
  if (ps.length === 1) return ps[0]!;
  return m.match === 'all' ? allOf(ps) : anyOf(ps);
}

/** The configure-time problems of a match block (bad patterns), each with its path. */
export function matchProblems(m: MatchConfig | undefined, path: string[]): Array<{ path: string[]; message: string }> {
  const out: Array<{ path: string[]; message: string }> = [];
  m?.conditions.forEach((c, i) => {
    for (const k of ['regex', 'name_regex', 'metric_name_regex'] as const) {
      const p = c[k];
      if (p === undefined) continue;
      try {
        compilePattern(p);
      } catch (e) {
        out.push({ path: [...path, 'conditions', String(i), k], message: `invalid regular expression: ${(e as Error).message}` });
      }
    }
    if ((c.on !== undefined || c.equals !== undefined || c.regex !== undefined || c.exists !== undefined) && c.attribute === undefined) {
      out.push({ path: [...path, 'conditions', String(i)], message: 'on, equals, regex and exists need attribute' });
    }
  });
  return out;
}

/** The schema of a condition list (include / exclude). */
export const MATCH_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['conditions'],
  properties: {
    match: { enum: ['any', 'all'], default: 'any', description: 'any: one condition suffices; all: every condition must hold.' },
    conditions: {
      type: 'array',
      maxItems: 256,
      items: {
        type: 'object',
        additionalProperties: false,
        minProperties: 1,
        description: 'Every key set in a condition must hold.',
        properties: {
          attribute: { type: 'string', minLength: 1, maxLength: 256, description: 'An attribute key; alone: the attribute exists.' },
          on: { enum: ['item', 'scope', 'resource'], description: 'Whose attributes (default item).' },
          equals: { type: ['string', 'number', 'boolean'], description: 'The attribute\'s value, compared as text.' },
          regex: { type: 'string', maxLength: MAX_PATTERN, description: `A regular expression the attribute's value matches (its first ${MAX_SUBJECT} characters).` },
          exists: { type: 'boolean', description: 'The attribute is present (true) or absent (false).' },
          name: { type: 'string', maxLength: 1024, description: 'Span or span event name, exactly.' },
          name_regex: { type: 'string', maxLength: MAX_PATTERN, description: 'Span or span event name, by regular expression.' },
          kind: { type: 'array', items: { enum: ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'] }, description: 'Span kinds.' },
          status: { type: 'array', items: { enum: ['unset', 'ok', 'error'] }, description: 'Span status codes.' },
          severity_min: { enum: ['trace', 'debug', 'info', 'warn', 'error', 'fatal'], description: 'Log records of this severity or worse.' },
          severity_below: { enum: ['trace', 'debug', 'info', 'warn', 'error', 'fatal'], description: 'Log records with a severity below this one.' },
          metric_name: { type: 'string', maxLength: 1024, description: 'Metric name, exactly.' },
          metric_name_regex: { type: 'string', maxLength: MAX_PATTERN, description: 'Metric name, by regular expression.' },
        },
      },
    },
  },
} as const;
