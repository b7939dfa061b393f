import assert from 'node:assert/strict';
import { PreparationStepSchema, type PreparationStep } from '../../../src/prepare/steps';
import { prepareSlice, volumeIntensityRanges, stepsNeedRegions } from '../../../src/prepare/pipeline';
import { toNchwBatch } from '../../../src/prepare/batch';
import { RegionMissingError, type SliceRegions } from '../../../src/prepare/regions';

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
});
