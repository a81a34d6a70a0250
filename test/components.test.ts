// Every registered component goes through create → start → shutdown → create again → start →
// shutdown with its default config (plus the minimum a config must name), so a component that
// leaks a port, a timer or a handle fails here.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { registry } from '../src/components.js';
import { consumerOf } from '../src/consumer.js';
import type { Factory, Kind, Lifecycle } from '../src/component.js';
import { stringify } from 'yaml';
import { loadConfig } from '../src/config/load.js';
import { freePort, settings, tempFile } from './helper.js';

async function minimalConfig(f: Factory): Promise<Record<string, unknown>> {
  if (f.kind === 'receiver' && f.type === 'otlp') {
    return { protocols: { grpc: { endpoint: `127.0.0.1:${await freePort()}` }, http: { endpoint: `127.0.0.1:${await freePort()}` } } };
  }
  // The webhook on a free port, so its server goes through the lifecycle too.
  if (f.kind === 'receiver' && f.type === 'a2a') return { webhook: { endpoint: `127.0.0.1:${await freePort()}` } };
  if (f.kind === 'exporter' && (f.type === 'otlp' || f.type === 'tempo')) return { endpoint: `127.0.0.1:${await freePort()}`, tls: { insecure: true } };
  if (f.kind === 'exporter' && f.type === 'prometheusremotewrite') return { endpoint: `http://127.0.0.1:${await freePort()}/api/v1/write` };
  // A free port rather than the default 4319, so a parallel suite cannot clash with it.
  if (f.kind === 'exporter' && f.type === 'prometheus') return { endpoint: `127.0.0.1:${await freePort()}` };
  if (f.kind === 'exporter' && f.type === 'sse') return { endpoint: `127.0.0.1:${await freePort()}` };
  if (f.kind === 'extension' && f.type === 'file_storage') {
    const directory = mkdtempSync(path.join(os.tmpdir(), 'fleetcol-storage-'));
    t.teardown(() => rmSync(directory, { recursive: true, force: true }));
    return { directory };
  }
  return {};
}

function create(f: Factory, cfg: unknown): Lifecycle {
  const set = settings(f.kind, f.type);
  const signals = f.signals ?? ['traces'];
  const sinkConsumer = consumerOf(async () => {});
  switch (f.kind) {
    case 'receiver':
      return f.createReceiver!(set, cfg, Object.fromEntries(signals.map((s) => [s, sinkConsumer])));
    case 'processor':
      return f.createProcessor!(set, cfg, signals[0]!, sinkConsumer);
    case 'exporter':
      return f.createExporter!(set, cfg, signals);
    case 'connector': {
      const [from, to] = f.connects![0]!;
      return f.createConnector!(set, cfg, from, to, sinkConsumer);
    }
    case 'extension':
      return f.createExtension!(set, cfg);
  }
}

const kinds: Kind[] = ['receiver', 'processor', 'exporter', 'connector', 'extension'];
for (const kind of kinds) {
  for (const f of registry.list(kind)) {
    t.test(`${kind} ${f.type}: lifecycle twice with its default config`, async (t) => {
      // Through the real config loader, so defaults, schema and units apply as in the daemon.
      const signal = (f.signals ?? ['traces'])[0]!;
      const section = `${kind}s`;
      const doc: Record<string, any> = {
        receivers: { otlp: { protocols: { grpc: { endpoint: `127.0.0.1:${await freePort()}` } } } },
        exporters: { debug: {} },
        service: { pipelines: { [signal]: { receivers: ['otlp'], exporters: ['debug'] } } },
      };
      doc[section] = { ...(doc[section] ?? {}), [f.type]: await minimalConfig(f) };
      const p = doc.service.pipelines[signal];
      if (kind === 'receiver') p.receivers = [...new Set([...p.receivers, f.type])];
      if (kind === 'processor') p.processors = [f.type];
      if (kind === 'exporter') p.exporters = [f.type];
      if (kind === 'extension') doc.service.extensions = [f.type];
      if (kind === 'connector') {
        const [from, to] = f.connects![0]!;
        doc.service.pipelines = { [from]: { receivers: ['otlp'], exporters: [f.type] }, [to === from ? `${to}/out` : to]: { receivers: [f.type], exporters: ['debug'] } };
      }
      const r = loadConfig({ files: [tempFile('c.yaml', stringify(doc))], registry });
      t.same(r.errors, [], 'default config (plus required keys) is valid against its schema');
      const cfg = (r.config as any)[section].get(f.type).config;
      for (let round = 0; round < 2; round++) {
        const c = create(f, cfg);
        await c.start({ extension: () => undefined });
        await c.shutdown();
      }
      t.pass('started and stopped twice');
    });
  }
}
