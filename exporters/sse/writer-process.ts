// A writer process (`writers: N`): writes the feed to the plain-HTTP streams the exporter hands it,
// so that socket writes, most of a delivery's cost, run on more than one core. It follows the
// exporter's event stream (same seqs and bytes) in a hub of its own, with the same history, write
// pacing, lanes and slow-client rule; the exporter keeps auth, tickets, limits and /v1/agents, and
// is told when a stream it handed over ends. Started by WriterPool (writers.ts) with fork().
import type { Socket } from 'node:net';
import { globMatcher } from '../../src/glob.js';
import { Client, type Filter } from './client.js';
import { encodeEvent, retryLine } from './event.js';
import { Hub } from './hub.js';
import { SocketSink } from './transport.js';
import type { ToParent, ToWriter, WriterInit } from './writers.js';

function send(m: ToParent, sent?: () => void): void {
  if (!process.connected) sent?.();
  else if (sent) process.send!(m, () => sent());
  else process.send!(m);
}

function run(init: WriterInit): void {
  const hub = new Hub({ historySize: init.historySize, historyTtlMs: init.historyTtlMs, historyMaxBytes: init.historyMaxBytes, flushIntervalMs: init.flushIntervalMs, writeWindowMs: init.writeWindowMs, epochMs: init.epochMs });
  const retry = retryLine(init.retryMs);
  hub.onSlow = () => retry;
  let delays: number[] = [];
  hub.onTick = (ms) => delays.push(ms);
  const last = { dropped: 0, coalesced: 0, slow: 0 };
  let lastId = 0; // the last stream handed here (they come in order)
  const stats = (sent?: () => void) => {
    const c = hub.counters;
    send({ t: 'stats', lastId, deliveries: hub.collectDeliveries(), dropped: c.dropped - last.dropped, coalesced: c.coalesced - last.coalesced, slow: c.slowDisconnects - last.slow, clients: hub.clients.size, windowMs: hub.effectiveWindowMs, delays }, sent);
    last.dropped = c.dropped;
    last.coalesced = c.coalesced;
    last.slow = c.slowDisconnects;
    delays = [];
  };
  const timers = [setInterval(() => stats(), 1000)];
  if (init.heartbeatMs > 0) timers.push(setInterval(() => hub.heartbeat(), init.heartbeatMs));

  const take = (m: Extract<ToWriter, { t: 'client' }>, socket: Socket | undefined) => {
    lastId = m.id;
    if (!socket) return send({ t: 'gone', id: m.id, reason: 'writer_lost' });
    send({ t: 'took', id: m.id });
    socket.on('error', () => {});
    socket.resume(); // reads (and drops) whatever comes, so that the peer's close is seen
    const f = m.filter;
    const filter: Filter = { agents: f.agents && new Set(f.agents), types: f.types && new Set(f.types), minSeverity: f.minSeverity, scope: f.patterns && globMatcher(f.patterns) };
    const client = new Client(new SocketSink(socket), filter, init.maxBytes, hub, m.start, m.start < hub.lastSeq(), m.principal);
    client.own(Buffer.isBuffer(m.first) ? m.first : Buffer.from(m.first));
    hub.add(client);
    const remove = client.onGone;
    client.onGone = (c, reason) => {
      remove?.(c, reason);
      send({ t: 'gone', id: m.id, reason });
    };
    if (m.expMs !== null) {
      const expMs = m.expMs;
      client.expireAt(expMs - 1000, () => encodeEvent(undefined, 'auth_expired', { expires_at: expMs, server_time: Date.now() }));
    }
    client.pump();
  };

  process.on('message', (m: ToWriter, handle: unknown) => {
    if (m.t === 'events') {
      const now = Date.now();
      for (const p of m.events) hub.follow(Buffer.isBuffer(p.bytes) ? p : { ...p, bytes: Buffer.from(p.bytes) }, now);
    } else if (m.t === 'client') take(m, handle as Socket | undefined);
    else if (m.t === 'close') {
      for (const t of timers) clearInterval(t);
      hub.closeAll('shutdown', () => retryLine(m.retryMs + Math.random() * m.spreadMs), m.graceMs);
      // Disconnects once the last report is sent: messages still queued when the channel is
      // disconnected are dropped (a backed-up pipe lost them in a test of 200 large messages).
      const done = () => stats(() => process.connected && process.disconnect());
      if (hub.clients.size === 0) return done();
      const check = setInterval(() => {
        if (hub.clients.size > 0) return;
        clearInterval(check);
        done();
      }, 20);
    }
  });
}

// The exporter going away (its IPC channel closes) ends this process: no orphan keeps sockets open.
process.on('disconnect', () => process.exit(0));
process.once('message', (m: ToWriter) => {
  if (m.t === 'init') run(m);
  // Closed before it started (only init comes first otherwise). Not from inside this handler: a
  // message that came before the listener is replayed by node, which then touches the channel a
  // synchronous disconnect has already dropped (TypeError, exit 1).
  else setImmediate(() => process.connected && process.disconnect());
});
send({ t: 'ready' });
