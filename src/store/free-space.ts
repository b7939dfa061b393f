/** Free space of the data volume (statfs), cached briefly so that every C-STORE need not ask the kernel. */
import { promises as fsp } from 'node:fs';

export class FreeSpaceMonitor {
  private cached: { at: number; bytes: number } | undefined;

  constructor(
    private readonly dir: string,
    private readonly watermarkBytes: number,
    private readonly maxAgeMs = 1000,
  ) {}

  /** Bytes available to this process on the data volume. */
  async freeBytes(): Promise<number> {
    const now = Date.now();
    if (this.cached && now - this.cached.at < this.maxAgeMs) return this.cached.bytes;
    const s = await fsp.statfs(this.dir);
    const bytes = Number(s.bavail) * Number(s.bsize);
    this.cached = { at: now, bytes };
    return bytes;
  }

  /** True when storing `incomingBytes` more would leave less than the watermark free. */
  async belowWatermark(incomingBytes = 0): Promise<boolean> {
    if (this.watermarkBytes <= 0) return false;
    return (await this.freeBytes()) - incomingBytes < this.watermarkBytes;
  }

  /** Forgets the cached value (after a large write, or in tests). */
  invalidate(): void {
    this.cached = undefined;
  }
}

/** True when a failed write failed because the volume (ENOSPC) or the user's quota (EDQUOT) is full. */
export function isStorageFull(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}
