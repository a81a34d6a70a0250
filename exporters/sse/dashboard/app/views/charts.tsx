// Fleet tokens/s, cost/min and error rate over the last 15 minutes (uPlot), redrawn once a second
// from the store's bounded buckets. Each chart says its latest and highest value in words too.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { count, usd } from '../format.js';
import type { Series, Store } from '../store.js';

interface Spec {
  key: 'tokensPerS' | 'costPerMin' | 'errorRate';
  title: string;
  color: string;
  fmt: (v: number) => string;
}

const SPECS: Spec[] = [
  { key: 'tokensPerS', title: 'Tokens per second', color: '--chart-1', fmt: (v) => count(v) },
  { key: 'costPerMin', title: 'Cost per minute', color: '--chart-2', fmt: (v) => usd(v) },
  { key: 'errorRate', title: 'Error rate (failed spans)', color: '--chart-3', fmt: (v) => `${v < 10 ? v.toFixed(1) : Math.round(v)} %` },
];

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';
}

/** The colour scheme in force; charts are redrawn in the other one's colours when it changes. */
function useScheme(): string {
  const q = useMemo(() => matchMedia('(prefers-color-scheme: dark)'), []);
  const [dark, setDark] = useState(q.matches);
  useEffect(() => {
    const on = () => setDark(q.matches);
    q.addEventListener('change', on);
    return () => q.removeEventListener('change', on);
  }, [q]);
  return dark ? 'dark' : 'light';
}

export function Charts(props: { store: Store; second: number }) {
  const series = useMemo(() => props.store.series(props.second * 1000), [props.second, props.store]);
  const scheme = useScheme();
  return (
    <section class="panel charts" aria-labelledby="charts-h">
      <h2 id="charts-h">Fleet, last 15 minutes <span class="muted small">(from {series.source})</span></h2>
      <div class="chart-row">
        {SPECS.map((s) => <Chart key={`${s.key}-${scheme}`} spec={s} series={series} />)}
      </div>
    </section>
  );
}

function Chart(props: { spec: Spec; series: Series }) {
  const { spec, series } = props;
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const values = series[spec.key];
  const numbers = values.filter((v): v is number => v !== null);
  const latest = [...values].reverse().find((v) => v !== null) ?? 0;
  const peak = numbers.length > 0 ? Math.max(...numbers) : 0;

  useEffect(() => {
    const el = box.current!;
    const fg = cssVar('--muted');
    const grid = cssVar('--grid');
    const color = cssVar(spec.color);
    const font = `${Math.round(parseFloat(getComputedStyle(el).fontSize) * 0.8)}px system-ui, sans-serif`;
    const axis = { stroke: fg, font, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    const u = new uPlot({
      width: Math.max(200, el.clientWidth),
      height: Math.max(110, Math.round(el.clientWidth * 0.32)),
      legend: { show: false },
      cursor: { show: false },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.15 : 1] } },
      axes: [axis, { ...axis, size: 60, values: (_u, ticks) => ticks.map((v) => spec.fmt(v)) }],
      series: [{}, { label: spec.title, stroke: color, width: 2, fill: `${color}33` }],
    }, [[], []], el);
    plot.current = u;
    const ro = new ResizeObserver(() => u.setSize({ width: Math.max(200, el.clientWidth), height: Math.max(110, Math.round(el.clientWidth * 0.32)) }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, [spec]);

  useEffect(() => {
    plot.current?.setData([series.x, values]);
  }, [series, values]);

  const words = `${spec.title}: now ${spec.fmt(latest)}, highest ${spec.fmt(peak)} in the last 15 minutes`;
  return (
    <figure class="chart">
      <figcaption><span class="chart-title">{spec.title}</span> <span class="chart-now">{spec.fmt(latest)}</span> <span class="muted small">peak {spec.fmt(peak)}</span></figcaption>
      <div class="plot" ref={box} role="img" aria-label={words} />
    </figure>
  );
}
