// fleetcol's vocabulary: GenAI and A2A names, agent identity and attribute lookup, in one place.
export * from './attributes.js';
export * from './genai.js';
export * from './a2a.js';
export * from './agent.js';
export * from './events.js';
