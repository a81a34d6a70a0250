// probabilistic_sampler: hash_seed decisions equal to an implementation written here from the
// collector's description of its algorithm; observed rates; OTEP 235 thresholds and decisions.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { consumerOf } from '../src/consumer.js';
import { Telemetry, type ExportLogsServiceRequest, type ExportTraceServiceRequest, type KeyValue, type Span } from '../src/pdata/telemetry.js';
import { probabilisticSamplerProcessorFactory as factory } from '../processors/probabilistic_sampler/factory.js';
import type { ProbabilisticSamplerConfig } from '../processors/probabilistic_sampler/processor.js';
import { encodeThreshold, thresholdOf } from '../processors/probabilistic_sampler/sampling.js';
import { metricValue, settings } from './helper.js';

// ---- the reference, from the algorithm's description only --------------------------------------
function referenceKeeps(seed: number, traceId: Uint8Array, percentage: number): boolean {
  const FNV_OFFSET = 2166136261n, FNV_PRIME = 16777619n, MASK = 0xffffffffn;
  const input = [seed & 0xff, (seed >> 8) & 0xff, (seed >> 16) & 0xff, (seed >>> 24) & 0xff, ...traceId];
  let h = FNV_OFFSET;
  for (const b of input) h = ((h ^ BigInt(b)) * FNV_PRIME) & MASK;
  const low14 = Number(h & 0x3fffn);
  const f32 = new Float32Array(3);
  f32[0] = percentage;
  f32[1] = 163.84;
  f32[2] = f32[0]! * f32[1]!;
  return low14 < Math.trunc(f32[2]!);
}

function config(over: Partial<ProbabilisticSamplerConfig>): ProbabilisticSamplerConfig {
  return { ...factory.createDefaultConfig(), ...over };
}

function span(traceId: Uint8Array, traceState = '', attributes: KeyValue[] = []): Span {
  return {
    traceId, spanId: randomBytes(8), traceState, parentSpanId: new Uint8Array(0), flags: 0, name: 's', kind: 1,
    startTimeUnixNano: 1n, endTimeUnixNano: 2n, attributes, droppedAttributesCount: 0, events: [], droppedEventsCount: 0,
    links: [], droppedLinksCount: 0, status: { code: 0, message: '' },
  };
}

function traces(spans: Span[]): Telemetry {
  const req: ExportTraceServiceRequest = {
    resourceSpans: [{ resource: { attributes: [], droppedAttributesCount: 0 }, schemaUrl: '', scopeSpans: [{ scope: { name: 't', version: '', attributes: [], droppedAttributesCount: 0 }, schemaUrl: '', spans }] }],
  };
  return Telemetry.fromProto('traces', Telemetry.fromRequest('traces', req).toProto());
}

async function sample(cfg: ProbabilisticSamplerConfig, spans: Span[]) {
  const out: Span[] = [];
  const set = settings('processor', 'probabilistic_sampler');
  const p = factory.createProcessor!(set, cfg, 'traces', consumerOf(async (b) => {
    for (const rs of (b.request() as ExportTraceServiceRequest).resourceSpans) for (const ss of rs.scopeSpans) out.push(...ss.spans);
  }));
  await p.consume(traces(spans));
  return { out, metrics: await set.registry.prom.metrics() };
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

t.test('hash_seed: the same decisions as the reference, for fixed ids and seeds at 1, 25, 50, 99 %', async (t) => {
  const ids: Uint8Array[] = [];
  for (let i = 0; i < 2000; i++) {
    const b = new Uint8Array(16);
    for (let j = 0; j < 16; j++) b[j] = (i * 31 + j * 17 + ((i * j) % 251)) & 0xff;
    ids.push(b);
  }
  for (const seed of [0, 1, 22, 0xdeadbeef]) {
    for (const pct of [1, 25, 50, 99]) {
      const { out } = await sample(config({ mode: 'hash_seed', hash_seed: seed, sampling_percentage: pct }), ids.map((id) => span(id)));
      const kept = new Set(out.map((s) => hex(s.traceId)));
      const expected = ids.filter((id) => referenceKeeps(seed, id, pct)).map(hex);
      t.same([...kept].sort(), [...new Set(expected)].sort(), `seed ${seed}, ${pct} %`);
      t.ok(expected.length > 0 || pct === 1, 'some kept');
    }
  }
});

t.test('hash_seed: observed rate over 100,000 random ids within ±1 % of the target', async (t) => {
  const ids = Array.from({ length: 100_000 }, () => randomBytes(16));
  for (const pct of [1, 25, 50, 99]) {
    const { out, metrics } = await sample(config({ mode: 'hash_seed', hash_seed: 7, sampling_percentage: pct }), ids.map((id) => span(id)));
    const rate = (out.length / ids.length) * 100;
    t.ok(Math.abs(rate - pct) <= 1, `${pct} %: observed ${rate.toFixed(3)} %`);
    t.equal(metricValue(metrics, 'fleetcol_processor_probabilistic_sampler_kept'), out.length);
    t.equal(metricValue(metrics, 'fleetcol_processor_probabilistic_sampler_dropped'), ids.length - out.length);
  }
});

t.test('proportional: observed rate over 100,000 random ids within ±1 %', async (t) => {
  const ids = Array.from({ length: 100_000 }, () => randomBytes(16));
  const { out } = await sample(config({ mode: 'proportional', sampling_percentage: 10 }), ids.map((id) => span(id)));
  t.ok(Math.abs((out.length / ids.length) * 100 - 10) <= 1, `observed ${(out.length / 1000).toFixed(2)} %`);
});

t.test('OTEP 235 thresholds: th values', async (t) => {
  t.equal(encodeThreshold(thresholdOf(1, 4)!), '0', '100 %');
  t.equal(encodeThreshold(thresholdOf(0.5, 4)!), '8', '50 %');
  t.equal(encodeThreshold(thresholdOf(0.25, 4)!), 'c', '25 %');
  t.equal(encodeThreshold(thresholdOf(0.125, 4)!), 'e', '12.5 %');
  t.equal(encodeThreshold(thresholdOf(1 / 16, 4)!), 'f', '6.25 %');
  t.equal(encodeThreshold(thresholdOf(0.01, 6)!), 'fd70a4', '1 % at 6 digits');
  t.equal(encodeThreshold(thresholdOf(0.01, 4)!), 'fd71', '1 % at 4 digits');
  t.equal(encodeThreshold(thresholdOf(1 / 3, 4)!), 'aaab', '1/3');
  t.equal(encodeThreshold(thresholdOf(2 / 3, 4)!), '5555', '2/3');
  t.equal(encodeThreshold(thresholdOf(0.9, 4)!), '199a', '90 %');
  t.equal(thresholdOf(0, 4), undefined, '0 is outside the range');
});

/** A trace id whose low 56 bits are `r` (hex, 14 digits). */
const idWithR = (r: string) => Buffer.from('0102030405060708' + '00' + r, 'hex');

t.test('proportional: decisions (R ≥ T) and th written to tracestate, OTEP 235 examples', async (t) => {
  const cfg = config({ mode: 'proportional', sampling_percentage: 25 });
  const { out } = await sample(cfg, [
    span(idWithR('c0000000000000')), // R = T: kept
    span(idWithR('bfffffffffffff')), // R < T: dropped
    span(idWithR('ffffffffffffff'), 'vendor=x'), // kept, ot first
    span(idWithR('00000000000000'), 'ot=rv:d0000000000000'), // rv decides, not the id: kept
    span(idWithR('ffffffffffffff'), 'ot=rv:10000000000000'), // rv decides: dropped
    span(idWithR('f0000000000000'), 'ot=th:8'), // already 50 %: now 12.5 % (th:e), R = f0.. kept
    span(idWithR('d0000000000000'), 'ot=th:8'), // 50 % × 25 % = 12.5 %: R < e0..: dropped
  ]);
  t.same(out.map((s) => s.traceState), ['ot=th:c', 'ot=th:c,vendor=x', 'ot=th:c;rv:d0000000000000', 'ot=th:e']);
});

t.test('equalizing: items already sampled lower keep their threshold', async (t) => {
  const cfg = config({ mode: 'equalizing', sampling_percentage: 50 });
  const { out } = await sample(cfg, [
    span(idWithR('90000000000000')), // 50 %: th:8, kept
    span(idWithR('f0000000000000'), 'ot=th:e'), // 12.5 % already: stays th:e
    span(idWithR('70000000000000')), // dropped
  ]);
  t.same(out.map((s) => s.traceState), ['ot=th:8', 'ot=th:e']);
});

t.test('fail_closed, inconsistent thresholds, sampling.priority', async (t) => {
  const zero = new Uint8Array(16);
  const prio = (n: number): KeyValue[] => [{ key: 'sampling.priority', value: { intValue: BigInt(n) } }];
  let r = await sample(config({ mode: 'proportional', sampling_percentage: 50 }), [span(zero), span(idWithR('10000000000000'), 'ot=th:8'), span(idWithR('ffffffffffffff'), 'ot=th:zz')]);
  t.equal(r.out.length, 0, 'fail_closed drops missing randomness, an inconsistent th, a malformed th');
  r = await sample(config({ mode: 'proportional', sampling_percentage: 50, fail_closed: false }), [span(zero), span(idWithR('10000000000000'), 'ot=th:8')]);
  t.equal(r.out.length, 2, 'fail open keeps them');
  t.equal(r.out[1]!.traceState, '', 'the inconsistent threshold is cleared');
  r = await sample(config({ mode: 'hash_seed', sampling_percentage: 100 }), [span(randomBytes(16), '', prio(0))]);
  t.equal(r.out.length, 0, 'priority 0 drops at 100 %');
  r = await sample(config({ mode: 'proportional', sampling_percentage: 0.0001 }), [span(idWithR('00000000000001'), '', prio(5))]);
  t.equal(r.out.length, 1, 'priority > 0 keeps');
  t.equal(r.out[0]!.traceState, 'ot=th:0', 'kept by priority: sampled at 100 %');
});

t.test('logs: by trace id when present, else by from_attribute', async (t) => {
  const rec = (traceId: Uint8Array, id?: string) => ({
    timeUnixNano: 1n, observedTimeUnixNano: 1n, severityNumber: 9, severityText: '', attributes: id === undefined ? [] : [{ key: 'record.id', value: { stringValue: id } }],
    droppedAttributesCount: 0, flags: 0, traceId, spanId: new Uint8Array(0),
  });
  const ids = Array.from({ length: 400 }, () => randomBytes(16));
  const records = [...ids.map((id) => rec(id)), ...Array.from({ length: 400 }, (_, i) => rec(new Uint8Array(0), `r${i}`)), rec(new Uint8Array(0))];
  const req: ExportLogsServiceRequest = { resourceLogs: [{ resource: { attributes: [], droppedAttributesCount: 0 }, schemaUrl: '', scopeLogs: [{ scope: { name: '', version: '', attributes: [], droppedAttributesCount: 0 }, schemaUrl: '', logRecords: records }] }] };
  const out: string[] = [];
  const cfg = config({ mode: 'hash_seed', hash_seed: 3, sampling_percentage: 50, from_attribute: 'record.id' });
  const p = factory.createProcessor!(settings('processor', 'ps'), cfg, 'logs', consumerOf(async (b) => {
    for (const rl of (b.request() as ExportLogsServiceRequest).resourceLogs) for (const sl of rl.scopeLogs) for (const l of sl.logRecords) out.push(l.traceId.length > 0 ? hex(l.traceId) : String(l.attributes[0]?.value?.stringValue));
  }));
  await p.consume(Telemetry.fromRequest('logs', req));
  const expectTrace = ids.filter((id) => referenceKeeps(3, id, 50)).map(hex);
  t.same(out.filter((s) => s.length === 32), expectTrace, 'records with a trace id: as their trace');
  const byAttr = out.filter((s) => s.startsWith('r'));
  t.ok(byAttr.length > 120 && byAttr.length < 280, `by attribute: ${byAttr.length} of 400`);
  const refAttr = Array.from({ length: 400 }, (_, i) => `r${i}`).filter((s) => referenceKeeps(3, Buffer.from(s), 50));
  t.same(byAttr, refAttr, 'the attribute hashed like a trace id');
  t.notOk(out.includes('undefined'), 'a record with neither is dropped (fail_closed)');
});

t.test('logs: from_attribute that is also the priority attribute (one key read for both)', async (t) => {
  const cfg = { ...(factory.createDefaultConfig() as ProbabilisticSamplerConfig), mode: 'hash_seed' as const, sampling_percentage: 100, from_attribute: 'k', sampling_priority: 'k' };
  const out: number[] = [];
  const p = factory.createProcessor!(settings('processor', 'ps'), cfg, 'logs', consumerOf(async (b) => void out.push(b.itemCount)));
  const records = ['a', 'b', 'c'].map((v) => ({ timeUnixNano: 1n, observedTimeUnixNano: 0n, severityNumber: 9, severityText: '', attributes: [{ key: 'k', value: { stringValue: v } }], droppedAttributesCount: 0, flags: 0, traceId: new Uint8Array(0), spanId: new Uint8Array(0) }));
  await p.consume(Telemetry.fromRequest('logs', { resourceLogs: [{ schemaUrl: '', scopeLogs: [{ schemaUrl: '', logRecords: records }] }] }));
  t.same(out, [3], 'every record kept at 100 %: its value hashed, not taken for a missing attribute');
});
