// probabilistic_sampler and filter in process: CPU µs per span on the encoded request (the
// processors' path, src/pdata/edit.ts) against the decode → decide → encode path they had before
// (kept as their decoded reference), over the throughput benchmark's agent spans, keeping every span
// and keeping about half. Both paths start from a validated batch held as the 16 KiB parts a socket
// delivers (as the receivers keep it) and end with the buffers an exporter would write.
// Run: npx tsc -p tsconfig.json && node dist/bench/sampler.js [--requests N] [--runs N]
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { consumerOf } from '../src/consumer.js';
import { Telemetry, type ExportTraceServiceRequest } from '../src/pdata/telemetry.js';
import { MetricsRegistry } from '../src/telemetry/metrics.js';
import type { Processor } from '../src/component.js';
import { filterProcessorFactory } from '../processors/filter/factory.js';
import { filterSpans } from '../processors/filter/decoded.js';
import { keeper, type FilterConfig } from '../processors/filter/processor.js';
import { probabilisticSamplerProcessorFactory } from '../processors/probabilistic_sampler/factory.js';
import { sampleSpans } from '../processors/probabilistic_sampler/decoded.js';
import { ProbabilisticSampler, type ProbabilisticSamplerConfig } from '../processors/probabilistic_sampler/processor.js';
import { buildPool } from './lib/spans.js';
import { median } from './lib/proc.js';

const { values } = parseArgs({ options: { requests: { type: 'string', default: '50' }, runs: { type: 'string', default: '5' } } });
const RUNS = Number(values.runs);
const pool = buildPool(Number(values.requests), 100, 1).map((e) => {
  const parts: Uint8Array[] = [];
  for (let at = 0; at < e.bytes.length; at += 16384) parts.push(e.bytes.subarray(at, Math.min(e.bytes.length, at + 16384)));
  return Telemetry.fromProtoParts('traces', parts);
});
const spans = pool.length * 100;

interface Case {
  name: string;
  wire: Processor;
  /** the decoded path: decides on the decoded request, returns the spans left */
  decoded: (req: ExportTraceServiceRequest) => number;
  samples: { wire: number[]; decoded: number[]; none: number[] };
  kept: { wire: number; decoded: number };
}

let sink = 0;
const registry = new MetricsRegistry();
const settings = (id: string) => ({ id, kind: 'processor' as const, logger: pino({ level: 'silent' }), metrics: registry.scoped('processor', id), shutdownTimeoutMs: 1000 });
// The exporter's side: the bytes of what goes on (encoded here on the decoded path).
let out = 0;
const next = consumerOf(async (b) => {
  for (const p of b.protoParts()) sink += p.length;
  out += b.itemCount;
});

function sampler(name: string, over: Partial<ProbabilisticSamplerConfig>): Case {
  const cfg = { ...probabilisticSamplerProcessorFactory.createDefaultConfig(), ...over } as ProbabilisticSamplerConfig;
  const s = new ProbabilisticSampler(cfg, 'traces');
  return {
    name, wire: probabilisticSamplerProcessorFactory.createProcessor!(settings(name), cfg, 'traces', next),
    decoded: (req) => sampleSpans(s, req), samples: { wire: [], decoded: [], none: [] }, kept: { wire: 0, decoded: 0 },
  };
}

function filter(name: string, cfg: FilterConfig): Case {
  const keepSpan = keeper(cfg.spans);
  const keepEvent = keeper(cfg.span_events);
  return {
    name, wire: filterProcessorFactory.createProcessor!(settings(name), cfg, 'traces', next),
    decoded: (req) => filterSpans(keepSpan, keepEvent, req).kept, samples: { wire: [], decoded: [], none: [] }, kept: { wire: 0, decoded: 0 },
  };
}

const cases: Case[] = [
  sampler('probabilistic_sampler hash_seed 100 % (bench design: keeps all)', { mode: 'hash_seed', hash_seed: 22, sampling_percentage: 100 }),
  sampler('probabilistic_sampler hash_seed 50 %', { mode: 'hash_seed', hash_seed: 22, sampling_percentage: 50 }),
  sampler('probabilistic_sampler proportional 50 % (th written)', { mode: 'proportional', sampling_percentage: 50 }),
  filter('filter, health checks (bench design: keeps all)', { spans: { exclude: { match: 'any', conditions: [{ attribute: 'url.path', regex: '^/(healthz|readyz)$' }, { name_regex: '^GET /health' }] } } }),
  filter('filter, chat spans out (keeps half)', { spans: { exclude: { match: 'any', conditions: [{ attribute: 'gen_ai.operation.name', equals: 'chat' }] } } }),
  filter('filter, span events by name (keeps all spans, drops half the events)', { span_events: { exclude: { match: 'any', conditions: [{ name_regex: '^(gen_ai\\.content\\.prompt|tool\\.input|a2a\\.task\\.status)$' }] } } }),
];

const batches = () => pool.map((b) => b.clone());

/** Rounds over the pool per pass: the wire path's pass is ~50× shorter than the decoded path's, and
 *  too short to measure in one round. */
const ROUNDS = { wire: 10, none: 10, decoded: 1 };

/** CPU µs per span of one pass over the pool. */
async function pass(c: Case, path: 'wire' | 'decoded' | 'none'): Promise<number> {
  const bs: Telemetry[] = [];
  for (let i = 0; i < ROUNDS[path]; i++) bs.push(...batches());
  out = 0;
  const t = process.cpuUsage();
  for (const b of bs) {
    if (path === 'wire') await c.wire.consume(b);
    else if (path === 'decoded') {
      if (c.decoded(b.request() as ExportTraceServiceRequest) > 0) {
        b.markModified();
        await next.consume(b);
      }
    } else await next.consume(b);
  }
  const used = process.cpuUsage(t);
  const us = (used.user + used.system) / spans / ROUNDS[path];
  if (path !== 'none') c.kept[path] = out / ROUNDS[path];
  return us;
}

// The decoded path's runs come after the others: the GC of its garbage (~100× the wire path's)
// would otherwise land in the passes that follow it.
for (const paths of [['none', 'wire'], ['decoded']] as const) {
  for (const c of cases) for (const p of paths) await pass(c, p); // warm-up
  for (let r = 0; r < RUNS; r++) for (const c of cases) for (const p of paths) c.samples[p].push(await pass(c, p));
}

console.log(`probabilistic_sampler and filter in process: ${pool.length} requests of 100 agent spans (bench/lib/spans.ts); median of ${RUNS} round-robin runs; load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
console.log('CPU µs per span (process.cpuUsage, GC included), each path from a validated batch to the buffers sent on; "added" is over passing the batch on untouched');
console.log('');
const w = Math.max(...cases.map((c) => c.name.length));
console.log(`${'case'.padEnd(w)}  ${'decoded'.padStart(8)}  ${'wire'.padStart(8)}  ${'added: decoded'.padStart(14)}  ${'wire'.padStart(6)}  kept of ${spans}`);
for (const c of cases) {
  const none = median(c.samples.none);
  const d = median(c.samples.decoded);
  const wv = median(c.samples.wire);
  const same = c.kept.wire === c.kept.decoded ? '' : `  (decoded path kept ${c.kept.decoded})`;
  console.log(`${c.name.padEnd(w)}  ${d.toFixed(3).padStart(8)}  ${wv.toFixed(3).padStart(8)}  ${(d - none).toFixed(3).padStart(14)}  ${(wv - none).toFixed(3).padStart(6)}  ${c.kept.wire}${same}`);
}
if (sink === 42) console.log('');
