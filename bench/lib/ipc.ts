// A tiny request/reply protocol over Node's fork() IPC channel between the benchmark driver and
// its helper processes (load generator, sink, floor server).
import { fork, type ChildProcess } from 'node:child_process';
import { track, untrack } from './cleanup.js';

type Msg =
  | { type: 'ready'; data: unknown }
  | { type: 'reply'; id: number; data?: unknown; error?: string }
  | { type: 'call'; id: number; cmd: string; args?: unknown };

/** Child side: announce readiness, answer calls; exit when the parent goes away. */
export function serve(handlers: Record<string, (args: unknown) => unknown>, ready: unknown): void {
  if (!process.send) throw new Error('this helper must be started by the benchmark driver (fork with IPC)');
  process.on('disconnect', () => process.exit(0));
  process.on('message', (raw) => {
    const m = raw as Msg;
    if (m.type !== 'call') return;
    const h = handlers[m.cmd];
    Promise.resolve()
      .then(() => {
        if (!h) throw new Error(`unknown command ${m.cmd}`);
        return h(m.args);
      })
      .then(
        (data) => process.send?.({ type: 'reply', id: m.id, data } satisfies Msg),
        (err: unknown) => process.send?.({ type: 'reply', id: m.id, error: String((err as Error)?.message ?? err) } satisfies Msg),
      );
  });
  process.send({ type: 'ready', data: ready } satisfies Msg);
}

/** Parent side of one helper process. */
export class Helper<Ready = unknown> {
  readonly proc: ChildProcess;
  readonly ready: Promise<Ready>;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private exited = false;
  stderr = '';

  constructor(
    readonly name: string,
    script: URL,
    args: string[],
    execArgv: string[] = [],
  ) {
    this.proc = fork(script, args, { stdio: ['ignore', 'inherit', 'pipe', 'ipc'], execArgv });
    track(this.proc.pid, name);
    this.proc.stderr?.setEncoding('utf8').on('data', (d: string) => {
      this.stderr = (this.stderr + d).slice(-8000);
    });
    this.ready = new Promise<Ready>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name}: not ready after 60s`)), 60_000);
      this.proc.on('message', (raw) => {
        const m = raw as Msg;
        if (m.type === 'ready') {
          clearTimeout(timer);
          resolve(m.data as Ready);
        } else if (m.type === 'reply') {
          const p = this.pending.get(m.id);
          if (!p) return;
          this.pending.delete(m.id);
          if (m.error !== undefined) p.reject(new Error(`${name}: ${m.error}`));
          else p.resolve(m.data);
        }
      });
      this.proc.on('exit', (code, sig) => {
        this.exited = true;
        untrack(this.proc.pid);
        clearTimeout(timer);
        const err = new Error(`${name} exited (code ${code}, signal ${sig})${this.stderr ? `: ${this.stderr.trim()}` : ''}`);
        reject(err);
        for (const p of this.pending.values()) p.reject(err);
        this.pending.clear();
      });
    });
    this.ready.catch(() => {}); // observed by whoever awaits it
  }

  get pid(): number {
    return this.proc.pid ?? -1;
  }

  call<T>(cmd: string, args?: unknown, timeoutMs = 30_000): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`${this.name} has exited`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.name}: no reply to ${cmd} after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.proc.send({ type: 'call', id, cmd, args } satisfies Msg);
    });
  }

  /** SIGKILL (helpers hold no state worth draining) and wait for the exit. */
  async kill(): Promise<void> {
    if (this.exited || this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const gone = new Promise<void>((r) => this.proc.once('exit', () => r()));
    this.proc.kill('SIGKILL');
    await gone;
  }
}
