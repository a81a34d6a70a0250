// Watches one process over a measured window: CPU seconds (utime+stime from /proc/<pid>/stat) at
// the start and the end, CPU % of one core for every 1-s interval, VmRSS every 200 ms (its max),
// and VmHWM (the kernel's peak RSS since the process started) at the end.
import { cpuSeconds, memory } from './proc.js';

export interface Usage {
  wallSeconds: number;
  cpuSeconds: number;
  /** Average CPU over the window, in % of one core. */
  cpuPct: number;
  /** CPU % of one core for each whole second of the window. */
  cpuPctSamples: number[];
  /** Largest VmRSS seen while sampling every 200 ms, bytes. */
  maxRss: number;
  /** VmHWM at the end of the window (peak RSS since the process started, warm-up included), bytes. */
  hwm: number;
}

export class ProcMonitor {
  private t0 = 0;
  private cpu0 = 0;
  private lastT = 0;
  private lastCpu = 0;
  private samples: number[] = [];
  private maxRss = 0;
  private hwm = NaN;
  private rssTimer: NodeJS.Timeout | undefined;
  private cpuTimer: NodeJS.Timeout | undefined;
  private gone = false;

  constructor(readonly pid: number) {}

  begin(): this {
    this.t0 = this.lastT = performance.now();
    this.cpu0 = this.lastCpu = cpuSeconds(this.pid);
    this.sampleRss();
    this.rssTimer = setInterval(() => this.sampleRss(), 200);
    this.cpuTimer = setInterval(() => this.sampleCpu(), 1000);
    return this;
  }

  private sampleRss(): void {
    if (this.gone) return;
    try {
      const m = memory(this.pid);
      if (m.rss > this.maxRss) this.maxRss = m.rss;
      this.hwm = m.hwm;
    } catch {
      this.gone = true;
    }
  }

  private sampleCpu(): void {
    if (this.gone) return;
    try {
      const t = performance.now();
      const c = cpuSeconds(this.pid);
      this.samples.push(((c - this.lastCpu) / ((t - this.lastT) / 1000)) * 100);
      this.lastT = t;
      this.lastCpu = c;
    } catch {
      this.gone = true;
    }
  }

  end(): Usage {
    clearInterval(this.rssTimer);
    clearInterval(this.cpuTimer);
    const t = performance.now();
    let cpu = this.lastCpu;
    if (!this.gone) {
      try {
        cpu = cpuSeconds(this.pid);
      } catch {
        this.gone = true;
      }
    }
    this.sampleRss();
    if (this.gone) throw new Error(`process ${this.pid} exited during the measured window`);
    const wall = (t - this.t0) / 1000;
    return {
      wallSeconds: wall,
      cpuSeconds: cpu - this.cpu0,
      cpuPct: ((cpu - this.cpu0) / wall) * 100,
      cpuPctSamples: this.samples,
      maxRss: this.maxRss,
      hwm: this.hwm,
    };
  }
}
