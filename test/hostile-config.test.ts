// Hostile config (issue 18, items 1-2): YAML alias and merge-key bombs are refused quickly, by
// `validate` (exit 2) and by a SIGHUP reload (the running pipeline keeps serving).
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { MAX_NODES } from '../src/config/yaml.js';
import { OtlpGrpcClient, freePort, runCli, startDaemon, tempFile, waitFor } from './helper.js';
import { traceBytes } from './data.js';

/** Nine levels of nine aliases each: 9^9 (387 million) strings from a few hundred bytes. */
function aliasBomb(): string {
  const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i < 9; i++) {
    const c = String.fromCharCode(97 + i);
    const p = String.fromCharCode(96 + i);
    lines.push(`${c}: &${c} [${Array(9).fill(`*${p}`).join(',')}]`);
  }
  lines.push('receivers: *i');
  return lines.join('\n') + '\n';
}

/** The same with merge keys: each level merges the one below and holds it four more times. */
function mergeBomb(): string {
  const lines = ['m0: &m0 {x0: 1, x1: 1, x2: 1, x3: 1, x4: 1, x5: 1, x6: 1, x7: 1, x8: 1, x9: 1}'];
  for (let i = 1; i < 12; i++) lines.push(`m${i}: &m${i} { k1: *m${i - 1}, k2: *m${i - 1}, k3: *m${i - 1}, k4: *m${i - 1}, <<: *m${i - 1} }`);
  lines.push('processors: *m11');
  return lines.join('\n') + '\n';
}

for (const [name, text] of [['alias', aliasBomb()], ['merge-key', mergeBomb()]] as const) {
  t.test(`validate refuses a ${name} bomb (${text.length} bytes) with exit 2, at once`, async (t) => {
    const file = tempFile(`${name}-bomb.yaml`, text);
    const t0 = Date.now();
    const r = await runCli(['validate', '--config', file]);
    t.equal(r.code, 2);
    t.match(r.stderr + r.stdout, new RegExp(`${name}-bomb\\.yaml:\\d+:\\d+ the config expands to more than ${MAX_NODES} values`));
    t.ok(Date.now() - t0 < 20_000, `took ${Date.now() - t0} ms`);
  });
}

t.test('a bomb given to a running daemon by SIGHUP: refused, the pipeline keeps serving', async (t) => {
  const port = await freePort();
  const daemon = await startDaemon(`receivers:
  otlp: { protocols: { grpc: { endpoint: 127.0.0.1:${port} } } }
exporters:
  debug: {}
service:
  pipelines: { traces: { receivers: [otlp], exporters: [debug] } }
`);
  const file = daemon.proc.spawnargs[daemon.proc.spawnargs.indexOf('--config') + 1]!;
  const client = new OtlpGrpcClient(port);
  t.teardown(async () => {
    client.close();
    await daemon.stop('SIGKILL');
  });
  for (const bomb of [aliasBomb(), mergeBomb()]) {
    const before = (daemon.output().match(/keeping the running one/g) ?? []).length;
    writeFileSync(file, bomb);
    daemon.proc.kill('SIGHUP');
    await waitFor(() => (daemon.output().match(/keeping the running one/g) ?? []).length > before, 20_000, 'reload refused');
    const health = await fetch(`http://127.0.0.1:${daemon.metricsPort}/healthz`);
    t.equal(health.status, 200, '/healthz answers');
    t.equal((await client.export('traces', traceBytes(3))).err, undefined, 'OTLP still accepted on the running config');
  }
});

t.test('validate is linear in map size: 50,000 header keys in one map', async (t) => {
  const port = await freePort();
  const headers = Array.from({ length: 50_000 }, (_, i) => `      h${i}: v`).join('\n');
  const file = tempFile('wide.yaml', `receivers:
  otlp: { protocols: { grpc: { endpoint: 127.0.0.1:${port} } } }
exporters:
  otlp:
    endpoint: 127.0.0.1:4317
    headers:
${headers}
service:
  pipelines: { traces: { receivers: [otlp], exporters: [otlp] } }
`);
  const t0 = Date.now();
  const r = await runCli(['validate', '--config', file]);
  t.equal(r.code, 0, r.stderr);
  t.comment(`validate of a 50,000-key map: ${Date.now() - t0} ms`);
  const dup = tempFile('dup.yaml', 'receivers: {}\nreceivers: {}\n');
  const d = await runCli(['validate', '--config', dup]);
  t.equal(d.code, 2);
  t.match(d.stderr + d.stdout, /dup\.yaml:2:1 map keys must be unique \("receivers" is repeated\)/, 'a repeated key is still an error, with its place');
});

t.test('validate refuses endpoints that can never bind or connect, with path and place', async (t) => {
  const cases: Array<[string, string, RegExp]> = [
    ['port 99999', '127.0.0.1:99999', /port "99999" is not a number from 0 to 65535/],
    ['a 100,000-character host', `${'a'.repeat(100_000)}:4317`, /endpoint of 100005 characters/],
    ['an unexpanded ${env:X}', '$${env:X}:4317', /unexpanded \$\{\.\.\.\}/],
    ['a host with a space', 'my host:4317', /is not a host name or address/],
  ];
  for (const [what, endpoint, message] of cases) {
    const file = tempFile('endpoint.yaml', `receivers:
  otlp: { protocols: { grpc: { endpoint: "${endpoint}" } } }
exporters:
  debug: {}
service:
  pipelines: { traces: { receivers: [otlp], exporters: [debug] } }
`);
    const r = await runCli(['validate', '--config', file]);
    t.equal(r.code, 2, `${what}: exit 2`);
    t.match(r.stderr + r.stdout, /endpoint\.yaml:2:\d+ receivers\.otlp\.protocols\.grpc\.endpoint:/, `${what}: path and place`);
    t.match(r.stderr + r.stdout, message, what);
  }
  const addr = tempFile('telemetry.yaml', `receivers:
  otlp: { protocols: { grpc: {} } }
exporters:
  debug: {}
service:
  pipelines: { traces: { receivers: [otlp], exporters: [debug] } }
  telemetry: { metrics: { address: 127.0.0.1:70000 } }
`);
  t.equal((await runCli(['validate', '--config', addr])).code, 2, 'service.telemetry.metrics.address too');
});
