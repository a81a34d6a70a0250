// One watched agent: its card (re-fetched; a change is a capability_changed record), the endpoint,
// binding (JSON-RPC, else HTTP+JSON) and protocol version the card offers, ListTasks polled (v1.0)
// for tasks to follow, and each non-terminal task followed over SSE (v1.0 `SubscribeToTask`, v0.3
// `tasks/resubscribe`, or their REST paths; see binding.ts) until it ends, with `GetTask` /
// `tasks/get` when a stream cannot say how it ended.
import type { EventSourceMessage } from 'eventsource-parser';
import { A2A, AgentEventName, EventAttr, Severity, TERMINAL_STATES, stringValue } from '../../src/vocab/index.js';
import { bindingFor, type Binding, type Endpoint } from './binding.js';
import type { AgentConfig } from './config.js';
import { chooseInterface, fetchCard, type CardSummary } from './card.js';
import type { Shared } from './context.js';
import { MAX_ID, clip, isObject } from './limits.js';
import { sleep } from './output.js';
import { plainRecord, type AgentRef, type Output } from './records.js';
import { SseSource, type Verdict } from './sse.js';
import { WireError, parsePayload, type ProtocolVersion } from './wire.js';

/** Most tasks one ListTasks page asks for. */
const LIST_PAGE_SIZE = 100;

export class AgentWatcher {
  readonly ref: AgentRef;
  private card: CardSummary | undefined;
  private etag: string | undefined;
  private endpoint: Endpoint;
  private binding: Binding;
  private readonly headers: Record<string, string>;
  private readonly following = new Set<string>();
  private listSupported = true;
  private cardOk: boolean | undefined;

  constructor(private readonly cfg: AgentConfig, private readonly s: Shared) {
    this.ref = { id: clip(cfg.name ?? cfg.url, MAX_ID), name: clip(cfg.name ?? cfg.url, MAX_ID), url: cfg.url };
    this.headers = { ...(cfg.headers ?? {}) };
    if (cfg.bearer_token) this.headers.authorization = `Bearer ${cfg.bearer_token}`;
    this.endpoint = { url: cfg.url, version: cfg.protocol_version ?? '1.0', binding: 'JSONRPC' };
    this.binding = this.bindingOf(this.endpoint);
  }

  private bindingOf(endpoint: Endpoint): Binding {
    return bindingFor(endpoint, { headers: this.headers, maxBytes: this.s.cfg.max_card_size, timeoutMs: this.s.cfg.request_timeout });
  }

  /** True when `name` is this agent's configured name, card name or URL. */
  matches(name: string): boolean {
    return name === this.cfg.name || name === this.cfg.url || name === this.ref.name;
  }

  get version(): ProtocolVersion {
    return this.endpoint.version;
  }

  async run(): Promise<void> {
    const { stop } = this.s;
    await this.refreshCard();
    void this.cardLoop();
    let baseline = true;
    while (!stop.aborted && this.listSupported && this.s.cfg.list_tasks_interval > 0 && this.endpoint.version === '1.0') {
      await this.listTasks(baseline).catch((err: Error) => this.s.logger.debug({ agent: this.ref.id, err: err.message }, 'ListTasks failed'));
      baseline = false;
      await sleep(this.s.cfg.list_tasks_interval, stop);
    }
  }

  private async cardLoop(): Promise<void> {
    const { stop, cfg } = this.s;
    let wait = cfg.card_refresh_interval;
    while (!stop.aborted) {
      await sleep(wait, stop);
      if (stop.aborted) return;
      wait = await this.refreshCard();
    }
  }

  /** Fetches the card; returns how long to wait before the next fetch. */
  private async refreshCard(): Promise<number> {
    const { cfg, logger } = this.s;
    const headers = { ...this.headers, 'a2a-version': this.cfg.protocol_version ?? '1.0' };
    try {
      const f = await fetchCard(this.cfg.url, headers, this.etag, cfg.max_card_size, cfg.request_timeout);
      if (this.cardOk !== true) logger.info({ agent: this.ref.id }, 'agent card read');
      this.cardOk = true;
      this.etag = f.etag ?? this.etag;
      if (f.card) this.cardRead(f.card);
      return Math.max(cfg.card_refresh_interval, f.maxAgeMs ?? 0);
    } catch (err) {
      this.s.cardFailures.inc();
      if (this.cardOk !== false) logger.warn({ agent: this.ref.id, err: clip((err as Error).message, 256) }, 'agent card unavailable; retrying');
      this.cardOk = false;
      return Math.min(cfg.card_refresh_interval, cfg.reconnect.max_interval);
    }
  }

  private cardRead(card: CardSummary): void {
    const prev = this.card;
    if (prev && prev.digest === card.digest) return;
    this.card = card;
    if (card.name !== undefined) {
      this.ref.name = card.name;
      if (this.cfg.name === undefined) this.ref.id = card.name;
    }
    const endpoint = chooseInterface(card, this.cfg.url, this.cfg.protocol_version);
    const e = this.endpoint;
    if (endpoint.url !== e.url || endpoint.version !== e.version || endpoint.binding !== e.binding) {
      this.endpoint = endpoint;
      this.binding = this.bindingOf(endpoint);
      this.s.logger.info({ agent: this.ref.id, url: endpoint.url, binding: endpoint.binding, version: endpoint.version }, 'agent endpoint chosen from its card');
    }
    const attrs = [
      { key: A2A.protocolVersion, value: stringValue(this.endpoint.version) },
      { key: EventAttr.agentInterfaces, value: stringValue(clip(JSON.stringify(card.interfaces))) },
      { key: EventAttr.agentCapabilities, value: stringValue(clip(JSON.stringify(card.capabilities))) },
      ...(card.version !== undefined ? [{ key: EventAttr.agentVersion, value: stringValue(card.version) }] : []),
    ];
    let out: Output;
    if (prev === undefined) {
      out = { records: [plainRecord(this.ref, AgentEventName.agentCard, Severity.info, attrs, `agent card of ${this.ref.name}`)], spans: [] };
    } else {
      this.s.cardChanges.inc();
      out = { records: [plainRecord(this.ref, AgentEventName.capabilityChanged, Severity.info, attrs, clip(describeChange(prev, card)))], spans: [] };
    }
    void this.s.pipeline.deliver(this.ref, out, this.s.stop);
  }

  private async listTasks(baseline: boolean): Promise<void> {
    let result: unknown;
    try {
      result = await this.binding.listTasks(LIST_PAGE_SIZE);
    } catch (err) {
      if (err instanceof WireError) {
        this.listSupported = false;
        this.s.logger.info({ agent: this.ref.id, err: err.message }, 'agent does not list tasks; following only tasks named in config or push notifications');
        return;
      }
      throw err;
    }
    const tasks = isObject(result) && Array.isArray(result.tasks) ? result.tasks.slice(0, LIST_PAGE_SIZE) : [];
    for (const t of tasks) {
      const ev = parsePayload({ task: t });
      if (ev?.taskId === undefined) continue;
      if (ev.state !== undefined && TERMINAL_STATES.has(ev.state)) {
        // Ended before fleetcol saw it: the first listing is history (remembered, not reported);
        // later ones ended between two polls and are reported once.
        const out: Output = { records: [], spans: [] };
        this.s.book.observe(this.ref, ev, out);
        if (!baseline) await this.s.pipeline.deliver(this.ref, out, this.s.stop);
        continue;
      }
      this.follow(ev.taskId);
    }
  }

  /** Follows a task until it ends, unless it is followed already or the budget is spent; true when
   *  this call started following it. */
  follow(taskId: string): boolean {
    const id = clip(taskId, MAX_ID);
    if (this.following.has(id) || this.s.book.ended(this.ref, id) || this.s.stop.aborted) return false;
    if (this.s.followed >= this.s.cfg.max_followed_tasks) {
      this.s.notFollowed.inc();
      return false;
    }
    this.following.add(id);
    this.s.followed++;
    const metrics = this.s.sseMetrics('task');
    void this.followTask(id, metrics).finally(() => {
      this.following.delete(id);
      this.s.followed--;
      metrics.release();
    });
    return true;
  }

  private async followTask(taskId: string, metrics: ReturnType<Shared['sseMetrics']>): Promise<void> {
    const { cfg, stop, logger } = this.s;
    const done = () => this.s.book.ended(this.ref, taskId);
    const source = new SseSource(
      { name: `${this.ref.id}/${taskId}`, maxEventBytes: cfg.max_event_size, initialMs: cfg.reconnect.initial_interval, maxMs: cfg.reconnect.max_interval, connectTimeoutMs: cfg.request_timeout, logger, metrics },
      {
        request: async () => (done() ? 'stop' : this.binding.subscribe(taskId)),
        event: async (msg: EventSourceMessage) => {
          let payload: unknown;
          try {
            payload = this.binding.payload(msg);
          } catch (err) {
            if (err instanceof WireError) return (await this.settle(taskId)) === 'stop' ? 'stop' : undefined;
            metrics.malformed.inc();
            return;
          }
          const ev = parsePayload(payload);
          if (ev === undefined) {
            metrics.malformed.inc();
            return;
          }
          ev.taskId ??= taskId;
          // v0.3 over REST sends v1.0-shaped JSON (its proto's): the version is the one spoken.
          ev.version = this.endpoint.version;
          const out: Output = { records: [], spans: [] };
          this.s.book.observe(this.ref, ev, out);
          await this.s.pipeline.deliver(this.ref, out, stop);
          return done() ? 'stop' : undefined;
        },
        // A refusal (task already terminal, unknown, streaming unsupported): ask GetTask.
        notStream: async (status: number, body: string): Promise<Verdict> => (this.binding.refused(status, body) === 'settle' ? this.settle(taskId) : 'retry'),
        ended: () => this.settle(taskId),
      },
    );
    await source.run(stop);
  }

  /** GetTask / tasks/get: reports the task's state; 'stop' when it ended or is unknown to the agent. */
  private async settle(taskId: string): Promise<Verdict> {
    let result: unknown;
    try {
      result = await this.binding.getTask(taskId);
    } catch (err) {
      if (err instanceof WireError) {
        this.s.logger.info({ agent: this.ref.id, task: taskId, err: err.message }, 'task unknown to its agent; no longer followed');
        return 'stop';
      }
      return 'retry';
    }
    const ev = this.endpoint.version === '0.3' || (isObject(result) && isObject(result.task)) ? parsePayload(result) : parsePayload({ task: result });
    if (ev === undefined) return 'stop';
    ev.taskId ??= taskId;
    ev.version = this.endpoint.version;
    const out: Output = { records: [], spans: [] };
    this.s.book.observe(this.ref, ev, out);
    await this.s.pipeline.deliver(this.ref, out, this.s.stop);
    return this.s.book.ended(this.ref, taskId) ? 'stop' : 'retry';
  }
}

function describeChange(a: CardSummary, b: CardSummary): string {
  const parts: string[] = [];
  if (a.name !== b.name) parts.push(`name ${a.name} → ${b.name}`);
  if (a.version !== b.version) parts.push(`version ${a.version} → ${b.version}`);
  const caps = new Set([...Object.keys(a.capabilities), ...Object.keys(b.capabilities)]);
  for (const c of caps) if (a.capabilities[c] !== b.capabilities[c]) parts.push(`${c} ${a.capabilities[c] ?? '-'} → ${b.capabilities[c] ?? '-'}`);
  if (JSON.stringify(a.interfaces) !== JSON.stringify(b.interfaces)) parts.push('interfaces changed');
  if (JSON.stringify(a.skills) !== JSON.stringify(b.skills)) parts.push('skills changed');
  return parts.length ? parts.join('; ') : 'agent card changed';
}
