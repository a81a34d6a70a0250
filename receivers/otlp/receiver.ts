import type { CreateSettings, Receiver } from '../../src/component.js';
import type { Consumer } from '../../src/consumer.js';
import { SIGNALS, type Signal } from '../../src/pdata/telemetry.js';
import { BearerAuth } from './auth.js';
import { GrpcServer, type GrpcConfig } from './grpc.js';
import { HttpServer, type HttpConfig } from './http.js';
import { InflightBytes } from './inflight.js';
import { Ingest } from './ingest.js';
import { memoryAccounting } from '../../src/memory.js';
import type { BoundCounter } from '../../src/telemetry/metrics.js';

export interface OtlpReceiverConfig {
  protocols: { grpc?: Partial<GrpcConfig> | null; http?: Partial<HttpConfig> | null };
  auth?: { bearer_tokens?: string[]; bearer_tokens_file?: string };
  /** Request bytes held at once across both protocols (bytes). */
  max_inflight_bytes: number;
  /** What one client (remote address) may hold of it (bytes; default a quarter). */
  max_inflight_bytes_per_client?: number;
  /** A request whose body makes no progress for this long is cut (ms). */
  read_stall_timeout?: number;
}

const MiB = 1024 * 1024;
const DEFAULT_INFLIGHT = 64 * MiB;
const DEFAULT_STALL_MS = 10_000;

export class OtlpReceiver implements Receiver {
  private readonly servers: Array<GrpcServer | HttpServer> = [];
  private unregister: (() => void) | undefined;

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
    const limit = this.cfg.max_inflight_bytes ?? DEFAULT_INFLIGHT;
    // A client's share is at least its largest request (gRPC framing included), or that request
    // could never be taken.
    const largest = Math.max(protocols.grpc?.max_recv_msg_size ?? 4 * MiB, protocols.http?.max_request_body_size ?? 4 * MiB) + 5;
    const inflight = new InflightBytes(limit, this.cfg.max_inflight_bytes_per_client || Math.max(Math.ceil(limit / 4), largest));
    const stallMs = this.cfg.read_stall_timeout ?? DEFAULT_STALL_MS;
    this.set.metrics.gauge('receiver_inflight_bytes', 'Bytes of requests the receiver holds: being read, decoded or waiting for the pipeline.', () => inflight.bytes);
    this.unregister = memoryAccounting.register('receiver', this.set.id, () => inflight.bytes);
    if ('grpc' in protocols) {
      const g = protocols.grpc ?? {};
      const cfg: GrpcConfig = { endpoint: g.endpoint ?? '127.0.0.1:4317', max_recv_msg_size: g.max_recv_msg_size ?? 4 * MiB, tls: g.tls, keepalive: g.keepalive };
      const refusals = new Map<string, BoundCounter>();
      const refused = (what: 'connection' | 'stream', code: string) => {
        const key = `${what} ${code}`;
        let c = refusals.get(key);
        if (!c) refusals.set(key, (c = this.set.metrics.counter('receiver_http2_refused', 'HTTP/2 connections ended with GOAWAY for a protocol error or abuse, and requests refused as malformed (RST_STREAM), by HTTP/2 error code.', { what, code })));
        c.inc();
      };
      this.servers.push(new GrpcServer(cfg, this.ingest('grpc'), auth, log, inflight, refused, stallMs));
    }
    if ('http' in protocols) {
      const h = protocols.http ?? {};
      const cfg: HttpConfig = { endpoint: h.endpoint ?? '127.0.0.1:4318', max_request_body_size: h.max_request_body_size ?? 4 * MiB, tls: h.tls };
      this.servers.push(new HttpServer(cfg, this.ingest('http'), auth, log, inflight, stallMs));
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
    this.unregister?.();
    this.unregister = undefined;
    this.set.metrics.dispose();
  }
}
