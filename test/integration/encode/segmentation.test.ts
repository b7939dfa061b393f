/**
 * The DICOM SEG of the localiser's GTV and GTVln: its frames line up with the CE-T1 slices (per-frame
 * ImagePositionPatient and source reference == the slice's, pixels == the localiser's mask, one given on the
 * model's 32 x 32 grid resampled by nearest neighbour), dciodvfy finds no errors, and it round-trips through
 * Orthanc byte for byte.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { encodeSegmentation, SEGMENTATION_STORAGE, type SegmentationInput } from '../../../src/encode/seg/encode-segmentation';
import { maskOnSlice, unpackBinaryFrame } from '../../../src/encode/seg/segment-frames';
import { readPart10, type NaturalDataset } from '../../../src/encode/write-part10';
import { orthancFindInstance, orthancInstanceFile, orthancUpload, startOrthanc } from '../../helpers/orthanc';
import { tempDir } from '../../helpers/temp-dir';
import { disk, segmentationFixture } from '../../fixtures/encode/segmentation-fixture';

const run = promisify(execFile);
const seq = (ds: NaturalDataset, key: string): NaturalDataset[] => ds[key] as NaturalDataset[];

describe('DICOM SEG of the localiser regions', function () {
  this.timeout(120_000);
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => ({ dir, cleanup } = tempDir('npcai-seg-')));
  afterEach(() => cleanup());

  it('has one frame per slice with pixels, each on its CE-T1 slice with the localiser mask', async () => {
    const { input, volume, header } = await segmentationFixture(dir);
    const seg = encodeSegmentation(input);
    const { dataset } = readPart10(seg.buffer);
    assert.equal(dataset.SOPClassUID, SEGMENTATION_STORAGE);
    assert.equal(dataset.Modality, 'SEG');
    assert.equal(dataset.FrameOfReferenceUID, header.FrameOfReferenceUID);
    assert.equal(dataset.StudyInstanceUID, input.study.StudyInstanceUID);
    assert.equal(dataset.BitsAllocated, 1);
    assert.equal(dataset.SegmentationType, 'BINARY');
    assert.match(String(dataset.ContentDescription), /Research use only/);
    assert.deepEqual(
      seg.segments.map((s) => [s.segmentNumber, s.label, s.frames.length]),
      [
        [1, 'GTV', 3],
        [2, 'GTVln', 2],
      ],
    );
    const segments = seq(dataset, 'SegmentSequence');
    assert.equal(segments[0]!.SegmentAlgorithmType, 'AUTOMATIC');
    assert.equal(segments[0]!.SegmentAlgorithmName, 'npc-localiser 2.1.0');
    assert.equal(seq(segments[1]!, 'SegmentedPropertyTypeCodeSequence')[0]!.CodeValue, '14799000');
    const perFrame = seq(dataset, 'PerFrameFunctionalGroupsSequence');
    assert.equal(dataset.NumberOfFrames, 5);
    assert.equal(perFrame.length, 5);
    const shared = seq(dataset, 'SharedFunctionalGroupsSequence')[0]!;
    assert.deepEqual(seq(shared, 'PlaneOrientationSequence')[0]!.ImageOrientationPatient, [...volume.orientation]);
    // dcmjs reads PixelData as a list of buffers (one per fragment; one for native pixels).
    const pixelData = dataset.PixelData as ArrayBuffer | ArrayBuffer[];
    const packed = new Uint8Array(Array.isArray(pixelData) ? pixelData[0]! : pixelData);
    assert.equal(packed.length, Math.ceil((5 * 64 * 64) / 8));
    const expected: [number, number, 'gtvMask' | 'gtvlnMask'][] = [
      [1, 1, 'gtvMask'],
      [1, 2, 'gtvMask'],
      [1, 3, 'gtvMask'],
      [2, 3, 'gtvlnMask'],
      [2, 4, 'gtvlnMask'],
    ];
    expected.forEach(([segmentNumber, sliceIndex, key], f) => {
      const slice = volume.slices[sliceIndex]!;
      const item = perFrame[f]!;
      assert.equal(seq(item, 'SegmentIdentificationSequence')[0]!.ReferencedSegmentNumber, segmentNumber);
      assert.deepEqual(seq(item, 'PlanePositionSequence')[0]!.ImagePositionPatient, [...slice.position], `frame ${f + 1} position`);
      const source = seq(seq(item, 'DerivationImageSequence')[0]!, 'SourceImageSequence')[0]!;
      assert.equal(source.ReferencedSOPInstanceUID, slice.image.sopInstanceUid);
      assert.equal(source.ReferencedSOPClassUID, slice.image.sopClassUid);
      const mask = maskOnSlice(input.localisation.slices[sliceIndex]!.regions[key]!, slice);
      assert.deepEqual(unpackBinaryFrame(packed, f, 64 * 64), mask, `frame ${f + 1} pixels`);
      assert.deepEqual(seg.segments[segmentNumber - 1]!.frames.find((x) => x.frameNumber === f + 1)?.source, slice.image);
    });
    // The 32 x 32 mask was resampled (nearest neighbour): each model pixel covers 2 x 2 source pixels.
    const resampled = unpackBinaryFrame(packed, 4, 64 * 64);
    assert.equal(resampled[44 * 64 + 50], 1);
    assert.equal(resampled.reduce((n, v) => n + v, 0), 4 * disk(32, 32, 25, 22, 2).reduce((n, v) => n + v, 0));
  });

  it('is deterministic and gets new UIDs for a re-analysis', async () => {
    const { input } = await segmentationFixture(dir);
    const a = encodeSegmentation(input);
    const b = encodeSegmentation(input);
    assert.ok(a.buffer.equals(b.buffer));
    const c = encodeSegmentation({ ...input, generation: 2 });
    assert.notEqual(c.sopInstanceUid, a.sopInstanceUid);
    assert.notEqual(c.seriesInstanceUid, a.seriesInstanceUid);
  });

  it('refuses a localisation without any region', async () => {
    const { input } = await segmentationFixture(dir);
    const empty = { ...input, localisation: { ...input.localisation, slices: input.localisation.slices.map((s) => ({ slice: s.slice, regions: {} })) } };
    assert.throws(() => encodeSegmentation(empty), /neither tumour nor nodes/);
  });

  it('dciodvfy finds no errors', async () => {
    const { input } = await segmentationFixture(dir);
    const file = path.join(dir, 'seg.dcm');
    writeFileSync(file, encodeSegmentation(input).buffer);
    const { stdout, stderr } = await run('dciodvfy', ['-new', file], { maxBuffer: 16 << 20 }).catch((e: { stdout: string; stderr: string }) => e);
    const report = `${stdout}\n${stderr}`;
    assert.deepEqual(report.split('\n').filter((l) => /^Error/.test(l)), [], report);
    assert.match(report, /Segmentation/);
  });

  it('round-trips through Orthanc unchanged', async () => {
    const { input } = await segmentationFixture(dir);
    const seg = encodeSegmentation(input);
    const orthanc = await startOrthanc();
    try {
      await orthancUpload(orthanc, seg.buffer);
      const id = await orthancFindInstance(orthanc, seg.sopInstanceUid);
      assert.ok(id, 'Orthanc has the SEG');
      const back = await orthancInstanceFile(orthanc, id);
      assert.ok(back.equals(seg.buffer), 'the stored file is byte-identical');
    } finally {
      await orthanc.cleanup();
    }
  });
});
