// Task sightings: an A2A task id seen on telemetry passing through the pipeline, with the agent it
// was seen with. A processor that reads attributes anyway publishes them (genai); a receiver that
// can follow tasks subscribes (a2a). Process-wide, bounded and deduplicating: a pair published once
// is not published again while it is among the last `capacity` pairs; strings are clipped; with no
// subscriber a publish costs one size check.

export interface TaskSighting {
  /** gen_ai.agent.id of the span or record (or its resource), if any. */
  agentId: string | undefined;
  /** gen_ai.agent.name, if any. */
  agentName: string | undefined;
  /** a2a.task.id. */
  taskId: string;
}

export type SightingListener = (s: TaskSighting) => void;

/** Longest agent or task id kept. */
export const MAX_SIGHTING_ID = 256;
/** Pairs remembered to drop repeats. */
export const SIGHTINGS_REMEMBERED = 10_000;

const clip = (s: string | undefined): string | undefined => (s === undefined ? undefined : s.length > MAX_SIGHTING_ID ? s.slice(0, MAX_SIGHTING_ID) : s);

export class TaskSightings {
  private readonly listeners = new Set<SightingListener>();
  /** keys of pairs published, oldest first */
  private readonly seen = new Set<string>();

  constructor(private readonly capacity = SIGHTINGS_REMEMBERED) {}

  /** True when someone listens: publishers may skip collecting sightings otherwise. */
  get wanted(): boolean {
    return this.listeners.size > 0;
  }

  /** Tells every listener about a task seen with its agent, unless told already (recently) or
   *  no agent is named. A listener's error is its own. */
  publish(agentId: string | undefined, agentName: string | undefined, taskId: string): void {
    if (this.listeners.size === 0 || taskId === '' || (agentId === undefined && agentName === undefined)) return;
    const s: TaskSighting = { agentId: clip(agentId), agentName: clip(agentName), taskId: clip(taskId)! };
    const key = `${s.agentId ?? ''}\u0000${s.agentName ?? ''}\u0000${s.taskId}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    if (this.seen.size > this.capacity) this.seen.delete(this.seen.values().next().value!);
    for (const l of this.listeners) {
      try {
        l(s);
      } catch {
        // a listener that throws does not stop the publisher's pipeline
      }
    }
  }

  /** Listens until the returned function is called. */
  subscribe(l: SightingListener): () => void {
    this.listeners.add(l);
    return () => {
      this.listeners.delete(l);
      if (this.listeners.size === 0) this.seen.clear();
    };
  }

  /** Pairs remembered now. */
  get size(): number {
    return this.seen.size;
  }
}

/** The process's sightings. */
export const taskSightings = new TaskSightings();
