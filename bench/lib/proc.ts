// Per-process CPU and memory from /proc (Linux), plus small numeric helpers.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';

let clkTck: number | undefined;

/** Clock ticks per second (`getconf CLK_TCK`, almost always 100). */
export function clockTicks(): number {
  if (clkTck === undefined) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

/** CPU seconds a process has used so far in user space and in the kernel (all threads), from
 *  /proc/<pid>/stat. */
export function cpuTimes(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); utime is field 14, stime field 15.
  return { user: Number(fields[11]) / clockTicks(), system: Number(fields[12]) / clockTicks() };
}

/** Write-type system calls (write, writev, sendmsg, ...) a process has made so far, from
 *  /proc/<pid>/io (`syscw`); NaN where the kernel does not provide it. */
export function writeSyscalls(pid: number): number {
  try {
    const m = /^syscw:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

/** A process and its descendants (from /proc/<pid>/task/<tid>/children), the process first. */
export function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    try {
      for (const tid of readdirSync(`/proc/${out[i]}/task`)) {
        const kids = readFileSync(`/proc/${out[i]}/task/${tid}/children`, 'utf8').trim();
        if (kids !== '') out.push(...kids.split(' ').map(Number));
      }
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** cpuTimes summed over a process and its descendants (e.g. fleetcol's sse writer processes). */
export function treeCpuTimes(pid: number): { user: number; system: number } {
  let user = 0;
  let system = 0;
  for (const p of processTree(pid)) {
    try {
      const t = cpuTimes(p);
      user += t.user;
      system += t.system;
    } catch {
      // gone meanwhile
    }
  }
  return { user, system };
}

/** writeSyscalls summed over a process and its descendants. */
export function treeWriteSyscalls(pid: number): number {
  let n = 0;
  for (const p of processTree(pid)) n += writeSyscalls(p);
  return n;
}

/** VmRSS summed over a process and its descendants, bytes. */
export function treeRss(pid: number): number {
  let n = 0;
  for (const p of processTree(pid)) {
    try {
      n += memory(p).rss;
    } catch {
      // gone meanwhile
    }
  }
  return n;
}

/** CPU seconds (user + system, all threads) a process has used so far. */
export function cpuSeconds(pid: number): number {
  const t = cpuTimes(pid);
  return t.user + t.system;
}

/** VmRSS and VmHWM (peak RSS) of a process in bytes, from /proc/<pid>/status. */
export function memory(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string) => {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status);
    return m ? Number(m[1]) * 1024 : NaN;
  };
  return { rss: kib('VmRSS'), hwm: kib('VmHWM') };
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A loopback port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function median(xs: number[]): number {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

/** Nearest-rank percentile (p in 0..100). */
export function percentile(xs: number[], p: number): number {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  return v[Math.min(v.length - 1, Math.max(0, Math.ceil((p / 100) * v.length) - 1))]!;
}

export const MiB = 1024 * 1024;
