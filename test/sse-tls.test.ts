// With TLS the feed speaks HTTP/2 (many streams on one connection, so a browser is not held to six
// per host) and still HTTP/1.1 for clients that do not offer h2.
import t from 'tap';
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import { SseParser } from './sse-stream.js';
import { spans, startFeed } from './sse-support.js';
import { makeCert, waitFor } from './helper.js';

const pem = makeCert();
if (!pem) {
  t.comment('SKIP: openssl is not installed, so no test certificate can be made (apt-get install openssl)');
} else {
  t.test('HTTP/2: twenty streams on one connection, each gets the events', async (t) => {
    const f = await startFeed({ tls: { cert_file: pem.cert, key_file: pem.key } });
    t.teardown(() => f.stop());
    const base = f.base.replace('http:', 'https:');
    const session = http2.connect(base, { ca: readFileSync(pem.cert) });
    t.teardown(() => session.destroy());
    const got: string[][] = [];
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) {
      const names: string[] = [];
      got.push(names);
      const req = session.request({ ':path': '/v1/events?type=span' });
      req.on('response', (h) => statuses.push(Number(h[':status'])));
      const p = new SseParser((m) => m.event === 'span' && names.push(JSON.parse(m.data).name));
      req.setEncoding('utf8');
      req.on('data', (d: string) => p.push(d));
    }
    await waitFor(() => statuses.length === 20 && (f.exp as any).hub.clients.size === 20, 5000, 'twenty streams');
    t.ok(statuses.every((s) => s === 200));
    for (let i = 0; i < 5; i++) await f.exp.consume(spans([{ agent: 'a', name: `s${i}` }]));
    await waitFor(() => got.every((g) => g.length === 5), 5000, 'events on every stream');
    t.ok(got.every((g) => g.join() === 's0,s1,s2,s3,s4'));
  });

  t.test('HTTPS with HTTP/1.1 still works', async (t) => {
    const f = await startFeed({ tls: { cert_file: pem.cert, key_file: pem.key } });
    t.teardown(() => f.stop());
    const names: string[] = [];
    const req = https.get(`${f.base.replace('http:', 'https:')}/v1/events?type=span`, { ca: readFileSync(pem.cert), agent: false });
    t.teardown(() => req.destroy());
    const res = await new Promise<import('node:http').IncomingMessage>((r) => req.on('response', r));
    t.equal(res.statusCode, 200);
    t.equal(res.httpVersion, '1.1');
    const p = new SseParser((m) => m.event === 'span' && names.push(JSON.parse(m.data).name));
    res.setEncoding('utf8');
    res.on('data', (d: string) => p.push(d));
    await f.exp.consume(spans([{ agent: 'a', name: 'x' }]));
    await waitFor(() => names.length === 1, 3000, 'event');
    t.same(names, ['x']);
  });
}
