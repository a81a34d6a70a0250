// The filter processor: drops spans, span events, log records and metric data points that an
// `exclude` block matches, or that an `include` block does not. Spans and log records are read in
// place in the encoded request (src/pdata/edit.ts): dropped ones are left out, with the scopes and
// resources they leave empty, and a request that keeps everything goes on as the same bytes. Metric
// points are filtered in the decoded request (decoded.ts).
import type { CreateSettings, Processor } from '../../src/component.js';
import type { Consumer } from '../../src/consumer.js';
import { DROP, editItems, LOG_RECORD, SPAN, SPAN_EVENT, type EditContext, type ItemEdit, type WireItem } from '../../src/pdata/edit.js';
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

  constructor(set: CreateSettings, cfg: FilterConfig, private readonly signal: Signal, private readonly next: Consumer) {
    const spanKeys: string[] = [];
    const recordKeys: string[] = [];
    this.spans = keeper(cfg.spans, spanKeys);
    this.events = keeper(cfg.span_events);
    this.logs = keeper(cfg.logs, recordKeys);
    this.spanKeys = spanKeys.length > 0 ? new KeySet(spanKeys) : undefined;
    this.recordKeys = recordKeys.length > 0 ? new KeySet(recordKeys) : undefined;
    this.points = keeper(cfg.metrics);
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
        res = batch.withProto((b) => editItems('traces', b, this.visitSpan, undefined, this.spanKeys));
        this.event = undefined;
      } else {
        if (this.logs === undefined) return this.next.consume(batch);
        res = batch.withProto((b) => editItems('logs', b, this.visitRecord, undefined, this.recordKeys));
      }
      out = res.bytes === undefined ? batch : Telemetry.fromValidated(this.signal, res.bytes, res.count);
    }
    if (this.dropped > 0) this.droppedC.inc(this.dropped);
    if (this.kept > 0) this.keptC.inc(this.kept);
    if (this.droppedEvents > 0) this.droppedEventsC.inc(this.droppedEvents);
    if (this.kept === 0) return;
    return this.next.consume(out);
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
