// The a2a receiver: watched agents (cards, ListTasks, followed tasks), plain feeds, and the
// push-notification webhook, all feeding one task book and one pipeline; tasks of watched agents
// seen in the pipeline (src/a2a/sightings.ts) are followed too.
import type { CreateSettings, Receiver } from '../../src/component.js';
import type { Consumer } from '../../src/consumer.js';
import type { Signal } from '../../src/pdata/telemetry.js';
import { taskSightings, type TaskSighting } from '../../src/a2a/sightings.js';
import { AgentWatcher } from './agent.js';
import type { A2aReceiverConfig } from './config.js';
import { Shared } from './context.js';
import { Feed } from './feed.js';
import { Pipeline } from './output.js';
import { TaskBook } from './records.js';
import { Webhook } from './webhook.js';

export class A2aReceiver implements Receiver {
  private readonly stopper = new AbortController();
  private readonly running: Promise<void>[] = [];
  private webhook: Webhook | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly set: CreateSettings,
    private readonly cfg: A2aReceiverConfig,
    private readonly next: Partial<Record<Signal, Consumer>>,
  ) {}

  async start(): Promise<void> {
    const cfg = this.cfg;
    const pipeline = new Pipeline(this.set, this.next, { initial: cfg.reconnect.initial_interval, max: cfg.reconnect.max_interval });
    const s = new Shared(this.set, cfg, this.set.logger, new TaskBook(cfg.max_tracked_tasks), pipeline, this.stopper.signal);
    const agents = cfg.agents.map((a) => new AgentWatcher(a, s));
    if (cfg.webhook) {
      this.webhook = new Webhook(this.set, cfg.webhook, s, agents);
      await this.webhook.start();
    }
    const log = (what: string) => (err: unknown) => this.set.logger.error({ err: (err as Error).message, what }, 'a2a receiver task failed');
    for (const a of agents) this.running.push(a.run().catch(log(`agent ${a.ref.id}`)));
    for (const t of cfg.tasks) {
      const a = agents.find((w) => w.matches(t.agent));
      if (a) a.follow(t.id);
      else this.set.logger.warn({ agent: t.agent, task: t.id }, 'tasks: no agent with this name or url in agents');
    }
    for (const f of cfg.feeds) this.running.push(new Feed(f, s).run().catch(log(`feed ${f.url}`)));
    if (cfg.follow_seen_tasks && agents.length > 0) {
      const named = (a: AgentWatcher, n: string | undefined) => n !== undefined && a.matches(n);
      this.unsubscribe = taskSightings.subscribe((t: TaskSighting) => {
        const a = agents.find((w) => named(w, t.agentId) || named(w, t.agentName));
        if (a?.follow(t.taskId)) s.seenFollowed.inc();
      });
    }
  }

  async shutdown(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.stopper.abort();
    await this.webhook?.shutdown();
    this.webhook = undefined;
    await Promise.allSettled(this.running.splice(0));
    this.set.metrics.dispose();
  }
}
