// One batch to several consumers. Each consumer is called independently, so a slow or failing
// exporter neither blocks nor loses data for the others; mutating consumers get their own copy.
import { RetryableError, type Consumer } from '../consumer.js';
import type { Telemetry } from '../pdata/telemetry.js';
import type { Logger } from 'pino';

export function fanout(consumers: readonly Consumer[], logger: Logger): Consumer {
  if (consumers.length === 1) return consumers[0]!;
  const mutates = consumers.map((c) => c.mutatesData);
  return {
    mutatesData: false,
    async consume(batch: Telemetry) {
      // The last mutating consumer may take the original; the others get copies.
      let originalTaken = false;
      const calls = consumers.map((c, i) => {
        let b = batch;
        if (mutates[i]) {
          if (originalTaken || mutates.slice(i + 1).some(Boolean)) b = batch.clone();
          else originalTaken = true;
        }
        return c.consume(b);
      });
      const results = await Promise.allSettled(calls);
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed.length === 0) return;
      // Refuse only when every branch refused: if some took the batch, a retry by the sender
      // would duplicate it there. The refusing branch has counted its own loss.
      if (failed.length === results.length) {
        const retryable = failed.find((f) => f.reason instanceof RetryableError);
        throw (retryable ?? failed[0]!).reason;
      }
      logger.warn({ failed: failed.length, of: results.length, err: String(failed[0]!.reason?.message ?? failed[0]!.reason) }, 'fan-out: some consumers refused the batch');
    },
  };
}
