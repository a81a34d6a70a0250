import t from 'tap';
import { join } from 'node:path';
import { formatProblems, loadConfig, type ConfigProblem } from '../src/config/load.js';
import { fixture, registry } from './fixtures/config/fakes.js';

const only = (ps: ConfigProblem[], path: string): ConfigProblem => {
  const found = ps.filter((p) => p.path === path);
  if (found.length !== 1) throw new Error(`expected one problem at ${path}, got: ${formatProblems(ps)}`);
  return found[0]!;
};

t.test('a valid config: defaults applied, durations and sizes converted', async (t) => {
  const file = fixture('valid.yaml');
  const r = loadConfig({ files: [file], registry, env: {} });
  t.same(r.errors, []);
  t.same(r.warnings, []);
  const c = r.config!;
  t.ok(c);
  t.same(c.sources, [file]);
  const otlp = c.receivers.get('otlp')!;
  t.match(otlp, { id: 'otlp', type: 'otlp', name: undefined, kind: 'receiver' });
  t.equal(otlp.factory.type, 'otlp');
  t.same(otlp.config, { protocols: { grpc: { endpoint: '0.0.0.0:4317' }, http: { endpoint: '127.0.0.1:4318' } } }, 'user value wins, sibling default kept');
  t.same(c.receivers.get('a2a')!.config, { endpoint: '127.0.0.1:4320' }, 'empty value = defaults');
  t.same(c.processors.get('batch')!.config, { timeout: 1500, send_batch_size: 8192, send_batch_max_size: 4 * 1024 * 1024 });
  t.same(c.processors.get('memory_limiter')!.config, { check_interval: 1000, limit: 512 * 1024 * 1024, spike: 64 * 1024 * 1024 }, 'numeric factory default kept, schema default converted');
  const backup = c.exporters.get('otlp/backup')!;
  t.match(backup, { id: 'otlp/backup', type: 'otlp', name: 'backup', kind: 'exporter' });
  t.same(backup.config, { timeout: 5000, tls: { insecure: false }, endpoint: 'backup:4317', retry_on_failure: { max_elapsed_time: 0 } });
  t.same(c.extensions.get('health_check')!.config, { endpoint: '127.0.0.1:13133' });
  t.same([...c.exporters.keys()], ['debug', 'otlp/backup', 'tempo'], 'ids in file order');
  t.same(c.service.extensions, ['health_check']);
  t.equal(c.service.shutdownTimeoutMs, 10_000);
  t.same(c.service.telemetry, { logs: { level: 'debug', encoding: 'auto' }, metrics: { level: 'normal', address: '127.0.0.1:8888' }, traces: undefined });
  t.same(c.service.pipelines, [
    { id: 'traces', signal: 'traces', receivers: ['otlp'], processors: ['memory_limiter', 'batch'], exporters: ['tempo', 'otlp/backup'] },
    { id: 'logs/agents', signal: 'logs', receivers: ['otlp', 'a2a'], processors: ['batch'], exporters: ['debug'] },
  ]);
  // The factory's default object is not shared with (or changed by) a resolved config.
  t.same(registry.get('processor', 'batch')!.createDefaultConfig(), { timeout: '200ms', send_batch_size: 8192 });
});

t.test('YAML syntax errors: all of them, with positions', async (t) => {
  const file = fixture('syntax.yaml');
  const r = loadConfig({ files: [file], registry, env: {} });
  t.equal(r.config, undefined);
  t.same(r.errors.map((e) => [e.code, e.location]), [
    ['FLEETCOL_CONFIG_YAML', `${file}:4:1`],
    ['FLEETCOL_CONFIG_YAML', `${file}:6:1`],
    ['FLEETCOL_CONFIG_YAML', `${file}:7:1`],
  ]);
  t.match(r.errors[0]!.message, /Flow sequence .* end with a \]/);
  t.match(r.errors[2]!.message, /Missing closing "quote/);
  t.notMatch(formatProblems(r.errors), /\n.*\n.*\n/, 'one line per problem');
});

t.test('a cascade of unexpected tokens is reported once', async (t) => {
  const dir = t.testdir({ 'c.yaml': 'exporters:\n  otlp:\n    tls: { insecure: ${env:X} }\n    endpoint: x\nservice: {}\n' });
  const r = loadConfig({ files: [join(dir, 'c.yaml')], registry, env: {} });
  t.equal(r.errors.length, 1);
  t.equal(r.errors[0]!.location, `${join(dir, 'c.yaml')}:3:23`);
  t.match(r.errors[0]!.message, /more unexpected tokens after it/);
});

t.test('several errors in one file, all reported, sorted, each with path and line:col', async (t) => {
  const file = fixture('errors.yaml');
  const r = loadConfig({ files: [file], registry, env: {} });
  t.equal(r.config, undefined);
  t.same(r.errors.map((e) => [e.location, e.path]), [
    [`${file}:5:19`, 'receivers.otlp.protocols.grpc.endpoint'],
    [`${file}:6:9`, 'receivers.otlp.protocols.grpc.endpiont'],
    [`${file}:7:3`, 'receivers.otlp/2'],
    [`${file}:10:14`, 'processors.batch.timeout'],
    [`${file}:11:26`, 'processors.batch.send_batch_max_size'],
    [`${file}:13:3`, 'exporters.tempoo'],
    [`${file}:17:7`, 'exporters.sse.auth.jwt'],
    [`${file}:20:1`, 'wat'],
    [`${file}:24:25`, 'service.pipelines.traces.receivers[1]'],
  ]);
  t.same(r.warnings.map((e) => [e.location, e.path, e.code]), [
    [`${file}:9:3`, 'processors.batch', 'FLEETCOL_CONFIG_UNUSED'],
    [`${file}:13:3`, 'exporters.tempoo', 'FLEETCOL_CONFIG_UNUSED'],
  ]);

  t.test('wrong type of a value: at the value', async (t) => {
    t.same(only(r.errors, 'receivers.otlp.protocols.grpc.endpoint'), {
      code: 'FLEETCOL_CONFIG_INVALID', path: 'receivers.otlp.protocols.grpc.endpoint', location: `${file}:5:19`, message: 'must be string, got 4317',
    });
  });
  t.test('unknown key inside a component: at the key', async (t) => {
    t.same(only(r.errors, 'receivers.otlp.protocols.grpc.endpiont'), {
      code: 'FLEETCOL_CONFIG_UNKNOWN_KEY', path: 'receivers.otlp.protocols.grpc.endpiont', location: `${file}:6:9`, message: 'unknown key "endpiont" (valid: endpoint)',
    });
  });
  t.test('bad duration and bad size: at the value', async (t) => {
    t.same(only(r.errors, 'processors.batch.timeout'), {
      code: 'FLEETCOL_CONFIG_BAD_DURATION', path: 'processors.batch.timeout', location: `${file}:10:14`, message: 'invalid duration "5 parsecs" (use e.g. 200ms, 5s, 1m)',
    });
    const size = only(r.errors, 'processors.batch.send_batch_max_size');
    t.equal(size.code, 'FLEETCOL_CONFIG_BAD_SIZE');
    t.equal(size.location, `${file}:11:26`);
    t.match(size.message, /^invalid size "12 bananas" \(use e\.g\. 512MiB/);
  });
  t.test('unknown component type lists the valid types', async (t) => {
    t.same(only(r.errors, 'exporters.tempoo'), {
      code: 'FLEETCOL_CONFIG_UNKNOWN_TYPE', path: 'exporters.tempoo', location: `${file}:13:3`, message: 'unknown exporter type "tempoo" (valid: debug, otlp, prometheus, sse, tempo)',
    });
  });
  t.test('missing required key: at the key of its parent', async (t) => {
    t.same(only(r.errors, 'exporters.sse.auth.jwt'), {
      code: 'FLEETCOL_CONFIG_INVALID', path: 'exporters.sse.auth.jwt', location: `${file}:17:7`, message: "must have required property 'secret'",
    });
  });
  t.test('unknown top-level key', async (t) => {
    t.same(only(r.errors, 'wat'), {
      code: 'FLEETCOL_CONFIG_UNKNOWN_KEY', path: 'wat', location: `${file}:20:1`, message: 'unknown top-level key "wat" (valid: connectors, exporters, extensions, processors, receivers, service)',
    });
  });
  t.test('formatProblems: one line each, location, path, message', async (t) => {
    const lines = formatProblems(r.errors).split('\n');
    t.equal(lines.length, r.errors.length);
    t.equal(lines[6], `${file}:17:7 exporters.sse.auth.jwt: must have required property 'secret'`);
  });
});

t.test('odd shapes: connectors, bad ids, non-map values, numbers for durations', async (t) => {
  const dir = t.testdir({
    'c.yaml': [
      'connectors:', //                  1
      '  forward:', //                   2
      'receivers:', //                   3
      '  otlp/:', //                     4
      '  a2a: [1]', //                   5
      'processors:', //                  6
      '  batch:', //                     7
      '    timeout: 5', //               8
      '  memory_limiter:', //            9
      '    check_interval: 0', //        10
      '    limit: 1048576', //           11
      'exporters:', //                   12
      '  debug:', //                     13
      '    verbosity: [a]', //           14
      'service:', //                     15
      '  shutdown_timeout: soon', //     16
      '  telemetry:', //                 17
      '    metrics: { address: nope, level: loud }', // 18
      '    colour: blue', //             19
      '  pipelines:', //                 20
      '    traces:', //                  21
      '      receivers: [otlp/]', //     22
      '      processors: [batch, memory_limiter]', // 23
      '      exporters: [debug]', //     24
    ].join('\n'),
  });
  const file = join(dir, 'c.yaml');
  const r = loadConfig({ files: [file], registry, env: {} });
  t.same(r.errors.map((e) => `${e.location?.slice(file.length)} ${e.code} ${e.path}: ${e.message}`), [
    ':2:3 FLEETCOL_CONFIG_UNUSED connectors.forward: connector "forward" is not listed under exporters of any pipeline: a connector is an exporter in one pipeline and a receiver in another',
    ':4:3 FLEETCOL_CONFIG_BAD_ID receivers.otlp/: invalid receiver id "otlp/" (use type or type/name; a name is letters, digits, "_", "." or "-")',
    ':5:3 FLEETCOL_CONFIG_UNUSED receivers.a2a: receiver "a2a" serves no pipeline',
    ':5:8 FLEETCOL_CONFIG_NOT_A_MAP receivers.a2a: must be a map of settings (or empty for the defaults)',
    ':8:14 FLEETCOL_CONFIG_BAD_DURATION processors.batch.timeout: invalid duration 5 (use e.g. 200ms, 5s, 1m)',
    ':14:16 FLEETCOL_CONFIG_INVALID exporters.debug.verbosity: must be one of "basic", "normal", "detailed", got a list',
    ':16:21 FLEETCOL_CONFIG_BAD_DURATION service.shutdown_timeout: invalid duration "soon" (use e.g. 200ms, 5s, 1m)',
    ':18:25 FLEETCOL_CONFIG_INVALID service.telemetry.metrics.address: must match pattern "^(\\[[^\\]]+\\]|[^:\\s]*):\\d{1,5}$", got "nope"',
    ':18:38 FLEETCOL_CONFIG_INVALID service.telemetry.metrics.level: must be one of "none", "basic", "normal", "detailed", got "loud"',
    ':19:5 FLEETCOL_CONFIG_UNKNOWN_KEY service.telemetry.colour: unknown key "colour" (valid: logs, metrics, traces)',
  ]);
  t.equal(r.warnings.length, 0, 'memory_limiter took 0 and a plain byte count');
});

t.test('missing file, no files', async (t) => {
  const r = loadConfig({ files: ['/nonexistent/fleetcol.yaml'], registry, env: {} });
  t.same(r.errors, [{ code: 'FLEETCOL_CONFIG_READ', path: '', location: '/nonexistent/fleetcol.yaml', message: 'cannot read config file: no such file' }]);
  const none = loadConfig({ files: [], registry, env: {} });
  t.equal(none.errors[0]!.code, 'FLEETCOL_CONFIG_NO_FILES');
});

t.test('a schema that does not compile is reported, not thrown', async (t) => {
  const { Registry } = await import('../src/registry.js');
  const broken = new Registry([{ kind: 'exporter', type: 'broken', description: '', schema: { type: 'object', properties: { a: { type: 'nonsense' } } }, createDefaultConfig: () => ({}) }]);
  const r = loadConfig({ files: [], sets: ['exporters.broken.a=1'], registry: broken, env: {} });
  const p = only(r.errors, 'exporters.broken');
  t.equal(p.code, 'FLEETCOL_CONFIG_BAD_SCHEMA');
  t.equal(p.location, '--set exporters.broken.a');
});
