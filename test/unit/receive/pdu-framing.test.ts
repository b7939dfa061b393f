import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PduFramer } from '../../../src/receive/dimse/pdu-guard';
import { PDataError, joinPdu, parsePData, parsePDataParts } from '../../../src/receive/dimse/p-data';
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

  it('with pushKeepingPData, yields the same PDUs; a P-DATA-TF over several chunks as views of them, not a copy', () => {
    let seed = 11;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) % 9000) + 1;
    for (const cut of ['random', 'bytes', 'whole'] as const) {
      const framer = new PduFramer();
      const out: Buffer[] = [];
      let lists = 0;
      for (let i = 0; i < stream.length; ) {
        const n = cut === 'whole' ? stream.length : cut === 'bytes' ? 1 : rand();
        const chunk = stream.subarray(i, i + n);
        for (const p of framer.pushKeepingPData(chunk)) {
          if (!Buffer.isBuffer(p)) {
            lists++;
            assert.equal(p[0]![0], 0x04, 'only P-DATA-TF PDUs come as chunk lists');
            for (const part of p) assert.equal(part.buffer, stream.buffer, 'a view of the stream, not a copy');
          }
          out.push(joinPdu(p));
        }
        i += n;
      }
      assert.deepEqual(out.map((b) => b.toString('hex')), pdus.map((b) => b.toString('hex')), cut);
      if (cut !== 'whole') assert.ok(lists > 0, cut);
    }
  });

  it('holds back an incomplete PDU', () => {
    const framer = new PduFramer();
    assert.deepEqual(framer.push(pdus[1]!.subarray(0, 5000)), []);
    assert.equal(framer.push(pdus[1]!.subarray(5000)).length, 1);
  });
});

describe('parsePDataParts', () => {
  function pData(items: { pc: number; mch: number; value: Buffer }[]): Buffer {
    const body = Buffer.concat(items.map((it) => {
      const h = Buffer.alloc(6);
      h.writeUInt32BE(2 + it.value.length, 0);
      h[4] = it.pc;
      h[5] = it.mch;
      return Buffer.concat([h, it.value]);
    }));
    const h = Buffer.alloc(6);
    h[0] = 0x04;
    h.writeUInt32BE(body.length, 2);
    return Buffer.concat([h, body]);
  }
  const whole = pData([{ pc: 1, mch: 3, value: Buffer.from('command') }, { pc: 3, mch: 0, value: Buffer.alloc(5000, 7) }, { pc: 3, mch: 2, value: Buffer.from('x') }]);

  it('gives the items parsePData gives, however the PDU is cut into chunks', () => {
    const expected = parsePData(whole).map((p) => ({ pc: p.presentationContextId, cmd: p.isCommand, last: p.isLast, hex: p.value.toString('hex') }));
    for (const size of [1, 3, 6, 7, 100, 4999, whole.length]) {
      const chunks: Buffer[] = [];
      for (let i = 0; i < whole.length; i += size) chunks.push(whole.subarray(i, i + size));
      const got = parsePDataParts(chunks).map((p) => {
        assert.equal(p.length, p.parts.reduce((n, b) => n + b.length, 0));
        return { pc: p.presentationContextId, cmd: p.isCommand, last: p.isLast, hex: Buffer.concat(p.parts).toString('hex') };
      });
      assert.deepEqual(got, expected, `chunks of ${size}`);
    }
    assert.deepEqual(parsePDataParts(whole).map((p) => Buffer.concat(p.parts).toString('hex')), expected.map((e) => e.hex));
  });

  it('refuses what parsePData refuses, with the same message', () => {
    const bad = [whole.subarray(0, whole.length - 1), Buffer.from([0x04, 0, 0, 0, 0, 0]), Buffer.from([0x04, 0, 0, 0, 0, 4, 0, 0, 0, 1]), Buffer.from([0x04, 0, 0, 0, 0, 8, 0, 0, 0, 9, 1, 0, 0, 0])];
    for (const b of bad) {
      const lengthFixed = Buffer.from(b);
      if (b !== bad[0]) lengthFixed.writeUInt32BE(b.length - 6, 2);
      let expected = '';
      assert.throws(() => parsePData(lengthFixed), (e: Error) => ((expected = e.message), e instanceof PDataError));
      assert.throws(() => parsePDataParts([lengthFixed.subarray(0, 3), lengthFixed.subarray(3)]), (e: Error) => e instanceof PDataError && e.message === expected);
    }
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
