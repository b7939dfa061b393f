/** A manual clock with timers for tests of time-driven code (no sleeping). */
export class FakeClock {
  private seq = 0;
  private readonly pending = new Map<number, { at: number; fn: () => void }>();

  constructor(private t = Date.parse('2024-03-01T08:00:00.000Z')) {}

  now = (): number => this.t;
  date = (): Date => new Date(this.t);
  setTimeout = (fn: () => void, ms: number): unknown => {
    const id = ++this.seq;
    this.pending.set(id, { at: this.t + Math.max(0, ms), fn });
    return id;
  };
  clearTimeout = (h: unknown): void => {
    this.pending.delete(h as number);
  };

  /** Timers not yet fired. */
  get timerCount(): number {
    return this.pending.size;
  }

  /** Moves time forward by ms, firing due timers in order (timers they arm fire too when due). */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.pending) if (e[1].at <= end && (!next || e[1].at < next[1].at || (e[1].at === next[1].at && e[0] < next[0]))) next = e;
      if (!next) break;
      this.pending.delete(next[0]);
      this.t = Math.max(this.t, next[1].at);
      next[1].fn();
    }
    this.t = end;
  }

  /** Jumps time without firing timers (e.g. the time a node was down). */
  jump(ms: number): void {
    this.t += ms;
  }
}
