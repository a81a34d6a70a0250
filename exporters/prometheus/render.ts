// The state as Prometheus text (format 0.0.4) or OpenMetrics 1.0 (with exemplars), written into
// buffers of CHUNK bytes; the exporter lets the event loop run between them.
//
// Counters, gauges and classic histograms are written straight into the buffer (writeDirect): the
// text before each value is kept on the series, values are written as digits, nothing is allocated
// per series. Rendering lines as strings cost more than the rest of a scrape: template literals
// make trees of string pieces, which V8 flattens when they are written (~50 ms of a cold
// 100,000-series scrape, against ~21 ms written directly; bench/README.md). The other kinds
// (summaries, exponential histograms, OpenMetrics exemplars, non-ASCII labels) are rendered by
// renderSeries and kept until the series changes: ASCII lines as rendered (a latin1 write flattens
// them once), others as their UTF-8 bytes.
import { formatFloat } from '../../src/prometheus/naming.js';
import { downscale, type Cached, type ExpBuckets, type ExpState, type Family, type Series } from './store.js';

export const TEXT_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

/** Classic buckets an exponential histogram becomes at most (populated range, both signs). */
export const EXP_MAX_BUCKETS = 40;
/** Bytes per chunk of a scrape. */
export const CHUNK = 64 * 1024;

/** Text as it is kept for scrapes (see the top of this file): ASCII as the string, else its bytes. */
export function cached(text: string): Cached {
  return isAscii(text) ? text : Buffer.from(text, 'utf8');
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return false;
  return true;
}

/** A series' lines as they are kept: checked for ASCII by their parts (name and labels once per
 *  series, exemplar labels), not character by character. */
export function seriesLines(s: Series, om: boolean, timestamps: boolean): Cached {
  const text = renderSeries(s, om, timestamps);
  s.ascii ??= isAscii(s.labels) && isAscii(s.family.name);
  let ascii = s.ascii;
  if (ascii && om && s.exemplars) for (const e of s.exemplars) if (!isAscii(e.labels)) ascii = false;
  return ascii ? text : Buffer.from(text, 'utf8');
}

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
 * A scrape, in chunks of CHUNK bytes (a longer series' lines get a chunk of their own size):
 * families as they are when it starts, each family's series as they are when it is reached.
 * Series not updated since `notBefore` (expired, not yet swept) are left out. Counters, gauges and
 * classic histograms with ASCII names and labels are written straight into the buffer (writeDirect);
 * the others as their cached lines, rendered now if they changed.
 */
export function* renderChunks(families: readonly Family[], om: boolean, timestamps: boolean, notBefore: number): Generator<Buffer> {
  const out = new ChunkWriter();
  for (const f of families) {
    let headed = false;
    for (const s of f.series.values()) {
      if (s.updated < notBefore) continue;
      if (!headed) {
        headed = true;
        out.add(om ? (f.omHeader ??= cached(familyHeader(f, true))) : (f.header ??= cached(familyHeader(f, false))));
      }
      if (!writeDirect(out, s, om, timestamps)) {
        let lines = om ? s.om : s.text;
        if (lines === undefined) {
          lines = seriesLines(s, om, timestamps);
          if (om) s.om = lines;
          else s.text = lines;
        }
        out.add(lines);
      }
      while (out.done.length > 0) yield out.done.shift()!;
    }
  }
  if (om) out.add('# EOF\n');
  while (out.done.length > 0) yield out.done.shift()!;
  const rest = out.rest();
  if (rest) yield rest;
}

function sameBounds(a: readonly number[], b: readonly number[], n: number): boolean {
  if (a.length !== n) return false;
  for (let i = 0; i < n; i++) if (a[i] !== b[i] && !(Number.isNaN(a[i]!) && Number.isNaN(b[i]!))) return false;
  return true;
}

/**
 * Writes a series' lines, as renderSeries renders them, straight into the scrape's buffer: the
 * text before each value is kept on the series, values are written as digits. Nothing is allocated
 * per series, where rendering a series' lines as strings and writing them cost ~2.5× as much for a
 * scrape of 100,000 series that all changed (bench/README.md). False for what takes the general
 * path: summaries, exponential histograms, OpenMetrics exemplars, non-ASCII names or labels.
 */
function writeDirect(w: ChunkWriter, s: Series, om: boolean, timestamps: boolean): boolean {
  const f = s.family;
  s.ascii ??= isAscii(s.labels) && isAscii(f.name);
  if (!s.ascii) return false;
  if (om && s.exemplars !== undefined && s.exemplars.length > 0) return false;
  const ts = timestamps && s.t > 0;
  switch (f.type) {
    case 'gauge':
    case 'info':
    case 'counter': {
      // the same in both formats but for a counter not named *_total (OpenMetrics adds it)
      const name = om && f.type === 'counter' ? (f.omCounterName ??= `${omFamilyName(f)}_total`) : f.name;
      let h = s.heads;
      if (h === undefined || h.name !== name) {
        s.heads = h = { name, heads: [`${name}${braces(s.labels)} `] };
      }
      w.text(h.heads[0]!);
      w.float(formatFloat, s.value);
      if (ts) w.stamp(s.t, om);
      w.byte(0x0a);
      return true;
    }
    case 'histogram': {
      if (s.exp !== undefined) return false;
      const bounds = s.bounds ?? [];
      const counts = s.counts ?? [s.count];
      const n = counts.length;
      let h = s.heads;
      if (h === undefined || h.name !== f.name || h.heads.length !== n + 2 || !sameBounds(h.bounds!, bounds, bounds.length)) {
        const heads: string[] = [];
        for (let i = 0; i < n; i++) heads.push(`${f.name}_bucket${withLabel(s.labels, `le="${formatFloat(i < bounds.length ? bounds[i]! : Number.POSITIVE_INFINITY)}"`)} `);
        heads.push(`${f.name}_sum${braces(s.labels)} `, `${f.name}_count${braces(s.labels)} `);
        s.heads = h = { name: f.name, heads, bounds: bounds.slice() };
      }
      let cumulative = 0;
      for (let i = 0; i < n; i++) {
        cumulative += counts[i]!;
        w.text(h.heads[i]!);
        w.float(String, cumulative);
        if (ts) w.stamp(s.t, om);
        w.byte(0x0a);
      }
      if (s.hasSum) {
        w.text(h.heads[n]!);
        w.float(formatFloat, s.sum);
        if (ts) w.stamp(s.t, om);
        w.byte(0x0a);
      }
      w.text(h.heads[n + 1]!);
      w.float(String, s.count);
      if (ts) w.stamp(s.t, om);
      w.byte(0x0a);
      return true;
    }
    default:
      return false;
  }
}

/** Fills buffers of CHUNK bytes; the filled ones wait in `done`. */
class ChunkWriter {
  private buf = Buffer.allocUnsafe(CHUNK);
  private off = 0;
  readonly done: Buffer[] = [];

  /** Room for n more bytes: a full buffer goes to `done` (a longer piece gets one of its size). */
  private room(n: number): void {
    if (this.off + n <= this.buf.length) return;
    if (this.off > 0) this.done.push(this.buf.subarray(0, this.off));
    this.buf = Buffer.allocUnsafe(Math.max(CHUNK, n));
    this.off = 0;
  }

  /** Cached text: an ASCII string or UTF-8 bytes. */
  add(c: Cached): void {
    if (typeof c === 'string') return this.text(c);
    this.room(c.length);
    this.buf.set(c, this.off);
    this.off += c.length;
  }

  /** ASCII text. */
  text(t: string): void {
    this.room(t.length);
    this.off += this.buf.write(t, this.off, 'latin1');
  }

  byte(b: number): void {
    this.room(1);
    this.buf[this.off++] = b;
  }

  /** A number as `format` writes it (formatFloat or String: the same for finite numbers); a
   *  non-negative integer below 2^53 as its digits, without making a string. */
  float(format: (v: number) => string, v: number): void {
    if (!(v >= 0 && v <= Number.MAX_SAFE_INTEGER && Math.floor(v) === v)) return this.text(format(v));
    this.room(16);
    const b = this.buf;
    if (v < 10) {
      b[this.off++] = 0x30 + v;
      return;
    }
    let digits = 0;
    for (let x = v; x >= 1; x = Math.floor(x / 10)) digits++;
    let p = this.off + digits;
    for (let x = v; p > this.off; ) {
      const q = Math.floor(x / 10);
      b[--p] = 0x30 + (x - q * 10);
      x = q;
    }
    this.off += digits;
  }

  /** A sample's timestamp, as renderSeries writes it: ms in the text format, seconds in OpenMetrics. */
  stamp(t: number, om: boolean): void {
    this.byte(0x20);
    if (om) this.text(String(t / 1000));
    else this.float(String, t);
  }

  rest(): Buffer | undefined {
    return this.off > 0 ? this.buf.subarray(0, this.off) : undefined;
  }
}
