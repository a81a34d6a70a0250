// The state as Prometheus text (format 0.0.4) or OpenMetrics 1.0 (with exemplars). Each series'
// lines are rendered once per change and kept on the series (store.ts clears them on update), so a
// scrape copies cached text into buffers of CHUNK bytes, and the exporter lets the event loop run
// between them.
//
// How the text is kept matters more than rendering it. A series' lines built by template literals
// are a tree of string pieces; joining 100,000 of those per scrape and encoding the result made V8
// flatten every tree again each time (~50 ms of a 100,000-series scrape), and turning each into a
// flat string through a Buffer when rendered cost more than rendering (~0.55 µs a series against
// ~0.2). So ASCII lines (nearly all: names are, and most label values) are kept as rendered and
// written into the scrape's buffers with a latin1 write, which flattens a line once, the first time;
// lines with other characters are kept as their UTF-8 bytes.
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
 * families as they are when it starts, each family's series as they are when it is reached, every
 * series as its cached lines (rendered now if it changed). Series not updated since `notBefore`
 * (expired, not yet swept) are left out.
 */
export function* renderChunks(families: readonly Family[], om: boolean, timestamps: boolean, notBefore: number, stats?: ScrapeStats): Generator<Buffer> {
  const out = new ChunkWriter();
  for (const f of families) {
    let headed = false;
    for (const s of f.series.values()) {
      if (s.updated < notBefore) continue;
      if (!headed) {
        headed = true;
        const full = out.add(om ? (f.omHeader ??= cached(familyHeader(f, true))) : (f.header ??= cached(familyHeader(f, false))));
        if (full) yield full;
      }
      let lines = om ? s.om : s.text;
      if (lines === undefined) {
        lines = seriesLines(s, om, timestamps);
        if (om) s.om = lines;
        else s.text = lines;
        if (stats) stats.rendered++;
      }
      if (stats) stats.series++;
      const full = out.add(lines);
      if (full) yield full;
    }
  }
  if (om) {
    const full = out.add('# EOF\n');
    if (full) yield full;
  }
  const rest = out.rest();
  if (rest) yield rest;
}

/** What a scrape wrote: series, and how many of them it had to render. */
export interface ScrapeStats {
  series: number;
  rendered: number;
}

/** Fills buffers of CHUNK bytes with cached text. */
class ChunkWriter {
  private buf = Buffer.allocUnsafe(CHUNK);
  private off = 0;

  /** Adds `c`; returns the filled chunk when `c` had to start a new one. */
  add(c: Cached): Buffer | undefined {
    let full: Buffer | undefined;
    if (this.off + c.length > this.buf.length) {
      if (this.off > 0) full = this.buf.subarray(0, this.off);
      this.buf = Buffer.allocUnsafe(Math.max(CHUNK, c.length));
      this.off = 0;
    }
    if (typeof c === 'string') this.off += this.buf.write(c, this.off, 'latin1');
    else {
      this.buf.set(c, this.off);
      this.off += c.length;
    }
    return full;
  }

  rest(): Buffer | undefined {
    return this.off > 0 ? this.buf.subarray(0, this.off) : undefined;
  }
}
