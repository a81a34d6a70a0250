import { createRequire } from 'node:module';
import { pino, type DestinationStream, type Logger } from 'pino';

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'silent';

/** JSON lines, or human-readable when stdout is a terminal (or `encoding: console`). */
export function createLogger(level: LogLevel = 'info', encoding: 'json' | 'console' | 'auto' = 'auto'): Logger {
  const human = encoding === 'console' || (encoding === 'auto' && process.stdout.isTTY === true);
  const opts = {
    level,
    base: { service: 'fleetcol' },
    // Credentials never reach the log, wherever a component puts them.
    redact: { paths: ['*.authorization', '*.token', '*.bearer_tokens', '*.headers.authorization', '*.headers.Authorization'], censor: '[redacted]' },
  };
  if (human) {
    // Loaded only for a terminal: it is a sizeable module a daemon in a container never needs.
    const pretty = createRequire(import.meta.url)('pino-pretty') as (o: object) => DestinationStream;
    return pino(opts, pretty({ colorize: true, sync: true, ignore: 'pid,hostname,service' }));
  }
  // Synchronous writes: fleetcol logs little on its hot path, and an asynchronous buffer would have
  // to be flushed at exit, which blocks forever when nobody reads stdout any more.
  return pino(opts, pino.destination({ dest: 1, sync: true }));
}
