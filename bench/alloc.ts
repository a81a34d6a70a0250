// Bytes the genai processor allocates per span in process, garbage included, by function: V8's
// sampling heap profiler with the objects minor and major GCs collected kept in its samples. The
// daemon runs with a 1 MiB young generation (src/cli.ts), where every KB of garbage per span is
// scavenges. Run: npx tsc -p tsconfig.json && node dist/bench/alloc.js [--top N]
import inspector from 'node:inspector/promises';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { consumerOf } from '../src/consumer.js';
import { Telemetry } from '../src/pdata/telemetry.js';
import { MetricsRegistry } from '../src/telemetry/metrics.js';
import { genaiProcessorFactory } from '../processors/genai/factory.js';
import type { GenAIConfig } from '../processors/genai/processor.js';
import { buildPool } from './lib/spans.js';

const { values } = parseArgs({ options: { top: { type: 'string', default: '25' } } });
const pool = buildPool(200, 100, 1, 'genai');
const registry = new MetricsRegistry();
const cfg = {
  ...(genaiProcessorFactory.createDefaultConfig() as GenAIConfig),
  agent_context: { wait: 5000, max_traces: 10000, max_bytes: 64 * 1024 * 1024 },
  content_max_bytes: 4096,
  content: 'keep',
} as GenAIConfig;
const p = genaiProcessorFactory.createProcessor!(
  { id: 'genai', kind: 'processor', logger: pino({ level: 'silent' }), metrics: registry.scoped('processor', 'genai'), shutdownTimeoutMs: 1000 },
  cfg, 'traces', consumerOf(async () => {}),
);
let seq = 0;
/** The pool's requests with fresh trace ids (as bench/genai.ts stamps them), scanned. */
const batches = () => pool.map((e) => {
  seq++;
  const b = Buffer.from(e.bytes);
  e.traceIdOffsets.forEach((off, i) => b.writeUInt32BE((e.previous[i] ? seq - 1 : seq) >>> 0, off));
  return Telemetry.fromProto('traces', b);
});
for (let pass = 0; pass < 2; pass++) for (const b of batches()) await p.consume(b); // warm-up
const measured = [batches(), batches(), batches()];
const session = new inspector.Session();
session.connect();
await session.post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
for (const bs of measured) {
  for (const b of bs) {
    await p.consume(b);
    await new Promise((r) => setImmediate(r));
  }
}
const { profile } = await session.post('HeapProfiler.stopSampling');
session.disconnect();
await p.shutdown();

interface Node { callFrame: { functionName: string; url: string; lineNumber: number }; selfSize: number; children: Node[] }
const bytes = new Map<string, number>();
const where = (n: Node) => `${n.callFrame.functionName || '(anonymous)'}  ${n.callFrame.url.split('/').slice(-3).join('/')}:${n.callFrame.lineNumber + 1}`;
(function walk(n: Node, parent: Node | undefined) {
  // A builtin (no script) is named with its caller: which code made the array, the Map, the view.
  const k = n.callFrame.url === '' && parent !== undefined ? `${n.callFrame.functionName} in ${where(parent)}` : where(n);
  bytes.set(k, (bytes.get(k) ?? 0) + n.selfSize);
  for (const c of n.children) walk(c, n);
})(profile.head as Node, undefined);
const total = [...bytes.values()].reduce((a, b) => a + b, 0);
const spans = measured.length * pool.length * 100;
console.log(`genai processor, genai mix: ~${Math.round(total / spans)} bytes allocated per span (sampled every 4 KiB, garbage included), ${spans} spans`);
for (const [k, v] of [...bytes].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top))) {
  console.log(`${String(Math.round(v / spans)).padStart(6)} B/span ${((100 * v) / total).toFixed(1).padStart(5)} %  ${k}`);
}
