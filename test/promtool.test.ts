// fleetcol's own /metrics, after traffic has created its labelled series, passes Prometheus'
// `promtool check metrics` (exposition format and naming lint).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { freePort, metricValue, OtlpGrpcClient, startDaemon, startSink, waitFor } from './helper.js';
import { sdkTraces } from './pdata-sdk-fixtures.js';

const PROMTOOL = '/usr/bin/promtool';

if (!existsSync(PROMTOOL)) {
  if (process.env.CI) t.fail(`${PROMTOOL} is missing under CI=true, where nothing may skip (apt-get install -y prometheus)`);
  else t.comment(`SKIP: ${PROMTOOL} is missing, so /metrics cannot be linted (apt-get install -y prometheus)`);
} else {
  t.test('/metrics passes promtool check metrics', async (t) => {
    const sink = await startSink();
    t.teardown(() => sink.close());
    const grpcPort = await freePort();
    const daemon = await startDaemon(`
receivers:
  otlp:
    protocols:
      grpc: { endpoint: 127.0.0.1:${grpcPort} }
processors:
  batch: { timeout: 50ms }
exporters:
  otlp: { endpoint: ${sink.endpoint}, tls: { insecure: true } }
service:
  pipelines:
    traces: { receivers: [otlp], processors: [batch], exporters: [otlp] }
`);
    t.teardown(() => daemon.stop());
    const client = new OtlpGrpcClient(grpcPort);
    t.teardown(() => client.close());
    const { err } = await client.export('traces', Buffer.from((await sdkTraces()).proto));
    t.equal(err, undefined, 'traces accepted');
    const text = await waitFor(async () => {
      const m = await daemon.metrics();
      return metricValue(m, 'fleetcol_exporter_sent_spans', 'exporter="otlp"') > 0 ? m : undefined;
    }, 10_000, 'spans sent');
    const r = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8' });
    t.equal(r.status, 0, `promtool check metrics: ${r.stdout}${r.stderr}`);
  });
}
