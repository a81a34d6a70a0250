// Durations and sizes as written in configs ('200ms', '1m30s', '512MiB'), and back.

const DURATION_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DURATION_PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/y;

/** Go-style duration ('200ms', '1.5s', '1h30m', '0s', '0') -> milliseconds; undefined if invalid. */
export function parseDuration(s: string): number | undefined {
  const text = s.trim();
  if (text === '0') return 0;
  if (text === '') return undefined;
  let ms = 0;
  DURATION_PART.lastIndex = 0;
  while (DURATION_PART.lastIndex < text.length) {
    const m = DURATION_PART.exec(text);
    if (!m) return undefined;
    ms += Number(m[1]) * DURATION_UNITS[m[2]!]!;
  }
  // Undo float noise from the unit factors (0.1 * 1e-3 ...), keeping nanosecond precision.
  return Math.round(ms * 1e6) / 1e6;
}

const SIZE_UNITS: Record<string, number> = {
  '': 1, b: 1,
  k: 1e3, kb: 1e3, m: 1e6, mb: 1e6, g: 1e9, gb: 1e9, t: 1e12, tb: 1e12,
  ki: 1024, kib: 1024, mi: 1024 ** 2, mib: 1024 ** 2, gi: 1024 ** 3, gib: 1024 ** 3, ti: 1024 ** 4, tib: 1024 ** 4,
};

/** '512MiB', '1KiB', '1GB', '100', '1.5MiB' -> bytes (integer); undefined if invalid. */
export function parseSize(s: string): number | undefined {
  const m = /^(\d+(?:\.\d*)?|\.\d+)\s*([A-Za-z]*)$/.exec(s.trim());
  if (!m) return undefined;
  const factor = SIZE_UNITS[m[2]!.toLowerCase()];
  if (factor === undefined) return undefined;
  return Math.round(Number(m[1]) * factor);
}

/** Milliseconds -> the shortest readable duration: 0s, 250ms, 1.5s, 1m30s, 2h, 100us. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms < 0) return `-${formatDuration(-ms)}`;
  if (ms === 0) return '0s';
  if (ms < 1e-3) return `${trim(ms * 1e6)}ns`;
  if (ms < 1) return `${trim(ms * 1e3)}us`;
  if (ms < 1000) return `${trim(ms)}ms`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = (ms % 60_000) / 1000;
  return `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${s ? `${trim(s)}s` : ''}`;
}

function trim(n: number): string {
  return String(Math.round(n * 1000) / 1000);
}

/** Bytes -> '512MiB', '1.5KiB', '100B'. */
export function formatSize(bytes: number): string {
  for (const [unit, f] of [['TiB', 1024 ** 4], ['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) {
    if (bytes >= f) return `${trim(bytes / f)}${unit}`;
  }
  return `${bytes}B`;
}
