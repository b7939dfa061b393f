/** A winston logger that keeps every entry in memory, for tests that assert what was logged. */
import winston from 'winston';
import type { Logger } from '../../src/logging/logger';

export interface CapturedEntry {
  level: string;
  message: string;
  [key: string]: unknown;
}

export function captureLogger(): { logger: Logger; entries: CapturedEntry[] } {
  const entries: CapturedEntry[] = [];
  const keep = winston.format((info) => {
    entries.push({ ...(info as CapturedEntry) });
    return false;
  });
  const logger = winston.createLogger({ level: 'debug', format: keep(), transports: [new winston.transports.Console({ silent: true })] });
  return { logger, entries };
}
