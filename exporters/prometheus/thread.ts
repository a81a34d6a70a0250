// The prometheus exporter's worker thread: the series store and GET /metrics, off the main event
// loop. The thread has its own young generation (the main thread's is 1 MiB, which cost a 100,000-
// series store scrape latency and event-loop delay: bench/README.md), and a scrape is written at
// once instead of in slices between the pipeline's requests.
import { parentPort, workerData } from 'node:worker_threads';
import { MetricsEndpoint, type Pacing, type PrometheusExporterConfig, type Tally } from './endpoint.js';

/** main thread → this thread */
export type ToThread = { t: 'store'; id: number; bytes: Uint8Array; points: number } | { t: 'close' };
/** this thread → main thread */
export type FromThread =
  | { t: 'listening'; host: string; port: number }
  | { t: 'failed'; message: string }
  | { t: 'stored'; id: number; tally: Tally }
  | { t: 'store_failed'; id: number; message: string }
  | { t: 'tally'; tally: Tally }
  | { t: 'closed' };

/** Scrapes at once; stores still in 5-ms slices, so a scrape waits behind one slice at most, and
 *  they wait up to 50 ms for a written scrape to leave (so at one scrape a second, stores lose at
 *  most 5 % of the thread's time to it, whatever the scraper's pace). A scrape's unsent bytes are
 *  bounded (a 100,000-series scrape is ~12 MiB of text). */
const OWN_THREAD: Pacing = { storeSliceMs: 5, scrapeSliceMs: Number.POSITIVE_INFINITY, maxUnsentBytes: 32 * 1024 * 1024, holdStoresForScrapeMs: 50 };

if (parentPort !== null) {
  const port = parentPort;
  const post = (m: FromThread) => port.postMessage(m);
  const ep: MetricsEndpoint = new MetricsEndpoint((workerData as { cfg: PrometheusExporterConfig }).cfg, OWN_THREAD, () => post({ t: 'tally', tally: ep.takeTally() }));
  // Stores are taken one at a time, in order, from a queue: started as their messages came, each
  // ran its first 5-ms slice at once, and a turn of the loop that delivered twenty messages held
  // the thread ~100 ms before a scrape's request was read (bench/README.md).
  const queue: Array<Extract<ToThread, { t: 'store' }>> = [];
  let drained: Promise<void> = Promise.resolve();
  let draining = false;
  const drain = async () => {
    for (let m = queue.shift(); m !== undefined; m = queue.shift()) {
      try {
        await ep.consume(m.bytes, m.points);
        post({ t: 'stored', id: m.id, tally: ep.takeTally() });
      } catch (err) {
        post({ t: 'store_failed', id: m.id, message: (err as Error).message });
      }
    }
    draining = false;
  };
  port.on('message', (m: ToThread) => {
    if (m.t === 'store') {
      queue.push(m);
      if (!draining) {
        draining = true;
        drained = drain();
      }
    } else if (m.t === 'close') {
      // What it was given is stored and answered first.
      void drained.then(() => ep.close()).then(() => {
        post({ t: 'closed' });
        port.close();
      });
    }
  });
  ep.start().then(
    () => post({ t: 'listening', host: ep.host, port: ep.port }),
    (err: Error) => post({ t: 'failed', message: err.message }),
  );
}
