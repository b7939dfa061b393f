import assert from 'node:assert/strict';
import { framesOf, maskOnSlice, packBinaryFrames, unpackBinaryFrame } from '../../../src/encode/seg/segment-frames';
import type { Slice } from '../../../src/prepare/volume-types';

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
});
