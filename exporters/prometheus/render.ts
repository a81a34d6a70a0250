// The state as Prometheus text (format 0.0.4) or OpenMetrics 1.0 (with exemplars). Each series'
// lines are rendered once per change and kept on the series (store.ts clears them on update), so a
// scrape joins cached strings; the scrape is produced in chunks of about CHUNK characters, and the
// exporter lets the event loop run between them.
import { formatFloat } from '../../src/prometheus/naming.js';
import { downscale, type ExpBuckets, type ExpState, type Family, type Series } from './store.js';

export const TEXT_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

/** Classic buckets an exponential histogram becomes at most (populated range, both signs). */
export const EXP_MAX_BUCKETS = 40;
/** Characters per chunk of a scrape. */
export const CHUNK = 64 * 1024;

const escapeHelp = (h: string, om: boolean) => {
  let s = h.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
  if (om) s = s.replace(/"/g, '\\"');
  return s;
};

/** The family name OpenMetrics declares: counters without `_total`, info without `_info`. */
function omFamilyName(f: Family): string {
  if (f.type === 'counter' && f.name.endsWith('_total')) return f.name.slice(0, -6);
  if (f.type === 'info' && f.name.endsWith('_info')) return f.name.slice(0, -5);
  return f.name;
}

export function familyHeader(f: Family, om: boolean): string {
  if (om) {
    const name = omFamilyName(f);
    return `# TYPE ${name} ${f.type}\n# HELP ${name} ${escapeHelp(f.help, true)}\n`;
  }
  return `# HELP ${f.name} ${escapeHelp(f.help, false)}\n# TYPE ${f.name} ${f.type === 'info' ? 'gauge' : f.type}\n`;
}

const trim = (b: ExpBuckets): ExpBuckets => {
  let lo = 0;
  let hi = b.counts.length;
  while (lo < hi && b.counts[lo] === 0) lo++;
  while (hi > lo && b.counts[hi - 1] === 0) hi--;
  return lo === 0 && hi === b.counts.length ? b : { offset: b.offset + lo, counts: b.counts.slice(lo, hi) };
};

/**
 * An exponential histogram as classic buckets: each exponential bucket's upper boundary becomes an
 * `le` (positive bucket k covers (base^k, base^(k+1)], so le = base^(k+1); negative bucket k covers
 * [-base^(k+1), -base^k), so le = -base^k), the zero bucket gives le = zero_threshold, and when the
 * populated range spans more than EXP_MAX_BUCKETS buckets, neighbours are merged (the scale is
 * lowered one step at a time, which halves the count of buckets and keeps every boundary exact).
 * Returns upper bounds (without +Inf) and per-bucket counts (one more: the +Inf bucket).
 */
export function expToClassic(e: ExpState, count: number): { bounds: number[]; counts: number[] } {
  let scale = e.scale;
  let pos = trim(e.positive);
  let neg = trim(e.negative);
  while (pos.counts.length + neg.counts.length > EXP_MAX_BUCKETS && scale > -10) {
    pos = trim(downscale(pos, 1));
    neg = trim(downscale(neg, 1));
    scale--;
  }
  const step = Math.pow(2, -scale);
  const bound = (k: number) => Math.pow(2, k * step);
  const bounds: number[] = [];
  const counts: number[] = [];
  let seen = 0;
  for (let i = neg.counts.length - 1; i >= 0; i--) {
    bounds.push(-bound(neg.offset + i));
    counts.push(neg.counts[i]!);
    seen += neg.counts[i]!;
  }
  if (e.zeroCount > 0 || e.zeroThreshold > 0 || neg.counts.length > 0 || pos.counts.length === 0) {
    bounds.push(e.zeroThreshold);
    counts.push(e.zeroCount);
    seen += e.zeroCount;
  }
  for (let i = 0; i < pos.counts.length; i++) {
    const b = bound(pos.offset + i + 1);
    // A bound that rounds onto the one before (tiny scales' neighbours) is merged into it.
    if (bounds.length > 0 && b <= bounds[bounds.length - 1]!) counts[counts.length - 1]! += pos.counts[i]!;
    else {
      bounds.push(b);
      counts.push(pos.counts[i]!);
    }
    seen += pos.counts[i]!;
  }
  counts.push(Math.max(0, count - seen));
  return { bounds, counts };
}

function exemplarText(s: Series, lo: number, hi: number): string {
  if (!s.exemplars) return '';
  for (const e of s.exemplars) {
    if (e.labels !== '' && e.value > lo && e.value <= hi) return ` # {${e.labels}} ${formatFloat(e.value)}${e.t ? ` ${e.t / 1000}` : ''}`;
  }
  return '';
}

const withLabel = (labels: string, extra: string) => `{${labels}${labels ? ',' : ''}${extra}}`;
const braces = (labels: string) => (labels ? `{${labels}}` : '');

/** One series' lines in the text format (om false) or OpenMetrics (om true). */
export function renderSeries(s: Series, om: boolean, timestamps: boolean): string {
  const f = s.family;
  const ts = timestamps && s.t > 0 ? (om ? ` ${s.t / 1000}` : ` ${s.t}`) : '';
  switch (f.type) {
    case 'gauge':
    case 'info':
      return `${f.name}${braces(s.labels)} ${formatFloat(s.value)}${ts}\n`;
    case 'counter': {
      const name = om ? `${omFamilyName(f)}_total` : f.name;
      const ex = om ? exemplarText(s, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY) : '';
      return `${name}${braces(s.labels)} ${formatFloat(s.value)}${ts}${ex}\n`;
    }
    case 'summary': {
      let out = '';
      for (const q of s.quantiles ?? []) out += `${f.name}${withLabel(s.labels, `quantile="${formatFloat(q.q)}"`)} ${formatFloat(q.v)}${ts}\n`;
      out += `${f.name}_sum${braces(s.labels)} ${formatFloat(s.sum)}${ts}\n`;
      out += `${f.name}_count${braces(s.labels)} ${s.count}${ts}\n`;
      return out;
    }
    case 'histogram': {
      const { bounds, counts } = s.exp ? expToClassic(s.exp, s.count) : { bounds: s.bounds ?? [], counts: s.counts ?? [s.count] };
      let out = '';
      let cumulative = 0;
      let lo = Number.NEGATIVE_INFINITY;
      for (let i = 0; i < counts.length; i++) {
        cumulative += counts[i]!;
        const hi = i < bounds.length ? bounds[i]! : Number.POSITIVE_INFINITY;
        const ex = om ? exemplarText(s, lo, hi) : '';
        out += `${f.name}_bucket${withLabel(s.labels, `le="${formatFloat(hi)}"`)} ${cumulative}${ts}${ex}\n`;
        lo = hi;
      }
      if (s.hasSum) out += `${f.name}_sum${braces(s.labels)} ${formatFloat(s.sum)}${ts}\n`;
      out += `${f.name}_count${braces(s.labels)} ${s.count}${ts}\n`;
      return out;
    }
  }
}

/**
 * A scrape, in chunks: families as they are when it starts, each family's series as they are when
 * it is reached, every series as its cached lines (rendered now if it changed). Series not updated
 * since `notBefore` (expired, not yet swept) are left out.
 */
export function* renderChunks(families: readonly Family[], om: boolean, timestamps: boolean, notBefore: number): Generator<string> {
  let buf = '';
  for (const f of families) {
    const series: Series[] = [];
    for (const s of f.series.values()) if (s.updated >= notBefore) series.push(s);
    if (series.length === 0) continue;
    if (om) buf += (f.omHeader ??= familyHeader(f, true));
    else buf += (f.header ??= familyHeader(f, false));
    for (const s of series) {
      buf += om ? (s.om ??= renderSeries(s, true, timestamps)) : (s.text ??= renderSeries(s, false, timestamps));
      if (buf.length >= CHUNK) {
        yield buf;
        buf = '';
      }
    }
  }
  if (om) buf += '# EOF\n';
  if (buf) yield buf;
}
