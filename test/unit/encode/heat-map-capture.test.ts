import assert from 'node:assert/strict';
import { encodeHeatMapCapture } from '../../../src/encode/sc/encode-heat-map-capture';
import { fitSlice, LAYOUT, PAGE_SIZE, windowOf } from '../../../src/encode/sc/render-heat-map';
import { jet } from '../../../src/encode/sc/colormap';
import { orientationLetters, patientOrientation } from '../../../src/encode/sc/sc-header';
import { readPart10, type NaturalDataset } from '../../../src/encode/write-part10';
import { EncodeInputError, type HeatMapInput } from '../../../src/encode/types';
import { SopClass } from '../../../src/dicom/uids';
import type { AssessedResult } from '../../../src/analyses/types';
import { analysisResults, device, KEY_CE_T1, KEY_T2, seededRandom, studyHeader, syntheticSlice, TUMOUR } from '../../fixtures/encode/analysis-fixture';

const FIXED_TIME = new Date(Date.UTC(2024, 0, 16, 8, 30, 0));

function input(overrides: Partial<HeatMapInput> = {}): HeatMapInput {
  const result = analysisResults()[1] as AssessedResult; // DMFS, high risk
  const keyImage = result.keyImages[0]!;
  return {
    study: studyHeader(),
    result,
    keyImage,
    slice: syntheticSlice(keyImage.image),
    generation: 1,
    device: device(),
    scSopClass: 'sc',
    sourceHeader: studyHeader(),
    contentDateTime: FIXED_TIME,
    ...overrides,
  };
}

function pixel(ds: NaturalDataset, x: number, y: number): [number, number, number] {
  const data = new Uint8Array((ds.PixelData as ArrayBuffer[])[0]!);
  const o = (y * (ds.Columns as number) + x) * 3;
  return [data[o]!, data[o + 1]!, data[o + 2]!];
}

describe('encodeHeatMapCapture', () => {
  it('writes a 512x512 RGB Secondary Capture with burned-in annotation and derivation header', async () => {
    const out = await encodeHeatMapCapture(input());
    const { dataset } = readPart10(out.buffer);
    assert.equal(dataset.SOPClassUID, SopClass.SecondaryCaptureImageStorage);
    assert.equal(dataset.Rows, 512);
    assert.equal(dataset.Columns, 512);
    assert.equal(dataset.SamplesPerPixel, 3);
    assert.equal(dataset.PhotometricInterpretation, 'RGB');
    assert.equal(dataset.PlanarConfiguration, 0);
    assert.equal(dataset.BitsAllocated, 8);
    assert.equal((dataset.PixelData as ArrayBuffer[])[0]!.byteLength, 512 * 512 * 3);
    assert.equal(dataset.BurnedInAnnotation, 'YES');
    assert.equal(dataset.Modality, 'OT');
    assert.deepEqual(dataset.ImageType, ['DERIVED', 'SECONDARY']);
    assert.equal((dataset.DerivationCodeSequence as NaturalDataset[])[0]!.CodeValue, '130403');
    const source = (dataset.SourceImageSequence as NaturalDataset[])[0]!;
    assert.equal(source.ReferencedSOPInstanceUID, KEY_CE_T1.sopInstanceUid);
    assert.equal((source.PurposeOfReferenceCodeSequence as NaturalDataset[])[0]!.CodeValue, '121322');
    assert.deepEqual(dataset.PatientName, [{ Alphabetic: 'Wang^XiaoDong', Ideographic: '王^小东' }]);
    assert.deepEqual(dataset.PatientOrientation, ['L', 'P']);
  });

  it('colours the tumour by its activation, keeps distant anatomy grey and draws the colour bar', async () => {
    const { dataset } = readPart10((await encodeHeatMapCapture(input())).buffer);
    const place = fitSlice(syntheticSlice(KEY_CE_T1));
    const tx = Math.round(place.x + (TUMOUR.cx + 0.5) * place.scaleX);
    const ty = Math.round(place.y + (TUMOUR.cy + 0.5) * place.scaleY);
    const [r, g, b] = pixel(dataset, tx, ty);
    assert.ok(r > g + 50 && r > b + 50, `tumour centre should be red-ish, got ${r},${g},${b}`);
    // A pixel of the slice far from the CAM stays grey.
    const [gr, gg, gb] = pixel(dataset, Math.round(place.x + 40 * place.scaleX), Math.round(place.y + 128 * place.scaleY));
    assert.ok(Math.abs(gr - gg) <= 2 && Math.abs(gg - gb) <= 2, `expected grey, got ${gr},${gg},${gb}`);
    // Colour bar top is the strongest jet colour.
    const bar = LAYOUT.colourBar;
    assert.deepEqual(pixel(dataset, bar.x + 5, bar.y), jet(1));
    assert.deepEqual(pixel(dataset, bar.x + 5, bar.y + bar.height - 1), jet(0));
  });

  it('burns text into the top and bottom bands', async () => {
    const { dataset } = readPart10((await encodeHeatMapCapture(input())).buffer);
    const brightIn = (y0: number, y1: number): number => {
      let n = 0;
      for (let y = y0; y < y1; y++) for (let x = 0; x < PAGE_SIZE; x++) if (pixel(dataset, x, y)[0] > 180) n++;
      return n;
    };
    assert.ok(brightIn(0, LAYOUT.top.height) > 500, 'title and result text');
    assert.ok(brightIn(LAYOUT.bottom.y, PAGE_SIZE) > 300, 'model and research-use text');
  });

  it('re-sends the same UIDs for the same version, new ones for a re-analysis that references the replaced heat map', async () => {
    const first = await encodeHeatMapCapture(input());
    const again = await encodeHeatMapCapture(input());
    assert.equal(again.sopInstanceUid, first.sopInstanceUid);
    assert.ok(again.buffer.equals(first.buffer));
    const second = await encodeHeatMapCapture(input({ generation: 2, predecessors: [first] }));
    assert.notEqual(second.sopInstanceUid, first.sopInstanceUid);
    assert.notEqual(second.seriesInstanceUid, first.seriesInstanceUid);
    const ref = (readPart10(second.buffer).dataset.ReferencedImageSequence as NaturalDataset[])[0]!;
    assert.equal(ref.ReferencedSOPInstanceUID, first.sopInstanceUid);
    assert.equal((ref.PurposeOfReferenceCodeSequence as NaturalDataset[])[0]!.CodeValue, 'NPC-REPLACES');
  });

  it('writes Multi-frame True Color SC with one frame when the destination asks for it', async () => {
    const out = await encodeHeatMapCapture(input({ scSopClass: 'multiframe-true-color' }));
    const { dataset } = readPart10(out.buffer);
    assert.equal(dataset.SOPClassUID, SopClass.MultiFrameTrueColorSecondaryCaptureImageStorage);
    assert.equal(Number(dataset.NumberOfFrames), 1);
  });

  it('refuses a slice or CAM of another image and a not-assessable result', async () => {
    await assert.rejects(encodeHeatMapCapture(input({ slice: syntheticSlice(KEY_T2) })), EncodeInputError);
    const notAssessable = analysisResults()[4]!;
    await assert.rejects(encodeHeatMapCapture(input({ result: notAssessable as never })), EncodeInputError);
  });

  it('derives patient orientation letters from the source orientation', () => {
    assert.equal(orientationLetters([1, 0, 0]), 'L');
    assert.equal(orientationLetters([0, -0.94, 0.34]), 'AH');
    assert.deepEqual(patientOrientation({ ...studyHeader(), ImageOrientationPatient: [0, 1, 0, 0, 0, -1] }), ['P', 'F']);
    assert.equal(patientOrientation(undefined), '');
  });

  it('windows a slice at the 1st and 99.5th percentiles of its sampled finite values, as sorting them gives', () => {
    const bySort = (pixels: Float32Array) => {
      const step = Math.max(1, Math.floor(pixels.length / 65536));
      const sample: number[] = [];
      for (let i = 0; i < pixels.length; i += step) if (Number.isFinite(pixels[i]!)) sample.push(pixels[i]!);
      if (!sample.length) return { low: 0, high: 1 };
      sample.sort((a, b) => a - b);
      const low = sample[Math.floor(0.01 * (sample.length - 1))]!;
      const high = sample[Math.floor(0.995 * (sample.length - 1))]!;
      return high > low ? { low, high } : { low, high: low + 1 };
    };
    const random = seededRandom(14);
    const kinds: ((i: number, n: number) => number)[] = [
      () => random() * 1000,
      () => Math.floor(random() * 4),
      (i) => i,
      (i, n) => n - i,
      () => (random() < 0.7 ? 0 : random()),
      () => (random() < 0.1 ? NaN : random() < 0.1 ? Infinity : 5),
    ];
    for (let t = 0; t < 300; t++) {
      const n = 1 + Math.floor(random() * (t % 25 === 0 ? 300_000 : 2000));
      const kind = kinds[t % kinds.length]!;
      const pixels = Float32Array.from({ length: n }, (_, i) => kind(i, n));
      assert.deepEqual(windowOf(pixels), bySort(pixels), `case ${t}`);
    }
    assert.deepEqual(windowOf(Float32Array.of(NaN, NaN)), { low: 0, high: 1 });
    assert.deepEqual(windowOf(Float32Array.of(3, 3, 3)), { low: 3, high: 4 });
  });
});
