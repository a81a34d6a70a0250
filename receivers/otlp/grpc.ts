import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { DecodeError, Telemetry, type Signal } from '../../src/pdata/telemetry.js';
import { encodeExportResponse, encodeStatusWithRetryInfo } from '../../src/pdata/rpc.js';
import type { BearerAuth } from './auth.js';
import type { Ingest } from './ingest.js';

export interface GrpcConfig {
  endpoint: string;
  max_recv_msg_size: number;
  tls?: { cert_file: string; key_file: string; client_ca_file?: string };
}

const SERVICE: Record<Signal, string> = {
  traces: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
  metrics: '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export',
  logs: '/opentelemetry.proto.collector.logs.v1.LogsService/Export',
};

const EMPTY = Buffer.alloc(0);
// grpc-js hands us the raw message bytes; decoding is ours (lazily, see src/pdata).
const passthrough = (b: Buffer) => b;

export class GrpcServer {
  private server: grpc.Server | undefined;

  constructor(
    private readonly cfg: GrpcConfig,
    private readonly ingest: Record<Signal, Ingest>,
    private readonly auth: BearerAuth | undefined,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    const server = new grpc.Server({
      'grpc.max_receive_message_length': this.cfg.max_recv_msg_size,
      'grpc.max_send_message_length': 4 * 1024 * 1024,
    });
    for (const signal of Object.keys(SERVICE) as Signal[]) {
      const ingest = this.ingest[signal];
      if (!ingest.enabled) continue; // unregistered methods answer UNIMPLEMENTED
      const def: grpc.ServiceDefinition = {
        Export: {
          path: SERVICE[signal],
          requestStream: false,
          responseStream: false,
          requestSerialize: passthrough,
          requestDeserialize: passthrough,
          responseSerialize: passthrough,
          responseDeserialize: passthrough,
        },
      };
      server.addService(def, { Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => this.handle(signal, call, cb) });
    }
    const creds = this.cfg.tls
      ? grpc.ServerCredentials.createSsl(
          this.cfg.tls.client_ca_file ? readFileSync(this.cfg.tls.client_ca_file) : null,
          [{ cert_chain: readFileSync(this.cfg.tls.cert_file), private_key: readFileSync(this.cfg.tls.key_file) }],
          this.cfg.tls.client_ca_file !== undefined,
        )
      : grpc.ServerCredentials.createInsecure();
    const address = this.cfg.endpoint.replace(/^localhost:/, '127.0.0.1:');
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(address, creds, (err) => (err ? reject(new Error(`grpc listen on ${address}: ${err.message}`)) : resolve())),
    );
    this.server = server;
    this.logger.info({ endpoint: address, tls: !!this.cfg.tls }, 'OTLP/gRPC receiver listening');
  }

  private handle(signal: Signal, call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>): void {
    if (this.auth) {
      const v = call.metadata.get('authorization')[0];
      const problem = this.auth.check(typeof v === 'string' ? v : undefined);
      if (problem) return cb({ code: grpc.status.UNAUTHENTICATED, details: problem });
    }
    let batch: Telemetry;
    try {
      batch = Telemetry.fromProto(signal, call.request);
    } catch (err) {
      const msg = err instanceof DecodeError ? err.message : String(err);
      return cb({ code: grpc.status.INVALID_ARGUMENT, details: `malformed ${signal} request: ${msg}` });
    }
    this.ingest[signal].push(batch).then((o) => {
      switch (o.kind) {
        case 'ok':
          return cb(null, o.rejected > 0 ? Buffer.from(encodeExportResponse(o.rejected, o.message)) : EMPTY);
        case 'invalid':
          return cb({ code: grpc.status.INVALID_ARGUMENT, details: o.message });
        case 'unimplemented':
          return cb({ code: grpc.status.UNIMPLEMENTED, details: o.message });
        case 'retry': {
          const md = new grpc.Metadata();
          md.set('grpc-status-details-bin', Buffer.from(encodeStatusWithRetryInfo(grpc.status.UNAVAILABLE, o.message, o.retryAfterMs)));
          return cb({ code: grpc.status.UNAVAILABLE, details: o.message, metadata: md });
        }
      }
    });
  }

  async shutdown(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    // Let in-flight calls finish, but not forever.
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        s.forceShutdown();
        resolve();
      }, 5000);
      s.tryShutdown(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}
