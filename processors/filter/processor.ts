// The filter processor: drops spans, span events, log records and metric data points that an
// `exclude` block matches, or that an `include` block does not. Spans and log records are read in
// place in the encoded request (src/pdata/edit.ts): dropped ones are left out, with the scopes and
// resources they leave empty, and a request that keeps everything goes on as the same bytes. Metric
// points are filtered in the decoded request (decoded.ts).
import type { CreateSettings, Processor } from '../../src/component.js';
import type { Consumer } from '../../src/consumer.js';
import { ALL_FIELDS, DROP, editItems, LOG_RECORD, readUpTo, SPAN, SPAN_EVENT, type EditContext, type ItemEdit, type WireItem } from '../../src/pdata/edit.js';
import { collectFacts, type WireFacts } from '../../src/pdata/facts.js';
import { KeySet } from '../../src/pdata/read.js';
import { Telemetry, type ExportMetricsServiceRequest, type Signal } from '../../src/pdata/telemetry.js';
import type { BoundCounter } from '../../src/telemetry/metrics.js';
import { compileMatch, type MatchConfig, type Predicate } from './conditions.js';
import { filterPoints } from './decoded.js';
import { WireView } from './views.js';

export interface FilterBlock {
  include?: MatchConfig;
  exclude?: MatchConfig;
}

export interface FilterConfig {
  spans?: FilterBlock;
  span_events?: FilterBlock;
  logs?: FilterBlock;
  metrics?: FilterBlock;
}

/** include and exclude as one predicate: true keeps the item. undefined: the block keeps all.
 *  The item attribute keys its conditions read are added to `keys`. */
export function keeper(b: FilterBlock | undefined, keys: string[] = []): Predicate | undefined {
  const inc = compileMatch(b?.include, keys);
  const exc = compileMatch(b?.exclude, keys);
  if (inc === undefined && exc === undefined) return undefined;
  if (exc === undefined) return inc!;
  if (inc === undefined) return (v) => !exc(v);
  return (v) => inc(v) && !exc(v);
}

/** The fields of an item that a block's conditions read, so a request in field order is read that
 *  far only (src/pdata/facts.ts): `field`, the highest besides the item's attributes; `attributes`,
 *  whether a condition reads the item's attributes (their field then counts only in a request where
 *  one of the keys may occur: where none can, absent is the answer for each item). */
interface FieldsRead {
  field: number;
  attributes: boolean;
}

function fieldsRead(b: FilterBlock | undefined, fields: { name: number; kind: number; status: number; severity: number }): FieldsRead {
  const out: FieldsRead = { field: 0, attributes: false };
  for (const m of [b?.include, b?.exclude]) {
    for (const c of m?.conditions ?? []) {
      if (c.name !== undefined || c.name_regex !== undefined) out.field = Math.max(out.field, fields.name);
      if (c.kind !== undefined) out.field = Math.max(out.field, fields.kind);
      if (c.status !== undefined) out.field = Math.max(out.field, fields.status);
      if (c.severity_min !== undefined || c.severity_below !== undefined) out.field = Math.max(out.field, fields.severity);
      if (c.attribute !== undefined && (c.on ?? 'item') === 'item') out.attributes = true;
    }
  }
  return out;
}

export class FilterProcessor implements Processor {
  readonly mutatesData = true;
  private readonly spans: Predicate | undefined;
  private readonly events: Predicate | undefined;
  private readonly logs: Predicate | undefined;
  private readonly points: Predicate | undefined;
  private readonly droppedC: BoundCounter;
  private readonly droppedEventsC: BoundCounter;
  private readonly keptC: BoundCounter;
  /** counts of the request being visited */
  private kept = 0;
  private dropped = 0;
  private droppedEvents = 0;
  /** the item attribute keys the span and log record conditions read: matched while each item is
   *  read (span events are read by key) */
  private readonly spanKeys: KeySet | undefined;
  private readonly recordKeys: KeySet | undefined;
  private readonly spanView = new WireView(SPAN.name, -1, true);
  private readonly eventView = new WireView(SPAN_EVENT.name, -1, false);
  private readonly recordView = new WireView(LOG_RECORD.eventName, LOG_RECORD.severityNumber, true);
  /** the view span events are read into, during one request */
  private event: WireItem | undefined;
  /** the fields the span and log record conditions read (spans with span event conditions: all) */
  private readonly spanFields: FieldsRead | undefined;
  private readonly recordFields: FieldsRead;

  constructor(set: CreateSettings, cfg: FilterConfig, private readonly signal: Signal, private readonly next: Consumer) {
    const spanKeys: string[] = [];
    const recordKeys: string[] = [];
    this.spans = keeper(cfg.spans, spanKeys);
    this.events = keeper(cfg.span_events);
    this.logs = keeper(cfg.logs, recordKeys);
    this.spanKeys = spanKeys.length > 0 ? new KeySet(spanKeys) : undefined;
    this.recordKeys = recordKeys.length > 0 ? new KeySet(recordKeys) : undefined;
    this.points = keeper(cfg.metrics);
    // Span views read no severity (0), log record views no kind or status (0).
    this.spanFields = this.events === undefined ? fieldsRead(cfg.spans, { name: SPAN.name, kind: SPAN.kind, status: SPAN.status, severity: 0 }) : undefined;
    this.recordFields = fieldsRead(cfg.logs, { name: LOG_RECORD.eventName, kind: 0, status: 0, severity: LOG_RECORD.severityNumber });
    if (signal !== 'metrics') collectFacts();
    const m = set.metrics;
    this.keptC = m.counter('processor_filter_kept', 'Items (spans, log records, metric points) the filter let through.', { signal });
    this.droppedC = m.counter('processor_filter_dropped', 'Items (spans, log records, metric points) the filter dropped.', { signal });
    this.droppedEventsC = m.counter('processor_filter_dropped_span_events', 'Span events the filter dropped.');
  }

  async start(): Promise<void> {}
  async shutdown(): Promise<void> {}

  async consume(batch: Telemetry): Promise<void> {
    this.kept = 0;
    this.dropped = 0;
    this.droppedEvents = 0;
    let out: Telemetry;
    if (this.signal === 'metrics') {
      if (this.points === undefined) return this.next.consume(batch);
      const c = filterPoints(this.points, batch.request() as ExportMetricsServiceRequest);
      batch.markModified();
      this.kept = c.kept;
      this.dropped = c.dropped;
      out = batch;
    } else {
      let res;
      if (this.signal === 'traces') {
        if (this.spans === undefined && this.events === undefined) return this.next.consume(batch);
        const upTo = this.upTo(batch.facts, this.spanFields, this.spanKeys, SPAN.attributes);
        res = batch.withProto((b) => editItems('traces', b, this.visitSpan, undefined, this.spanKeys, upTo));
        this.event = undefined;
      } else {
        if (this.logs === undefined) return this.next.consume(batch);
        const upTo = this.upTo(batch.facts, this.recordFields, this.recordKeys, LOG_RECORD.attributes);
        res = batch.withProto((b) => editItems('logs', b, this.visitRecord, undefined, this.recordKeys, upTo));
      }
      // Items left out, span events cut: what is left keeps the keys and the order it had.
      out = res.bytes === undefined ? batch : Telemetry.fromValidated(this.signal, res.bytes, res.count, batch.facts);
    }
    if (this.dropped > 0) this.droppedC.inc(this.dropped);
    if (this.kept > 0) this.keptC.inc(this.kept);
    if (this.droppedEvents > 0) this.droppedEventsC.inc(this.droppedEvents);
    if (this.kept === 0) return;
    return this.next.consume(out);
  }

  /** How far each item of a request is read: the fields the conditions read, the attributes only
   *  where one of their keys may occur. */
  private upTo(facts: WireFacts | undefined, f: FieldsRead | undefined, keys: KeySet | undefined, attributes: number): number {
    if (f === undefined) return ALL_FIELDS;
    const field = f.attributes && (keys === undefined || keys.mayOccur(facts)) ? Math.max(f.field, attributes) : f.field;
    return readUpTo(facts, field);
  }

  private readonly visitSpan = (item: WireItem, ctx: EditContext): ItemEdit | typeof DROP | undefined => {
    const keepSpan = this.spans;
    if (keepSpan !== undefined) {
      const v = this.spanView;
      v.item = item;
      v.span = item;
      v.ctx = ctx;
      if (!keepSpan(v)) {
        this.dropped++;
        return DROP;
      }
    }
    this.kept++;
    const keepEvent = this.events;
    if (keepEvent === undefined || !item.has(SPAN.events)) return undefined;
    const at = item.occurrences(SPAN.events);
    const v = this.eventView;
    v.span = item;
    v.ctx = ctx;
    let cut: number[] | undefined;
    for (let i = 0; i < at.length; i += 3) {
      if (this.event === undefined || this.event.r !== item.r) this.event = item.nested(at[i + 1]!, at[i + 2]!, SPAN_EVENT.attributes);
      else this.event.read(at[i + 1]!, at[i + 2]!);
      v.item = this.event;
      if (keepEvent(v)) continue;
      (cut ??= []).push(at[i]!, at[i + 2]!);
      this.droppedEvents++;
    }
    return cut === undefined ? undefined : { cut };
  };

  private readonly visitRecord = (item: WireItem, ctx: EditContext): typeof DROP | undefined => {
    const v = this.recordView;
    v.item = item;
    v.ctx = ctx;
    if (!this.logs!(v)) {
      this.dropped++;
      return DROP;
    }
    this.kept++;
    return undefined;
  };
}
