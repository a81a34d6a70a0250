import type { Factory } from '../../src/component.js';
import { defaultHelperSettings, helperSchemaProperties } from '../../src/exporterhelper/config.js';
import { createRemoteWriteExporter, type RemoteWriteExporterConfig } from './exporter.js';

function defaultConfig() {
  const helper = defaultHelperSettings();
  return {
    endpoint: '',
    headers: {},
    namespace: '',
    external_labels: {},
    add_metric_suffixes: true,
    resource_to_telemetry_conversion: { enabled: false },
    target_info: { enabled: true },
    max_batch_size_bytes: '3MB',
    tls: {},
    ...helper,
    // One sender: Prometheus refuses a sample older than the newest of its series (out of order),
    // so two batches of one series must not race each other.
    sending_queue: { ...helper.sending_queue, num_consumers: 1 },
  };
}

export const remoteWriteExporterFactory: Factory<RemoteWriteExporterConfig> = {
  type: 'prometheusremotewrite',
  kind: 'exporter',
  description: 'Prometheus remote write 1.0 (Prometheus, Mimir, Thanos, VictoriaMetrics): snappy protobuf, translated on the worker pool.',
  signals: ['metrics'],
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['endpoint'],
    properties: {
      endpoint: { type: 'string', pattern: '^https?://', description: 'Remote-write URL, e.g. http://127.0.0.1:9090/api/v1/write (Prometheus started with --web.enable-remote-write-receiver).' },
      headers: { type: 'object', additionalProperties: { type: 'string' }, description: 'Sent with every request (e.g. Authorization, X-Scope-OrgID).' },
      namespace: { type: 'string', description: 'Prefix of every metric name.' },
      external_labels: { type: 'object', additionalProperties: { type: 'string' }, description: 'Labels added to every series.' },
      add_metric_suffixes: { type: 'boolean', description: 'Unit and type suffixes: `_seconds`, `_bytes`, `_ratio`, `_total` (default true).' },
      resource_to_telemetry_conversion: {
        type: 'object',
        additionalProperties: false,
        properties: { enabled: { type: 'boolean', description: 'Every resource attribute as a label of every series (default false: they go to target_info).' } },
      },
      target_info: {
        type: 'object',
        additionalProperties: false,
        properties: { enabled: { type: 'boolean', description: 'A target_info series per resource carrying its attributes (default true).' } },
      },
      max_batch_size_bytes: { type: ['string', 'number'], 'x-size': true, description: 'Uncompressed size of one remote-write request; a larger batch is sent as several (default 3MB).' },
      tls: {
        type: 'object',
        additionalProperties: false,
        properties: {
          insecure_skip_verify: { type: 'boolean', description: 'TLS without checking the server certificate.' },
          ca_file: { type: 'string' },
          cert_file: { type: 'string', description: 'Client certificate (mTLS).' },
          key_file: { type: 'string' },
          server_name_override: { type: 'string' },
        },
      },
      ...helperSchemaProperties,
    },
  },
  createDefaultConfig: () => defaultConfig() as unknown as RemoteWriteExporterConfig,
  createExporter: (set, cfg, signals) => createRemoteWriteExporter(set, cfg, signals),
};
