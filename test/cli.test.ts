// The command line: validate, components, exit codes, SIGTERM drain, SIGHUP reload.
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { OtlpGrpcClient, freePort, runCli, startDaemon, startSink, tempFile, waitFor, metricValue } from './helper.js';
import { traceBytes } from './data.js';

t.test('validate: a good config exits 0', async (t) => {
  const r = await runCli(['validate', '--config', 'config/fleetcol.yaml']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /configuration is valid: traces, metrics, logs/);
  const side = await runCli(['validate', '--config', 'config/sidecar-tempo.yaml'], { OTLP_TOKEN: 'x' });
  t.equal(side.code, 0, side.stderr);
  const prw = await runCli(['validate', '--config', 'config/prometheus-remote-write.yaml']);
  t.equal(prw.code, 0, prw.stderr);
  t.match(prw.stdout, /configuration is valid: metrics, traces/);
});

t.test('validate: every problem listed with path and file:line:col, exit 2', async (t) => {
  const file = tempFile('bad.yaml', `receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:4317
        max_recv_msg_size: lots
exporters:
  tempoo:
    endpoint: x:4317
  debug:
    verbosity: loud
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [debug, otlp/missing]
`);
  const r = await runCli(['validate', '--config', file]);
  t.equal(r.code, 2);
  t.match(r.stderr, /bad\.yaml:6:28 receivers\.otlp\.protocols\.grpc\.max_recv_msg_size/, 'bad size, with line:col');
  t.match(r.stderr, /bad\.yaml:8:3 exporters\.tempoo: unknown exporter type "tempoo" \(valid: [^)]*debug[^)]*otlp[^)]*tempo/, 'unknown type lists the valid ones');
  t.match(r.stderr, /bad\.yaml:11:16 exporters\.debug\.verbosity/, 'bad enum value');
  t.match(r.stderr, /bad\.yaml:16:\d+ service\.pipelines\.traces\.exporters/, 'undefined component in a pipeline');
  t.match(r.stderr, /otlp\/missing/);
});

t.test('run with an invalid config: exit 2 and the problems on stderr', async (t) => {
  const file = tempFile('bad.yaml', 'receivers: {}\nservice: { pipelines: { spans: { receivers: [otlp], exporters: [debug] } } }\n');
  const r = await runCli(['--config', file]);
  t.equal(r.code, 2);
  t.match(r.stderr, /invalid configuration/);
  t.match(r.stderr, /spans/);
});

t.test('usage errors exit 2', async (t) => {
  t.equal((await runCli(['frobnicate'])).code, 2);
  t.equal((await runCli([])).code, 2, 'no --config');
  t.equal((await runCli(['--bogus'])).code, 2);
});

t.test('components lists every factory with its schema', async (t) => {
  const r = await runCli(['components', '--json']);
  t.equal(r.code, 0);
  const out = JSON.parse(r.stdout) as Record<string, Array<{ type: string; schema: object }>>;
  t.ok(out.receivers!.some((c) => c.type === 'otlp'));
  t.ok(out.processors!.some((c) => c.type === 'batch'));
  for (const type of ['otlp', 'tempo', 'debug']) t.ok(out.exporters!.some((c) => c.type === type), type);
  t.ok(out.exporters!.every((c) => typeof c.schema === 'object'));
});

t.test('a port already in use: exit 1 with the reason', async (t) => {
  const sink = await startSink();
  t.teardown(() => sink.close());
  const file = tempFile('c.yaml', `receivers:
  otlp: { protocols: { grpc: { endpoint: 127.0.0.1:${sink.port} } } }
exporters: { debug: {} }
service:
  pipelines: { traces: { receivers: [otlp], exporters: [debug] } }
  telemetry: { metrics: { address: 127.0.0.1:${await freePort()} } }
`);
  const r = await runCli(['--config', file]);
  t.equal(r.code, 1);
  t.match(r.stdout + r.stderr, /failed to start/);
});

t.test('SIGHUP reloads; an invalid new config keeps the old one; SIGTERM drains and exits 0', async (t) => {
  const sink = await startSink();
  const port = await freePort();
  const metricsPort = await freePort();
  const yaml = (exporter: string) => `receivers:
  otlp: { protocols: { grpc: { endpoint: 127.0.0.1:${port} } } }
processors:
  batch: { timeout: 5s, send_batch_size: 100000 }
exporters:
  otlp: { endpoint: ${sink.endpoint}, tls: { insecure: true } }
  debug: {}
service:
  pipelines: { traces: { receivers: [otlp], processors: [batch], exporters: [${exporter}] } }
  telemetry: { metrics: { address: 127.0.0.1:${metricsPort} } }
`;
  const daemon = await startDaemon(yaml('debug'));
  const file = daemon.proc.spawnargs[daemon.proc.spawnargs.indexOf('--config') + 1]!;
  t.teardown(async () => {
    await daemon.stop('SIGKILL');
    await sink.close();
  });
  const client = new OtlpGrpcClient(port);
  t.teardown(() => client.close());
  const send = async (n: number) => (await client.export('traces', traceBytes(n))).err ?? null;

  writeFileSync(file, readFileSync(file, 'utf8').replace('exporters: [debug]', 'exporters: [nope]'));
  daemon.proc.kill('SIGHUP');
  await waitFor(() => /new config is invalid; keeping the running one/.test(daemon.output()), 10_000, 'reload refused');
  t.equal(await send(1), null, 'still serving on the old config');

  writeFileSync(file, yaml('otlp'));
  daemon.proc.kill('SIGHUP');
  await waitFor(() => /config reloaded/.test(daemon.output()), 10_000, 'reloaded');
  await waitFor(async () => (await fetch(`http://127.0.0.1:${metricsPort}/readyz`)).status === 200, 10_000, 'ready again');
  t.equal(await send(25), null, 'accepted on the new config');
  // The batch processor holds these 25 spans (5s timeout): SIGTERM must flush them to the sink.
  t.equal(sink.items('traces'), 0);
  t.equal(await daemon.stop('SIGTERM'), 0, 'clean stop exits 0');
  t.equal(sink.items('traces'), 25, 'batched spans were drained to the backend on stop');
});

t.test('/healthz, /readyz and /metrics', async (t) => {
  const port = await freePort();
  const daemon = await startDaemon(`receivers:
  otlp: { protocols: { grpc: { endpoint: 127.0.0.1:${port} } } }
exporters: { debug: {} }
service:
  pipelines: { traces: { receivers: [otlp], exporters: [debug] } }
`);
  t.teardown(() => daemon.stop());
  const base = `http://127.0.0.1:${daemon.metricsPort}`;
  t.equal((await fetch(`${base}/healthz`)).status, 200);
  t.equal((await fetch(`${base}/readyz`)).status, 200);
  const m = await daemon.metrics();
  t.match(m, /# TYPE fleetcol_receiver_accepted_spans_total counter/);
  t.equal(metricValue(m, 'fleetcol_receiver_accepted_spans', 'receiver="otlp"'), 0);
});
