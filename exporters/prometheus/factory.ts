import type { Factory } from '../../src/component.js';
import { PrometheusExporter, type PrometheusExporterConfig } from './exporter.js';

export const prometheusExporterFactory: Factory<PrometheusExporterConfig> = {
  type: 'prometheus',
  kind: 'exporter',
  description: 'Prometheus pull: GET /metrics in the text format 0.0.4, or OpenMetrics 1.0 with exemplars; series held cumulative (delta accumulated), expired after metric_expiration.',
  signals: ['metrics'],
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      endpoint: { type: 'string', 'x-endpoint': true, minLength: 1, description: 'host:port to serve /metrics on. The default listens on every interface (as the collector\'s prometheus exporter does); use 127.0.0.1:8889 for loopback only.' },
      namespace: { type: 'string', description: 'Prefix of every metric name (`<namespace>_<name>`).' },
      const_labels: { type: 'object', additionalProperties: { type: 'string' }, description: 'Labels added to every series (a series\' own label of the same name wins).' },
      add_metric_suffixes: { type: 'boolean', description: 'Unit and type suffixes: `_seconds`, `_bytes`, `_ratio`, `_total`.' },
      metric_expiration: { type: ['string', 'number'], 'x-duration': true, description: 'A series no point updated for this long is no longer shown, and forgotten.' },
      resource_to_telemetry_conversion: {
        type: 'object',
        additionalProperties: false,
        properties: { enabled: { type: 'boolean', description: 'Every resource attribute as a label of every series; false: they go to one `target_info` series per resource (with its job and instance).' } },
      },
      send_timestamps: { type: 'boolean', description: 'Each sample with the time of its last point (otherwise Prometheus stamps the scrape time).' },
      enable_open_metrics: { type: 'boolean', description: 'Answer OpenMetrics 1.0 (with exemplars: trace_id, span_id) to scrapers that ask for it (`Accept: application/openmetrics-text`).' },
      worker_thread: { type: 'boolean', description: 'Hold the series and answer scrapes on a worker thread of the exporter\'s own, with its own young generation: scrapes do not wait behind the pipeline, nor the pipeline behind scrapes. false: both on the main event loop, in 5-ms slices.' },
      max_series: { type: 'integer', minimum: 1, description: 'Series held at most; points of further new series are refused, counted (fleetcol_exporter_prometheus_overflow_series_total) and logged at most once a minute.' },
    },
  },
  createDefaultConfig: () => ({
    endpoint: '0.0.0.0:8889',
    namespace: '',
    const_labels: {},
    add_metric_suffixes: true,
    metric_expiration: '5m',
    resource_to_telemetry_conversion: { enabled: false },
    send_timestamps: false,
    enable_open_metrics: false,
    max_series: 100000,
    worker_thread: true,
  }) as unknown as PrometheusExporterConfig,
  createExporter: (set, cfg) => new PrometheusExporter(set, cfg),
};
