// `npm run build`: bundles the dashboard (app/, Preact + uPlot, type-checked by its own tsconfig
// before this runs) with esbuild into static files beside the compiled exporter, under
// dist/exporters/sse/dashboard/public/: index.html, and JS and CSS with content hashes in their
// names (cached for good by browsers). Nothing is built at run time; nothing comes from a CDN.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/** This file runs as dist/exporters/sse/dashboard/build.js. */
const APP = fileURLToPath(new URL('../../../../exporters/sse/dashboard/app/', import.meta.url));
const OUT = fileURLToPath(new URL('./public/', import.meta.url));

async function main(): Promise<void> {
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(OUT, { recursive: true });
  const result = await build({
    entryPoints: [join(APP, 'main.tsx')],
    outdir: OUT,
    entryNames: '[name]-[hash]',
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['chrome110', 'firefox110', 'safari16'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    legalComments: 'eof',
    metafile: true,
    logLevel: 'warning',
  });
  const outputs = Object.keys(result.metafile.outputs).map((p) => basename(p));
  const js = outputs.find((p) => p.endsWith('.js'));
  const css = outputs.find((p) => p.endsWith('.css'));
  if (!js || !css) throw new Error(`dashboard build: expected one .js and one .css, got ${outputs.join(', ')}`);
  const html = readFileSync(join(APP, 'index.html'), 'utf8').replace('%JS%', `/assets/${js}`).replace('%CSS%', `/assets/${css}`);
  writeFileSync(join(OUT, 'index.html'), html);
  let bytes = 0;
  for (const o of Object.values(result.metafile.outputs)) bytes += o.bytes;
  process.stdout.write(`dashboard: ${outputs.join(', ')}, index.html (${Math.round(bytes / 1024)} KiB)\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`dashboard build failed: ${(err as Error).message}\n`);
  process.exit(1);
});
