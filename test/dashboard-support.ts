// For the dashboard suites: a small fleet of agents traced with the official OpenTelemetry JS SDK
// (one TracerProvider per agent service, OTLP/HTTP protobuf to a fleetcol daemon), and
// Chromium (Debian's, through playwright-core) launched the way the browser suites launch it.
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { context, SpanKind, SpanStatusCode, trace, type Tracer } from '@opentelemetry/api';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { ROOT } from './helper.js';

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
export const ARTIFACTS = path.join(ROOT, 'test', 'artifacts');

/** Where screenshots go (test/artifacts, gitignored); made on first use. */
export function artifact(name: string): string {
  mkdirSync(ARTIFACTS, { recursive: true });
  return path.join(ARTIFACTS, name);
}

/** Chromium is there, or the suite says why it skips (and fails under CI, where it must run). */
export function chromiumOrSkip(t: { comment: (s: string) => void; fail: (s: string) => void }): boolean {
  if (existsSync(CHROMIUM)) return true;
  const why = `${CHROMIUM} is missing, so the dashboard's browser tests cannot run (apt-get install -y chromium)`;
  if (process.env.CI === 'true') t.fail(why);
  else t.comment(`SKIP: ${why}`);
  return false;
}

/** Usage of each chat call: 660 tokens, as in the report. */
export const CHAT_USAGE = { input: 500, output: 160 };

export interface Fleet {
  /** Runs one task (a trace) for `agent`: invoke_agent → chat, execute_tool, chat; `fail` fails the tool and the task. */
  task(agent: string, opts?: { fail?: boolean }): void;
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

/**
 * Agents of one service: their invoke_agent spans name the agent (gen_ai.agent.id/name); their chat
 * and tool spans do not (the genai processor gives them their ancestor's agent, and prices the
 * chat calls from the model name).
 */
export function sdkFleet(otlpHttpPort: number, service = 'dashboard-fleet'): Fleet {
  const exporter = new OTLPTraceExporter({ url: `http://127.0.0.1:${otlpHttpPort}/v1/traces` });
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': service }),
    spanProcessors: [new BatchSpanProcessor({ exporter, scheduledDelayMillis: 100, maxExportBatchSize: 512 })],
  });
  const tracer: Tracer = provider.getTracer('dashboard-test', '1.0.0');
  return {
    task(agent, opts = {}) {
      const root = tracer.startSpan(`invoke_agent ${agent}`, {
        kind: SpanKind.INTERNAL,
        attributes: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.id': agent, 'gen_ai.agent.name': agent, 'gen_ai.provider.name': 'openai' },
      });
      const ctx = trace.setSpan(context.active(), root);
      const chat = () => {
        const s = tracer.startSpan('chat gpt-4o-mini', {
          kind: SpanKind.CLIENT,
          attributes: {
            'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4o-mini',
            'gen_ai.response.model': 'gpt-4o-mini-2024-07-18', 'gen_ai.usage.input_tokens': CHAT_USAGE.input, 'gen_ai.usage.output_tokens': CHAT_USAGE.output,
          },
        }, ctx);
        s.end();
      };
      chat();
      const tool = tracer.startSpan('execute_tool run_tests', { attributes: { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'run_tests' } }, ctx);
      if (opts.fail) tool.setStatus({ code: SpanStatusCode.ERROR, message: 'exit status 1' });
      tool.end();
      chat();
      if (opts.fail) root.setStatus({ code: SpanStatusCode.ERROR, message: 'tests failed' });
      root.end();
    },
    flush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
}
