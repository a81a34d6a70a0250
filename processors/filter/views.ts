// The views filter conditions read: an item of an encoded request, read in place (spans, span
// events, log records), and a decoded item (metric points; the decoded reference).
import { SPAN, type EditContext, type WireItem } from '../../src/pdata/edit.js';
import type { KeyValue } from '../../src/pdata/telemetry.js';
import { attr, has, str } from '../../src/vocab/index.js';
import type { Literal, View, Where } from './conditions.js';

/** A span, span event or log record of an encoded request, with its scope and resource. */
export class WireView implements View {
  /** whose attributes and name are read: the span, the event or the record */
  item!: WireItem;
  /** whose kind and status are read: the span (an event's span); undefined for log records */
  span: WireItem | undefined;
  ctx!: EditContext;

  /** nameField: the item's name field; severityField: its severity number's, -1 for none;
   *  watching: the items were read with the item keys the conditions registered watched
   *  (WireItem.watched), else keys are looked up one by one */
  constructor(private readonly nameField: number, private readonly severityField: number, private readonly watching: boolean) {}

  private index(key: string, id: number): number {
    return this.watching ? this.item.watched(id) : this.item.indexOf(key);
  }

  has(on: Where, key: string, id: number): boolean {
    return on === 'item' ? this.index(key, id) >= 0 : has(this.list(on), key);
  }

  text(on: Where, key: string, id: number): string | undefined {
    if (on !== 'item') return str(attr(this.list(on), key));
    const i = this.index(key, id);
    return i < 0 ? undefined : this.item.stringValue(i);
  }

  nameIs(want: Literal): boolean {
    return this.item.fieldIs(this.nameField, want.bytes);
  }

  nameStartsWith(prefix: Literal): boolean {
    return this.item.fieldStartsWith(this.nameField, prefix.bytes);
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

  nameIs(want: Literal): boolean {
    return this.itemName === want.text;
  }

  nameStartsWith(prefix: Literal): boolean {
    return this.itemName.startsWith(prefix.text);
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
