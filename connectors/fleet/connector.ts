// The fleet connector: traces and logs in, the fleet model's events out as log records
// (`fleet.agent.online`, `fleet.agent.offline`, `fleet.agent.status`, `fleet.task.started|progress|
// completed|failed`, `fleet.alert` raised and cleared), so any exporter gets agent states, task
// lifecycles and alerts, not only the sse feed. One model per connector id, shared by its
// traces → logs and logs → logs instances.
import type { Connector, CreateSettings } from '../../src/component.js';
import type { Consumer } from '../../src/consumer.js';
import { SEVERITY, type FleetEvent } from '../../src/fleet/event.js';
import { Fleet } from '../../src/fleet/model.js';
import type { AlertRule } from '../../src/fleet/alerts.js';
import { Telemetry, type AnyValue, type ExportLogsServiceRequest, type ExportTraceServiceRequest, type KeyValue, type LogRecord, type Signal } from '../../src/pdata/telemetry.js';
import type { BoundCounter } from '../../src/telemetry/metrics.js';
import { A2A, GenAI } from '../../src/vocab/index.js';

export interface FleetConnectorConfig {
  /** ms */
  offline_after: number;
  max_agents: number;
  alerts: AlertRule[];
  /** ms: events are sent on in batches this often */
  flush_interval: number;
  /** events waiting at most; past it the oldest are dropped (counted) */
  max_pending: number;
}

/** Fleet event type → event.name of its log record; types not listed are not sent. */
export const EVENT_NAMES: Readonly<Record<string, string>> = {
  agent_online: 'fleet.agent.online',
  agent_offline: 'fleet.agent.offline',
  status_change: 'fleet.agent.status',
  task_started: 'fleet.task.started',
  progress_update: 'fleet.task.progress',
  task_completed: 'fleet.task.completed',
  task_failed: 'fleet.task.failed',
  alert: 'fleet.alert',
};

/** Event data keys with a vocabulary name; others become `fleet.<key>`. */
const KEYS: Readonly<Record<string, string>> = {
  agent: GenAI.agentId,
  name: GenAI.agentName,
  task_id: A2A.taskId,
  state: A2A.taskState,
  status: 'fleet.agent.status',
  previous: 'fleet.agent.previous_status',
};
const SEVERITY_NUMBER = [5, 9, 13, 17]; // debug, info, warn, error

interface Shared {
  fleet: Fleet;
  pending: LogRecord[];
  users: Set<FleetConnector>;
  timer: NodeJS.Timeout | undefined;
  tick: NodeJS.Timeout | undefined;
}
const models = new Map<string, Shared>();

function value(v: unknown): AnyValue | undefined {
  if (typeof v === 'string') return { stringValue: v.length > 4096 ? v.slice(0, 4096) : v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (typeof v === 'number') return Number.isInteger(v) ? { intValue: BigInt(v) } : { doubleValue: v };
  return undefined;
}

/** A fleet event as a log record. */
export function recordOf(ev: FleetEvent, now: number): LogRecord | undefined {
  const eventName = EVENT_NAMES[ev.type];
  if (eventName === undefined) return undefined;
  const attributes: KeyValue[] = [{ key: 'event.name', value: { stringValue: eventName } }];
  let body: AnyValue | undefined;
  let traceId = new Uint8Array(0);
  for (const [k, v] of Object.entries(ev.data)) {
    if (v === undefined || v === null || k === 'time') continue;
    if (k === 'message') {
      body = value(typeof v === 'string' ? v : JSON.stringify(v));
      continue;
    }
    if (k === 'trace_id' && typeof v === 'string' && /^[0-9a-f]{32}$/.test(v)) {
      traceId = Uint8Array.from(Buffer.from(v, 'hex'));
      continue;
    }
    const key = ev.type === 'alert' && (k === 'name' || k === 'state') ? `fleet.alert.${k}` : (KEYS[k] ?? `fleet.${k}`);
    const x = value(v);
    if (x !== undefined) attributes.push({ key, value: x });
  }
  const t = typeof ev.data['time'] === 'number' ? (ev.data['time'] as number) : now;
  const ns = BigInt(Math.round(t * 1000)) * 1000n;
  return {
    timeUnixNano: ns, observedTimeUnixNano: BigInt(now) * 1_000_000n, severityNumber: SEVERITY_NUMBER[ev.severity] ?? 9, severityText: '',
    body, attributes, droppedAttributesCount: 0, flags: 0, traceId, spanId: new Uint8Array(0), eventName,
  } as LogRecord;
}

export class FleetConnector implements Connector {
  readonly mutatesData = false;
  private readonly shared: Shared;
  private readonly droppedC: BoundCounter;
  private readonly failedC: BoundCounter;
  private sending: Promise<void> = Promise.resolve();

  constructor(
    private readonly set: CreateSettings,
    private readonly cfg: FleetConnectorConfig,
    private readonly from: Signal,
    private readonly next: Consumer,
  ) {
    let shared = models.get(set.id);
    if (shared === undefined) {
      const pending: LogRecord[] = [];
      const fleet = new Fleet({ offlineAfterMs: cfg.offline_after, maxAgents: cfg.max_agents, alerts: cfg.alerts }, (ev) => {
        const r = recordOf(ev, Date.now());
        if (r === undefined) return;
        if (pending.length >= cfg.max_pending) {
          pending.shift();
          this.droppedC.inc();
        }
        pending.push(r);
      });
      shared = { fleet, pending, users: new Set(), timer: undefined, tick: undefined };
      models.set(set.id, shared);
    }
    this.shared = shared;
    this.droppedC = set.metrics.counter('connector_fleet_dropped', 'Fleet events dropped because max_pending were waiting to be sent.');
    this.failedC = set.metrics.counter('connector_fleet_send_failed', 'Fleet event records the next stage refused (dropped).');
  }

  async start(): Promise<void> {
    const s = this.shared;
    s.users.add(this);
    if (s.users.size === 1) {
      // The first instance sends for every instance of this id: they feed the same pipelines.
      s.timer = setInterval(() => void this.flush(), this.cfg.flush_interval);
      s.timer.unref();
      s.tick = setInterval(() => s.fleet.tick(Date.now()), 1000);
      s.tick.unref();
    }
  }

  async consume(batch: Telemetry): Promise<void> {
    const now = Date.now();
    if (this.from === 'traces' && batch.signal === 'traces') this.shared.fleet.traces(batch.request() as ExportTraceServiceRequest, now);
    else if (this.from === 'logs' && batch.signal === 'logs') this.shared.fleet.logs(batch.request() as ExportLogsServiceRequest, now);
    if (this.shared.pending.length >= 1000) void this.flush();
  }

  /** Sends the waiting records as one request. */
  flush(): Promise<void> {
    const s = this.shared;
    if (s.pending.length === 0) return this.sending;
    const records = s.pending.splice(0, s.pending.length);
    const req: ExportLogsServiceRequest = {
      resourceLogs: [{
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'fleetcol' } }], droppedAttributesCount: 0 },
        scopeLogs: [{ scope: { name: 'fleetcol/connector/fleet', version: '', attributes: [], droppedAttributesCount: 0 }, logRecords: records, schemaUrl: '' }],
        schemaUrl: '',
      }],
    } as ExportLogsServiceRequest;
    this.sending = this.sending.then(() => this.next.consume(Telemetry.fromRequest('logs', req))).catch((err) => {
      this.failedC.inc(records.length);
      this.set.logger.warn({ err: (err as Error).message, records: records.length }, 'next stage refused fleet event records; dropped');
    });
    return this.sending;
  }

  async shutdown(): Promise<void> {
    const s = this.shared;
    s.users.delete(this);
    if (s.users.size === 0) {
      clearInterval(s.timer);
      clearInterval(s.tick);
      models.delete(this.set.id);
      await this.flush();
    }
    await this.sending;
    this.set.metrics.dispose();
  }
}

export { SEVERITY };
