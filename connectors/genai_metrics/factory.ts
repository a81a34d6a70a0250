import type { Factory } from '../../src/component.js';
import { GENAI_CONVENTIONS } from '../../src/vocab/index.js';
import { GenAIMetricsConnector, type GenAIMetricsConfig } from './connector.js';

export const genaiMetricsConnectorFactory: Factory<GenAIMetricsConfig> = {
  type: 'genai_metrics',
  kind: 'connector',
  description: `Metrics from spans, the RED method for agents: the GenAI conventions' gen_ai.client.token.usage and gen_ai.client.operation.duration histograms (${GENAI_CONVENTIONS.repository} ${GENAI_CONVENTIONS.version}; the draft's gen_ai.client.inference.* by option), calls, errors and cost in USD per agent, operation, model and tool, tool calls by tool and status, and duration histograms by span name and kind for other spans. Put the genai processor before it, so every framework's spans count.`,
  connects: [['traces', 'metrics']],
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      dimensions: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 256 }, maxItems: 16, description: 'Attributes (the span\'s, else its resource\'s) that label GenAI series, beyond gen_ai.operation.name, gen_ai.provider.name, gen_ai.request.model, gen_ai.agent.id and gen_ai.agent.name.' },
      max_series: { type: 'integer', minimum: 1, description: 'Series held at most; past it, data points go to one series per metric labelled otel_metric_overflow="true" (counted in fleetcol_connector_genai_metrics_overflow_total).' },
      metrics_flush_interval: { type: ['string', 'number'], 'x-duration': true, description: 'How often the metrics are sent on.' },
      metrics_expiration: { type: ['string', 'number'], 'x-duration': true, description: 'A series not updated for this long is forgotten (0: never).' },
      aggregation_temporality: { enum: ['AGGREGATION_TEMPORALITY_CUMULATIVE', 'AGGREGATION_TEMPORALITY_DELTA'], description: 'Cumulative (what Prometheus expects) or delta.' },
      exemplars: {
        type: 'object',
        additionalProperties: false,
        description: 'Trace and span ids of recent spans on histogram points.',
        properties: { enabled: { type: 'boolean' }, max_per_data_point: { type: 'integer', minimum: 0, maximum: 100 } },
      },
      naming: { enum: ['current', 'inference'], description: 'current: gen_ai.client.token.usage and gen_ai.client.operation.duration; inference: the newest drafts\' gen_ai.client.inference.duration, .operation.input_tokens/output_tokens and .usage.input_tokens/output_tokens for model calls.' },
      span_metrics: {
        type: 'object',
        additionalProperties: false,
        description: 'Spans without gen_ai.operation.name: traces.span.metrics.duration (histogram, seconds) and traces.span.metrics.calls by span.name, span.kind and status.code.',
        properties: { enabled: { type: 'boolean' }, buckets: { type: 'array', items: { type: 'number', exclusiveMinimum: 0 }, minItems: 1, maxItems: 64, description: 'Bucket bounds in seconds, ascending.' } },
      },
    },
  },
  createDefaultConfig: () =>
    ({
      dimensions: [],
      max_series: 10000,
      metrics_flush_interval: '15s',
      metrics_expiration: '5m',
      aggregation_temporality: 'AGGREGATION_TEMPORALITY_CUMULATIVE',
      exemplars: { enabled: false, max_per_data_point: 5 },
      naming: 'current',
      span_metrics: { enabled: true, buckets: [0.002, 0.004, 0.006, 0.008, 0.01, 0.05, 0.1, 0.2, 0.4, 0.8, 1, 1.4, 2, 5, 10, 15] },
    }) as unknown as GenAIMetricsConfig,
  check: (cfg) => {
    const b = cfg.span_metrics.buckets;
    return b.some((x, i) => i > 0 && x <= b[i - 1]!) ? [{ path: ['span_metrics', 'buckets'], message: 'bucket bounds must be ascending' }] : [];
  },
  createConnector: (set, cfg, _from, _to, next) => new GenAIMetricsConnector(set, cfg, next),
};
