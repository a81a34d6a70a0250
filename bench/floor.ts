// The floor: the cheapest OTLP/gRPC trace endpoint grpc-js allows. It acks every Export with an
// empty response without looking at the bytes, so the load generator's traffic against it shows
// what gRPC transport alone costs on this machine. --http2 serves the same on bare node:http2,
// --net on the HTTP/2 server fleetcol's receiver uses (receivers/otlp/h2.ts).
// Started by otlp-throughput.ts; reports { port } when listening and answers `stats`.
import http2 from 'node:http2';
import net, { type AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { serve } from './lib/ipc.js';
import { H2Connection, type H2Handler, type H2Stream } from '../receivers/otlp/h2.js';
import { encodeHeaderBlock } from '../receivers/otlp/hpack.js';

const PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';
const EMPTY = Buffer.alloc(0);
const raw = (b: Buffer) => b;

let requests = 0;
let bytes = 0;

// Same limits as fleetcol's OTLP/gRPC receiver (4 MiB in, 4 MiB out).
if (process.argv.includes('--http2')) {
  // The same endpoint on node:http2 alone, gRPC framing written by hand: what HTTP/2 itself costs.
  const h2 = http2.createServer({ settings: { initialWindowSize: 1 << 20 } });
  const emptyMessage = Buffer.from([0, 0, 0, 0, 0]);
  h2.on('stream', (stream) => {
    let n = 0;
    stream.on('data', (c: Buffer) => (n += c.length));
    stream.on('end', () => {
      requests++;
      bytes += Math.max(0, n - 5);
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(emptyMessage);
    });
  });
  h2.listen(0, '127.0.0.1', () => serve({ stats: () => ({ requests, bytes }) }, { port: (h2.address() as AddressInfo).port }));
} else if (process.argv.includes('--net')) {
  // The same endpoint on the HTTP/2 server fleetcol's OTLP/gRPC receiver uses (receivers/otlp/h2.ts).
  const emptyMessage = Buffer.from([0, 0, 0, 0, 0]);
  const okHeaders = encodeHeaderBlock([[':status', '200'], ['content-type', 'application/grpc']]);
  const okTrailers = encodeHeaderBlock([['grpc-status', '0']]);
  // One handler object for every request (see H2Handler in h2.ts), bytes counted per stream.
  const sizes = new Map<H2Stream, number>();
  const handler: H2Handler = {
    data: (s, c) => void sizes.set(s, (sizes.get(s) ?? 0) + c.length),
    end: (s) => {
      requests++;
      bytes += Math.max(0, (sizes.get(s) ?? 0) - 5);
      s.respond(okHeaders, emptyMessage, okTrailers);
    },
    close: (s) => void sizes.delete(s),
  };
  const server = net.createServer((socket) => {
    new H2Connection(socket, { maxConcurrentStreams: 1000, handshakeTimeoutMs: 20_000 }, (stream) => (stream.handler = handler), () => {});
  });
  server.listen(0, '127.0.0.1', () => serve({ stats: () => ({ requests, bytes }) }, { port: (server.address() as AddressInfo).port }));
} else {
const server = new grpc.Server({ 'grpc.max_receive_message_length': 4 * 1024 * 1024, 'grpc.max_send_message_length': 4 * 1024 * 1024 });
server.addService(
  { Export: { path: PATH, requestStream: false, responseStream: false, requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw } },
  {
    Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      requests++;
      bytes += call.request.length;
      cb(null, EMPTY);
    },
  },
);
server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  serve({ stats: () => ({ requests, bytes }) }, { port });
});
}
