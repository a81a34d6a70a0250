// The feed over raw HTTP: head, first event, span/task/error/agent events, filters, agents snapshot,
// heartbeat, retry:, ids.
import t from 'tap';
import { openStream, records, spans, startFeed, types, waitEvent } from './sse-support.js';
import { sleep, waitFor } from './helper.js';

t.test('stream head, retry:, subscription_confirmed first, then events from spans', async (t) => {
  const f = await startFeed({ retry: '2500ms' });
  t.teardown(() => f.stop());
  const st = await openStream(`${f.base}/v1/events`);
  t.teardown(() => st.close());
  t.equal(st.status, 200);
  t.match(st.headers['content-type'], /^text\/event-stream/);
  t.equal(st.headers['cache-control'], 'no-store');
  t.equal(st.headers['x-accel-buffering'], 'no');
  await waitEvent(st, (e) => e.type === 'subscription_confirmed');
  t.same(st.retries, [2500], 'retry: on connect');
  t.equal(st.events[0]!.type, 'subscription_confirmed', 'first event');
  await f.exp.consume(spans([{ agent: 'a1', inTokens: 10, outTokens: 5, cost: 0.01 }]));
  const span = await waitEvent(st, (e) => e.type === 'span');
  t.equal(span.data.agent, 'a1');
  t.equal(span.data.input_tokens, 10);
  t.equal(span.data.cost, 0.01);
  t.same(types(st).slice(0, 3), ['subscription_confirmed', 'agent_online', 'span']);
  t.match(span.id, /^\d+-\d+$/);
});

t.test('invoke_agent roots make tasks, errors make error events, agent state follows', async (t) => {
  const f = await startFeed();
  t.teardown(() => f.stop());
  const st = await openStream(`${f.base}/v1/events`);
  t.teardown(() => st.close());
  const trace = new Uint8Array(16).fill(7);
  await f.exp.consume(spans([{ agent: 'a1', op: 'chat', root: false, traceId: trace }]));
  await waitEvent(st, (e) => e.type === 'task_started');
  await f.exp.consume(spans([{ agent: 'a1', op: 'invoke_agent', root: true, traceId: trace }]));
  await waitEvent(st, (e) => e.type === 'task_completed');
  await f.exp.consume(spans([{ agent: 'a1', op: 'invoke_agent', root: true, error: true }]));
  await waitEvent(st, (e) => e.type === 'task_failed');
  await waitEvent(st, (e) => e.type === 'error');
  const statuses = st.events.filter((e) => e.type === 'status_change').map((e) => e.data.status);
  t.same(statuses, ['working', 'idle', 'working', 'error']);
  const r = await (await fetch(`${f.base}/v1/agents`)).json() as any;
  t.equal(r.agents.length, 1);
  t.equal(r.agents[0].id, 'a1');
  t.equal(r.agents[0].status, 'error');
  t.equal(r.agents[0].errors, 1);
});

t.test('spans that carry a2a.task.id make one task of that id (children and root alike)', async (t) => {
  const f = await startFeed();
  t.teardown(() => f.stop());
  const st = await openStream(`${f.base}/v1/events`);
  t.teardown(() => st.close());
  const trace = new Uint8Array(16).fill(9);
  const task = [{ key: 'a2a.task.id', value: { stringValue: 'T-42' } }];
  await f.exp.consume(spans([{ agent: 'a1', op: 'chat', root: false, traceId: trace, attrs: task }]));
  await f.exp.consume(spans([{ agent: 'a1', op: 'execute_tool', root: false, traceId: trace, attrs: task }]));
  await f.exp.consume(spans([{ agent: 'a1', op: 'invoke_agent', root: true, traceId: trace, attrs: task }]));
  await waitEvent(st, (e) => e.type === 'task_completed');
  const lifecycle = st.events.filter((e) => e.type.startsWith('task_')).map((e) => `${e.type} ${e.data.task_id}`);
  t.same(lifecycle, ['task_started T-42', 'task_completed T-42']);
  const r = await (await fetch(`${f.base}/v1/agents`)).json() as any;
  t.same(r.agents[0].active_tasks, [], 'no task left open');
});

t.test('a late sign of an ended task does not start it again: a status record, a child span after its root', async (t) => {
  const f = await startFeed();
  t.teardown(() => f.stop());
  const st = await openStream(`${f.base}/v1/events`);
  t.teardown(() => st.close());
  const trace = new Uint8Array(16).fill(5);
  const task = [{ key: 'a2a.task.id', value: { stringValue: 'T-7' } }];
  await f.exp.consume(spans([{ agent: 'a1', op: 'invoke_agent', root: true, traceId: trace, attrs: task }]));
  await waitEvent(st, (e) => e.type === 'task_completed');
  // The logs pipeline's batch came after the traces pipeline's, and a held child span came late.
  await f.exp.consume(records([{ agent: 'a1', event: 'a2a.task.status', state: 'submitted', task: 'T-7' }]));
  await f.exp.consume(spans([{ agent: 'a1', op: 'chat', root: false, traceId: trace, attrs: task }]));
  await f.exp.consume(spans([{ agent: 'a1', op: 'invoke_agent', root: true, error: true }]));
  await waitEvent(st, (e) => e.type === 'task_failed', 'the next task');
  const lifecycle = st.events.filter((e) => e.type.startsWith('task_')).map((e) => `${e.type} ${e.data.task_id === 'T-7' ? 'T-7' : 'other'}`);
  t.same(lifecycle, ['task_started T-7', 'task_completed T-7', 'task_started other', 'task_failed other']);
  const r = await (await fetch(`${f.base}/v1/agents`)).json() as any;
  t.same(r.agents[0].active_tasks, [], 'no task left open');
});

t.test('A2A log records: task states, progress, errors', async (t) => {
  const f = await startFeed();
  t.teardown(() => f.stop());
  const st = await openStream(`${f.base}/v1/events`);
  t.teardown(() => st.close());
  await f.exp.consume(records([
    { agent: 'b', event: 'a2a.task.status', state: 'submitted', task: 'T1' },
    { agent: 'b', event: 'a2a.task.status', state: 'working', task: 'T1', body: 'halfway' },
    { agent: 'b', event: 'a2a.task.status', state: 'input-required', task: 'T1' },
    { agent: 'b', event: 'a2a.task.status', state: 'completed', task: 'T1' },
    { agent: 'b', event: 'app.log', severity: 17, body: 'disk full' },
  ]));
  await waitEvent(st, (e) => e.type === 'error');
  t.same(types(st).filter((x) => x !== 'status_change'), ['subscription_confirmed', 'agent_online', 'task_started', 'progress_update', 'progress_update', 'task_completed', 'error']);
  t.same(st.events.filter((e) => e.type === 'status_change').map((e) => e.data.status), ['working', 'input_required', 'idle']);
  t.equal(st.events.find((e) => e.type === 'error')!.data.message, 'disk full');
});

t.test('filters: agent, type, min_severity; bad filters are 400', async (t) => {
  const f = await startFeed();
  t.teardown(() => f.stop());
  const byAgent = await openStream(`${f.base}/v1/events?agent=a2`);
  const byType = await openStream(`${f.base}/v1/events?type=error&type=task_failed`);
  const bySev = await openStream(`${f.base}/v1/events?min_severity=warn`);
  const hb = await openStream(`${f.base}/v1/events?type=heartbeat`);
  const all = await openStream(`${f.base}/v1/events`);
  t.teardown(() => [byAgent, byType, bySev, hb, all].forEach((s) => s.close()));
  await f.exp.consume(spans([{ agent: 'a1' }, { agent: 'a2' }, { agent: 'a2', error: true }]));
  await f.exp.consume(records([{ agent: 'a1', event: 'fleet.agent.heartbeat' }]));
  await waitEvent(all, (e) => e.type === 'error');
  await waitEvent(hb, (e) => e.type === 'heartbeat');
  await sleep(50);
  t.ok(byAgent.events.slice(1).every((e) => e.data.agent === 'a2'), 'agent filter');
  t.ok(byAgent.events.some((e) => e.type === 'span'));
  t.same(types(byType), ['subscription_confirmed', 'error'], 'type filter');
  t.same(types(bySev), ['subscription_confirmed', 'span', 'error'], 'min_severity=warn: the error span and the error');
  t.same(types(hb), ['subscription_confirmed', 'heartbeat'], 'agent heartbeats only when asked');
  t.notOk(types(all).includes('heartbeat'), 'not in the default feed');
  for (const q of ['type=nope', 'min_severity=loud']) {
    const r = await fetch(`${f.base}/v1/events?${q}`);
    t.equal(r.status, 400, q);
    t.match(await r.json(), { error: { code: 'FLEETCOL_SSE_BAD_REQUEST' } });
  }
  t.equal((await fetch(`${f.base}/nope`)).status, 404);
});

t.test('heartbeat comments every heartbeat_interval', async (t) => {
  const f = await startFeed({ heartbeat_interval: '100ms' });
  t.teardown(() => f.stop());
  const st = await openStream(`${f.base}/v1/events`);
  t.teardown(() => st.close());
  await waitFor(() => st.comments() >= 3, 3000, 'three heartbeats');
  t.pass('heartbeats arrive');
});

t.test('agent_offline after offline_after, agent_online again on the next sign', async (t) => {
  const f = await startFeed({ offline_after: '300ms' });
  t.teardown(() => f.stop());
  const st = await openStream(`${f.base}/v1/events?agent=z`);
  t.teardown(() => st.close());
  await f.exp.consume(spans([{ agent: 'z' }]));
  await waitEvent(st, (e) => e.type === 'agent_offline', 'agent_offline', 4000);
  await f.exp.consume(spans([{ agent: 'z' }]));
  await waitEvent(st, (e) => e.type === 'agent_online' && st.events.indexOf(e) > 2);
  t.same(types(st).filter((x) => x !== 'span'), ['subscription_confirmed', 'agent_online', 'agent_offline', 'status_change', 'agent_online', 'status_change']);
  t.same(st.events.filter((e) => e.type === 'status_change').map((e) => e.data.status), ['offline', 'idle']);
});

t.test('ids are monotonic and unique; a new run has a new epoch', async (t) => {
  const f = await startFeed();
  const st = await openStream(`${f.base}/v1/events`);
  for (let n = 0; n < 5; n++) await f.exp.consume(spans([{ agent: 'a' }, { agent: 'b' }]));
  await waitFor(() => st.events.filter((e) => e.type === 'span').length === 10, 3000, 'spans');
  const ids = st.events.slice(1).map((e) => e.id!);
  const seqs = ids.map((id) => Number(id.split('-')[1]));
  t.same(seqs, [...seqs].sort((a, b) => a - b), 'monotonic');
  t.equal(new Set(ids).size, ids.length, 'unique');
  const epoch1 = ids[0]!.split('-')[0];
  st.close();
  await f.stop();
  await sleep(5);
  const g = await startFeed();
  t.teardown(() => g.stop());
  const st2 = await openStream(`${g.base}/v1/events`);
  t.teardown(() => st2.close());
  const conf = await waitEvent(st2, (e) => e.type === 'subscription_confirmed');
  t.not(conf.id!.split('-')[0], epoch1, 'new epoch');
  t.ok(Number(conf.id!.split('-')[0]) > Number(epoch1), 'later epoch');
});

t.test('planned shutdown: each client gets a retry: within [retry, retry + spread], then the close', async (t) => {
  const f = await startFeed({ retry: '1s', shutdown_retry_spread: '4s' });
  const streams = await Promise.all(Array.from({ length: 8 }, () => openStream(`${f.base}/v1/events`)));
  await Promise.all(streams.map((s) => waitEvent(s, (e) => e.type === 'subscription_confirmed')));
  await f.stop();
  await Promise.all(streams.map((s) => s.ended));
  const finals = streams.map((s) => s.retries.at(-1)!);
  t.ok(streams.every((s) => s.retries.length === 2), 'retry on connect and before the close');
  t.ok(finals.every((r) => r >= 1000 && r <= 5000), `spread: ${finals.join(', ')}`);
  t.ok(new Set(finals).size > 1, 'not all the same');
});

t.test('connection limit per client: 429, and the slot frees when a stream closes', async (t) => {
  const f = await startFeed({ max_connections_per_client: 2, max_connections: 3 });
  t.teardown(() => f.stop());
  const a = await openStream(`${f.base}/v1/events`);
  const b = await openStream(`${f.base}/v1/events`);
  t.teardown(() => [a, b].forEach((s) => s.close()));
  const c = await openStream(`${f.base}/v1/events`);
  t.equal(c.status, 429);
  t.match(JSON.parse(c.body || (await c.ended, c.body)), { error: { code: 'FLEETCOL_SSE_TOO_MANY_CONNECTIONS' } });
  a.close();
  await waitFor(async () => (await openStream(`${f.base}/v1/events`).then((s) => { const ok = s.status === 200; s.close(); return ok; })), 3000, 'slot freed');
});
