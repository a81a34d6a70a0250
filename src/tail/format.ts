// What `fleetcol tail` prints for one feed event: a JSON line (--raw), or a human-readable line
// `HH:MM:SS.mmm  type  agent  summary`, coloured on a terminal. The summary is made from the
// event's data (fields of the sse exporter's events, see "The live feed" in README.md); an event type
// it does not know is printed with its data as compact JSON. Strings from the feed are telemetry
// that anyone may have sent: control characters are escaped so they cannot drive the terminal.
import type { FeedMessage } from './follow.js';

type Data = Record<string, unknown>;

const ESC = '\u001b[';
const COLOURS = { red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36, gray: 90 } as const;
type Colour = keyof typeof COLOURS;
/** Agent ids get one of these, by hash, so one agent's lines stand out (as stern does for pods). */
const AGENT_PALETTE: readonly Colour[] = ['cyan', 'magenta', 'blue', 'yellow', 'green'];
const TYPE_WIDTH = 15;
const MAX_AGENT_WIDTH = 24;
const MAX_TEXT = 300;

/** Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org) or TERM=dumb. */
export function useColour(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  return stream.isTTY === true && (env.NO_COLOR ?? '') === '' && env.TERM !== 'dumb';
}

/** Local wall-clock time, HH:MM:SS.mmm. */
export function clock(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

export function parseData(m: FeedMessage): unknown {
  try {
    return JSON.parse(m.data);
  } catch {
    return m.data;
  }
}

/** One JSON object per event, for jq: {"id":..,"event":..,"data":<parsed>}. */
export function rawLine(m: FeedMessage): string {
  return `${JSON.stringify({ id: m.id ?? null, event: m.event, data: parseData(m) })}\n`;
}

/** Escapes control characters (terminal escape sequences included); folds newlines; bounds length. */
export function clean(s: string, max = MAX_TEXT): string {
  // eslint-disable-next-line no-control-regex
  let out = s.replace(/\r?\n/g, ' ↵ ').replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  if (out.length > max) out = `${out.slice(0, max - 1)}…`;
  return out;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? clean(v) : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

export function duration(ms: number): string {
  if (ms < 10) return `${Math.round(ms * 10) / 10}ms`;
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)}s`;
  const m = Math.floor(ms / 60_000);
  return `${m}m${Math.round((ms - m * 60_000) / 1000)}s`;
}

const usd = (v: number) => `$${v >= 0.01 || v === 0 ? v.toFixed(2) : v.toPrecision(2)}`;
const rate = (v: number) => (v >= 1000 ? `${(v / 1000).toFixed(1)}k` : String(Math.round(v * 10) / 10));

function withMessage(head: string, d: Data): string {
  const msg = str(d.message);
  return msg ? `${head}: ${msg}` : head;
}

function task(d: Data): string {
  return `task ${str(d.task_id) ?? '?'}`;
}

/** The summary of each event type the sse exporter sends; undefined for a type it does not know. */
const SUMMARY: Record<string, (d: Data) => string> = {
  span: (d) => {
    const parts = [str(d.name) ?? str(d.operation) ?? 'span'];
    const dur = num(d.duration_ms);
    if (dur !== undefined) parts.push(duration(dur));
    parts.push(str(d.status) ?? 'unset');
    if (str(d.model)) parts.push(`model=${str(d.model)}`);
    if (str(d.tool)) parts.push(`tool=${str(d.tool)}`);
    const inT = num(d.input_tokens);
    const outT = num(d.output_tokens);
    if (inT !== undefined || outT !== undefined) parts.push(`tokens=${inT ?? 0}/${outT ?? 0}`);
    if (num(d.cost) !== undefined) parts.push(`cost=${usd(num(d.cost)!)}`);
    return parts.join('  ');
  },
  task_started: (d) => withMessage(`${task(d)} started${str(d.state) && d.state !== 'working' ? ` (${str(d.state)})` : ''}`, d),
  task_completed: (d) => withMessage(`${task(d)} completed${num(d.duration_ms) !== undefined ? ` in ${duration(num(d.duration_ms)!)}` : ''}`, d),
  task_failed: (d) => withMessage(`${task(d)} ${str(d.state) ?? 'failed'}${num(d.duration_ms) !== undefined ? ` after ${duration(num(d.duration_ms)!)}` : ''}`, d),
  progress_update: (d) => {
    let head = d.task_id === undefined && str(d.event_name) ? str(d.event_name)! : task(d);
    if (str(d.state)) head += ` ${str(d.state)}`;
    if (num(d.progress) !== undefined) head += ` progress=${num(d.progress)}`;
    return withMessage(head, d);
  },
  status_change: (d) => `${str(d.previous) ?? '?'} -> ${str(d.status) ?? '?'}${str(d.reason) ? ` (${str(d.reason)})` : ''}`,
  agent_online: (d) => ['online', ...(['name', 'service'] as const).map((k) => (str(d[k]) && d[k] !== d.agent ? `${k}=${str(d[k])}` : ''))].filter(Boolean).join('  '),
  agent_offline: (d) => `offline${num(d.last_seen) !== undefined ? `, last seen ${clock(num(d.last_seen)!)}` : ''}`,
  error: (d) => {
    if (d.source === 'span') return withMessage(`span "${str(d.name) ?? '?'}" failed`, d);
    const what = [str(d.event_name), typeof d.severity === 'string' || typeof d.severity === 'number' ? clean(String(d.severity)) : undefined].filter(Boolean).join(' ');
    return withMessage(what || 'error', d);
  },
  alert: (d) => {
    const head = `${str(d.name) ?? 'alert'} ${str(d.state) ?? 'raised'}`;
    const value = num(d.value);
    const above = num(d.above);
    if (value === undefined || above === undefined) return withMessage(head, d);
    const shown = String(Number(value.toPrecision(3)));
    const win = num(d.window_ms);
    return `${head}: ${str(d.when) ?? 'value'} ${shown} ${value > above ? '>' : '<='} ${above}${win !== undefined ? ` over ${duration(win)}` : ''}`;
  },
  metrics_update: (d) => {
    const n = (k: string) => num(d[k]) ?? 0;
    return `agents ${n('agents_online')}/${n('agents')} online, ${n('agents_working')} working  tasks ${n('tasks_active')}  ` +
      `${rate(n('spans_per_s'))} spans/s  ${rate(n('tokens_per_s'))} tokens/s  ${rate(n('errors_per_s'))} errors/s  ` +
      `cost ${usd(n('cost'))} (total ${usd(n('cost_total'))})`;
  },
  heartbeat: () => 'heartbeat',
  auth_expired: (d) => `the token expires${num(d.expires_at) !== undefined ? ` at ${clock(num(d.expires_at)!)}` : ''}; the server closes the stream`,
  reset: (d) => {
    const from = str(d.last_event_id);
    const oldest = str(d.oldest_id);
    const why = str(d.reason) ?? 'resume point not in history';
    return `*** feed reset (${why}): events after ${from ?? '?'} may be missing; ` +
      (oldest ? `going on from the oldest event held, ${oldest}` : 'none held: going on with live events');
  },
};

function colourOf(type: string, d: Data): Colour | undefined {
  switch (type) {
    case 'error':
    case 'task_failed':
    case 'auth_expired':
      return 'red';
    case 'span':
      return d.status === 'error' ? 'red' : 'blue';
    case 'alert':
      return d.state === 'cleared' ? 'green' : 'yellow';
    case 'agent_offline':
      return 'yellow';
    case 'status_change':
      return d.status === 'error' ? 'red' : d.status === 'offline' ? 'yellow' : 'cyan';
    case 'agent_online':
    case 'task_completed':
      return 'green';
    case 'task_started':
    case 'progress_update':
      return 'cyan';
    case 'metrics_update':
    case 'heartbeat':
      return 'gray';
    case 'reset':
      return 'magenta';
    default:
      return undefined;
  }
}

function hash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) | 0;
  return Math.abs(h);
}

/** Human-readable lines; keeps the agent column as wide as the widest agent seen (up to a bound). */
export class HumanFormat {
  private agentWidth = 1;

  constructor(private readonly colour: boolean) {}

  private paint(c: Colour | undefined, s: string, bold = false): string {
    if (!this.colour || (c === undefined && !bold)) return s;
    const codes = [bold ? '1' : '', c ? String(COLOURS[c]) : ''].filter(Boolean).join(';');
    return `${ESC}${codes}m${s}${ESC}0m`;
  }

  line(m: FeedMessage, now = Date.now()): string {
    const parsed = parseData(m);
    const d: Data = parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Data) : {};
    const time = num(d.time) ?? num(d.end) ?? num(d.server_time) ?? now;
    const agent = str(d.agent) ?? '-';
    if (agent.length > this.agentWidth) this.agentWidth = Math.min(agent.length, MAX_AGENT_WIDTH);
    const summarise = Object.hasOwn(SUMMARY, m.event) ? SUMMARY[m.event] : undefined;
    const summary = summarise !== undefined && parsed === d ? summarise(d) : clean(typeof parsed === 'string' ? parsed : JSON.stringify(parsed), 1000);
    const type = clean(m.event, 40);
    const important = m.event === 'reset' || m.event === 'auth_expired';
    return `${this.paint('gray', clock(time))} ${this.paint(colourOf(m.event, d), type.padEnd(TYPE_WIDTH), important)} ` +
      `${this.paint(agent === '-' ? undefined : AGENT_PALETTE[hash(agent) % AGENT_PALETTE.length], agent.padEnd(this.agentWidth))}  ${summary}\n`;
  }
}
