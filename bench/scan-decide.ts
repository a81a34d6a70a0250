// The receiver's validating scan and one processor's decision together, per span, from the 16 KiB
// parts a socket delivers: what a processor costs when the scan's work for it is counted too.
// Written to judge the scan noting facts for the sampler and filter (commit 3eb87c7,
// reverted). Run: node dist/bench/scan-decide.js ROOT CASE, ROOT a build's directory (its dist/ is
// loaded), CASE none|sampler|filter; prints the median of 9 passes.
import pino from 'pino';

const root = process.argv[2] ?? process.cwd();
const which = process.argv[3] ?? 'none';
const { consumerOf } = await import(root + '/dist/src/consumer.js');
const { Telemetry } = await import(root + '/dist/src/pdata/telemetry.js');
const { MetricsRegistry } = await import(root + '/dist/src/telemetry/metrics.js');
const { filterProcessorFactory } = await import(root + '/dist/processors/filter/factory.js');
const { probabilisticSamplerProcessorFactory } = await import(root + '/dist/processors/probabilistic_sampler/factory.js');
const { buildPool } = await import('./lib/spans.js');
const registry = new MetricsRegistry();
const settings = (id: string) => ({ id, kind: 'processor', logger: pino({ level: 'silent' }), metrics: registry.scoped('processor', id), shutdownTimeoutMs: 1000 });
let sink = 0;
const next = consumerOf(async (b: { protoParts(): readonly Uint8Array[] }) => { for (const p of b.protoParts()) sink += p.length; });
// Created before any request is scanned, as in the daemon.
const proc = which === 'filter'
  ? filterProcessorFactory.createProcessor(settings('f'), { spans: { exclude: { match: 'any', conditions: [{ attribute: 'url.path', regex: '^/(healthz|readyz)$' }, { name_regex: '^GET /health' }] } } }, 'traces', next)
  : which === 'sampler'
    ? probabilisticSamplerProcessorFactory.createProcessor(settings('s'), { ...probabilisticSamplerProcessorFactory.createDefaultConfig(), mode: 'hash_seed', hash_seed: 22, sampling_percentage: 100 }, 'traces', next)
    : next;
const pool = buildPool(50, 100, 1).map((e) => {
  const parts: Uint8Array[] = [];
  for (let at = 0; at < e.bytes.length; at += 16384) parts.push(e.bytes.subarray(at, Math.min(e.bytes.length, at + 16384)));
  return parts;
});
const res: number[] = [];
for (let pass = 0; pass < 9; pass++) {
  const t = process.cpuUsage();
  for (let i = 0; i < 20; i++) for (const parts of pool) await proc.consume(Telemetry.fromProtoParts('traces', parts));
  const u = process.cpuUsage(t);
  res.push((u.user + u.system) / (20 * pool.length * 100));
}
res.sort((a, b) => a - b);
console.log(`${root} ${which}: ${res[4]!.toFixed(3)} µs per span (scan + processor), median of 9${sink === 42 ? ' ' : ''}`);
