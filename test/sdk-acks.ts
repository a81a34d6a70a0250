// The OpenTelemetry JS SDK as a client whose acknowledgements are counted, and an OTLP/gRPC
// backend that records every span id it is sent: what "nothing accepted is lost" is checked with
// (durability-kill, memory-limiter-flood).
import * as grpc from '@grpc/grpc-js';
import { DiagLogLevel, diag } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { BatchSpanProcessor, TracerProvider, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { Telemetry, type ExportTraceServiceRequest } from '../src/pdata/telemetry.js';
import { sleep } from './helper.js';

// Acknowledged spans: a wrapper around the SDK's OTLP exporter records, per export call, the span
// ids and how the call ended. Only SUCCESS counts, and not a SUCCESS that carried an OTLP partial
// success (some spans rejected; which ones is not said, so none of that call counts).

/** The SDK reports a partial success only through diag.warn, synchronously right before it calls
 *  the export's result callback; the wrapper's callback picks the note up in that same tick. */
let partialNote: string | undefined;
diag.setLogger(
  {
    error: () => {},
    warn: (msg: string, ...args: unknown[]) => {
      if (msg.startsWith('Received Partial Success')) partialNote = args.map(String).join(' ');
    },
    info: () => {},
    debug: () => {},
    verbose: () => {},
  },
  DiagLogLevel.WARN,
);

export class Acks {
  /** span id -> number of the export call that acknowledged it */
  readonly acked = new Map<string, number>();
  /** every span id handed to an exporter */
  readonly offered = new Set<string>();
  calls = 0;
  ok = 0;
  failed = 0;
  partial = 0;
  pending = 0;
  /** error message -> count, for the report */
  readonly errors = new Map<string, number>();
  /** export call number -> when it was acknowledged (Date.now()) */
  readonly okAt = new Map<number, number>();
  /** export call number -> when it was handed to the exporter (Date.now()) */
  readonly startAt = new Map<number, number>();
  /** per sender (transport): export calls, OK calls, acknowledged spans */
  readonly bySender = new Map<string, { calls: number; ok: number; spans: number }>();
  private idleWaiters: Array<() => void> = [];

  wrap(sender: string, inner: SpanExporter): SpanExporter {
    this.bySender.set(sender, { calls: 0, ok: 0, spans: 0 });
    return new AckingExporter(sender, inner, this);
  }

  /** Resolves as soon as no export call is in flight. */
  idle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  settle(sender: string, call: number, ids: string[], r: ExportResult, partial: string | undefined): void {
    this.pending--;
    if (r.code === ExportResultCode.SUCCESS && partial === undefined) {
      this.ok++;
      const s = this.bySender.get(sender);
      if (s) {
        s.ok++;
        s.spans += ids.length;
      }
      this.okAt.set(call, Date.now());
      for (const id of ids) this.acked.set(id, call);
    } else if (r.code === ExportResultCode.SUCCESS) {
      this.partial++;
      this.count(`partial success: ${partial}`);
    } else {
      this.failed++;
      this.count(r.error?.message ?? 'failed');
    }
    if (this.pending === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  private count(msg: string): void {
    const key = msg.replace(/\d+/g, 'N').slice(0, 80);
    this.errors.set(key, (this.errors.get(key) ?? 0) + 1);
  }

  senderSummary(): string {
    return [...this.bySender].map(([name, s]) => `${name}: ${s.ok}/${s.calls} calls OK, ${s.spans} spans acknowledged`).join('; ');
  }

  errorSummary(): string {
    return [...this.errors].map(([m, n]) => `${n}x ${m}`).join('; ') || 'none';
  }
}

class AckingExporter implements SpanExporter {
  constructor(
    private readonly sender: string,
    private readonly inner: SpanExporter,
    private readonly acks: Acks,
  ) {}

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    const ids = spans.map((s) => s.spanContext().spanId);
    for (const id of ids) this.acks.offered.add(id);
    const call = ++this.acks.calls;
    this.acks.startAt.set(call, Date.now());
    const stats = this.acks.bySender.get(this.sender);
    if (stats) stats.calls++;
    this.acks.pending++;
    let done = false;
    this.inner.export(spans, (r) => {
      const partial = partialNote;
      partialNote = undefined;
      if (!done) {
        done = true;
        this.acks.settle(this.sender, call, ids, r, partial);
      }
      resultCallback(r);
    });
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}

export interface SdkPipeline {
  provider: TracerProvider;
  emit(n: number): void;
  shutdown(): Promise<void>;
}

export interface SdkPipelineOptions {
  maxQueueSize: number;
  maxExportBatchSize: number;
  scheduledDelayMillis: number;
  /** bytes of a `payload` string attribute on every span (default: none) */
  payloadBytes?: number;
}

export function sdkPipeline(name: string, exporter: SpanExporter, opts: SdkPipelineOptions): SdkPipeline {
  const { payloadBytes, ...batching } = opts;
  const processor = new BatchSpanProcessor({ exporter, exportTimeoutMillis: 20_000, ...batching });
  const payload = payloadBytes ? 'x'.repeat(payloadBytes) : undefined;
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': `sdk-${name}` }),
    spanProcessors: [processor],
  });
  const tracer = provider.getTracer('sdk-acks', '1.0.0');
  let seq = 0;
  let down = false;
  return {
    provider,
    emit(n: number) {
      for (let i = 0; i < n; i++) {
        const s = tracer.startSpan(`op-${seq}`, { attributes: { 'durability.seq': seq, 'durability.sender': name } });
        if (payload !== undefined) s.setAttribute('payload', payload);
        seq++;
        s.end();
      }
    },
    async shutdown() {
      if (down) return;
      down = true;
      await bounded(provider.shutdown(), 15_000, `${name} provider shutdown`).catch(() => {});
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The backend: an OTLP/gRPC trace endpoint on a fixed port that records every span id it is sent
// (decoded with fleetcol's own pdata), and can be stopped abruptly (forceShutdown: connections
// and calls in flight are cut, like a crashed backend) and started again on the same port.

const TRACE_EXPORT = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';
const raw = (b: Buffer): Buffer => b;
const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

export class Backend {
  /** span id -> times it arrived */
  readonly arrivals = new Map<string, number>();
  spans = 0;
  requests = 0;
  lastArrival = 0;
  starts = 0;
  private server: grpc.Server | undefined;

  constructor(readonly port: number) {}

  get isUp(): boolean {
    return this.server !== undefined;
  }

  async up(): Promise<void> {
    if (this.server) return;
    for (let attempt = 0; ; attempt++) {
      const server = new grpc.Server();
      server.addService(
        { Export: { path: TRACE_EXPORT, requestStream: false, responseStream: false, requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw } },
        {
          Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
            let ids: string[];
            try {
              ids = spanIds(Telemetry.fromProto('traces', new Uint8Array(call.request)));
            } catch (err) {
              cb({ code: grpc.status.INVALID_ARGUMENT, details: (err as Error).message });
              return;
            }
            this.requests++;
            this.spans += ids.length;
            this.lastArrival = Date.now();
            for (const id of ids) this.arrivals.set(id, (this.arrivals.get(id) ?? 0) + 1);
            cb(null, Buffer.alloc(0));
          },
        },
      );
      try {
        await new Promise<number>((resolve, reject) =>
          server.bindAsync(`127.0.0.1:${this.port}`, grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
        );
        this.server = server;
        this.starts++;
        return;
      } catch (err) {
        server.forceShutdown();
        if (attempt >= 20) throw err; // the port did not come free in 2 s
        await sleep(100);
      }
    }
  }

  down(): void {
    this.server?.forceShutdown();
    this.server = undefined;
  }

  duplicates(): number {
    let d = 0;
    for (const n of this.arrivals.values()) d += n - 1;
    return d;
  }

  /** A few span ids that arrived more than once, with their counts. */
  duplicateSample(max = 5): string {
    const out: string[] = [];
    for (const [id, n] of this.arrivals) {
      if (n < 2) continue;
      out.push(`${id} x${n}`);
      if (out.length >= max) break;
    }
    return out.join(', ');
  }
}

export function spanIds(b: Telemetry): string[] {
  const ids: string[] = [];
  const req = b.request() as ExportTraceServiceRequest;
  for (const rs of req.resourceSpans) for (const ss of rs.scopeSpans) for (const s of ss.spans) ids.push(hex(s.spanId));
  return ids;
}

export function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms))),
  ]);
}
