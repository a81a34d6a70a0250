// Shared test helpers: free loopback ports, a fleetcol child process, an OTLP/gRPC sink.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { Telemetry, type Signal } from '../src/pdata/telemetry.js';
import { encodeStatusWithRetryInfo } from '../src/pdata/rpc.js';
import { pino } from 'pino';
import type { CreateSettings, Kind } from '../src/component.js';
import { MetricsRegistry } from '../src/telemetry/metrics.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const CLI = path.join(ROOT, 'dist', 'src', 'cli.js');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export function tempFile(name: string, content: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fleetcol-test-'));
  const file = path.join(dir, name);
  writeFileSync(file, content);
  return file;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitFor<T>(fn: () => T | Promise<T>, timeoutMs = 10_000, what = 'condition'): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

export interface Daemon {
  proc: ChildProcess;
  metricsPort: number;
  output(): string;
  metrics(): Promise<string>;
  /** Sends SIGTERM and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

/** A running `node dist/src/cli.js`: its output so far, and its exit. */
export interface CliProcess {
  proc: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** stdout and stderr in the order they came. */
  output(): string;
  /** Resolves with the exit code once the process is gone and its output read. */
  exited: Promise<number | null>;
  /** Sends `signal` (SIGKILL after killAfterMs) and resolves with the exit code. */
  stop(signal?: NodeJS.Signals, killAfterMs?: number): Promise<number | null>;
}

export function spawnCli(args: string[], env: Record<string, string> = {}): CliProcess {
  const proc = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let all = '';
  proc.stdout!.on('data', (d) => ((stdout += d), (all += d)));
  proc.stderr!.on('data', (d) => ((stderr += d), (all += d)));
  const exited = new Promise<number | null>((resolve) => proc.on('close', (code) => resolve(code)));
  let dead = false;
  void exited.then(() => (dead = true));
  return {
    proc,
    stdout: () => stdout,
    stderr: () => stderr,
    output: () => all,
    exited,
    stop: async (signal = 'SIGTERM', killAfterMs = 20_000) => {
      if (!dead) proc.kill(signal);
      const t = setTimeout(() => proc.kill('SIGKILL'), killAfterMs);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
}

/** Runs `node dist/src/cli.js` with the given args; resolves with exit code, stdout and stderr. */
export async function runCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const c = spawnCli(args, env);
  const code = await c.exited;
  return { code, stdout: c.stdout(), stderr: c.stderr() };
}

/**
 * Starts fleetcol on a YAML config and waits until /readyz answers 200.
 */
export async function startDaemon(yaml: string, opts: { env?: Record<string, string>; extraArgs?: string[] } = {}): Promise<Daemon> {
  // A config that sets its own telemetry address keeps it; otherwise one is added.
  const given = /telemetry:[\s\S]*address:\s*127\.0\.0\.1:(\d+)/.exec(yaml);
  const metricsPort = given ? Number(given[1]) : await freePort();
  const text = yaml.includes('telemetry:') ? yaml : `${yaml}\n  telemetry:\n    metrics:\n      address: 127.0.0.1:${metricsPort}\n`;
  const file = tempFile('fleetcol.yaml', text);
  const cli = spawnCli(['--config', file, ...(opts.extraArgs ?? [])], opts.env);
  const { proc, exited } = cli;
  let dead = false;
  void exited.then(() => (dead = true));
  const base = `http://127.0.0.1:${metricsPort}`;
  const ready = waitFor(async () => {
    if (dead) throw new Error(`fleetcol exited during startup:\n${cli.output()}`);
    try {
      const r = await fetch(`${base}/readyz`);
      return r.status === 200;
    } catch {
      return false;
    }
  }, 15_000, 'fleetcol to be ready');
  // Never leave a daemon behind when it did not come up.
  await ready.catch((err) => {
    proc.kill('SIGKILL');
    throw new Error(`${(err as Error).message}\n${cli.output()}`);
  });
  return {
    proc,
    metricsPort,
    output: cli.output,
    metrics: async () => (await fetch(`${base}/metrics`)).text(),
    stop: (signal = 'SIGTERM') => cli.stop(signal),
    exited,
  };
}

/** Reads one sample's value from Prometheus text: metric name plus a label substring. */
export function metricValue(text: string, name: string, labelPart = ''): number {
  // Counters are exposed with `_total` (fleetcol_receiver_accepted_spans_total); either name finds them.
  const total = name.endsWith('_total') ? name : `${name}_total`;
  for (const line of text.split('\n')) {
    if (line.startsWith(name + '{') || line.startsWith(name + ' ') || line.startsWith(total + '{') || line.startsWith(total + ' ')) {
      if (labelPart && !line.includes(labelPart)) continue;
      return Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return 0;
}

export interface SinkBehaviour {
  /** Called per request; return a gRPC error to refuse it, undefined to accept. */
  answer?: (n: number, signal: Signal, batch: Telemetry) => { code: grpc.status; details?: string; retryAfterMs?: number } | undefined;
  /** Delay every answer by this many ms (a slow backend); what it accepts is recorded on arrival. */
  delayMs?: number;
  /** Listen on this loopback port (e.g. one an exporter already points at); default: any free one. */
  port?: number;
}

export interface Sink {
  port: number;
  endpoint: string;
  received: Record<Signal, Telemetry[]>;
  requests: number;
  metadata: grpc.Metadata[];
  items(signal: Signal): number;
  close(): Promise<void>;
}

const PATHS: Record<Signal, string> = {
  traces: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
  metrics: '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export',
  logs: '/opentelemetry.proto.collector.logs.v1.LogsService/Export',
};

/** A second OTLP/gRPC endpoint that records what it is sent (and may refuse on demand). */
export async function startSink(behaviour: SinkBehaviour = {}): Promise<Sink> {
  const server = new grpc.Server();
  const id = (b: Buffer) => b;
  const sink: Sink = {
    port: 0,
    endpoint: '',
    received: { traces: [], metrics: [], logs: [] },
    requests: 0,
    metadata: [],
    items: (s) => sink.received[s].reduce((a, b) => a + b.itemCount, 0),
    close: () => new Promise((r) => server.tryShutdown(() => r())),
  };
  for (const signal of Object.keys(PATHS) as Signal[]) {
    server.addService(
      { Export: { path: PATHS[signal], requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id } },
      {
        Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
          const n = sink.requests++;
          sink.metadata.push(call.metadata);
          const batch = Telemetry.fromProto(signal, new Uint8Array(call.request));
          const refuse = behaviour.answer?.(n, signal, batch);
          const reply: () => void = refuse
            ? () => {
                const md = new grpc.Metadata();
                if (refuse.retryAfterMs !== undefined) md.set('grpc-status-details-bin', Buffer.from(encodeStatusWithRetryInfo(refuse.code, refuse.details ?? '', refuse.retryAfterMs)));
                cb({ code: refuse.code, details: refuse.details ?? 'refused by test sink', metadata: md });
              }
            : () => cb(null, Buffer.alloc(0));
          if (!refuse) sink.received[signal].push(batch);
          if (behaviour.delayMs) setTimeout(reply, behaviour.delayMs);
          else reply();
        },
      },
    );
  }
  sink.port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${behaviour.port ?? 0}`, grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
  );
  sink.endpoint = `127.0.0.1:${sink.port}`;
  return sink;
}


/** Settings for creating one component in-process, with its own metrics registry. */
export function settings(kind: Kind, id: string, shutdownTimeoutMs = 5000): CreateSettings & { registry: MetricsRegistry } {
  const registry = new MetricsRegistry();
  return { id, kind, logger: pino({ level: 'silent' }), metrics: registry.scoped(kind, id), shutdownTimeoutMs, registry };
}

/** A raw OTLP/gRPC client: sends request bytes as they are, returns the error or response bytes. */
export class OtlpGrpcClient {
  private readonly client: grpc.Client;
  constructor(port: number) {
    this.client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  }

  export(signal: Signal, body: Buffer, metadata = new grpc.Metadata()): Promise<{ err?: grpc.ServiceError; response?: Buffer }> {
    const raw = (b: Buffer) => b;
    return new Promise((resolve) =>
      this.client.makeUnaryRequest(PATHS[signal], raw, raw, body, metadata, { deadline: Date.now() + 10_000 }, (err, response) =>
        resolve(err ? { err } : { response }),
      ),
    );
  }

  close(): void {
    this.client.close();
  }
}

/** A self-signed certificate for 127.0.0.1/localhost made with openssl; undefined without openssl. */
export function makeCert(subjectAltName = 'IP:127.0.0.1,DNS:localhost', commonName = 'localhost'): { cert: string; key: string } | undefined {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fleetcol-tls-'));
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', `/CN=${commonName}`, '-addext', `subjectAltName=${subjectAltName}`], { stdio: 'ignore' });
  } catch {
    return undefined;
  }
  return { cert, key };
}
