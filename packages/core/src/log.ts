import { pino, type Logger, type LevelWithSilent, type DestinationStream } from 'pino';

export type { Logger };

/**
 * Kamailio's `debug=` levels mapped to pino levels.
 * Kamailio: -5 alert .. -1 ... 0 warning(L_WARN) 1 notice 2 info 3 debug.
 * Anything below 0 keeps error-only; above 3 is trace.
 */
export function kamailioDebugToLevel(debug: number): LevelWithSilent {
  if (debug <= -2) return 'fatal';
  if (debug === -1) return 'error';
  if (debug === 0) return 'warn';
  if (debug === 1) return 'info'; // NOTICE has no pino twin; info is the nearest
  if (debug === 2) return 'info';
  if (debug === 3) return 'debug';
  return 'trace';
}

export interface LoggerOptions {
  level?: LevelWithSilent;
  /** Prefix put before every message, like Kamailio's log_prefix. */
  prefix?: string;
  destination?: DestinationStream;
}

/** The root logger. Children add `{ mod }` (module/layer name); per-message fields only on slow paths. */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const base = {
    level: opts.level ?? 'info',
    base: { pid: process.pid },
    ...(opts.prefix ? { msgPrefix: opts.prefix } : {}),
  };
  if (opts.destination) return pino(base, opts.destination);
  return pino(base);
}

/** A logger that drops everything: for tests and for library use without configuration. */
export const silentLogger: Logger = pino({ level: 'silent' });
