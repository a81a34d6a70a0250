// service.workers.young_generation_size sizes the worker threads' young generation even when the
// process runs with --max-semi-space-size=1 (as `npm start` launches it), a V8 flag that would
// otherwise override every thread's own limit. Its own file: it sets that flag process-wide.
import t from 'tap';
import v8 from 'node:v8';
import { pino } from 'pino';
import { MetricsRegistry } from '../src/telemetry/metrics.js';
import { WorkerPool } from '../src/workers/pool.js';
import { traces } from './data.js';

const MiB = 1024 * 1024;
const silent = pino({ level: 'silent' });

/** The new space of a pool's thread after it decoded `rounds` OTLP/JSON bodies of 2,000 spans. */
async function newSpaceAfterLoad(youngGeneration: number, rounds: number): Promise<number> {
  const pool = new WorkerPool({ threads: 1, max_queue: 8, proto_min_size: 0, json_min_size: 0, young_generation_size: youngGeneration }, silent, new MetricsRegistry());
  try {
    const body = Buffer.from(traces(2000).toJSON());
    for (let i = 0; i < rounds; i++) {
      const got = await pool.decode('traces', 'json', body);
      if (got.itemCount !== 2000) throw new Error(`decoded ${got.itemCount} spans`);
    }
    const spaces = await pool.threadHeap();
    return spaces!['new_space']!.size;
  } finally {
    await pool.close();
  }
}

t.test('the threads get their configured young generation, not the launcher flag', async (t) => {
  v8.setFlagsFromString('--max-semi-space-size=1');
  // V8 grows a new space towards its limit while much of what it allocates survives, as a decoded
  // tree does; with the flag in force it could never pass 2 MiB (two 1 MiB semi-spaces).
  const large = await newSpaceAfterLoad(48 * MiB, 20);
  t.ok(large > 4 * MiB, `48 MiB young generation: new space grew to ${(large / MiB).toFixed(1)} MiB`);
  t.ok(large <= 32 * MiB, `and stayed within its limit (two 16 MiB semi-spaces): ${(large / MiB).toFixed(1)} MiB`);

  v8.setFlagsFromString('--max-semi-space-size=1');
  const small = await newSpaceAfterLoad(3 * MiB, 20);
  t.ok(small <= 2 * MiB, `3 MiB young generation: new space ${(small / MiB).toFixed(1)} MiB (1 MiB semi-spaces)`);
});

t.test('a pool without threads has no thread heap to report', async (t) => {
  const pool = new WorkerPool({ threads: 0, max_queue: 8, proto_min_size: 0, json_min_size: 0, young_generation_size: 48 * MiB }, silent, new MetricsRegistry());
  t.equal(await pool.threadHeap(), undefined);
  await pool.close();
});
