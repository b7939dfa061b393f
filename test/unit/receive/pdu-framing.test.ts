import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PduFramer } from '../../../src/receive/dimse/pdu-guard';
import { SpoolWriter } from '../../../src/store/spool-writer';
import { tempDir } from '../../helpers/temp-dir';

function pdu(type: number, bodyLength: number, fill: number): Buffer {
  const b = Buffer.alloc(6 + bodyLength, fill);
  b[0] = type;
  b[1] = 0;
  b.writeUInt32BE(bodyLength, 2);
  return b;
}

describe('PduFramer', () => {
  const pdus = [pdu(0x01, 300, 1), pdu(0x04, 70000, 2), pdu(0x04, 10, 3), pdu(0x05, 4, 4), pdu(0x04, 0, 5)];
  const stream = Buffer.concat(pdus);

  it('yields the same whole PDUs however the stream is cut (seeded chunk sizes, single bytes, one chunk)', () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) % 9000) + 1;
    for (const cut of ['random', 'bytes', 'whole'] as const) {
      const framer = new PduFramer();
      const out: Buffer[] = [];
      for (let i = 0; i < stream.length; ) {
        const n = cut === 'whole' ? stream.length : cut === 'bytes' ? 1 : rand();
        out.push(...framer.push(stream.subarray(i, i + n)));
        i += n;
      }
      assert.deepEqual(out.map((b) => b.toString('hex')), pdus.map((b) => b.toString('hex')), cut);
    }
  });

  it('passes a PDU that arrives in one chunk on without copying it', () => {
    const framer = new PduFramer();
    const [first] = framer.push(stream);
    assert.equal(first!.buffer, stream.buffer);
    assert.equal(first!.byteOffset, stream.byteOffset);
  });

  it('holds back an incomplete PDU', () => {
    const framer = new PduFramer();
    assert.deepEqual(framer.push(pdus[1]!.subarray(0, 5000)), []);
    assert.equal(framer.push(pdus[1]!.subarray(5000)).length, 1);
  });
});

describe('SpoolWriter retained contents', () => {
  it('keeps small files in memory, identical to the file, and drops what exceeds retainUpTo', async () => {
    const t = tempDir('npcai-spool-');
    try {
      const small = new SpoolWriter(path.join(t.dir, 'a.part'), { prefix: Buffer.from('PRE'), syncData: false, retainUpTo: 1024 });
      small.write(Buffer.from('hello '));
      small.end(Buffer.from('world'));
      await once(small, 'finish');
      assert.equal(small.contents()!.toString(), 'PREhello world');
      assert.deepEqual(small.contents(), readFileSync(path.join(t.dir, 'a.part')));
      const big = new SpoolWriter(path.join(t.dir, 'b.part'), { syncData: false, retainUpTo: 8 });
      big.end(Buffer.alloc(64, 1));
      await once(big, 'finish');
      assert.equal(big.contents(), undefined);
      assert.equal(big.size, 64);
    } finally {
      t.cleanup();
    }
  });
});
