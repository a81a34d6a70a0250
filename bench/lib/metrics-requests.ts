// OTLP metrics requests for the prometheus benchmarks: sums and gauges of 10 metrics × label sets,
// one point in 20 a histogram (12 series each in Prometheus).
import { Telemetry, type ExportMetricsServiceRequest, type Metric } from '../../src/pdata/telemetry.js';

export const HISTOGRAM_EVERY = 20;

/** Requests of POINTS_PER_REQUEST points that together hold SERIES points: sums and gauges of 10 metrics × label sets, some histograms. */
export function metricsRequests(SERIES: number, POINTS_PER_REQUEST: number): Uint8Array<ArrayBuffer>[] {
  const out: Uint8Array<ArrayBuffer>[] = [];
  const now = BigInt(Date.now()) * 1_000_000n;
  for (let first = 0; first < SERIES; first += POINTS_PER_REQUEST) {
    const metrics: Metric[] = [];
    const byName = new Map<string, Metric>();
    for (let i = first; i < Math.min(SERIES, first + POINTS_PER_REQUEST); i++) {
      const kind = i % HISTOGRAM_EVERY === 0 ? 'histogram' : i % 2 ? 'sum' : 'gauge';
      const name = `bench.${kind}.m${i % 10}`;
      let m = byName.get(name);
      if (!m) {
        m = kind === 'histogram'
          ? { name, unit: 's', description: 'bench', histogram: { dataPoints: [], aggregationTemporality: 2 } }
          : kind === 'sum' ? { name, unit: '{call}', description: 'bench', sum: { dataPoints: [], aggregationTemporality: 2, isMonotonic: true } }
          : { name, unit: 'By', description: 'bench', gauge: { dataPoints: [] } };
        byName.set(name, m);
        metrics.push(m);
      }
      const attributes = [{ key: 'agent', value: { stringValue: `agent-${i % 500}` } }, { key: 'series', value: { stringValue: `s${i}` } }];
      if (m.histogram) {
        m.histogram.dataPoints.push({ attributes, startTimeUnixNano: now, timeUnixNano: now, count: 10n, sum: 4.2, bucketCounts: [1n, 2n, 3n, 2n, 1n, 1n, 0n, 0n, 0n, 0n], explicitBounds: [0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30], exemplars: [], flags: 0 } as never);
      } else {
        const p = { attributes, startTimeUnixNano: now, timeUnixNano: now, asDouble: i, exemplars: [], flags: 0 };
        (m.sum ?? m.gauge)!.dataPoints.push(p as never);
      }
    }
    const req: ExportMetricsServiceRequest = {
      resourceMetrics: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'bench' } }], droppedAttributesCount: 0 }, scopeMetrics: [{ scope: { name: 'bench', version: '1', attributes: [], droppedAttributesCount: 0 }, metrics, schemaUrl: '' }], schemaUrl: '' }],
    } as ExportMetricsServiceRequest;
    out.push(new Uint8Array(Telemetry.fromRequest('metrics', req).toProto()));
  }
  return out;
}
