// The dashboard at / of the sse exporter. It loads /v1/agents (the snapshot, with the id of the
// last event in it), then follows /v1/events from exactly that id, so nothing is counted twice or
// missed. One unfiltered stream feeds the agents, alerts, tasks and charts; when the event log is
// filtered, a second stream with those filters (the feed's own query parameters) feeds the log.
// The page is redrawn at most once per animation frame and a few times a second, however many
// events arrive. `window.feed` is the log's stream as tests see it (ids, dupes, opens, events).
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { Auth } from './auth.js';
import { FeedConnection, filtered, NO_FILTERS, type ConnState, type FeedHook, type Filters } from './feed.js';
import { LOG_TYPES, SEVERITIES, type Data } from './format.js';
import { Store } from './store.js';
import { AgentsTable } from './views/agents.js';
import { Charts } from './views/charts.js';
import { Header } from './views/header.js';
import { EventLog } from './views/log.js';
import { Login } from './views/login.js';
import { AlertsPanel, TaskView } from './views/side.js';
import './style.css';

declare global {
  interface Window {
    feed?: FeedHook;
    feeds?: { main?: FeedHook; log?: FeedHook };
  }
}

/** Redraws at most this often (plus once per animation frame at most). */
const MIN_FRAME_MS = 200;
const MAX_FILTER_VALUES = 64;
const MAX_VALUE = 256;
const KNOWN_TYPES = new Set<string>([...LOG_TYPES, 'heartbeat']);

function readFilters(search: string): Filters {
  const q = new URLSearchParams(search);
  const list = (k: string) => [...new Set(q.getAll(k).flatMap((v) => v.split(',')).map((s) => s.trim()).filter((s) => s !== '' && s.length <= MAX_VALUE))].slice(0, MAX_FILTER_VALUES);
  const sev = q.get('min_severity') ?? '';
  return { agent: list('agent'), type: list('type').filter((t) => KNOWN_TYPES.has(t)), minSeverity: (SEVERITIES as readonly string[]).includes(sev) ? sev : '' };
}

function writeFilters(f: Filters): void {
  const q = new URLSearchParams();
  if (f.agent.length > 0) q.set('agent', f.agent.join(','));
  if (f.type.length > 0) q.set('type', f.type.join(','));
  if (f.minSeverity) q.set('min_severity', f.minSeverity);
  const s = q.toString();
  history.replaceState(null, '', s ? `?${s}` : location.pathname);
}

class Controller {
  readonly store = new Store();
  readonly auth = new Auth();
  main: FeedConnection | undefined;
  log: FeedConnection | undefined;
  mainState: ConnState = { phase: 'connecting' };
  logState: ConnState | undefined;
  filters: Filters = readFilters(location.search);
  private booting = false;

  constructor() {
    this.auth.onChange(() => this.tokenChanged());
  }

  /** The snapshot, first, then the streams from its last event id. */
  async boot(): Promise<void> {
    if (this.booting || this.main) return;
    this.booting = true;
    try {
      const snap = await this.snapshot();
      if (!snap || this.main) return;
      this.store.applySnapshot(snap);
      this.main = new FeedConnection({
        filters: NO_FILTERS,
        auth: this.auth,
        after: typeof snap.last_event_id === 'string' ? snap.last_event_id : undefined,
        onEvent: (ev) => {
          if (ev.type === 'reset') {
            // The feed forgot what the page knew (it restarted): agents come again from a snapshot.
            this.store.resetServerState();
            void this.reload();
          }
          this.store.apply(ev);
          if (!this.log) this.store.logEvent(ev);
          this.store.changed();
        },
        onState: (s) => {
          this.mainState = s;
          this.store.changed();
        },
      });
      this.main.start();
      this.openLog();
    } finally {
      this.booting = false;
    }
  }

  /** GET /v1/agents, with the token when there is one; retried with backoff while the feed is away. */
  private async snapshot(): Promise<Data | undefined> {
    for (let attempt = 0; ; attempt++) {
      try {
        const sent = this.auth.headers();
        const r = await fetch('/v1/agents', { headers: sent, credentials: 'same-origin', cache: 'no-store' });
        if (r.status === 401) {
          const hadToken = 'authorization' in sent;
          this.auth.mode = 'token';
          if (!hadToken && this.auth.token !== undefined) continue; // there is one: send it
          if (hadToken) this.auth.clear('The feed refused the token (expired or invalid). Paste a new one.');
          this.mainState = { phase: 'login', detail: 'a token is needed' };
          this.store.changed();
          return undefined;
        }
        if (r.ok) {
          if (this.auth.mode === 'unknown') this.auth.mode = 'authorization' in sent ? 'token' : 'none';
          return (await r.json()) as Data;
        }
        this.mainState = { phase: 'reconnecting', detail: `the feed answered ${r.status}` };
      } catch {
        this.mainState = { phase: 'reconnecting', detail: 'the feed cannot be reached' };
      }
      this.store.changed();
      await new Promise((res) => setTimeout(res, Math.min(30_000, 1000 * 2 ** Math.min(attempt, 5))));
    }
  }

  /** After a reset: a new snapshot (agent events wait for it in the store). */
  private async reload(): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        const r = await fetch('/v1/agents', { headers: this.auth.headers(), credentials: 'same-origin', cache: 'no-store' });
        if (r.ok) {
          this.store.applySnapshot((await r.json()) as Data);
          return;
        }
      } catch {
        /* tried again below */
      }
      await new Promise((res) => setTimeout(res, 500 * 2 ** attempt));
    }
    // No snapshot to be had: go on from the events alone.
    this.store.applySnapshot({ agents: [] });
  }

  private openLog(): void {
    this.log?.close();
    this.log = undefined;
    this.logState = undefined;
    if (filtered(this.filters)) {
      this.log = new FeedConnection({
        filters: this.filters,
        auth: this.auth,
        onEvent: (ev) => {
          this.store.logEvent(ev);
          this.store.changed();
        },
        onState: (s) => {
          this.logState = s;
          this.store.changed();
        },
      });
      this.log.start();
    }
    window.feed = (this.log ?? this.main)?.hook;
    window.feeds = { main: this.main?.hook, log: this.log?.hook };
  }

  /** Changes some filters (the others stay as they are now, not as the last redraw saw them). */
  setFilters(change: Partial<Filters>): void {
    const f = { ...this.filters, ...change };
    const same = (a: Filters, b: Filters) => a.agent.join() === b.agent.join() && a.type.join() === b.type.join() && a.minSeverity === b.minSeverity;
    if (same(f, this.filters)) return;
    this.filters = f;
    writeFilters(f);
    this.store.clearLog();
    if (this.main) this.openLog();
    this.store.changed();
  }

  private tokenChanged(): void {
    if (this.auth.token !== undefined && !this.auth.needsLogin) {
      if (!this.main) void this.boot();
      else {
        this.main.renew();
        this.log?.renew();
      }
    }
    this.store.changed();
  }

  signOut(): void {
    this.main?.close();
    this.log?.close();
    this.main = this.log = undefined;
    this.auth.clear('Signed out.');
    this.mainState = { phase: 'login', detail: 'signed out' };
    this.store.changed();
  }
}

function App(props: { c: Controller }) {
  const { c } = props;
  const [, redraw] = useState(0);
  const [task, setTask] = useState<string | undefined>(undefined);
  const [renewing, setRenewing] = useState(false);

  useEffect(() => {
    let queued = false;
    let last = 0;
    const frame = () => {
      queued = false;
      last = performance.now();
      redraw((n) => n + 1);
    };
    const unsubscribe = c.store.subscribe(() => {
      if (queued) return;
      queued = true;
      const wait = Math.max(0, last + MIN_FRAME_MS - performance.now());
      setTimeout(() => requestAnimationFrame(frame), wait);
    });
    // Times ("4 s ago"), rates and charts move with the clock even when no event comes.
    const clock = setInterval(() => c.store.changed(), 1000);
    return () => {
      unsubscribe();
      clearInterval(clock);
    };
  }, [c]);

  const now = Date.now();
  const needsLogin = c.auth.needsLogin || c.mainState.phase === 'login';
  return (
    <>
      <Header conn={c.mainState} fleet={c.store.fleet()} auth={c.auth} onChangeToken={() => setRenewing(true)} onSignOut={() => c.signOut()} />
      <main id="main">
        {needsLogin ? <Login auth={c.auth} renewing={false} /> : renewing ? <Login auth={c.auth} renewing onCancel={() => setRenewing(false)} onDone={() => setRenewing(false)} /> : null}
        <div class="layout">
          <Charts store={c.store} second={Math.floor(now / 1000)} />
          <div class="primary">
            <AgentsTable store={c.store} now={now} onTask={setTask} />
            <EventLog store={c.store} filters={c.filters} setFilters={(f) => c.setFilters(f)} logConn={c.logState} onTask={setTask} />
          </div>
          <aside class="side" aria-label="Tasks, alerts and errors">
            {task !== undefined ? <TaskView store={c.store} id={task} onClose={() => setTask(undefined)} /> : null}
            <AlertsPanel store={c.store} now={now} onTask={setTask} />
          </aside>
        </div>
      </main>
    </>
  );
}

const controller = new Controller();
const root = document.getElementById('app')!;
root.textContent = ''; // the "Loading…" line
render(<App c={controller} />, root);
void controller.boot();
