// The views filter conditions read: an item of an encoded request, read in place (spans, span
// events, log records), and a decoded item (metric points; the decoded reference).
import { SPAN, type EditContext, type WireItem } from '../../src/pdata/edit.js';
import type { KeyValue } from '../../src/pdata/telemetry.js';
import { attr, has, str } from '../../src/vocab/index.js';
import type { View, Where } from './conditions.js';

/** A span, span event or log record of an encoded request, with its scope and resource. */
export class WireView implements View {
  /** whose attributes and name are read: the span, the event or the record */
  item!: WireItem;
  /** whose kind and status are read: the span (an event's span); undefined for log records */
  span: WireItem | undefined;
  ctx!: EditContext;

  /** nameField: the item's name field; severityField: its severity number's, -1 for none */
  constructor(private readonly nameField: number, private readonly severityField: number) {}

  has(on: Where, key: string): boolean {
    return on === 'item' ? this.item.indexOf(key) >= 0 : has(this.list(on), key);
  }

  text(on: Where, key: string): string | undefined {
    if (on !== 'item') return str(attr(this.list(on), key));
    const i = this.item.indexOf(key);
    return i < 0 ? undefined : this.item.stringValue(i);
  }

  private list(on: Where): readonly KeyValue[] | undefined {
    return on === 'scope' ? this.ctx.scope?.attributes : this.ctx.resource?.attributes;
  }

  name(): string {
    return this.item.string(this.nameField);
  }

  kind(): number {
    return this.span === undefined ? 0 : this.span.int32(SPAN.kind);
  }

  status(): number {
    return this.span === undefined ? 0 : this.span.statusCode();
  }

  severity(): number {
    return this.severityField < 0 ? 0 : this.item.int32(this.severityField);
  }

  metricName(): string {
    return '';
  }
}

/** A decoded item: its fields set by whoever walks the request. */
export class DecodedView implements View {
  attrs: readonly KeyValue[] = [];
  scope: readonly KeyValue[] | undefined;
  resource: readonly KeyValue[] | undefined;
  itemName = '';
  itemKind = 0;
  itemStatus = 0;
  itemSeverity = 0;
  metric = '';

  has(on: Where, key: string): boolean {
    return has(this.list(on), key);
  }

  text(on: Where, key: string): string | undefined {
    return str(attr(this.list(on), key));
  }

  private list(on: Where): readonly KeyValue[] | undefined {
    return on === 'item' ? this.attrs : on === 'scope' ? this.scope : this.resource;
  }

  name(): string {
    return this.itemName;
  }

  kind(): number {
    return this.itemKind;
  }

  status(): number {
    return this.itemStatus;
  }

  severity(): number {
    return this.itemSeverity;
  }

  metricName(): string {
    return this.metric;
  }
}
