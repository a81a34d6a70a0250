// The resolved config: what the service builds its pipelines from. Re-exported by load.ts.
import type { Factory, Kind } from '../component.js';
import type { Signal } from '../pdata/telemetry.js';
import type { WorkersConfig } from '../workers/pool.js';

export type { Signal, WorkersConfig };
/** In this order in messages. A local copy: config loading need not load the pdata code. */
export const SIGNALS: readonly Signal[] = ['traces', 'metrics', 'logs'];

export interface ComponentConfig {
  /** `type` or `type/name`, as written. */
  id: string;
  type: string;
  name: string | undefined;
  kind: Kind;
  factory: Factory;
  /** Validated, defaults applied, durations in ms and sizes in bytes (numbers). */
  config: any;
}

export interface PipelineConfig {
  /** `traces`, `traces/2`. */
  id: string;
  signal: Signal;
  receivers: string[];
  processors: string[];
  exporters: string[];
}

export interface TelemetryConfig {
  logs: { level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'silent'; encoding: 'json' | 'console' | 'auto' };
  /** address: host:port, default 127.0.0.1:8888. */
  metrics: { level: 'none' | 'basic' | 'normal' | 'detailed'; address: string };
  traces: { endpoint?: string; insecure?: boolean } | undefined;
}

export interface ServiceConfig {
  extensions: string[];
  pipelines: PipelineConfig[];
  telemetry: TelemetryConfig;
  /** service.shutdown_timeout in ms; default 30s. */
  shutdownTimeoutMs: number;
  /** service.workers: the worker-thread pool for request decoding. */
  workers: WorkersConfig;
}

export interface ResolvedConfig {
  receivers: Map<string, ComponentConfig>;
  processors: Map<string, ComponentConfig>;
  exporters: Map<string, ComponentConfig>;
  connectors: Map<string, ComponentConfig>;
  extensions: Map<string, ComponentConfig>;
  service: ServiceConfig;
  /** The config files, in the order they were merged. */
  sources: string[];
}
