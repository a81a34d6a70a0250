// Summarises a V8 .cpuprofile (from `node --cpu-prof`, e.g. `otlp-throughput.js --cpu-prof DIR`):
// the functions with the most self time, and self time per file / package.
//
//   node dist/bench/profile-top.js FILE.cpuprofile [--top 25]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { table } from './lib/report.js';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' } } });
if (positionals.length === 0) {
  process.stderr.write('usage: node dist/bench/profile-top.js FILE.cpuprofile [--top N]\n');
  process.exit(2);
}
const top = Number(values.top);

function where(url: string): string {
  if (!url) return '(native/V8)';
  const u = url.replace(/^file:\/\//, '');
  const nm = u.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = u.slice(nm + 14).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (u.startsWith('node:')) return u;
  const d = u.indexOf('/dist/');
  return d >= 0 ? u.slice(d + 6) : u;
}

for (const file of positionals) {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i]!, (self.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i] ?? 0));
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const fn = new Map<string, number>();
  const mod = new Map<string, number>();
  for (const [id, us] of self) {
    const cf = byId.get(id)!.callFrame;
    const name = cf.functionName || '(anonymous)';
    const key = cf.url ? `${name}  ${where(cf.url)}:${cf.lineNumber + 1}` : name;
    fn.set(key, (fn.get(key) ?? 0) + us);
    const m = cf.url ? where(cf.url) : name.startsWith('(') ? name : '(native/V8)';
    mod.set(m, (mod.get(m) ?? 0) + us);
  }
  const rows = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, us]) => [k, `${(us / 1000).toFixed(0)} ms`, `${((us / total) * 100).toFixed(1)} %`]);
  process.stdout.write(`${file}: ${(total / 1e6).toFixed(1)} s sampled\n\n`);
  process.stdout.write(table(['function (self time)', 'ms', 'share'], rows(fn)) + '\n\n');
  process.stdout.write(table(['file / package (self time)', 'ms', 'share'], rows(mod)) + '\n\n');
}
