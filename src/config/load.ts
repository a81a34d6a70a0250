// Entry point: files -> merged tree (+ --set) -> env substitution -> per-component defaults and
// schema validation -> service graph checks. Every problem is collected, none thrown.
import { readFileSync } from 'node:fs';
import type { Kind } from '../component.js';
import type { Registry } from '../registry.js';
import { Code, Problems, type ConfigProblem, type Loc } from './errors.js';
import { substituteEnv } from './env.js';
import { resolveService, type Defined, type Section, type Sections } from './service.js';
import { emptyMap, isNull, locate, mergeNodes, setKey, setPath, toPlain, type MapEntry, type MapNode } from './tree.js';
import type { ComponentConfig, ResolvedConfig, ServiceConfig } from './types.js';
import { runValidator, validatorFor } from './validate.js';
import { parseSetValue, parseYamlSource } from './yaml.js';

export { formatProblems, type ConfigProblem } from './errors.js';
export type { ComponentConfig, PipelineConfig, ResolvedConfig, ServiceConfig, Signal, TelemetryConfig } from './types.js';

export interface LoadResult {
  /** Present only when there are no errors. */
  config?: ResolvedConfig;
  errors: ConfigProblem[];
  warnings: ConfigProblem[];
}

export interface LoadOptions {
  files: string[];
  /** `a.b.c=value`, as given to --set. */
  sets?: string[];
  /** Defaults to process.env. */
  env?: Record<string, string | undefined>;
  registry: Registry;
}

const SECTIONS: Record<Section, Kind> = { receivers: 'receiver', processors: 'processor', exporters: 'exporter', connectors: 'connector', extensions: 'extension' };
const TOP_KEYS = ['connectors', 'exporters', 'extensions', 'processors', 'receivers', 'service'];
const TYPE = /^[A-Za-z][A-Za-z0-9_]*$/;
const NAME = /^[A-Za-z0-9_.-]+$/;

export function loadConfig(opts: LoadOptions): LoadResult {
  const problems = new Problems();
  const root = readAll(opts.files, opts.sets ?? [], problems);
  // Syntax errors stop here: checking a half-read config only yields misleading follow-on errors.
  if (!root) return { errors: problems.errors(), warnings: problems.warnings() };
  substituteEnv(root, opts.env ?? process.env, problems);

  for (const [k, e] of root.entries) {
    if (!TOP_KEYS.includes(k)) problems.error(Code.UnknownKey, k, e.keyLoc, `unknown top-level key "${k}" (valid: ${TOP_KEYS.join(', ')})`);
  }
  const sections = {} as Sections;
  const resolved = {} as Record<Section, Map<string, ComponentConfig>>;
  for (const s of Object.keys(SECTIONS) as Section[]) {
    sections[s] = new Map();
    resolved[s] = resolveSection(s, root.entries.get(s), sections[s], opts.registry, problems);
  }
  const service = resolveService(root.entries.get('service'), sections, root.loc, problems);
  heldBeforePersistentQueues(service, resolved, sections, problems);

  const result: LoadResult = { errors: problems.errors(), warnings: problems.warnings() };
  if (result.errors.length === 0) result.config = { ...resolved, service, sources: [...opts.files] };
  return result;
}

/** Reads, parses and merges the files in order, then applies the --set overrides. */
function readAll(files: string[], sets: string[], problems: Problems): MapNode | undefined {
  if (files.length === 0 && sets.length === 0) {
    problems.error(Code.NoFiles, '', undefined, 'no config given (use --config FILE)');
    return undefined;
  }
  let root: MapNode = emptyMap({ source: files[0] ?? '--set', order: 0, line: 1, col: 1 });
  files.forEach((file, order) => {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
      problems.error(Code.Read, '', { source: file, order }, `cannot read config file: ${why}`);
      return;
    }
    const tree = parseYamlSource(text, file, order, problems);
    if (tree) root = mergeNodes(root, tree) as MapNode;
  });
  sets.forEach((arg, i) => {
    const order = files.length + i;
    const eq = arg.indexOf('=');
    const key = eq < 0 ? arg : arg.slice(0, eq);
    const loc: Loc = { source: `--set ${key}`, order };
    const path = key.split('.');
    if (eq <= 0 || path.some((s) => s === '')) {
      problems.error(Code.BadSet, '', loc, `invalid --set "${arg}" (use --set key.path=value)`);
      return;
    }
    const value = parseSetValue(arg.slice(eq + 1), loc, problems);
    if (value) setPath(root, path, value, loc);
  });
  return problems.errorCount > 0 ? undefined : root;
}

function resolveSection(section: Section, e: MapEntry | undefined, defined: Map<string, Defined>, registry: Registry, problems: Problems): Map<string, ComponentConfig> {
  const out = new Map<string, ComponentConfig>();
  if (!e || isNull(e.value)) return out;
  if (e.value.t !== 'map') {
    problems.error(Code.NotAMap, section, e.value.loc, `must be a map of ${section} by id`);
    return out;
  }
  const kind = SECTIONS[section];
  for (const [id, ce] of e.value.entries) {
    const path = `${section}.${id}`;
    const slash = id.indexOf('/');
    const type = slash < 0 ? id : id.slice(0, slash);
    const name = slash < 0 ? undefined : id.slice(slash + 1);
    if (!TYPE.test(type) || (name !== undefined && !NAME.test(name))) {
      problems.error(Code.BadId, path, ce.keyLoc, `invalid ${kind} id "${id}" (use type or type/name; a name is letters, digits, "_", "." or "-")`);
      defined.set(id, { keyLoc: ce.keyLoc, factory: undefined });
      continue;
    }
    const factory = registry.get(kind, type);
    defined.set(id, { keyLoc: ce.keyLoc, factory });
    if (!factory) {
      problems.error(Code.UnknownType, path, ce.keyLoc, `unknown ${kind} type "${type}" (valid: ${registry.types(kind).join(', ') || 'none'})`);
      continue;
    }
    if (!isNull(ce.value) && ce.value.t !== 'map') {
      problems.error(Code.NotAMap, path, ce.value.loc, `must be a map of settings (or empty for the defaults)`);
      continue;
    }
    const fn = validatorFor(registry, factory);
    if (typeof fn === 'string') {
      problems.error(Code.Schema, path, ce.keyLoc, `${kind} "${type}" has an invalid config schema (a bug in fleetcol): ${fn}`);
      continue;
    }
    const user = isNull(ce.value) ? {} : toPlain(ce.value);
    const config = withDefaults(factory.createDefaultConfig() ?? {}, user);
    if (!runValidator(fn, config, { prefix: [section, id], node: ce.value, keyLoc: ce.keyLoc }, problems)) continue;
    const checked = factory.check?.(config) ?? [];
    for (const p of checked) {
      const loc: Loc = p.at ? { source: p.at.file, order: ce.keyLoc.order, line: p.at.line, col: p.at.col } : locate(ce.value, p.path, ce.keyLoc).valueLoc;
      problems.error(Code.Invalid, [path, ...p.path].join('.'), loc, p.message);
    }
    if (checked.length === 0) out.set(id, { id, type, name, kind, factory, config });
  }
  return out;
}

/** A processor that keeps items after answering (its factory's `crashLoses`) in front of an
 *  exporter with a persistent queue breaks the promise that an OK is on disk: warn, naming what a
 *  crash loses. Processors that wait for the queue (batch) are not flagged. */
function heldBeforePersistentQueues(service: ServiceConfig, resolved: Record<Section, Map<string, ComponentConfig>>, sections: Sections, problems: Problems): void {
  for (const p of service.pipelines) {
    const persistent = p.exporters.filter((id) => {
      const q = (resolved.exporters.get(id)?.config as { sending_queue?: { enabled?: boolean; storage?: string } } | undefined)?.sending_queue;
      return q?.storage !== undefined && q.enabled !== false;
    });
    if (persistent.length === 0) continue;
    const queues = persistent.map((e) => `"${e}"`).join(', ');
    // From the exporters back, as the pipeline decides at run time: a processor that waits for a
    // durable next stage (batch) keeps the promise only if everything after it does.
    let durable = true;
    let breaker: string | undefined;
    for (let i = p.processors.length - 1; i >= 0; i--) {
      const id = p.processors[i]!;
      const f = resolved.processors.get(id)?.factory;
      const where = `service.pipelines.${p.id}.processors`;
      const at = sections.processors.get(id)?.keyLoc;
      if (f?.crashLoses) {
        problems.warn(Code.HeldBeforeQueue, where, at, `processor "${id}" answers before the persistent queue of ${queues} has the items it holds: a crash loses ${f.crashLoses}`);
      } else if (f?.crashLosesUnlessNextDurable && !durable) {
        problems.warn(Code.HeldBeforeQueue, where, at, `processor "${id}" answers at once, since "${breaker}" after it does not wait for the persistent queue of ${queues}: a crash loses ${f.crashLosesUnlessNextDurable}; put "${id}" after "${breaker}", or batch in the exporter (sending_queue.batch)`);
      }
      if (!f?.crashLosesUnlessNextDurable) {
        durable = false;
        breaker = id;
      }
    }
  }
}

/** The factory's defaults under the user's values: maps merge, user wins, null means "default". */
export function withDefaults(defaults: unknown, user: unknown): unknown {
  if (user === null || user === undefined) return clone(defaults);
  if (!isObject(defaults) || !isObject(user)) return user;
  const out = clone(defaults) as Record<string, unknown>;
  for (const [k, v] of Object.entries(user)) {
    setKey(out, k, Object.hasOwn(out, k) ? withDefaults(out[k], v) : v);
  }
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Deep copy of plain data, so validation (defaults, unit conversion) never edits a factory's. */
function clone(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(clone);
  if (!isObject(v) || Object.getPrototypeOf(v) !== Object.prototype) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) setKey(out, k, clone(x));
  return out;
}
