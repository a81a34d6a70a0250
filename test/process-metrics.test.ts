// fleetcol's process-level metrics: the main event loop's delay per window (p99 and max) and the
// bytes held for the pipeline (the process-wide memory accounting).
import t from 'tap';
import { memoryAccounting } from '../src/memory.js';
import { MetricsRegistry } from '../src/telemetry/metrics.js';
import { ProcessMetrics } from '../src/telemetry/process.js';
import { metricValue, sleep, startDaemon } from './helper.js';

t.test('event-loop delay: a blocked loop shows in the window p99 and max; the next window forgets it', async (t) => {
  const reg = new MetricsRegistry();
  const pm = new ProcessMetrics(reg, 600);
  t.teardown(() => pm.stop());
  await sleep(50);
  const end = Date.now() + 300;
  while (Date.now() < end); // the loop is blocked for 300 ms
  await sleep(400); // the window with the block closes
  let m = await reg.prom.metrics();
  const max = metricValue(m, 'fleetcol_process_event_loop_delay_max_seconds');
  const p99 = metricValue(m, 'fleetcol_process_event_loop_delay_p99_seconds');
  t.ok(max >= 0.28 && max < 2, `max ${max} s`);
  t.ok(p99 >= 0.28, `p99 ${p99} s (one sample in a window of ~30 is the 99th percentile)`);
  await sleep(650); // a window without the block
  m = await reg.prom.metrics();
  const quiet = metricValue(m, 'fleetcol_process_event_loop_delay_max_seconds');
  t.ok(quiet < 0.28, `the next window forgets the block (max ${quiet} s)`);
});

t.test('buffered bytes: the sum of what holders registered', async (t) => {
  const reg = new MetricsRegistry();
  const pm = new ProcessMetrics(reg, 10_000);
  t.teardown(() => pm.stop());
  const base = memoryAccounting.total();
  let a = 1000;
  const offA = memoryAccounting.register('exporter', 'test/a', () => a);
  const offB = memoryAccounting.register('workers', 'test', () => 234);
  t.equal(metricValue(await reg.prom.metrics(), 'fleetcol_process_buffered_bytes'), base + 1234);
  a = 0;
  offB();
  t.equal(memoryAccounting.total(), base, 'read when asked; unregistered holders drop out');
  offA();
});

t.test('the daemon exposes them on /metrics', async (t) => {
  const d = await startDaemon(`
receivers:
  otlp: { protocols: { grpc: { endpoint: 127.0.0.1:0 } } }
exporters:
  debug: {}
service:
  pipelines:
    traces: { receivers: [otlp], exporters: [debug] }
`);
  t.teardown(() => d.stop());
  const m = await d.metrics();
  for (const name of ['fleetcol_process_event_loop_delay_p99_seconds', 'fleetcol_process_event_loop_delay_max_seconds', 'fleetcol_process_buffered_bytes']) {
    t.match(m, new RegExp(`^${name} `, 'm'), name);
  }
});
