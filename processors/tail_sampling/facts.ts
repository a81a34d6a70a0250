// What the policies read of a trace, gathered span by span from the encoded spans (src/pdata/edit
// WireItem): only the fields and attributes some policy needs, never a decoded span.
import type { WireItem } from '../../src/pdata/edit.js';
import { GenAI, Operation } from '../../src/vocab/index.js';
import { fnv1aSeeded } from '../probabilistic_sampler/sampling.js';

/** Values remembered per attribute key per trace at most. */
const MAX_VALUES = 64;
/** Bytes of an attribute value (or tool arguments) read at most. */
export const MAX_VALUE_BYTES = 4096;
/** Distinct tool calls counted per trace at most (agent_loop). */
const MAX_CALLS = 1024;

export interface TraceFacts {
  spans: number;
  bytes: number;
  minStart: bigint;
  maxEnd: bigint;
  statuses: number;  // bit set: 1 << code
  cost: number;
  tokens: number;
  agents: Set<string>;
  toolError: boolean;
  /** tool name + arguments hash → times called */
  calls: Map<string, number>;
  maxRepeats: number;
  strings: Map<string, Set<string>>;
  numbers: Map<string, number[]>;
  bools: Map<string, Set<boolean>>;
  traceStates: Set<string>;
  rootAgent: boolean;
}

export function newFacts(): TraceFacts {
  return {
    spans: 0, bytes: 0, minStart: -1n, maxEnd: 0n, statuses: 0, cost: 0, tokens: 0, agents: new Set(), toolError: false,
    calls: new Map(), maxRepeats: 0, strings: new Map(), numbers: new Map(), bools: new Map(), traceStates: new Set(), rootAgent: false,
  };
}

/** Which attributes the configured policies read. */
export interface Needs {
  strings: Set<string>;
  numbers: Set<string>;
  bools: Set<string>;
  traceState: boolean;
}

const cut = (s: string | undefined) => (s !== undefined && s.length > MAX_VALUE_BYTES ? s.slice(0, MAX_VALUE_BYTES) : s);

function addBounded<T>(m: Map<string, Set<T>>, k: string, v: T): void {
  let s = m.get(k);
  if (s === undefined) m.set(k, (s = new Set()));
  if (s.size < MAX_VALUES) s.add(v);
}

/** Adds one span to its trace's facts. Returns whether it is a root invoke_agent span. */
export function observe(f: TraceFacts, item: WireItem, size: number, needs: Needs): boolean {
  f.spans++;
  f.bytes += size;
  const start = item.fixed64(7);
  const end = item.fixed64(8);
  if (f.minStart < 0n || start < f.minStart) f.minStart = start;
  if (end > f.maxEnd) f.maxEnd = end;
  const status = item.statusCode();
  f.statuses |= 1 << (status & 7);
  if (needs.traceState && item.has(3)) {
    const ts = cut(item.string(3))!;
    for (const m of ts.split(',')) if (f.traceStates.size < MAX_VALUES) f.traceStates.add(m.trim());
  }
  let op: string | undefined, tool: string | undefined, args = 0;
  const keys = item.keys;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    switch (k) {
      case GenAI.cost: f.cost += item.numberValue(i) ?? 0; break;
      case GenAI.inputTokens:
      case GenAI.outputTokens: f.tokens += item.numberValue(i) ?? 0; break;
      case GenAI.agentId:
      case GenAI.agentName: {
        const s = cut(item.stringValue(i));
        if (s !== undefined && f.agents.size < MAX_VALUES) f.agents.add(s);
        break;
      }
      case GenAI.operationName: op = item.stringValue(i); break;
      case GenAI.toolName: tool = cut(item.stringValue(i)); break;
      case GenAI.toolCallArguments: {
        const raw = item.rawValue(i);
        if (raw !== undefined) args = fnv1aSeeded(0, raw.length > MAX_VALUE_BYTES ? raw.subarray(0, MAX_VALUE_BYTES) : raw);
        break;
      }
    }
    if (needs.strings.has(k)) {
      const s = cut(item.stringValue(i));
      if (s !== undefined) addBounded(f.strings, k, s);
    }
    if (needs.numbers.has(k)) {
      const n = item.numberValue(i);
      if (n !== undefined) {
        let l = f.numbers.get(k);
        if (l === undefined) f.numbers.set(k, (l = []));
        if (l.length < MAX_VALUES) l.push(n);
      }
    }
    if (needs.bools.has(k)) {
      const s = item.stringValue(i);
      if (s === 'true' || s === 'false') addBounded(f.bools, k, s === 'true');
    }
  }
  if (op === Operation.executeTool) {
    if (status === 2) f.toolError = true;
    if (tool !== undefined) {
      const key = `${tool}\u0000${args}`;
      const n = (f.calls.get(key) ?? 0) + 1;
      if (f.calls.has(key) || f.calls.size < MAX_CALLS) f.calls.set(key, n);
      if (n > f.maxRepeats) f.maxRepeats = n;
    }
  }
  const root = !item.has(4) || item.bytes(4).length === 0;
  return root && op === Operation.invokeAgent;
}
