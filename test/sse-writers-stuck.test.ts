// Writer processes (`writers: N`) that are alive but do not do their work: one that is stopped
// (silent: the watchdog kills it after 10 s) and one that reads too slowly (events for it pile up
// in the exporter; past a bound it is killed at once). Both are replaced and their clients resume.
// Real child processes, real sockets. (Apart from the other fault tests: together they came near
// tap's per-file time limit, as a writer starts slowly under the TS loader.)
import t from 'tap';
import { followsNewEvents, internals, openStream, spans, startFeed, waitEvent, writerPids } from './sse-support.js';
import { sleep, waitFor } from './helper.js';

t.test('a writer that is alive but does not keep up is killed and replaced before its backlog grows past the limit', async (t) => {
  const f = await startFeed({ writers: 1 });
  t.teardown(() => f.stop());
  const pool = internals(f).writers;
  pool.maxUnsentBytes = 256 * 1024;
  const st = await openStream(`${f.base}/v1/events`);
  await waitEvent(st, (e) => e.type === 'subscription_confirmed');
  const [pid] = writerPids(f);
  process.kill(pid!, 'SIGSTOP'); // reads nothing more: what is sent to it piles up in the exporter
  t.teardown(() => {
    try {
      process.kill(pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  });
  const t0 = Date.now();
  // ~4,000 events of ~1 KB, well past the 256 KiB allowed (and past what the pipe itself holds).
  for (let i = 0; i < 40 && writerPids(f)[0] === pid; i++) {
    await f.exp.consume(spans(Array.from({ length: 100 }, (_, k) => ({ agent: `a${k % 5}`, name: `n${i}-${k}-${'x'.repeat(900)}` }))));
    await sleep(20);
  }
  await waitFor(() => writerPids(f)[0] !== pid, 5000, 'the writer killed and another started');
  t.ok(Date.now() - t0 < 8000, `killed for its backlog, not by the 10 s watchdog (${Date.now() - t0} ms)`);
  await waitFor(() => pool.available, 20_000, 'the new writer ready');
  await st.ended;
  t.pass('its stream ended (its client resumes from its last id)');
  await followsNewEvents(f);
  t.pass('a new stream follows the feed (in the new writer)');
});

t.test('a writer that stops responding is killed and replaced; its streams end', async (t) => {
  const f = await startFeed({ writers: 1 });
  t.teardown(() => f.stop());
  const st = await openStream(`${f.base}/v1/events`);
  await waitEvent(st, (e) => e.type === 'subscription_confirmed');
  const [pid] = writerPids(f);
  process.kill(pid!, 'SIGSTOP'); // alive, silent: events for it would queue up in the exporter
  t.teardown(() => {
    try {
      process.kill(pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  });
  await waitFor(() => writerPids(f)[0] !== pid && internals(f).writers.available, 40_000, 'a new writer'); // the watchdog's 10 s, then a start (slow under the TS loader)
  await st.ended;
  t.pass('the stuck writer\'s stream ended (its client resumes)');
  await followsNewEvents(f);
  t.pass('a new stream follows the feed (in the new writer)');
});
