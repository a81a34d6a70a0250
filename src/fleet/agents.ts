// The agent state machine. An agent is keyed by gen_ai.agent.id, else gen_ai.agent.name, else
// service.name. Any span, log record or metric point naming it is a sign of life: the first one (or
// the first after it went offline) emits agent_online; none for offline_after emits agent_offline.
// Task events move it between idle, working, input_required and error; each move is a status_change.
import type { AgentIdentity } from '../vocab/index.js';
import { SEVERITY, type FleetEvent } from './event.js';

export type AgentStatus = 'idle' | 'working' | 'input_required' | 'error' | 'offline';

export interface AgentInfo {
  id: string;
  name: string | undefined;
  service: string | undefined;
  status: AgentStatus;
  online: boolean;
  first_seen: number;
  last_seen: number;
  /** Tasks started and not yet ended (task id → start ms). */
  tasks: Map<string, number>;
  /** Tasks ended in the last LATE_SIGN_MS (task id → end ms, oldest first; at most ENDED_REMEMBERED). */
  ended: Map<string, number>;
  last_task: string | undefined;
  spans: number;
  errors: number;
  input_tokens: number;
  output_tokens: number;
  cost: number;
}


const MAX_TASKS_PER_AGENT = 1000;
const ENDED_REMEMBERED = 64;
/** A sign of a task this soon after it ended is a late one, not a new start: a status record that
 *  a span of another pipeline overtook (each pipeline batches on its own), a child span the genai
 *  processor held for its agent until after its root (agent_context.wait, 5s by default). */
const LATE_SIGN_MS = 10_000;

export class Agents {
  readonly byId = new Map<string, AgentInfo>();

  constructor(
    private readonly offlineAfterMs: number,
    private readonly maxAgents: number,
    private readonly emit: (ev: FleetEvent) => void,
  ) {}

  /** A sign of life; returns the agent's record (undefined if the table is full). */
  seen(who: AgentIdentity, now: number): AgentInfo | undefined {
    let a = this.byId.get(who.id);
    if (a === undefined) {
      if (this.byId.size >= this.maxAgents && !this.evictOffline()) return undefined;
      a = {
        id: who.id, name: who.name, service: who.service, status: 'idle', online: true,
        first_seen: now, last_seen: now, tasks: new Map(), ended: new Map(), last_task: undefined,
        spans: 0, errors: 0, input_tokens: 0, output_tokens: 0, cost: 0,
      };
      this.byId.set(who.id, a);
      this.emit({ type: 'agent_online', agent: a.id, severity: SEVERITY.info, data: { agent: a.id, name: a.name, service: a.service, status: a.status, time: now } });
      return a;
    }
    if (who.name !== undefined) a.name = who.name;
    if (who.service !== undefined) a.service = who.service;
    if (now > a.last_seen) a.last_seen = now;
    if (!a.online) {
      a.online = true;
      this.emit({ type: 'agent_online', agent: a.id, severity: SEVERITY.info, data: { agent: a.id, name: a.name, service: a.service, status: 'idle', time: now } });
      this.setStatus(a, 'idle', 'online', now);
    }
    return a;
  }

  setStatus(a: AgentInfo, status: AgentStatus, reason: string, now: number): void {
    if (a.status === status) return;
    const previous = a.status;
    a.status = status;
    this.emit({
      type: 'status_change',
      agent: a.id,
      severity: status === 'error' ? SEVERITY.warn : SEVERITY.info,
      data: { agent: a.id, status, previous, reason, time: now },
    });
  }

  taskStarted(a: AgentInfo, task: string, now: number): boolean {
    if (a.tasks.has(task)) return false;
    const ended = a.ended.get(task);
    if (ended !== undefined && now - ended < LATE_SIGN_MS) return false;
    if (a.tasks.size >= MAX_TASKS_PER_AGENT) a.tasks.delete(a.tasks.keys().next().value!);
    a.tasks.set(task, now);
    a.last_task = task;
    this.setStatus(a, 'working', 'task_started', now);
    return true;
  }

  taskEnded(a: AgentInfo, task: string, failed: boolean, now: number): number | undefined {
    const started = a.tasks.get(task);
    a.tasks.delete(task);
    a.ended.delete(task);
    for (const [id, at] of a.ended) {
      if (a.ended.size < ENDED_REMEMBERED && now - at < LATE_SIGN_MS) break;
      a.ended.delete(id);
    }
    a.ended.set(task, now);
    a.last_task = task;
    if (failed) this.setStatus(a, 'error', 'task_failed', now);
    else if (a.tasks.size === 0) this.setStatus(a, 'idle', 'task_completed', now);
    return started;
  }

  /** Marks agents silent for offline_after as offline. */
  sweep(now: number): void {
    const limit = now - this.offlineAfterMs;
    for (const a of this.byId.values()) {
      if (!a.online || a.last_seen > limit) continue;
      a.online = false;
      a.tasks.clear();
      this.emit({ type: 'agent_offline', agent: a.id, severity: SEVERITY.warn, data: { agent: a.id, name: a.name, service: a.service, last_seen: a.last_seen, time: now } });
      this.setStatus(a, 'offline', 'no sign of life', now);
    }
  }

  private evictOffline(): boolean {
    let victim: AgentInfo | undefined;
    for (const a of this.byId.values()) if (!a.online && (!victim || a.last_seen < victim.last_seen)) victim = a;
    if (!victim) return false;
    this.byId.delete(victim.id);
    return true;
  }

  /** The public view of an agent (for /v1/agents). */
  static view(a: AgentInfo): Record<string, unknown> {
    return {
      id: a.id, name: a.name, service: a.service, status: a.status, online: a.online,
      first_seen: a.first_seen, last_seen: a.last_seen, active_tasks: [...a.tasks.keys()], last_task: a.last_task,
      spans: a.spans, errors: a.errors, input_tokens: a.input_tokens, output_tokens: a.output_tokens, cost: a.cost,
    };
  }
}
