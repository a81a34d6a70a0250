// fleetcol's own traces (service.telemetry.traces): one span per export call, sent over OTLP/gRPC
// by the OpenTelemetry Node SDK. Loaded only when configured, so a daemon without it pays nothing
// at startup; without it the API's tracer is a no-op.
import type { Logger } from 'pino';
import type { TelemetryConfig } from '../config/load.js';

export interface SelfTracing {
  shutdown(): Promise<void>;
}

export async function startSelfTracing(cfg: TelemetryConfig['traces'], logger: Logger): Promise<SelfTracing | undefined> {
  if (!cfg?.endpoint) return undefined;
  const [{ NodeSDK }, { OTLPTraceExporter }, grpc] = await Promise.all([
    import('@opentelemetry/sdk-node'),
    import('@opentelemetry/exporter-trace-otlp-grpc'),
    import('@grpc/grpc-js'),
  ]);
  const url = /^[a-z]+:\/\//i.test(cfg.endpoint) ? cfg.endpoint : `${cfg.insecure ? 'http' : 'https'}://${cfg.endpoint}`;
  const exporter = new OTLPTraceExporter({
    url,
    ...(cfg.insecure ? { credentials: grpc.credentials.createInsecure() } : {}),
  });
  const sdk = new NodeSDK({
    serviceName: 'fleetcol',
    traceExporter: exporter,
    instrumentations: [],
    autoDetectResources: false,
    textMapPropagator: null,
  });
  sdk.start();
  logger.info({ endpoint: url }, 'self-tracing on');
  return { shutdown: () => sdk.shutdown() };
}
