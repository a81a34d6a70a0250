// The shipped metrics setup end to end (config/genai-metrics-prometheus.yaml): an agent's trace of
// 3 model calls and 2 tool calls (one failing) over OTLP → genai → genai_metrics → exporter
// prometheus, scraped by a real Prometheus (Debian `prometheus`); PromQL finds the values. promtool
// checks both endpoints' output and the shipped alerting rules; every PromQL expression of the
// shipped Grafana dashboard is accepted by Prometheus' query API.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { OtlpGrpcClient, ROOT, freePort, startDaemon, waitFor } from './helper.js';
import { spanRequest } from './genai-support.js';
import { PROMETHEUS, PROMTOOL, query, startPrometheus } from './prometheus-support.js';

if (!existsSync(PROMETHEUS) || !existsSync(PROMTOOL)) {
  if (process.env.CI) t.fail(`${PROMETHEUS} or ${PROMTOOL} is missing under CI=true, where nothing may skip (apt-get install -y prometheus)`);
  else t.comment('SKIP: prometheus/promtool are missing, so the shipped metrics setup cannot be checked (apt-get install -y prometheus)');
} else {
  t.test('promtool accepts the shipped alerting rules', async (t) => {
    const r = spawnSync(PROMTOOL, ['check', 'rules', `${ROOT}/config/prometheus/fleet-alerts.yaml`], { encoding: 'utf8' });
    t.equal(r.status, 0, r.stdout + r.stderr);
    t.match(r.stdout, /SUCCESS: 5 rules found/);
  });

  t.test('an agent trace becomes metrics Prometheus scrapes, by value; the dashboard\'s queries run', async (t) => {
    const grpc = await freePort();
    const http = await freePort();
    const exporter = await freePort();
    const yaml = readFileSync(`${ROOT}/config/genai-metrics-prometheus.yaml`, 'utf8');
    const d = await startDaemon(yaml, {
      env: { FLEETCOL_OTLP_GRPC_ENDPOINT: `127.0.0.1:${grpc}`, FLEETCOL_OTLP_HTTP_ENDPOINT: `127.0.0.1:${http}`, FLEETCOL_PROMETHEUS_ENDPOINT: `127.0.0.1:${exporter}` },
      extraArgs: ['--set', 'connectors.genai_metrics.metrics_flush_interval=300ms'],
    });
    t.teardown(() => d.stop());
    const prom = await startPrometheus(await freePort(), `127.0.0.1:${exporter}`);
    t.teardown(() => prom.stop());
    const client = new OtlpGrpcClient(grpc);
    t.teardown(() => client.close());

    // Children first (they end first), the invoke_agent root last; only the root names the agent.
    const trace = spanRequest([
      { id: 2, parent: 1, name: 'chat gpt-4o', attrs: { 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4o', 'gen_ai.usage.input_tokens': 1000, 'gen_ai.usage.output_tokens': 100 } },
      { id: 3, parent: 1, name: 'execute_tool search', attrs: { 'gen_ai.tool.name': 'search' } },
      { id: 4, parent: 1, name: 'chat gpt-4o', attrs: { 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4o', 'gen_ai.usage.input_tokens': 2000, 'gen_ai.usage.output_tokens': 200 } },
      { id: 5, parent: 1, name: 'execute_tool fetch', attrs: { 'gen_ai.tool.name': 'fetch', 'error.type': 'timeout' }, status: 2 },
      { id: 6, parent: 1, name: 'chat gpt-4o', attrs: { 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4o', 'gen_ai.usage.input_tokens': 3000, 'gen_ai.usage.output_tokens': 300 } },
      { id: 1, name: 'invoke_agent researcher', attrs: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.id': 'r-1', 'gen_ai.agent.name': 'researcher' } },
    ], { 'service.name': 'fleet-a' });
    t.equal((await client.export('traces', Buffer.from(trace.toProto()))).err, undefined);

    const one = async (expr: string) => {
      const v = await query(prom, expr);
      return v.length === 0 ? undefined : Number(v[0]!.value[1]);
    };
    await waitFor(async () => (await one('sum(fleetcol_gen_ai_calls_total)')) === 6, 30_000, 'the calls in Prometheus');
    const a = '{gen_ai_agent_name="researcher", job="fleet-a"}';
    t.equal(await one(`sum(fleetcol_gen_ai_calls_total{gen_ai_operation_name="chat", gen_ai_agent_name="researcher"})`), 3, 'model calls, attributed to their agent');
    t.equal(await one(`sum(fleetcol_gen_ai_calls_total{gen_ai_operation_name="execute_tool", gen_ai_agent_name="researcher"})`), 2);
    t.equal(await one(`sum(fleetcol_gen_ai_errors_total{error_type="timeout"})`), 1);
    t.equal(await one(`sum(fleetcol_gen_ai_tool_calls_total{gen_ai_tool_name="fetch", status="error"})`), 1);
    t.equal(await one(`sum(fleetcol_gen_ai_tool_calls_total{gen_ai_tool_name="search", status="ok"})`), 1);
    // gpt-4o at $2.50 in and $10 out per million: 6000 in, 600 out
    t.equal(Math.round((await one(`sum(fleetcol_gen_ai_cost_USD_total${a})`))! * 1e6), 6000 * 2.5 + 600 * 10, 'cost in USD');
    t.equal(await one(`sum(gen_ai_client_token_usage_sum{gen_ai_token_type="input"})`), 6000);
    t.equal(await one(`sum(gen_ai_client_token_usage_count{gen_ai_token_type="output"})`), 3);
    t.equal(await one(`sum(gen_ai_client_token_usage_bucket{gen_ai_token_type="input", le="1024"})`), 1, '1000 in (256, 1024]');
    t.equal(await one(`sum(gen_ai_client_token_usage_bucket{gen_ai_token_type="input", le="4096"})`), 3);
    t.equal(await one(`sum(gen_ai_client_operation_duration_seconds_count{gen_ai_operation_name="chat"})`), 3);

    // promtool on both endpoints' output.
    for (const url of [`http://127.0.0.1:${exporter}/metrics`, `http://127.0.0.1:${d.metricsPort}/metrics`]) {
      const text = await (await fetch(url)).text();
      const r = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8' });
      t.equal(r.status, 0, `promtool check metrics ${url}: ${r.stdout}${r.stderr}`);
    }

    // Every query of the dashboard runs (template variables as "all").
    const dash = JSON.parse(readFileSync(`${ROOT}/config/grafana/fleet-dashboard.json`, 'utf8')) as { panels: { title: string; targets: { expr: string }[] }[] };
    const exprs = dash.panels.flatMap((p) => p.targets.map((x) => ({ title: p.title, expr: x.expr.replaceAll('$job', '.*').replaceAll('$agent', '.*') })));
    t.ok(exprs.length >= 12, `${exprs.length} queries`);
    for (const { title, expr } of exprs) {
      const r = await fetch(`${prom.url}/api/v1/query?query=${encodeURIComponent(expr)}`);
      const body = (await r.json()) as { status: string; error?: string };
      t.equal(body.status, 'success', `${title}: ${expr} ${body.error ?? ''}`);
    }
    // increase() needs two samples of a series: a few scrapes on, the cost panel has a row.
    const rows = await waitFor(async () => {
      const v = await query(prom, 'sum by (gen_ai_agent_name, gen_ai_request_model) (increase(fleetcol_gen_ai_cost_USD_total[1h]))');
      return v.length > 0 ? v : undefined;
    }, 15_000, 'the cost panel\'s query to have data');
    t.match(rows[0]!.metric, { gen_ai_agent_name: 'researcher', gen_ai_request_model: 'gpt-4o' });
  });
}
