import type { CreateSettings, Receiver } from '../../src/component.js';
import type { Consumer } from '../../src/consumer.js';
import { SIGNALS, type Signal } from '../../src/pdata/telemetry.js';
import { BearerAuth } from './auth.js';
import { GrpcServer, type GrpcConfig } from './grpc.js';
import { HttpServer, type HttpConfig } from './http.js';
import { Ingest } from './ingest.js';

export interface OtlpReceiverConfig {
  protocols: { grpc?: Partial<GrpcConfig> | null; http?: Partial<HttpConfig> | null };
  auth?: { bearer_tokens?: string[]; bearer_tokens_file?: string };
}

const MiB = 1024 * 1024;

export class OtlpReceiver implements Receiver {
  private readonly servers: Array<GrpcServer | HttpServer> = [];

  constructor(
    private readonly set: CreateSettings,
    private readonly cfg: OtlpReceiverConfig,
    private readonly next: Partial<Record<Signal, Consumer>>,
  ) {}

  private ingest(transport: string): Record<Signal, Ingest> {
    const r = {} as Record<Signal, Ingest>;
    for (const s of SIGNALS) r[s] = new Ingest(this.set, s, this.next[s], transport);
    return r;
  }

  async start(): Promise<void> {
    const { protocols } = this.cfg;
    if (!('grpc' in protocols) && !('http' in protocols)) {
      throw new Error('otlp receiver: enable at least one of protocols.grpc, protocols.http');
    }
    const auth = await BearerAuth.load(this.cfg.auth);
    const log = this.set.logger;
    if ('grpc' in protocols) {
      const g = protocols.grpc ?? {};
      const cfg: GrpcConfig = { endpoint: g.endpoint ?? '127.0.0.1:4317', max_recv_msg_size: g.max_recv_msg_size ?? 4 * MiB, tls: g.tls };
      this.servers.push(new GrpcServer(cfg, this.ingest('grpc'), auth, log));
    }
    if ('http' in protocols) {
      const h = protocols.http ?? {};
      const cfg: HttpConfig = { endpoint: h.endpoint ?? '127.0.0.1:4318', max_request_body_size: h.max_request_body_size ?? 4 * MiB, tls: h.tls };
      this.servers.push(new HttpServer(cfg, this.ingest('http'), auth, log));
    }
    try {
      for (const s of this.servers) await s.start();
    } catch (err) {
      await this.shutdown();
      throw err;
    }
  }

  async shutdown(): Promise<void> {
    await Promise.all(this.servers.splice(0).map((s) => s.shutdown()));
    this.set.metrics.dispose();
  }
}
