// The demo's simulated agents: each is its own service with its own OpenTelemetry SDK (a tracer
// provider and a logger provider, exporting over OTLP), and runs tasks as instrumented agents do:
// an `invoke_agent` span around `chat <model>` calls and `execute_tool <tool>` calls, in the GenAI
// conventions' names, with token counts of the size real calls have, on models that
// @pydantic/genai-prices prices (so the genai processor gives each call its cost). A task is an A2A
// task: its id is `a2a.task.id` on every span and on `a2a.task.status` records (submitted at the
// start, working with `a2a.task.progress` after each tool), which the fleet model turns into
// task_started and progress_update; the root span's end makes task_completed or task_failed.
// Now and then a model call fails (the task fails), a tool fails (the agent goes on), or a tool is slow.
import { randomBytes, randomUUID } from 'node:crypto';
import { ROOT_CONTEXT, SeverityNumber, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Logger, type Span, type Tracer } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider, type LogRecordExporter } from '@opentelemetry/sdk-logs';
import { BatchSpanProcessor, TracerProvider, type SpanExporter } from '@opentelemetry/sdk-trace';
import { A2A, AgentEventName, GenAI, Operation } from '../vocab/index.js';
import { between, chance, intBetween, pick, type Pace } from './pace.js';

interface ToolProfile {
  name: string;
  ms: [number, number];
  /** now and then much slower */
  slow?: { p: number; ms: [number, number] };
  /** now and then fails; the agent carries on */
  fail?: { p: number; type: string; message: string };
}

export interface AgentProfile {
  role: string;
  title: string;
  description: string;
  provider: string;
  model: string;
  /** what the provider answers with (a dated snapshot, as real responses name it) */
  responseModel: string;
  server: string;
  responseIdPrefix: string;
  /** generation speed */
  msPerToken: number;
  /** share of a later call's input read from the provider's prompt cache (0: no caching) */
  cacheShare: [number, number];
  /** how a model call fails (rate limit, overload) */
  failure: { type: string; message: string };
  tools: ToolProfile[];
  tasks: string[];
}

export const PROFILES: readonly AgentProfile[] = [
  {
    role: 'researcher', title: 'Researcher', description: 'Finds and summarises sources',
    provider: 'openai', model: 'gpt-4o-mini', responseModel: 'gpt-4o-mini-2024-07-18', server: 'api.openai.com', responseIdPrefix: 'chatcmpl-',
    msPerToken: 3, cacheShare: [0.5, 0.8],
    failure: { type: 'RateLimitError', message: '429 Rate limit reached for gpt-4o-mini on tokens per min (TPM): Limit 200000' },
    tools: [
      { name: 'web_search', ms: [300, 900] },
      { name: 'fetch_url', ms: [200, 1200], fail: { p: 0.1, type: 'TimeoutError', message: 'fetch https://arxiv.org/abs/2405.01234 timed out after 10s' } },
    ],
    tasks: ['Summarise this week\'s papers on retrieval-augmented generation', 'Compare three vector databases for a 50M-document corpus', 'Find the latest guidance on EU AI Act transparency duties'],
  },
  {
    role: 'coder', title: 'Coder', description: 'Writes and tests patches',
    provider: 'anthropic', model: 'claude-sonnet-4-20250514', responseModel: 'claude-sonnet-4-20250514', server: 'api.anthropic.com', responseIdPrefix: 'msg_',
    msPerToken: 5, cacheShare: [0.7, 0.95],
    failure: { type: 'overloaded_error', message: '529 Overloaded' },
    tools: [
      { name: 'read_file', ms: [40, 150] },
      { name: 'apply_patch', ms: [80, 250] },
      { name: 'run_tests', ms: [1200, 2500], slow: { p: 0.3, ms: [5000, 8000] }, fail: { p: 0.12, type: 'AssertionError', message: '2 of 148 tests failed: test_refund_rounding, test_currency_cache' } },
    ],
    tasks: ['Fix the flaky checkout test', 'Add pagination to GET /v1/orders', 'Upgrade the HTTP client and fix what breaks'],
  },
  {
    role: 'support', title: 'Support', description: 'Answers customer tickets',
    provider: 'openai', model: 'gpt-4.1-mini', responseModel: 'gpt-4.1-mini-2025-04-14', server: 'api.openai.com', responseIdPrefix: 'chatcmpl-',
    msPerToken: 3, cacheShare: [0.5, 0.8],
    failure: { type: 'RateLimitError', message: '429 Rate limit reached for gpt-4.1-mini on requests per min (RPM): Limit 500' },
    tools: [
      { name: 'lookup_order', ms: [100, 300] },
      { name: 'issue_refund', ms: [250, 600], fail: { p: 0.15, type: 'PaymentGatewayError', message: 'payment gateway answered 502' } },
    ],
    tasks: ['Ticket #48213: parcel never arrived', 'Ticket #48230: charged twice', 'Ticket #48244: change delivery address'],
  },
  {
    role: 'planner', title: 'Planner', description: 'Breaks goals into plans and schedules them',
    provider: 'anthropic', model: 'claude-haiku-4-5', responseModel: 'claude-haiku-4-5-20251001', server: 'api.anthropic.com', responseIdPrefix: 'msg_',
    msPerToken: 2.5, cacheShare: [0.7, 0.95],
    failure: { type: 'overloaded_error', message: '529 Overloaded' },
    tools: [
      { name: 'search_calendar', ms: [100, 400] },
      { name: 'book_meeting', ms: [200, 600] },
    ],
    tasks: ['Plan the Q3 launch review', 'Schedule interviews for the platform role', 'Draft the on-call rota for August'],
  },
  {
    role: 'analyst', title: 'Analyst', description: 'Queries the warehouse and charts the answer',
    provider: 'gcp.gemini', model: 'gemini-2.5-flash', responseModel: 'gemini-2.5-flash', server: 'generativelanguage.googleapis.com', responseIdPrefix: '',
    msPerToken: 2, cacheShare: [0, 0],
    failure: { type: 'RESOURCE_EXHAUSTED', message: '429 Resource has been exhausted (e.g. check quota)' },
    tools: [
      { name: 'run_sql', ms: [500, 1500], slow: { p: 0.35, ms: [4000, 7000] } },
      { name: 'make_chart', ms: [200, 500] },
    ],
    tasks: ['Weekly revenue by region', 'Churn of accounts created in May', 'Top 20 products by return rate'],
  },
  {
    role: 'reviewer', title: 'Reviewer', description: 'Reviews pull requests',
    provider: 'openai', model: 'gpt-4.1', responseModel: 'gpt-4.1-2025-04-14', server: 'api.openai.com', responseIdPrefix: 'chatcmpl-',
    msPerToken: 4, cacheShare: [0.5, 0.8],
    failure: { type: 'RateLimitError', message: '429 Rate limit reached for gpt-4.1 on tokens per min (TPM): Limit 30000' },
    tools: [
      { name: 'read_diff', ms: [100, 300] },
      { name: 'post_review_comment', ms: [150, 400] },
    ],
    tasks: ['Review PR #912: retry budget for the exporter', 'Review PR #915: new billing webhook', 'Review PR #917: drop Node 18'],
  },
];

/** A failed model call fails its task this often. */
const MODEL_FAILURE_P = 0.06;

/** What the demo did, for its summary lines. */
export class DemoStats {
  tasks = 0;
  completed = 0;
  failed = 0;
  modelCalls = 0;
  toolCalls = 0;
  tokens = 0;
  exports = 0;
  exportErrors = 0;
  lastExportError: string | undefined;
}

export interface ExporterFactory {
  traces(): SpanExporter;
  logs(): LogRecordExporter;
}

type ExportCallback = Parameters<SpanExporter['export']>[1];

/** Counts failed exports (fleetcol down, or refusing): the SDK tells only its diag logger. */
function counted<E extends SpanExporter | LogRecordExporter>(inner: E, stats: DemoStats): E {
  const exportTo = inner.export.bind(inner) as (items: unknown[], done: ExportCallback) => void;
  const wrapped = {
    export: (items: unknown[], done: ExportCallback) =>
      exportTo(items, (r) => {
        if (r.code === 0) {
          stats.exports++;
        } else {
          stats.exportErrors++;
          stats.lastExportError = r.error?.message ?? 'export failed';
        }
        done(r);
      }),
    shutdown: () => inner.shutdown(),
    forceFlush: () => inner.forceFlush?.() ?? Promise.resolve(),
  };
  return wrapped as unknown as E;
}

export class SimAgent {
  readonly id: string;
  readonly name: string;
  /** tasks under way */
  running = 0;
  private readonly tracerProvider: TracerProvider;
  private readonly loggerProvider: LoggerProvider;
  private readonly tracer: Tracer;
  private readonly logger: Logger;

  constructor(
    private readonly p: AgentProfile,
    /** 1 for the first agent of a role, 2 for the next... */
    nth: number,
    exporters: ExporterFactory,
    private readonly pace: Pace,
    private readonly stats: DemoStats,
  ) {
    this.id = nth === 1 ? p.role : `${p.role}-${nth}`;
    this.name = nth === 1 ? p.title : `${p.title} ${nth}`;
    // One agent per service, so its identity is on the resource too: every span and record names
    // its agent at once, without waiting for the invoke_agent span, which ends last.
    const resource = resourceFromAttributes({
      'service.name': this.id,
      'service.version': '1.4.0',
      [GenAI.agentId]: this.id,
      [GenAI.agentName]: this.name,
    });
    this.tracerProvider = new TracerProvider({
      resource,
      spanProcessors: [new BatchSpanProcessor({ exporter: counted(exporters.traces(), stats), scheduledDelayMillis: 300, maxQueueSize: 4096, maxExportBatchSize: 512 })],
    });
    this.loggerProvider = new LoggerProvider({
      resource,
      processors: [new BatchLogRecordProcessor({ exporter: counted(exporters.logs(), stats), scheduledDelayMillis: 200, maxQueueSize: 4096, maxExportBatchSize: 512 })],
    });
    this.tracer = this.tracerProvider.getTracer('fleetcol-demo', '1.0.0');
    this.logger = this.loggerProvider.getLogger('fleetcol-demo', '1.0.0');
  }

  /** Runs one task to its end: as planned, or at once when the demo stops (see Pace). */
  async runTask(): Promise<void> {
    const p = this.p;
    this.running++;
    this.stats.tasks++;
    const taskId = randomUUID();
    const conversation = randomUUID();
    const common: Attributes = { [GenAI.conversationId]: conversation, [A2A.taskId]: taskId };
    const root = this.tracer.startSpan(`${Operation.invokeAgent} ${this.name}`, {
      kind: SpanKind.INTERNAL,
      attributes: {
        [GenAI.operationName]: Operation.invokeAgent, [GenAI.providerName]: p.provider, [GenAI.requestModel]: p.model,
        [GenAI.agentId]: this.id, [GenAI.agentName]: this.name, [GenAI.agentDescription]: p.description, ...common,
      },
    });
    const ctx = trace.setSpan(ROOT_CONTEXT, root);
    const rounds = intBetween(1, 3);
    const failAt = chance(MODEL_FAILURE_P) ? intBetween(0, rounds) : -1;
    this.status(ctx, taskId, 'submitted', pick(p.tasks));
    let input = intBetween(900, 2500);
    let failure: { type: string; message: string } | undefined;
    try {
      for (let i = 0; i <= rounds; i++) {
        const last = i === rounds;
        const output = last ? intBetween(150, 800) : intBetween(30, 180);
        const ok = await this.chat(ctx, common, input, output, i > 0, last, i === failAt);
        if (!ok) {
          failure = p.failure;
          break;
        }
        input += output;
        if (last) break;
        const tool = pick(p.tools);
        await this.tool(ctx, common, tool);
        input += intBetween(200, 2200); // the tool's result goes into the next call
        if (!this.pace.stopping) this.status(ctx, taskId, 'working', `step ${i + 1} of ${rounds + 1}: ${tool.name} done`, (i + 1) / (rounds + 1));
      }
    } finally {
      if (failure) {
        root.setAttribute(GenAI.errorType, failure.type);
        root.setStatus({ code: SpanStatusCode.ERROR, message: failure.message });
        this.stats.failed++;
      } else {
        root.setStatus({ code: SpanStatusCode.OK });
        this.stats.completed++;
      }
      root.end();
      this.running--;
    }
  }

  /** One model call; false when it failed. */
  private async chat(ctx: Context, common: Attributes, input: number, output: number, cached: boolean, last: boolean, fail: boolean): Promise<boolean> {
    const p = this.p;
    this.stats.modelCalls++;
    const span = this.tracer.startSpan(`${Operation.chat} ${p.model}`, {
      kind: SpanKind.CLIENT,
      attributes: {
        [GenAI.operationName]: Operation.chat, [GenAI.providerName]: p.provider, [GenAI.requestModel]: p.model,
        [GenAI.requestMaxTokens]: 4096, [GenAI.requestTemperature]: 0.2, 'server.address': p.server, 'server.port': 443, ...common,
      },
    }, ctx);
    if (fail) {
      await this.pace.wait(between(200, 600));
      return this.fail(span, p.failure);
    }
    await this.pace.wait(250 + output * p.msPerToken + between(0, 400));
    const cacheRead = cached && p.cacheShare[1] > 0 ? Math.floor(input * between(...p.cacheShare)) : 0;
    span.setAttributes({
      [GenAI.responseModel]: p.responseModel,
      [GenAI.responseId]: `${p.responseIdPrefix}${randomBytes(12).toString('hex')}`,
      [GenAI.finishReasons]: [last ? 'stop' : 'tool_calls'],
      [GenAI.inputTokens]: input,
      [GenAI.outputTokens]: output,
      ...(cacheRead > 0 ? { [GenAI.cacheReadTokens]: cacheRead } : {}),
    });
    this.stats.tokens += input + output;
    span.end();
    return true;
  }

  private async tool(ctx: Context, common: Attributes, tool: ToolProfile): Promise<void> {
    this.stats.toolCalls++;
    const span = this.tracer.startSpan(`${Operation.executeTool} ${tool.name}`, {
      kind: SpanKind.INTERNAL,
      attributes: {
        [GenAI.operationName]: Operation.executeTool, [GenAI.toolName]: tool.name, [GenAI.toolType]: 'function',
        [GenAI.toolCallId]: `call_${randomBytes(8).toString('hex')}`, ...common,
      },
    }, ctx);
    const slow = tool.slow !== undefined && chance(tool.slow.p);
    await this.pace.wait(between(...(slow ? tool.slow!.ms : tool.ms)));
    if (tool.fail !== undefined && chance(tool.fail.p)) this.fail(span, tool.fail);
    else span.end();
  }

  private fail(span: Span, f: { type: string; message: string }): false {
    span.setAttribute(GenAI.errorType, f.type);
    span.setStatus({ code: SpanStatusCode.ERROR, message: f.message });
    span.end();
    return false;
  }

  /** An `a2a.task.status` record, in the task's trace. */
  private status(ctx: Context, taskId: string, state: 'submitted' | 'working', message: string, progress?: number): void {
    this.logger.emit({
      eventName: AgentEventName.taskStatus,
      severityNumber: SeverityNumber.INFO,
      severityText: 'INFO',
      body: message,
      context: ctx,
      attributes: { [A2A.taskId]: taskId, [A2A.taskState]: state, ...(progress !== undefined ? { [A2A.taskProgress]: progress } : {}) },
    });
  }

  /** Sends what is buffered (records first: a task's status records go out before its root span)
   *  and stops the SDK. */
  async shutdown(): Promise<void> {
    await this.loggerProvider.shutdown();
    await this.tracerProvider.shutdown();
  }
}
