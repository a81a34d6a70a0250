// Numbers, times and one-line summaries of feed events, for people (never raw JSON). Strings from
// the feed are telemetry anyone may have sent: they are only ever put in text nodes, and cut.

export type Data = Record<string, unknown>;

const MAX_TEXT = 240;

export const str = (v: unknown, max = MAX_TEXT): string | undefined =>
  typeof v === 'string' && v !== '' ? (v.length > max ? `${v.slice(0, max - 1)}…` : v) : undefined;
export const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

export function clock(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const m = Math.floor(ms / 60_000);
  if (m < 60) return `${m} min ${Math.round((ms - m * 60_000) / 1000)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** "4 s ago", "3 min ago"; "now" under a second. */
export function ago(ms: number, now: number): string {
  const d = Math.max(0, now - ms);
  if (d < 1000) return 'now';
  if (d < 60_000) return `${Math.floor(d / 1000)} s ago`;
  if (d < 3_600_000) return `${Math.floor(d / 60_000)} min ago`;
  return `${Math.floor(d / 3_600_000)} h ago`;
}

export function usd(v: number): string {
  if (v === 0) return '$0';
  if (v >= 100) return `$${v.toFixed(0)}`;
  if (v >= 0.01) return `$${v.toFixed(2)}`;
  return `$${v.toPrecision(2)}`;
}

/** 1234 → "1.2k", 2500000 → "2.5M". */
export function count(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e9) return `${(v / 1e9).toFixed(1)}G`;
  if (a >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
  if (a >= 1e4) return `${(v / 1e3).toFixed(1)}k`;
  if (Number.isInteger(v)) return String(v);
  return v.toFixed(a >= 10 ? 0 : 1);
}

/** Progress as a percentage: fractions (≤ 1) are scaled, anything else is taken as percent. */
export function percent(progress: number): number {
  const p = progress <= 1 ? progress * 100 : progress;
  return Math.max(0, Math.min(100, Math.round(p)));
}

/** Trace ids are 32 hex digits: the first 8 say enough on screen. */
export const short = (id: string) => (/^[0-9a-f]{32}$/.test(id) ? `${id.slice(0, 8)}…` : id.length > 40 ? `${id.slice(0, 39)}…` : id);

const task = (d: Data) => `task ${typeof d.task_id === 'string' && d.task_id ? short(d.task_id) : '?'}`;
const withMessage = (head: string, d: Data) => {
  const m = str(d.message, 160);
  return m ? `${head}: ${m}` : head;
};

/** What a row of the event log says about an event. */
export function summary(type: string, d: Data): string {
  switch (type) {
    case 'span': {
      const parts = [str(d.name, 120) ?? str(d.operation) ?? 'span'];
      const dur = num(d.duration_ms);
      if (dur !== undefined) parts.push(duration(dur));
      if (d.status === 'error') parts.push('failed');
      if (str(d.model)) parts.push(str(d.model, 60)!);
      const inT = num(d.input_tokens) ?? 0;
      const outT = num(d.output_tokens) ?? 0;
      if (inT + outT > 0) parts.push(`${count(inT)} in / ${count(outT)} out tokens`);
      const cost = num(d.cost);
      if (cost !== undefined) parts.push(usd(cost));
      return parts.join(' · ');
    }
    case 'task_started':
      return withMessage(`${task(d)} started`, d);
    case 'task_completed':
      return withMessage(`${task(d)} completed${num(d.duration_ms) !== undefined ? ` in ${duration(num(d.duration_ms)!)}` : ''}`, d);
    case 'task_failed':
      return withMessage(`${task(d)} ${str(d.state, 40) ?? 'failed'}${num(d.duration_ms) !== undefined ? ` after ${duration(num(d.duration_ms)!)}` : ''}`, d);
    case 'progress_update': {
      let head = d.task_id === undefined && str(d.event_name) ? str(d.event_name)! : task(d);
      if (str(d.state)) head += ` ${str(d.state, 40)}`;
      if (num(d.progress) !== undefined) head += ` ${percent(num(d.progress)!)} %`;
      return withMessage(head, d);
    }
    case 'status_change':
      return `${str(d.previous, 40) ?? '?'} → ${str(d.status, 40) ?? '?'}${str(d.reason) ? ` (${str(d.reason, 60)})` : ''}`;
    case 'agent_online':
      return `online${str(d.service) && d.service !== d.agent ? ` · service ${str(d.service, 80)}` : ''}`;
    case 'agent_offline':
      return `offline${num(d.last_seen) !== undefined ? ` · last seen ${clock(num(d.last_seen)!)}` : ''}`;
    case 'error':
      if (d.source === 'span') return withMessage(`span "${str(d.name, 120) ?? '?'}" failed`, d);
      return withMessage(str(d.event_name, 80) ?? 'error', d);
    case 'alert':
      return alertText(d);
    case 'metrics_update':
      return `${num(d.agents_online) ?? 0}/${num(d.agents) ?? 0} agents online · ${count(num(d.tokens_per_s) ?? 0)} tokens/s · ${count(num(d.spans_per_s) ?? 0)} spans/s`;
    case 'heartbeat':
      return 'heartbeat';
    case 'reset':
      return `feed reset (${str(d.reason, 120) ?? 'resume point not held'}): going on from ${str(d.oldest_id, 60) ?? 'the live edge'}`;
    default:
      return type;
  }
}

export function alertText(d: Data): string {
  const head = `${str(d.name, 80) ?? 'alert'} ${str(d.state, 20) ?? 'raised'}`;
  const value = num(d.value);
  const above = num(d.above);
  if (value === undefined || above === undefined) return withMessage(head, d);
  return `${head}: ${str(d.when, 40) ?? 'value'} ${Number(value.toPrecision(3))} ${value > above ? '>' : '≤'} ${above}`;
}

/** Severity names of the feed's min_severity filter. */
export const SEVERITIES = ['debug', 'info', 'warn', 'error'] as const;

/** Event types a person can pick in the log filter (the feed's own type names). */
export const LOG_TYPES = [
  'agent_online', 'agent_offline', 'status_change', 'task_started', 'progress_update', 'task_completed',
  'task_failed', 'span', 'error', 'alert', 'metrics_update',
] as const;

/** Agent states and the label shown with their colour. */
export const STATE_LABEL: Record<string, string> = {
  working: 'working', idle: 'idle', input_required: 'input required', error: 'error', offline: 'offline',
};
