/** Operational logger (winston). Holds no patient name, ID or birth date. */
import winston from 'winston';

export type Logger = winston.Logger;

export function createLogger(level: string, opts: { silent?: boolean } = {}): Logger {
  return winston.createLogger({
    level,
    silent: opts.silent ?? false,
    format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
    transports: [new winston.transports.Console({ stderrLevels: ['error', 'warn'] })],
  });
}

/** A logger that prints nothing (for tests). */
export function silentLogger(): Logger {
  return createLogger('error', { silent: true });
}
