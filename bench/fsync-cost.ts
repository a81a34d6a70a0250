// What a durable queue write costs this process, by how the file's blocks are when it writes:
// appended (the file grows: new blocks, and fdatasync also commits the size and the block map), or
// written over blocks already written (the file does not grow: fdatasync flushes the data only).
// With and without fdatasync after each write. CPU µs per write from process.cpuUsage (the
// kernel's work done in this process counts; the journal thread's does not), and wall µs.
// The question it answers: would preallocated or recycled queue segments make a sync cheaper.
// `--rate N` paces the writes at N per second (the thread sleeps between them, as the daemon's
// does between requests at the testbed rate); 0, the default, writes them back to back.
//
//   npx tsc -p tsconfig.json && node dist/bench/fsync-cost.js [--dir DIR] [--bytes 74000] [--writes 1000] [--runs 3] [--rate 0]
import { closeSync, fdatasyncSync, fsyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { median } from './lib/proc.js';

const { values } = parseArgs({
  options: {
    dir: { type: 'string' },
    bytes: { type: 'string', default: '74000' },
    writes: { type: 'string', default: '1000' },
    runs: { type: 'string', default: '3' },
    rate: { type: 'string', default: '0' },
  },
});
const BYTES = Number(values.bytes);
const WRITES = Number(values.writes);
const RUNS = Number(values.runs);
const RATE = Number(values.rate);
const sleeper = new Int32Array(new SharedArrayBuffer(4));
const dir = mkdtempSync(join(values.dir ?? tmpdir(), 'fleetcol-fsync-'));
const record = Buffer.alloc(BYTES, 7);

type Layout = 'append' | 'overwrite';

/** One pass: WRITES records of BYTES each, at consecutive offsets, into a fresh file. */
function pass(layout: Layout, sync: boolean): { cpuUs: number; wallUs: number } {
  const path = join(dir, `${layout}-${sync ? 'sync' : 'nosync'}.log`);
  rmSync(path, { force: true });
  const fd = openSync(path, 'w+');
  try {
    if (layout === 'overwrite') {
      // the blocks written and on disk beforehand, as in a preallocated or recycled segment
      const zeros = Buffer.alloc(1 << 20);
      for (let at = 0; at < BYTES * WRITES; at += zeros.length) writeSync(fd, zeros, 0, zeros.length, at);
      fsyncSync(fd);
    }
    const cpu0 = process.cpuUsage();
    let wall = 0;
    for (let i = 0; i < WRITES; i++) {
      const t0 = performance.now();
      writeSync(fd, record, 0, BYTES, i * BYTES);
      if (sync) fdatasyncSync(fd);
      wall += performance.now() - t0;
      if (RATE > 0) Atomics.wait(sleeper, 0, 0, 1000 / RATE);
    }
    const cpu = process.cpuUsage(cpu0);
    return { cpuUs: (cpu.user + cpu.system) / WRITES, wallUs: (wall * 1000) / WRITES };
  } finally {
    closeSync(fd);
    rmSync(path, { force: true });
  }
}

const cases: Array<{ layout: Layout; sync: boolean; cpu: number[]; wall: number[] }> = [];
for (const layout of ['append', 'overwrite'] as const) for (const sync of [false, true]) cases.push({ layout, sync, cpu: [], wall: [] });
try {
  for (let r = 0; r < RUNS; r++) {
    for (const c of cases) {
      const p = pass(c.layout, c.sync);
      c.cpu.push(p.cpuUs);
      c.wall.push(p.wallUs);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(`${WRITES} writes of ${BYTES} bytes in ${values.dir ?? tmpdir()}, ${RATE > 0 ? `${RATE} per second` : 'back to back'}; medians of ${RUNS} runs`);
console.log(`layout     fdatasync  CPU µs/write  wall µs/write${RATE > 0 ? ' (the sleep between writes not counted)' : ''}`);
for (const c of cases) {
  console.log(`${c.layout.padEnd(10)} ${(c.sync ? 'yes' : 'no').padEnd(10)} ${median(c.cpu).toFixed(0).padStart(12)}  ${median(c.wall).toFixed(0).padStart(13)}`);
}
