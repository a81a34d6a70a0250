// OTLP → Prometheus names, units and labels: the one translation both Prometheus exporters use
// (`prometheusremotewrite` pushes, `prometheus` is scraped). It follows OpenTelemetry's Prometheus
// compatibility rules: invalid characters become `_`, the unit becomes a suffix (`_seconds`,
// `_bytes`, `_ratio` for gauges of unit 1), monotonic sums get `_total`; service.name /
// service.namespace / service.instance.id become `job` and `instance`, the other resource
// attributes a `target_info` series (or labels of every series, resource_to_telemetry_conversion).
// Attribute names that collide once sanitised are merged: values joined with `;` in sorted key order.
import type { AnyValue, KeyValue, Metric } from '../pdata/model.js';
import { attr } from '../vocab/index.js';

// Unit words, from the UCUM codes OpenTelemetry uses.
const UNIT_WORDS: Record<string, string> = {
  d: 'days', h: 'hours', min: 'minutes', s: 'seconds', ms: 'milliseconds', us: 'microseconds', ns: 'nanoseconds',
  By: 'bytes', KiBy: 'kibibytes', MiBy: 'mebibytes', GiBy: 'gibibytes', TiBy: 'tebibytes',
  KBy: 'kilobytes', MBy: 'megabytes', GBy: 'gigabytes', TBy: 'terabytes',
  bit: 'bits', Kibit: 'kibibits', Mibit: 'mebibits', Gibit: 'gibibits',
  m: 'meters', V: 'volts', A: 'amperes', J: 'joules', W: 'watts', g: 'grams', Cel: 'celsius', Hz: 'hertz', '%': 'percent',
};
const PER_UNIT_WORDS: Record<string, string> = { s: 'second', m: 'minute', min: 'minute', h: 'hour', d: 'day', w: 'week', mo: 'month', y: 'year' };

/** A valid metric name: [a-zA-Z_:][a-zA-Z0-9_:]*, runs of other characters as one `_`. */
export function sanitizeMetricName(name: string): string {
  let s = name.replace(/[^a-zA-Z0-9_:]+/g, '_').replace(/__+/g, '_');
  if (/^[0-9]/.test(s)) s = `_${s}`;
  return s;
}

/** A valid label name: [a-zA-Z_][a-zA-Z0-9_]*; a leading digit gets `key_`, and `__` (reserved
 *  for Prometheus itself) a leading `key`. */
export function sanitizeLabelName(name: string): string {
  let s = name.replace(/[^a-zA-Z0-9_]/g, '_');
  if (s === '') return '';
  if (/^[0-9]/.test(s)) s = `key_${s}`;
  else if (s.startsWith('__')) s = `key${s}`;
  return s;
}

/** The unit as name words: `ms` → `milliseconds`, `By/s` → `bytes_per_second`; `{...}`
 *  annotations and `1` give nothing. */
export function unitSuffix(unit: string): string {
  const u = unit.replace(/\{[^}]*\}/g, '').trim();
  if (u === '' || u === '1') return '';
  const [main = '', per] = u.split('/', 2);
  const words = (w: string, table: Record<string, string>) => table[w] ?? w.replace(/[^a-zA-Z0-9]+/g, '_').replace(/^_|_$/g, '');
  const m = main === '' || main === '1' ? '' : words(main, UNIT_WORDS);
  const p = per === undefined || per === '' ? '' : words(per, PER_UNIT_WORDS);
  if (m && p) return `${m}_per_${p}`;
  if (p) return `per_${p}`;
  return m;
}

/** Prometheus metric types an OTLP metric becomes. */
export type PromKind = 'counter' | 'gauge' | 'histogram' | 'summary';

export interface NamingOptions {
  /** Prefix of every metric name (`<namespace>_<name>`); empty: none. */
  namespace: string;
  /** Unit and type suffixes (`_seconds`, `_total`, ...). */
  addMetricSuffixes: boolean;
}

/** The Prometheus metric family name of an OTLP metric (counters with `_total`). */
export function familyName(metric: Pick<Metric, 'name' | 'unit'>, kind: PromKind, opts: NamingOptions): string {
  let name = sanitizeMetricName(opts.namespace ? `${opts.namespace}_${metric.name}` : metric.name);
  if (!opts.addMetricSuffixes) return name;
  const tokens = name.split('_');
  const unit = unitSuffix(metric.unit);
  // Not twice: an instrument called `duration_seconds` keeps its name.
  if (unit && !name.endsWith(`_${unit}`) && !tokens.includes(unit)) name = `${name}_${unit}`;
  if (kind === 'gauge' && metric.unit.trim() === '1' && !name.endsWith('_ratio')) name = `${name}_ratio`;
  if (kind === 'counter' && !name.endsWith('_total')) name = `${name}_total`;
  return name;
}

/** The name of the series carrying resource attributes. */
export function targetInfoName(namespace: string): string {
  return namespace ? `${sanitizeMetricName(namespace)}_target_info` : 'target_info';
}

/** An attribute value as a label value: strings as they are, other scalars printed, arrays and
 *  maps as JSON. */
export function labelValue(v: AnyValue | undefined): string {
  if (v === undefined) return '';
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue ? 'true' : 'false';
  if (v.intValue !== undefined) return v.intValue.toString();
  if (v.doubleValue !== undefined) return String(v.doubleValue);
  if (v.bytesValue !== undefined) return Buffer.from(v.bytesValue).toString('base64');
  return JSON.stringify(plainValue(v));
}

function plainValue(v: AnyValue | undefined): unknown {
  if (v === undefined) return null;
  if (v.arrayValue !== undefined) return v.arrayValue.values.map(plainValue);
  if (v.kvlistValue !== undefined) return Object.fromEntries(v.kvlistValue.values.map((kv) => [kv.key, plainValue(kv.value)]));
  if (v.intValue !== undefined) return Number(v.intValue);
  return v.stringValue ?? v.boolValue ?? v.doubleValue ?? (v.bytesValue ? Buffer.from(v.bytesValue).toString('base64') : null);
}

/** Label name → value. */
export type Labels = Map<string, string>;

const byKey = (a: KeyValue, b: KeyValue) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

/** Adds attributes as labels (over labels already there). Attributes whose names collide once
 *  sanitised are joined with `;`, in the sorted order of their original keys; empty names and
 *  values are left out. */
export function addAttributes(into: Labels, attrs: readonly KeyValue[], skip?: ReadonlySet<string>): void {
  if (attrs.length === 0) return;
  if (attrs.length === 1) {
    const kv = attrs[0]!;
    if (skip?.has(kv.key)) return;
    const name = sanitizeLabelName(kv.key);
    const value = labelValue(kv.value);
    if (name !== '' && value !== '') into.set(name, value);
    return;
  }
  const sorted = [...attrs].sort(byKey);
  const own = new Map<string, string>();
  for (const kv of sorted) {
    if (skip?.has(kv.key)) continue;
    const name = sanitizeLabelName(kv.key);
    const value = labelValue(kv.value);
    if (name === '' || value === '') continue;
    const prev = own.get(name);
    own.set(name, prev === undefined ? value : `${prev};${value}`);
  }
  for (const [k, v] of own) into.set(k, v);
}

/** Resource attributes that identify the target: they become `job` and `instance`. */
export const IDENTIFYING: ReadonlySet<string> = new Set(['service.name', 'service.namespace', 'service.instance.id']);

const labelOf = (attrs: readonly KeyValue[], key: string): string | undefined => labelValue(attr(attrs, key)) || undefined;

/** The labels a resource gives every series of it: `job` (service.namespace/service.name),
 *  `instance` (service.instance.id), and with `all` every other resource attribute. */
export function resourceLabels(rattrs: readonly KeyValue[], all: boolean): Labels {
  const labels: Labels = new Map();
  if (all) addAttributes(labels, rattrs, IDENTIFYING);
  const service = labelOf(rattrs, 'service.name');
  const namespace = labelOf(rattrs, 'service.namespace');
  const instance = labelOf(rattrs, 'service.instance.id');
  if (service !== undefined) labels.set('job', namespace ? `${namespace}/${service}` : service);
  if (instance !== undefined) labels.set('instance', instance);
  return labels;
}

/** The labels of a resource's target_info series (its non-identifying attributes, job and
 *  instance), or undefined when it has no attribute beyond job and instance. */
export function targetInfoLabels(rattrs: readonly KeyValue[], resource: Labels): Labels | undefined {
  const info: Labels = new Map();
  addAttributes(info, rattrs, IDENTIFYING);
  if (info.size === 0) return undefined;
  const job = resource.get('job');
  const instance = resource.get('instance');
  if (job !== undefined) info.set('job', job);
  if (instance !== undefined) info.set('instance', instance);
  return info;
}

/** A point's labels: the resource's, then its own attributes over them. */
export function pointLabels(resource: Labels, attrs: readonly KeyValue[]): Labels {
  const l = new Map(resource);
  addAttributes(l, attrs);
  return l;
}

/** A float as Prometheus prints it (`+Inf`, `-Inf`, `NaN`). */
export function formatFloat(v: number): string {
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(v);
}
