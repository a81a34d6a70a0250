export interface BackoffConfig {
  initial_interval: number;
  max_interval: number;
  multiplier: number;
  randomization_factor: number;
}

/** Exponential backoff with jitter: attempt 0 waits about initial_interval. */
export function backoffDelay(cfg: BackoffConfig, attempt: number, random = Math.random): number {
  const base = Math.min(cfg.max_interval, cfg.initial_interval * Math.pow(cfg.multiplier, attempt));
  const spread = base * cfg.randomization_factor;
  return Math.max(0, base - spread + random() * 2 * spread);
}

/** Resolves after ms, or early (false) when the signal aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
