// One batch to several consumers. Each consumer is called independently, so a slow or failing
// exporter neither blocks nor loses data for the others; mutating consumers get their own copy.
// The fan-out is durable when any branch is, and then an OK means every durable branch took the
// batch: a durable branch's refusal is the caller's refusal (the retry duplicates the batch in the
// branches that took it: at-least-once).
import { RetryableError, type Consumer } from '../consumer.js';
import type { Telemetry } from '../pdata/telemetry.js';
import type { Logger } from 'pino';

export function fanout(consumers: readonly Consumer[], logger: Logger): Consumer {
  if (consumers.length === 1) return consumers[0]!;
  const mutates = consumers.map((c) => c.mutatesData);
  const durable = consumers.map((c) => c.durable === true);
  const anyReadOnly = mutates.includes(false);
  const lastMutator = mutates.lastIndexOf(true);
  return {
    // Only when the original itself goes to a mutating consumer.
    mutatesData: !anyReadOnly && lastMutator >= 0,
    durable: durable.includes(true),
    async consume(batch: Telemetry) {
      // Read-only consumers share the original; each mutating one gets its own copy, except that
      // when no consumer only reads, the last mutating one may take the original.
      const calls = consumers.map((c, i) => c.consume(mutates[i] && (i !== lastMutator || anyReadOnly) ? batch.clone() : batch));
      const results = await Promise.allSettled(calls);
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed.length === 0) return;
      // Refuse only when every branch refused: if some took the batch, a retry by the sender
      // would duplicate it there. The refusing branch has counted its own loss.
      if (failed.length === results.length) {
        const retryable = failed.find((f) => f.reason instanceof RetryableError);
        throw (retryable ?? failed[0]!).reason;
      }
      const durableRefusal = results.find((r, i): r is PromiseRejectedResult => r.status === 'rejected' && durable[i]! && r.reason instanceof RetryableError);
      if (durableRefusal) throw durableRefusal.reason;
      logger.warn({ failed: failed.length, of: results.length, err: String(failed[0]!.reason?.message ?? failed[0]!.reason) }, 'fan-out: some consumers refused the batch');
    },
  };
}
