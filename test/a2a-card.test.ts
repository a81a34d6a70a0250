// Agent Cards: read (v0.3 card at the fallback path), re-read with If-None-Match (304 keeps it),
// a changed card yields one capability_changed record.
import t from 'tap';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startDaemon, startSink, waitFor } from './helper.js';
import { recordsOf } from './a2a-support.js';

t.test('card re-read with ETag; a change is a capability_changed record', async (t) => {
  let streaming = false;
  let conditional = 0;
  const server = http.createServer((req, res) => {
    if (req.url === '/.well-known/agent-card.json') return void res.writeHead(404).end();
    const body = JSON.stringify({ name: 'Old Agent', version: '0.9', protocolVersion: '0.3.0', url: `http://127.0.0.1:${port}/rpc`, preferredTransport: 'JSONRPC', capabilities: { streaming } });
    const etag = `"${streaming ? 'b' : 'a'}"`;
    if (req.headers['if-none-match'] === etag) {
      conditional++;
      return void res.writeHead(304, { etag }).end();
    }
    res.writeHead(200, { 'content-type': 'application/json', etag }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  const sink = await startSink();
  const daemon = await startDaemon(`
receivers:
  a2a:
    agents: [ { url: "http://127.0.0.1:${port}" } ]
    card_refresh_interval: 100ms
exporters:
  otlp: { endpoint: ${sink.endpoint}, tls: { insecure: true } }
service:
  pipelines:
    logs: { receivers: [a2a], exporters: [otlp] }
`);
  t.teardown(async () => {
    await daemon.stop();
    await sink.close();
    server.close();
  });
  await waitFor(() => conditional >= 2, 10_000, 'conditional re-reads answered 304');
  streaming = true;
  await waitFor(() => recordsOf(sink.received.logs).some((r) => r.event === 'a2a.agent.capability_changed'), 10_000, 'capability_changed');
  await new Promise((r) => setTimeout(r, 400));
  const recs = recordsOf(sink.received.logs);
  t.equal(recs.filter((r) => r.event === 'a2a.agent.card').length, 1, 'first card once');
  const changed = recs.filter((r) => r.event === 'a2a.agent.capability_changed');
  t.equal(changed.length, 1, 'one change, one record');
  t.match(changed[0]!.body, /streaming false → true/);
  t.equal(changed[0]!.attrs['a2a.protocol.version'], '0.3', 'v0.3 card: url/preferredTransport');
  t.equal(changed[0]!.attrs['gen_ai.agent.name'], 'Old Agent');
});
