// The coalesce processor: 100 updates in 200ms for one agent become one; an error among them goes
// through at once; terminal states supersede what waits; max_rate; bounded keys; spans on request.
import t from 'tap';
import { stringify } from 'yaml';
import { registry } from '../src/components.js';
import { loadConfig } from '../src/config/load.js';
import { consumerOf } from '../src/consumer.js';
import type { ExportLogsServiceRequest, ExportTraceServiceRequest, Signal, Telemetry } from '../src/pdata/telemetry.js';
import { coalesceProcessorFactory } from '../processors/coalesce/factory.js';
import type { CoalesceConfig } from '../processors/coalesce/processor.js';
import { metricValue, settings, sleep, tempFile, waitFor } from './helper.js';
import { records, spans } from './sse-support.js';

function config(over: Record<string, unknown>): CoalesceConfig {
  const doc = {
    receivers: { otlp: { protocols: { http: { endpoint: '127.0.0.1:1' } } } },
    processors: { coalesce: over },
    exporters: { debug: {} },
    service: { pipelines: { logs: { receivers: ['otlp'], processors: ['coalesce'], exporters: ['debug'] } } },
  };
  const r = loadConfig({ files: [tempFile('c.yaml', stringify(doc))], registry });
  if (r.errors.length > 0) throw new Error(JSON.stringify(r.errors));
  return (r.config as any).processors.get('coalesce').config;
}

interface Out { at: number; agent: string; name: string; progress?: string; severity: number; state?: string }

function setup(over: Record<string, unknown>, signal: Signal = 'logs') {
  const out: Out[] = [];
  const spansOut: string[] = [];
  const set = settings('processor', 'coalesce');
  const p = coalesceProcessorFactory.createProcessor!(set, config(over), signal, consumerOf(async (b: Telemetry) => {
    if (b.signal === 'traces') {
      for (const rs of (b.request() as ExportTraceServiceRequest).resourceSpans) for (const ss of rs.scopeSpans) for (const s of ss.spans) spansOut.push(s.name);
      return;
    }
    for (const rl of (b.request() as ExportLogsServiceRequest).resourceLogs) {
      const agent = rl.resource!.attributes.find((a) => a.key === 'gen_ai.agent.id')!.value!.stringValue!;
      for (const sl of rl.scopeLogs) for (const r of sl.logRecords) {
        const get = (k: string) => r.attributes.find((a) => a.key === k)?.value?.stringValue;
        out.push({ at: Date.now(), agent, name: get('event.name')!, progress: get('progress'), severity: r.severityNumber, state: get('a2a.task.state') });
      }
    }
  }));
  return { p, out, spansOut, set };
}

const update = (agent: string, i: number, state = 'working') =>
  records([{ agent, event: 'a2a.task.status', state, task: 'T', attrs: [{ key: 'progress', value: { stringValue: String(i) } }] }]);

t.test('100 updates in 200ms for one agent → one event; an error among them passes at once', async (t) => {
  const { p, out, set } = setup({ mode: 'debounce', window: '400ms' });
  await p.start({ extension: () => undefined });
  const t0 = Date.now();
  let errorSentAt = 0;
  for (let i = 0; i < 100; i++) {
    await p.consume(update('a1', i));
    if (i === 50) {
      errorSentAt = Date.now();
      await p.consume(records([{ agent: 'a1', event: 'app.error', severity: 17, body: 'boom' }]));
    }
    const wait = t0 + (i + 1) * 2 - Date.now();
    if (wait > 0) await sleep(wait);
  }
  const sendMs = Date.now() - t0;
  t.ok(sendMs <= 300, `sent in ${sendMs}ms`);
  t.equal(out.length, 1, 'only the error went through while updates were coming');
  t.equal(out[0]!.name, 'app.error');
  t.ok(out[0]!.at - errorSentAt < 50, `the error passed at once (${out[0]!.at - errorSentAt}ms)`);
  await waitFor(() => out.length === 2, 2000, 'the coalesced update');
  await sleep(500);
  t.equal(out.length, 2, 'one update for the hundred');
  t.equal(out[1]!.progress, '99', 'the latest wins');
  const m = await set.registry.prom.metrics();
  t.equal(metricValue(m, 'fleetcol_processor_coalesce_coalesced'), 99);
  t.equal(metricValue(m, 'fleetcol_processor_coalesce_passed'), 1);
  t.equal(metricValue(m, 'fleetcol_processor_coalesce_emitted'), 1);
  await p.shutdown();
});

t.test('a terminal state passes at once and drops the stale update waiting under its key', async (t) => {
  const { p, out } = setup({ window: '300ms' });
  for (let i = 0; i < 10; i++) await p.consume(update('a1', i));
  await p.consume(update('a1', 10, 'completed'));
  t.same(out.map((o) => o.state), ['completed']);
  await sleep(450);
  t.same(out.map((o) => o.state), ['completed'], 'no working update after completed');
  await p.consume(records([{ agent: 'a1', event: 'agent_offline' }]));
  t.equal(out.at(-1)!.name, 'agent_offline', 'agent_offline passes');
  await p.shutdown();
});

t.test('terminal states pass in either A2A version\'s spelling (v1.0 TASK_STATE_*, cancelled)', async (t) => {
  const { p, out } = setup({ window: '300ms' });
  await p.consume(update('a1', 1, 'TASK_STATE_CANCELED'));
  await p.consume(update('a2', 1, 'cancelled'));
  await p.consume(update('a3', 1, 'TASK_STATE_FAILED'));
  await p.consume(update('a4', 1, 'TASK_STATE_WORKING'));
  t.same(out.map((o) => o.state), ['TASK_STATE_CANCELED', 'cancelled', 'TASK_STATE_FAILED'], 'terminal ones at once, as sent');
  await p.shutdown();
});

t.test('keys are per agent and event name', async (t) => {
  const { p, out } = setup({ window: '200ms' });
  for (let i = 0; i < 20; i++) {
    await p.consume(update(`a${i % 4}`, i));
    await p.consume(records([{ agent: `a${i % 4}`, event: 'fleet.agent.heartbeat' }]));
  }
  await waitFor(() => out.length === 8, 2000, 'eight keys');
  t.same(out.filter((o) => o.name === 'a2a.task.status').map((o) => `${o.agent}:${o.progress}`).sort(), ['a0:16', 'a1:17', 'a2:18', 'a3:19']);
  await p.shutdown();
});

t.test('max_rate: first at once, then at most one per window, the latest', async (t) => {
  const { p, out } = setup({ mode: 'max_rate', window: '100ms' });
  const t0 = Date.now();
  for (let i = 0; i < 100; i++) {
    await p.consume(update('a1', i));
    await sleep(2);
  }
  await sleep(250);
  const elapsed = Date.now() - t0;
  t.equal(out[0]!.progress, '0', 'the first goes at once');
  t.ok(out.length >= 2 && out.length <= Math.ceil(elapsed / 100) + 1, `${out.length} in ${elapsed}ms`);
  t.equal(out.at(-1)!.progress, '99', 'the latest is not lost');
  for (let i = 1; i < out.length; i++) t.ok(out[i]!.at - out[i - 1]!.at >= 90, 'spaced by the window');
  await p.shutdown();
});

t.test('max_keys bounds what waits: past it, items pass', async (t) => {
  const { p, out, set } = setup({ window: '300ms', max_keys: 3 });
  for (let i = 0; i < 10; i++) await p.consume(update(`a${i}`, i));
  t.equal(out.length, 7, 'seven passed at once');
  t.equal(metricValue(await set.registry.prom.metrics(), 'fleetcol_processor_coalesce_overflow'), 7);
  await p.shutdown();
  t.equal(out.length, 10, 'shutdown sends what waited');
});

t.test('spans only when asked: chat spans coalesce per agent and operation, roots and errors pass', async (t) => {
  const off = setup({ window: '200ms' }, 'traces');
  await off.p.consume(spans([{ agent: 'a', root: false, name: 'x1' }, { agent: 'a', root: false, name: 'x2' }]));
  t.same(off.spansOut, ['x1', 'x2'], 'spans: false passes spans');
  const on = setup({ window: '200ms', spans: true, keys: ['gen_ai.agent.id', 'gen_ai.operation.name'] }, 'traces');
  await on.p.consume(spans([
    { agent: 'a', root: false, name: 'c1' }, { agent: 'a', root: false, name: 'c2' },
    { agent: 'a', root: false, name: 'bad', error: true }, { agent: 'a', root: true, op: 'invoke_agent', name: 'root' },
  ]));
  t.same(on.spansOut, ['bad', 'root']);
  await waitFor(() => on.spansOut.length === 3, 2000, 'coalesced span');
  t.equal(on.spansOut[2], 'c2');
  await off.p.shutdown();
  await on.p.shutdown();
});
