import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { sha256File } from '../../../src/util/sha256-file';
import { tempDir } from '../../helpers/temp-dir';

describe('sha256File', () => {
  it('hashes an empty file and a file larger than one stream chunk', async () => {
    const dir = tempDir();
    const empty = path.join(dir.dir, 'empty');
    writeFileSync(empty, Buffer.alloc(0));
    assert.equal(await sha256File(empty), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    const big = Buffer.alloc(300_000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
    const file = path.join(dir.dir, 'big');
    writeFileSync(file, big);
    assert.equal(await sha256File(file), createHash('sha256').update(big).digest('hex'));
    dir.cleanup();
  });

  it('rejects when the file does not exist', async () => {
    await assert.rejects(sha256File('/nonexistent/file'), { code: 'ENOENT' });
  });
});
