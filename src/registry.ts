import type { Factory, Kind } from './component.js';

/** Factories by kind and type. Duplicates are a programming error and throw at startup. */
export class Registry {
  private readonly byKind = new Map<Kind, Map<string, Factory>>();

  constructor(factories: readonly Factory[]) {
    for (const f of factories) {
      let m = this.byKind.get(f.kind);
      if (!m) this.byKind.set(f.kind, (m = new Map()));
      if (m.has(f.type)) throw new Error(`duplicate ${f.kind} factory "${f.type}"`);
      m.set(f.type, f);
    }
  }

  get(kind: Kind, type: string): Factory | undefined {
    return this.byKind.get(kind)?.get(type);
  }

  list(kind: Kind): Factory[] {
    return [...(this.byKind.get(kind)?.values() ?? [])].sort((a, b) => a.type.localeCompare(b.type));
  }

  types(kind: Kind): string[] {
    return this.list(kind).map((f) => f.type);
  }
}
