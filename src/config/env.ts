// ${env:NAME} / ${env:NAME:-default} substitution in string values; `$$` is a literal `$`.
import { parseDocument } from 'yaml';
import { Code, type Loc, type Problems } from './errors.js';
import { joinPath, type Node, type Scalar } from './tree.js';

type Env = Record<string, string | undefined>;

const REF = /^env:([A-Za-z_][A-Za-z0-9_]*)(?::-([\s\S]*))?$/;

/** Substitutes in place, walking every string scalar of the tree (map keys are left alone). */
export function substituteEnv(n: Node, env: Env, problems: Problems, path: string[] = []): void {
  if (n.t === 'map') {
    for (const [k, e] of n.entries) substituteEnv(e.value, env, problems, [...path, k]);
  } else if (n.t === 'seq') {
    n.items.forEach((item, i) => substituteEnv(item, env, problems, [...path, String(i)]));
  } else if (typeof n.value === 'string' && n.value.includes('$')) {
    const r = expand(n.value, env, problems, joinPath(path), n.loc);
    if (r === undefined) return;
    // A plain scalar that is exactly one reference takes the type its text has in YAML (so
    // `port: ${env:P}` is a number); quoted ones stay strings, as the user asked.
    n.value = r.whole && n.plain ? typed(r.text) : r.text;
  }
}

interface Expanded {
  text: string;
  /** The scalar was exactly one `${env:...}`. */
  whole: boolean;
}

function expand(s: string, env: Env, problems: Problems, path: string, loc: Loc): Expanded | undefined {
  let out = '';
  let refs = 0;
  let whole = false;
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (c !== '$' || (s[i + 1] !== '$' && s[i + 1] !== '{')) {
      out += c;
      i++;
      continue;
    }
    if (s[i + 1] === '$') {
      out += '$';
      i += 2;
      continue;
    }
    const end = s.indexOf('}', i + 2);
    if (end < 0) {
      problems.error(Code.EnvSyntax, path, loc, `unterminated "\${" in "${s}" (write $$ for a literal $)`);
      return undefined;
    }
    const inner = s.slice(i + 2, end);
    const m = REF.exec(inner);
    if (!m || m[2]?.includes('${')) {
      const why = m ? 'nested references are not supported' : 'use ${env:NAME} or ${env:NAME:-default}; $$ for a literal $';
      problems.error(Code.EnvSyntax, path, loc, `invalid reference "\${${inner}}" (${why})`);
      return undefined;
    }
    const [, name, def] = m;
    // Like otelcol: the default applies only when the variable is unset (set-but-empty is kept).
    let value = env[name!];
    if (value === undefined) {
      if (def === undefined) problems.warn(Code.EnvUnset, path, loc, `environment variable ${name} is not set; using ""`);
      value = def ?? '';
    }
    if (i === 0 && end === s.length - 1) whole = true;
    out += value;
    refs++;
    i = end + 1;
  }
  return { text: out, whole: whole && refs === 1 };
}

function typed(text: string): Scalar {
  // Text that is not a valid YAML scalar on its own (a list, a map, broken quoting) stays a string.
  const doc = parseDocument(text);
  if (doc.errors.length > 0 || doc.warnings.length > 0) return text;
  const v: unknown = doc.toJS();
  // A value that is only a comment ('#abc') is not a null.
  if (v === null && !/^\s*(~|null|Null|NULL)?\s*$/.test(text)) return text;
  return v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? v : text;
}
