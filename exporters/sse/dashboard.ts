// GET /: a minimal page that loads /v1/agents and follows /v1/events (query string passed through,
// so `/?type=alert` follows alerts). It keeps what it received in `window.feed` for scripts.
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>fleetcol live feed</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px system-ui,sans-serif;margin:1rem;color:#222}h1{font-size:1.2rem}
table{border-collapse:collapse}td,th{padding:.2rem .6rem;border-bottom:1px solid #ddd;text-align:left}
#log{font:12px ui-monospace,monospace;white-space:pre;max-height:60vh;overflow:auto;background:#f6f6f6;padding:.5rem}
.error,.task_failed,.agent_offline{color:#b00}.alert{color:#a60}
</style></head><body>
<h1>fleetcol live feed <small id="state">connecting…</small></h1>
<table id="agents"><thead><tr><th>agent</th><th>status</th><th>online</th><th>last seen</th><th>tokens</th><th>cost</th></tr></thead><tbody></tbody></table>
<h2>events</h2><div id="log"></div>
<script>
const feed = window.feed = { events: [], ids: [], dupes: 0, opens: 0, errors: 0, agents: {} };
const seen = new Set();
const $ = (s) => document.querySelector(s);
function renderAgents() {
  const rows = Object.values(feed.agents).map((a) => '<tr><td>' + esc(a.id) + '</td><td>' + esc(a.status) + '</td><td>' + (a.online ? 'yes' : 'no') +
    '</td><td>' + new Date(a.last_seen).toLocaleTimeString() + '</td><td>' + ((a.input_tokens || 0) + (a.output_tokens || 0)) + '</td><td>' + (a.cost || 0).toFixed(4) + '</td></tr>');
  $('#agents tbody').innerHTML = rows.join('');
}
function esc(s) { return String(s ?? '').replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]); }
fetch('/v1/agents', { credentials: 'same-origin' }).then((r) => r.ok ? r.json() : { agents: [] }).then((j) => {
  for (const a of j.agents) feed.agents[a.id] = a;
  renderAgents();
}).catch(() => {});
const types = ['subscription_confirmed','agent_online','agent_offline','status_change','task_started','progress_update','task_completed','task_failed','span','error','alert','metrics_update','heartbeat','auth_expired','reset'];
const es = new EventSource('/v1/events' + location.search, { withCredentials: true });
es.onopen = () => { feed.opens++; $('#state').textContent = 'live'; };
es.onerror = () => { feed.errors++; $('#state').textContent = es.readyState === 2 ? 'closed' : 'reconnecting…'; };
for (const t of types) es.addEventListener(t, (e) => {
  const data = JSON.parse(e.data);
  if (t !== 'subscription_confirmed' && t !== 'reset' && t !== 'auth_expired') {
    if (seen.has(e.lastEventId)) feed.dupes++;
    seen.add(e.lastEventId);
    feed.ids.push(e.lastEventId);
  }
  feed.events.push({ id: e.lastEventId, type: t, data });
  if (feed.events.length > 100000) feed.events.splice(0, 50000);
  if (data && data.agent && (t === 'status_change' || t === 'agent_online' || t === 'agent_offline')) {
    const a = feed.agents[data.agent] ||= { id: data.agent };
    if (t === 'status_change') a.status = data.status;
    if (t === 'agent_online') { a.online = true; a.status = data.status; }
    if (t === 'agent_offline') a.online = false;
    a.last_seen = data.time;
    renderAgents();
  }
  const line = document.createElement('div');
  line.className = t;
  line.textContent = e.lastEventId + ' ' + t + ' ' + e.data.slice(0, 200);
  const log = $('#log');
  log.prepend(line);
  while (log.childElementCount > 200) log.lastElementChild.remove();
});
</script></body></html>
`;
