// JSON-schema validation (ajv) of component configs, with the x-duration / x-size keywords that
// turn '5s' / '512MiB' into numbers, and ajv errors translated to path + position + plain words.
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { ErrorObject, SchemaValidateFunction, ValidateFunction } from 'ajv';
import type { Factory, JsonSchema } from '../component.js';
import type { Registry } from '../registry.js';
import { Code, type Loc, type Problems } from './errors.js';
import { joinPath, locate, type Node } from './tree.js';
import { parseDuration, parseSize } from './units.js';
import { endpointProblem } from '../net.js';

type Ajv = InstanceType<typeof Ajv2020.default>;

/** Non-zero numbers met by x-duration during one validation run (instance paths). */
let numericDurations: string[] = [];

const DURATION_HINT = '(use e.g. 200ms, 5s, 1m)';
const SIZE_HINT = '(use e.g. 512MiB, 4KiB, 1GB, or a number of bytes)';

function unitKeyword(keyword: 'x-duration' | 'x-size'): SchemaValidateFunction {
  const fn: SchemaValidateFunction = (enabled, data, _parent, cxt) => {
    if (enabled !== true) return true;
    const isDuration = keyword === 'x-duration';
    let value: number | undefined;
    if (typeof data === 'number') {
      value = data >= 0 ? data : undefined;
      // A number here is fine if it came from a factory default (already ms); a user writing
      // `timeout: 5` is told to add a unit, which is checked once we know where it came from.
      if (isDuration && value !== undefined && value !== 0 && cxt) numericDurations.push(cxt.instancePath);
    } else if (typeof data === 'string') {
      value = isDuration ? parseDuration(data) : parseSize(data);
    }
    if (value === undefined) {
      const what = typeof data === 'string' ? `"${data}"` : JSON.stringify(data);
      fn.errors = [{ keyword, params: {}, message: `invalid ${isDuration ? 'duration' : 'size'} ${what} ${isDuration ? DURATION_HINT : SIZE_HINT}` }];
      return false;
    }
    if (cxt?.parentData !== undefined) cxt.parentData[cxt.parentDataProperty] = value;
    return true;
  };
  return fn;
}

function endpointKeyword(): SchemaValidateFunction {
  const fn: SchemaValidateFunction = (enabled, data) => {
    if (enabled !== true || typeof data !== 'string') return true;
    const problem = endpointProblem(data);
    if (problem === undefined) return true;
    fn.errors = [{ keyword: 'x-endpoint', params: {}, message: problem }];
    return false;
  };
  return fn;
}

export function createAjv(): Ajv {
  const ajv = new Ajv2020.default({ allErrors: true, useDefaults: true, strict: false, verbose: true });
  addFormats.default(ajv);
  for (const keyword of ['x-duration', 'x-size'] as const) {
    ajv.addKeyword({ keyword, modifying: true, errors: true, schemaType: 'boolean', validate: unitKeyword(keyword) });
  }
  ajv.addKeyword({ keyword: 'x-endpoint', errors: true, schemaType: 'boolean', validate: endpointKeyword() });
  return ajv;
}

/** A copy of the schema where x-duration / x-size properties also accept numbers (bytes, or 0s). */
function widen(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(widen);
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) out[k] = widen(v);
  if (out['x-duration'] === true || out['x-size'] === true) {
    const t = out['type'];
    if (t === 'string') out['type'] = ['string', 'number'];
    else if (Array.isArray(t) && t.includes('string') && !t.includes('number')) out['type'] = [...t, 'number'];
  }
  return out;
}

interface Compiled {
  ajv: Ajv;
  fns: Map<Factory, ValidateFunction | string>;
}
const perRegistry = new WeakMap<Registry, Compiled>();

/** The factory's validator, compiled once per registry; a string if its schema does not compile. */
export function validatorFor(registry: Registry, factory: Factory): ValidateFunction | string {
  let c = perRegistry.get(registry);
  if (!c) perRegistry.set(registry, (c = { ajv: createAjv(), fns: new Map() }));
  let fn = c.fns.get(factory);
  if (fn === undefined) {
    fn = compile(c.ajv, factory.schema);
    c.fns.set(factory, fn);
  }
  return fn;
}

export function compile(ajv: Ajv, schema: JsonSchema): ValidateFunction | string {
  try {
    return ajv.compile(widen(schema) as JsonSchema);
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

/** Where the validated value sits: its path prefix and the user's node (if any) for positions. */
export interface Target {
  prefix: string[];
  node: Node | undefined;
  keyLoc: Loc;
}

/** Validates `data` in place (defaults added, units converted); reports problems; true if valid. */
export function runValidator(fn: ValidateFunction, data: unknown, target: Target, problems: Problems): boolean {
  numericDurations = [];
  const ok = fn(data) as boolean;
  let bad = 0;
  for (const p of numericDurations) {
    const segs = splitPointer(p);
    const user = target.node ? userScalar(target.node, segs) : undefined;
    if (typeof user !== 'number') continue;
    const loc = target.node ? locate(target.node, segs, target.keyLoc).valueLoc : target.keyLoc;
    problems.error(Code.BadDuration, joinPath([...target.prefix, ...segs]), loc, `invalid duration ${user} ${DURATION_HINT}`);
    bad++;
  }
  if (!ok) reportAjvErrors(fn.errors ?? [], target, problems);
  return ok && bad === 0;
}

function userScalar(n: Node, segs: string[]): unknown {
  let cur: Node | undefined = n;
  for (const s of segs) {
    if (cur?.t === 'map') cur = cur.entries.get(s)?.value;
    else if (cur?.t === 'seq') cur = cur.items[Number(s)];
    else return undefined;
  }
  return cur?.t === 'scalar' ? cur.value : undefined;
}

function splitPointer(p: string): string[] {
  return p === '' ? [] : p.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

export function reportAjvErrors(errors: ErrorObject[], target: Target, problems: Problems): void {
  // oneOf/anyOf failures come with one error per failed branch: fold those into one line.
  const combinators = errors
    .filter((e) => e.keyword === 'oneOf' || e.keyword === 'anyOf')
    .sort((a, b) => a.schemaPath.length - b.schemaPath.length);
  const folded = new Map<ErrorObject, ErrorObject[]>(combinators.map((c) => [c, []]));
  const claimed = new Set<ErrorObject>();
  for (const e of errors) {
    const owner = combinators.find((c) => c !== e && e.schemaPath.startsWith(`${c.schemaPath}/`));
    if (owner) {
      folded.get(owner)!.push(e);
      claimed.add(e);
    }
  }
  const seen = new Set<string>();
  for (const e of errors) {
    if (claimed.has(e) || e.keyword === 'if') continue;
    const r = describe(e, folded.get(e), target);
    const key = `${r.path}\0${r.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    problems.error(r.code, r.path, r.loc, r.message);
  }
}

function describe(e: ErrorObject, alternatives: ErrorObject[] | undefined, target: Target): { code: string; path: string; loc: Loc; message: string } {
  const segs = splitPointer(e.instancePath);
  const where = (s: string[], key: boolean) => {
    if (!target.node) return target.keyLoc;
    const l = locate(target.node, s, target.keyLoc);
    return key ? l.keyLoc : l.valueLoc;
  };
  const path = (s: string[]) => joinPath([...target.prefix, ...s]);
  const extra = e.keyword === 'additionalProperties' ? e.params['additionalProperty'] : e.keyword === 'unevaluatedProperties' ? e.params['unevaluatedProperty'] : undefined;
  if (typeof extra === 'string') {
    const props = (e.parentSchema as { properties?: Record<string, unknown> } | undefined)?.properties;
    const valid = props ? ` (valid: ${Object.keys(props).sort().join(', ') || 'none'})` : '';
    return { code: Code.UnknownKey, path: path([...segs, extra]), loc: where([...segs, extra], true), message: `unknown key "${extra}"${valid}` };
  }
  const base = { path: path(segs), loc: where(segs, e.keyword === 'required'), code: Code.Invalid as string };
  switch (e.keyword) {
    case 'x-duration':
      return { ...base, code: Code.BadDuration, message: e.message ?? 'invalid duration' };
    case 'x-size':
      return { ...base, code: Code.BadSize, message: e.message ?? 'invalid size' };
    case 'x-endpoint':
      return { ...base, code: Code.BadEndpoint, message: e.message ?? 'invalid endpoint' };
    case 'type':
      return { ...base, message: `must be ${String(e.params['type']).replace(/,/g, ' or ')}, got ${show(e.data)}` };
    case 'enum':
      return { ...base, message: `must be one of ${(e.params['allowedValues'] as unknown[]).map(show).join(', ')}, got ${show(e.data)}` };

    case 'oneOf':
    case 'anyOf': {
      const alts = [...new Set((alternatives ?? []).filter((a) => a.keyword !== 'if').map((a) => {
        const rel = splitPointer(a.instancePath).slice(segs.length);
        return `${rel.length ? `${joinPath(rel)}: ` : ''}${a.message ?? a.keyword}`;
      }))];
      return { ...base, message: alts.length ? `${e.message}: ${alts.join(' | ')}` : e.message ?? 'is invalid' };
    }
    default: {
      // minimum, pattern, format, minLength, const ...: ajv's words, plus the offending value.
      const got = e.data === null || typeof e.data !== 'object' ? `, got ${show(e.data)}` : '';
      return { ...base, message: `${e.message ?? `fails "${e.keyword}"`}${got}` };
    }
  }
}

function show(v: unknown): string {
  if (v === null || typeof v !== 'object') return typeof v === 'string' ? `"${v}"` : String(v);
  return Array.isArray(v) ? 'a list' : 'a map';
}
