// What the parts of the receiver share: config, the task book, the pipeline, the stop signal, the
// follow budget and the metrics.
import type { Logger } from 'pino';
import type { CreateSettings } from '../../src/component.js';
import type { BoundCounter } from '../../src/telemetry/metrics.js';
import type { A2aReceiverConfig } from './config.js';
import type { Pipeline } from './output.js';
import type { TaskBook } from './records.js';
import type { SseMetrics } from './sse.js';

export class Shared {
  readonly notFollowed: BoundCounter;
  readonly cardFailures: BoundCounter;
  readonly cardChanges: BoundCounter;
  readonly seenFollowed: BoundCounter;
  /** Sources (task streams, feeds) currently down. */
  private readonly down = new Set<object>();
  /** Tasks being followed now, across all agents. */
  followed = 0;
  private readonly sse: Record<'task' | 'feed', { malformed: BoundCounter; reconnects: BoundCounter }>;

  constructor(
    set: CreateSettings,
    readonly cfg: A2aReceiverConfig,
    readonly logger: Logger,
    readonly book: TaskBook,
    readonly pipeline: Pipeline,
    readonly stop: AbortSignal,
  ) {
    const m = set.metrics;
    this.notFollowed = m.counter('receiver_a2a_tasks_not_followed', 'Tasks that were not followed because max_followed_tasks were followed already (counted each time one is found).');
    this.cardFailures = m.counter('receiver_a2a_card_fetch_failures', 'Agent Card fetches that failed (unreachable, not JSON, over max_card_size).');
    this.seenFollowed = m.counter('receiver_a2a_seen_tasks_followed', 'Tasks followed because their a2a.task.id was seen in the pipeline with a watched agent (follow_seen_tasks).');
    this.cardChanges = m.counter('receiver_a2a_card_changes', 'Agent Cards that changed (a capability_changed record each).');
    const per = (source: string) => ({
      malformed: m.counter('receiver_a2a_malformed_events', 'SSE events skipped: bad JSON, over max_event_size, or no A2A payload fleetcol knows.', { source }),
      reconnects: m.counter('receiver_a2a_reconnects', 'Reconnections of followed SSE sources (after an error, an end of stream, or a refusal).', { source }),
    });
    this.sse = { task: per('task'), feed: per('feed') };
    m.gauge('receiver_a2a_followed_tasks', 'Tasks followed now over SSE.', () => this.followed);
    m.gauge('receiver_a2a_sources_down', 'Followed SSE sources (task streams, feeds) that are down and being retried.', () => this.down.size);
  }

  sseMetrics(source: 'task' | 'feed'): SseMetrics & { release(): void } {
    const token = {};
    return {
      ...this.sse[source],
      setUp: (up: boolean) => (up ? this.down.delete(token) : this.down.add(token)),
      release: () => this.down.delete(token),
    };
  }
}
