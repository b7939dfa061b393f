/**
 * A Writable that spools one received instance into a temp file exactly as received (optionally behind a
 * File Meta header), hashing as it goes, and fdatasyncs the file before 'finish' when durability is on.
 * Destroyed before finishing (peer abort, error), it removes its partial file.
 */
import { createHash, type Hash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';

export class SpoolWriter extends Writable {
  private fh: FileHandle | undefined;
  private readonly hash: Hash = createHash('sha256');
  private written = 0;
  private finished = false;
  private digest: string | undefined;

  constructor(
    readonly path: string,
    private readonly opts: { prefix?: Buffer; syncData: boolean; maxBytes?: number },
  ) {
    super({ highWaterMark: 1024 * 1024 });
  }

  get size(): number {
    return this.written;
  }
  /** sha256 (hex) of everything written, available after 'finish'. */
  get sha256(): string {
    if (!this.digest) throw new Error('spool file not finished');
    return this.digest;
  }

  override _construct(callback: (error?: Error | null) => void): void {
    fsp.open(this.path, 'wx', 0o640).then(
      async (fh) => {
        this.fh = fh;
        if (this.opts.prefix) await this.writeChunks([this.opts.prefix]);
        callback();
      },
      (err: Error) => callback(err),
    );
  }

  private async writeChunks(chunks: Buffer[]): Promise<void> {
    let total = 0;
    for (const c of chunks) {
      this.hash.update(c);
      total += c.length;
    }
    if (this.opts.maxBytes !== undefined && this.written + total > this.opts.maxBytes) {
      throw new Error(`instance larger than ${this.opts.maxBytes} bytes`);
    }
    let offset = 0;
    while (offset < total) {
      // writev writes all chunks in one call; loop for the (rare) partial write.
      const r = await this.fh!.writev(offset === 0 ? chunks : [Buffer.concat(chunks).subarray(offset)]);
      offset += r.bytesWritten;
    }
    this.written += total;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.writeChunks([chunk]).then(() => callback(), callback);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    this.writeChunks(chunks.map((c) => c.chunk)).then(() => callback(), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    (async () => {
      if (this.opts.syncData) await this.fh!.datasync();
      await this.fh!.close();
      this.fh = undefined;
      this.digest = this.hash.digest('hex');
      this.finished = true;
    })().then(() => callback(), (err: Error) => callback(err));
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const fh = this.fh;
    this.fh = undefined;
    const cleanup = async () => {
      if (fh) await fh.close().catch(() => undefined);
      if (!this.finished) await fsp.rm(this.path, { force: true }).catch(() => undefined);
    };
    cleanup().then(() => callback(error), () => callback(error));
  }
}
