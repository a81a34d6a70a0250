// The dashboard's static files (built by `npm run build` from app/, see build.ts), read once when
// the exporter starts: each held with its content type, ETag and, when it pays, a gzip copy. The
// page needs no inline script or style, so a strict Content-Security-Policy goes with every answer.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

/** Where the build puts the files: beside this module in dist/, or dist/'s copy when run from source. */
export const ASSETS_DIR = fileURLToPath(
  import.meta.url.endsWith('.ts') ? new URL('../../../dist/exporters/sse/dashboard/public/', import.meta.url) : new URL('./public/', import.meta.url),
);

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.map': 'application/json',
};

/** No inline script or style, no other origin: the page talks only to the feed that served it. */
export const DASHBOARD_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const COMMON = { 'content-security-policy': DASHBOARD_CSP, 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' };

export interface Asset {
  type: string;
  body: Buffer;
  gzip: Buffer | undefined;
  etag: string;
  /** Hashed file names never change content: cached for a year; index.html is revalidated. */
  cacheControl: string;
}

export interface Answer {
  status: number;
  headers: Record<string, string>;
  body: Buffer | undefined;
}

export class DashboardAssets {
  private constructor(private readonly files: ReadonlyMap<string, Asset>) {}

  /** The built files, or undefined when there are none (not built). */
  static load(dir = ASSETS_DIR): DashboardAssets | undefined {
    if (!existsSync(join(dir, 'index.html'))) return undefined;
    const files = new Map<string, Asset>();
    for (const name of readdirSync(dir)) {
      const type = TYPES[extname(name)];
      if (type === undefined) continue;
      const body = readFileSync(join(dir, name));
      const zipped = type.startsWith('text/') || type.includes('json') || type.includes('svg') ? gzipSync(body, { level: 9 }) : undefined;
      files.set(name === 'index.html' ? '/' : `/assets/${name}`, {
        type,
        body,
        gzip: zipped && zipped.length < body.length * 0.9 ? zipped : undefined,
        etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
        cacheControl: name === 'index.html' ? 'no-cache' : 'public, max-age=31536000, immutable',
      });
    }
    return new DashboardAssets(files);
  }

  /** Whether `path` (/, /index.html or /assets/…) names a file of the dashboard. */
  has(path: string): boolean {
    return this.files.has(path === '/index.html' ? '/' : path);
  }

  /** The answer to a GET or HEAD of `path`: 200 (gzip when accepted), 304 when the ETag matches, 404. */
  answer(path: string, head: boolean, ifNoneMatch: string | undefined, acceptEncoding: string | undefined): Answer {
    const f = this.files.get(path === '/index.html' ? '/' : path);
    if (f === undefined) return { status: 404, headers: { 'content-type': 'text/plain; charset=utf-8', ...COMMON }, body: Buffer.from('not found\n') };
    const headers: Record<string, string> = { 'content-type': f.type, 'cache-control': f.cacheControl, etag: f.etag, ...COMMON };
    if (f.gzip) headers.vary = 'Accept-Encoding';
    if (ifNoneMatch !== undefined && ifNoneMatch.split(',').some((t) => t.trim() === f.etag || t.trim() === `W/${f.etag}`)) {
      return { status: 304, headers, body: undefined };
    }
    const gzip = f.gzip !== undefined && acceptsGzip(acceptEncoding);
    const body = gzip ? f.gzip! : f.body;
    if (gzip) headers['content-encoding'] = 'gzip';
    headers['content-length'] = String(body.length);
    return { status: 200, headers, body: head ? undefined : body };
  }
}

/** `gzip` listed in Accept-Encoding without q=0. */
function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  for (const part of header.split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    if (name !== 'gzip' && name !== '*') continue;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  }
  return false;
}
