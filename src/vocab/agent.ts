// Agent identity: gen_ai.agent.id, else gen_ai.agent.name, else service.name, from the item's
// attributes first, then its resource's.
import { type Attributes, pick, strAttr } from './attributes.js';
import { GenAI } from './genai.js';

export const SERVICE_NAME = 'service.name';

/** Longest agent id, name or service name kept: ids key maps, filters and scope checks, and a
 *  client supplies them, so longer ones are cut. */
export const MAX_AGENT_ID_LENGTH = 256;
export const clipAgentId = (s: string): string => (s.length > MAX_AGENT_ID_LENGTH ? s.slice(0, MAX_AGENT_ID_LENGTH) : s);

export interface AgentIdentity {
  /** The key: agent id, else agent name, else service name. */
  id: string;
  name: string | undefined;
  service: string | undefined;
}

export function agentIdentity(own: Attributes, resource: Attributes): AgentIdentity | undefined {
  const agentId = pick(GenAI.agentId, own, resource);
  const name = pick(GenAI.agentName, own, resource);
  const service = strAttr(resource, SERVICE_NAME) ?? strAttr(own, SERVICE_NAME);
  const id = agentId ?? name ?? service;
  return id === undefined ? undefined : { id: clipAgentId(id), name: name && clipAgentId(name), service: service && clipAgentId(service) };
}

/** The item's own agent (id or name on the item or its resource; service.name does not count). */
export function explicitAgent(own: Attributes, resource: Attributes): string | undefined {
  const v = pick(GenAI.agentId, own, resource) ?? pick(GenAI.agentName, own, resource);
  return v === undefined ? undefined : clipAgentId(v);
}
