// The OTLP/gRPC receiver hands an uncompressed request on as the DATA chunks it arrived in (views
// of the connection's socket reads, not joined). What a request keeps alive must stay close to what it
// is counted for: a chunk that is a small part of its read buffer is copied.
import t from 'tap';
import http2 from 'node:http2';
import { otlpReceiverFactory } from '../receivers/otlp/factory.js';
import { consumerOf } from '../src/consumer.js';
import { Telemetry, type ExportTraceServiceRequest } from '../src/pdata/telemetry.js';
import { freePort, settings } from './helper.js';
import { traces } from './data.js';

const PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

function framed(message: Uint8Array): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
}

const names = (tel: Telemetry) =>
  (tel.request() as ExportTraceServiceRequest).resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((s) => s.name)));

t.test('interleaved large and small requests: kept as chunks, none retaining much more than itself', async (t) => {
  const port = await freePort();
  const got: Telemetry[] = [];
  const rcv = otlpReceiverFactory.createReceiver!(
    settings('receiver', 'otlp'),
    { protocols: { grpc: { endpoint: `127.0.0.1:${port}` } }, max_inflight_bytes: 64 << 20 },
    { traces: consumerOf(async (b) => void got.push(b)) },
  );
  await rcv.start({ extension: () => undefined });
  const session = http2.connect(`http://127.0.0.1:${port}`);
  t.teardown(async () => {
    session.close();
    await rcv.shutdown();
  });

  const big = traces(800);
  const small = Array.from({ length: 12 }, () => traces(1));
  const sent = [big, ...small];
  // All streams open at once, so their DATA frames share the receiver's socket reads.
  const answers = sent.map((tel) => {
    const stream = session.request({ ':method': 'POST', ':path': PATH, 'content-type': 'application/grpc', te: 'trailers' });
    const status = new Promise<string>((resolve, reject) => {
      stream.on('trailers', (h) => resolve(String(h['grpc-status'])));
      stream.on('error', reject);
    });
    stream.resume();
    stream.end(framed(tel.toProto()));
    return status;
  });
  t.same(await Promise.all(answers), sent.map(() => '0'), 'every request answered OK');
  t.equal(got.length, sent.length, 'every request reached the pipeline');

  const byCount = new Map(got.map((b) => [b.itemCount, b]));
  const bigGot = byCount.get(800)!;
  t.ok(bigGot.protoParts().length > 1, `the large request is held as its chunks (${bigGot.protoParts().length}), not joined`);
  t.same(names(bigGot), names(big), 'its spans arrive intact, in order');
  for (const b of got) {
    for (const part of b.protoParts()) {
      if (part.buffer.byteLength > 16 * part.length) t.fail(`a ${part.length}-byte part keeps a ${part.buffer.byteLength}-byte buffer alive`);
    }
  }
  const smallNames = got.filter((b) => b.itemCount === 1).flatMap(names).sort();
  t.same(smallNames, small.flatMap(names).sort(), 'the small requests arrive intact');
});
