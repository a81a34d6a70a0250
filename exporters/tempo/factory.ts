// Tempo speaks OTLP/gRPC; the only difference is the tenant, sent as X-Scope-OrgID.
import type { Factory } from '../../src/component.js';
import { createOtlpExporter, type OtlpExporterConfig } from '../otlp/exporter.js';
import { defaultOtlpExporterConfig, otlpExporterSchemaProperties } from '../otlp/factory.js';

interface TempoExporterConfig extends OtlpExporterConfig {
  tenant?: string;
}

export const tempoExporterFactory: Factory<TempoExporterConfig> = {
  type: 'tempo',
  kind: 'exporter',
  description: 'Grafana Tempo over OTLP/gRPC; `tenant` is sent as X-Scope-OrgID.',
  signals: ['traces'],
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['endpoint'],
    properties: {
      ...otlpExporterSchemaProperties,
      endpoint: { type: 'string', 'x-endpoint': true, minLength: 1, description: 'host[:port] of Tempo\'s OTLP/gRPC receiver (port defaults to 4317).' },
      tenant: { type: 'string', minLength: 1, description: 'Sent as X-Scope-OrgID (multi-tenant Tempo).' },
    },
  },
  createDefaultConfig: () => defaultOtlpExporterConfig() as unknown as TempoExporterConfig,
  createExporter: (set, cfg, signals) => {
    const endpoint = /:\d+$/.test(cfg.endpoint) ? cfg.endpoint : `${cfg.endpoint}:4317`;
    return createOtlpExporter(set, { ...cfg, endpoint }, signals, cfg.tenant ? { 'x-scope-orgid': cfg.tenant } : {});
  },
};
