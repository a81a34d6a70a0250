import type { Factory } from '../../src/component.js';
import { ALERT_RULES_SCHEMA } from '../../src/fleet/alerts.js';
import { FleetConnector, type FleetConnectorConfig } from './connector.js';

export const fleetConnectorFactory: Factory<FleetConnectorConfig> = {
  type: 'fleet',
  kind: 'connector',
  description: 'The fleet model (agent states, task lifecycles, alerts: the sse feed\'s) as log records for any pipeline: fleet.agent.online, fleet.agent.offline, fleet.agent.status, fleet.task.started|progress|completed|failed, fleet.alert (fleet.alert.name, fleet.alert.state raised|cleared).',
  connects: [['traces', 'logs'], ['logs', 'logs']],
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      offline_after: { type: ['string', 'number'], 'x-duration': true, description: 'An agent with no span or record for this long goes offline (fleet.agent.offline).' },
      max_agents: { type: 'integer', minimum: 1, description: 'Agents tracked at most; past it the longest-offline agent is forgotten, or a new one is not tracked.' },
      alerts: ALERT_RULES_SCHEMA,
      flush_interval: { type: ['string', 'number'], 'x-duration': true, description: 'How often the records are sent on (at once past 1000 waiting).' },
      max_pending: { type: 'integer', minimum: 1, description: 'Records waiting at most; past it the oldest are dropped (counted).' },
    },
  },
  createDefaultConfig: () => ({ offline_after: '60s', max_agents: 10000, alerts: [], flush_interval: '200ms', max_pending: 100000 }) as unknown as FleetConnectorConfig,
  createConnector: (set, cfg, from, _to, next) => new FleetConnector(set, cfg, from, next),
};
