// The `service` section: extensions to start, pipelines (the graph), own telemetry, shutdown
// timeout; and the checks that tie the graph to the components defined above it.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { Factory, JsonSchema } from '../component.js';
import { Code, type Loc, type Problems } from './errors.js';
import { isNull, joinPath, toPlain, type MapEntry, type Node } from './tree.js';
import { SIGNALS, type PipelineConfig, type ServiceConfig, type Signal, type TelemetryConfig, type WorkersConfig } from './types.js';
import { parseDuration } from './units.js';
import { compile, createAjv, runValidator } from './validate.js';

export type Section = 'receivers' | 'processors' | 'exporters' | 'connectors' | 'extensions';
/** A component id as defined in its section; factory undefined when its type is unknown. */
export interface Defined {
  keyLoc: Loc;
  factory: Factory | undefined;
}
export type Sections = Record<Section, Map<string, Defined>>;

const SINGULAR: Record<Section, string> = { receivers: 'receiver', processors: 'processor', exporters: 'exporter', connectors: 'connector', extensions: 'extension' };
const ID_NAME = /^[A-Za-z0-9_.-]+$/;
const DEFAULT_SHUTDOWN_MS = 30_000;

const TELEMETRY_SCHEMA: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    logs: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        level: { enum: ['trace', 'debug', 'info', 'warn', 'error', 'silent'], default: 'info' },
        encoding: { enum: ['json', 'console', 'auto'], default: 'auto' },
      },
    },
    metrics: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        level: { enum: ['none', 'basic', 'normal', 'detailed'], default: 'normal' },
        address: { type: 'string', pattern: '^(\\[[^\\]]+\\]|[^:\\s]*):\\d{1,5}$', 'x-endpoint': true, default: '127.0.0.1:8888' },
      },
    },
    traces: {
      type: 'object',
      additionalProperties: false,
      properties: { endpoint: { type: 'string', minLength: 1 }, insecure: { type: 'boolean' } },
    },
  },
};
let telemetryValidator: ReturnType<typeof compile> | undefined;

const WORKERS_SCHEMA: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    threads: { type: 'integer', minimum: 0, maximum: 256, description: 'Worker threads for decoding requests (default: CPU cores - 1, at least 1; 0: all on the main thread).' },
    max_queue: { type: 'integer', minimum: 1, default: 256, description: 'Requests waiting for a thread; past it the receiver answers UNAVAILABLE / 503.' },
    proto_min_size: { type: ['string', 'number'], 'x-size': true, default: '256KiB', description: 'Protobuf requests at least this large are validated in a thread; smaller ones inline.' },
    json_min_size: { type: ['string', 'number'], 'x-size': true, default: '4KiB', description: 'OTLP/JSON requests at least this large are decoded in a thread.' },
    young_generation_size: { type: ['string', 'number'], 'x-size': true, default: '48MiB', description: "Each thread's V8 young generation, where a request's decoded tree lives and dies (values under 3MiB, V8's 1 MiB semi-spaces, are raised to it). The main thread's is set by the node flag --max-semi-space-size (1 MiB semi-spaces from `npm start`: low RSS), which does not apply to these threads." },
  },
};
let workersValidator: ReturnType<typeof compile> | undefined;

/** service.workers with every default filled in: threads = usable CPUs - 1, at least 1. */
export function defaultWorkers(): WorkersConfig {
  return { threads: Math.max(1, usableCpus() - 1), max_queue: 256, proto_min_size: 256 * 1024, json_min_size: 4 * 1024, young_generation_size: 48 * 1024 * 1024 };
}

/** The CPUs this process may use: the CPU affinity (availableParallelism), capped by a cgroup CPU
 *  quota (a container's CPU limit, which Node 20's libuv does not see: with `limits.cpu: 1` on a
 *  16-core node it would say 16). */
export function usableCpus(read: (path: string) => string = (p) => readFileSync(p, 'utf8')): number {
  const cpus = availableParallelism();
  const quota = cgroupCpuQuota(read);
  return quota === undefined ? cpus : Math.max(1, Math.min(cpus, Math.ceil(quota)));
}

/** CPUs allowed by the cgroup's quota (v2 cpu.max, else v1 cfs_quota/cfs_period); undefined: none. */
function cgroupCpuQuota(read: (path: string) => string): number | undefined {
  const attempt = (f: () => number | undefined) => {
    try {
      return f();
    } catch {
      return undefined;
    }
  };
  const v2 = attempt(() => {
    const [quota, period] = read('/sys/fs/cgroup/cpu.max').trim().split(/\s+/);
    return quota === 'max' || !period ? undefined : Number(quota) / Number(period);
  });
  if (v2 !== undefined) return Number.isFinite(v2) && v2 > 0 ? v2 : undefined;
  const v1 = attempt(() => {
    const quota = Number(read('/sys/fs/cgroup/cpu/cpu.cfs_quota_us').trim());
    const period = Number(read('/sys/fs/cgroup/cpu/cpu.cfs_period_us').trim());
    return quota > 0 && period > 0 ? quota / period : undefined;
  });
  return v1 !== undefined && Number.isFinite(v1) && v1 > 0 ? v1 : undefined;
}

export function resolveService(entry: MapEntry | undefined, sections: Sections, rootLoc: Loc, problems: Problems): ServiceConfig {
  const svc: ServiceConfig = { extensions: [], pipelines: [], telemetry: telemetry(undefined, rootLoc, problems), shutdownTimeoutMs: DEFAULT_SHUTDOWN_MS, workers: defaultWorkers() };
  if (!entry || isNull(entry.value)) {
    problems.error(Code.NoService, 'service', entry?.keyLoc ?? rootLoc, 'no service section: define service.pipelines');
    return svc;
  }
  if (entry.value.t !== 'map') {
    problems.error(Code.NotAMap, 'service', entry.value.loc, 'must be a map');
    return svc;
  }
  const m = entry.value.entries;
  for (const [k, e] of m) {
    if (!['extensions', 'pipelines', 'telemetry', 'shutdown_timeout', 'workers'].includes(k)) {
      problems.error(Code.UnknownKey, `service.${k}`, e.keyLoc, `unknown key "${k}" (valid: extensions, pipelines, shutdown_timeout, telemetry, workers)`);
    }
  }
  const ext = m.get('extensions');
  if (ext) svc.extensions = idList(ext, ['service', 'extensions'], 'extensions', undefined, sections, problems);
  const tel = m.get('telemetry');
  if (tel) svc.telemetry = telemetry(tel, rootLoc, problems);
  const wk = m.get('workers');
  if (wk) svc.workers = workers(wk, problems);
  const st = m.get('shutdown_timeout');
  if (st && !isNull(st.value)) svc.shutdownTimeoutMs = shutdownTimeout(st, problems);

  const pl = m.get('pipelines');
  if (!pl || pl.value.t !== 'map' || pl.value.entries.size === 0) {
    const loc = pl ? (isNull(pl.value) ? pl.keyLoc : pl.value.loc) : entry.keyLoc;
    problems.error(Code.NoPipelines, 'service.pipelines', loc, pl && pl.value.t !== 'map' && !isNull(pl.value) ? 'must be a map of pipelines' : 'no pipelines: define at least one (traces, metrics, logs)');
    return svc;
  }
  const places: Places = new Map();
  for (const [id, e] of pl.value.entries) {
    const p = pipeline(id, e, sections, problems, places);
    if (p) svc.pipelines.push(p);
  }
  unused(svc, pl.value.entries, sections, problems);
  connectors(svc, sections, places, problems);
  return svc;
}

/** Where each id was written in each pipeline's lists: `pipeline\0section\0id` → its place. */
type Places = Map<string, Loc>;
const place = (pipeline: string, section: 'receivers' | 'exporters', id: string) => `${pipeline}\u0000${section}\u0000${id}`;
const arrow = (pairs: ReadonlyArray<readonly [Signal, Signal]>) => pairs.map(([a, b]) => `${a} → ${b}`).join(', ');

/**
 * Connectors tie pipelines together: each must be an exporter of one pipeline and a receiver of
 * another, every use must find a partner of a signal pair the connector supports, and the
 * pipelines they tie must not form a cycle.
 */
function connectors(svc: ServiceConfig, sections: Sections, places: Places, problems: Problems): void {
  const defined = sections.connectors;
  if (defined.size === 0) return;
  const pairsOf = (id: string) => defined.get(id)?.factory?.connects ?? [];
  for (const [id, def] of defined) {
    const out = svc.pipelines.filter((p) => p.exporters.includes(id));
    const into = svc.pipelines.filter((p) => p.receivers.includes(id));
    if (out.length === 0 || into.length === 0) {
      const missing = out.length === 0 ? 'under exporters of any pipeline' : 'under receivers of any pipeline';
      problems.error(Code.Unused, `connectors.${id}`, def.keyLoc, `connector "${id}" is not listed ${missing}: a connector is an exporter in one pipeline and a receiver in another`);
      continue;
    }
    const pairs = pairsOf(id);
    for (const p of out) {
      // A signal the connector does not take at all was reported where it is listed.
      if (pairs.some(([a]) => a === p.signal) && !pairs.some(([a, b]) => a === p.signal && into.some((q) => q.signal === b))) {
        const wants = pairs.filter(([a]) => a === p.signal).map(([, b]) => b);
        problems.error(Code.UnsupportedSignal, `service.pipelines.${p.id}.exporters`, places.get(place(p.id, 'exporters', id)), `connector "${id}" has nothing to feed from pipeline "${p.id}": it connects ${arrow(pairs)}, and no ${wants.join(' or ') || 'matching'} pipeline lists it under receivers`);
      }
    }
    for (const q of into) {
      if (pairs.some(([, b]) => b === q.signal) && !pairs.some(([a, b]) => b === q.signal && out.some((p) => p.signal === a))) {
        const wants = pairs.filter(([, b]) => b === q.signal).map(([a]) => a);
        problems.error(Code.UnsupportedSignal, `service.pipelines.${q.id}.receivers`, places.get(place(q.id, 'receivers', id)), `connector "${id}" has nothing to give pipeline "${q.id}": it connects ${arrow(pairs)}, and no ${wants.join(' or ') || 'matching'} pipeline lists it under exporters`);
      }
    }
  }
  // Cycles: pipeline P feeds Q when P exports to a connector Q receives from, over a supported pair.
  const feeds = new Map<string, Array<{ to: string; via: string }>>();
  for (const p of svc.pipelines) {
    const edges: Array<{ to: string; via: string }> = [];
    for (const id of p.exporters) {
      if (!defined.has(id)) continue;
      for (const q of svc.pipelines) {
        if (q.receivers.includes(id) && pairsOf(id).some(([a, b]) => a === p.signal && b === q.signal)) edges.push({ to: q.id, via: id });
      }
    }
    feeds.set(p.id, edges);
  }
  const state = new Map<string, 'open' | 'done'>();
  const stack: Array<{ pipeline: string; via?: string }> = [];
  const visit = (id: string): boolean => {
    if (state.get(id) === 'done') return false;
    if (state.get(id) === 'open') {
      const from = stack.findIndex((s) => s.pipeline === id);
      const loop = [...stack.slice(from), { pipeline: id }];
      const path = loop.map((s, i) => (i === 0 ? s.pipeline : `(${loop[i - 1]!.via}) → ${s.pipeline}`)).join(' → ');
      const first = loop[0]!;
      problems.error(Code.Invalid, `service.pipelines.${first.pipeline}.exporters`, places.get(place(first.pipeline, 'exporters', first.via!)), `pipelines form a cycle through connectors: ${path}`);
      return true;
    }
    state.set(id, 'open');
    for (const e of feeds.get(id) ?? []) {
      stack.push({ pipeline: id, via: e.via });
      const found = visit(e.to);
      stack.pop();
      if (found) return true;
    }
    state.set(id, 'done');
    return false;
  };
  for (const p of svc.pipelines) if (visit(p.id)) break;
}

function pipeline(id: string, e: MapEntry, sections: Sections, problems: Problems, places: Places): PipelineConfig | undefined {
  const path = ['service', 'pipelines', id];
  const [sig, ...rest] = id.split('/');
  const name = rest.join('/');
  let signal: Signal | undefined;
  if (!SIGNALS.includes(sig as Signal)) {
    problems.error(Code.UnknownSignal, joinPath(path), e.keyLoc, `unknown signal "${sig}" (valid: ${SIGNALS.join(', ')})`);
  } else if (rest.length > 0 && !ID_NAME.test(name)) {
    problems.error(Code.BadId, joinPath(path), e.keyLoc, `invalid pipeline id "${id}": the name after "/" must be non-empty letters, digits, "_", "." or "-"`);
  } else {
    signal = sig as Signal;
  }
  const v = e.value;
  if (v.t !== 'map') {
    problems.error(Code.NotAMap, joinPath(path), isNull(v) ? e.keyLoc : v.loc, 'must be a map with receivers, processors and exporters');
    return undefined;
  }
  for (const [k, ke] of v.entries) {
    if (!['receivers', 'processors', 'exporters'].includes(k)) {
      problems.error(Code.UnknownKey, joinPath([...path, k]), ke.keyLoc, `unknown key "${k}" (valid: exporters, processors, receivers)`);
    }
  }
  const list = (s: 'receivers' | 'processors' | 'exporters'): string[] => {
    const le = v.entries.get(s);
    const ids = le ? idList(le, [...path, s], s, signal, sections, problems, (cid, loc) => s !== 'processors' && places.set(place(id, s, cid), loc)) : [];
    if (s !== 'processors' && ids.length === 0 && !(le && !isNull(le.value) && le.value.t !== 'seq')) {
      problems.error(Code.PipelineIncomplete, joinPath(path), le?.keyLoc ?? e.keyLoc, `pipeline "${id}" must have at least one ${SINGULAR[s]}`);
    }
    return ids;
  };
  const p = { id, receivers: list('receivers'), processors: list('processors'), exporters: list('exporters') };
  return signal ? { ...p, signal } : undefined;
}

/**
 * A list of component ids of one section: each must be defined there, listed once, and (in a
 * pipeline) support the pipeline's signal. Returns the ids as written, problems reported.
 */
function idList(e: MapEntry, path: string[], section: Section, signal: Signal | undefined, sections: Sections, problems: Problems, at?: (id: string, loc: Loc) => void): string[] {
  if (isNull(e.value)) return [];
  if (e.value.t !== 'seq') {
    problems.error(Code.Invalid, joinPath(path), e.value.loc, `must be a list of ${SINGULAR[section]} ids`);
    return [];
  }
  const ids: string[] = [];
  e.value.items.forEach((item: Node, i) => {
    const ipath = joinPath([...path, String(i)]);
    if (item.t !== 'scalar' || typeof item.value !== 'string' || item.value === '') {
      problems.error(Code.Invalid, ipath, item.loc, `must be a ${SINGULAR[section]} id (a string)`);
      return;
    }
    const id = item.value;
    if (ids.includes(id)) {
      problems.error(Code.Duplicate, ipath, item.loc, `${SINGULAR[section]} "${id}" is listed more than once`);
      return;
    }
    ids.push(id);
    at?.(id, item.loc);
    // A pipeline's receivers and exporters may be connectors.
    const connector = section === 'receivers' || section === 'exporters' ? sections.connectors.get(id) : undefined;
    if (connector && !sections[section].has(id)) {
      const pairs = connector.factory?.connects ?? [];
      const ok = section === 'exporters' ? pairs.some(([a]) => a === signal) : pairs.some(([, b]) => b === signal);
      if (signal && connector.factory && !ok) {
        problems.error(Code.UnsupportedSignal, ipath, item.loc, `connector "${id}" cannot be ${section === 'exporters' ? 'an exporter' : 'a receiver'} of a ${signal} pipeline (it connects ${arrow(pairs) || 'nothing'})`);
      }
      return;
    }
    const def = sections[section].get(id);
    if (!def) {
      const defined = [...sections[section].keys()];
      const elsewhere = (Object.keys(sections) as Section[]).find((s) => s !== section && sections[s].has(id));
      const hint = elsewhere ? `; "${id}" is defined under ${elsewhere}` : '';
      problems.error(Code.Undefined, ipath, item.loc, `${SINGULAR[section]} "${id}" is not defined (defined ${section}: ${defined.join(', ') || 'none'})${hint}`);
      return;
    }
    const supported = def.factory?.signals;
    if (signal && supported && !supported.includes(signal)) {
      problems.error(Code.UnsupportedSignal, ipath, item.loc, `${SINGULAR[section]} "${id}" does not support signal ${signal} (it supports: ${supported.join(', ') || 'none'})`);
    }
  });
  return ids;
}

/** Receivers that feed nothing are a mistake; idle processors/exporters/extensions just waste. */
function unused(svc: ServiceConfig, pipelines: Map<string, MapEntry>, sections: Sections, problems: Problems): void {
  const used: Record<Section, Set<string>> = { receivers: new Set(), processors: new Set(), exporters: new Set(), connectors: new Set(), extensions: new Set(svc.extensions) };
  // Count every id written in any pipeline, valid or not, so one mistake does not cascade.
  for (const e of pipelines.values()) {
    if (e.value.t !== 'map') continue;
    for (const s of ['receivers', 'processors', 'exporters'] as const) {
      const l = e.value.entries.get(s)?.value;
      if (l?.t === 'seq') for (const i of l.items) if (i.t === 'scalar' && typeof i.value === 'string') used[s].add(i.value);
    }
  }
  for (const s of Object.keys(sections) as Section[]) {
    if (s === 'connectors') continue; // see connectors()
    for (const [id, d] of sections[s]) {
      if (used[s].has(id)) continue;
      const path = `${s}.${id}`;
      if (s === 'receivers') problems.error(Code.Unused, path, d.keyLoc, `receiver "${id}" serves no pipeline`);
      else if (s === 'extensions') problems.warn(Code.Unused, path, d.keyLoc, `extension "${id}" is not enabled in service.extensions`);
      else problems.warn(Code.Unused, path, d.keyLoc, `${SINGULAR[s]} "${id}" is not used in any pipeline`);
    }
  }
}

function telemetry(e: MapEntry | undefined, rootLoc: Loc, problems: Problems): TelemetryConfig {
  telemetryValidator ??= compile(createAjv(), TELEMETRY_SCHEMA);
  const fn = telemetryValidator;
  if (typeof fn === 'string') throw new Error(`telemetry schema: ${fn}`); // ours: a bug, not a config error
  const data = e && !isNull(e.value) ? toPlain(e.value) : {};
  runValidator(fn, data, { prefix: ['service', 'telemetry'], node: e?.value, keyLoc: e?.keyLoc ?? rootLoc }, problems);
  const t = (data ?? {}) as Partial<TelemetryConfig>;
  const logs = { level: 'info', encoding: 'auto', ...(t.logs ?? {}) } as TelemetryConfig['logs'];
  const metrics = { level: 'normal', address: '127.0.0.1:8888', ...(t.metrics ?? {}) } as TelemetryConfig['metrics'];
  return { logs, metrics, traces: t.traces ?? undefined };
}

function workers(e: MapEntry, problems: Problems): WorkersConfig {
  workersValidator ??= compile(createAjv(), WORKERS_SCHEMA);
  const fn = workersValidator;
  if (typeof fn === 'string') throw new Error(`workers schema: ${fn}`); // ours: a bug, not a config error
  const data = isNull(e.value) ? {} : toPlain(e.value);
  if (!runValidator(fn, data, { prefix: ['service', 'workers'], node: e.value, keyLoc: e.keyLoc }, problems)) return defaultWorkers();
  return { ...defaultWorkers(), ...(data as Partial<WorkersConfig>) };
}

function shutdownTimeout(e: MapEntry, problems: Problems): number {
  const v = e.value;
  const ms = v.t === 'scalar' ? (typeof v.value === 'string' ? parseDuration(v.value) : v.value === 0 ? 0 : undefined) : undefined;
  if (ms === undefined) {
    const shown = v.t === 'scalar' ? (typeof v.value === 'string' ? `"${v.value}"` : String(v.value)) : `a ${v.t === 'seq' ? 'list' : 'map'}`;
    problems.error(Code.BadDuration, 'service.shutdown_timeout', v.loc, `invalid duration ${shown} (use e.g. 200ms, 5s, 1m)`);
    return DEFAULT_SHUTDOWN_MS;
  }
  return ms;
}
