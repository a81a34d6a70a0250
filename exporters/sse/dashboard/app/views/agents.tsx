// The agents: sortable by column, filtered by text, a page at a time (500 agents stay cheap: only
// one page is in the DOM, and the table is redrawn at most a few times a second).
import { useState } from 'preact/hooks';
import { ago, count, percent, short, STATE_LABEL, usd } from '../format.js';
import type { Agent, Store } from '../store.js';

type Key = 'agent' | 'state' | 'task' | 'seen' | 'rate' | 'tokens' | 'cost' | 'errors';

const COLUMNS: { key: Key; label: string; numeric?: boolean }[] = [
  { key: 'agent', label: 'Agent' },
  { key: 'state', label: 'State' },
  { key: 'task', label: 'Current task' },
  { key: 'seen', label: 'Last seen' },
  { key: 'rate', label: 'Tokens/min', numeric: true },
  { key: 'tokens', label: 'Tokens', numeric: true },
  { key: 'cost', label: 'Cost', numeric: true },
  { key: 'errors', label: 'Errors', numeric: true },
];

const STATE_ORDER: Record<string, number> = { error: 0, input_required: 1, working: 2, idle: 3, offline: 4 };
const PAGE = 50;
const MAX_QUERY = 200;

function sortValue(a: Agent, key: Key, now: number): number | string {
  switch (key) {
    case 'agent': return (a.name ?? a.id).toLowerCase();
    case 'state': return STATE_ORDER[a.status] ?? 5;
    case 'task': return a.tasks.at(-1) ?? '\uffff';
    case 'seen': return a.lastSeen;
    case 'rate': return a.rate.perMinute(now);
    case 'tokens': return a.inTokens + a.outTokens;
    case 'cost': return a.cost;
    case 'errors': return a.errors;
  }
}

export function StateBadge(props: { status: string }) {
  return (
    <span class={`state state-${props.status in STATE_LABEL ? props.status : 'other'}`}>
      <span class="dot" aria-hidden="true" />
      {STATE_LABEL[props.status] ?? props.status}
    </span>
  );
}

export function AgentsTable(props: { store: Store; now: number; onTask: (id: string) => void }) {
  const { store, now } = props;
  const [query, setQuery] = useState('');
  const [sort, setSort] = useState<{ key: Key; dir: 1 | -1 }>({ key: 'agent', dir: 1 });
  const [page, setPage] = useState(0);

  const q = query.trim().toLowerCase();
  let rows = [...store.agents.values()];
  if (q) rows = rows.filter((a) => a.id.toLowerCase().includes(q) || (a.name ?? '').toLowerCase().includes(q) || (a.service ?? '').toLowerCase().includes(q) || a.status.includes(q) || a.tasks.some((t) => t.toLowerCase().includes(q)));
  const keyed = rows.map((a) => ({ a, v: sortValue(a, sort.key, now) }));
  keyed.sort((x, y) => (x.v < y.v ? -sort.dir : x.v > y.v ? sort.dir : x.a.id < y.a.id ? -1 : x.a.id > y.a.id ? 1 : 0));
  const pages = Math.max(1, Math.ceil(keyed.length / PAGE));
  const p = Math.min(page, pages - 1);
  const shown = keyed.slice(p * PAGE, (p + 1) * PAGE);

  const toggle = (key: Key) => {
    setSort((s) => (s.key === key ? { key, dir: s.dir === 1 ? -1 : 1 } : { key, dir: key === 'agent' || key === 'state' || key === 'task' ? 1 : -1 }));
  };

  return (
    <section class="panel agents" aria-labelledby="agents-h">
      <div class="panel-head">
        <h2 id="agents-h" tabIndex={-1}>Agents</h2>
        <label class="inline">
          <span>Filter agents</span>
          <input type="search" value={query} maxLength={MAX_QUERY} placeholder="name, state, task…" onInput={(e) => { setQuery((e.currentTarget as HTMLInputElement).value.slice(0, MAX_QUERY)); setPage(0); }} />
        </label>
      </div>
      <div class="table-wrap">
        <table class="grid-table">
          <caption class="visually-hidden">Agents, sorted by {COLUMNS.find((c) => c.key === sort.key)!.label} {sort.dir === 1 ? 'ascending' : 'descending'}</caption>
          <thead>
            <tr>
              {COLUMNS.map((c) => (
                <th scope="col" class={c.numeric ? 'num' : undefined} aria-sort={sort.key === c.key ? (sort.dir === 1 ? 'ascending' : 'descending') : 'none'}>
                  <button type="button" class="sort" onClick={() => toggle(c.key)}>
                    {c.label}
                    <span aria-hidden="true" class="arrow">{sort.key === c.key ? (sort.dir === 1 ? '▲' : '▼') : ''}</span>
                  </button>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {shown.length === 0 ? (
              <tr><td colSpan={COLUMNS.length} class="empty">{store.agents.size === 0 ? 'No agents yet: they appear with their first span, log record or metric.' : 'No agent matches the filter.'}</td></tr>
            ) : shown.map(({ a }) => <AgentRow key={a.id} a={a} now={now} onTask={props.onTask} />)}
          </tbody>
        </table>
      </div>
      <nav class="pager" aria-label="Agent pages">
        <button type="button" disabled={p === 0} onClick={() => setPage(p - 1)}>Previous page</button>
        <span>{keyed.length === 0 ? 'no agents' : `${p * PAGE + 1}–${p * PAGE + shown.length} of ${keyed.length} agents`}</span>
        <button type="button" disabled={p >= pages - 1} onClick={() => setPage(p + 1)}>Next page</button>
      </nav>
    </section>
  );
}

function AgentRow(props: { a: Agent; now: number; onTask: (id: string) => void }) {
  const { a, now } = props;
  const current = a.tasks.at(-1);
  const progress = current !== undefined ? a.progress.get(current) : undefined;
  return (
    <tr data-agent={a.id}>
      <th scope="row" class="agent-name">
        {a.name && a.name !== a.id ? <>{a.name} <span class="muted">({a.id})</span></> : a.id}
      </th>
      <td><StateBadge status={a.status} /></td>
      <td class="task-cell">
        {current !== undefined ? (
          <>
            <button type="button" class="link" title={current} onClick={() => props.onTask(current)}><span class="visually-hidden">Open task </span>{short(current)}</button>
            {progress !== undefined ? (
              <span class="progress"><progress max={100} value={percent(progress)} aria-label={`Progress of task ${current}`} /> {percent(progress)} %</span>
            ) : null}
            {a.tasks.length > 1 ? <span class="muted"> +{a.tasks.length - 1} more</span> : null}
          </>
        ) : a.lastTask ? (
          <span class="muted">last <button type="button" class="link" title={a.lastTask} onClick={() => props.onTask(a.lastTask!)}><span class="visually-hidden">Open task </span>{short(a.lastTask)}</button></span>
        ) : <span class="muted">none</span>}
      </td>
      <td>{a.lastSeen > 0 ? <time dateTime={new Date(a.lastSeen).toISOString()}>{ago(a.lastSeen, now)}</time> : '—'}</td>
      <td class="num">{count(a.rate.perMinute(now))}</td>
      <td class="num" data-col="tokens">{count(a.inTokens + a.outTokens)}</td>
      <td class="num" data-col="cost">{usd(a.cost)}</td>
      <td class={`num${a.errors > 0 ? ' has-errors' : ''}`}>{count(a.errors)}</td>
    </tr>
  );
}
