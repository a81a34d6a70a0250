// The only place the core learns of components: one line per factory.
import { Registry } from './registry.js';
import { otlpReceiverFactory } from '../receivers/otlp/factory.js';
import { a2aReceiverFactory } from '../receivers/a2a/factory.js';
import { batchProcessorFactory } from '../processors/batch/factory.js';
import { coalesceProcessorFactory } from '../processors/coalesce/factory.js';
import { genaiProcessorFactory } from '../processors/genai/factory.js';
import { memoryLimiterProcessorFactory } from '../processors/memory_limiter/factory.js';
import { tailSamplingProcessorFactory } from '../processors/tail_sampling/factory.js';
import { filterProcessorFactory } from '../processors/filter/factory.js';
import { probabilisticSamplerProcessorFactory } from '../processors/probabilistic_sampler/factory.js';
import { otlpExporterFactory } from '../exporters/otlp/factory.js';
import { tempoExporterFactory } from '../exporters/tempo/factory.js';
import { remoteWriteExporterFactory } from '../exporters/prometheusremotewrite/factory.js';
import { prometheusExporterFactory } from '../exporters/prometheus/factory.js';
import { debugExporterFactory } from '../exporters/debug/factory.js';
import { sseExporterFactory } from '../exporters/sse/factory.js';
import { fileStorageExtensionFactory } from '../extensions/file_storage/factory.js';
import { genaiMetricsConnectorFactory } from '../connectors/genai_metrics/factory.js';
import { fleetConnectorFactory } from '../connectors/fleet/factory.js';

export const registry = new Registry([
  otlpReceiverFactory,
  a2aReceiverFactory,
  batchProcessorFactory,
  coalesceProcessorFactory,
  genaiProcessorFactory,
  probabilisticSamplerProcessorFactory,
  filterProcessorFactory,
  memoryLimiterProcessorFactory,
  tailSamplingProcessorFactory,
  otlpExporterFactory,
  tempoExporterFactory,
  debugExporterFactory,
  remoteWriteExporterFactory,
  prometheusExporterFactory,
  sseExporterFactory,
  fileStorageExtensionFactory,
  genaiMetricsConnectorFactory,
  fleetConnectorFactory,
]);
