import type { Factory } from '../../src/component.js';
import { TERMINAL_STATES } from '../../src/vocab/index.js';
import { CoalesceProcessor, type CoalesceConfig } from './processor.js';

export const coalesceProcessorFactory: Factory<CoalesceConfig> = {
  type: 'coalesce',
  kind: 'processor',
  description: 'Keeps the latest item per key (agent + event) per window (debounce or max_rate); warnings, errors, terminal task states and agent_offline pass at once, in order.',
  signals: ['logs', 'traces', 'metrics'],
  crashLoses: 'the latest item of each key waiting for its window to end (at most one window of each key\'s items)',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      mode: { enum: ['debounce', 'max_rate'], description: 'debounce: the first item of a key starts a window, the latest goes on at its end. max_rate: at most one item per key per window (the first at once, then the latest at the window end).' },
      window: { type: ['string', 'number'], 'x-duration': true, description: 'The debounce window, or the max_rate interval.' },
      keys: { type: 'array', items: { type: 'string' }, minItems: 1, description: 'Attributes (item first, then resource) whose values make the key; items with none of them pass.' },
      max_keys: { type: 'integer', minimum: 1, description: 'Keys waiting at most; past it items pass at once.' },
      spans: { type: 'boolean', description: 'Also coalesce spans in a traces pipeline (key attributes as above; error and root spans pass). Metrics always pass.' },
      passthrough: {
        type: 'object',
        additionalProperties: false,
        description: 'Log records that go through at once (and drop what waits under their key).',
        properties: {
          min_severity: { enum: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'none'], description: 'Records of this severity or worse.' },
          task_states: { type: 'array', items: { type: 'string' }, description: 'Records whose a2a.task.state is one of these (terminal states), in either A2A version\'s spelling (`canceled`, `TASK_STATE_CANCELED`).' },
          event_names: { type: 'array', items: { type: 'string' }, description: 'Records whose event.name is one of these.' },
        },
      },
    },
  },
  createDefaultConfig: () =>
    ({
      mode: 'debounce',
      window: '500ms',
      keys: ['gen_ai.agent.id', 'event.name'],
      max_keys: 10000,
      spans: false,
      passthrough: {
        min_severity: 'warn',
        task_states: [...TERMINAL_STATES],
        event_names: ['agent_offline', 'fleet.agent.offline'],
      },
    }) as unknown as CoalesceConfig,
  createProcessor: (set, cfg, signal, next) => new CoalesceProcessor(set, cfg, signal, next),
};
