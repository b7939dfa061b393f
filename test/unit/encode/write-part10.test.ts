import assert from 'node:assert/strict';
import { buildHeatMapCaptureDataset } from '../../../src/encode/sc/encode-heat-map-capture';
import { buildStructuredReportDataset } from '../../../src/encode/sr/encode-structured-report';
import { buildSegmentationDataset } from '../../../src/encode/seg/encode-segmentation';
import { readPart10, writePart10, writePart10WithDcmjs, type NaturalDataset } from '../../../src/encode/write-part10';
import type { AssessedResult } from '../../../src/analyses/types';
import { SopClass } from '../../../src/dicom/uids';
import { analysisResults, device, sourceInstances, studyHeader, syntheticSlice } from '../../fixtures/encode/analysis-fixture';
import { segmentationFixture } from '../../fixtures/encode/segmentation-fixture';
import { tempDir } from '../../helpers/temp-dir';

const FIXED_TIME = new Date(Date.UTC(2024, 0, 16, 8, 30, 0));

function assertSameAsDcmjs(ds: NaturalDataset, what: string): Buffer {
  const fast = writePart10(ds);
  const reference = writePart10WithDcmjs(ds);
  assert.equal(fast.length, reference.length, `${what}: length`);
  assert.ok(fast.equals(reference), `${what}: bytes differ from dcmjs's writer at ${fast.findIndex((b, i) => b !== reference[i])}`);
  assert.equal(fast.byteOffset, 0, `${what}: a Buffer of its own`);
  assert.equal(fast.buffer.byteLength, fast.length, `${what}: a Buffer of its own`);
  return fast;
}

/** Values of most VRs, odd and even lengths, empty values, a nested and an empty sequence, a long LT. */
function edgeDataset(extra: NaturalDataset = {}): NaturalDataset {
  return {
    SOPClassUID: SopClass.SecondaryCaptureImageStorage,
    SOPInstanceUID: '2.25.1234567',
    PatientName: [{ Alphabetic: 'Wang^XiaoDong', Ideographic: '王^小东' }],
    PatientID: 'odd',
    PatientBirthDate: '',
    PatientSex: null,
    StudyDescription: 'MR 鼻咽 + 颈部 增强',
    SliceThickness: 0.3,
    PixelSpacing: [0.46875, 1e-7],
    ImagePositionPatient: [-117.1656, -115.3656, 1234567890.12345],
    InstanceNumber: 7,
    Rows: 2,
    Columns: 3,
    NumberOfFrames: 1,
    FrameIncrementPointer: 0x00181063,
    ImageComments: 'x'.repeat(70_001),
    ReferencedImageSequence: [
      { ReferencedSOPClassUID: '1.2.3', ReferencedSOPInstanceUID: '1.2.3.4', PurposeOfReferenceCodeSequence: [{ CodeValue: '121322', CodingSchemeDesignator: 'DCM', CodeMeaning: 'Source' }] },
      {},
    ],
    DerivationCodeSequence: [],
    ...extra,
  };
}

describe('writePart10', () => {
  it('writes the SR, SC and SEG datasets byte for byte as dcmjs writes them', async function () {
    this.timeout(60_000);
    const results = analysisResults();
    const scored = results.filter((r): r is AssessedResult => r.assessable);
    for (const scSopClass of ['sc', 'multiframe-true-color'] as const) {
      const result = scored[1]!;
      const keyImage = result.keyImages[0]!;
      const { dataset } = await buildHeatMapCaptureDataset({
        study: studyHeader(),
        result,
        keyImage,
        slice: syntheticSlice(keyImage.image),
        generation: 2,
        predecessors: [{ sopClassUid: SopClass.SecondaryCaptureImageStorage, sopInstanceUid: '2.25.99', seriesInstanceUid: '2.25.98' }],
        device: device(),
        scSopClass,
        sourceHeader: studyHeader(),
        contentDateTime: FIXED_TIME,
      });
      assertSameAsDcmjs(dataset, `SC ${scSopClass}`);
    }
    for (const srSopClass of ['comprehensive3d', 'enhanced', 'comprehensive'] as const) {
      const { dataset } = buildStructuredReportDataset({ study: studyHeader(), results, sourceInstances: sourceInstances(), generation: 1, device: device(), srSopClass, contentDateTime: FIXED_TIME });
      assertSameAsDcmjs(dataset, `SR ${srSopClass}`);
    }
    const tmp = tempDir('npcai-part10-');
    try {
      const { input } = await segmentationFixture(tmp.dir);
      assertSameAsDcmjs(buildSegmentationDataset(input).dataset, 'SEG');
    } finally {
      tmp.cleanup();
    }
  });

  it('matches dcmjs on edge values: empty and null values, long text as UN, empty sequences and items, 8- and 16-bit and odd pixel data', () => {
    const pixels8 = Uint8Array.from([1, 2, 3, 4, 5, 6]).buffer;
    const pixels16 = new Uint16Array([1, 2, 3, 4, 5, 65535]).buffer;
    const cases: [string, NaturalDataset][] = [
      ['no pixels', edgeDataset()],
      ['8-bit pixels', edgeDataset({ BitsAllocated: 8, PixelData: pixels8 })],
      ['16-bit pixels', edgeDataset({ BitsAllocated: 16, PixelData: pixels16 })],
      ['odd pixel data (dcmjs pads it)', edgeDataset({ BitsAllocated: 8, PixelData: Uint8Array.from([1, 2, 3]).buffer })],
      ['an element after PixelData', edgeDataset({ BitsAllocated: 8, PixelData: pixels8, DataSetTrailingPadding: new Uint8Array(4).buffer })],
    ];
    for (const [what, ds] of cases) {
      const written = assertSameAsDcmjs(ds, what);
      if (ds.DataSetTrailingPadding || ds.BitsAllocated === 16) continue; // dcmjs's reader logs on these, not the point here
      const back = readPart10(written).dataset;
      assert.equal(back.PatientID, 'odd', what);
      assert.equal(back.SOPInstanceUID, '2.25.1234567', what);
    }
  });
});
