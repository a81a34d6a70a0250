// Shared by the sse*.test.ts suites: an in-process sse exporter on a free port (config through the
// real loader), OTLP builders for agent spans and A2A log records, and a stream follower.
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import { stringify } from 'yaml';
import { registry } from '../src/components.js';
import { loadConfig } from '../src/config/load.js';
import { Telemetry, type KeyValue } from '../src/pdata/telemetry.js';
import { sseExporterFactory } from '../exporters/sse/factory.js';
import type { SseExporter, SseExporterConfig } from '../exporters/sse/exporter.js';
import type { Hub } from '../exporters/sse/hub.js';
import type { WriterPool } from '../exporters/sse/writers.js';
import { openStream, type ParsedEvent, type RawStream } from './sse-stream.js';
import { freePort, settings, tempFile, waitFor } from './helper.js';

export { openStream, type ParsedEvent, type RawStream };

export function sseConfig(over: Record<string, unknown>): SseExporterConfig {
  const doc = {
    receivers: { otlp: { protocols: { http: { endpoint: '127.0.0.1:1' } } } },
    exporters: { sse: over },
    service: { pipelines: { traces: { receivers: ['otlp'], exporters: ['sse'] } } },
  };
  const r = loadConfig({ files: [tempFile('sse.yaml', stringify(doc))], registry });
  if (r.errors.length > 0) throw new Error(JSON.stringify(r.errors));
  return (r.config as any).exporters.get('sse').config as SseExporterConfig;
}

export interface Feed {
  exp: SseExporter;
  base: string;
  set: ReturnType<typeof settings>;
  stop(): Promise<void>;
}

/** The exporter's own hub and writer pool (for the writers suites). */
export const internals = (f: Feed) => f.exp as unknown as { writers: WriterPool; hub: Hub };
/** The pids of the pool's writer processes, in slot order. */
export const writerPids = (f: Feed) => (internals(f).writers as unknown as { writers: { proc: { pid: number } }[] }).writers.map((w) => w.proc.pid);
/** A debug-level logger whose output is kept, to check what was logged. */
export function captureLog(): { logger: Logger; text: () => string } {
  let out = '';
  const logger = pino({ level: 'debug' }, new Writable({ write(c, _e, cb) { out += c; cb(); } }));
  return { logger, text: () => out };
}

/** Opens a stream and waits for it to get an event published after it opened (the feed works). */
export async function followsNewEvents(f: Feed): Promise<void> {
  const st = await openStream(`${f.base}/v1/events`);
  try {
    await waitEvent(st, (e) => e.type === 'subscription_confirmed');
    await f.exp.consume(spans([{ agent: 'a', name: 'after' }]));
    await waitEvent(st, (e) => e.data?.name === 'after', 'an event published after the stream opened');
  } finally {
    st.close();
  }
}

/** Sockets the exporter's server holds (its copies of handed streams are closed once sent). */
export const serverSockets = (f: Feed) => (f.exp as unknown as { server: { sockets: Set<unknown> } }).server.sockets.size;

export async function startFeed(over: Record<string, unknown> = {}, opts: { logger?: import('pino').Logger } = {}): Promise<Feed> {
  const port = await freePort();
  const cfg = sseConfig({ endpoint: `127.0.0.1:${port}`, heartbeat_interval: '0s', metrics_interval: '0s', flush_interval: '5ms', ...over });
  const set = settings('exporter', 'sse');
  if (opts.logger) set.logger = opts.logger;
  const exp = sseExporterFactory.createExporter!(set, cfg, ['traces', 'logs']) as SseExporter;
  await exp.start({ extension: () => undefined });
  let stopped = false;
  return {
    exp,
    set,
    base: `http://127.0.0.1:${port}`,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await exp.shutdown();
    },
  };
}

const s = (key: string, v: string): KeyValue => ({ key, value: { stringValue: v } });
const i = (key: string, v: number): KeyValue => ({ key, value: { intValue: BigInt(v) } });
const d = (key: string, v: number): KeyValue => ({ key, value: { doubleValue: v } });

export interface SpanSpec {
  agent: string;
  name?: string;
  op?: string;
  error?: boolean;
  root?: boolean;
  traceId?: Uint8Array;
  inTokens?: number;
  outTokens?: number;
  cost?: number;
  /** span end, ms since the epoch (default now) */
  endMs?: number;
  durationMs?: number;
  attrs?: KeyValue[];
}

export function spans(specs: SpanSpec[], service = 'svc'): Telemetry {
  const byAgent = new Map<string, SpanSpec[]>();
  for (const sp of specs) byAgent.set(sp.agent, [...(byAgent.get(sp.agent) ?? []), sp]);
  return Telemetry.fromRequest('traces', {
    resourceSpans: [...byAgent].map(([agent, list]) => ({
      resource: { attributes: [s('service.name', service), s('gen_ai.agent.id', agent)], droppedAttributesCount: 0 },
      schemaUrl: '',
      scopeSpans: [{
        scope: { name: 'test', version: '1', attributes: [], droppedAttributesCount: 0 },
        schemaUrl: '',
        spans: list.map((sp) => {
          const end = BigInt(Math.round((sp.endMs ?? Date.now()) * 1000)) * 1000n;
          const start = end - BigInt(Math.round((sp.durationMs ?? 5) * 1e6));
          const attrs = [s('gen_ai.operation.name', sp.op ?? 'chat'), ...(sp.attrs ?? [])];
          if (sp.inTokens !== undefined) attrs.push(i('gen_ai.usage.input_tokens', sp.inTokens));
          if (sp.outTokens !== undefined) attrs.push(i('gen_ai.usage.output_tokens', sp.outTokens));
          if (sp.cost !== undefined) attrs.push(d('gen_ai.usage.cost', sp.cost));
          return {
            traceId: sp.traceId ?? randomBytes(16), spanId: randomBytes(8),
            parentSpanId: sp.root === false ? randomBytes(8) : new Uint8Array(0),
            traceState: '', flags: 0, name: sp.name ?? `${sp.op ?? 'chat'} ${sp.agent}`, kind: 3,
            startTimeUnixNano: start, endTimeUnixNano: end, attributes: attrs, droppedAttributesCount: 0,
            events: [], droppedEventsCount: 0, links: [], droppedLinksCount: 0,
            status: { code: sp.error ? 2 : 0, message: sp.error ? 'boom' : '' },
          };
        }),
      }],
    })),
  } as never);
}

export interface RecordSpec {
  agent: string;
  event: string;
  state?: string;
  task?: string;
  severity?: number;
  body?: string;
  attrs?: KeyValue[];
}

export function records(specs: RecordSpec[]): Telemetry {
  const now = BigInt(Date.now()) * 1_000_000n;
  return Telemetry.fromRequest('logs', {
    resourceLogs: specs.map((r) => ({
      resource: { attributes: [s('service.name', 'svc'), s('gen_ai.agent.id', r.agent)], droppedAttributesCount: 0 },
      schemaUrl: '',
      scopeLogs: [{
        scope: { name: 'a2a', version: '1', attributes: [], droppedAttributesCount: 0 },
        schemaUrl: '',
        logRecords: [{
          timeUnixNano: now, observedTimeUnixNano: now, severityNumber: r.severity ?? 9, severityText: '',
          body: r.body === undefined ? undefined : { stringValue: r.body },
          attributes: [s('event.name', r.event), ...(r.state ? [s('a2a.task.state', r.state)] : []), ...(r.task ? [s('a2a.task.id', r.task)] : []), ...(r.attrs ?? [])],
          droppedAttributesCount: 0, flags: 0, traceId: new Uint8Array(0), spanId: new Uint8Array(0),
        }],
      }],
    })),
  } as never);
}

/** Waits until the stream holds an event matching `pred`; returns it. */
export function waitEvent(st: RawStream, pred: (e: ParsedEvent) => boolean, what = 'event', timeoutMs = 5000): Promise<ParsedEvent> {
  return waitFor(() => st.events.find(pred), timeoutMs, what);
}

export const types = (st: RawStream) => st.events.map((e) => e.type);

import net from 'node:net';
import { SseParser } from './sse-stream.js';

export interface SlowClient {
  socket: net.Socket;
  events: ParsedEvent[];
  retries: number[];
  /** Starts reading (it reads nothing until then). */
  read(): void;
  closed: Promise<void>;
  isClosed(): boolean;
}

/** A raw HTTP/1.1 client that sends its GET and then reads nothing until read() is called. */
export function slowClient(port: number, path: string, headers: Record<string, string> = {}): Promise<SlowClient> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('error', reject);
    socket.pause();
    socket.once('connect', () => {
      socket.off('error', reject);
      socket.on('error', () => {});
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`);
      let head = true;
      let text = '';
      let closedFlag = false;
      const c: SlowClient = {
        socket,
        events: [],
        retries: [],
        read: () => socket.resume(),
        closed: new Promise((r) => socket.once('close', () => { closedFlag = true; r(); })),
        isClosed: () => closedFlag,
      };
      const parser = new SseParser(
        (m) => c.events.push({ id: m.id, lastEventId: m.lastEventId, type: m.event, data: JSON.parse(m.data), at: Date.now() }),
        (ms) => c.retries.push(ms),
      );
      socket.setEncoding('utf8');
      socket.on('data', (d: string) => {
        if (head) {
          text += d;
          const end = text.indexOf('\r\n\r\n');
          if (end < 0) return;
          head = false;
          parser.push(text.slice(end + 4));
          return;
        }
        parser.push(d);
      });
      resolve(c);
    });
  });
}

export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}
