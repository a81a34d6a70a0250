// The file_storage extension: owns a directory, a lock on it, and the disk budget (max_size) its
// queues share; opens one persistent queue per exporter in a folder named after the exporter.
//
// Why an append-only segment log written here rather than an embedded store (lmdb, leveldb,
// sqlite): those are native modules, and npm 11 skips native install scripts unless approved, so
// a fresh `npm ci` may leave the daemon without its queue. A queue needs only append, read in
// order and delete-when-acked, which a log of checksummed records gives with plain node:fs; it
// also lets the startup scan say exactly which bytes were damaged and how many records they held.
import { closeSync, constants, accessSync, mkdirSync, openSync, readFileSync, readdirSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { CreateSettings } from '../../src/component.js';
import type { Queue } from '../../src/exporterhelper/queue.js';
import type { QueueStorage, QueueStorageOptions } from '../../src/exporterhelper/storage.js';
import type { Telemetry } from '../../src/pdata/telemetry.js';
import { formatSize } from '../../src/config/units.js';
import { Budget, PersistentQueue, type CompactionSettings } from './queue.js';

export interface FileStorageConfig {
  directory: string;
  fsync: boolean;
  /** ms a request may wait for others to share its fdatasync. */
  fsync_delay?: number;
  /** Bytes (the loader converts the size string). */
  max_size: number;
  segment_size: number;
  compaction: CompactionSettings;
}

/** Smallest segment: below this, per-file overhead dominates. */
const MIN_SEGMENT = 64 * 1024;

/** The folder of one exporter's queue: `exporter.otlp`, `exporter.otlp.backup`. Component types
 *  have no dots, so this is one-to-one. */
export function queueFolder(owner: string): string {
  return `exporter.${owner.replace('/', '.')}`;
}

export class FileStorage implements QueueStorage {
  private readonly budget: Budget;
  private readonly queues = new Map<string, PersistentQueue>();
  private started = false;
  private readonly lockPath: string;
  /** Segment size actually used: at most a quarter of max_size, so old segments can go. */
  readonly segmentSize: number;

  constructor(
    private readonly set: CreateSettings,
    private readonly cfg: FileStorageConfig,
  ) {
    this.budget = new Budget(cfg.max_size);
    this.lockPath = join(cfg.directory, '.lock');
    this.segmentSize = Math.max(MIN_SEGMENT, Math.min(cfg.segment_size, Math.floor(cfg.max_size / 4)));
    set.metrics.gauge('file_storage_max_bytes', 'The disk budget of the storage (max_size).', () => this.budget.max);
  }

  async start(): Promise<void> {
    const dir = this.cfg.directory;
    try {
      mkdirSync(dir, { recursive: true });
      accessSync(dir, constants.W_OK | constants.R_OK);
    } catch (err) {
      throw new Error(`file_storage: directory ${dir} is not usable: ${(err as Error).message}`, { cause: err });
    }
    this.lock();
    this.budget.used = existingBytes(dir);
    this.started = true;
    this.set.logger.debug({ directory: dir, used: this.budget.used, max_size: this.budget.max, segment_size: this.segmentSize }, `file_storage: ${formatSize(this.budget.used)} of ${formatSize(this.budget.max)} in use`);
  }

  async shutdown(): Promise<void> {
    for (const q of this.queues.values()) q.dispose();
    this.queues.clear();
    if (this.started) {
      try {
        unlinkSync(this.lockPath);
      } catch {
        // already gone
      }
    }
    this.started = false;
    this.set.metrics.dispose();
  }

  openQueue(opts: QueueStorageOptions): Queue<Telemetry> {
    if (!this.started) throw new Error(`file_storage "${this.set.id}" is not started`);
    const open = this.queues.get(opts.owner);
    if (open) open.dispose();
    const q = new PersistentQueue({
      dir: join(this.cfg.directory, queueFolder(opts.owner)),
      owner: opts.owner,
      sizer: opts.sizer,
      capacity: opts.capacity,
      fsync: this.cfg.fsync,
      fsyncDelayMs: this.cfg.fsync_delay ?? 0,
      segmentSize: this.segmentSize,
      compaction: this.cfg.compaction,
      budget: this.budget,
      logger: this.set.logger.child({ exporter: opts.owner }),
      metrics: this.set.metrics,
    });
    this.queues.set(opts.owner, q);
    return q;
  }

  /** One daemon per directory: a lock file with the holder's pid; a dead holder's lock is taken. */
  private lock(): void {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(this.lockPath, 'wx');
        writeSync(fd, `${process.pid}\n`);
        closeSync(fd);
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`file_storage: cannot lock ${this.cfg.directory}: ${(err as Error).message}`, { cause: err });
      }
      const pid = Number(readFileSafe(this.lockPath).trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new Error(`file_storage: directory ${this.cfg.directory} is in use by process ${pid} (lock file ${this.lockPath})`);
      }
      try {
        unlinkSync(this.lockPath);
      } catch {
        // raced with another remover; try again
      }
    }
    throw new Error(`file_storage: cannot lock ${this.cfg.directory}`);
  }
}

function readFileSafe(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** A live process that looks like a node process (a pid reused by something else is not a holder). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  const cmd = readFileSafe(`/proc/${pid}/cmdline`);
  return cmd === '' || /node|fleetcol/.test(cmd);
}

/** Bytes of the queue folders already in the directory (each folder's own files). */
function existingBytes(dir: string): number {
  let n = 0;
  for (const d of readdirSync(dir, { withFileTypes: true })) {
    if (!d.isDirectory()) continue;
    for (const f of readdirSync(join(dir, d.name))) {
      try {
        const st = statSync(join(dir, d.name, f));
        if (st.isFile()) n += st.size;
      } catch {
        // gone meanwhile
      }
    }
  }
  return n;
}
