// `--rx-cpu N`: keeps the loopback receive path off the server's CPU, as a network would.
//
// On loopback the kernel delivers a write to the reading socket in the writer's own context: the
// reader's TCP receive path (and its delayed-ACK timers) is charged to the server measured, where a
// real network runs it on the client's host. Receive packet steering (RPS) on `lo` hands that work
// to CPU N instead; the driver and the client processes run on CPU N too, the server on the others.
// The server then pays for sending only, plus the ACKs it gets back, which also land on CPU N: a
// little less than on a real host, where the NIC's interrupts for ACKs run wherever they are sent.
// Needs Linux, root (writes /sys/class/net/lo/queues/rx-0/rps_cpus) and `taskset` (util-linux).
// The mask is put back when the driver exits, whatever the reason.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { processTree } from './proc.js';

const RPS_FILE = '/sys/class/net/lo/queues/rx-0/rps_cpus';

export interface RxSteering {
  /** The CPU the loopback receive path, the driver and the clients run on. */
  rxCpu: number;
  /** The CPUs left to the server, as taskset takes them ("0" or "0,2,3"). */
  serverCpus: string;
}

/** Steers loopback receive processing to `cpu` and pins this process (and so its future children)
 *  there. Returns an error message instead when the machine cannot do it. */
export function steerLoopbackRx(cpu: number): RxSteering | string {
  const n = os.cpus().length;
  if (process.platform !== 'linux') return '--rx-cpu needs Linux (receive packet steering on lo)';
  if (n < 2) return `--rx-cpu needs 2 CPUs or more (this machine has ${n})`;
  if (cpu >= n) return `--rx-cpu must be a CPU of this machine, 0-${n - 1}, got ${cpu}`;
  let before: string;
  try {
    before = readFileSync(RPS_FILE, 'utf8').trim();
    writeFileSync(RPS_FILE, (1n << BigInt(cpu)).toString(16));
  } catch (err) {
    return `--rx-cpu: cannot set ${RPS_FILE} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); it needs root`;
  }
  process.on('exit', () => {
    try {
      writeFileSync(RPS_FILE, before);
    } catch {
      process.stderr.write(`bench: could not put ${RPS_FILE} back to ${before}\n`);
    }
  });
  try {
    pin(process.pid, String(cpu));
  } catch (err) {
    return `--rx-cpu: taskset failed (${(err as Error).message})`;
  }
  const others = Array.from({ length: n }, (_, i) => i).filter((i) => i !== cpu);
  return { rxCpu: cpu, serverCpus: others.join(',') };
}

/** Pins every thread of a process to `cpus`. */
function pin(pid: number, cpus: string): void {
  execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
}

/** Pins a process and its descendants (the server and, for fleetcol, its writer processes). */
export function pinTree(pid: number, cpus: string): void {
  for (const p of processTree(pid)) {
    try {
      pin(p, cpus);
    } catch {
      // gone meanwhile
    }
  }
}
