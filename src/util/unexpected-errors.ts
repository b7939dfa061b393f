/**
 * The count of unexpected errors since start, by where they were caught (a timer, a promise chain, the
 * process-level 'unhandledRejection' / 'uncaughtException' handlers): logged where they are caught, counted
 * here, shown in /metrics (npcai_unexpected_errors_total). Never fatal to the listeners.
 */
const counts = new Map<string, number>();

export function countUnexpectedError(where: string): void {
  counts.set(where, (counts.get(where) ?? 0) + 1);
}

/** [where, count] pairs so far. */
export function unexpectedErrorCounts(): ReadonlyArray<[string, number]> {
  return [...counts.entries()];
}
