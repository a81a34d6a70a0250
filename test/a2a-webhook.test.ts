// The a2a receiver's push-notification webhook: credentials (v0.3 X-A2A-Notification-Token, v1.0
// Authorization, a JWT), repeats ingested once, the body bounded, and back-pressure: with the
// exporter sending synchronously (no queue, no retries) a sink that refuses makes the webhook
// answer 503 + Retry-After, and the agent's retry then lands.
import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import { SignJWT } from 'jose';
import { freePort, startDaemon, startSink } from './helper.js';
import { recordsOf, spansOf } from './a2a-support.js';

const V03_TASK = { kind: 'task', id: 'task-1', contextId: 'ctx-1', status: { state: 'working', timestamp: '2026-01-01T00:00:00Z' } };
const V10_DONE = { statusUpdate: { taskId: 'task-1', contextId: 'ctx-1', status: { state: 'TASK_STATE_COMPLETED', timestamp: '2026-01-01T00:00:05Z' } } };
const SECRET = 'jwt-secret-of-32-bytes-or-more!!';

t.test('webhook: auth, dedupe, 413, 503 then the retry lands', async (t) => {
  let refuse = 1;
  const sink = await startSink({ answer: (_n, signal) => (signal === 'logs' && refuse-- > 0 ? { code: grpc.status.UNAVAILABLE, details: 'full', retryAfterMs: 2000 } : undefined) });
  const port = await freePort();
  const daemon = await startDaemon(`
receivers:
  a2a:
    webhook: { endpoint: 127.0.0.1:${port}, token: s3cret, jwt: { secret: "${SECRET}", audience: fleetcol }, max_body_size: 4KiB }
exporters:
  otlp: { endpoint: ${sink.endpoint}, tls: { insecure: true }, sending_queue: { enabled: false }, retry_on_failure: { enabled: false } }
service:
  pipelines:
    logs: { receivers: [a2a], exporters: [otlp] }
    traces: { receivers: [a2a], exporters: [otlp] }
`);
  t.teardown(async () => {
    await daemon.stop();
    await sink.close();
  });
  const url = `http://127.0.0.1:${port}/?agent=pusher`;
  const post = (body: unknown, headers: Record<string, string> = {}) =>
    fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });

  t.equal((await post(V03_TASK)).status, 401, 'no credentials');
  t.equal((await post(V03_TASK, { 'x-a2a-notification-token': 'wrong' })).status, 401, 'wrong token');
  t.equal((await post(V03_TASK, { authorization: 'Bearer wrong' })).status, 401, 'wrong bearer');
  const expired = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setAudience('fleetcol').setExpirationTime(Math.floor(Date.now() / 1000) - 60).sign(new TextEncoder().encode(SECRET));
  t.equal((await post(V03_TASK, { authorization: `Bearer ${expired}` })).status, 401, 'expired JWT');
  t.equal(sink.requests, 0, 'nothing ingested without valid credentials');

  const refused = await post(V03_TASK, { 'x-a2a-notification-token': 's3cret' });
  t.equal(refused.status, 503, 'pipeline refused → 503');
  t.equal(refused.headers.get('retry-after'), '2', 'Retry-After from the refusal');
  const retried = await post(V03_TASK, { 'x-a2a-notification-token': 's3cret' });
  t.equal(retried.status, 200, 'the retry lands');
  const repeat = await post(V03_TASK, { 'x-a2a-notification-token': 's3cret' });
  t.equal(repeat.status, 200, 'a repeat is answered OK');
  t.same(await repeat.json(), { status: 'duplicate' });

  const jwt = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setAudience('fleetcol').setExpirationTime('1m').sign(new TextEncoder().encode(SECRET));
  t.equal((await post(V10_DONE, { authorization: `Bearer ${jwt}` })).status, 200, 'v1.0 StreamResponse with a JWT');
  t.equal((await post(V10_DONE, { authorization: 'Bearer s3cret' })).status, 200, 'the token as v1.0 Authorization (a repeat)');
  t.equal((await post('x'.repeat(5000), { authorization: 'Bearer s3cret' })).status, 413, 'body over max_body_size');
  t.equal((await post('{"nope":1}', { authorization: 'Bearer s3cret' })).status, 400, 'not an A2A payload');

  const recs = recordsOf(sink.received.logs);
  t.same(recs.map((r) => r.attrs['a2a.task.state']), ['working', 'completed'], 'each notification ingested once');
  t.same(recs.map((r) => r.attrs['a2a.protocol.version']), ['0.3', '1.0']);
  t.ok(recs.every((r) => r.attrs['gen_ai.agent.id'] === 'pusher' && r.attrs['gen_ai.conversation.id'] === 'ctx-1'));
  const spans = spansOf(sink.received.traces);
  t.equal(spans.length, 1, 'the completed task has its span');
  t.equal(spans[0]!.end - spans[0]!.start, 5_000_000_000n, 'span from first seen to last event');
});
