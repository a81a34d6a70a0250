// Alerts (error_rate, cost, tokens_per_min over a window, per agent, agent glob) raised and
// cleared; metrics_update every metrics_interval.
import t from 'tap';
import { openStream, spans, startFeed, waitEvent } from './sse-support.js';

t.test('alerts are raised when a threshold is crossed and cleared when it is not any more', async (t) => {
  const f = await startFeed({
    alerts: [
      { name: 'errors', when: 'error_rate', above: 0.5, window: '2s' },
      { name: 'spend', when: 'cost', agent: 'a*', above: 1.0, window: '2s' },
      { name: 'burn', when: 'tokens_per_min', above: 6000, window: '2s' },
    ],
  });
  t.teardown(() => f.stop());
  const st = await openStream(`${f.base}/v1/events?type=alert`);
  t.teardown(() => st.close());
  await f.exp.consume(spans([
    { agent: 'a1', error: true }, { agent: 'a1', error: true }, { agent: 'a1', error: true }, { agent: 'a1' },
    { agent: 'a2', cost: 0.6 }, { agent: 'a2', cost: 0.6 },
    { agent: 'b1', cost: 5 },
    { agent: 'c1', inTokens: 150, outTokens: 100 },
  ]));
  const raised = (name: string, agent: string) => waitEvent(st, (e) => e.data.name === name && e.data.agent === agent && e.data.state === 'raised', `${name} ${agent} raised`, 3000);
  const errors = await raised('errors', 'a1');
  t.equal(errors.data.value, 0.75);
  t.equal(errors.data.when, 'error_rate');
  const spend = await raised('spend', 'a2');
  t.ok(Math.abs(spend.data.value - 1.2) < 1e-9);
  const burn = await raised('burn', 'c1');
  t.equal(burn.data.value, 7500, '250 tokens in a 2s window = 7500/min');
  t.notOk(st.events.some((e) => e.data.agent === 'b1' && e.data.name === 'spend'), 'the agent glob limits the rule');
  const cleared = await waitEvent(st, (e) => e.data.name === 'errors' && e.data.state === 'cleared', 'errors cleared', 5000);
  t.equal(cleared.data.agent, 'a1');
  t.equal(cleared.data.raised_at, errors.data.time);
});

t.test('metrics_update every metrics_interval with fleet figures', async (t) => {
  const f = await startFeed({ metrics_interval: '200ms' });
  t.teardown(() => f.stop());
  const st = await openStream(`${f.base}/v1/events?type=metrics_update`);
  t.teardown(() => st.close());
  await f.exp.consume(spans([{ agent: 'a', inTokens: 10, outTokens: 10, cost: 0.5 }, { agent: 'b' }]));
  const m = await waitEvent(st, (e) => e.data.agents === 2, 'metrics_update', 3000);
  t.equal(m.data.agents_online, 2);
  t.equal(m.data.cost_total, 0.5);
  t.equal(m.data.clients, 1);
  t.type(m.data.tokens_per_s, 'number');
  await waitEvent(st, (e) => e !== m && e.data.agents === 2 && e.at > m.at, 'another one', 3000);
});
