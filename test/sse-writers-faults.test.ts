// Writer processes (`writers: N`) when things go wrong: a writer killed, killed mid-hand-off, or a
// start that fails (a stuck or slow writer: sse-writers-stuck.test.ts). Real child processes, real sockets.
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import t from 'tap';
import { captureLog, internals, openStream, serverSockets, spans, startFeed, waitEvent, writerPids } from './sse-support.js';
import { waitFor } from './helper.js';


/** This process's children that are writer processes. */
function writerChildren(): number[] {
  const pids: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid && readFileSync(`/proc/${d}/cmdline`, 'utf8').includes('writer-process')) pids.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

t.test('a writer that dies takes its streams; the slots come back and a new writer takes new streams', async (t) => {
  const log = captureLog();
  const f = await startFeed({ writers: 1, max_connections_per_client: 1 }, { logger: log.logger });
  t.teardown(() => f.stop());
  const st = await openStream(`${f.base}/v1/events`);
  await waitEvent(st, (e) => e.type === 'subscription_confirmed');
  const [pid] = writerPids(f);
  process.kill(pid!, 'SIGKILL');
  await st.ended;
  t.pass('its stream ended with it');
  await waitFor(() => log.text().includes('SSE stream closed'), 5000, 'the stream\'s end logged');
  t.match(log.text(), /"reason":"writer_exit".*"msg":"SSE stream closed"/, 'logged as ended by the writer\'s exit');
  await waitFor(() => internals(f).writers.available && writerPids(f)[0] !== pid, 10_000, 'a new writer');
  const again = await openStream(`${f.base}/v1/events`);
  t.teardown(() => again.close());
  t.equal(again.status, 200, 'the slot came back');
  await waitEvent(again, (e) => e.type === 'subscription_confirmed');
  t.equal(internals(f).writers.streams, 1, 'handed to the new writer');
  await f.exp.consume(spans([{ agent: 'a', name: 'after' }]));
  await waitEvent(again, (e) => e.data?.name === 'after');
});

t.test('a writer killed while streams are being handed to it: no stream is left hanging, and shutdown completes', async (t) => {
  const f = await startFeed({ writers: 1 });
  t.teardown(() => f.stop());
  const [pid] = writerPids(f);
  // 40 streams at once, the writer killed as the first is confirmed: some were handed, some on
  // their way, some wait behind them; the rest stay with the exporter while no writer is left.
  const opening = Array.from({ length: 40 }, () => openStream(`${f.base}/v1/events`));
  const first = await opening[0]!;
  await waitEvent(first, (e) => e.type === 'subscription_confirmed');
  process.kill(pid!, 'SIGKILL');
  // A stream whose socket went to the writer before its head was written sees the connection
  // close with no response (an EventSource reconnects after that too).
  const settled = await Promise.allSettled(opening);
  const unanswered = settled.filter((r) => r.status === 'rejected').length;
  const streams = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  t.teardown(() => streams.forEach((s) => s.close()));
  await waitFor(() => internals(f).writers.streams === 0, 5000, 'the dead writer\'s streams released');
  await f.exp.consume(spans([{ agent: 'a', name: 'after-kill' }]));
  let ended = 0;
  for (const st of streams) {
    // Each one either ended (its client reconnects) or is live and gets the next event.
    const r = await Promise.race([st.ended.then(() => 'ended'), waitEvent(st, (e) => e.data?.name === 'after-kill', 'after-kill', 5000).then(() => 'live')]);
    if (r === 'ended') ended++;
  }
  t.ok(ended + unanswered >= 1, `${unanswered} closed unanswered, ${ended} ended, ${streams.length - ended} live: none hanging`);
  await waitFor(() => serverSockets(f) === internals(f).hub.clients.size, 5000, 'no socket copy left behind');
  t.pass('the exporter holds only the sockets of its own streams');
  const live = streams.filter((st) => st.events.some((e) => e.data?.name === 'after-kill'));
  await f.stop(); // its front door once gave sockets to a writer that is gone: must not wait for it
  for (const st of live) await st.ended;
  t.pass('shutdown completes and ends the live streams');
});

t.test('a failed start leaves no writer process behind', async (t) => {
  const taken = net.createServer();
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => taken.close());
  const port = (taken.address() as net.AddressInfo).port;
  const before = writerChildren().length;
  await t.rejects(startFeed({ writers: 2, endpoint: `127.0.0.1:${port}` }), /EADDRINUSE/);
  await waitFor(() => writerChildren().length === before, 5000, 'writers gone');
  t.pass('no orphan');
});
