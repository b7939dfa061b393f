/**
 * Host names of registered sources resolved for the association policy, cached with a deadline: an
 * association request does not wait for DNS (on libuv's thread pool, shared with the store's fsyncs) when
 * a fresh answer is cached. A stale answer is still used while one refresh runs in the background;
 * concurrent requests for one host share one lookup; a lookup that fails or takes longer than `timeoutMs`
 * resolves to no addresses and is cached for the shorter `negativeTtlMs`.
 */
import dns from 'node:dns';

export type LookupFn = (host: string) => Promise<string[]>;

export interface HostResolverOptions {
  ttlMs?: number;
  negativeTtlMs?: number;
  timeoutMs?: number;
  lookup?: LookupFn;
  now?: () => number;
}

interface Entry {
  addresses: string[];
  expiresAt: number;
  refreshing?: Promise<string[]>;
}

const MAX_ENTRIES = 1000;

export class HostResolver {
  private readonly cache = new Map<string, Entry>();
  private readonly ttlMs: number;
  private readonly negativeTtlMs: number;
  private readonly timeoutMs: number;
  private readonly lookupFn: LookupFn;
  private readonly now: () => number;
  /** Lookups made (for tests and diagnostics). */
  lookups = 0;

  constructor(opts: HostResolverOptions = {}) {
    this.ttlMs = opts.ttlMs ?? 60_000;
    this.negativeTtlMs = opts.negativeTtlMs ?? 10_000;
    this.timeoutMs = opts.timeoutMs ?? 2_000;
    this.lookupFn = opts.lookup ?? (async (h) => (await dns.promises.lookup(h, { all: true })).map((r) => r.address));
    this.now = opts.now ?? Date.now;
  }

  /** The host's addresses: cached when fresh, the stale ones (refreshing) when expired, else looked up. */
  async resolve(host: string): Promise<string[]> {
    const e = this.cache.get(host);
    if (e && e.expiresAt > this.now()) return e.addresses;
    if (e) {
      // Never answered yet: wait for the lookup under way (shared), not an empty answer.
      if (e.expiresAt === 0 && e.refreshing) return e.refreshing;
      if (!e.refreshing) void this.refresh(host, e);
      return e.addresses;
    }
    const fresh: Entry = { addresses: [], expiresAt: 0 };
    if (this.cache.size >= MAX_ENTRIES) this.cache.clear();
    this.cache.set(host, fresh);
    return this.refresh(host, fresh);
  }

  private refresh(host: string, e: Entry): Promise<string[]> {
    this.lookups += 1;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<string[]>((resolve) => {
      timer = setTimeout(() => resolve([]), this.timeoutMs);
      timer.unref();
    });
    const p = Promise.race([this.lookupFn(host).catch(() => [] as string[]), timeout]).then((addresses) => {
      clearTimeout(timer);
      // A failed refresh keeps the addresses that worked before, for the short deadline.
      const kept = addresses.length ? addresses : e.addresses;
      e.addresses = kept;
      e.expiresAt = this.now() + (addresses.length ? this.ttlMs : this.negativeTtlMs);
      e.refreshing = undefined;
      return kept;
    });
    e.refreshing = p;
    return p;
  }
}
