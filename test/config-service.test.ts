import t from 'tap';
import { join } from 'node:path';
import { loadConfig } from '../src/config/load.js';
import { fixture, registry } from './fixtures/config/fakes.js';

t.test('pipeline graph errors, each at the offending list item or key', async (t) => {
  const file = fixture('graph.yaml');
  const r = loadConfig({ files: [file], registry, env: {} });
  t.equal(r.config, undefined);
  t.same(r.errors, [
    { code: 'FLEETCOL_CONFIG_UNDEFINED_COMPONENT', path: 'service.extensions[1]', location: `${file}:16:30`, message: 'extension "zpages" is not defined (defined extensions: health_check, file_storage)' },
    { code: 'FLEETCOL_CONFIG_UNKNOWN_SIGNAL', path: 'service.pipelines.spans', location: `${file}:18:5`, message: 'unknown signal "spans" (valid: traces, metrics, logs)' },
    { code: 'FLEETCOL_CONFIG_DUPLICATE', path: 'service.pipelines.logs.processors[1]', location: `${file}:23:27`, message: 'processor "batch" is listed more than once' },
    { code: 'FLEETCOL_CONFIG_UNSUPPORTED_SIGNAL', path: 'service.pipelines.logs.exporters[0]', location: `${file}:24:19`, message: 'exporter "prometheus" does not support signal logs (it supports: metrics)' },
    { code: 'FLEETCOL_CONFIG_UNSUPPORTED_SIGNAL', path: 'service.pipelines.metrics.receivers[0]', location: `${file}:26:19`, message: 'receiver "a2a" does not support signal metrics (it supports: logs)' },
    { code: 'FLEETCOL_CONFIG_UNSUPPORTED_SIGNAL', path: 'service.pipelines.metrics.exporters[0]', location: `${file}:27:19`, message: 'exporter "tempo" does not support signal metrics (it supports: traces)' },
    { code: 'FLEETCOL_CONFIG_UNDEFINED_COMPONENT', path: 'service.pipelines.metrics.exporters[1]', location: `${file}:27:26`, message: 'exporter "batch" is not defined (defined exporters: debug, prometheus, tempo); "batch" is defined under processors' },
    { code: 'FLEETCOL_CONFIG_PIPELINE_INCOMPLETE', path: 'service.pipelines.traces/x', location: `${file}:28:5`, message: 'pipeline "traces/x" must have at least one receiver' },
  ]);
  t.same(r.warnings, [
    { code: 'FLEETCOL_CONFIG_UNUSED', path: 'extensions.file_storage', location: `${file}:13:3`, message: 'extension "file_storage" is not enabled in service.extensions' },
  ]);
});

t.test('a receiver in no pipeline is an error; an idle exporter or processor a warning', async (t) => {
  const dir = t.testdir({
    'c.yaml': 'receivers:\n  otlp:\n  otlp/2:\nprocessors:\n  batch:\nexporters:\n  debug:\n  tempo:\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [debug]\n',
  });
  const file = join(dir, 'c.yaml');
  const r = loadConfig({ files: [file], registry, env: {} });
  t.same(r.errors, [{ code: 'FLEETCOL_CONFIG_UNUSED', path: 'receivers.otlp/2', location: `${file}:3:3`, message: 'receiver "otlp/2" serves no pipeline' }]);
  t.same(r.warnings.map((w) => [w.path, w.location, w.message]), [
    ['processors.batch', `${file}:5:3`, 'processor "batch" is not used in any pipeline'],
    ['exporters.tempo', `${file}:8:3`, 'exporter "tempo" is not used in any pipeline'],
  ]);
});

t.test('no service, no pipelines, empty pipeline lists, unknown service keys', async (t) => {
  const dir = t.testdir({
    'none.yaml': 'receivers:\n  otlp:\n',
    'empty.yaml': 'receivers:\n  otlp:\nservice:\n  extensions:\n  pipelines:\n  wat: 1\n',
    'lists.yaml': 'receivers:\n  otlp:\nexporters:\n  debug:\nservice:\n  pipelines:\n    logs:\n      receivers: []\n      exporters: debug\n      procesors: [x]\n',
  });
  const none = loadConfig({ files: [join(dir, 'none.yaml')], registry, env: {} });
  t.same(none.errors, [{ code: 'FLEETCOL_CONFIG_NO_SERVICE', path: 'service', location: `${join(dir, 'none.yaml')}:1:1`, message: 'no service section: define service.pipelines' }]);

  const empty = loadConfig({ files: [join(dir, 'empty.yaml')], registry, env: {} });
  t.same(empty.errors.map((e) => [e.code, e.path, e.location!.slice(dir.length)]), [
    ['FLEETCOL_CONFIG_NO_PIPELINES', 'service.pipelines', '/empty.yaml:5:3'],
    ['FLEETCOL_CONFIG_UNKNOWN_KEY', 'service.wat', '/empty.yaml:6:3'],
  ]);

  const lists = loadConfig({ files: [join(dir, 'lists.yaml')], registry, env: {} });
  t.same(lists.errors.map((e) => [e.code, e.path, e.location!.slice(dir.length), e.message]), [
    ['FLEETCOL_CONFIG_UNUSED', 'receivers.otlp', '/lists.yaml:2:3', 'receiver "otlp" serves no pipeline'],
    ['FLEETCOL_CONFIG_PIPELINE_INCOMPLETE', 'service.pipelines.logs', '/lists.yaml:8:7', 'pipeline "logs" must have at least one receiver'],
    ['FLEETCOL_CONFIG_INVALID', 'service.pipelines.logs.exporters', '/lists.yaml:9:18', 'must be a list of exporter ids'],
    ['FLEETCOL_CONFIG_UNKNOWN_KEY', 'service.pipelines.logs.procesors', '/lists.yaml:10:7', 'unknown key "procesors" (valid: exporters, processors, receivers)'],
  ]);
});
