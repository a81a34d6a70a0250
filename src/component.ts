// What the core knows of a component: its factory. Components live in receivers/, processors/,
// exporters/ and src/extensions; src/components.ts is the only file that imports them.
import type { Logger } from 'pino';
import type { Consumer } from './consumer.js';
import type { Signal } from './pdata/telemetry.js';
import type { SelfMetrics } from './telemetry/metrics.js';
import type { Workers } from './workers/pool.js';

export type Kind = 'receiver' | 'processor' | 'exporter' | 'connector' | 'extension';

/** A JSON Schema (draft 2020-12 / ajv subset). */
export type JsonSchema = Record<string, unknown>;

export interface Lifecycle {
  start(host: Host): Promise<void>;
  /** Stop accepting work, finish (drain) what was accepted, release resources. */
  shutdown(): Promise<void>;
}

export interface Receiver extends Lifecycle {}
export interface Processor extends Lifecycle, Consumer {}
export interface Exporter extends Lifecycle, Consumer {}
export interface Extension extends Lifecycle {}
/** An exporter in one pipeline and a receiver in another: what it consumes (signal `from`) it turns
 *  into items of signal `to` for the pipelines that list it as a receiver. */
export interface Connector extends Lifecycle, Consumer {}

/** A problem found by a factory's check(). */
export interface ConfigCheckProblem {
  path: readonly string[];
  message: string;
  at?: { file: string; line?: number; col?: number };
}

/** What a running component may ask the service for. */
export interface Host {
  /** A started extension, by id; undefined if not configured. */
  extension(id: string): Extension | undefined;
}

/** Everything a component instance gets from the core, scoped to it. */
export interface CreateSettings {
  /** Component id as written in the config: `type` or `type/name`. */
  id: string;
  kind: Kind;
  /** Child logger tagged with kind and id. */
  logger: Logger;
  metrics: SelfMetrics;
  /** service.shutdown_timeout in ms; read during shutdown, what is left of it (the budget is
   *  shared: the receivers and processors that stopped first used part of it). */
  readonly shutdownTimeoutMs: number;
  /** The worker-thread pool (service.workers): request decoding, export steps. Absent: all inline. */
  workers?: Workers;
}

/**
 * A factory: type name, default config, JSON schema, and one create function per signal it
 * supports. Config passed to create functions has been validated against `schema` with defaults
 * applied and durations/sizes already parsed (see src/config/units.ts: schema keywords
 * `"x-duration": true` / `"x-size": true` on string properties make the validator turn them into
 * numbers of milliseconds / bytes).
 */
export interface Factory<C = any> {
  type: string;
  kind: Kind;
  /** One line for `fleetcol components` and the README. */
  description: string;
  schema: JsonSchema;
  createDefaultConfig(): C;
  /** Processors that keep items after consume() resolved: what a crash loses (a phrase, e.g.
   *  "the items waiting in its windows"). `fleetcol validate` warns when such a processor stands
   *  before a persistent queue. */
  crashLoses?: string;
  /** Processors that keep items after answering unless the next stage is durable, in which case
   *  their callers wait (batch): what a crash loses when it is not. */
  crashLosesUnlessNextDurable?: string;
  /** Checks beyond the schema, at configure time (a file the config names, say): each problem's
   *  path is relative to the component; `at` places it in another file than the config. */
  check?(cfg: C): ConfigCheckProblem[];
  /** Signals this component handles; receivers/processors/exporters only. */
  signals?: readonly Signal[];
  /** Receivers: one instance per id, given the next consumer for each signal it serves. */
  createReceiver?(set: CreateSettings, cfg: C, next: Partial<Record<Signal, Consumer>>): Receiver;
  /** Processors: one instance per pipeline. */
  createProcessor?(set: CreateSettings, cfg: C, signal: Signal, next: Consumer): Processor;
  /** Exporters: one instance per id, shared by every pipeline it is in. */
  createExporter?(set: CreateSettings, cfg: C, signals: readonly Signal[]): Exporter;
  createExtension?(set: CreateSettings, cfg: C): Extension;
  /** Connectors: the (from, to) signal pairs it supports. */
  connects?: ReadonlyArray<readonly [Signal, Signal]>;
  /** Connectors: one instance per id and pair, given the pipelines of signal `to` it feeds. */
  createConnector?(set: CreateSettings, cfg: C, from: Signal, to: Signal, next: Consumer): Connector;
}
