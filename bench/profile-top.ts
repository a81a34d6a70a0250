// Summarises a V8 .cpuprofile (from `node --cpu-prof`, e.g. `otlp-throughput.js --cpu-prof DIR`):
// the functions with the most self time, and self time per file / package; with --inclusive RE,
// also the time spent in (and under) each function whose file matches RE.
//
//   node dist/bench/profile-top.js FILE.cpuprofile [--top 25] [--inclusive 'genai|pdata']
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { table } from './lib/report.js';
import { where, type Profile } from './lib/cpuprofile.js';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' }, inclusive: { type: 'string' } } });
if (positionals.length === 0) {
  process.stderr.write('usage: node dist/bench/profile-top.js FILE.cpuprofile [--top N]\n');
  process.exit(2);
}
const top = Number(values.top);

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
  if (values.inclusive) {
    // A sample counts once for every distinct function on its stack (recursion counted once).
    const parent = new Map<number, number>();
    for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    const re = new RegExp(values.inclusive);
    const incl = new Map<string, number>();
    for (const [id, us] of self) {
      const seen = new Set<string>();
      for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
        const cf = byId.get(cur)!.callFrame;
        if (!cf.url || !re.test(cf.url)) continue;
        const key = `${cf.functionName || '(anonymous)'}  ${where(cf.url)}:${cf.lineNumber + 1}`;
        if (seen.has(key)) continue;
        seen.add(key);
        incl.set(key, (incl.get(key) ?? 0) + us);
      }
    }
    process.stdout.write(table([`function in ${values.inclusive} (inclusive time)`, 'ms', 'share'], rows(incl)) + '\n\n');
  }
}
