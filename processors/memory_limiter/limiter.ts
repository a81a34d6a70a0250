// The memory check behind the memory_limiter processor: every check_interval it reads what the
// process holds and decides whether to refuse. Soft limit = limit − spike: above it data is refused
// (retryable); above the hard limit, GC is also forced (when node runs with --expose-gc).
import os from 'node:os';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { memoryAccounting } from '../../src/memory.js';

const MIB = 1024 * 1024;

export interface LimitConfig {
  check_interval: number;
  limit_mib: number;
  spike_limit_mib: number;
  limit_percentage: number;
  spike_limit_percentage: number;
}

export interface MemoryReading {
  /** live bytes: V8 heap in use + memory outside it (buffers), or the pipeline's held bytes if more */
  used: number;
  rss: number;
}

/** How memory is read; tests replace it. */
export type Probe = () => MemoryReading;

export const defaultProbe: Probe = () => {
  const m = process.memoryUsage();
  return { used: Math.max(m.heapUsed + m.external, memoryAccounting.total()), rss: m.rss };
};

/** Memory the process may use: the cgroup's or the machine's. */
export function availableMemory(): number {
  const constrained = (process as { constrainedMemory?: () => number | undefined }).constrainedMemory?.();
  return constrained !== undefined && constrained > 0 ? Math.min(constrained, os.totalmem()) : os.totalmem();
}

export function limitsOf(cfg: LimitConfig, total = availableMemory()): { hard: number; soft: number } {
  const hard = cfg.limit_mib > 0 ? cfg.limit_mib * MIB : (total * cfg.limit_percentage) / 100;
  let spike = cfg.limit_mib > 0 ? cfg.spike_limit_mib * MIB : (total * cfg.spike_limit_percentage) / 100;
  if (spike <= 0) spike = hard / 5; // the collector's default: 20 % of the limit
  return { hard, soft: Math.max(0, hard - spike) };
}

type GcFn = () => void;

/** A full GC on demand: node's `gc` when run with --expose-gc, else one taken from a fresh V8
 *  context after setting the flag (node documents setFlagsFromString as "use with care": this flag
 *  only adds a global, so it is safe once at configure time). */
function gcFunction(): GcFn | undefined {
  const g = (globalThis as { gc?: GcFn }).gc;
  if (typeof g === 'function') return g;
  try {
    v8.setFlagsFromString('--expose-gc');
    const fn = runInNewContext('gc') as unknown;
    return typeof fn === 'function' ? (fn as GcFn) : undefined;
  } catch {
    return undefined;
  }
}

/** Forced GCs at most this often: a full GC of a large heap costs tens of milliseconds. */
const MIN_GC_INTERVAL_MS = 1000;

export class MemoryLimiter {
  readonly hard: number;
  readonly soft: number;
  refusing = false;
  last: MemoryReading = { used: 0, rss: 0 };
  forcedGc = 0;
  private timer: NodeJS.Timeout | undefined;
  private users = 0;
  private noGcNoted = false;
  private lastGc = 0;
  private gc: GcFn | undefined | null = null;

  constructor(cfg: LimitConfig, private readonly probe: Probe, private readonly note: (msg: string, fields: Record<string, unknown>) => void) {
    const l = limitsOf(cfg);
    this.hard = l.hard;
    this.soft = l.soft;
    this.interval = cfg.check_interval;
  }
  readonly interval: number;

  get running(): boolean {
    return this.users > 0;
  }

  start(): void {
    if (this.users++ > 0) return;
    this.check();
    // RSS counts against the limit: a limit below what the process takes at rest refuses all data.
    if (this.refusing) this.note('memory is above the soft limit at start: every request is refused until it falls; raise limit_mib (or limit_percentage) above what fleetcol takes at rest', { used: this.last.used, rss: this.last.rss, soft: this.soft, hard: this.hard });
    this.timer = setInterval(() => this.check(), Math.max(10, this.interval));
    this.timer.unref();
  }

  stop(): void {
    if (--this.users > 0) return;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  check(): void {
    let r = this.probe();
    // RSS counts too: a container's limit is on the process, not on its heap, and under a flood
    // RSS runs ~200 MiB ahead of live bytes (request buffers freed but not yet returned). Above
    // the soft limit a GC (at most once a second) returns what V8 and malloc can.
    if (r.used >= this.hard || r.rss >= this.soft) {
      if (this.gc === null) this.gc = gcFunction();
      const now = Date.now();
      if (this.gc !== undefined && now - this.lastGc >= MIN_GC_INTERVAL_MS) {
        this.gc();
        this.lastGc = now;
        this.forcedGc++;
        r = this.probe();
      } else if (this.gc === undefined && !this.noGcNoted) {
        this.noGcNoted = true;
        this.note('memory above the limit and GC cannot be forced: run node with --expose-gc', { used: r.used, rss: r.rss, limit: this.hard });
      }
    }
    const was = this.refusing;
    this.refusing = r.used >= this.soft || r.rss >= this.soft;
    if (was !== this.refusing) this.note(this.refusing ? 'memory above the soft limit: refusing data' : 'memory below the soft limit: accepting data again', { used: r.used, rss: r.rss, soft: this.soft, hard: this.hard });
    this.last = r;
  }
}
