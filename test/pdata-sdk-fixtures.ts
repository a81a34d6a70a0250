// Requests produced by the official OpenTelemetry JS SDK and its OTLP serializers, for pdata tests.
import { SeverityNumber, SpanKind, SpanStatusCode, trace, context, ValueType } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { AggregationType, MeterProvider, MetricReader, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import {
  JsonLogsSerializer, JsonMetricsSerializer, JsonTraceSerializer,
  ProtobufLogsSerializer, ProtobufMetricsSerializer, ProtobufTraceSerializer,
} from '@opentelemetry/otlp-transformer';

const resource = resourceFromAttributes({
  'service.name': 'sdk-fixture',
  'service.version': '1.2.3',
  'host.cores': 8,
  'deployment.ratio': 0.25,
  'feature.enabled': true,
});

export interface SdkPayload { proto: Uint8Array; json: string }

export async function sdkTraces(): Promise<SdkPayload> {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ resource, spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const tracer = provider.getTracer('fixture-tracer', '0.1.0', { schemaUrl: 'https://opentelemetry.io/schemas/1.24.0' });
  const other = provider.getTracer('second-scope');
  tracer.startActiveSpan('root', { kind: SpanKind.SERVER, attributes: { 'http.method': 'GET', 'http.status_code': 200 } }, (root) => {
    const ctx = trace.setSpan(context.active(), root);
    for (let i = 0; i < 3; i++) {
      const child = tracer.startSpan(`child-${i}`, {
        kind: SpanKind.CLIENT,
        attributes: {
          'n': i, 'ratio': i + 0.5, 'ok': i % 2 === 0, 'tags': ['a', 'b'], 'nums': [1, 2, 3],
          'unicode': 'héllo ✓ 🚀', 'big': 2 ** 40,
        },
        links: [{ context: root.spanContext(), attributes: { 'link.n': i } }],
      }, ctx);
      child.addEvent('started', { 'event.seq': i });
      child.addEvent('bare');
      if (i === 1) child.setStatus({ code: SpanStatusCode.ERROR, message: 'boom' });
      if (i === 2) child.setStatus({ code: SpanStatusCode.OK });
      child.end();
    }
    root.end();
  });
  other.startSpan('lonely', { kind: SpanKind.PRODUCER }).end();
  await provider.forceFlush();
  const spans = exporter.getFinishedSpans();
  return {
    proto: ProtobufTraceSerializer.serializeRequest(spans)!,
    json: new TextDecoder().decode(JsonTraceSerializer.serializeRequest(spans)!),
  };
}

class CollectingReader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

/** One metric of each kind the SDK makes: sum (int, monotonic), up-down sum (double), gauge,
 *  explicit histogram, exponential histogram. Returns the data-point count too. */
export async function sdkMetrics(): Promise<SdkPayload & { points: number }> {
  const reader = new CollectingReader();
  const provider = new MeterProvider({
    resource,
    readers: [reader],
    views: [{ instrumentName: 'latency.exp', aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM } }],
  });
  const meter = provider.getMeter('fixture-meter', '2.0.0');
  const counter = meter.createCounter('requests', { description: 'requests served', unit: '{request}', valueType: ValueType.INT });
  counter.add(3, { route: '/a' });
  counter.add(4, { route: '/b' });
  const updown = meter.createUpDownCounter('queue.depth', { valueType: ValueType.DOUBLE });
  updown.add(2.5);
  updown.add(-1.25);
  const gauge = meter.createGauge('temperature', { unit: 'Cel' });
  gauge.record(21.5, { room: 'a' });
  gauge.record(-3, { room: 'b' });
  gauge.record(19, { room: 'c' });
  const hist = meter.createHistogram('latency', { unit: 'ms' });
  for (const v of [1, 7, 30, 120, 5000]) hist.record(v, { op: 'x' });
  const exp = meter.createHistogram('latency.exp', { unit: 's' });
  for (const v of [0, 0.001, 0.5, 2, 2, 64, -0]) exp.record(v);
  exp.record(3, { op: 'y' });
  const { resourceMetrics } = await reader.collect();
  const points = countPoints(resourceMetrics);
  return {
    proto: ProtobufMetricsSerializer.serializeRequest(resourceMetrics)!,
    json: new TextDecoder().decode(JsonMetricsSerializer.serializeRequest(resourceMetrics)!),
    points,
  };
}

function countPoints(rm: ResourceMetrics): number {
  let n = 0;
  for (const sm of rm.scopeMetrics) for (const m of sm.metrics) n += m.dataPoints.length;
  return n;
}

export async function sdkLogs(): Promise<SdkPayload> {
  const exporter = new InMemoryLogRecordExporter();
  const provider = new LoggerProvider({ resource, processors: [new SimpleLogRecordProcessor({ exporter })] });
  const logger = provider.getLogger('fixture-logger', '3.0.0');
  logger.emit({ body: 'plain message', severityNumber: SeverityNumber.INFO, severityText: 'INFO', attributes: { 'k': 'v', 'n': 7 } });
  logger.emit({ body: { nested: { deep: [1, 'two', true] }, bytes: new Uint8Array([0, 1, 254, 255]) }, severityNumber: SeverityNumber.ERROR2 });
  logger.emit({ body: 12.75, eventName: 'my.event', attributes: { 'list': ['x', 'y'] } });
  const tracer = new TracerProvider().getTracer('t');
  const span = tracer.startSpan('s');
  logger.emit({ body: 'inside span', context: trace.setSpan(context.active(), span) });
  span.end();
  logger.emit({});
  await provider.forceFlush();
  const records = exporter.getFinishedLogRecords();
  return {
    proto: ProtobufLogsSerializer.serializeRequest(records)!,
    json: new TextDecoder().decode(JsonLogsSerializer.serializeRequest(records)!),
  };
}
