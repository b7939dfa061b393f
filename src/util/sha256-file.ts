import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';

/** Hex sha256 of a file's bytes, read as a stream (model files and stored instances can be large). */
export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  const fh = await fsp.open(file, 'r');
  try {
    for await (const chunk of fh.createReadStream()) h.update(chunk as Buffer);
  } finally {
    await fh.close().catch(() => undefined);
  }
  return h.digest('hex');
}
