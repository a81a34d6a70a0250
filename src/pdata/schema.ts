// The one table of OTLP message layouts (field numbers from opentelemetry-proto: common, resource,
// trace, metrics, logs, the collector services, plus the few google.rpc messages the receivers need).
// The decoder, encoder, scanner, splitter and JSON mapper are generic and read only the descriptors
// built here, once, at module load.

export type KindName =
  | 'double' | 'int32' | 'int64' | 'uint32' | 'uint64' | 'sint32'
  | 'fixed32' | 'fixed64' | 'sfixed64' | 'bool' | 'string' | 'bytes' | 'enum' | 'message';

// Numeric kind codes: the hot loops switch on these rather than on strings.
export const K_DOUBLE = 1, K_INT32 = 2, K_INT64 = 3, K_UINT32 = 4, K_UINT64 = 5, K_SINT32 = 6,
  K_FIXED32 = 7, K_FIXED64 = 8, K_SFIXED64 = 9, K_BOOL = 10, K_STRING = 11, K_BYTES = 12,
  K_ENUM = 13, K_MESSAGE = 14;

export const WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5;

const KIND: Record<KindName, [code: number, wireType: number]> = {
  double: [K_DOUBLE, WT_I64], int32: [K_INT32, WT_VARINT], int64: [K_INT64, WT_VARINT],
  uint32: [K_UINT32, WT_VARINT], uint64: [K_UINT64, WT_VARINT], sint32: [K_SINT32, WT_VARINT],
  fixed32: [K_FIXED32, WT_I32], fixed64: [K_FIXED64, WT_I64], sfixed64: [K_SFIXED64, WT_I64],
  bool: [K_BOOL, WT_VARINT], string: [K_STRING, WT_LEN], bytes: [K_BYTES, WT_LEN],
  enum: [K_ENUM, WT_VARINT], message: [K_MESSAGE, WT_LEN],
};

interface Opts {
  /** nested message or enum type name */
  type?: string;
  repeated?: boolean;
  oneof?: string;
  /** proto3 `optional`: presence is tracked, so a set default is still written */
  optional?: boolean;
  /** trace/span id: hex in OTLP/JSON instead of base64 */
  hex?: boolean;
  /** each occurrence is one telemetry item (span, data point, log record) */
  item?: boolean;
  /** on the path from the request down to the items; split() cuts along these */
  child?: boolean;
  /** not materialised with a default on decode (development-only dictionary fields) */
  sparse?: boolean;
}
type Spec = [no: number, protoName: string, kind: KindName, opts?: Opts];

const KV: Opts = { type: 'KeyValue', repeated: true };
const V: Opts = { oneof: 'value' };
const HEX: Opts = { hex: true };

const TABLE: Record<string, Spec[]> = {
  // common.proto, resource.proto
  AnyValue: [
    [1, 'string_value', 'string', V], [2, 'bool_value', 'bool', V], [3, 'int_value', 'int64', V],
    [4, 'double_value', 'double', V], [5, 'array_value', 'message', { ...V, type: 'ArrayValue' }],
    [6, 'kvlist_value', 'message', { ...V, type: 'KeyValueList' }], [7, 'bytes_value', 'bytes', V],
    [8, 'string_value_strindex', 'int32', V],
  ],
  ArrayValue: [[1, 'values', 'message', { type: 'AnyValue', repeated: true }]],
  KeyValueList: [[1, 'values', 'message', KV]],
  KeyValue: [[1, 'key', 'string'], [2, 'value', 'message', { type: 'AnyValue' }], [3, 'key_strindex', 'int32', { sparse: true }]],
  InstrumentationScope: [[1, 'name', 'string'], [2, 'version', 'string'], [3, 'attributes', 'message', KV], [4, 'dropped_attributes_count', 'uint32']],
  EntityRef: [[1, 'schema_url', 'string'], [2, 'type', 'string'], [3, 'id_keys', 'string', { repeated: true }], [4, 'description_keys', 'string', { repeated: true }]],
  Resource: [[1, 'attributes', 'message', KV], [2, 'dropped_attributes_count', 'uint32'], [3, 'entity_refs', 'message', { type: 'EntityRef', repeated: true }]],

  // trace.proto, trace_service.proto
  ExportTraceServiceRequest: [[1, 'resource_spans', 'message', { type: 'ResourceSpans', repeated: true, child: true }]],
  ResourceSpans: [[1, 'resource', 'message', { type: 'Resource' }], [2, 'scope_spans', 'message', { type: 'ScopeSpans', repeated: true, child: true }], [3, 'schema_url', 'string']],
  ScopeSpans: [[1, 'scope', 'message', { type: 'InstrumentationScope' }], [2, 'spans', 'message', { type: 'Span', repeated: true, item: true }], [3, 'schema_url', 'string']],
  Span: [
    [1, 'trace_id', 'bytes', HEX], [2, 'span_id', 'bytes', HEX], [3, 'trace_state', 'string'],
    [4, 'parent_span_id', 'bytes', HEX], [5, 'name', 'string'], [6, 'kind', 'enum', { type: 'SpanKind' }],
    [7, 'start_time_unix_nano', 'fixed64'], [8, 'end_time_unix_nano', 'fixed64'], [9, 'attributes', 'message', KV],
    [10, 'dropped_attributes_count', 'uint32'], [11, 'events', 'message', { type: 'Span_Event', repeated: true }],
    [12, 'dropped_events_count', 'uint32'], [13, 'links', 'message', { type: 'Span_Link', repeated: true }],
    [14, 'dropped_links_count', 'uint32'], [15, 'status', 'message', { type: 'Status' }], [16, 'flags', 'fixed32'],
  ],
  Span_Event: [[1, 'time_unix_nano', 'fixed64'], [2, 'name', 'string'], [3, 'attributes', 'message', KV], [4, 'dropped_attributes_count', 'uint32']],
  Span_Link: [
    [1, 'trace_id', 'bytes', HEX], [2, 'span_id', 'bytes', HEX], [3, 'trace_state', 'string'],
    [4, 'attributes', 'message', KV], [5, 'dropped_attributes_count', 'uint32'], [6, 'flags', 'fixed32'],
  ],
  Status: [[2, 'message', 'string'], [3, 'code', 'enum', { type: 'StatusCode' }]],

  // metrics.proto, metrics_service.proto
  ExportMetricsServiceRequest: [[1, 'resource_metrics', 'message', { type: 'ResourceMetrics', repeated: true, child: true }]],
  ResourceMetrics: [[1, 'resource', 'message', { type: 'Resource' }], [2, 'scope_metrics', 'message', { type: 'ScopeMetrics', repeated: true, child: true }], [3, 'schema_url', 'string']],
  ScopeMetrics: [[1, 'scope', 'message', { type: 'InstrumentationScope' }], [2, 'metrics', 'message', { type: 'Metric', repeated: true, child: true }], [3, 'schema_url', 'string']],
  Metric: [
    [1, 'name', 'string'], [2, 'description', 'string'], [3, 'unit', 'string'],
    [5, 'gauge', 'message', { type: 'Gauge', oneof: 'data', child: true }],
    [7, 'sum', 'message', { type: 'Sum', oneof: 'data', child: true }],
    [9, 'histogram', 'message', { type: 'Histogram', oneof: 'data', child: true }],
    [10, 'exponential_histogram', 'message', { type: 'ExponentialHistogram', oneof: 'data', child: true }],
    [11, 'summary', 'message', { type: 'Summary', oneof: 'data', child: true }],
    [12, 'metadata', 'message', KV],
  ],
  Gauge: [[1, 'data_points', 'message', { type: 'NumberDataPoint', repeated: true, item: true }]],
  Sum: [[1, 'data_points', 'message', { type: 'NumberDataPoint', repeated: true, item: true }], [2, 'aggregation_temporality', 'enum', { type: 'AggregationTemporality' }], [3, 'is_monotonic', 'bool']],
  Histogram: [[1, 'data_points', 'message', { type: 'HistogramDataPoint', repeated: true, item: true }], [2, 'aggregation_temporality', 'enum', { type: 'AggregationTemporality' }]],
  ExponentialHistogram: [[1, 'data_points', 'message', { type: 'ExponentialHistogramDataPoint', repeated: true, item: true }], [2, 'aggregation_temporality', 'enum', { type: 'AggregationTemporality' }]],
  Summary: [[1, 'data_points', 'message', { type: 'SummaryDataPoint', repeated: true, item: true }]],
  NumberDataPoint: [
    [2, 'start_time_unix_nano', 'fixed64'], [3, 'time_unix_nano', 'fixed64'], [4, 'as_double', 'double', V],
    [5, 'exemplars', 'message', { type: 'Exemplar', repeated: true }], [6, 'as_int', 'sfixed64', V],
    [7, 'attributes', 'message', KV], [8, 'flags', 'uint32'],
  ],
  HistogramDataPoint: [
    [2, 'start_time_unix_nano', 'fixed64'], [3, 'time_unix_nano', 'fixed64'], [4, 'count', 'fixed64'],
    [5, 'sum', 'double', { optional: true }], [6, 'bucket_counts', 'fixed64', { repeated: true }],
    [7, 'explicit_bounds', 'double', { repeated: true }], [8, 'exemplars', 'message', { type: 'Exemplar', repeated: true }],
    [9, 'attributes', 'message', KV], [10, 'flags', 'uint32'], [11, 'min', 'double', { optional: true }],
    [12, 'max', 'double', { optional: true }],
  ],
  ExponentialHistogramDataPoint: [
    [1, 'attributes', 'message', KV], [2, 'start_time_unix_nano', 'fixed64'], [3, 'time_unix_nano', 'fixed64'],
    [4, 'count', 'fixed64'], [5, 'sum', 'double', { optional: true }], [6, 'scale', 'sint32'],
    [7, 'zero_count', 'fixed64'], [8, 'positive', 'message', { type: 'ExponentialHistogramDataPoint_Buckets' }],
    [9, 'negative', 'message', { type: 'ExponentialHistogramDataPoint_Buckets' }], [10, 'flags', 'uint32'],
    [11, 'exemplars', 'message', { type: 'Exemplar', repeated: true }], [12, 'min', 'double', { optional: true }],
    [13, 'max', 'double', { optional: true }], [14, 'zero_threshold', 'double'],
  ],
  ExponentialHistogramDataPoint_Buckets: [[1, 'offset', 'sint32'], [2, 'bucket_counts', 'uint64', { repeated: true }]],
  SummaryDataPoint: [
    [2, 'start_time_unix_nano', 'fixed64'], [3, 'time_unix_nano', 'fixed64'], [4, 'count', 'fixed64'],
    [5, 'sum', 'double'], [6, 'quantile_values', 'message', { type: 'SummaryDataPoint_ValueAtQuantile', repeated: true }],
    [7, 'attributes', 'message', KV], [8, 'flags', 'uint32'],
  ],
  SummaryDataPoint_ValueAtQuantile: [[1, 'quantile', 'double'], [2, 'value', 'double']],
  Exemplar: [
    [2, 'time_unix_nano', 'fixed64'], [3, 'as_double', 'double', V], [4, 'span_id', 'bytes', HEX],
    [5, 'trace_id', 'bytes', HEX], [6, 'as_int', 'sfixed64', V], [7, 'filtered_attributes', 'message', KV],
  ],

  // logs.proto, logs_service.proto
  ExportLogsServiceRequest: [[1, 'resource_logs', 'message', { type: 'ResourceLogs', repeated: true, child: true }]],
  ResourceLogs: [[1, 'resource', 'message', { type: 'Resource' }], [2, 'scope_logs', 'message', { type: 'ScopeLogs', repeated: true, child: true }], [3, 'schema_url', 'string']],
  ScopeLogs: [[1, 'scope', 'message', { type: 'InstrumentationScope' }], [2, 'log_records', 'message', { type: 'LogRecord', repeated: true, item: true }], [3, 'schema_url', 'string']],
  LogRecord: [
    [1, 'time_unix_nano', 'fixed64'], [2, 'severity_number', 'enum', { type: 'SeverityNumber' }],
    [3, 'severity_text', 'string'], [5, 'body', 'message', { type: 'AnyValue' }], [6, 'attributes', 'message', KV],
    [7, 'dropped_attributes_count', 'uint32'], [8, 'flags', 'fixed32'], [9, 'trace_id', 'bytes', HEX],
    [10, 'span_id', 'bytes', HEX], [11, 'observed_time_unix_nano', 'fixed64'], [12, 'event_name', 'string'],
  ],

  // Export*ServiceResponse share one layout; only the JSON name of partial_success.rejected_* differs.
  ExportResponse: [[1, 'partial_success', 'message', { type: 'ExportPartialSuccess' }]],
  ExportPartialSuccess: [[1, 'rejected', 'int64'], [2, 'error_message', 'string']],
  // google/rpc/status.proto, google/protobuf/any.proto, google/rpc/error_details.proto, duration.proto
  RpcStatus: [[1, 'code', 'int32'], [2, 'message', 'string'], [3, 'details', 'message', { type: 'Any', repeated: true }]],
  Any: [[1, 'type_url', 'string'], [2, 'value', 'bytes']],
  RetryInfo: [[1, 'retry_delay', 'message', { type: 'Duration' }]],
  Duration: [[1, 'seconds', 'int64'], [2, 'nanos', 'int32']],
};

const severity: Record<string, number> = { SEVERITY_NUMBER_UNSPECIFIED: 0 };
['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'].forEach((lvl, i) => {
  for (let j = 0; j < 4; j++) severity[`SEVERITY_NUMBER_${lvl}${j ? j + 1 : ''}`] = i * 4 + j + 1;
});

/** Enum value names, accepted on JSON input only (OTLP/JSON writes the integers). */
export const ENUMS: Record<string, Record<string, number>> = {
  SpanKind: {
    SPAN_KIND_UNSPECIFIED: 0, SPAN_KIND_INTERNAL: 1, SPAN_KIND_SERVER: 2,
    SPAN_KIND_CLIENT: 3, SPAN_KIND_PRODUCER: 4, SPAN_KIND_CONSUMER: 5,
  },
  StatusCode: { STATUS_CODE_UNSET: 0, STATUS_CODE_OK: 1, STATUS_CODE_ERROR: 2 },
  AggregationTemporality: {
    AGGREGATION_TEMPORALITY_UNSPECIFIED: 0, AGGREGATION_TEMPORALITY_DELTA: 1, AGGREGATION_TEMPORALITY_CUMULATIVE: 2,
  },
  SeverityNumber: severity,
};

export interface FieldDesc {
  readonly no: number;
  /** lowerCamelCase: the model property and the OTLP/JSON key */
  readonly name: string;
  readonly protoName: string;
  readonly kindName: KindName;
  readonly kind: number;
  /** wire type of one value (a packed field's tag says LEN instead) */
  readonly wireType: number;
  /** the tag as written (no << 3 | wire type) and its varint length */
  readonly tag: number;
  readonly tagLen: number;
  readonly repeated: boolean;
  /** repeated scalar numbers: written packed, read packed or not */
  readonly packed: boolean;
  readonly oneof: string | undefined;
  /** a bit per oneof group of the message (0 if none): lets the decoder notice a second member */
  readonly oneofBit: number;
  /** other members of the same oneof (cleared when this one is decoded) */
  readonly siblings: readonly string[];
  /** written even when it holds the default value: oneof members and proto3 optional */
  readonly presence: boolean;
  readonly hex: boolean;
  /** trace ids 16 bytes, span ids 8 (or empty); 0 for other fields */
  readonly idLength: number;
  /** the validating scan checks this field's bytes: a string (UTF-8) or an id (its length) */
  readonly check: boolean;
  readonly item: boolean;
  readonly child: boolean;
  readonly sparse: boolean;
  readonly typeName: string | undefined;
  /** resolved after all descriptors exist */
  msg: MessageDesc | undefined;
  readonly enumValues: Record<string, number> | undefined;
  /** `"jsonKey":` with quotes, ready to append */
  readonly jsonKey: string;
}

export interface MessageDesc {
  readonly name: string;
  /** sorted by field number: the encoding order */
  readonly fields: readonly FieldDesc[];
  /** index = field number */
  readonly byNo: readonly (FieldDesc | undefined)[];
  /** camelCase and snake_case keys */
  readonly byJson: ReadonlyMap<string, FieldDesc>;
  /** a fresh decoded object before any field is read: proto3 defaults, an empty array per
   *  repeated field, nothing for message / oneof / optional fields */
  readonly create: () => any;
  /** fields leading towards the items (child or item): what counting and splitting follow */
  readonly pathFields: readonly FieldDesc[];
}

const EMPTY_BYTES = new Uint8Array(0);

function camel(s: string): string {
  return s.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function varintLen(v: number): number {
  let n = 1;
  while (v >= 0x80) { v = Math.floor(v / 128); n++; }
  return n;
}

function defaultOf(kind: number): unknown {
  switch (kind) {
    case K_INT64: case K_UINT64: case K_FIXED64: case K_SFIXED64: return 0n;
    case K_STRING: return '';
    case K_BOOL: return false;
    case K_BYTES: return EMPTY_BYTES;
    default: return 0;
  }
}

function defaultSource(kind: number): string {
  const v = defaultOf(kind);
  return v === EMPTY_BYTES ? 'EMPTY_BYTES' : typeof v === 'bigint' ? '0n' : JSON.stringify(v);
}

function build(name: string, specs: Spec[]): MessageDesc {
  const groups = [...new Set(specs.map((s) => s[3]?.oneof).filter((g) => g !== undefined))];
  const fields: FieldDesc[] = specs.map(([no, protoName, kindName, o = {}]) => {
    const [kind, wt] = KIND[kindName];
    const repeated = !!o.repeated;
    const packed = repeated && kind !== K_STRING && kind !== K_BYTES && kind !== K_MESSAGE;
    const tag = no * 8 + (packed ? WT_LEN : wt);
    const jsonName = camel(protoName);
    return {
      no, name: jsonName, protoName, kindName, kind, wireType: wt, tag,
      tagLen: varintLen(tag), repeated, packed, oneof: o.oneof, oneofBit: o.oneof ? 1 << groups.indexOf(o.oneof) : 0,
      siblings: o.oneof ? specs.filter((s) => s[3]?.oneof === o.oneof && s[0] !== no).map((s) => camel(s[1])) : [],
      presence: !!o.oneof || !!o.optional, hex: !!o.hex, idLength: o.hex ? (protoName === 'trace_id' ? 16 : 8) : 0, check: kind === K_STRING || !!o.hex, item: !!o.item, child: !!o.child, sparse: !!o.sparse,
      typeName: o.type, msg: undefined, enumValues: kind === K_ENUM ? ENUMS[o.type!] : undefined,
      jsonKey: JSON.stringify(jsonName) + ':',
    };
  });
  fields.sort((a, b) => a.no - b.no);
  const byNo: (FieldDesc | undefined)[] = [];
  const byJson = new Map<string, FieldDesc>();
  const init: string[] = [];
  for (const f of fields) {
    byNo[f.no] = f;
    byJson.set(f.name, f);
    byJson.set(f.protoName, f);
    if (f.repeated) init.push(`${JSON.stringify(f.name)}: []`);
    else if (!f.presence && !f.sparse && f.kind !== K_MESSAGE) init.push(`${JSON.stringify(f.name)}: ${defaultSource(f.kind)}`);
  }
  // An object literal per message type: one hidden class per type and the fastest allocation V8
  // has, which a generic spread-and-assign cannot match. Generated once here, from the table only.
  const create = new Function('EMPTY_BYTES', `return function create${name}() { return { ${init.join(', ')} }; };`)(EMPTY_BYTES) as () => any;
  for (let i = 0; i < byNo.length; i++) byNo[i] ??= undefined; // dense array: fast indexed loads
  return {
    name, fields, byNo, byJson, create,
    pathFields: fields.filter((f) => f.child || f.item),
  };
}

export const MESSAGES: Readonly<Record<string, MessageDesc>> = Object.fromEntries(
  Object.entries(TABLE).map(([name, specs]) => [name, build(name, specs)]),
);
for (const d of Object.values(MESSAGES)) {
  for (const f of d.fields) {
    if (f.kind === K_MESSAGE) {
      f.msg = MESSAGES[f.typeName!];
      if (!f.msg) throw new Error(`schema: ${d.name}.${f.name} refers to unknown ${f.typeName}`);
    }
  }
}

export type SignalName = 'traces' | 'metrics' | 'logs';
export const REQUEST_DESC: Readonly<Record<SignalName, MessageDesc>> = {
  traces: MESSAGES.ExportTraceServiceRequest!,
  metrics: MESSAGES.ExportMetricsServiceRequest!,
  logs: MESSAGES.ExportLogsServiceRequest!,
};
