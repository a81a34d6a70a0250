// What the fleet model says: events about agents, tasks and alerts. The sse exporter publishes
// them as feed events; the fleet connector turns them into log records.

/** Severity of a fleet event (the feed's `min_severity` filter). */
export const SEVERITY = { debug: 0, info: 1, warn: 2, error: 3 } as const;
export type SeverityName = keyof typeof SEVERITY;
export const SEVERITY_NAME: readonly SeverityName[] = ['debug', 'info', 'warn', 'error'];

export interface FleetEvent {
  /** agent_online, agent_offline, status_change, task_started, progress_update, task_completed,
   *  task_failed, span, error, alert, metrics_update, heartbeat */
  type: string;
  /** The agent the event is about; undefined for fleet-wide events (metrics_update, ...). */
  agent: string | undefined;
  severity: number;
  data: Record<string, unknown>;
}
