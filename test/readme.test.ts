// The README's config reference is generated from the schemas; this fails when they drift.
import t from 'tap';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { registry } from '../src/components.js';
import { renderReference, spliceReference } from '../src/docs.js';
import { ROOT } from './helper.js';

t.test('README config reference matches the schemas (run `npm run docs` to update)', async (t) => {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  t.equal(spliceReference(readme, renderReference(registry)), readme);
});

t.test('README states the install+run and test commands', async (t) => {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  t.match(readme, /npm ci && npm start/);
  t.match(readme, /npm test/);
  t.match(readFileSync(path.join(ROOT, '.ci/run'), 'utf8'), /\nnpm test\n/);
});
