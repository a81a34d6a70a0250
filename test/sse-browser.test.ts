// Headless Chromium follows the feed with the dashboard page's EventSource: events arrive; the
// server closes the connection; the browser reconnects by itself with Last-Event-ID; the page has
// every event exactly once.
import t from 'tap';
import { existsSync } from 'node:fs';
import { retryLine } from '../exporters/sse/event.js';
import { spans, startFeed } from './sse-support.js';

const CHROMIUM = '/usr/bin/chromium';

if (!existsSync(CHROMIUM)) {
  t.comment(`SKIP: ${CHROMIUM} is missing, so the browser test cannot run (apt-get install -y chromium)`);
} else {
  t.test('Chromium EventSource: reconnects with Last-Event-ID after the server closes, every event exactly once', async (t) => {
    const { chromium } = await import('playwright-core');
    const f = await startFeed({ retry: '200ms' });
    t.teardown(() => f.stop());
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      timeout: 60_000,
    });
    t.teardown(() => browser.close());
    const page = await browser.newPage();
    await page.goto(`${f.base}/?type=span`);
    await page.waitForFunction(() => (window as any).feed?.opens === 1, undefined, { timeout: 15_000 });

    let n = 0;
    const send = async (k: number) => {
      for (let i = 0; i < k; i++) await f.exp.consume(spans([{ agent: 'a', name: `s${n++}` }]));
    };
    await send(30);
    await page.waitForFunction(() => (window as any).feed.ids.length === 30, undefined, { timeout: 10_000 });
    const before: string = await page.evaluate(() => (window as any).feed.ids.at(-1));

    // The server ends every stream (with a short retry:); events keep coming while the page is away.
    for (const c of [...(f.exp as any).hub.clients]) c.close('shutdown', retryLine(200), 100);
    await send(30);
    await page.waitForFunction(() => (window as any).feed.opens === 2, undefined, { timeout: 10_000 });
    await send(30);
    await page.waitForFunction(() => (window as any).feed.ids.length >= 90, undefined, { timeout: 10_000 });
    await new Promise((r) => setTimeout(r, 100));

    const feed = await page.evaluate(() => {
      const f = (window as any).feed;
      return { ids: f.ids as string[], dupes: f.dupes as number, events: (f.events as any[]).map((e) => ({ type: e.type, id: e.id, data: e.data })) };
    });
    const names = feed.events.filter((e) => e.type === 'span').map((e) => e.data.name);
    t.same(names, Array.from({ length: 90 }, (_, i) => `s${i}`), 'every span exactly once, in order');
    t.equal(feed.dupes, 0, 'no duplicate ids');
    const confirms = feed.events.filter((e) => e.type === 'subscription_confirmed');
    t.equal(confirms.length, 2, 'two connections');
    t.equal(confirms[1]!.data.resume.last_event_id, before, 'the browser sent Last-Event-ID');
    t.equal(confirms[1]!.data.resume.replay, true, 'and was replayed what it missed');
  });
}
