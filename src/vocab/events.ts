// Event names of the log records that carry agent events (DESIGN.md "Data inside the pipeline"),
// and the severity numbers fleetcol gives them. Receivers write these; the sse exporter and the
// fleet connector read them.
import { FAILED_STATES, INTERRUPTED_STATES, type TaskState } from './a2a.js';

/** The attribute that names an event record (the OTLP LogRecord.event_name field carries it too). */
export const EVENT_NAME = 'event.name';

export const AgentEventName = {
  taskStatus: 'a2a.task.status',
  taskArtifact: 'a2a.task.artifact',
  message: 'a2a.message',
  agentCard: 'a2a.agent.card',
  capabilityChanged: 'a2a.agent.capability_changed',
  heartbeat: 'fleet.agent.heartbeat',
  online: 'fleet.agent.online',
  offline: 'fleet.agent.offline',
  status: 'fleet.agent.status',
  maintenance: 'fleet.agent.maintenance',
  metrics: 'fleet.agent.metrics',
  warning: 'fleet.agent.warning',
  error: 'fleet.agent.error',
  alert: 'fleet.alert',
  /** An event of a plain feed with a name fleetcol does not know; `fleet.feed.event_type` says which. */
  feedEvent: 'fleet.feed.event',
} as const;

/** Attributes of agent event records beyond the GenAI and A2A ones. */
export const EventAttr = {
  alertName: 'alert.name',
  alertState: 'alert.state',
  feedEventType: 'fleet.feed.event_type',
  feedEventId: 'fleet.feed.event_id',
  feedUrl: 'fleet.feed.url',
  artifactId: 'a2a.artifact.id',
  artifactName: 'a2a.artifact.name',
  messageId: 'a2a.message.id',
  messageRole: 'a2a.message.role',
  agentVersion: 'a2a.agent.version',
  agentInterfaces: 'a2a.agent.interfaces',
  agentCapabilities: 'a2a.agent.capabilities',
} as const;

/** OTLP severity numbers (SeverityNumber: INFO 9, WARN 13, ERROR 17). */
export const Severity = { debug: 5, info: 9, warn: 13, error: 17 } as const;
export const SEVERITY_TEXT: Readonly<Record<number, string>> = { 5: 'DEBUG', 9: 'INFO', 13: 'WARN', 17: 'ERROR' };

/** A task state's severity: failed and rejected are errors, waiting on the client (input-required,
 *  auth-required) and canceled are warnings, the rest info. */
export function severityOfState(s: TaskState | undefined): number {
  if (s === undefined) return Severity.info;
  if (s === 'failed' || s === 'rejected') return Severity.error;
  if (INTERRUPTED_STATES.has(s) || FAILED_STATES.has(s)) return Severity.warn;
  return Severity.info;
}
