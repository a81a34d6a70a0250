// The genai processor in process: ns per span over the benchmark's genai mix (half OpenInference,
// only roots name their agent, 20 % of spans a request before their root), against the receiver's
// own validating scan of the same requests. Prints medians of several passes.
// Run: npx tsc -p tsconfig.json && node dist/bench/genai.js [--requests N] [--passes N] [--content MODE]
import { parseArgs } from 'node:util';
import pino from 'pino';
import { consumerOf } from '../src/consumer.js';
import { Telemetry } from '../src/pdata/telemetry.js';
import { MetricsRegistry } from '../src/telemetry/metrics.js';
import { genaiProcessorFactory } from '../processors/genai/factory.js';
import type { GenAIConfig } from '../processors/genai/processor.js';
import { buildPool } from './lib/spans.js';
import { median } from './lib/proc.js';

const { values } = parseArgs({ options: { requests: { type: 'string', default: '200' }, passes: { type: 'string', default: '9' }, content: { type: 'string', default: 'keep' } } });
const pool = buildPool(Number(values.requests), 100, 1, 'genai');
const spans = pool.reduce((n, r) => n + r.spans, 0);

const registry = new MetricsRegistry();
const cfg = {
  ...(genaiProcessorFactory.createDefaultConfig() as GenAIConfig),
  agent_context: { wait: 5000, max_traces: 10000, max_bytes: 64 * 1024 * 1024 },
  content_max_bytes: 4096,
  content: values.content as GenAIConfig['content'],
} as GenAIConfig;
let seq = 0;
let out = 0;
const p = genaiProcessorFactory.createProcessor!(
  { id: 'genai', kind: 'processor', logger: pino({ level: 'silent' }), metrics: registry.scoped('processor', 'genai'), shutdownTimeoutMs: 1000 },
  cfg, 'traces', consumerOf(async (b) => void (out += b.itemCount)),
);

/** The pool's requests with fresh trace ids (as the load generator stamps them). */
function stamped(): Buffer[] {
  return pool.map((e) => {
    seq++;
    const b = Buffer.from(e.bytes);
    e.traceIdOffsets.forEach((off, i) => b.writeUInt32BE((e.previous[i] ? seq - 1 : seq) >>> 0, off));
    return b;
  });
}

const scan: number[] = [];
const genai: number[] = [];
for (let pass = 0; pass < Number(values.passes); pass++) {
  const reqs = stamped();
  let t0 = process.hrtime.bigint();
  const batches = reqs.map((b) => Telemetry.fromProto('traces', b));
  scan.push(Number(process.hrtime.bigint() - t0) / spans);
  t0 = process.hrtime.bigint();
  for (const b of batches) {
    await p.consume(b);
    await new Promise((r) => setImmediate(r)); // let the processor's sweep timer run, as in the daemon
  }
  genai.push(Number(process.hrtime.bigint() - t0) / spans);
}
const m = await registry.prom.metrics();
await p.shutdown();
console.log(`genai mix: ${pool.length} requests of 100 spans, ${values.passes} passes, content ${values.content}; spans out ${out} of ${spans * Number(values.passes)}`);
console.log(`receiver's validating scan   ${median(scan).toFixed(0).padStart(6)} ns/span`);
console.log(`genai processor              ${median(genai).toFixed(0).padStart(6)} ns/span`);
console.log(m.split('\n').filter((l) => /genai_context_(released|traces)/.test(l) && !l.startsWith('#')).join('\n'));
