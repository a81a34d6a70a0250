// The dashboard at / of the sse exporter, in headless Chromium (Debian's, through playwright-core):
// - a fleet traced with the OpenTelemetry JS SDK through a fleetcol daemon (otlp → genai → sse):
//   the agents with their tokens and cost (as /v1/agents has them), live updates, the task view, no
//   raw JSON; axe-core finds nothing serious in light and dark; then the daemon restarts: the feed's
//   history is in memory, so the contract is a `reset` (new epoch) and a fresh snapshot; the page
//   says so and delivers every event at most once;
// - the log's filters re-subscribe with the feed's own query parameters;
// - with auth.jwt: the login box, tickets, a token that expires mid-stream and its successor, and a
//   renewal before expiry, without losing or repeating an event.
// Screenshots go to test/artifacts/ (and docs/dashboard.png with FLEETCOL_SCREENSHOT=1).
import t from 'tap';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { SignJWT } from 'jose';
import type { Browser, Page } from 'playwright-core';
import { freePort, ROOT, sleep, startDaemon, waitFor, type Daemon } from './helper.js';
import { artifact, CHAT_USAGE, CHROMIUM, CHROMIUM_ARGS, chromiumOrSkip, sdkFleet } from './dashboard-support.js';
import { records, spans, startFeed } from './sse-support.js';

const SECRET = 'dashboard-test-secret-of-enough-length';
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

interface HookEvent { id: string; type: string; data: any }
interface Hook { opens: number; dupes: number; ids: string[]; events: HookEvent[]; state: { phase: string; resumedFrom?: string } }

const hook = (page: Page, which: 'feed' | 'main' = 'feed') =>
  page.evaluate((w) => {
    const win = window as unknown as { feed?: Hook; feeds?: { main?: Hook } };
    const h = w === 'feed' ? win.feed : win.feeds?.main;
    return h ? { opens: h.opens, dupes: h.dupes, ids: [...h.ids], events: h.events.map((e) => ({ id: e.id, type: e.type, data: e.data })), state: h.state } : undefined;
  }, which);

async function until(page: Page, what: string, fn: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  try {
    await waitFor(fn, timeoutMs, what);
  } catch (err) {
    await page.screenshot({ path: artifact(`failed-${what.replace(/\W+/g, '-').slice(0, 60)}.png`), fullPage: true }).catch(() => {});
    throw err;
  }
}

const cellText = (page: Page, agent: string, col: string) => page.locator(`tr[data-agent="${agent}"] td[data-col="${col}"]`).textContent({ timeout: 1000 }).catch(() => null);
const connLabel = (page: Page) => page.locator('.conn-label').textContent();

/** axe-core in the page (evaluated, so the page's CSP stays on); the serious and critical violations. */
async function axe(page: Page): Promise<string[]> {
  await page.evaluate(AXE);
  const found = await page.evaluate(async () => {
    const r = await (window as any).axe.run(document, { resultTypes: ['violations'] });
    return (r.violations as any[]).map((v) => ({ id: v.id, impact: v.impact as string, help: v.help as string, nodes: (v.nodes as any[]).slice(0, 3).map((n) => n.target.join(' ')) }));
  });
  return found.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.join(', ')}`);
}

if (chromiumOrSkip(t)) {
  const { chromium } = await import('playwright-core');
  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 30_000 });
  t.teardown(() => browser.close());

  t.test('a fleet through fleetcol: agents, tokens and cost, live updates, tasks, accessibility, a restart', async (t) => {
    const [otlp, sse] = [await freePort(), await freePort()];
    const yaml = `
receivers:
  otlp:
    protocols:
      http: { endpoint: 127.0.0.1:${otlp} }
processors:
  genai: {}
exporters:
  sse: { endpoint: 127.0.0.1:${sse}, metrics_interval: 1s, retry: 300ms, shutdown_retry_spread: 0s, heartbeat_interval: 0s }
service:
  pipelines:
    traces: { receivers: [otlp], processors: [genai], exporters: [sse] }
`;
    let d: Daemon = await startDaemon(yaml);
    t.teardown(() => d.stop());
    const fleet = sdkFleet(otlp);
    t.teardown(() => fleet.shutdown());
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    t.teardown(() => context.close());
    const page = await context.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`http://127.0.0.1:${sse}/`);
    await until(page, 'the stream to open', async () => (await hook(page))?.opens === 1);

    const agents = ['planner', 'coder', 'reviewer'];
    for (let round = 0; round < 2; round++) for (const a of agents) fleet.task(a, { fail: round === 1 && a === 'coder' });
    await fleet.flush();
    const perTask = 2 * (CHAT_USAGE.input + CHAT_USAGE.output); // two chat calls a task
    for (const a of agents) await until(page, `${a}'s tokens`, async () => (await cellText(page, a, 'tokens')) === String(2 * perTask));

    // The page's figures are the feed's: tokens exactly, cost to the precision shown, and not $0.
    const snap = (await (await fetch(`http://127.0.0.1:${sse}/v1/agents`)).json()) as { agents: any[] };
    for (const a of snap.agents) {
      t.equal(a.input_tokens + a.output_tokens, 2 * perTask, `${a.id}: the feed counted the chat spans' tokens`);
      t.ok(a.cost > 0, `${a.id}: the genai processor priced the calls`);
      const shown = Number(((await cellText(page, a.id, 'cost')) ?? '').replace('$', ''));
      t.ok(shown > 0 && Math.abs(shown - a.cost) <= a.cost * 0.05, `${a.id}: cost shown ${shown} is the feed's ${a.cost}`);
    }
    t.match(await page.locator('tr[data-agent="coder"]').textContent(), /error|idle|working/, 'a state word next to the colour');

    // Live: one more task moves planner's tokens without a reload.
    fleet.task('planner');
    await fleet.flush();
    await until(page, 'planner to update live', async () => (await cellText(page, 'planner', 'tokens')) === String(3 * perTask));
    await until(page, 'the rate to show', async () => Number(await page.locator('tr[data-agent="planner"] td.num').first().textContent()) > 0);

    // The log is words, not JSON; bounded rows; the failure is in the errors panel.
    const rows = await page.locator('.log-table tbody tr').allTextContents();
    t.ok(rows.length > 10 && rows.length <= 200, `log rows: ${rows.length}`);
    t.notOk(rows.some((r) => /[{[]"/.test(r)), 'no raw JSON in the log');
    t.match(await page.locator('.alerts').textContent(), /coder.*failed/, 'the failed task among the recent errors');
    t.equal(await connLabel(page), 'Live', 'the connection state: Live');

    // The task view: the task's events and its spans' summary.
    await page.locator('tr[data-agent="planner"] .task-cell button').click();
    const task = page.locator('section.task');
    await task.waitFor({ timeout: 5000 });
    t.equal(await page.evaluate(() => document.activeElement?.id), 'task-h', 'focus moves to the task');
    const facts = await task.locator('.spans-summary').textContent();
    t.match(facts, new RegExp(`Spans4`), 'four spans: invoke_agent, two chats, a tool');
    t.match(facts, new RegExp(`Tokens${perTask}`), 'the task\'s tokens');
    t.ok((await task.locator('tbody tr').count()) >= 5, 'its events');

    await page.screenshot({ path: artifact('dashboard-light.png'), fullPage: true });
    if (process.env.FLEETCOL_SCREENSHOT === '1') {
      mkdirSync(path.join(ROOT, 'docs'), { recursive: true });
      await page.screenshot({ path: path.join(ROOT, 'docs', 'dashboard.png'), fullPage: true });
    }
    // A wall display and a phone: three columns, one column, and nothing wider than the screen.
    for (const [name, width, height] of [['wall', 2560, 1440], ['narrow', 420, 900]] as const) {
      await page.setViewportSize({ width, height });
      await sleep(300);
      await page.screenshot({ path: artifact(`dashboard-${name}.png`), fullPage: true });
      t.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), `${name}: no horizontal scrolling of the page`);
    }
    // Columns: the panels' left edges, counted.
    const columns = async () => page.evaluate(() => new Set(['.agents', '.log', '.side'].map((s) => Math.round(document.querySelector(s)!.getBoundingClientRect().left))).size);
    t.equal(await columns(), 1, 'narrow: one column');
    await page.setViewportSize({ width: 2560, height: 1440 });
    t.equal(await columns(), 3, 'wall: agents, log and side by side');
    await page.setViewportSize({ width: 1440, height: 900 });
    t.equal(await columns(), 2, 'laptop: two columns');
    t.same(await axe(page), [], 'axe: no serious or critical violation (light)');
    await page.emulateMedia({ colorScheme: 'dark' });
    await sleep(300);
    await page.screenshot({ path: artifact('dashboard-dark.png'), fullPage: true });
    t.same(await axe(page), [], 'axe: no serious or critical violation (dark)');
    await page.emulateMedia({ colorScheme: 'light', reducedMotion: 'reduce' });

    // Keyboard: the sort buttons are reachable and work.
    await page.getByRole('button', { name: 'Tokens', exact: true }).focus();
    await page.keyboard.press('Enter');
    t.equal(await page.locator('th[aria-sort="descending"]').textContent(), 'Tokens▼', 'sorted by tokens with the keyboard');
    t.equal(await page.locator('tbody tr[data-agent]').first().getAttribute('data-agent'), 'planner', 'most tokens first');

    // A restart: the history was in memory, so the new run answers the old id with `reset`.
    const before = (await hook(page))!;
    t.equal(await d.stop(), 0, 'clean stop');
    await until(page, 'reconnecting to show', async () => (await connLabel(page)) === 'Reconnecting…');
    d = await startDaemon(yaml);
    await until(page, 'the reset to show', async () => (await connLabel(page)) === 'Reset', 15_000);
    fleet.task('coder');
    await fleet.flush();
    await until(page, 'coder after the restart', async () => (await cellText(page, 'coder', 'tokens')) === String(perTask));
    t.equal(await page.locator('tr[data-agent="planner"]').count(), 0, 'agents the new run does not know are gone with the reset');

    const after = (await hook(page))!;
    t.equal(after.opens, before.opens + 1, 'one reconnect');
    const reset = after.events.filter((e) => e.type === 'reset');
    t.equal(reset.length, 1, 'one reset');
    t.match(reset[0]!.data.reason, /unknown id/, 'for an id of another run');
    t.equal(after.dupes, 0, 'no event delivered twice');
    t.equal(new Set(after.ids).size, after.ids.length, 'every id once');
    const spanIds = after.events.filter((e) => e.type === 'span').map((e) => e.data.span_id);
    t.equal(new Set(spanIds).size, spanIds.length, 'every span once');
    const logIds = await page.locator('.log-table tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-id')));
    t.equal(new Set(logIds).size, logIds.length, 'the log shows each event once');
    t.same(pageErrors, [], 'no uncaught error in the page');
    await page.screenshot({ path: artifact('dashboard-after-restart.png'), fullPage: true });
  });

  t.test('log filters re-subscribe with the feed\'s own query parameters', async (t) => {
    const f = await startFeed({ retry: '200ms' });
    t.teardown(() => f.stop());
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    t.teardown(() => context.close());
    const page = await context.newPage();
    await page.goto(`${f.base}/`);
    await until(page, 'the stream to open', async () => (await hook(page))?.opens === 1);
    await f.exp.consume(spans([{ agent: 'a', name: 'a0' }, { agent: 'b', name: 'b0' }]));
    await until(page, 'both agents', async () => (await page.locator('tr[data-agent]').count()) === 2);
    // An A2A task with progress (log records, as the a2a receiver sends them): the task and its bar.
    await f.exp.consume(records([{ agent: 'b', event: 'a2a.task.status', state: 'working', task: 'T-7' }]));
    await f.exp.consume(records([{ agent: 'b', event: 'a2a.task.status', state: 'working', task: 'T-7', attrs: [{ key: 'a2a.task.progress', value: { intValue: 40n } }] }]));
    await until(page, 'the task\'s progress', async () => (await page.locator('tr[data-agent="b"] progress').getAttribute('value', { timeout: 1000 }).catch(() => null)) === '40');
    t.match(await page.locator('tr[data-agent="b"] .task-cell').textContent(), /T-7.*40 %/, 'current task and its progress in words');
    t.match(await page.locator('tr[data-agent="b"]').textContent(), /working/, 'b is working');

    await page.getByLabel('Type').selectOption('span');
    await page.getByLabel('Agent', { exact: true }).fill('b');
    await page.getByLabel('Agent', { exact: true }).press('Enter');
    await until(page, 'the filtered stream', async () => {
      const h = await hook(page);
      const c = h?.events.find((e) => e.type === 'subscription_confirmed');
      return h?.opens === 1 && c?.data.filters.agent?.[0] === 'b' && c?.data.filters.type?.[0] === 'span';
    });
    t.match(page.url(), /\?agent=b&type=span$/, 'the filters are in the address');
    await f.exp.consume(spans([{ agent: 'a', name: 'a1' }, { agent: 'b', name: 'b1' }, { agent: 'b', name: 'b2', error: true }, { agent: 'a', name: 'a2' }]));
    await until(page, 'b\'s spans in the log', async () => (await page.locator('.log-table tbody tr').count()) === 2);
    await sleep(300);
    const rows = await page.locator('.log-table tbody tr').evaluateAll((trs) => trs.map((tr) => ({ type: tr.getAttribute('data-type'), agent: tr.querySelector('.agent')?.textContent })));
    t.same(rows, [{ type: 'span', agent: 'b' }, { type: 'span', agent: 'b' }], 'only b\'s spans (not its error event, not a\'s)');
    t.equal(await page.locator('tr[data-agent="a"] td[data-col="tokens"]').count(), 1, 'the agents table still follows every agent');

    await page.getByRole('button', { name: 'Clear filters' }).click();
    await f.exp.consume(spans([{ agent: 'a', name: 'a3' }]));
    await until(page, 'a\'s span in the unfiltered log', async () => (await page.locator('.log-table tbody tr[data-type="span"] .agent').allTextContents()).includes('a'));
    t.notMatch(page.url(), /\?/, 'no filter in the address');
  });

  t.test('login, tickets and an expiring token: the stream goes on, nothing lost or repeated', async (t) => {
    const f = await startFeed({ retry: '200ms', auth: { jwt: { secret: SECRET } } });
    t.teardown(() => f.stop());
    const key = new TextEncoder().encode(SECRET);
    const token = (expSec: number) => new SignJWT({ sub: 'operator' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime(expSec).sign(key);
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    t.teardown(() => context.close());
    const page = await context.newPage();
    const feedRequests: string[] = [];
    page.on('request', (r) => {
      if (r.url().includes('/v1/events')) feedRequests.push(r.url());
    });
    await page.goto(`${f.base}/`);
    await page.getByLabel('Token (JWT)').waitFor({ timeout: 5000 });
    t.equal(await connLabel(page), 'Signed out', 'the connection state: Signed out, before a token');
    await page.screenshot({ path: artifact('dashboard-login.png') });

    const shortLived = await token(Math.floor(Date.now() / 1000) + 4);
    await page.getByLabel('Token (JWT)').fill(shortLived);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await until(page, 'the stream to open', async () => (await hook(page))?.opens === 1);
    t.equal(await page.evaluate(() => sessionStorage.getItem('fleetcol.token')), shortLived, 'the token is kept in sessionStorage');
    t.equal(await page.evaluate(() => localStorage.length), 0, 'and not in localStorage');
    t.ok(feedRequests[0]!.includes('ticket='), 'EventSource opened with a ticket');

    // From here events are published all through the test, named in order.
    let n = 0;
    let publishing = true;
    const publisher = (async () => {
      while (publishing) {
        await f.exp.consume(spans([{ agent: 'secure', name: `s${n++}` }]));
        await sleep(40);
      }
    })();
    t.teardown(async () => {
      publishing = false;
      await publisher;
    });
    await until(page, 'the agent', async () => (await page.locator('tr[data-agent="secure"]').count()) === 1);

    // The token expires: auth_expired, the login box again; events keep coming meanwhile.
    await until(page, 'the expiry', async () => (await hook(page))!.events.some((e) => e.type === 'auth_expired'), 8000);
    await page.getByLabel('Token (JWT)').waitFor({ timeout: 5000 });
    t.match(await page.locator('section.login').textContent(), /expired/, 'the login box says why');
    const lastBefore = (await hook(page))!.ids.at(-1);
    await sleep(400);
    await page.getByLabel('Token (JWT)').fill(await token(Math.floor(Date.now() / 1000) + 60));
    await page.getByRole('button', { name: 'Sign in' }).click();
    await until(page, 'the stream to resume', async () => (await hook(page))!.opens === 2);
    await until(page, 'the resumed state', async () => /^Resumed from id /.test((await connLabel(page)) ?? ''));

    // Renewed before expiry: the page reconnects at once with the newer token.
    await page.getByRole('button', { name: 'Renew token' }).click();
    await page.getByLabel('Token (JWT)').fill(await token(Math.floor(Date.now() / 1000) + 120));
    await page.getByRole('button', { name: 'Use this token' }).click();
    await until(page, 'the renewed stream', async () => (await hook(page))!.opens === 3);

    publishing = false;
    await publisher;
    const published = n;
    await until(page, 'every event', async () => (await hook(page))!.events.filter((e) => e.type === 'span').length >= published, 10_000);
    await sleep(300);
    const h = (await hook(page))!;
    const names = h.events.filter((e) => e.type === 'span').map((e) => e.data.name);
    t.same(names, Array.from({ length: published }, (_, i) => `s${i}`), `all ${published} events, each once, in order, across three connections`);
    t.equal(h.dupes, 0, 'no event delivered twice');
    const confirms = h.events.filter((e) => e.type === 'subscription_confirmed');
    t.equal(confirms.length, 3, 'three connections');
    t.equal(confirms[1]!.data.resume.last_event_id, lastBefore, 'the second resumed from the last id before the expiry');
    t.equal(confirms[1]!.data.resume.replay, true, 'and was replayed what came meanwhile');
    t.equal(h.events.filter((e) => e.type === 'auth_expired').length, 1, 'one expiry: the renewal reconnected before the second token expired');
    t.ok(feedRequests.slice(1).every((u) => u.includes('ticket=') && u.includes('last_event_id=')), 'each reconnect: a new ticket and the last id');
    t.equal(new Set(feedRequests.map((u) => new URL(u).searchParams.get('ticket'))).size, feedRequests.length, 'no ticket used twice');
  });
}
