// The batch processor: size and time triggers, max size splits, holding what the next stage refuses.
import t from 'tap';
import { batchProcessorFactory } from '../processors/batch/factory.js';
import { RetryableError, consumerOf } from '../src/consumer.js';
import type { Telemetry } from '../src/pdata/telemetry.js';
import { metricValue, settings, sleep, waitFor } from './helper.js';
import { traces } from './data.js';

const host = { extension: () => undefined };
const cfg = (o: Partial<{ send_batch_size: number; timeout: number; send_batch_max_size: number; max_pending_items: number }>) => ({
  send_batch_size: 100,
  timeout: 10_000,
  send_batch_max_size: 0,
  max_pending_items: 0,
  ...o,
});

t.test('sends when send_batch_size is reached, merged', async (t) => {
  const out: Telemetry[] = [];
  const p = batchProcessorFactory.createProcessor!(settings('processor', 'batch'), cfg({ send_batch_size: 50 }), 'traces', consumerOf(async (b) => void out.push(b)));
  await p.start(host);
  for (let i = 0; i < 4; i++) await p.consume(traces(10));
  await sleep(20);
  t.equal(out.length, 0, 'below the size: held');
  await p.consume(traces(10));
  await waitFor(() => out.length === 1, 2000, 'size trigger');
  t.equal(out[0]!.itemCount, 50, 'one merged batch of 50');
  await p.shutdown();
});

t.test('sends on timeout', async (t) => {
  const out: Telemetry[] = [];
  const p = batchProcessorFactory.createProcessor!(settings('processor', 'batch'), cfg({ timeout: 100 }), 'traces', consumerOf(async (b) => void out.push(b)));
  await p.start(host);
  const started = Date.now();
  await p.consume(traces(3));
  await waitFor(() => out.length === 1, 2000, 'timeout trigger');
  t.ok(Date.now() - started >= 90, 'after the timeout');
  t.equal(out[0]!.itemCount, 3);
  await p.shutdown();
});

t.test('send_batch_max_size splits', async (t) => {
  const out: Telemetry[] = [];
  const p = batchProcessorFactory.createProcessor!(settings('processor', 'batch'), cfg({ send_batch_size: 100, send_batch_max_size: 40 }), 'traces', consumerOf(async (b) => void out.push(b)));
  await p.start(host);
  await p.consume(traces(130));
  await waitFor(() => out.reduce((a, b) => a + b.itemCount, 0) === 130, 2000, 'all sent');
  t.same(out.map((b) => b.itemCount), [40, 40, 40, 10]);
  await p.shutdown();
});

t.test('a refusing next stage: batches are kept and retried, and upstream is refused past the bound', async (t) => {
  const out: Telemetry[] = [];
  let refuse = true;
  const next = consumerOf(async (b) => {
    if (refuse) throw new RetryableError('queue full', { retryAfterMs: 50 });
    out.push(b);
  });
  const p = batchProcessorFactory.createProcessor!(settings('processor', 'batch'), cfg({ send_batch_size: 10, max_pending_items: 30 }), 'traces', next);
  await p.start(host);
  await p.consume(traces(10));
  await p.consume(traces(10));
  await p.consume(traces(10));
  await t.rejects(p.consume(traces(10)), RetryableError, 'over max_pending_items: refused');
  refuse = false;
  await waitFor(() => out.reduce((a, b) => a + b.itemCount, 0) === 30, 3000, 'held batches delivered');
  await p.consume(traces(10));
  await p.shutdown();
  t.equal(out.reduce((a, b) => a + b.itemCount, 0), 40, 'nothing lost, the rest flushed on shutdown');
});

t.test('one batch id in two pipelines: the pending gauges show what both hold together', async (t) => {
  // Each pipeline gets its own instance with the same id (so the same labels); a gauge per
  // instance must not hide the other's.
  const a = settings('processor', 'batch');
  const b = { ...settings('processor', 'batch'), metrics: a.registry.scoped('processor', 'batch'), registry: a.registry };
  const never = consumerOf(async () => {});
  const p1 = batchProcessorFactory.createProcessor!(a, cfg({}), 'traces', never);
  const p2 = batchProcessorFactory.createProcessor!(b, cfg({}), 'traces', never);
  await p1.start(host);
  await p2.start(host);
  await p1.consume(traces(3));
  await p2.consume(traces(4));
  const m = await a.registry.prom.metrics();
  t.equal(metricValue(m, 'fleetcol_processor_batch_pending_items', 'processor="batch"'), 7, 'held by both instances');
  await p1.shutdown();
  const after = await a.registry.prom.metrics();
  t.equal(metricValue(after, 'fleetcol_processor_batch_pending_items', 'processor="batch"'), 4, 'the stopped instance no longer counts');
  await p2.shutdown();
});
