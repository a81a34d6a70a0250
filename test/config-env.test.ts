import t from 'tap';
import { join } from 'node:path';
import { loadConfig } from '../src/config/load.js';
import { fixture, registry } from './fixtures/config/fakes.js';

t.test('env substitution: typed whole scalars, embedded, defaults, $$, unset -> warning', async (t) => {
  const file = fixture('env.yaml');
  const env = { A2A_PORT: '4320', HOST: 'box', INSECURE: 'true', STORE: '123', SECRET: 's3cret', NOT: 'never used' };
  const r = loadConfig({ files: [file], registry, env });
  t.same(r.errors, []);
  t.same(r.warnings, [
    { code: 'FLEETCOL_CONFIG_ENV_UNSET', path: 'exporters.sse.auth.jwt.audience', location: `${file}:17:19`, message: 'environment variable UNSET_VAR is not set; using ""' },
  ]);
  const c = r.config!;
  t.same(c.receivers.get('a2a')!.config, { endpoint: 'host-box:${env:NOT}', port: 4320 }, 'whole plain scalar typed; $$ is a literal $');
  const otlp = c.exporters.get('otlp')!.config;
  t.equal(otlp.endpoint, 'localhost:4317', 'default used when unset');
  t.equal(otlp.tls.insecure, true, 'a boolean from the environment');
  t.equal(otlp.sending_queue.storage, '123', 'a quoted reference stays a string');
  t.equal(otlp.sending_queue.queue_size, 100, 'a default is typed too');
  t.same(c.exporters.get('sse')!.config.auth, { jwt: { secret: 's3cret', audience: 'ab' } });
});

t.test('env: set-but-empty is kept (defaults are for unset only); an empty whole scalar is null', async (t) => {
  const r = loadConfig({
    files: [],
    sets: ['exporters.otlp.endpoint=${env:EP:-x:1}', 'exporters.tempo.endpoint=${env:T}', 'receivers.otlp=', 'service.pipelines.traces.receivers=[otlp]', 'service.pipelines.traces.exporters=[otlp,tempo]'],
    registry,
    env: { EP: '' },
  });
  t.same(r.errors.map((e) => [e.path, e.location, e.message]), [
    ['exporters.otlp.endpoint', '--set exporters.otlp.endpoint', 'must be string, got null'],
    ['exporters.tempo.endpoint', '--set exporters.tempo.endpoint', 'must be string, got null'],
  ]);
  t.same(r.warnings.map((w) => [w.code, w.location]), [['FLEETCOL_CONFIG_ENV_UNSET', '--set exporters.tempo.endpoint']]);
  const ok = loadConfig({ files: [], sets: ['receivers.otlp.protocols.grpc.endpoint=${env:G:-g:1}', 'exporters.debug=', 'service.pipelines.traces.receivers=[otlp]', 'service.pipelines.traces.exporters=[debug]'], registry, env: { G: 'host:9' } });
  t.same(ok.errors, []);
  t.equal(ok.config!.receivers.get('otlp')!.config.protocols.grpc.endpoint, 'host:9');
  t.same(ok.config!.exporters.get('debug')!.config, { verbosity: 'basic' }, 'an empty --set value means the defaults');
});

t.test('malformed ${...} is an error at the value', async (t) => {
  const file = fixture('env-bad.yaml');
  const r = loadConfig({ files: [file], registry, env: { A: 'a' } });
  t.same(r.errors.filter((e) => e.code === 'FLEETCOL_CONFIG_ENV_SYNTAX').map((e) => [e.path, e.location, e.message]), [
    ['receivers.a2a.endpoint', `${file}:3:15`, 'invalid reference "${HOME}" (use ${env:NAME} or ${env:NAME:-default}; $$ for a literal $)'],
    ['exporters.otlp.endpoint', `${file}:6:15`, 'unterminated "${" in "x${env:OK" (write $$ for a literal $)'],
    ['exporters.tempo.endpoint', `${file}:8:15`, 'invalid reference "${env:A:-${env:B}" (nested references are not supported)'],
  ]);
});

t.test('two files merged: maps deep-merged, later wins, lists replaced, errors point into the right file', async (t) => {
  const base = fixture('base.yaml');
  const over = fixture('override.yaml');
  const r = loadConfig({ files: [base, over], registry, env: {} });
  t.same(r.errors, [
    { code: 'FLEETCOL_CONFIG_INVALID', path: 'exporters.otlp.sending_queue.queue_size', location: `${base}:13:19`, message: 'must be >= 1, got 0' },
    { code: 'FLEETCOL_CONFIG_INVALID', path: 'exporters.debug.verbosity', location: `${over}:5:16`, message: 'must be one of "basic", "normal", "detailed", got "loud"' },
  ]);
  t.same(r.warnings.map((w) => [w.path, w.location]), [['exporters.debug', `${over}:4:3`]], 'the exporter list was replaced, not appended to');
});

t.test('--set overrides files (value parsed as YAML) and its problems point at the --set', async (t) => {
  const base = fixture('base.yaml');
  const over = fixture('override.yaml');
  const sets = [
    'exporters.debug.verbosity=detailed',
    'exporters.otlp.sending_queue.queue_size=500',
    'service.pipelines.traces.exporters=[otlp, debug]',
    'exporters.otlp.tls.insecure=true',
    'service.telemetry.metrics.address=0.0.0.0:9999',
  ];
  const r = loadConfig({ files: [base, over], sets, registry, env: {} });
  t.same(r.errors, []);
  t.same(r.warnings, []);
  const c = r.config!;
  t.same(c.sources, [base, over]);
  t.same(c.exporters.get('otlp')!.config, { timeout: 10_000, tls: { insecure: true }, endpoint: 'b:4317', sending_queue: { queue_size: 500 } });
  t.same(c.exporters.get('debug')!.config, { verbosity: 'detailed' });
  t.same(c.service.pipelines[0]!.exporters, ['otlp', 'debug']);
  t.equal(c.service.telemetry.metrics.address, '0.0.0.0:9999');

  const bad = loadConfig({ files: [base], sets: ['exporters.otlp.timeout=forever', 'exporters.otlp.sending_queue.queue_size=1', 'nonsense', 'a..b=1'], registry, env: {} });
  t.same(bad.errors, [
    { code: 'FLEETCOL_CONFIG_BAD_SET', path: '', location: '--set nonsense', message: 'invalid --set "nonsense" (use --set key.path=value)' },
    { code: 'FLEETCOL_CONFIG_BAD_SET', path: '', location: '--set a..b', message: 'invalid --set "a..b=1" (use --set key.path=value)' },
  ], 'a malformed --set stops before validation');

  const dur = loadConfig({ files: [base], sets: ['exporters.otlp.timeout=forever', 'exporters.otlp.sending_queue.queue_size=1'], registry, env: {} });
  t.same(dur.errors, [
    { code: 'FLEETCOL_CONFIG_BAD_DURATION', path: 'exporters.otlp.timeout', location: '--set exporters.otlp.timeout', message: 'invalid duration "forever" (use e.g. 200ms, 5s, 1m)' },
  ]);
});

t.test('YAML anchors, aliases and merge keys keep positions', async (t) => {
  const dir = t.testdir({
    'c.yaml': 'x-common: &ep\n  endpoint: a:1\n  bogus: 1\nexporters:\n  otlp:\n    <<: *ep\n    endpoint: b:2\nreceivers:\n  otlp:\nservice:\n  pipelines:\n    traces: { receivers: [otlp], exporters: [otlp] }\n',
  });
  const file = join(dir, 'c.yaml');
  const r = loadConfig({ files: [file], registry, env: {} });
  t.same(r.errors.map((e) => [e.path, e.location]), [
    ['x-common', `${file}:1:1`],
    ['exporters.otlp.bogus', `${file}:3:3`],
  ]);
});
