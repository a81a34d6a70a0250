// The A2A vocabulary: attribute names and task states. v0.3 spells states in lower case with
// hyphens (`input-required`), v1.0 as proto enum names (`TASK_STATE_INPUT_REQUIRED`); fleetcol
// reads both (and the common variants) and writes the v0.3 form, which is the one most agents send.

export const A2A = {
  taskId: 'a2a.task.id',
  taskState: 'a2a.task.state',
  taskProgress: 'a2a.task.progress',
  contextId: 'a2a.context.id',
  methodName: 'a2a.method.name',
  protocolVersion: 'a2a.protocol.version',
  agentUrl: 'a2a.agent.url',
} as const;

export type TaskState =
  | 'submitted'
  | 'working'
  | 'input-required'
  | 'auth-required'
  | 'completed'
  | 'failed'
  | 'canceled'
  | 'rejected'
  | 'unknown';

const STATES: Readonly<Record<string, TaskState>> = {
  submitted: 'submitted',
  working: 'working',
  'input-required': 'input-required',
  'auth-required': 'auth-required',
  completed: 'completed',
  failed: 'failed',
  canceled: 'canceled',
  cancelled: 'canceled',
  rejected: 'rejected',
  unknown: 'unknown',
  unspecified: 'unknown',
};

/** Longest state string looked at; anything longer is not a state. */
const MAX_STATE_LENGTH = 64;

/** Any spelling of an A2A task state → its v0.3 form; undefined when it is none. Accepts
 *  `TASK_STATE_INPUT_REQUIRED`, `input-required`, `input_required`, `INPUT_REQUIRED`, `cancelled`. */
export function taskState(raw: string | undefined): TaskState | undefined {
  if (raw === undefined || raw.length > MAX_STATE_LENGTH) return undefined;
  let s = raw.trim().toLowerCase();
  if (s.startsWith('task_state_')) s = s.slice('task_state_'.length);
  s = s.replaceAll('_', '-');
  return STATES[s];
}

const V10: Readonly<Record<TaskState, string>> = {
  submitted: 'TASK_STATE_SUBMITTED',
  working: 'TASK_STATE_WORKING',
  'input-required': 'TASK_STATE_INPUT_REQUIRED',
  'auth-required': 'TASK_STATE_AUTH_REQUIRED',
  completed: 'TASK_STATE_COMPLETED',
  failed: 'TASK_STATE_FAILED',
  canceled: 'TASK_STATE_CANCELED',
  rejected: 'TASK_STATE_REJECTED',
  unknown: 'TASK_STATE_UNSPECIFIED',
};

/** The v1.0 spelling of a state. */
export const taskStateV10 = (s: TaskState): string => V10[s];

/** States a task never leaves. */
export const TERMINAL_STATES: ReadonlySet<TaskState> = new Set(['completed', 'failed', 'canceled', 'rejected']);
/** Terminal states that are not a success. */
export const FAILED_STATES: ReadonlySet<TaskState> = new Set(['failed', 'canceled', 'rejected']);
/** States where the task waits on its client. */
export const INTERRUPTED_STATES: ReadonlySet<TaskState> = new Set(['input-required', 'auth-required']);
/** States of a task under way. */
export const ACTIVE_STATES: ReadonlySet<TaskState> = new Set(['submitted', 'working']);
