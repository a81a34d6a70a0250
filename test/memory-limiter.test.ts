// memory_limiter in process: memory read through a probe the test controls; above the soft limit
// data is refused with a RetryableError carrying a delay, below it passes again; above the hard
// limit GC is forced when it can be. Config checks.
import t from 'tap';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { registry } from '../src/components.js';
import { loadConfig } from '../src/config/load.js';
import { RetryableError, consumerOf } from '../src/consumer.js';
import type { Telemetry } from '../src/pdata/telemetry.js';
import { setMemoryProbe, type MemoryLimiterConfig } from '../processors/memory_limiter/processor.js';
import { limitsOf } from '../processors/memory_limiter/limiter.js';
import { spanRequest } from './genai-support.js';
import { metricValue, settings, sleep, tempFile } from './helper.js';

const MIB = 1024 * 1024;

function load(over: Record<string, unknown>) {
  const doc = {
    receivers: { otlp: { protocols: { http: { endpoint: '127.0.0.1:1' } } } },
    processors: { memory_limiter: over },
    exporters: { debug: {} },
    service: { pipelines: { traces: { receivers: ['otlp'], processors: ['memory_limiter'], exporters: ['debug'] } } },
  };
  return loadConfig({ files: [tempFile('ml.yaml', stringify(doc))], registry });
}
const cfgOf = (over: Record<string, unknown>): MemoryLimiterConfig => {
  const r = load(over);
  if (r.errors.length > 0) throw new Error(JSON.stringify(r.errors));
  return (r.config as any).processors.get('memory_limiter').config;
};

t.test('limits: mib and percentage, spike defaulting to 20 %', async (t) => {
  t.same(limitsOf({ check_interval: 1000, limit_mib: 100, spike_limit_mib: 20, limit_percentage: 0, spike_limit_percentage: 0 }), { hard: 100 * MIB, soft: 80 * MIB });
  t.same(limitsOf({ check_interval: 1000, limit_mib: 100, spike_limit_mib: 0, limit_percentage: 0, spike_limit_percentage: 0 }), { hard: 100 * MIB, soft: 80 * MIB });
  t.same(limitsOf({ check_interval: 1000, limit_mib: 0, spike_limit_mib: 0, limit_percentage: 50, spike_limit_percentage: 10 }, 1000), { hard: 500, soft: 400 });
});

t.test('refuses above the soft limit with a retryable error and a delay, accepts again below it', async (t) => {
  let used = 10 * MIB;
  setMemoryProbe(() => ({ used, rss: used }));
  t.teardown(() => setMemoryProbe(undefined));
  const out: Telemetry[] = [];
  const set = settings('processor', 'memory_limiter');
  const p = registry.get('processor', 'memory_limiter')!.createProcessor!(set, cfgOf({ check_interval: '20ms', limit_mib: 100, spike_limit_mib: 20 }), 'traces', consumerOf(async (b) => void out.push(b)));
  await p.start({ extension: () => undefined });
  await p.consume(spanRequest([{ id: 1, name: 'a' }]));
  t.equal(out.length, 1, 'below the soft limit: passes');
  used = 85 * MIB;
  await sleep(80);
  const err = await p.consume(spanRequest([{ id: 2, name: 'b' }, { id: 3, name: 'c' }])).then(() => undefined, (e: unknown) => e);
  t.ok(err instanceof RetryableError, 'refused, retryable');
  t.ok((err as RetryableError).retryAfterMs! >= 1000, 'with a delay');
  t.equal(out.length, 1);
  used = 50 * MIB;
  await sleep(80);
  await p.consume(spanRequest([{ id: 4, name: 'd' }]));
  t.equal(out.length, 2, 'accepted again');
  const m = await set.registry.prom.metrics();
  t.equal(metricValue(m, 'fleetcol_processor_memory_limiter_refused'), 2);
  t.equal(metricValue(m, 'fleetcol_processor_memory_limiter_accepted'), 2);
  await p.shutdown();
});

t.test('above the hard limit GC is forced (when exposed) and data refused; a tiny real limit refuses', async (t) => {
  let used = 200 * MIB;
  let gcs = 0;
  const g = globalThis as { gc?: () => void };
  const had = g.gc;
  g.gc = () => {
    gcs++;
    used = 90 * MIB; // GC frees some, still above soft
  };
  setMemoryProbe(() => ({ used, rss: used }));
  t.teardown(() => {
    setMemoryProbe(undefined);
    g.gc = had;
  });
  const set = settings('processor', 'memory_limiter/hard');
  const p = registry.get('processor', 'memory_limiter')!.createProcessor!(set, cfgOf({ check_interval: '1s', limit_mib: 100, spike_limit_mib: 20 }), 'logs', consumerOf(async () => {}));
  await p.start({ extension: () => undefined });
  t.equal(gcs, 1, 'GC forced at the first check');
  await t.rejects(p.consume(spanRequest([{ id: 1, name: 'a' }])), RetryableError);
  t.equal(metricValue(await set.registry.prom.metrics(), 'fleetcol_processor_memory_limiter_forced_gc'), 1);
  await p.shutdown();

  setMemoryProbe(undefined);
  const lines: string[] = [];
  const tiny = { ...settings('processor', 'memory_limiter/tiny'), logger: pino({ level: 'warn' }, { write: (l: string) => void lines.push(l) }) };
  const real = registry.get('processor', 'memory_limiter')!.createProcessor!(tiny, cfgOf({ check_interval: '1s', limit_mib: 2, spike_limit_mib: 1 }), 'traces', consumerOf(async () => {}));
  await real.start({ extension: () => undefined });
  await t.rejects(real.consume(spanRequest([{ id: 1, name: 'a' }])), RetryableError, 'the real process is above 1 MiB');
  t.match(lines.join(''), /above the soft limit at start.*raise limit_mib/, 'a limit below what the process takes at rest is said at start, with the fix');
  await real.shutdown();
});

t.test('config checks', async (t) => {
  t.ok(load({ limit_mib: 10, spike_limit_mib: 10 }).errors.length > 0, 'spike ≥ limit');
  t.ok(load({ limit_mib: 0, limit_percentage: 0 }).errors.length > 0, 'no limit');
  t.equal(load({}).errors.length, 0, 'defaults are valid');
});
