import type { ConfigCheckProblem, Factory } from '../../src/component.js';
import { MATCH_SCHEMA, matchProblems } from './conditions.js';
import { FilterProcessor, type FilterConfig } from './processor.js';

const block = (what: string) => ({
  type: 'object',
  additionalProperties: false,
  description: `${what}: include keeps only what it matches, exclude drops what it matches (both: matched by include and not by exclude).`,
  properties: { include: MATCH_SCHEMA, exclude: MATCH_SCHEMA },
});

export const filterProcessorFactory: Factory<FilterConfig> = {
  type: 'filter',
  kind: 'processor',
  description: 'Drops spans, span events, log records and metric data points by attribute (equals, regex, exists; item, scope or resource), span name, kind and status, log severity and metric name; include / exclude, any-of / all-of.',
  signals: ['traces', 'metrics', 'logs'],
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      spans: block('Spans (traces pipelines)'),
      span_events: block('Span events, within kept spans (traces pipelines); name means the event name'),
      logs: block('Log records (logs pipelines); name means the record\'s event name'),
      metrics: block('Metric data points (metrics pipelines); attribute conditions read the point\'s attributes'),
    },
  },
  createDefaultConfig: () => ({}),
  check(cfg: FilterConfig): ConfigCheckProblem[] {
    const out: ConfigCheckProblem[] = [];
    for (const sig of ['spans', 'span_events', 'logs', 'metrics'] as const) {
      for (const side of ['include', 'exclude'] as const) out.push(...matchProblems(cfg[sig]?.[side], [sig, side]));
    }
    return out;
  },
  createProcessor: (set, cfg, signal, next) => new FilterProcessor(set, cfg, signal, next),
};
