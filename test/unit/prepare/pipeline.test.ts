import assert from 'node:assert/strict';
import { PreparationStepSchema, type PreparationStep } from '../../../src/prepare/steps';
import { prepareSlice, volumeIntensityRanges, volumeStatistics, stepsNeedRegions } from '../../../src/prepare/pipeline';
import { percentiles } from '../../../src/prepare/steps/percentile';
import { toNchwBatch } from '../../../src/prepare/batch';
import { RegionMissingError, mapBox, resolveRegion, sourcePixel, type SliceRegions } from '../../../src/prepare/regions';
import { IDENTITY_MAP, imageFromSlice, type PlanarImage } from '../../../src/prepare/image';
import { normalize, intensityRange } from '../../../src/prepare/steps/normalize';
import { clahe } from '../../../src/prepare/steps/clahe';
import { maskOutside } from '../../../src/prepare/steps/mask-outside';
import { crop, cropBox } from '../../../src/prepare/steps/crop';

const steps = (xs: unknown[]): PreparationStep[] => xs.map((x) => PreparationStepSchema.parse(x));

/** A 20 x 20 slice at 0.5 mm: background 100, a bright 4 x 6 "tumour" at rows 8-11, columns 6-11. */
function phantom() {
  const pixels = new Float32Array(400).fill(100);
  for (let r = 8; r < 12; r++) for (let c = 6; c < 12; c++) pixels[r * 20 + c] = 1000;
  return { pixels, rows: 20, columns: 20, pixelSpacing: [0.5, 0.5] as [number, number] };
}
const gtv: SliceRegions = { gtv: { box: { x0: 6, y0: 8, x1: 12, y1: 12 } } };

describe('preparation pipeline', () => {
  it('crops the region with its margin after a resample, keeping the region aligned', () => {
    const out = prepareSlice(phantom(), steps([{ op: 'resample', spacingMm: 0.25 }, { op: 'crop', region: 'gtv', marginMm: 0 }]), gtv);
    // at 0.25 mm the tumour spans rows 16-23 and columns 12-23 (edge coordinates scale by 2)
    assert.equal(out.rows, 8);
    assert.equal(out.columns, 12);
    assert.ok(out.pixels.every((v) => v > 550), 'the crop holds the tumour only');
    assert.deepEqual(out.fromSource, { scaleRow: 2, scaleColumn: 2, offsetRow: 0.5 - 16, offsetColumn: 0.5 - 12 });
  });

  it('masks outside the GTV mask, then normalises to 0-255 and equalises (paper 003 order)', () => {
    const mask = new Uint8Array(400);
    mask[9 * 20 + 7] = 1;
    mask[10 * 20 + 8] = 1;
    const out = prepareSlice(
      phantom(),
      steps([{ op: 'maskOutside', region: 'gtv', value: 0 }, { op: 'normalize', scope: 'slice', lowerPercentile: 0, upperPercentile: 100 }]),
      { gtv: { box: { x0: 6, y0: 8, x1: 12, y1: 12 }, mask: { rows: 20, columns: 20, data: mask } } },
    );
    const nonZero = [...out.pixels.keys()].filter((i) => out.pixels[i] !== 0);
    assert.deepEqual(nonZero, [9 * 20 + 7, 10 * 20 + 8]);
    assert.equal(out.pixels[9 * 20 + 7], 255);
  });

  it('pads a wide crop to a square and resizes to the model input, then applies ImageNet statistics', () => {
    const s = steps([
      { op: 'normalize', scope: 'volume', lowerPercentile: 0, upperPercentile: 100 },
      { op: 'crop', region: 'gtv', marginMm: 0 },
      { op: 'padSquare' },
      { op: 'resize', rows: 12, columns: 12 },
      { op: 'imagenet' },
    ]);
    const slice = phantom();
    const out = prepareSlice(slice, s, gtv, { volumeRanges: volumeIntensityRanges([slice], s) });
    assert.deepEqual([out.channels, out.rows, out.columns], [3, 12, 12]);
    // rows 0-2 and 9-11 are padding (value 0 -> (0 - mean) / std); the middle holds 255 -> (1 - mean) / std
    assert.ok(Math.abs(out.pixels[0]! - -0.485 / 0.229) < 1e-5);
    assert.ok(Math.abs(out.pixels[6 * 12 + 6]! - (1 - 0.485) / 0.229) < 1e-5);
    // a source pixel centre maps into the padded, resized grid: source (9.5, 8.5) is the box centre
    const r = 9.5 * out.fromSource.scaleRow + out.fromSource.offsetRow;
    const c = 8.5 * out.fromSource.scaleColumn + out.fromSource.offsetColumn;
    assert.ok(Math.abs(r - 5.5) < 1e-9 && Math.abs(c - 5.5) < 1e-9, `${r},${c}`);
  });

  it('needs the volume range for a volume-scoped normalize, and a region for a crop', () => {
    assert.throws(() => prepareSlice(phantom(), steps([{ op: 'normalize' }])), /volume's intensity range/);
    assert.throws(() => prepareSlice(phantom(), steps([{ op: 'crop', region: 'gtvln' }]), gtv), RegionMissingError);
    assert.equal(stepsNeedRegions(steps([{ op: 'crop', region: 'whole' }])), false);
    assert.equal(stepsNeedRegions(steps([{ op: 'maskOutside', region: 'gtv' }])), true);
  });

  it('unites GTV and GTVln boxes for the gtv+gtvln region', () => {
    const out = prepareSlice(phantom(), steps([{ op: 'crop', region: 'gtv+gtvln' }]), {
      gtv: { box: { x0: 6, y0: 8, x1: 12, y1: 12 } },
      gtvln: { box: { x0: 14, y0: 15, x1: 16, y1: 17 } },
    });
    assert.deepEqual([out.rows, out.columns], [9, 10]);
  });

  it('never changes the slice it was given', () => {
    const slice = phantom();
    const copy = Float32Array.from(slice.pixels);
    prepareSlice(slice, steps([{ op: 'clahe' }, { op: 'scale', scale: 2 }]));
    const none = prepareSlice(slice, []);
    assert.deepEqual(slice.pixels, copy);
    assert.notEqual(none.pixels, slice.pixels);
  });

  it('stacks prepared slices into one NCHW batch and refuses mixed sizes', () => {
    const a = prepareSlice(phantom(), steps([{ op: 'resize', rows: 4, columns: 4 }, { op: 'imagenet' }]));
    const b = prepareSlice(phantom(), steps([{ op: 'resize', rows: 4, columns: 4 }, { op: 'imagenet' }]));
    const batch = toNchwBatch([a, b]);
    assert.deepEqual(batch.dims, [2, 3, 4, 4]);
    assert.equal(batch.data.length, 96);
    assert.deepEqual(batch.data.subarray(48), b.pixels);
    const c = prepareSlice(phantom(), steps([{ op: 'resize', rows: 5, columns: 4 }]));
    assert.throws(() => toNchwBatch([a, c]), /fixed size/);
    assert.throws(() => toNchwBatch([]), /no images/);
  });

  it('computes only the pixels a following crop keeps, with the same values as the whole image steps', () => {
    // 40 x 48 slice of varied values; GTV box and a mask inside it
    let seed = 3;
    const pixels = Float32Array.from({ length: 40 * 48 }, () => ((seed = (seed * 1103515245 + 12345) % 2147483648) % 3000) - 200);
    const slice = { pixels, rows: 40, columns: 48, pixelSpacing: [0.5, 0.5] as [number, number] };
    const mask = new Uint8Array(40 * 48).map((_, i) => (Math.floor(i / 48) > 12 && Math.floor(i / 48) < 25 && i % 48 > 15 && i % 48 < 33 ? 1 : 0));
    const regions: SliceRegions = { gtv: { box: { x0: 16, y0: 13, x1: 33, y1: 25 }, mask: { rows: 40, columns: 48, data: mask } } };
    const cropStep = { op: 'crop', region: 'gtv', marginMm: 2, minSizeMm: 5 };
    const volumeRange: [number, number] = [0, 2500];
    const box = cropBox(imageFromSlice(slice), mapBox(regions.gtv!.box, IDENTITY_MAP), { marginMm: 2, marginFraction: 0, minSizeMm: 5 });
    const region = resolveRegion('gtv', regions, slice)!;
    const masked = (i: PlanarImage) => maskOutside(i, (r, c) => region.inside(...sourcePixel(r, c, IDENTITY_MAP)), 0);
    const whole = imageFromSlice(slice);
    const cases: [unknown[], PlanarImage][] = [
      [[{ op: 'normalize' }, cropStep], normalize(whole, volumeRange, 0, 255)],
      [[{ op: 'normalize', scope: 'slice' }, cropStep], normalize(whole, intensityRange(pixels, 0.5, 99.5), 0, 255)],
      [[{ op: 'normalize' }, { op: 'maskOutside', region: 'gtv' }, cropStep], masked(normalize(whole, volumeRange, 0, 255))],
      [[{ op: 'normalize' }, { op: 'clahe' }, cropStep], clahe(normalize(whole, volumeRange, 0, 255), 2, 8)],
      [[{ op: 'normalize', scope: 'slice' }, { op: 'clahe', tiles: 5 }, { op: 'maskOutside', region: 'gtv', value: 7 }, cropStep], maskOutside(clahe(normalize(whole, intensityRange(pixels, 0.5, 99.5), 0, 255), 2, 5), (r, c) => region.inside(r, c), 7)],
    ];
    for (const [list, full] of cases) {
      const s = steps(list);
      const out = prepareSlice(slice, s, regions, { volumeRanges: s.map((x) => (x.op === 'normalize' && x.scope === 'volume' ? volumeRange : undefined)) });
      const expected = crop(full, box).image;
      assert.deepEqual([out.rows, out.columns], [expected.rows, expected.columns]);
      assert.deepEqual(Array.from(out.pixels), Array.from(expected.pixels), JSON.stringify(list));
    }
  });

  it('finds each volume-scoped range and further percentiles of a series in one pass, as separate calls would', () => {
    const slices = [phantom(), { ...phantom(), pixels: phantom().pixels.map((v, i) => v + (i % 7)) }];
    const s = steps([{ op: 'normalize' }, { op: 'resize', rows: 4, columns: 4 }, { op: 'normalize', lowerPercentile: 2, upperPercentile: 90, min: 1 }, { op: 'normalize', scope: 'slice' }]);
    const all = slices.map((x) => x.pixels);
    const stats = volumeStatistics(slices, s, [99, 50]);
    assert.deepEqual(stats.volumeRanges, [intensityRange(all, 0.5, 99.5), undefined, intensityRange(all, 2, 90), undefined]);
    assert.deepEqual(stats.percentiles, percentiles(all, [99, 50]));
    assert.deepEqual(volumeIntensityRanges(slices, s), stats.volumeRanges);
  });
});
