import type { Auth } from '../auth.js';
import type { ConnState } from '../feed.js';
import { clock, count, usd } from '../format.js';
import type { Fleet } from '../store.js';

/** The connection state in words: always shown, announced (politely) only when it changes. */
export function stateText(s: ConnState): { label: string; detail: string } {
  switch (s.phase) {
    case 'connecting':
      return { label: 'Connecting…', detail: '' };
    case 'live':
      return s.resumedFrom ? { label: `Resumed from id ${s.resumedFrom}`, detail: 'live again, nothing missed' } : { label: 'Live', detail: '' };
    case 'reconnecting':
      return { label: 'Reconnecting…', detail: s.detail ?? '' };
    case 'reset':
      return { label: 'Reset', detail: `${s.detail ?? 'the feed restarted'}; agents reloaded, live again` };
    case 'login':
      return { label: 'Signed out', detail: s.detail ?? 'a token is needed' };
  }
}

export function Header(props: { conn: ConnState; fleet: Fleet; auth: Auth; onChangeToken: () => void; onSignOut: () => void }) {
  const { conn, fleet, auth } = props;
  const t = stateText(conn);
  const exp = auth.mode === 'token' ? auth.expiresAt : undefined;
  return (
    <header class="top">
      <a class="skip" href="#agents-h">Skip to agents</a>
      <h1>fleetcol <span class="sub">live fleet</span></h1>
      <div class={`conn conn-${conn.phase}`} id="conn">
        <span class="dot" aria-hidden="true" />
        <span role="status" aria-live="polite" aria-atomic="true">
          <strong class="conn-label">{t.label}</strong>
          {t.detail ? <span class="conn-detail"> · {t.detail}</span> : null}
        </span>
      </div>
      <dl class="kpis" aria-label="Fleet totals">
        <div><dt>Online</dt><dd>{fleet.online}/{fleet.total}</dd></div>
        <div><dt>Working</dt><dd>{fleet.working}</dd></div>
        <div><dt>Tokens</dt><dd>{count(fleet.tokens)}</dd></div>
        <div><dt>Cost</dt><dd>{usd(fleet.cost)}</dd></div>
        <div><dt>Errors</dt><dd>{count(fleet.errors)}</dd></div>
      </dl>
      {auth.mode === 'token' && !auth.needsLogin ? (
        <div class="session">
          {exp === undefined ? <span>Signed in</span>
            : exp - Date.now() < 60_000 ? <strong class="expiring">Token expires at {clock(exp)}: renew it to stay connected</strong>
              : <span>Token valid until {clock(exp)}</span>}
          <button type="button" onClick={props.onChangeToken}>Renew token</button>
          <button type="button" onClick={props.onSignOut}>Sign out</button>
        </div>
      ) : null}
    </header>
  );
}
