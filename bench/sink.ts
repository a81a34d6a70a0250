// The benchmark's backend: an OTLP/gRPC trace server that counts the spans it receives at wire
// level (ResourceSpans → ScopeSpans → Span, no decode) and acks with an empty response.
// Started by otlp-throughput.ts; reports { port } when listening and answers `stats`.
import * as grpc from '@grpc/grpc-js';
import { serve } from './lib/ipc.js';
import { countSpans } from './lib/wire.js';

const PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';
const EMPTY = Buffer.alloc(0);
const raw = (b: Buffer) => b;

export interface SinkStats {
  requests: number;
  spans: number;
  bytes: number;
  malformed: number;
}

const stats: SinkStats = { requests: 0, spans: 0, bytes: 0, malformed: 0 };

const server = new grpc.Server({ 'grpc.max_receive_message_length': 64 * 1024 * 1024 });
server.addService(
  { Export: { path: PATH, requestStream: false, responseStream: false, requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw } },
  {
    Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      stats.requests++;
      stats.bytes += call.request.length;
      try {
        stats.spans += countSpans(call.request);
      } catch (err) {
        stats.malformed++;
        return cb({ code: grpc.status.INVALID_ARGUMENT, details: String(err) });
      }
      cb(null, EMPTY);
    },
  },
);
server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  serve({ stats: () => ({ ...stats }) }, { port });
});
