/**
 * A seam for fault-injection tests: the store's file operations (spool writes, data and directory syncs,
 * renames, directory creation) call `injectFault(op, path)` first, which does nothing unless a test has
 * installed an injector that throws (e.g. an EIO or ENOSPC errno error). Production never installs one.
 */
export type StoreFsOp = 'write' | 'fdatasync' | 'fsync-dir' | 'rename' | 'mkdir';

type Injector = (op: StoreFsOp, path: string) => void;

let injector: Injector | undefined;

/** Installs (or, with undefined, removes) the injector; returns the previous one. */
export function setStoreFaultInjector(fn: Injector | undefined): Injector | undefined {
  const prev = injector;
  injector = fn;
  return prev;
}

/** Throws what the installed injector throws for this operation; a no-op without one. */
export function injectFault(op: StoreFsOp, path: string): void {
  if (injector) injector(op, path);
}

/** An errno-style error as node's fs would raise it. */
export function errnoError(code: string, op: string, path: string): NodeJS.ErrnoException {
  const e = new Error(`${code}: injected fault, ${op} '${path}'`) as NodeJS.ErrnoException;
  e.code = code;
  e.syscall = op;
  e.path = path;
  return e;
}
