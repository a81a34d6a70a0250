import type { Factory } from '../../src/component.js';
import { DebugExporter, type DebugExporterConfig } from './exporter.js';

export const debugExporterFactory: Factory<DebugExporterConfig> = {
  type: 'debug',
  kind: 'exporter',
  description: 'Logs what arrives: a line per batch (basic), or every span, point and record (detailed).',
  signals: ['traces', 'metrics', 'logs'],
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      verbosity: { enum: ['basic', 'normal', 'detailed'], description: 'basic: counts per batch; normal: a line per span/point/record; detailed: every field.' },
    },
  },
  createDefaultConfig: () => ({ verbosity: 'basic' }),
  createExporter: (set, cfg) => new DebugExporter(set, cfg),
};
