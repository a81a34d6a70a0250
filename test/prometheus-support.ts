// A real Prometheus (Debian `prometheus`) for tests: started on a loopback port with a scrape job
// for one target, queried through its HTTP API, stopped and cleaned up.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './helper.js';

export const PROMETHEUS = '/usr/bin/prometheus';
export const PROMTOOL = '/usr/bin/promtool';

export interface Prometheus {
  url: string;
  stop(): Promise<void>;
  output(): string;
}

/** Prometheus on `port`: scraping `target` every second when given (else no scrape jobs), with
 *  `flags` added (e.g. the remote-write receiver). */
export async function startPrometheus(port: number, target?: string, flags: readonly string[] = ['--enable-feature=exemplar-storage']): Promise<Prometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'fleetcol-prom-'));
  const config = join(dir, 'prometheus.yml');
  // honor_labels: the job and instance fleetcol gives each series (from service.name and
  // service.instance.id) are kept rather than renamed exported_job / exported_instance.
  writeFileSync(config, target === undefined ? 'global:\n  evaluation_interval: 1m\nscrape_configs: []\n' : `global:
  scrape_interval: 1s
  evaluation_interval: 1m
scrape_configs:
  - job_name: fleetcol
    honor_labels: true
    scrape_interval: 1s
    static_configs:
      - targets: ['${target}']
`);
  let out = '';
  const proc: ChildProcess = spawn(PROMETHEUS, [
    `--config.file=${config}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    ...flags,
    '--log.level=warn',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => {
    if (proc.exitCode !== null) throw new Error(`prometheus exited: ${out}`);
    try {
      return (await fetch(`${url}/-/ready`)).status === 200;
    } catch {
      return false;
    }
  }, 30_000, 'prometheus to be ready');
  return {
    url,
    output: () => out,
    async stop() {
      proc.kill('SIGTERM');
      const killer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Vector { metric: Record<string, string>; value: [number, string] }

export async function query(prom: Prometheus, expr: string): Promise<Vector[]> {
  const r = await fetch(`${prom.url}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = (await r.json()) as { status: string; data: { result: Vector[] }; error?: string };
  if (body.status !== 'success') throw new Error(`query ${expr}: ${body.error}`);
  return body.data.result;
}

