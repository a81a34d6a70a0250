// A feed event and its wire form. Each event is serialised once, when it is published, to the bytes
// of one SSE message (`id:`, `event:`, one JSON `data:` line); those bytes are shared by the history
// and by every connection that receives the event.

/** Low-lane events may be coalesced or dropped for a slow client; high-lane ones never are. */
export const LOW = 0;
export const HIGH = 1;
export type Lane = typeof LOW | typeof HIGH;

export { SEVERITY, SEVERITY_NAME, type SeverityName } from '../../src/fleet/event.js';

const LOW_LANE = new Set(['span', 'progress_update', 'metrics_update', 'heartbeat']);

export const EVENT_TYPES = [
  'subscription_confirmed', 'agent_online', 'agent_offline', 'status_change',
  'task_started', 'progress_update', 'task_completed', 'task_failed',
  'span', 'error', 'alert', 'metrics_update', 'heartbeat', 'auth_expired', 'reset',
] as const;
export const KNOWN_TYPES: ReadonlySet<string> = new Set(EVENT_TYPES);

export function laneOf(type: string): Lane {
  return LOW_LANE.has(type) ? LOW : HIGH;
}

/** What the pipeline side produces (the fleet model's events); the hub gives it an id and its bytes. */
export type { FleetEvent as FeedEvent } from '../../src/fleet/event.js';

/** A published event: id assigned, serialised once. */
export interface Prepared {
  /** Sequence number within this process's epoch; contiguous. */
  readonly seq: number;
  readonly type: string;
  readonly agent: string | undefined;
  readonly severity: number;
  readonly lane: Lane;
  /** Coalescing key for the low lane: type + agent. */
  readonly key: string;
  /** ms since the epoch, when published (history ttl). */
  readonly time: number;
  readonly bytes: Buffer;
}

/**
 * Event ids are `<epoch>-<seq>`: the epoch is the time (ms) this process's feed started, seq counts
 * from 1. Two processes never share an epoch, so an id from an earlier run is recognised as such
 * (the client gets a `reset`) and never confused with an id of this run.
 */
export class IdSpace {
  readonly epoch: string;
  constructor(epochMs = Date.now()) {
    this.epoch = String(epochMs);
  }
  id(seq: number): string {
    return `${this.epoch}-${seq}`;
  }
  /** The seq of an id of this epoch; undefined for another epoch's id or garbage. */
  seqOf(id: string): number | undefined {
    const dash = id.lastIndexOf('-');
    if (dash <= 0 || id.slice(0, dash) !== this.epoch) return undefined;
    const s = id.slice(dash + 1);
    if (!/^\d{1,15}$/.test(s)) return undefined;
    return Number(s);
  }
}

/** Most bytes of one event's JSON data. Events carry what clients sent (span names, attribute
 *  values); past this, every string in the event is cut to MAX_STRING_IN_BIG_EVENT characters and
 *  the event says `truncated: true`, so one 3 MiB span name does not cost 3 MiB in the history and
 *  in every client's queue. */
export const MAX_EVENT_DATA = 16 * 1024;
const MAX_STRING_IN_BIG_EVENT = 1024;

export function encodeEvent(id: string | undefined, type: string, data: unknown): Buffer {
  const idLine = id === undefined ? '' : `id: ${id}\n`;
  let json = JSON.stringify(data);
  // Bytes, not UTF-16 units (a cheap length test first: most events are far below).
  if (json.length * 3 > MAX_EVENT_DATA && Buffer.byteLength(json) > MAX_EVENT_DATA) {
    json = JSON.stringify({ ...(clip(data) as object), truncated: true });
    // Still too big (many fields): only what says which event this was.
    if (Buffer.byteLength(json) > MAX_EVENT_DATA) json = JSON.stringify({ truncated: true, bytes: Buffer.byteLength(json) });
  }
  return Buffer.from(`${idLine}event: ${type}\ndata: ${json}\n\n`);
}

function clip(v: unknown, depth = 0): unknown {
  if (typeof v === 'string') return v.length > MAX_STRING_IN_BIG_EVENT ? `${v.slice(0, MAX_STRING_IN_BIG_EVENT)}…` : v;
  if (v === null || typeof v !== 'object' || depth > 8) return v;
  if (Array.isArray(v)) return v.slice(0, 64).map((x) => clip(x, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k.length > 256 ? k.slice(0, 256) : k] = clip(x, depth + 1);
  return out;
}

export function retryLine(ms: number): Buffer {
  return Buffer.from(`retry: ${Math.max(0, Math.round(ms))}\n\n`);
}

export const HEARTBEAT_COMMENT = Buffer.from(':\n\n');
