// Open alerts and recent errors; the task a person clicked: its events and its spans' summary.
import { useEffect, useRef } from 'preact/hooks';
import { ago, clock, count, duration, short, usd } from '../format.js';
import type { Store } from '../store.js';
import { LogLine } from './log.js';

export function AlertsPanel(props: { store: Store; now: number; onTask: (id: string) => void }) {
  const { store, now } = props;
  const alerts = [...store.alerts.values()].sort((a, b) => b.since - a.since);
  return (
    <section class="panel alerts" aria-labelledby="alerts-h">
      <h2 id="alerts-h">Alerts and errors</h2>
      <h3>Open alerts <span class="count">({alerts.length})</span></h3>
      {alerts.length === 0 ? <p class="muted">No open alert.</p> : (
        <ul class="alert-list">
          {alerts.slice(0, 50).map((a) => (
            <li key={a.key} class="alert-item">
              <span class="badge warn">alert</span> <strong>{a.agent ?? 'fleet'}</strong> {a.text} <span class="muted">· since {ago(a.since, now)}</span>
            </li>
          ))}
        </ul>
      )}
      <h3>Recent errors <span class="count">({store.errors.length})</span></h3>
      {store.errors.length === 0 ? <p class="muted">No error yet.</p> : (
        <ul class="error-list">
          {store.errors.slice(0, 20).map((r) => (
            <li key={r.id}>
              <time dateTime={new Date(r.time).toISOString()}>{clock(r.time)}</time> <strong>{r.agent ?? '—'}</strong> {r.text}
              {r.task ? <> <button type="button" class="link" title={r.task} onClick={() => props.onTask(r.task!)}><span class="visually-hidden">Open </span>task {short(r.task)}</button></> : null}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

export function TaskView(props: { store: Store; id: string; onClose: () => void }) {
  const { store, id } = props;
  const heading = useRef<HTMLHeadingElement>(null);
  // Focus follows the click to the panel it opened (keyboard and screen-reader users land on it).
  useEffect(() => heading.current?.focus(), [id]);
  const t = store.task(id);
  const s = t ? store.taskSpans(t) : undefined;
  const wall = s && s.end > s.start ? s.end - s.start : undefined;
  return (
    <section class="panel task" aria-labelledby="task-h">
      <div class="panel-head">
        <h2 id="task-h" tabIndex={-1} ref={heading}>Task {short(id)}</h2>
        <button type="button" onClick={props.onClose}>Close task</button>
      </div>
      {!t ? <p class="muted">This page holds no event of this task (it ended before the page opened, or was pushed out by newer tasks).</p> : (
        <>
          <dl class="facts">
            <div><dt>Task id</dt><dd class="mono">{t.id}</dd></div>
            <div><dt>Agent</dt><dd>{t.agent ?? '—'}</dd></div>
            <div><dt>State</dt><dd>{t.state}</dd></div>
            {t.started !== undefined ? <div><dt>Started</dt><dd>{clock(t.started)}</dd></div> : null}
            {t.durationMs !== undefined ? <div><dt>Took</dt><dd>{duration(t.durationMs)}</dd></div> : null}
            {t.message ? <div><dt>Message</dt><dd>{t.message}</dd></div> : null}
          </dl>
          <h3>Spans</h3>
          <dl class="facts spans-summary">
            <div><dt>Spans</dt><dd>{s!.spans}</dd></div>
            <div><dt>Tokens</dt><dd>{count(s!.inTokens + s!.outTokens)} <span class="muted">({count(s!.inTokens)} in / {count(s!.outTokens)} out)</span></dd></div>
            <div><dt>Cost</dt><dd>{usd(s!.cost)}</dd></div>
            <div><dt>Errors</dt><dd>{s!.errors}</dd></div>
            <div><dt>Duration</dt><dd>{wall !== undefined ? duration(wall) : '—'}</dd></div>
          </dl>
          <h3>Events</h3>
          <div class="table-wrap">
            <table class="grid-table">
              <caption class="visually-hidden">Events of task {t.id}, oldest first</caption>
              <thead><tr><th scope="col">Time</th><th scope="col">Type</th><th scope="col">What</th></tr></thead>
              <tbody>{t.events.map((r) => <LogLine key={r.id} r={r} showAgent={false} />)}</tbody>
            </table>
          </div>
        </>
      )}
    </section>
  );
}
