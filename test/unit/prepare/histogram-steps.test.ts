import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { claheU8, clahe } from '../../../src/prepare/steps/clahe';
import { equalizeHistU8, histeq } from '../../../src/prepare/steps/histeq';

interface Reference {
  opencv: string;
  inputs: Record<string, { rows: number; columns: number; data: number[] }>;
  clahe: { input: string; clipLimit: number; tiles: number; output: number[] }[];
  equalizeHist: { input: string; output: number[] }[];
}

// Compiled tests run from dist/test/...; the fixture stays in the source tree.
const fixture = path.resolve(__dirname, '../../../../test/fixtures/prepare/opencv-reference.json');
const ref: Reference = JSON.parse(readFileSync(fixture, 'utf8'));

function compare(actual: Uint8Array, expected: number[]): { max: number; differing: number } {
  assert.equal(actual.length, expected.length);
  let max = 0;
  let differing = 0;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i]! - expected[i]!);
    if (d > 0) differing++;
    if (d > max) max = d;
  }
  return { max, differing };
}

describe(`CLAHE and histogram equalisation against OpenCV ${ref.opencv}`, () => {
  for (const c of ref.clahe) {
    const input = ref.inputs[c.input]!;
    it(`CLAHE matches cv2.createCLAHE(clipLimit=${c.clipLimit}, tileGridSize=(${c.tiles},${c.tiles})) on ${c.input}`, () => {
      const out = claheU8(Uint8Array.from(input.data), input.rows, input.columns, c.clipLimit, c.tiles);
      const { max, differing } = compare(out, c.output);
      // The implementation follows OpenCV's single-precision arithmetic and is pixel-exact on these
      // fixtures; a future OpenCV build with different rounding would be allowed 1 level on 1% of pixels.
      assert.ok(max <= 1, `max difference ${max}`);
      assert.ok(differing <= Math.floor(out.length * 0.01), `${differing} of ${out.length} pixels differ`);
      assert.equal(differing, 0, 'pixel-exact against the committed OpenCV 4.6 reference');
    });
  }

  for (const c of ref.equalizeHist) {
    const input = ref.inputs[c.input]!;
    it(`histogram equalisation matches cv2.equalizeHist exactly on ${c.input}`, () => {
      const out = equalizeHistU8(Uint8Array.from(input.data));
      assert.deepEqual([...out], c.output);
    });
  }

  it('the float steps round and clamp to 0-255 before equalising, like an 8-bit cv2 input', () => {
    const input = ref.inputs['gradient-64x64']!;
    const noisy = Float32Array.from(input.data, (v, i) => (i % 7 === 0 ? v + 0.3 : v - 0.3));
    noisy[0] = -40; // clamps to 0
    const expectedInput = Uint8Array.from(input.data);
    expectedInput[0] = 0;
    const img = { pixels: noisy, rows: input.rows, columns: input.columns, channels: 1, spacing: [1, 1] as [number, number] };
    assert.deepEqual([...clahe(img, 2, 8).pixels], [...claheU8(expectedInput, input.rows, input.columns, 2, 8)]);
    assert.deepEqual([...histeq(img).pixels], [...equalizeHistU8(expectedInput)]);
  });

  it('CLAHE with a high clip limit on a 1-tile grid equals plain equalisation of the CDF', () => {
    // 2x2 image, values 0, 0, 100, 200, one tile, no clipping: LUT = cdf * 255 / 4.
    const out = claheU8(Uint8Array.from([0, 0, 100, 200]), 2, 2, 1000, 1);
    assert.deepEqual([...out], [128, 128, 191, 255]);
  });
});
