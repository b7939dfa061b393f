/**
 * The DIMSE listener's connections and their limits: a total cap and a cap per peer address, where an
 * unassociated connection (its A-ASSOCIATE-RQ not yet in, or not yet accepted) gives way to a new one,
 * oldest first, so that connections that never associate cannot lock out a modality; an ARTIM-style
 * deadline (PS3.8 9.1.5) for the whole association request; and an idle limit that only whole PDUs reset.
 * Pure bookkeeping (no sockets, the clock passed in), unit-tested; the server acts on its answers.
 */

export type ConnectionPhase =
  /** Connected; the A-ASSOCIATE-RQ has not (completely) arrived. */
  | 'awaiting-request'
  /** The whole A-ASSOCIATE-RQ arrived; not accepted (being decided, or rejected and left open). */
  | 'requested'
  /** A-ASSOCIATE-AC sent. */
  | 'associated';

export interface ConnectionLimits {
  maxConnections: number;
  maxConnectionsPerAddress: number;
  /** From accept until associated (ARTIM). */
  associationRequestTimeoutMs: number;
  /** Without a whole PDU, once associated. */
  idleTimeoutMs: number;
}

export interface TrackedConnection<T> {
  readonly handle: T;
  readonly address: string;
  readonly openedAt: number;
  phase: ConnectionPhase;
  /** When the last whole PDU arrived (or the connection opened, or it was last busy). */
  lastPduAt: number;
}

export type Admission<T> = { admit: true; evict: Array<TrackedConnection<T>> } | { admit: false; reason: string };

const evictionRank: Record<ConnectionPhase, number> = { 'awaiting-request': 0, requested: 1, associated: 2 };

export class ConnectionTable<T> {
  private readonly byHandle = new Map<T, TrackedConnection<T>>();

  constructor(private readonly limits: ConnectionLimits) {}

  get size(): number {
    return this.byHandle.size;
  }

  get(handle: T): TrackedConnection<T> | undefined {
    return this.byHandle.get(handle);
  }

  /** Connections from `address` (normalised by the caller). */
  countFrom(address: string): number {
    let n = 0;
    for (const c of this.byHandle.values()) if (c.address === address) n += 1;
    return n;
  }

  /**
   * Whether a new connection from `address` may be held, and which unassociated connections must give way
   * for it (not yet requested before requested-but-undecided, oldest first). Associated ones never give way.
   */
  admit(address: string): Admission<T> {
    const evict: Array<TrackedConnection<T>> = [];
    const fromAddress = [...this.byHandle.values()].filter((c) => c.address === address);
    if (fromAddress.length >= this.limits.maxConnectionsPerAddress) {
      const victim = oldestUnassociated(fromAddress);
      if (!victim) return { admit: false, reason: `${this.limits.maxConnectionsPerAddress} associations already open from ${address}` };
      evict.push(victim);
    }
    if (this.byHandle.size - evict.length >= this.limits.maxConnections) {
      const victim = oldestUnassociated([...this.byHandle.values()].filter((c) => !evict.includes(c)));
      if (!victim) return { admit: false, reason: `${this.limits.maxConnections} associations already open` };
      evict.push(victim);
    }
    return { admit: true, evict };
  }

  add(handle: T, address: string, now: number): TrackedConnection<T> {
    const c: TrackedConnection<T> = { handle, address, openedAt: now, phase: 'awaiting-request', lastPduAt: now };
    this.byHandle.set(handle, c);
    return c;
  }

  remove(handle: T): void {
    this.byHandle.delete(handle);
  }

  /** A whole PDU arrived on the connection. */
  pduReceived(handle: T, now: number): void {
    const c = this.byHandle.get(handle);
    if (c) c.lastPduAt = now;
  }

  setPhase(handle: T, phase: ConnectionPhase): void {
    const c = this.byHandle.get(handle);
    if (c && evictionRank[phase] > evictionRank[c.phase]) c.phase = phase;
  }

  /**
   * Connections past a deadline at `now`: unassociated ones older than the association request deadline,
   * and associated ones without a whole PDU for the idle limit (`busy` ones, e.g. a store being made
   * durable, count as active).
   */
  expired(now: number, busy: (handle: T) => boolean): Array<{ connection: TrackedConnection<T>; why: 'association-request-timeout' | 'idle-timeout' }> {
    const out: Array<{ connection: TrackedConnection<T>; why: 'association-request-timeout' | 'idle-timeout' }> = [];
    for (const c of this.byHandle.values()) {
      if (c.phase !== 'associated') {
        if (now - c.openedAt >= this.limits.associationRequestTimeoutMs) out.push({ connection: c, why: 'association-request-timeout' });
      } else if (busy(c.handle)) {
        c.lastPduAt = now;
      } else if (now - c.lastPduAt >= this.limits.idleTimeoutMs) {
        out.push({ connection: c, why: 'idle-timeout' });
      }
    }
    return out;
  }

  handles(): T[] {
    return [...this.byHandle.keys()];
  }
}

function oldestUnassociated<T>(list: Array<TrackedConnection<T>>): TrackedConnection<T> | undefined {
  let best: TrackedConnection<T> | undefined;
  for (const c of list) {
    if (c.phase === 'associated') continue;
    if (!best || evictionRank[c.phase] < evictionRank[best.phase] || (evictionRank[c.phase] === evictionRank[best.phase] && c.openedAt < best.openedAt)) best = c;
  }
  return best;
}
