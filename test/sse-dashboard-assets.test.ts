// How the sse exporter serves the dashboard's built files: from memory, with their content types,
// ETag (304 on a match), gzip when asked, hashed assets cached for good and the page revalidated,
// a CSP that allows no inline script, HEAD, 405 for other methods; `dashboard: false` removes it all.
import t from 'tap';
import { gunzipSync } from 'node:zlib';
import http from 'node:http';
import { startFeed } from './sse-support.js';

/** A raw GET (fetch would decode gzip and hide content-encoding). */
function get(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

t.test('the page and its assets', async (t) => {
  const f = await startFeed();
  t.teardown(() => f.stop());
  const page = await get(`${f.base}/`);
  t.equal(page.status, 200);
  t.equal(page.headers['content-type'], 'text/html; charset=utf-8');
  t.equal(page.headers['cache-control'], 'no-cache', 'the page is revalidated (its asset names change with each build)');
  const csp = String(page.headers['content-security-policy']);
  t.match(csp, /script-src 'self'/);
  t.notMatch(csp, /unsafe-inline|unsafe-eval/, 'no inline script or eval allowed');
  t.match(csp, /connect-src 'self'/, 'the page talks to its own feed only');
  t.equal(page.headers['x-content-type-options'], 'nosniff');
  const html = page.body.toString();
  t.notMatch(html, /<script>|<style>|style="/, 'no inline script or style in the page');
  const js = /src="(\/assets\/main-[\w-]+\.js)"/.exec(html)?.[1];
  const css = /href="(\/assets\/main-[\w-]+\.css)"/.exec(html)?.[1];
  t.ok(js && css, 'the page names hashed JS and CSS');

  const same = await get(`${f.base}/index.html`);
  t.same(same.body, page.body, '/index.html is the page');

  const asset = await get(`${f.base}${js}`, { 'accept-encoding': 'gzip, br' });
  t.equal(asset.status, 200);
  t.equal(asset.headers['content-type'], 'text/javascript; charset=utf-8');
  t.equal(asset.headers['content-encoding'], 'gzip');
  t.equal(asset.headers.vary, 'Accept-Encoding');
  t.equal(asset.headers['cache-control'], 'public, max-age=31536000, immutable');
  const plain = await get(`${f.base}${js}`);
  t.equal(plain.headers['content-encoding'], undefined, 'identity without Accept-Encoding');
  t.same(gunzipSync(asset.body), plain.body, 'the gzip copy is the file');
  t.ok(asset.body.length < plain.body.length / 2, `gzip pays: ${asset.body.length} of ${plain.body.length} bytes`);
  t.equal((await get(`${f.base}${js}`, { 'accept-encoding': 'gzip;q=0' })).headers['content-encoding'], undefined, 'gzip;q=0 is a no');
  t.equal((await get(`${f.base}${css}`)).headers['content-type'], 'text/css; charset=utf-8');

  const etag = String(plain.headers.etag);
  const again = await get(`${f.base}${js}`, { 'if-none-match': etag });
  t.equal(again.status, 304, 'a matching ETag: 304');
  t.equal(again.body.length, 0);
  t.equal((await get(`${f.base}/`, { 'if-none-match': String(page.headers.etag) })).status, 304);
  t.equal((await get(`${f.base}${js}`, { 'if-none-match': '"other"' })).status, 200);

  const head = await get(`${f.base}/`, {}, 'HEAD');
  t.equal(head.status, 200);
  t.equal(head.headers['content-length'], String(page.body.length), 'HEAD: the length, no body');
  t.equal((await get(`${f.base}/`, {}, 'POST')).status, 405);
  const missing = await get(`${f.base}/assets/nothing.js`);
  t.equal(missing.status, 404);
  t.equal((await get(`${f.base}/assets/../../package.json`)).status, 404, 'no way out of the assets');
  t.equal((await get(`${f.base}/elsewhere`)).status, 404);
});

t.test('dashboard: false removes the route', async (t) => {
  const f = await startFeed({ dashboard: false });
  t.teardown(() => f.stop());
  for (const p of ['/', '/index.html', '/assets/main.js']) {
    const r = await get(`${f.base}${p}`);
    t.equal(r.status, 404, `${p}: 404`);
    t.equal(JSON.parse(r.body.toString()).error.code, 'FLEETCOL_SSE_NOT_FOUND');
  }
  t.equal((await get(`${f.base}/v1/agents`)).status, 200, 'the feed itself is still there');
});
