import assert from 'node:assert/strict';
import type { PlanarImage } from '../../../src/prepare/image';
import { normalize, intensityRange } from '../../../src/prepare/steps/normalize';
import { percentiles } from '../../../src/prepare/steps/percentile';
import { resize } from '../../../src/prepare/steps/resize';
import { resample } from '../../../src/prepare/steps/resample';
import { crop, cropBox } from '../../../src/prepare/steps/crop';
import { padSquare } from '../../../src/prepare/steps/pad-square';
import { imagenet } from '../../../src/prepare/steps/imagenet';
import { scale } from '../../../src/prepare/steps/scale';
import { maskOutside } from '../../../src/prepare/steps/mask-outside';
import { saturateU8, toU8 } from '../../../src/prepare/steps/quantize';

function img(rows: number, columns: number, values: number[], spacing: [number, number] = [1, 1], channels = 1): PlanarImage {
  return { pixels: Float32Array.from(values), rows, columns, channels, spacing };
}
const close = (a: ArrayLike<number>, b: number[], eps = 1e-5) => {
  assert.equal(a.length, b.length);
  for (let i = 0; i < b.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) <= eps, `index ${i}: ${a[i]} vs ${b[i]}`);
};

describe('preparation steps on known arrays', () => {
  it('percentiles interpolate linearly between order statistics like numpy', () => {
    const v = Float32Array.from([7, 1, 3, 9, 5]);
    assert.deepEqual(percentiles(v, [0, 25, 50, 100, 10]).map((x) => +x.toFixed(4)), [1, 3, 5, 9, 1.8]);
    assert.deepEqual(percentiles([Float32Array.from([1, 2]), Float32Array.from([3, NaN, 4])], [50]), [2.5]);
    assert.ok(Number.isNaN(percentiles(new Float32Array(0), [50])[0]!));
  });

  it('percentiles equal a sort\'s order statistics on negative, repeated, infinite, tiny and NaN values across parts', () => {
    let seed = 11;
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    const gen = [
      () => Math.floor(rnd() * 10),
      () => (rnd() - 0.5) * 1e6,
      () => (rnd() < 0.1 ? NaN : rnd() < 0.1 ? Infinity : rnd() < 0.1 ? -Infinity : Math.floor((rnd() - 0.5) * 4000)),
      () => (rnd() < 0.5 ? 0 : 1e-40 * rnd()),
      () => (rnd() < 0.4 ? 0 : Math.floor(rnd() * 4096)),
    ];
    const ps = [0, 0.5, 1, 25.3, 50, 99, 99.5, 100];
    for (let t = 0; t < 200; t++) {
      const g = gen[t % gen.length]!;
      const parts = Array.from({ length: 1 + (t % 4) }, () => Float32Array.from({ length: Math.floor(rnd() * (t % 7 === 0 ? 3000 : 40)) }, g));
      const sorted = Float32Array.from(parts.flatMap((p) => Array.from(p)).filter((v) => !Number.isNaN(v))).sort();
      const n = sorted.length;
      const expected = ps.map((p) => {
        if (n === 0) return NaN;
        const rank = (p / 100) * (n - 1);
        const k = Math.floor(rank);
        return rank === k ? sorted[k]! : sorted[k]! + (sorted[k + 1]! - sorted[k]!) * (rank - k);
      });
      assert.deepEqual(percentiles(parts, ps), expected, `case ${t}`);
    }
  });

  it('toU8 rounds half to even and clamps like saturateU8, NaN to 0', () => {
    const special = [NaN, -Infinity, Infinity, -0, 0, -0.5, -0.49, 0.5, 1.5, 2.5, 3.5, 0.49999997, 127.5, 128.5, 254.5, 254.50002, 255, 255.5, 256, 1e9, -1e9, 1e-40];
    let seed = 5;
    const random = Array.from({ length: 5000 }, () => ((seed = (seed * 1103515245 + 12345) % 2147483648) % 60000) / 200 - 20);
    const halves = Array.from({ length: 600 }, (_, i) => i / 2 - 20);
    const values = Float32Array.from([...special, ...random, ...halves]);
    assert.deepEqual(toU8(values), Uint8Array.from(values, (v) => (Number.isNaN(v) ? 0 : saturateU8(v))));
  });

  it('normalize maps the clip range linearly to 0-255 and clips outside it', () => {
    const i = img(1, 5, [-10, 0, 50, 100, 200]);
    close(normalize(i, [0, 100], 0, 255).pixels, [0, 0, 127.5, 255, 255]);
    close(normalize(i, [0, 100], 1, 255).pixels, [1, 1, 128, 255, 255]);
    close(normalize(img(1, 3, [4, 4, 4]), [4, 4], 0, 255).pixels, [0, 0, 0]);
    assert.deepEqual(intensityRange(Float32Array.from([0, 10, 20, 30, 40]), 0, 100), [0, 40]);
  });

  it('resize is bilinear with pixel-centre alignment', () => {
    const r = resize(img(1, 2, [0, 10]), 1, 4);
    close(r.image.pixels, [0, 2.5, 7.5, 10]);
    const d = resize(img(2, 2, [0, 10, 20, 30]), 1, 1);
    close(d.image.pixels, [15]);
    const same = resize(img(2, 2, [1, 2, 3, 4]), 2, 2);
    close(same.image.pixels, [1, 2, 3, 4]);
    assert.deepEqual(r.image.spacing, [1, 0.5]);
  });

  it('resample to 1 mm keeps the field of view', () => {
    const r = resample(img(2, 4, [0, 0, 0, 0, 8, 8, 8, 8], [2, 0.5]), 1);
    assert.equal(r.image.rows, 4);
    assert.equal(r.image.columns, 2);
    assert.deepEqual(r.image.spacing, [1, 1]);
    close(r.image.pixels, [0, 0, 0, 0, 8, 8, 8, 8].map((_, k) => [0, 0, 2, 2, 6, 6, 8, 8][k]!));
    assert.throws(() => resample(img(1, 1, [0], [0, 1]), 1), /pixel spacing/);
  });

  it('crop takes the rows and columns of the box; cropBox adds margins and a minimum size, clamped', () => {
    const base = img(4, 4, Array.from({ length: 16 }, (_, k) => k));
    const c = crop(base, { r0: 1, c0: 2, r1: 3, c1: 4 });
    close(c.image.pixels, [6, 7, 10, 11]);
    assert.deepEqual(c.map, { scaleRow: 1, scaleColumn: 1, offsetRow: -1, offsetColumn: -2 });
    const i10 = img(10, 10, new Array(100).fill(0), [0.5, 0.5]);
    assert.deepEqual(cropBox(i10, { x0: 4, y0: 4, x1: 6, y1: 6 }, { marginMm: 1, marginFraction: 0, minSizeMm: 0 }), { r0: 2, c0: 2, r1: 8, c1: 8 });
    assert.deepEqual(cropBox(i10, { x0: 4, y0: 4, x1: 6, y1: 6 }, { marginMm: 0, marginFraction: 0.5, minSizeMm: 0 }), { r0: 3, c0: 3, r1: 7, c1: 7 });
    assert.deepEqual(cropBox(i10, { x0: 4, y0: 4, x1: 6, y1: 6 }, { marginMm: 0, marginFraction: 0, minSizeMm: 4 }), { r0: 1, c0: 1, r1: 9, c1: 9 });
    assert.deepEqual(cropBox(i10, { x0: 0, y0: 8, x1: 2, y1: 10 }, { marginMm: 2, marginFraction: 0, minSizeMm: 0 }), { r0: 4, c0: 0, r1: 10, c1: 6 });
    assert.throws(() => cropBox(i10, { x0: 20, y0: 20, x1: 22, y1: 22 }, { marginMm: 0, marginFraction: 0, minSizeMm: 0 }), /outside/);
  });

  it('padSquare zero-pads and centres without stretching', () => {
    const p = padSquare(img(1, 3, [1, 2, 3]), 0);
    assert.equal(p.image.rows, 3);
    close(p.image.pixels, [0, 0, 0, 1, 2, 3, 0, 0, 0]);
    assert.equal(p.map.offsetRow, 1);
    const q = padSquare(img(2, 1, [5, 6]), -1);
    close(q.image.pixels, [5, -1, 6, -1]);
  });

  it('imagenet divides by 255, replicates to 3 channels and applies the ImageNet mean and std', () => {
    const n = imagenet(img(1, 2, [0, 255]));
    assert.equal(n.channels, 3);
    close(n.pixels, [-0.485 / 0.229, (1 - 0.485) / 0.229, -0.456 / 0.224, (1 - 0.456) / 0.224, -0.406 / 0.225, (1 - 0.406) / 0.225]);
    assert.throws(() => imagenet(img(1, 1, [0, 0], [1, 1], 2)), /1 or 3 channels/);
  });

  it('scale maps v to v * scale + offset', () => {
    close(scale(img(1, 3, [0, 127.5, 255]), 1 / 255, 0).pixels, [0, 0.5, 1]);
    close(scale(img(1, 2, [1, 2]), 2, -1).pixels, [1, 3]);
  });

  it('maskOutside sets pixels outside the region to the value on every channel', () => {
    const i = img(2, 2, [1, 2, 3, 4, 5, 6, 7, 8], [1, 1], 2);
    close(maskOutside(i, (r, c) => r === 0 && c === 1, 0).pixels, [0, 2, 0, 0, 0, 6, 0, 0]);
    close(i.pixels, [1, 2, 3, 4, 5, 6, 7, 8]);
  });
});
