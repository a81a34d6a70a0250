// The decoded OTLP object tree. Property names are the OTLP/JSON (lowerCamelCase) names; bytes are
// Uint8Array, 64-bit integers bigint, enums numbers. After decode every repeated field is an array
// and every plain proto3 scalar holds its default when absent; oneof members, `optional` fields and
// message fields are absent (undefined) unless present. Fields added to OTLP recently are optional
// in these types so that objects built by hand need not spell them out (the encoder treats a
// missing field as its default).

/** Raw bytes (tag included) of fields this build does not know; written back on encode. */
export interface UnknownFields {
  $unknown?: Uint8Array[];
}

// common.proto / resource.proto
export interface AnyValue extends UnknownFields {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: bigint;
  doubleValue?: number;
  arrayValue?: ArrayValue;
  kvlistValue?: KeyValueList;
  bytesValue?: Uint8Array;
  /** index into a dictionary (profiles); development */
  stringValueStrindex?: number;
}
export interface ArrayValue extends UnknownFields { values: AnyValue[] }
export interface KeyValueList extends UnknownFields { values: KeyValue[] }
export interface KeyValue extends UnknownFields {
  key: string;
  value?: AnyValue;
  keyStrindex?: number;
}
export interface InstrumentationScope extends UnknownFields {
  name: string;
  version: string;
  attributes: KeyValue[];
  droppedAttributesCount: number;
}
export interface EntityRef extends UnknownFields {
  schemaUrl: string;
  type: string;
  idKeys: string[];
  descriptionKeys: string[];
}
export interface Resource extends UnknownFields {
  attributes: KeyValue[];
  droppedAttributesCount: number;
  entityRefs?: EntityRef[];
}

// trace.proto
export const SpanKind = { UNSPECIFIED: 0, INTERNAL: 1, SERVER: 2, CLIENT: 3, PRODUCER: 4, CONSUMER: 5 } as const;
export const StatusCode = { UNSET: 0, OK: 1, ERROR: 2 } as const;

export interface ExportTraceServiceRequest extends UnknownFields { resourceSpans: ResourceSpans[] }
export interface ResourceSpans extends UnknownFields {
  resource?: Resource;
  scopeSpans: ScopeSpans[];
  schemaUrl: string;
}
export interface ScopeSpans extends UnknownFields {
  scope?: InstrumentationScope;
  spans: Span[];
  schemaUrl: string;
}
export interface Span extends UnknownFields {
  traceId: Uint8Array;
  spanId: Uint8Array;
  traceState: string;
  parentSpanId: Uint8Array;
  flags: number;
  name: string;
  kind: number;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  attributes: KeyValue[];
  droppedAttributesCount: number;
  events: Span_Event[];
  droppedEventsCount: number;
  links: Span_Link[];
  droppedLinksCount: number;
  status?: Status;
}
export interface Span_Event extends UnknownFields {
  timeUnixNano: bigint;
  name: string;
  attributes: KeyValue[];
  droppedAttributesCount: number;
}
export interface Span_Link extends UnknownFields {
  traceId: Uint8Array;
  spanId: Uint8Array;
  traceState: string;
  attributes: KeyValue[];
  droppedAttributesCount: number;
  flags: number;
}
export interface Status extends UnknownFields {
  message: string;
  code: number;
}

// metrics.proto
export const AggregationTemporality = { UNSPECIFIED: 0, DELTA: 1, CUMULATIVE: 2 } as const;

export interface ExportMetricsServiceRequest extends UnknownFields { resourceMetrics: ResourceMetrics[] }
export interface ResourceMetrics extends UnknownFields {
  resource?: Resource;
  scopeMetrics: ScopeMetrics[];
  schemaUrl: string;
}
export interface ScopeMetrics extends UnknownFields {
  scope?: InstrumentationScope;
  metrics: Metric[];
  schemaUrl: string;
}
/** Exactly one of gauge, sum, histogram, exponentialHistogram, summary is set (oneof `data`). */
export interface Metric extends UnknownFields {
  name: string;
  description: string;
  unit: string;
  gauge?: Gauge;
  sum?: Sum;
  histogram?: Histogram;
  exponentialHistogram?: ExponentialHistogram;
  summary?: Summary;
  metadata?: KeyValue[];
}
export interface Gauge extends UnknownFields { dataPoints: NumberDataPoint[] }
export interface Sum extends UnknownFields {
  dataPoints: NumberDataPoint[];
  aggregationTemporality: number;
  isMonotonic: boolean;
}
export interface Histogram extends UnknownFields {
  dataPoints: HistogramDataPoint[];
  aggregationTemporality: number;
}
export interface ExponentialHistogram extends UnknownFields {
  dataPoints: ExponentialHistogramDataPoint[];
  aggregationTemporality: number;
}
export interface Summary extends UnknownFields { dataPoints: SummaryDataPoint[] }
export interface NumberDataPoint extends UnknownFields {
  attributes: KeyValue[];
  startTimeUnixNano: bigint;
  timeUnixNano: bigint;
  asDouble?: number;
  asInt?: bigint;
  exemplars: Exemplar[];
  flags: number;
}
export interface HistogramDataPoint extends UnknownFields {
  attributes: KeyValue[];
  startTimeUnixNano: bigint;
  timeUnixNano: bigint;
  count: bigint;
  sum?: number;
  bucketCounts: bigint[];
  explicitBounds: number[];
  exemplars: Exemplar[];
  flags: number;
  min?: number;
  max?: number;
}
export interface ExponentialHistogramDataPoint extends UnknownFields {
  attributes: KeyValue[];
  startTimeUnixNano: bigint;
  timeUnixNano: bigint;
  count: bigint;
  sum?: number;
  scale: number;
  zeroCount: bigint;
  positive?: ExponentialHistogramDataPoint_Buckets;
  negative?: ExponentialHistogramDataPoint_Buckets;
  flags: number;
  exemplars: Exemplar[];
  min?: number;
  max?: number;
  zeroThreshold: number;
}
export interface ExponentialHistogramDataPoint_Buckets extends UnknownFields {
  offset: number;
  bucketCounts: bigint[];
}
export interface SummaryDataPoint extends UnknownFields {
  attributes: KeyValue[];
  startTimeUnixNano: bigint;
  timeUnixNano: bigint;
  count: bigint;
  sum: number;
  quantileValues: SummaryDataPoint_ValueAtQuantile[];
  flags: number;
}
export interface SummaryDataPoint_ValueAtQuantile extends UnknownFields {
  quantile: number;
  value: number;
}
export interface Exemplar extends UnknownFields {
  filteredAttributes: KeyValue[];
  timeUnixNano: bigint;
  asDouble?: number;
  asInt?: bigint;
  spanId: Uint8Array;
  traceId: Uint8Array;
}

// logs.proto
export interface ExportLogsServiceRequest extends UnknownFields { resourceLogs: ResourceLogs[] }
export interface ResourceLogs extends UnknownFields {
  resource?: Resource;
  scopeLogs: ScopeLogs[];
  schemaUrl: string;
}
export interface ScopeLogs extends UnknownFields {
  scope?: InstrumentationScope;
  logRecords: LogRecord[];
  schemaUrl: string;
}
export interface LogRecord extends UnknownFields {
  timeUnixNano: bigint;
  observedTimeUnixNano: bigint;
  severityNumber: number;
  severityText: string;
  body?: AnyValue;
  attributes: KeyValue[];
  droppedAttributesCount: number;
  flags: number;
  traceId: Uint8Array;
  spanId: Uint8Array;
  eventName?: string;
}

export type ExportRequest = ExportTraceServiceRequest | ExportMetricsServiceRequest | ExportLogsServiceRequest;
