import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

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
  if (human) return pino(opts, pretty({ colorize: true, sync: true, ignore: 'pid,hostname,service' }));
  return pino(opts, pino.destination({ dest: 1, sync: false }));
}
