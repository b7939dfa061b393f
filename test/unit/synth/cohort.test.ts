import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import dcmjs from 'dcmjs';
import { generatePatient, preStudyProtocol, writeCohort, type GeneratedPatient, type MaskInfo } from '../../../src/synth/cohort';
import { parseArgs } from '../../../src/synth/cli';
import { SopClass, TransferSyntax, isValidUid } from '../../../src/dicom/uids';
import { tempDir } from '../../helpers/temp-dir';

type Dataset = Record<string, any>;

function parse(buf: Buffer): { meta: Dataset; ds: Dataset } {
  const dict = dcmjs.data.DicomMessage.readFile(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer);
  return {
    meta: dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict.meta),
    ds: dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict.dict),
  };
}

function hasDciodvfy(): boolean {
  try {
    execFileSync('which', ['dciodvfy']);
    return true;
  } catch {
    return false;
  }
}

describe('synthetic cohort DICOM', function () {
  this.timeout(120000);
  let patient: GeneratedPatient;
  before(() => {
    patient = generatePatient('dicom-test', { index: 2, withFollowup: true });
  });

  it('gives identical bytes and labels for the same seed, different bytes for another seed', () => {
    const again = generatePatient('dicom-test', { index: 2, withFollowup: true });
    assert.deepEqual(again.labels, patient.labels);
    assert.equal(again.series.length, patient.series.length);
    again.series.forEach((s, i) => {
      assert.equal(s.instances.length, patient.series[i]!.instances.length);
      s.instances.forEach((b, j) => assert.ok(b.equals(patient.series[i]!.instances[j]!), `series ${i} instance ${j}`));
    });
    const other = generatePatient('dicom-test-2', { index: 2, noDistractors: true });
    assert.ok(!other.series[0]!.instances[0]!.equals(patient.series.find((s) => s.headerInfo.role === other.series[0]!.headerInfo.role)!.instances[0]!));
  });

  it('writes MR Image Storage instances, explicit VR little endian, that dcmjs reads back with the required modules', () => {
    const sopUids = new Set<string>();
    for (const s of patient.series) {
      for (const b of s.instances) {
        const { meta, ds } = parse(b);
        assert.equal(meta.TransferSyntaxUID, TransferSyntax.ExplicitVRLittleEndian);
        assert.equal(meta.MediaStorageSOPClassUID, SopClass.MrImageStorage);
        assert.equal(ds.SOPClassUID, SopClass.MrImageStorage);
        assert.equal(ds.Modality, 'MR');
        for (const uid of [ds.SOPInstanceUID, ds.SeriesInstanceUID, ds.StudyInstanceUID, ds.FrameOfReferenceUID]) assert.ok(isValidUid(uid), uid);
        assert.ok(!sopUids.has(ds.SOPInstanceUID));
        sopUids.add(ds.SOPInstanceUID);
        assert.equal(ds.PatientID, patient.labels.PatientID);
        assert.equal(ds.Rows * ds.Columns * 2, (ds.PixelData[0] as ArrayBuffer).byteLength);
        assert.equal(ds.ImageOrientationPatient.length, 6);
        assert.equal(ds.ImagePositionPatient.length, 3);
        assert.ok(ds.ScanningSequence && ds.SequenceVariant && ds.MagneticFieldStrength);
        const ce = s.headerInfo.role === 'ce-t1' || s.headerInfo.role === 'cor-ce-t1';
        assert.equal(ds.ContrastBolusAgent !== undefined, ce, `${ds.SeriesDescription} contrast agent`);
      }
    }
    const studies = new Set(patient.series.map((s) => s.headerInfo.StudyInstanceUID));
    assert.equal(studies.size, 2);
    const roles = patient.series.filter((s) => s.studyLabel === 'pre').map((s) => s.headerInfo.role).sort();
    assert.deepEqual(roles, ['adc', 'ce-t1', 'cor-ce-t1', 'dwi', 'localizer', 'sag-t2', 't1', 't2']);
  });

  it('passes dciodvfy without errors (one instance of each series)', function () {
    if (!hasDciodvfy()) this.skip();
    const { dir, cleanup } = tempDir('synth-dciodvfy-');
    try {
      for (const s of patient.series.filter((x) => x.studyLabel === 'pre')) {
        const file = path.join(dir, `${s.headerInfo.SeriesNumber}.dcm`);
        fs.writeFileSync(file, s.instances[Math.floor(s.instances.length / 2)]!);
        const res = execFileSync('bash', ['-c', `dciodvfy "${file}" 2>&1 || true`], { encoding: 'utf8' });
        const errors = res.split('\n').filter((l) => l.startsWith('Error'));
        assert.deepEqual(errors, [], `${s.headerInfo.SeriesDescription}: ${res}`);
      }
    } finally {
      cleanup();
    }
  });

  it('writes a Chinese patient name with ISO_IR 192 when the patient has one', () => {
    let seen = false;
    for (let i = 0; i < 12 && !seen; i++) {
      const p = generatePatient('names', { index: i, noDistractors: true });
      const { ds } = parse(p.series[0]!.instances[0]!);
      const name = ds.PatientName[0];
      if (name.Ideographic) {
        seen = true;
        assert.equal(ds.SpecificCharacterSet, 'ISO_IR 192');
        assert.match(name.Ideographic, /[\u4e00-\u9fff]/);
        assert.match(name.Alphabetic, /^[A-Za-z]+\^[A-Za-z]+$/);
      }
    }
    assert.ok(seen, 'no patient with an ideographic name in 12 draws');
  });

  it('writes masks that align with the lesion intensities (GTV bright on CE-T1 and T2 relative to muscle)', () => {
    for (const role of ['ce-t1', 't2'] as const) {
      const s = patient.series.find((x) => x.studyLabel === 'pre' && x.headerInfo.role === role)!;
      const mask = s.mask!;
      assert.equal(mask.info.slices.length, s.instances.length);
      let lesionSum = 0, lesionN = 0, bodySum = 0, bodyN = 0;
      s.instances.forEach((b, i) => {
        const { ds } = parse(b);
        assert.equal(mask.info.slices[i]!.SOPInstanceUID, ds.SOPInstanceUID);
        assert.equal(mask.info.slices[i]!.InstanceNumber, ds.InstanceNumber);
        const px = new Uint16Array(ds.PixelData[0]);
        const m = mask.voxels.subarray(i * px.length, (i + 1) * px.length);
        for (let k = 0; k < px.length; k++) {
          if (m[k] === 1) { lesionSum += px[k]!; lesionN++; }
          else if (px[k]! > 0) { bodySum += px[k]!; bodyN++; }
        }
      });
      assert.ok(lesionN > 50, 'GTV voxels present');
      assert.ok(lesionSum / lesionN > 1.2 * (bodySum / bodyN), `${role}: GTV mean ${lesionSum / lesionN} vs rest ${bodySum / bodyN}`);
    }
  });

  it('shrinks the tumour on the post-treatment study of the same patient', () => {
    const count = (label: 'pre' | 'post') => {
      const s = patient.series.find((x) => x.studyLabel === label && x.headerInfo.role === 'ce-t1')!;
      const { ds } = parse(s.instances[0]!);
      const voxel = ds.PixelSpacing[0] * ds.PixelSpacing[1] * ds.SpacingBetweenSlices;
      return { n: s.mask!.voxels.reduce((a, v) => a + (v === 1 ? 1 : 0), 0) * voxel, date: ds.StudyDate, id: ds.PatientID };
    };
    const pre = count('pre');
    const post = count('post');
    assert.equal(pre.id, post.id);
    assert.ok(post.date > pre.date);
    assert.ok(post.n < pre.n, `post ${post.n} < pre ${pre.n}`);
  });

  it('writes a cohort folder with labels.json, labels.csv, masks and vendor, matrix and spacing variation', () => {
    const { dir, cleanup } = tempDir('synth-cohort-');
    try {
      const summary = writeCohort(dir, { patients: 6, seed: 'folder', matrix: 'mixed', noDistractors: true });
      const labels = JSON.parse(fs.readFileSync(path.join(dir, 'labels.json'), 'utf8'));
      assert.equal(labels.length, 6);
      const csv = fs.readFileSync(path.join(dir, 'labels.csv'), 'utf8').trim().split('\n');
      assert.equal(csv.length, 7);
      assert.ok(csv[0]!.startsWith('PatientID,StudyInstanceUID'));
      for (const entry of labels) {
        for (const k of ['PatientID', 'StudyInstanceUID', 'T', 'N', 'stage', 'dmfs', 'msom', 'residual', 'progression', 'clinical']) assert.ok(k in entry, k);
        const study = entry.studies[0];
        const studyDir = path.join(dir, entry.PatientID, 'pre');
        for (const s of study.series) {
          const files = fs.readdirSync(path.join(studyDir, s.folder));
          assert.equal(files.length, s.instanceCount);
          const info: MaskInfo = JSON.parse(fs.readFileSync(path.join(studyDir, 'masks', `${s.SeriesInstanceUID}.json`), 'utf8'));
          const bin = fs.readFileSync(path.join(studyDir, 'masks', info.file));
          assert.equal(bin.length, info.rows * info.columns * info.sliceCount);
          assert.ok(info.sliceCount >= 16 && info.sliceCount <= 24);
        }
      }
      const matrices = new Set(labels.map((l: any) => l.studies[0].matrix));
      const spacings = new Set(labels.map((l: any) => l.studies[0].spacingBetweenSlices));
      const thickness = labels.map((l: any) => l.studies[0].sliceThickness);
      assert.ok(matrices.size >= 2, `matrices ${[...matrices]}`);
      assert.ok(spacings.size >= 2, `spacings ${[...spacings]}`);
      assert.ok(thickness.every((t: number) => t >= 4 && t <= 6));
      assert.ok(summary.instances > 6 * 3 * 16);
    } finally {
      cleanup();
    }
  });

  it('varies vendor descriptions, field strength and matrix across patients, and writes Philips rescale slopes', () => {
    const protos = Array.from({ length: 30 }, (_, i) => preStudyProtocol('vendors', i, 'mixed'));
    const ceDescs = new Set(protos.map((p) => p.series.find((s) => s.role === 'ce-t1')!.description));
    assert.ok(ceDescs.size >= 5, [...ceDescs].join(' | '));
    assert.deepEqual(new Set(protos.map((p) => p.vendor)), new Set(['GE', 'Siemens', 'Philips']));
    assert.deepEqual(new Set(protos.map((p) => p.fieldStrength)), new Set([1.5, 3]));
    assert.ok(new Set(protos.map((p) => p.geometry.matrix)).size >= 3);
    const philips = protos.findIndex((p) => p.vendor === 'Philips');
    const p = generatePatient('vendors', { index: philips, noDistractors: true, matrix: 'mixed' });
    const { ds } = parse(p.series[0]!.instances[0]!);
    assert.match(ds.Manufacturer, /Philips/);
    assert.equal(ds.RescaleSlope, protos[philips]!.rescale!.slope);
    assert.equal(ds.Rows, protos[philips]!.geometry.matrix);
  });

  it('parses the command line and refuses bad arguments', () => {
    assert.deepEqual(parseArgs(['--out', 'x', '--patients', '3', '--seed', '9', '--matrix', 'mixed', '--with-followup']), {
      out: 'x', patients: 3, seed: '9', matrix: 'mixed', withFollowup: true, noDistractors: false,
    });
    assert.throws(() => parseArgs(['--out', 'x', '--patients', '0']), /--patients/);
    assert.throws(() => parseArgs(['--out', 'x', '--patients', '2', '--matrix', '300']), /--matrix/);
    assert.throws(() => parseArgs(['--patients', '2']), /--out/);
  });
});
