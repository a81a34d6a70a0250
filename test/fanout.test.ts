// Fan-out: a failing or slow exporter neither blocks nor loses data for the others.
import t from 'tap';
import { pino } from 'pino';
import { fanout } from '../src/service/fanout.js';
import { RetryableError, consumerOf } from '../src/consumer.js';
import type { Telemetry } from '../src/pdata/telemetry.js';
import { traces } from './data.js';

const logger = pino({ level: 'silent' });

t.test('one failing branch: the others get everything, the caller is not refused', async (t) => {
  const got: Telemetry[] = [];
  const f = fanout([consumerOf(async () => { throw new RetryableError('queue full'); }), consumerOf(async (b) => { got.push(b); })], logger);
  for (let i = 0; i < 5; i++) await f.consume(traces(3));
  t.equal(got.length, 5);
});

t.test('every branch refuses: the caller is refused with the retryable error', async (t) => {
  const f = fanout([consumerOf(async () => { throw new RetryableError('a', { retryAfterMs: 5 }); }), consumerOf(async () => { throw new Error('b'); })], logger);
  await t.rejects(f.consume(traces(1)), RetryableError);
});

t.test('branches run concurrently: a slow one does not delay the others', async (t) => {
  let fastDone = 0;
  let release!: () => void;
  const slow = consumerOf(() => new Promise<void>((r) => (release = r)));
  const fast = consumerOf(async () => { fastDone = Date.now(); });
  const started = Date.now();
  const p = fanout([slow, fast], logger).consume(traces(1));
  await new Promise((r) => setTimeout(r, 50));
  t.ok(fastDone > 0 && fastDone - started < 50, 'fast branch done while the slow one waits');
  release();
  await p;
});

t.test('mutating consumers get their own copy', async (t) => {
  const seen: Telemetry[] = [];
  const a = consumerOf(async (b) => { seen.push(b); }, true);
  const b = consumerOf(async (x) => { seen.push(x); }, true);
  const c = consumerOf(async (x) => { seen.push(x); }, false);
  const batch = traces(2);
  await fanout([a, b, c], logger).consume(batch);
  t.not(seen[0], batch, 'first mutator: a copy');
  t.not(seen[1], batch, 'second mutator: a copy');
  t.not(seen[0], seen[1], 'two mutators, two copies');
  t.equal(seen[2], batch, 'the read-only consumer gets the original');
  seen.length = 0;
  await fanout([a, b], logger).consume(batch);
  t.not(seen[0], batch, 'no reader: the first mutator gets a copy');
  t.equal(seen[1], batch, 'and the last the original');
});
