// Compares V8 .cpuprofiles of two builds or designs (from `otlp-throughput.js --cpu-prof DIR`):
// self time per file (or per function with --by function), averaged over each side's profiles,
// sorted by the size of the difference. Idle samples are left out. When two runs of a fixed-rate
// scenario (the testbed) cost different CPU, this says where the difference is.
//
//   node dist/bench/profile-diff.js --a A1.cpuprofile --a A2.cpuprofile --b B1.cpuprofile --b B2.cpuprofile [--by function] [--top 30]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { where, type Profile } from './lib/cpuprofile.js';

const { values } = parseArgs({
  options: {
    a: { type: 'string', multiple: true, default: [] },
    b: { type: 'string', multiple: true, default: [] },
    by: { type: 'string', default: 'file' },
    top: { type: 'string', default: '30' },
  },
});
const a = values.a as string[];
const b = values.b as string[];
if (a.length === 0 || b.length === 0 || (values.by !== 'file' && values.by !== 'function')) {
  process.stderr.write('usage: node dist/bench/profile-diff.js --a A.cpuprofile [--a ...] --b B.cpuprofile [--b ...] [--by file|function] [--top N]\n');
  process.exit(2);
}

/** Self ms per key in one profile. */
function selfTimes(file: string): Map<string, number> {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const out = new Map<string, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const cf = byId.get(p.samples[i]!)!.callFrame;
    if (cf.functionName === '(idle)') continue;
    const file = cf.url ? where(cf.url) : cf.functionName;
    const key = values.by === 'function' && cf.url ? `${cf.functionName || '(anonymous)'} ${file}:${cf.lineNumber + 1}` : file;
    out.set(key, (out.get(key) ?? 0) + p.timeDeltas[i]! / 1000);
  }
  return out;
}

function mean(files: string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const f of files) for (const [k, v] of selfTimes(f)) out.set(k, (out.get(k) ?? 0) + v / files.length);
  return out;
}

const A = mean(a);
const B = mean(b);
const rows = [...new Set([...A.keys(), ...B.keys()])].map((k) => ({ k, a: A.get(k) ?? 0, b: B.get(k) ?? 0 }));
rows.sort((x, y) => Math.abs(y.b - y.a) - Math.abs(x.b - x.a));
const total = (m: Map<string, number>) => [...m.values()].reduce((s, v) => s + v, 0);
console.log(`busy (non-idle) self time, mean per profile: A ${total(A).toFixed(0)} ms (${a.length} profiles), B ${total(B).toFixed(0)} ms (${b.length})`);
console.log(`${'B - A'.padStart(7)} ${'A ms'.padStart(7)} ${'B ms'.padStart(7)}  ${values.by}`);
for (const r of rows.slice(0, Number(values.top))) {
  console.log(`${(r.b - r.a).toFixed(0).padStart(7)} ${r.a.toFixed(0).padStart(7)} ${r.b.toFixed(0).padStart(7)}  ${r.k}`);
}
