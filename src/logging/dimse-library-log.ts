/**
 * The one owner of dcmjs-dimse's process-wide `loglevel` logger, which the library leaves at enableAll (an
 * INFO line per DIMSE message, with AE titles and UIDs). Receiving and delivering share that logger, so
 * neither sets it: the composition root routes it once to the node's logger (the library's errors as
 * warnings, its warnings at debug, nothing below), and a stage that uses the library before that only makes
 * sure the routing is in place, which never changes where it goes.
 */
import { log as dimseLog } from 'dcmjs-dimse';
import type { Logger } from './logger';

let target: Logger | undefined;
let installed = false;

/** Sends the library's warnings and errors to `logger` (the composition root calls this once). */
export function routeDimseLibraryLog(logger: Logger): void {
  target = logger;
  ensureDimseLibraryLog();
}

/** Puts the routing in place if nothing has yet (then the library's lines are dropped until it is routed). Idempotent. */
export function ensureDimseLibraryLog(): void {
  if (installed) return;
  installed = true;
  const l = dimseLog as unknown as { methodFactory: unknown; setLevel: (lvl: string) => void; rebuild?: () => void };
  l.methodFactory = (methodName: string) => (...args: unknown[]) => {
    const level = methodName === 'error' ? 'warn' : 'debug';
    target?.log(level, `dcmjs-dimse: ${args.map(String).join(' ').slice(0, 500)}`);
  };
  l.setLevel('warn');
  l.rebuild?.();
}

/** Where the library's lines go now (for tests). */
export function dimseLibraryLogTarget(): Logger | undefined {
  return target;
}
