import assert from 'node:assert/strict';
import { framesOf, maskOnSlice, packBinaryFrames, unpackBinaryFrame } from '../../../src/encode/seg/segment-frames';
import type { Slice } from '../../../src/prepare/volume-types';
import { seededRandom } from '../../fixtures/encode/analysis-fixture';

describe('SEG frames', () => {
  it('packs the first pixel into the least significant bit, frames back to back, even length', () => {
    const a = Uint8Array.from([1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0]);
    const b = Uint8Array.from([0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1]);
    const packed = packBinaryFrames([a, b]);
    // bits 0, 9, 16 (12 + 4), 23 (12 + 11) of 24.
    assert.deepEqual([...packed], [0x01, 0x02, 0x81, 0x00]);
    assert.equal(packed.length % 2, 0);
    assert.deepEqual(unpackBinaryFrame(packed, 0, 12), a);
    assert.deepEqual(unpackBinaryFrame(packed, 1, 12), b);
  });

  it('resamples a mask on another grid by nearest neighbour', () => {
    const m = maskOnSlice({ rows: 2, columns: 2, data: Uint8Array.from([1, 0, 0, 1]) }, { rows: 4, columns: 4 });
    assert.deepEqual([...m], [1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 1, 1]);
    assert.throws(() => maskOnSlice({ rows: 2, columns: 2, data: new Uint8Array(3) }, { rows: 4, columns: 4 }), /3 values/);
  });

  it('keeps only slices whose mask has pixels', () => {
    const slice = { rows: 2, columns: 2 } as Slice;
    const frames = framesOf([{ slice, mask: new Uint8Array(4) }, { slice }, { slice, mask: Uint8Array.from([0, 0, 5, 0]) }]);
    assert.deepEqual(frames.map((f) => [f.sliceIndex, [...f.pixels]]), [[2, [0, 0, 1, 0]]]);
  });

  it('packs and copies any frames as the bit-at-a-time reference does: unaligned views, odd lengths, values other than 0/1', () => {
    const reference = (frames: Uint8Array[]) => {
      const bytes = Math.ceil(frames.reduce((n, f) => n + f.length, 0) / 8);
      const out = new Uint8Array(bytes + (bytes % 2));
      let bit = 0;
      for (const f of frames) for (let i = 0; i < f.length; i++, bit++) if (f[i]) out[bit >> 3]! |= 1 << (bit & 7);
      return out;
    };
    const random = seededRandom(8);
    for (let t = 0; t < 400; t++) {
      const frames = Array.from({ length: 1 + Math.floor(random() * 4) }, () => {
        const n = [64, 61, 8, 7, 1024, 3][Math.floor(random() * 6)]!;
        const offset = Math.floor(random() * 3);
        const f = new Uint8Array(n + 3).subarray(offset, offset + n);
        for (let i = 0; i < n; i++) f[i] = random() < 0.3 ? (random() < 0.1 ? 5 : 1) : 0;
        return f;
      });
      assert.deepEqual(packBinaryFrames(frames), reference(frames), `case ${t}`);
      const first = frames[0]!;
      assert.deepEqual([...maskOnSlice(first, { rows: 1, columns: first.length })], [...first].map((v) => (v ? 1 : 0)), `case ${t} mask`);
    }
  });
});

