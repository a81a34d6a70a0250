// The benchmark's backend: an OTLP/gRPC trace server that counts the spans it receives at wire
// level (ResourceSpans → ScopeSpans → Span, no decode) and acks with an empty response.
// Started by otlp-throughput.ts, workers.ts and persistent-queue.ts; reports { port } when
// listening and answers `stats`.
//
// It is node:http2 with the gRPC framing written here, not grpc-js, for its flow-control windows:
// grpc-js serves with HTTP/2's 64 KiB default and no way to raise it, so an export call of a few
// MiB took ~50 window round trips, each one more write and wake-up for fleetcol's event loop. Go
// backends (Tempo, the Collector) grow their windows from measured bandwidth-delay up to 16 MiB;
// the sink starts there. With `--grpc-js` it is the grpc-js server (the 64 KiB window) instead.
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { serve } from './lib/ipc.js';
import { countSpans } from './lib/wire.js';

const PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';
const MAX_MESSAGE = 64 * 1024 * 1024;
const WINDOW = 16 * 1024 * 1024;
const EMPTY = Buffer.alloc(0);
const raw = (b: Buffer) => b;
const gunzipAsync = promisify(gunzip);

export interface SinkStats {
  requests: number;
  spans: number;
  bytes: number;
  malformed: number;
}

const stats: SinkStats = { requests: 0, spans: 0, bytes: 0, malformed: 0 };

/** Counts one Export request's spans; false if it is malformed. */
function count(message: Buffer): boolean {
  stats.requests++;
  stats.bytes += message.length;
  try {
    stats.spans += countSpans(message);
    return true;
  } catch {
    stats.malformed++;
    return false;
  }
}

if (process.argv.includes('--grpc-js')) {
  const server = new grpc.Server({ 'grpc.max_receive_message_length': MAX_MESSAGE });
  server.addService(
    { Export: { path: PATH, requestStream: false, responseStream: false, requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw } },
    {
      Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
        if (count(call.request)) cb(null, EMPTY);
        else cb({ code: grpc.status.INVALID_ARGUMENT, details: 'malformed ExportTraceServiceRequest' });
      },
    },
  );
  server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
    if (err) throw err;
    serve({ stats: () => ({ ...stats }) }, { port });
  });
} else {
  const EMPTY_MESSAGE = Buffer.from([0, 0, 0, 0, 0]); // uncompressed, length 0
  const h2 = http2.createServer({ settings: { initialWindowSize: WINDOW, maxFrameSize: 1 << 20 }, maxSessionMemory: 1024 });
  h2.on('session', (session) => session.once('connect', () => session.setLocalWindowSize(WINDOW)));
  h2.on('stream', (stream, headers) => {
    const finish = (status: number, message?: string) => {
      if (stream.closed || stream.destroyed) return;
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.once('wantTrailers', () => stream.sendTrailers(message === undefined ? { 'grpc-status': String(status) } : { 'grpc-status': String(status), 'grpc-message': encodeURIComponent(message) }));
      stream.end(status === 0 ? EMPTY_MESSAGE : undefined);
    };
    if (headers[':path'] !== PATH) {
      stream.resume();
      stream.on('end', () => finish(12, `unknown method ${headers[':path']}`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_MESSAGE + 5) chunks.push(c);
    });
    stream.on('end', () => {
      const body = Buffer.concat(chunks, Math.min(size, MAX_MESSAGE + 5));
      if (size > MAX_MESSAGE + 5) return finish(8, `message larger than ${MAX_MESSAGE} bytes`);
      if (body.length < 5 || body.readUInt32BE(1) !== body.length - 5) {
        stats.malformed++;
        return finish(13, 'bad gRPC message framing (one message per call)');
      }
      const message = body.subarray(5);
      if (body[0] === 0) return count(message) ? finish(0) : finish(3, 'malformed ExportTraceServiceRequest');
      if (headers['grpc-encoding'] !== 'gzip') return finish(12, `unsupported grpc-encoding ${String(headers['grpc-encoding'])}`);
      gunzipAsync(message).then(
        (plain) => (count(plain) ? finish(0) : finish(3, 'malformed ExportTraceServiceRequest')),
        (err: Error) => {
          stats.malformed++;
          finish(13, `gunzip: ${err.message}`);
        },
      );
    });
  });
  h2.listen(0, '127.0.0.1', () => serve({ stats: () => ({ ...stats }) }, { port: (h2.address() as AddressInfo).port }));
}
