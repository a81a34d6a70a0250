// pdata micro-benchmark: ns per span for the codec paths of a realistic trace request.
// Run: npx tsc -p tsconfig.json && node dist/bench/pdata.js
import { loadavg } from 'node:os';
import { decodeMessage } from '../src/pdata/decode.js';
import { protobufjsDescriptor } from '../src/pdata/pbjs.js';
import { REQUEST_DESC } from '../src/pdata/schema.js';
import { Telemetry, type ExportTraceServiceRequest, type KeyValue, type Span } from '../src/pdata/telemetry.js';

const SPANS = 100;
const RUNS = 9;

const s = (key: string, v: string): KeyValue => ({ key, value: { stringValue: v } });
const i = (key: string, v: number): KeyValue => ({ key, value: { intValue: BigInt(v) } });

function request(seed: number): ExportTraceServiceRequest {
  const t0 = 1_750_000_000_000_000_000n + BigInt(seed) * 1_000_000_000n;
  const id = (n: number, len: number) => Uint8Array.from({ length: len }, (_, k) => (n * 31 + k * 7 + seed) & 0xff);
  const spans: Span[] = Array.from({ length: SPANS }, (_, n) => ({
    traceId: id(n >> 4, 16), spanId: id(n, 8), traceState: '', parentSpanId: n % 16 ? id(n - 1, 8) : new Uint8Array(0),
    flags: 257, name: n % 3 ? 'chat gpt-4o' : 'execute_tool search_web', kind: n % 3 ? 3 : 1,
    startTimeUnixNano: t0 + BigInt(n) * 1_000_000n, endTimeUnixNano: t0 + BigInt(n) * 1_000_000n + 734_512n,
    attributes: [
      s('gen_ai.operation.name', 'chat'), s('gen_ai.provider.name', 'openai'), s('gen_ai.request.model', 'gpt-4o'),
      s('gen_ai.response.model', 'gpt-4o-2024-08-06'), i('gen_ai.usage.input_tokens', 1200 + n), i('gen_ai.usage.output_tokens', 80 + n),
      s('gen_ai.conversation.id', `conv-${seed}-${n >> 3}`), { key: 'gen_ai.request.temperature', value: { doubleValue: 0.2 } },
      { key: 'gen_ai.response.finish_reasons', value: { arrayValue: { values: [{ stringValue: 'stop' }] } } }, s('server.address', 'api.openai.com'),
    ],
    droppedAttributesCount: 0,
    events: [
      { timeUnixNano: t0 + 100n, name: 'gen_ai.user.message', attributes: [s('gen_ai.system', 'openai'), s('role', 'user')], droppedAttributesCount: 0 },
      { timeUnixNano: t0 + 900n, name: 'gen_ai.choice', attributes: [s('gen_ai.system', 'openai'), i('index', 0)], droppedAttributesCount: 0 },
    ],
    droppedEventsCount: 0, links: [], droppedLinksCount: 0, status: { code: n % 10 === 0 ? 2 : 0, message: '' },
  }));
  return {
    resourceSpans: [{
      resource: {
        attributes: [s('service.name', 'agent-fleet'), s('service.version', '2.4.1'), s('host.name', 'node-17'), s('gen_ai.agent.id', `agent-${seed}`), i('process.pid', 4242)],
        droppedAttributesCount: 0,
      },
      schemaUrl: 'https://opentelemetry.io/schemas/1.30.0',
      scopeSpans: [{ scope: { name: 'fleet.agent', version: '1.0.0', attributes: [], droppedAttributesCount: 0 }, schemaUrl: '', spans }],
    }],
  };
}

interface Case { name: string; perCall: number; fn: () => unknown; samples: number[] }
const cases: Case[] = [];
const add = (name: string, perCall: number, fn: () => unknown) => cases.push({ name, perCall, fn, samples: [] });

/** Runs the cases round-robin (so that load from elsewhere hits them alike); median ns per span. */
function runAll(): void {
  for (const c of cases) for (let k = 0; k < 20; k++) c.fn(); // warm-up
  for (let r = 0; r < RUNS; r++) {
    for (const c of cases) {
      const iters = Math.max(10, Math.round(4000 / c.perCall));
      const t = process.hrtime.bigint();
      for (let k = 0; k < iters; k++) c.fn();
      c.samples.push(Number(process.hrtime.bigint() - t) / iters / c.perCall);
    }
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

const desc = REQUEST_DESC.traces;
const bytes = Telemetry.fromRequest('traces', request(1)).toProto();
const json = Telemetry.fromProto('traces', bytes).toJSON();
const decoded = decodeMessage<ExportTraceServiceRequest>(desc, bytes);
const batches = Array.from({ length: 10 }, (_, k) => Telemetry.fromProto('traces', Telemetry.fromRequest('traces', request(k)).toProto()));
const big = Telemetry.merge(batches);
let sink = 0;

add('fromProto (validating scan + count)', SPANS, () => { sink += Telemetry.fromProto('traces', bytes).itemCount; });
add('decode (request() of a scanned batch)', SPANS, () => { sink += decodeMessage<ExportTraceServiceRequest>(desc, bytes).resourceSpans.length; });
add('fromProto + request()', SPANS, () => { sink += (Telemetry.fromProto('traces', bytes).request() as ExportTraceServiceRequest).resourceSpans.length; });
add('encode after modification (markModified + toProto)', SPANS, () => {
  const tel = Telemetry.fromRequest('traces', decoded);
  tel.markModified();
  sink += tel.toProto().length;
});
add('toJSON (of a decoded batch)', SPANS, () => { sink += Telemetry.fromRequest('traces', decoded).toJSON().length; });
add('fromJSON', SPANS, () => { sink += Telemetry.fromJSON('traces', json).itemCount; });
add('merge of 10 byte batches (100 spans each)', SPANS * 10, () => { sink += Telemetry.merge(batches).byteSize; });
add('split of 1000 spans into 10 x 100 (wire level)', SPANS * 10, () => { sink += big.split(100).length; });

// protobufjs, with a root built from the same schema table: the SDK 0.301 transformer ships no
// protobufjs root any more (it has its own hand-written writer), and no OTLP .proto is installed.
let pbjsNote = '';
try {
  const pkg = 'protobufjs'; // only a transitive dependency (of @grpc/proto-loader): load it if present
  const { default: protobuf } = await import(pkg);
  const T = protobuf.Root.fromJSON(protobufjsDescriptor()).lookupType('ExportTraceServiceRequest');
  const msg = T.decode(bytes);
  add('protobufjs decode', SPANS, () => { sink += T.decode(bytes).resourceSpans.length; });
  add('protobufjs encode', SPANS, () => { sink += T.encode(msg).finish().length; });
} catch (err) {
  pbjsNote = `protobufjs comparison skipped: ${(err as Error).message}`;
}

runAll();
console.log(`pdata bench: ${SPANS} spans/request, 10 attributes + 2 events per span, resource with 5 attributes`);
console.log(`request: ${bytes.length} bytes protobuf, ${json.length} bytes OTLP/JSON; median of ${RUNS} round-robin runs; load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
console.log('');
const width = Math.max(...cases.map((c) => c.name.length));
for (const c of cases) console.log(`${c.name.padEnd(width)}  ${median(c.samples).toFixed(0).padStart(7)} ns/span`);
if (pbjsNote) console.log(pbjsNote);
if (sink === 42) console.log(''); // keeps the results alive
