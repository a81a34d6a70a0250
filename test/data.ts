// Builders of realistic OTLP requests for tests.
import { randomBytes } from 'node:crypto';
import { Telemetry, type ExportTraceServiceRequest, type KeyValue } from '../src/pdata/telemetry.js';

const str = (key: string, v: string): KeyValue => ({ key, value: { stringValue: v } });
const int = (key: string, v: number): KeyValue => ({ key, value: { intValue: BigInt(v) } });

/** `spans` spans of an agent's invoke_agent/chat work, each with ~10 attributes and 2 events. */
export function traceRequest(spans: number, opts: { service?: string } = {}): ExportTraceServiceRequest {
  const traceId = randomBytes(16);
  const start = BigInt(Date.now()) * 1_000_000n;
  return {
    resourceSpans: [
      {
        resource: { attributes: [str('service.name', opts.service ?? 'agent-svc'), str('gen_ai.agent.id', 'agent-1')], droppedAttributesCount: 0 } as never,
        schemaUrl: '',
        scopeSpans: [
          {
            scope: { name: 'test', version: '1.0.0', attributes: [], droppedAttributesCount: 0 } as never,
            schemaUrl: '',
            spans: Array.from({ length: spans }, (_, i) => ({
              traceId,
              spanId: randomBytes(8),
              parentSpanId: new Uint8Array(0),
              traceState: '',
              flags: 0,
              name: `chat gpt-4o #${i}`,
              kind: 3,
              startTimeUnixNano: start + BigInt(i) * 1000n,
              endTimeUnixNano: start + BigInt(i) * 1000n + 5_000_000n,
              attributes: [
                str('gen_ai.operation.name', 'chat'),
                str('gen_ai.provider.name', 'openai'),
                str('gen_ai.request.model', 'gpt-4o'),
                int('gen_ai.usage.input_tokens', 120 + i),
                int('gen_ai.usage.output_tokens', 40),
                str('gen_ai.agent.id', 'agent-1'),
                str('gen_ai.conversation.id', 'conv-42'),
                { key: 'gen_ai.request.temperature', value: { doubleValue: 0.2 } },
                { key: 'stream', value: { boolValue: true } },
                int('seq', i),
              ],
              droppedAttributesCount: 0,
              events: [
                { timeUnixNano: start + 1000n, name: 'gen_ai.content.prompt', attributes: [str('role', 'user')], droppedAttributesCount: 0 },
                { timeUnixNano: start + 2000n, name: 'gen_ai.content.completion', attributes: [str('role', 'assistant')], droppedAttributesCount: 0 },
              ],
              droppedEventsCount: 0,
              links: [],
              droppedLinksCount: 0,
              status: { code: 0, message: '' },
            })),
          },
        ],
      },
    ],
  } as unknown as ExportTraceServiceRequest;
}

export function traces(spans: number): Telemetry {
  return Telemetry.fromRequest('traces', traceRequest(spans));
}

/** The decoded request of a traces batch (narrowed from the signal union); throws on another signal. */
export function traceRequestOf(tel: Telemetry): ExportTraceServiceRequest {
  const req = tel.request();
  if (!('resourceSpans' in req)) throw new TypeError(`expected a traces batch, got ${tel.signal}`);
  return req;
}

/** The protobuf encoding of traces(spans), copied onto an ArrayBuffer of its own: so it is also a
 *  valid fetch() body, whose BodyInit takes no view typed as maybe on a SharedArrayBuffer. */
export function traceBytes(spans: number): Buffer<ArrayBuffer> {
  return Buffer.from(traces(spans).toProto());
}
