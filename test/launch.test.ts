// The node flags fleetcol runs with are kept on cli.ts's shebang line (what an installed
// `fleetcol` bin runs) and repeated by `npm start` and the Dockerfile's ENTRYPOINT: the three
// must agree, and the shebang must really start node with them.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from './helper.js';

const shebang = readFileSync(path.join(ROOT, 'src', 'cli.ts'), 'utf8').split('\n', 1)[0]!;
const m = /^#!\/usr\/bin\/env -S node((?: --[\w-]+=\S+)*)$/.exec(shebang);
const flags = (m?.[1] ?? '').trim().split(' ').filter(Boolean);

t.test('the shebang names node and its flags', async (t) => {
  t.ok(m, `shebang: ${shebang}`);
  t.ok(flags.includes('--max-semi-space-size=1'), 'a 1 MiB semi-space (see cli.ts)');
  t.ok(flags.includes('--heap-growing-percent=100'), 'an old generation that may double before a full GC (see cli.ts)');
});

t.test('npm start uses the same flags', async (t) => {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string>; bin: Record<string, string> };
  t.equal(pkg.scripts.start, `node ${[...flags, pkg.bin.fleetcol].join(' ')} --config config/fleetcol.yaml`);
});

t.test('the Dockerfile ENTRYPOINT uses the same flags', async (t) => {
  const entry = /^ENTRYPOINT (\[.*\])$/m.exec(readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'));
  t.ok(entry, 'an exec-form ENTRYPOINT');
  t.same(JSON.parse(entry![1]!), ['node', ...flags, 'dist/src/cli.js']);
});

t.test('run through its shebang, node gets the flags', async (t) => {
  // A script with cli.ts's shebang that prints the flags node was started with.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fleetcol-launch-'));
  const script = path.join(dir, 'probe.mjs');
  writeFileSync(script, `${shebang}\nconsole.log(JSON.stringify({ execArgv: process.execArgv }));\n`);
  chmodSync(script, 0o755);
  const out = JSON.parse(execFileSync(script, { encoding: 'utf8' })) as { execArgv: string[] };
  t.same(out.execArgv, flags, 'node started with the flags');
  // The built CLI keeps the line (tsc copies a shebang through).
  const built = path.join(ROOT, 'dist', 'src', 'cli.js');
  t.equal(readFileSync(built, 'utf8').split('\n', 1)[0], shebang, 'dist/src/cli.js has the same first line');
});
