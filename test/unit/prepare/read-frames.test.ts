import assert from 'node:assert/strict';
import { storedValues, storedValuesGeneric } from '../../../src/prepare/read-frames';

/** Little-endian samples of `bits` bits at byte `offset` of a buffer (with a byte before them when offset is odd). */
function samples(values: number[], bits: 8 | 16 | 32, offset: number): Uint8Array {
  const size = bits / 8;
  const bytes = new Uint8Array(offset + values.length * size + 3);
  const view = new DataView(bytes.buffer);
  values.forEach((v, i) => {
    if (bits === 8) view.setUint8(offset + i, v);
    else if (bits === 16) view.setUint16(offset + i * 2, v, true);
    else view.setUint32(offset + i * 4, v, true);
  });
  return bytes;
}

const same = (a: Float32Array, b: Float32Array) => assert.deepEqual(Array.from(a), Array.from(b));

describe('stored pixel values', () => {
  it('reads 16-bit BitsStored 12 with garbage high bits, unsigned and signed (sign-extended from bit 11)', () => {
    // 0xf805: high nibble is garbage, stored 0x805 = 2053 unsigned, -2043 signed; 0x07ff is 2047 either way
    const bytes = samples([0xf805, 0x07ff, 0x1000, 0xffff, 0], 16, 0);
    assert.deepEqual(Array.from(storedValues(bytes, 0, 5, 16, 12, false)), [2053, 2047, 0, 4095, 0]);
    assert.deepEqual(Array.from(storedValues(bytes, 0, 5, 16, 12, true)), [-2043, 2047, 0, -1, 0]);
  });

  it('reads full-width 8, 16 and 32-bit samples, signed and unsigned', () => {
    assert.deepEqual(Array.from(storedValues(samples([0, 127, 128, 255], 8, 0), 0, 4, 8, 8, false)), [0, 127, 128, 255]);
    assert.deepEqual(Array.from(storedValues(samples([0, 127, 128, 255], 8, 0), 0, 4, 8, 8, true)), [0, 127, -128, -1]);
    assert.deepEqual(Array.from(storedValues(samples([1, 0x7fff, 0x8000, 0xffff], 16, 0), 0, 4, 16, 16, true)), [1, 32767, -32768, -1]);
    assert.deepEqual(Array.from(storedValues(samples([1, 0x7fff, 0x8000, 0xffff], 16, 0), 0, 4, 16, 16, false)), [1, 32767, 32768, 65535]);
    const big = [5, 0x7fffffff, 0x80000000, 0xffffffff];
    assert.deepEqual(Array.from(storedValues(samples(big, 32, 0), 0, 4, 32, 32, true)), [5, 2147483648, -2147483648, -1].map(Math.fround));
    assert.deepEqual(Array.from(storedValues(samples(big, 32, 0), 0, 4, 32, 32, false)), [5, 2147483647, 2147483648, 4294967295].map(Math.fround));
  });

  it('reads frames at odd byte offsets (copied once) like aligned ones', () => {
    const values = [0xf805, 0x07ff, 0x1234, 0xffff];
    for (const [bits, stored] of [[16, 12], [16, 16], [32, 20], [32, 32]] as const) {
      const aligned = storedValues(samples(values, bits, 0), 0, 4, bits, stored, true);
      for (const offset of [1, 3]) same(storedValues(samples(values, bits, offset), offset, 4, bits, stored, true), aligned);
      // a subarray whose own byteOffset is odd
      const sub = samples(values, bits, 1).subarray(1);
      same(storedValues(sub, 0, 4, bits, stored, true), aligned);
    }
  });

  it('gives the reference implementation\'s values for every width, BitsStored and sign', () => {
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648);
    for (const bits of [8, 16, 32] as const) {
      const values = Array.from({ length: 300 }, () => (bits === 32 ? next() * 2 + (next() & 1) : next() % 2 ** bits));
      for (const offset of [0, 1, 2]) {
        const bytes = samples(values, bits, offset);
        for (let stored = 0; stored <= bits; stored++) {
          for (const signed of [false, true]) {
            const fast = storedValues(bytes, offset, values.length, bits, stored, signed);
            const ref = storedValuesGeneric(bytes, offset, values.length, bits, stored, signed);
            assert.deepEqual(Array.from(fast), Array.from(ref), `${bits} bits, ${stored} stored, signed ${signed}, offset ${offset}`);
          }
        }
      }
    }
  });

  it('can put the values in a SharedArrayBuffer (decode workers), with the same values', () => {
    const bytes = samples([0xf805, 0x07ff, 0x1234, 0xffff], 16, 1);
    for (const stored of [12, 16]) {
      const shared = storedValues(bytes, 1, 4, 16, stored, true, true);
      assert.ok(shared.buffer instanceof SharedArrayBuffer);
      assert.deepEqual(Array.from(shared), Array.from(storedValues(bytes, 1, 4, 16, stored, true)));
      assert.ok(storedValuesGeneric(bytes, 1, 4, 16, stored, true, true).buffer instanceof SharedArrayBuffer);
    }
  });
});
