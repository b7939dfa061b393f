import assert from 'node:assert/strict';
import { encodeStructuredReport } from '../../../src/encode/sr/encode-structured-report';
import { readPart10, type NaturalDataset } from '../../../src/encode/write-part10';
import { EncodeInputError, type ReportInput } from '../../../src/encode/types';
import { ImplementationClassUid, ImplementationVersionName, SopClass } from '../../../src/dicom/uids';
import { analysisResults, device, KEY_CE_T1, sourceInstances, studyHeader, STUDY_UID } from '../../fixtures/encode/analysis-fixture';

const FIXED_TIME = new Date(Date.UTC(2024, 0, 16, 8, 30, 0));

function input(overrides: Partial<ReportInput> = {}): ReportInput {
  return {
    study: studyHeader(),
    results: analysisResults(),
    sourceInstances: sourceInstances(),
    generation: 1,
    device: device(),
    srSopClass: 'comprehensive3d',
    contentDateTime: FIXED_TIME,
    ...overrides,
  };
}

type Item = NaturalDataset & { ContentSequence?: Item[] };
const meaning = (i: Item): string | undefined => (i.ConceptNameCodeSequence as { CodeMeaning: string }[] | undefined)?.[0]?.CodeMeaning;
const child = (i: Item, m: string): Item | undefined => i.ContentSequence?.find((c) => meaning(c) === m);
const children = (i: Item, m: string): Item[] => (i.ContentSequence ?? []).filter((c) => meaning(c) === m);

function groups(ds: NaturalDataset): Item[] {
  return children(child(ds as Item, 'Imaging Measurements')!, 'Measurement Group');
}
/** Tracking Identifiers follow the cornerstone adapters' rectangle tool, then the analysis's own identifier. */
function group(ds: NaturalDataset, tracking: string): Item {
  const g = groups(ds).find((g) => child(g, 'Tracking Identifier')?.TextValue === `Cornerstone3DTools@^0.1.0:RectangleROI:${tracking}`);
  assert.ok(g, `no group ${tracking}`);
  return g;
}

describe('encodeStructuredReport', () => {
  it('writes a TID 1500 report in the SOP class of the destination, with the node file meta', () => {
    for (const [setting, uid] of [
      ['comprehensive3d', SopClass.Comprehensive3dSr],
      ['comprehensive', SopClass.ComprehensiveSr],
      ['enhanced', SopClass.EnhancedSr],
    ] as const) {
      const out = encodeStructuredReport(input({ srSopClass: setting }));
      const { dataset, meta } = readPart10(out.buffer);
      assert.equal(out.sopClassUid, uid);
      assert.equal(dataset.SOPClassUID, uid);
      assert.equal(meta.ImplementationClassUID, ImplementationClassUid);
      assert.equal(meta.ImplementationVersionName, ImplementationVersionName);
      assert.equal(dataset.SpecificCharacterSet, 'ISO_IR 192');
      assert.equal(meaning(dataset as Item), 'Imaging Measurement Report');
      assert.deepEqual(dataset.ContentTemplateSequence, [{ MappingResource: 'DCMR', TemplateIdentifier: '1500' }]);
    }
  });

  it('copies patient and study from the MR, keeping a Chinese name intact', () => {
    const { dataset } = readPart10(encodeStructuredReport(input()).buffer);
    assert.deepEqual(dataset.PatientName, [{ Alphabetic: 'Wang^XiaoDong', Ideographic: '王^小东' }]);
    assert.equal(dataset.StudyInstanceUID, STUDY_UID);
    assert.equal(dataset.AccessionNumber, 'ACC20240115');
    assert.equal(dataset.StudyDescription, 'MR 鼻咽 + 颈部 增强');
    assert.equal(dataset.Modality, 'SR');
    assert.equal(dataset.CompletionFlag, 'COMPLETE');
    assert.equal(dataset.VerificationFlag, 'UNVERIFIED');
  });

  it('has one measurement group per assessed analysis, with the stage code, probabilities and risk groups', () => {
    const { dataset } = readPart10(encodeStructuredReport(input()).buffer);
    assert.equal(groups(dataset).length, 4, 'four assessed analyses; progression is not assessable');
    const stage = group(dataset, 'AJCC stage');
    const code = child(stage, 'Predicted AJCC stage group')!.ConceptCodeSequence as { CodeMeaning: string }[];
    assert.equal(code[0]!.CodeMeaning, 'AJCC stage IVa');
    const num = (child(stage, 'Probability of AJCC stage IVa')!.MeasuredValueSequence as NaturalDataset[])[0]!;
    assert.ok(String(num.NumericValue).length <= 16);
    assert.equal(num.FloatingPointValue, 0.8734519283746152);
    const dmfs = group(dataset, 'DMFS risk');
    assert.equal((child(dmfs, 'DMFS risk group')!.ConceptCodeSequence as { CodeValue: string }[])[0]!.CodeValue, '15508007');
    const params = children(dmfs, 'Algorithm Parameters').map((i) => i.TextValue);
    assert.ok(params.includes('Cut-off: 0.4821'));
    assert.ok(params.some((p) => String(p).includes('clinical covariates (N stage, EBV-DNA, treatment regimen)')));
    const msom = group(dataset, 'MSOM risk');
    assert.equal((child(msom, 'MSOM risk group')!.ConceptCodeSequence as { CodeMeaning: string }[])[0]!.CodeMeaning, 'Low risk');
    assert.ok(children(msom, 'Algorithm Parameters').some((p) => p.TextValue === 'Inputs: MR images only (no clinical covariates)'));
  });

  it('reports the localiser measurements an image signature used as NUM with units, each once', () => {
    const { dataset } = readPart10(encodeStructuredReport(input()).buffer);
    const stage = group(dataset, 'AJCC stage');
    const num = (g: Item, m: string) => (child(g, m)!.MeasuredValueSequence as NaturalDataset[])[0]!;
    const unit = (n: NaturalDataset) => (n.MeasurementUnitsCodeSequence as { CodeValue: string }[])[0]!.CodeValue;
    assert.equal(num(stage, 'GTV extent above its largest slice').FloatingPointValue, 18);
    assert.equal(unit(num(stage, 'GTV extent above its largest slice')), 'mm');
    assert.equal(num(stage, 'Lowest node below the GTV largest slice').FloatingPointValue, 72.5);
    assert.equal(unit(num(stage, 'GTV volume (localiser)')), 'ml');
    assert.equal(child(stage, 'networksVote'), undefined);
    const residual = group(dataset, 'Residual tumour and treatment recommendation');
    assert.equal(children(residual, 'GTV volume (localiser)').length, 1);
    assert.equal(unit(num(residual, 'GTV signal coefficient of variation')), '1');
    assert.equal(child(group(dataset, 'DMFS risk'), 'GTV volume (localiser)'), undefined);
  });

  it('reports the residual probabilities as NUM and the recommendation as CODE plus TEXT', () => {
    const { dataset } = readPart10(encodeStructuredReport(input()).buffer);
    const residual = group(dataset, 'Residual tumour and treatment recommendation');
    assert.equal((child(residual, 'Probability of residual tumour after CCRT')!.MeasuredValueSequence as NaturalDataset[])[0]!.FloatingPointValue, 0.83);
    assert.equal((child(residual, 'Probability of residual tumour after IC+CCRT')!.MeasuredValueSequence as NaturalDataset[])[0]!.FloatingPointValue, 0.41);
    assert.equal((child(residual, 'Recommended treatment')!.ConceptCodeSequence as { CodeValue: string }[])[0]!.CodeValue, 'NPC-TX-ICCCRT');
    assert.match(String(child(residual, 'Recommendation rationale')!.TextValue), /after CCRT\) = 0\.83, after IC\+CCRT = 0\.41/);
  });

  it('states a not-assessable analysis under Qualitative Evaluations with its reason, never as a measurement group', () => {
    const { dataset } = readPart10(encodeStructuredReport(input()).buffer);
    assert.equal(groups(dataset).find((g) => String(child(g, 'Tracking Identifier')?.TextValue).endsWith('Progression risk')), undefined);
    const qualitative = child(dataset as Item, 'Qualitative Evaluations')!;
    const answer = child(qualitative, 'Progression risk group')!;
    assert.equal(answer.ValueType, 'CODE');
    assert.equal((answer.ConceptCodeSequence as { CodeValue: string; CodeMeaning: string }[])[0]!.CodeMeaning, 'Undetermined');
    assert.match(String(child(qualitative, 'Reason analysis not assessable')!.TextValue), /no post-treatment MR study/);
    assert.ok(!JSON.stringify(qualitative).includes('SCOORD'), 'no coordinates where viewers do not expect them');
  });

  it('never writes a coordinate-less measurement group: each has a SCOORD on an image of the library', () => {
    const results = analysisResults();
    const noRegion = results.map((r) => (r.assessable && r.analysis === 'msom' ? { ...r, keyImages: r.keyImages.map((k) => ({ image: k.image })) } : r));
    for (const variant of [results, noRegion]) {
      const { dataset } = readPart10(encodeStructuredReport(input({ results: variant })).buffer);
      const library = JSON.stringify(child(dataset as Item, 'Image Library'));
      for (const g of groups(dataset)) {
        const scoords = (g.ContentSequence ?? []).flatMap((i) => [i, ...(i.ContentSequence ?? [])]).filter((i) => i.ValueType === 'SCOORD');
        assert.ok(scoords.length >= 1, `group ${child(g, 'Tracking Identifier')?.TextValue} has a SCOORD`);
        for (const sc of scoords) {
          const ref = ((sc.ContentSequence![0]! as NaturalDataset).ReferencedSOPSequence as NaturalDataset[])[0]!;
          assert.ok(library.includes(String(ref.ReferencedSOPInstanceUID)), 'the SCOORD is on an image of the Image Library');
        }
      }
    }
    // The analysis without a region is stated at study level with its numbers, not as a group.
    const { dataset } = readPart10(encodeStructuredReport(input({ results: noRegion })).buffer);
    assert.equal(groups(dataset).length, 3);
    const qualitative = child(dataset as Item, 'Qualitative Evaluations')!;
    assert.equal((child(qualitative, 'MSOM risk group')!.ConceptCodeSequence as { CodeMeaning: string }[])[0]!.CodeMeaning, 'Low risk');
    assert.match(String(child(qualitative, 'Analysis result without an image region')!.TextValue), /MSOM risk score 0\.\d+/);
  });

  it('with no analysis assessable, writes no Imaging Measurements container at all', () => {
    const results = analysisResults().filter((r) => !r.assessable);
    assert.ok(results.length >= 1);
    const { dataset } = readPart10(encodeStructuredReport(input({ results })).buffer);
    assert.equal(child(dataset as Item, 'Imaging Measurements'), undefined);
    assert.ok(child(child(dataset as Item, 'Qualitative Evaluations')!, 'Reason analysis not assessable'));
  });

  it('draws the tumour region in the shape OHIF restores: first NUM INFERRED FROM a closed POLYLINE on the key slice', () => {
    const { dataset } = readPart10(encodeStructuredReport(input()).buffer);
    const stage = group(dataset, 'AJCC stage');
    assert.equal(child(stage, 'Image Region'), undefined, 'no group-level SCOORD (the adapters read the first NUM)');
    const firstNum = stage.ContentSequence!.find((i) => i.ValueType === 'NUM')!;
    assert.equal(meaning(firstNum), 'Probability of AJCC stage IVa');
    const scoord = firstNum.ContentSequence!.find((i) => i.ValueType === 'SCOORD')!;
    assert.equal(scoord.RelationshipType, 'INFERRED FROM');
    assert.equal(scoord.ConceptNameCodeSequence, undefined, 'TID 320 SCOORD: no concept name');
    assert.equal(scoord.GraphicType, 'POLYLINE');
    const data = scoord.GraphicData as number[];
    assert.equal(data.length, 10, 'five points (closed rectangle), what the RectangleROI adapter takes');
    assert.deepEqual(data.slice(0, 2), data.slice(8, 10));
    const selected = scoord.ContentSequence![0]! as NaturalDataset;
    assert.equal(selected.RelationshipType, 'SELECTED FROM');
    assert.equal((selected.ReferencedSOPSequence as NaturalDataset[])[0]!.ReferencedSOPInstanceUID, KEY_CE_T1.sopInstanceUid);
    // The label OHIF shows (Comment) names the analysis and its answer.
    assert.match(String(child(stage, 'Comment')!.TextValue), /^AJCC stage: 0\.87 \(.+\)$/);
    const evidence = dataset.CurrentRequestedProcedureEvidenceSequence as NaturalDataset[];
    const listed = evidence.flatMap((s) => (s.ReferencedSeriesSequence as NaturalDataset[]).flatMap((se) => (se.ReferencedSOPSequence as NaturalDataset[]).map((r) => r.ReferencedSOPInstanceUID)));
    for (const s of sourceInstances()) assert.ok(listed.includes(s.image.sopInstanceUid));
    const library = child(dataset as Item, 'Image Library')!;
    assert.equal(children(library, 'Image Library Group').flatMap((g) => (g.ContentSequence ?? []).filter((i) => i.ValueType === 'IMAGE')).length, listed.length);
  });

  it('with the SEG, makes each group a TID 1411 volumetric ROI: Referenced Segment (GTV) and its source series, SEG in the evidence', () => {
    const segmentation = {
      sopClassUid: '1.2.840.10008.5.1.4.1.1.66.4',
      sopInstanceUid: '2.25.4242',
      seriesInstanceUid: '2.25.4243',
      sourceSeriesInstanceUid: KEY_CE_T1.seriesInstanceUid,
      segments: [
        { segmentNumber: 1, region: 'gtv' as const },
        { segmentNumber: 2, region: 'gtvln' as const },
      ],
    };
    const { dataset } = readPart10(encodeStructuredReport(input({ segmentation })).buffer);
    for (const g of groups(dataset)) {
      const seg = child(g, 'Referenced Segment')!;
      assert.equal(seg.ValueType, 'IMAGE');
      assert.equal(seg.RelationshipType, 'CONTAINS');
      const ref = (seg.ReferencedSOPSequence as NaturalDataset[])[0]!;
      assert.equal(ref.ReferencedSOPClassUID, segmentation.sopClassUid);
      assert.equal(ref.ReferencedSOPInstanceUID, '2.25.4242');
      assert.equal(ref.ReferencedSegmentNumber, 1);
      assert.equal(child(g, 'Source series for segmentation')!.UID, KEY_CE_T1.seriesInstanceUid);
    }
    const evidence = JSON.stringify(dataset.CurrentRequestedProcedureEvidenceSequence);
    assert.ok(evidence.includes('2.25.4242') && evidence.includes('2.25.4243'));
    // Without the SEG the groups are TID 1501: no segment rows.
    const plain = readPart10(encodeStructuredReport(input()).buffer).dataset;
    assert.equal(child(group(plain, 'AJCC stage'), 'Referenced Segment'), undefined);
  });

  it('names the device observer, the contributing equipment with model Device UIDs, and the research-use statement', () => {
    const { dataset } = readPart10(encodeStructuredReport(input()).buffer);
    assert.equal(child(dataset as Item, 'Device Observer UID')!.UID, device().deviceUid);
    const equipment = dataset.ContributingEquipmentSequence as NaturalDataset[];
    assert.equal(equipment.length, 1 + 7);
    assert.ok(equipment.every((e) => typeof e.DeviceUID === 'string'));
    const qualitative = child(dataset as Item, 'Qualitative Evaluations')!;
    assert.match(String(child(qualitative, 'Comment')!.TextValue), /research use only/i);
    assert.deepEqual((dataset.CodingSchemeIdentificationSequence as NaturalDataset[])[0]!.CodingSchemeDesignator, '99NPCAI');
  });

  it('re-sends identical bytes and UIDs for the same analysis version, and new UIDs with predecessors for a re-analysis', () => {
    const first = encodeStructuredReport(input());
    const again = encodeStructuredReport(input());
    assert.equal(again.sopInstanceUid, first.sopInstanceUid);
    assert.equal(again.seriesInstanceUid, first.seriesInstanceUid);
    assert.ok(again.buffer.equals(first.buffer));
    const second = encodeStructuredReport(
      input({ generation: 2, predecessors: [{ sopInstanceUid: first.sopInstanceUid, seriesInstanceUid: first.seriesInstanceUid, sopClassUid: first.sopClassUid }] }),
    );
    assert.notEqual(second.sopInstanceUid, first.sopInstanceUid);
    assert.notEqual(second.seriesInstanceUid, first.seriesInstanceUid);
    const { dataset } = readPart10(second.buffer);
    const pred = dataset.PredecessorDocumentsSequence as NaturalDataset[];
    assert.equal(pred[0]!.StudyInstanceUID, STUDY_UID);
    const series = (pred[0]!.ReferencedSeriesSequence as NaturalDataset[])[0]!;
    assert.equal(series.SeriesInstanceUID, first.seriesInstanceUid);
    assert.equal((series.ReferencedSOPSequence as NaturalDataset[])[0]!.ReferencedSOPInstanceUID, first.sopInstanceUid);
    assert.equal(readPart10(first.buffer).dataset.PredecessorDocumentsSequence, undefined);
  });

  it('links heat maps as Visual Explanation and lists them as other evidence', () => {
    const heatMap = { analysis: 'stage', sopInstanceUid: '2.25.1234', seriesInstanceUid: '2.25.5678', sopClassUid: SopClass.SecondaryCaptureImageStorage };
    const { dataset } = readPart10(encodeStructuredReport(input({ heatMaps: [heatMap] })).buffer);
    const link = child(group(dataset, 'AJCC stage'), 'Visual Explanation')!;
    assert.equal((link.ReferencedSOPSequence as NaturalDataset[])[0]!.ReferencedSOPInstanceUID, '2.25.1234');
    assert.equal(child(group(dataset, 'DMFS risk'), 'Visual Explanation'), undefined);
    assert.ok(JSON.stringify(dataset.PertinentOtherEvidenceSequence).includes('2.25.1234'));
  });

  it('refuses results of another study, duplicate analyses and out-of-range probabilities', () => {
    const results = analysisResults();
    assert.throws(() => encodeStructuredReport(input({ results: [...results, results[0]!] })), EncodeInputError);
    assert.throws(() => encodeStructuredReport(input({ results: [{ ...results[0]!, studyInstanceUid: '1.2.3' }] })), EncodeInputError);
    assert.throws(() => encodeStructuredReport(input({ results: [{ ...results[0]!, probability: 1.5 } as never] })), EncodeInputError);
    assert.throws(() => encodeStructuredReport(input({ results: [] })), EncodeInputError);
    assert.throws(() => encodeStructuredReport(input({ generation: 0 })), EncodeInputError);
  });
});
