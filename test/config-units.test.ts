import t from 'tap';
import { formatDuration, formatSize, parseDuration, parseSize } from '../src/config/units.js';

t.test('parseDuration', async (t) => {
  const cases: [string, number][] = [
    ['200ms', 200], ['5s', 5000], ['1m', 60_000], ['1h', 3_600_000], ['1.5s', 1500], ['0s', 0], ['0', 0],
    ['100us', 0.1], ['100µs', 0.1], ['10ns', 0.00001], ['1h30m', 5_400_000], ['1m0.5s', 60_500],
  ];
  for (const [s, ms] of cases) t.equal(parseDuration(s), ms, s);
  for (const bad of ['', '5', '5 parsecs', 's', '-1s', '1d', '1.2.3s', '5S', 'ms']) t.equal(parseDuration(bad), undefined, `"${bad}" is invalid`);
});

t.test('parseSize', async (t) => {
  const cases: [string, number][] = [
    ['512MiB', 512 * 1024 ** 2], ['4MiB', 4 * 1024 ** 2], ['1KiB', 1024], ['1GB', 1e9], ['100', 100],
    ['1.5MiB', 1.5 * 1024 ** 2], ['10B', 10], ['2kb', 2000], ['1Gi', 1024 ** 3], ['8 MiB', 8 * 1024 ** 2],
  ];
  for (const [s, b] of cases) t.equal(parseSize(s), b, s);
  for (const bad of ['', 'MiB', '12 bananas', '-1KiB', '1XB']) t.equal(parseSize(bad), undefined, `"${bad}" is invalid`);
});

t.test('formatDuration and formatSize round-trip', async (t) => {
  const cases: [number, string][] = [[0, '0s'], [200, '200ms'], [1500, '1.5s'], [60_000, '1m'], [90_000, '1m30s'], [3_600_000, '1h'], [0.1, '100us'], [0.00001, '10ns']];
  for (const [ms, s] of cases) {
    t.equal(formatDuration(ms), s, `${ms}ms`);
    t.equal(parseDuration(s), ms, `${s} parses back`);
  }
  t.equal(formatSize(512 * 1024 ** 2), '512MiB');
  t.equal(formatSize(1536), '1.5KiB');
  t.equal(formatSize(100), '100B');
});
