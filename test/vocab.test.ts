// The vocabulary module: task states in both A2A spellings, provider values old and new, agent
// identity's order and bounds, and the attribute helpers every component uses.
import t from 'tap';
import type { KeyValue } from '../src/pdata/telemetry.js';
import {
  FAILED_STATES, MAX_AGENT_ID_LENGTH, TERMINAL_STATES, agentIdentity, explicitAgent, num, operationOfSpanName, plainAttributes,
  providerName, providerOfModel, removeAttrs, setAttr, str, strAttr, taskState, taskStateV10,
} from '../src/vocab/index.js';

const s = (key: string, v: string): KeyValue => ({ key, value: { stringValue: v } });

t.test('task states: v0.3, v1.0 and common variants read as one; v1.0 written back', async (t) => {
  for (const [raw, want] of [
    ['input-required', 'input-required'], ['TASK_STATE_INPUT_REQUIRED', 'input-required'], ['input_required', 'input-required'],
    ['INPUT_REQUIRED', 'input-required'], ['canceled', 'canceled'], ['cancelled', 'canceled'], ['TASK_STATE_CANCELED', 'canceled'],
    ['TASK_STATE_CANCELLED', 'canceled'], ['Completed', 'completed'], ['TASK_STATE_UNSPECIFIED', 'unknown'], ['auth-required', 'auth-required'],
  ] as const) t.equal(taskState(raw), want, raw);
  t.equal(taskState('done'), undefined);
  t.equal(taskState('x'.repeat(10_000)), undefined, 'an overlong string is no state (and is not lower-cased)');
  t.equal(taskStateV10('input-required'), 'TASK_STATE_INPUT_REQUIRED');
  t.ok(TERMINAL_STATES.has('canceled') && FAILED_STATES.has('rejected') && !FAILED_STATES.has('completed'));
});

t.test('provider names: deprecated and framework spellings map to the current values', async (t) => {
  for (const [raw, want] of [
    ['az.ai.openai', 'azure.ai.openai'], ['az.ai.inference', 'azure.ai.inference'], ['vertex_ai', 'gcp.vertex_ai'], ['gemini', 'gcp.gemini'],
    ['xai', 'x_ai'], ['OpenAI', 'openai'], ['openai.chat', 'openai'], ['anthropic', 'anthropic'], ['mistral', 'mistral_ai'], ['somebody', 'somebody'],
  ] as const) t.equal(providerName(raw), want, raw);
  t.equal(providerOfModel('gpt-4o-2024-08-06'), 'openai');
  t.equal(providerOfModel('o3-mini'), 'openai');
  t.equal(providerOfModel('claude-sonnet-4-20250514'), 'anthropic');
  t.equal(providerOfModel('anthropic.claude-3-5-sonnet-20240620-v1:0'), 'aws.bedrock');
  t.equal(providerOfModel('llama-3.1-70b'), undefined, 'served by many: no guess');
  t.equal(providerOfModel('o3de'), undefined);
});

t.test('operation from a span name', async (t) => {
  t.equal(operationOfSpanName('chat gpt-4o'), 'chat');
  t.equal(operationOfSpanName('execute_tool search'), 'execute_tool');
  t.equal(operationOfSpanName('invoke_agent'), 'invoke_agent');
  t.equal(operationOfSpanName('chatter box'), undefined);
});

t.test('agent identity: id, else name, else service.name; item before resource; clipped', async (t) => {
  t.same(agentIdentity([s('gen_ai.agent.name', 'n')], [s('gen_ai.agent.id', 'rid'), s('service.name', 'svc')]), { id: 'rid', name: 'n', service: 'svc' });
  t.same(agentIdentity([s('gen_ai.agent.id', 'own')], [s('gen_ai.agent.id', 'rid')])?.id, 'own');
  t.same(agentIdentity(undefined, [s('service.name', 'svc')]), { id: 'svc', name: undefined, service: 'svc' });
  t.equal(agentIdentity([], []), undefined);
  t.equal(agentIdentity([s('gen_ai.agent.id', 'x'.repeat(5000))], undefined)!.id.length, MAX_AGENT_ID_LENGTH);
  t.equal(explicitAgent(undefined, [s('service.name', 'svc')]), undefined, 'service.name is no explicit agent');
  t.equal(explicitAgent([s('gen_ai.agent.name', 'p')], undefined), 'p');
});

t.test('attribute helpers', async (t) => {
  const kvs: KeyValue[] = [s('a', '1'), { key: 'n', value: { intValue: 42n } }, { key: 'd', value: { doubleValue: 0.5 } }];
  t.equal(num(kvs[0]!.value), 1);
  t.equal(str(kvs[1]!.value), '42');
  setAttr(kvs, 'a', { stringValue: 'two' });
  setAttr(kvs, 'z', { boolValue: true });
  t.equal(strAttr(kvs, 'a'), 'two');
  t.equal(kvs.length, 4);
  t.equal(removeAttrs(kvs, (k) => k === 'n' || k === 'd'), 2);
  t.same(plainAttributes(kvs), { a: 'two', z: true });
});
