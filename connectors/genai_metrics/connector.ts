// The genai_metrics connector: traces in, metrics out, the RED method for agents. GenAI spans (as
// the genai processor leaves them) give the GenAI conventions' client metrics (token usage and
// operation duration histograms, their bucket advice) and fleetcol's per agent, operation, model
// and tool: calls, errors, cost in USD, tool calls by tool and status. Other spans give duration
// histograms by kind and name. Spans are read at wire level (src/pdata/read.ts: only the keys below
// are looked at), never decoded.
import type { Connector, CreateSettings } from '../../src/component.js';
import type { Consumer } from '../../src/consumer.js';
import { ItemView, KeySet, readItems, type ResourceRef } from '../../src/pdata/read.js';
import { AggregationTemporality } from '../../src/pdata/model.js';
import { Telemetry, type ExportMetricsServiceRequest, type KeyValue, type Metric } from '../../src/pdata/telemetry.js';
import type { BoundCounter } from '../../src/telemetry/metrics.js';
import { GENAI_CONVENTIONS, GenAI, MODEL_OPERATIONS, Operation, pick } from '../../src/vocab/index.js';

export interface GenAIMetricsConfig {
  /** attributes (span first, then resource) that label every GenAI series, beyond the defaults */
  dimensions: string[];
  max_series: number;
  /** ms */
  metrics_flush_interval: number;
  /** ms; 0: never */
  metrics_expiration: number;
  aggregation_temporality: 'AGGREGATION_TEMPORALITY_CUMULATIVE' | 'AGGREGATION_TEMPORALITY_DELTA';
  exemplars: { enabled: boolean; max_per_data_point: number };
  /** `current`: gen_ai.client.token.usage / operation.duration (v1.41 and the draft's names for
   *  other operations); `inference`: the draft's gen_ai.client.inference.* for model calls */
  naming: 'current' | 'inference';
  span_metrics: { enabled: boolean; buckets: number[] };
}

/** The conventions' bucket advice. */
export const TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];
export const DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];

/** Labels of every GenAI series, in this order, then the configured dimensions. */
const BASE_DIMENSIONS = [GenAI.operationName, GenAI.providerName, GenAI.requestModel, GenAI.agentId, GenAI.agentName] as const;
const OVERFLOW = 'otel_metric_overflow';
/** Longest label value kept (a client sends them). */
const MAX_VALUE_LENGTH = 256;
const STATUS_ERROR = 2;
const KIND_NAMES = ['SPAN_KIND_UNSPECIFIED', 'SPAN_KIND_INTERNAL', 'SPAN_KIND_SERVER', 'SPAN_KIND_CLIENT', 'SPAN_KIND_PRODUCER', 'SPAN_KIND_CONSUMER'];

type Kind = 'sum' | 'histogram';
/** A label set, with its series key once computed and its series per instrument (by id) once
 *  found: a label set belongs to one service, so the next span with it skips the look-ups. */
type Labels = Array<[string, string]> & { key?: string; series?: Array<Series | undefined> };

interface Exemplars {
  traceId: Uint8Array;
  spanId: Uint8Array;
  value: number;
  time: bigint;
}

interface Series {
  /** the service it came from (a resource per service in the output) */
  service: string;
  labels: KeyValue[];
  start: bigint;
  updated: number;
  value: number;
  count: number;
  sum: number;
  min: number;
  max: number;
  buckets: number[] | undefined;
  exemplars: Exemplars[];
  /** forgotten (metrics_expiration): a label set's cached reference must not be used */
  gone?: boolean;
}

interface Instrument {
  id: number;
  name: string;
  unit: string;
  description: string;
  kind: Kind;
  bounds: number[];
  series: Map<string, Series>;
}

/** A label set's series key, built once per label set (and cached on it: the same string object,
 *  its hash computed once, serves every later lookup). */
function keyOf(service: string, labels: Labels): string {
  let key = labels.key;
  if (key === undefined) {
    key = service;
    for (const [k, v] of labels) key += `\u0000${k}\u0001${v}`;
    labels.key = key;
  }
  return key;
}

/** The label sets of one combination of dimension values, made once and reused by every span
 *  that has those values (most spans of a batch share them). */
interface Prepared {
  labels: Labels;
  input: Labels;
  output: Labels;
  errors: Map<string, Labels>;
  tools: Map<string, Labels>;
}
/** Nodes of the prepared-label trees kept at most (every resource's facts forgotten past it). */
const MAX_PREPARED = 10_000;

/** A node of the tree of prepared label sets: one level per dimension, a child per value. */
interface PrepNode {
  next?: Map<string, PrepNode>;
  /** the child for a dimension the span does not have (distinct from an empty value) */
  absent?: PrepNode;
  prep?: Prepared;
}

const clip = (s: string) => (s.length > MAX_VALUE_LENGTH ? s.slice(0, MAX_VALUE_LENGTH) : s);

/** The span attributes read, by index in the KeySet (configured dimensions follow). */
const K = { op: 0, provider: 1, model: 2, agentId: 3, agentName: 4, tool: 5, errorType: 6, input: 7, output: 8, cost: 9 } as const;
const KEYS = [GenAI.operationName, GenAI.providerName, GenAI.requestModel, GenAI.agentId, GenAI.agentName, GenAI.toolName, GenAI.errorType, GenAI.inputTokens, GenAI.outputTokens, GenAI.cost];

/** What a resource gives every span of it, worked out once per distinct resource. */
interface ResourceFacts {
  service: string;
  agentId: string | undefined;
  agentName: string | undefined;
  /** configured dimensions' values from the resource */
  extra: (string | undefined)[];
  /** span-metrics label sets by span name, then kind × 3 + status */
  spanLabels: Map<string, Labels[]>;
  /** GenAI label sets by operation, provider, model, agent id, agent name, then dimensions */
  prepared: PrepNode;
}
/** Span names with prepared span-metrics labels, per resource, at most. */
const MAX_SPAN_NAMES = 1000;
/** Distinct resources whose facts are kept at most (cleared past it). */
const MAX_RESOURCES = 1000;

export class GenAIMetricsConnector implements Connector {
  readonly mutatesData = false;
  private readonly instruments = new Map<string, Instrument>();
  /** tree nodes made under every resource's `prepared` (all forgotten past MAX_PREPARED) */
  private prepNodes = 0;
  private seriesCount = 0;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private readonly overflowC: BoundCounter;
  private readonly failedC: BoundCounter;
  private readonly delta: boolean;
  private readonly startedAt = BigInt(Date.now()) * 1_000_000n;
  private readonly view: ItemView;
  /** by the resource's encoding: the same agent's requests share label sets and their series */
  private readonly facts = new Map<string, ResourceFacts>();

  constructor(
    private readonly set: CreateSettings,
    private readonly cfg: GenAIMetricsConfig,
    private readonly next: Consumer,
  ) {
    this.delta = cfg.aggregation_temporality === 'AGGREGATION_TEMPORALITY_DELTA';
    this.view = new ItemView(new KeySet([...KEYS, ...cfg.dimensions]));
    const m = set.metrics;
    this.overflowC = m.counter('connector_genai_metrics_overflow', 'Data points recorded in the overflow series (otel_metric_overflow="true") because max_series series exist.');
    this.failedC = m.counter('connector_genai_metrics_send_failed', 'Metric data points the next stage refused (dropped; cumulative ones are sent again at the next flush).');
    m.gauge('connector_genai_metrics_series', 'Series held.', () => this.seriesCount);
  }

  async start(): Promise<void> {
    this.timer = setInterval(() => void this.flush(), this.cfg.metrics_flush_interval);
    this.timer.unref();
  }

  async consume(batch: Telemetry): Promise<void> {
    if (batch.signal !== 'traces') return;
    const now = Date.now();
    // Read in place: a merged batch's parts are not joined into a new buffer (Telemetry.withProto).
    let ref: ResourceRef | undefined, facts: ResourceFacts | undefined;
    batch.withProto((bytes) => readItems('traces', bytes, this.view, (item, res) => {
      if (res !== ref) {
        ref = res;
        facts = this.factsOf(res);
      }
      this.span(item, facts!, now);
    }));
  }

  /** The facts of a resource, kept by its encoding (equal resources in different requests share
   *  them, and so their label sets and the series cached on those). */
  private factsOf(ref: ResourceRef): ResourceFacts {
    const key = ref.key;
    const known = this.facts.get(key);
    if (known !== undefined) return known;
    const res = ref.resource?.attributes;
    let agentId: string | undefined, agentName: string | undefined;
    if (pick(GenAI.agentId, undefined, res) !== undefined || pick(GenAI.agentName, undefined, res) !== undefined) {
      agentId = pick(GenAI.agentId, undefined, res);
      agentName = pick(GenAI.agentName, undefined, res);
    }
    const f: ResourceFacts = {
      service: clip(pick('service.name', undefined, res) ?? 'unknown_service'),
      agentId,
      agentName,
      extra: this.cfg.dimensions.map((k) => pick(k, undefined, res)),
      spanLabels: new Map(),
      prepared: {},
    };
    if (this.facts.size >= MAX_RESOURCES) this.facts.clear();
    this.facts.set(key, f);
    return f;
  }

  private step(node: PrepNode, v: string | undefined): PrepNode {
    if (v === undefined) return (node.absent ??= {});
    const m = (node.next ??= new Map());
    let child = m.get(v);
    if (child === undefined) {
      m.set(v, (child = {}));
      // Many distinct values (a high-cardinality dimension): start over; the spans being read keep
      // the facts they hold, later requests make new ones.
      if (++this.prepNodes >= MAX_PREPARED) {
        this.facts.clear();
        this.prepNodes = 0;
      }
    }
    return child;
  }

  private span(item: ItemView, facts: ResourceFacts, now: number): void {
    const service = facts.service;
    const failed = item.statusCode() === STATUS_ERROR;
    const seconds = item.seconds(7, 8);
    const exemplar = this.cfg.exemplars.enabled ? { traceId: item.fieldBytes(1), spanId: item.fieldBytes(2), time: item.fixed64(8) } : undefined;
    const op = item.string(K.op);
    if (op === undefined) {
      if (!this.cfg.span_metrics.enabled) return;
      const name = item.fieldString(5);
      let byName = facts.spanLabels.get(name);
      if (byName === undefined) {
        if (facts.spanLabels.size >= MAX_SPAN_NAMES) facts.spanLabels.clear();
        facts.spanLabels.set(name, (byName = []));
      }
      const kind = item.varint(6);
      const code = item.statusCode();
      const at = (kind < KIND_NAMES.length ? kind : 0) * 3 + (code >= 0 && code <= 2 ? code : 0);
      const labels = (byName[at] ??= [['span.name', clip(name)], ['span.kind', KIND_NAMES[kind] ?? 'SPAN_KIND_UNSPECIFIED'], ['status.code', code === STATUS_ERROR ? 'STATUS_CODE_ERROR' : code === 1 ? 'STATUS_CODE_OK' : 'STATUS_CODE_UNSET']]);
      this.record('traces.span.metrics.duration', 's', 'Span duration, by name, kind and status (spans without gen_ai.operation.name).', 'histogram', this.cfg.span_metrics.buckets, service, labels, seconds, now, exemplar);
      this.record('traces.span.metrics.calls', '{call}', 'Spans, by name, kind and status (spans without gen_ai.operation.name).', 'sum', [], service, labels, 1, now, undefined);
      return;
    }
    const provider = item.string(K.provider);
    const model = item.string(K.model);
    let agentId = item.string(K.agentId);
    let agentName = item.string(K.agentName);
    const tool = item.string(K.tool);
    const errorType = item.string(K.errorType);
    const input = item.number(K.input);
    const output = item.number(K.output);
    const cost = item.number(K.cost);
    if (agentId === undefined && agentName === undefined) {
      agentId = facts.agentId;
      agentName = facts.agentName;
    }
    const extra = this.cfg.dimensions;
    // The prepared label sets of this combination of values, found by walking a tree keyed by
    // each value in turn (the strings come from the reader's cache, their hashes already known):
    // no key string is built per span.
    let node = this.step(facts.prepared, op);
    node = this.step(node, provider);
    node = this.step(node, model);
    node = this.step(node, agentId);
    node = this.step(node, agentName);
    for (let d = 0; d < extra.length; d++) node = this.step(node, item.string(KEYS.length + d) ?? facts.extra[d]);
    let prep = node.prep;
    if (prep === undefined) {
      const dims = [op, provider, model, agentId, agentName];
      const base: Labels = [];
      for (let d = 0; d < BASE_DIMENSIONS.length; d++) if (dims[d] !== undefined) base.push([BASE_DIMENSIONS[d]!, clip(dims[d]!)]);
      for (let d = 0; d < extra.length; d++) {
        const v = item.string(KEYS.length + d) ?? facts.extra[d];
        if (v !== undefined) base.push([extra[d]!, clip(v)]);
      }
      prep = node.prep = { labels: base, input: [...base, [GenAI.tokenType, 'input']], output: [...base, [GenAI.tokenType, 'output']], errors: new Map(), tools: new Map() };
    }
    const labels = prep.labels;
    let errLabels = labels;
    if (failed) {
      const et = clip(errorType ?? '_OTHER');
      errLabels = prep.errors.get(et) ?? [...labels, [GenAI.errorType, et]];
      if (prep.errors.size < 64) prep.errors.set(et, errLabels);
    }
    const inference = MODEL_OPERATIONS.has(op) && op !== Operation.embeddings;
    const v = this.cfg.naming === 'inference' && inference;
    // The conventions' client metrics.
    if (v) this.record('gen_ai.client.inference.duration', 's', 'GenAI model call duration.', 'histogram', DURATION_BUCKETS, service, errLabels, seconds, now, exemplar);
    else this.record('gen_ai.client.operation.duration', 's', 'GenAI operation duration.', 'histogram', DURATION_BUCKETS, service, errLabels, seconds, now, exemplar);
    if (input !== undefined) {
      if (v) {
        this.record('gen_ai.client.inference.operation.input_tokens', '{token}', 'Input tokens per model call.', 'histogram', TOKEN_BUCKETS, service, labels, input, now, exemplar);
        this.record('gen_ai.client.inference.usage.input_tokens', '{token}', 'Input tokens used.', 'sum', [], service, labels, input, now, undefined);
      } else this.record('gen_ai.client.token.usage', '{token}', 'Tokens used per GenAI operation.', 'histogram', TOKEN_BUCKETS, service, prep.input, input, now, exemplar);
    }
    if (output !== undefined) {
      if (v) {
        this.record('gen_ai.client.inference.operation.output_tokens', '{token}', 'Output tokens per model call.', 'histogram', TOKEN_BUCKETS, service, labels, output, now, exemplar);
        this.record('gen_ai.client.inference.usage.output_tokens', '{token}', 'Output tokens used.', 'sum', [], service, labels, output, now, undefined);
      } else this.record('gen_ai.client.token.usage', '{token}', 'Tokens used per GenAI operation.', 'histogram', TOKEN_BUCKETS, service, prep.output, output, now, exemplar);
    }
    // RED per agent, operation, model and tool: fleetcol's own names.
    this.record('fleetcol.gen_ai.calls', '{call}', 'GenAI operations (model calls, tool calls, agent invocations).', 'sum', [], service, labels, 1, now, undefined);
    if (failed) this.record('fleetcol.gen_ai.errors', '{call}', 'GenAI operations that ended in error.', 'sum', [], service, errLabels, 1, now, undefined);
    if (cost !== undefined && cost > 0) this.record('fleetcol.gen_ai.cost', 'USD', 'Cost of model calls in US dollars (gen_ai.usage.cost).', 'sum', [], service, labels, cost, now, undefined);
    if (op === Operation.executeTool) {
      const tk = `${clip(tool ?? 'unknown')}\u0000${failed ? 'error' : 'ok'}`;
      let toolLabels = prep.tools.get(tk);
      if (toolLabels === undefined) {
        toolLabels = [...labels.filter(([k]) => k !== GenAI.requestModel && k !== GenAI.providerName), [GenAI.toolName, clip(tool ?? 'unknown')], ['status', failed ? 'error' : 'ok']];
        if (prep.tools.size < 256) prep.tools.set(tk, toolLabels);
      }
      this.record('fleetcol.gen_ai.tool.calls', '{call}', 'Tool calls by tool and status.', 'sum', [], service, toolLabels, 1, now, undefined);
    }
  }

  private record(name: string, unit: string, description: string, kind: Kind, bounds: number[], service: string, labels: Labels, value: number, now: number, ex: Omit<Exemplars, 'value'> | undefined): void {
    let inst = this.instruments.get(name);
    if (inst === undefined) this.instruments.set(name, (inst = { id: this.instruments.size, name, unit, description, kind, bounds, series: new Map() }));
    let s = labels.series?.[inst.id];
    if (s === undefined || s.gone === true) s = this.seriesOf(inst, service, labels);
    s.updated = now;
    if (kind === 'sum') {
      s.value += value;
      return;
    }
    s.count++;
    s.sum += value;
    if (value < s.min) s.min = value;
    if (value > s.max) s.max = value;
    const b = s.buckets!;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    b[i]!++;
    if (ex !== undefined && this.cfg.exemplars.max_per_data_point > 0) {
      if (s.exemplars.length >= this.cfg.exemplars.max_per_data_point) s.exemplars.shift();
      s.exemplars.push({ ...ex, value });
    }
  }

  /** The series of `labels` in `inst`, made if there is room, else the overflow series. */
  private seriesOf(inst: Instrument, service: string, labels: Labels): Series {
    const key = keyOf(service, labels);
    let s = inst.series.get(key);
    if (s !== undefined) return ((labels.series ??= [])[inst.id] = s);
    if (this.seriesCount >= this.cfg.max_series) {
      // Past max_series: one series per instrument and service takes what does not fit (not
      // cached on the label set: room may come back when series expire).
      const overflowKey = `${service}\u0000${OVERFLOW}`;
      this.overflowC.inc();
      return inst.series.get(overflowKey) ?? this.newSeries(inst, overflowKey, service, [[OVERFLOW, 'true']]);
    }
    s = this.newSeries(inst, key, service, labels);
    (labels.series ??= [])[inst.id] = s;
    return s;
  }

  private newSeries(inst: Instrument, key: string, service: string, labels: Labels): Series {
    const s: Series = {
      service, labels: labels.map(([k, v]) => ({ key: k, value: { stringValue: v } })), start: BigInt(Date.now()) * 1_000_000n, updated: 0,
      value: 0, count: 0, sum: 0, min: Infinity, max: -Infinity, buckets: inst.kind === 'histogram' ? new Array<number>(inst.bounds.length + 1).fill(0) : undefined, exemplars: [],
    };
    inst.series.set(key, s);
    this.seriesCount++;
    return s;
  }

  /** Sends every series (cumulative: all of them since they began; delta: what changed since the
   *  last flush), then forgets series idle for metrics_expiration. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.flushNow());
    return this.flushing;
  }

  private async flushNow(): Promise<void> {
    const nowMs = Date.now();
    const now = BigInt(nowMs) * 1_000_000n;
    const byService = new Map<string, Metric[]>();
    let points = 0;
    for (const inst of this.instruments.values()) {
      const perService = new Map<string, Metric>();
      for (const [key, s] of inst.series) {
        const expired = this.cfg.metrics_expiration > 0 && nowMs - s.updated > this.cfg.metrics_expiration;
        if (expired) {
          s.gone = true;
          inst.series.delete(key);
          this.seriesCount--;
          continue;
        }
        if (this.delta && (inst.kind === 'sum' ? s.value === 0 : s.count === 0)) continue;
        let m = perService.get(s.service);
        if (m === undefined) {
          m = inst.kind === 'sum'
            ? { name: inst.name, unit: inst.unit, description: inst.description, sum: { dataPoints: [], aggregationTemporality: this.temporality(), isMonotonic: true } }
            : { name: inst.name, unit: inst.unit, description: inst.description, histogram: { dataPoints: [], aggregationTemporality: this.temporality() } };
          perService.set(s.service, m);
          let list = byService.get(s.service);
          if (list === undefined) byService.set(s.service, (list = []));
          list.push(m);
        }
        const start = this.delta ? s.start : s.start < this.startedAt ? this.startedAt : s.start;
        const exemplars = s.exemplars.map((e) => ({ filteredAttributes: [], timeUnixNano: e.time, asDouble: e.value, spanId: e.spanId, traceId: e.traceId }));
        if (m.sum) m.sum.dataPoints.push({ attributes: s.labels, startTimeUnixNano: start, timeUnixNano: now, asDouble: s.value, exemplars: [], flags: 0 });
        else {
          m.histogram!.dataPoints.push({
            attributes: s.labels, startTimeUnixNano: start, timeUnixNano: now, count: BigInt(s.count), sum: s.sum, bucketCounts: s.buckets!.map((n) => BigInt(n)),
            explicitBounds: inst.bounds, exemplars, flags: 0, ...(s.count > 0 ? { min: s.min, max: s.max } : {}),
          });
        }
        points++;
        s.exemplars = [];
        if (this.delta) {
          s.start = now;
          s.value = 0;
          s.count = 0;
          s.sum = 0;
          s.min = Infinity;
          s.max = -Infinity;
          if (s.buckets) s.buckets.fill(0);
        }
      }
    }
    if (points === 0) return;
    const req: ExportMetricsServiceRequest = {
      resourceMetrics: [...byService].map(([service, metrics]) => ({
        resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }], droppedAttributesCount: 0 },
        scopeMetrics: [{ scope: { name: 'fleetcol/connector/genai_metrics', version: GENAI_CONVENTIONS.version, attributes: [], droppedAttributesCount: 0 }, metrics, schemaUrl: GENAI_CONVENTIONS.schemaUrl }],
        schemaUrl: '',
      })),
    } as ExportMetricsServiceRequest;
    try {
      await this.next.consume(Telemetry.fromRequest('metrics', req));
    } catch (err) {
      this.failedC.inc(points);
      this.set.logger.warn({ err: (err as Error).message, points }, 'next stage refused the span metrics; dropped');
    }
  }

  private temporality(): number {
    return this.delta ? AggregationTemporality.DELTA : AggregationTemporality.CUMULATIVE;
  }

  async shutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.flush();
    this.set.metrics.dispose();
  }
}
