// The prometheus exporter's store, in process: how long one OTLP metrics request of --points points
// takes to decode and to take into the series store (the synchronous work a scrape waits behind),
// with the store already holding every series (steady state); then the exporter's path, each metric
// decoded and stored in its own step (the whole, and the longest step); then a whole scrape of the
// store rendered into its chunks (text format, as a scrape writes it, sockets aside). Medians of --runs.
//
//   npx tsc -p tsconfig.json && node dist/bench/prometheus-store.js [--points 5000] [--series 100000] [--runs 30]
import { parseArgs } from 'node:util';
import { Telemetry, type ExportMetricsServiceRequest } from '../src/pdata/telemetry.js';
import { SeriesStore } from '../exporters/prometheus/store.js';
import { renderChunks } from '../exporters/prometheus/render.js';
import { metricsRequests } from './lib/metrics-requests.js';
import { median } from './lib/proc.js';

const { values } = parseArgs({ options: { points: { type: 'string', default: '5000' }, series: { type: 'string', default: '100000' }, runs: { type: 'string', default: '30' } } });
const POINTS = Number(values.points);
const SERIES = Number(values.series);
const RUNS = Number(values.runs);

const bodies = metricsRequests(SERIES, POINTS);
const store = new SeriesStore({ namespace: '', addMetricSuffixes: true, constLabels: {}, resourceToTelemetry: false, maxSeries: 1_000_000, expirationMs: 3_600_000 });
for (const b of bodies) store.consume(Telemetry.fromProto('metrics', b).request() as ExportMetricsServiceRequest);

const decodeMs: number[] = [];
const storeMs: number[] = [];
for (let r = 0; r < RUNS; r++) {
  const body = bodies[r % bodies.length]!;
  const t0 = performance.now();
  const req = Telemetry.fromProto('metrics', body).request() as ExportMetricsServiceRequest;
  const t1 = performance.now();
  store.consume(req);
  const t2 = performance.now();
  decodeMs.push(t1 - t0);
  storeMs.push(t2 - t1);
}
// From the encoding, a metric decoded per step (the exporter's path): the whole and the longest step.
const wholeMs: number[] = [];
const longestMs: number[] = [];
for (let r = 0; r < RUNS; r++) {
  const body = bodies[r % bodies.length]!;
  let longest = 0;
  const t0 = performance.now();
  let t = t0;
  for (const _ of store.stepsFromProto(body)) {
    const now = performance.now();
    longest = Math.max(longest, now - t);
    t = now;
  }
  wholeMs.push(performance.now() - t0);
  longestMs.push(longest);
}
const d = median(decodeMs), s = median(storeMs);
console.log(`request of ${POINTS} points, store of ${store.size} series, median of ${RUNS}:`);
console.log(`  decode ${d.toFixed(2)} ms (${((d * 1000) / POINTS).toFixed(2)} µs/point), store ${s.toFixed(2)} ms (${((s * 1000) / POINTS).toFixed(2)} µs/point)`);
console.log(`  from the encoding, a metric per step: ${median(wholeMs).toFixed(2)} ms in all, longest step ${median(longestMs).toFixed(2)} ms`);

// A scrape: every series rendered into chunks, after 10 % of them changed (one request stored).
const scrapeMs: number[] = [];
let scrapeBytes = 0;
for (let r = 0; r < RUNS; r++) {
  store.consume(Telemetry.fromProto('metrics', bodies[r % bodies.length]!).request() as ExportMetricsServiceRequest);
  const t0 = performance.now();
  scrapeBytes = 0;
  for (const c of renderChunks([...store.families.values()], false, false, 0)) scrapeBytes += c.length;
  scrapeMs.push(performance.now() - t0);
}
console.log(`  a scrape of every series: ${median(scrapeMs).toFixed(2)} ms (${(scrapeBytes / 2 ** 20).toFixed(1)} MiB)`);
