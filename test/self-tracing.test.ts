// service.telemetry.traces: fleetcol traces its own exports to an OTLP endpoint.
import t from 'tap';
import type { ExportTraceServiceRequest } from '../src/pdata/telemetry.js';
import { OtlpGrpcClient, freePort, startDaemon, startSink, waitFor } from './helper.js';
import { traceBytes } from './data.js';

t.test('one span per export, with the exporter id and item count', async (t) => {
  const data = await startSink();
  const self = await startSink();
  // Registered before the daemon starts: a daemon that fails to start must not leave the sinks
  // (grpc-js servers) keeping the test alive until tap's timeout.
  t.teardown(async () => {
    await data.close();
    await self.close();
  });
  const port = await freePort();
  const daemon = await startDaemon(`
receivers:
  otlp: { protocols: { grpc: { endpoint: 127.0.0.1:${port} } } }
exporters:
  otlp/data: { endpoint: ${data.endpoint}, tls: { insecure: true } }
service:
  pipelines:
    traces: { receivers: [otlp], exporters: [otlp/data] }
  telemetry:
    metrics: { address: 127.0.0.1:${await freePort()} }
    traces: { endpoint: ${self.endpoint}, insecure: true }
`);
  const client = new OtlpGrpcClient(port);
  t.teardown(async () => {
    client.close();
    await daemon.stop();
  });
  await client.export('traces', traceBytes(7));
  await waitFor(() => data.items('traces') === 7, 10_000, 'data delivered');
  t.equal(await daemon.stop(), 0);
  const spans = self.received.traces.flatMap((b) => (b.request() as ExportTraceServiceRequest).resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans)));
  const span = spans.find((s) => s.name === 'export otlp/data');
  t.ok(span, `an export span arrived (got: ${spans.map((s) => s.name).join(', ')})`);
  const attr = (k: string) => span?.attributes.find((a) => a.key === k)?.value;
  t.equal(attr('fleetcol.items')?.intValue, 7n);
  t.equal(attr('fleetcol.signal')?.stringValue, 'traces');
});
