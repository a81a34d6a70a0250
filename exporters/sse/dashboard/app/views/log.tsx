// The live event log: the last LOG_ROWS events, newest first, one line of words each. Its filters
// are the feed's own (agent, type, min_severity): changing one re-subscribes with them.
import { useState } from 'preact/hooks';
import type { ConnState, Filters } from '../feed.js';
import { clock, LOG_TYPES, SEVERITIES, short } from '../format.js';
import { LOG_ROWS, type LogRow, type Store } from '../store.js';
import { stateText } from './header.js';

const MAX_AGENT_FILTER = 1000;

export function EventLog(props: { store: Store; filters: Filters; setFilters: (f: Partial<Filters>) => void; logConn: ConnState | undefined; onTask: (id: string) => void }) {
  const { store, filters } = props;
  const [agentText, setAgentText] = useState(filters.agent.join(', '));
  const typeValue = filters.type.join(',');
  const typeOptions: string[] = [...LOG_TYPES];
  if (typeValue && !typeOptions.includes(typeValue)) typeOptions.push(typeValue);

  const applyAgents = (text: string) => {
    const agent = [...new Set(text.slice(0, MAX_AGENT_FILTER).split(',').map((s) => s.trim()).filter(Boolean))].slice(0, 64);
    props.setFilters({ agent });
  };

  return (
    <section class="panel log" aria-labelledby="log-h">
      <div class="panel-head">
        <h2 id="log-h">Event log</h2>
        {props.logConn && props.logConn.phase !== 'live' ? <span class="muted">filtered stream: {stateText(props.logConn).label}</span> : null}
      </div>
      <form class="filters" onSubmit={(e) => { e.preventDefault(); applyAgents(agentText); }}>
        <label>
          <span>Agent</span>
          <input name="agent" list="agent-ids" value={agentText} maxLength={MAX_AGENT_FILTER} placeholder="all agents"
            onInput={(e) => setAgentText((e.currentTarget as HTMLInputElement).value)}
            onChange={(e) => applyAgents((e.currentTarget as HTMLInputElement).value)} />
          <datalist id="agent-ids">
            {[...store.agents.keys()].slice(0, 200).map((id) => <option key={id} value={id} />)}
          </datalist>
        </label>
        <label>
          <span>Type</span>
          <select name="type" value={typeValue} onChange={(e) => { const v = (e.currentTarget as HTMLSelectElement).value; props.setFilters({ type: v ? v.split(',') : [] }); }}>
            <option value="">all types</option>
            {typeOptions.map((t) => <option key={t} value={t}>{t.replace(/,/g, ', ')}</option>)}
          </select>
        </label>
        <label>
          <span>Severity at least</span>
          <select name="min_severity" value={filters.minSeverity} onChange={(e) => props.setFilters({ minSeverity: (e.currentTarget as HTMLSelectElement).value })}>
            <option value="">any</option>
            {SEVERITIES.slice(1).map((s) => <option key={s} value={s}>{s}</option>)}
          </select>
        </label>
        <button type="submit">Apply</button>
        {filters.agent.length + filters.type.length > 0 || filters.minSeverity ? (
          <button type="button" onClick={() => { setAgentText(''); props.setFilters({ agent: [], type: [], minSeverity: '' }); }}>Clear filters</button>
        ) : null}
      </form>
      <div class="table-wrap log-wrap">
        <table class="grid-table log-table">
          <caption class="visually-hidden">The last {LOG_ROWS} events, newest first</caption>
          <thead>
            <tr><th scope="col">Time</th><th scope="col">Type</th><th scope="col">Agent</th><th scope="col">What</th></tr>
          </thead>
          <tbody>
            {store.log.length === 0 ? <tr><td colSpan={4} class="empty">No events yet.</td></tr> : store.log.map((r) => <LogLine key={r.id} r={r} onTask={props.onTask} />)}
          </tbody>
        </table>
      </div>
    </section>
  );
}

export function LogLine(props: { r: LogRow; onTask?: (id: string) => void; showAgent?: boolean }) {
  const { r } = props;
  return (
    <tr class={`sev-${r.severity}`} data-type={r.type} data-id={r.id}>
      <td class="time"><time dateTime={new Date(r.time).toISOString()}>{clock(r.time)}</time></td>
      <td><span class={`type type-${r.type}`}>{r.type.replace(/_/g, ' ')}</span></td>
      {props.showAgent === false ? null : <td class="agent">{r.agent ?? '—'}</td>}
      <td class="what">
        {r.severity === 'error' ? <span class="visually-hidden">Error: </span> : null}
        {r.text}
        {r.task && props.onTask ? <> <button type="button" class="link" title={r.task} onClick={() => props.onTask!(r.task!)}><span class="visually-hidden">Open </span>task {short(r.task)}</button></> : null}
      </td>
    </tr>
  );
}
