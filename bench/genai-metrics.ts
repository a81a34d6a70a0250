// The genai_metrics connector in process: ns per span over the benchmark's span mixes (`current`:
// the testbed's plain spans, which take the span-metrics path; `genai`: the genai mix after the
// genai processor, the GenAI path), against the receiver's own validating scan of the same requests.
// Prints medians of several passes.
// Run: npx tsc -p tsconfig.json && node dist/bench/genai-metrics.js [--requests N] [--passes N]
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { genaiMetricsConnectorFactory } from '../connectors/genai_metrics/factory.js';
import type { GenAIMetricsConfig } from '../connectors/genai_metrics/connector.js';
import { genaiProcessorFactory } from '../processors/genai/factory.js';
import type { GenAIConfig } from '../processors/genai/processor.js';
import { consumerOf } from '../src/consumer.js';
import { Telemetry } from '../src/pdata/telemetry.js';
import { MetricsRegistry } from '../src/telemetry/metrics.js';
import { buildPool } from './lib/spans.js';
import { median } from './lib/proc.js';

const { values } = parseArgs({ options: { requests: { type: 'string', default: '200' }, passes: { type: 'string', default: '9' } } });
const registry = new MetricsRegistry();
const settings = (id: string, kind: 'processor' | 'connector') => ({ id, kind, logger: pino({ level: 'silent' }), metrics: registry.scoped(kind, id), shutdownTimeoutMs: 1000 });

async function measure(mix: 'current' | 'genai'): Promise<{ scan: number; connector: number; spans: number }> {
  const pool = buildPool(Number(values.requests), 100, 1, mix);
  const spans = pool.reduce((n, r) => n + r.spans, 0);
  const cfg = genaiMetricsConnectorFactory.createDefaultConfig() as GenAIMetricsConfig;
  const c = genaiMetricsConnectorFactory.createConnector!(settings(`genai_metrics/${mix}`, 'connector'), cfg, 'traces', 'metrics', consumerOf(async () => {}));
  // The GenAI mix as the connector sees it in a pipeline: after the genai processor.
  let inputs = pool.map((e) => Telemetry.fromProto('traces', Buffer.from(e.bytes)));
  if (mix === 'genai') {
    const out: Telemetry[] = [];
    const gcfg = { ...(genaiProcessorFactory.createDefaultConfig() as GenAIConfig), agent_context: { wait: 0, max_traces: 10000, max_bytes: 64 * 1024 * 1024 } } as GenAIConfig;
    const g = genaiProcessorFactory.createProcessor!(settings('genai', 'processor'), gcfg, 'traces', consumerOf(async (b) => void out.push(b)));
    for (const b of inputs) await g.consume(b);
    await g.shutdown();
    inputs = out;
  }
  const bytes = inputs.map((b) => Buffer.from(b.toProto()));
  const scan: number[] = [];
  const conn: number[] = [];
  for (let pass = 0; pass < Number(values.passes); pass++) {
    let t0 = process.hrtime.bigint();
    const batches = bytes.map((b) => Telemetry.fromProto('traces', b));
    scan.push(Number(process.hrtime.bigint() - t0) / spans);
    t0 = process.hrtime.bigint();
    for (const b of batches) await c.consume(b);
    conn.push(Number(process.hrtime.bigint() - t0) / spans);
  }
  await c.shutdown();
  return { scan: median(scan), connector: median(conn), spans };
}

for (const mix of ['current', 'genai'] as const) {
  const r = await measure(mix);
  console.log(`${mix.padEnd(8)} mix (${r.spans} spans, ${values.passes} passes): receiver's validating scan ${r.scan.toFixed(0).padStart(5)} ns/span, genai_metrics ${r.connector.toFixed(0).padStart(5)} ns/span`);
}
