import assert from 'node:assert/strict';
import { choosePriorStudy, patientMismatch, studyDateRange } from '../../../src/priors/choose-prior-study';
import { combineFailures } from '../../../src/priors/prior-retrieval';
import { priorFailure, type CurrentStudy, type StudyMatch } from '../../../src/priors/prior-types';
import { studyMatchFromDicomJson, studyMatchFromNaturalized } from '../../../src/priors/find-prior-studies';

const current: CurrentStudy = {
  StudyInstanceUID: '1.2.3.100',
  PatientID: 'NPC-0001',
  IssuerOfPatientID: 'HOSP-A',
  PatientBirthDate: '19700101',
  PatientSex: 'M',
  StudyDate: '20240601',
  calledAeTitle: 'NPCAI',
};

function study(uid: string, date: string, over: Partial<StudyMatch> = {}): StudyMatch {
  return {
    StudyInstanceUID: uid,
    PatientID: 'NPC-0001',
    IssuerOfPatientID: 'HOSP-A',
    PatientBirthDate: '19700101',
    PatientSex: 'M',
    StudyDate: date,
    ModalitiesInStudy: ['MR'],
    ...over,
  };
}

describe('choosePriorStudy', () => {
  it('chooses the closest earlier study of the same patient', () => {
    const c = choosePriorStudy(current, [study('1.1', '20230101'), study('1.2', '20240301'), study('1.3', '20220101')]);
    assert.equal(c.ok, true);
    assert.equal(c.ok && c.match.StudyInstanceUID, '1.2');
    assert.equal(c.ok && c.relation, 'earlier');
  });

  it('prefers an earlier study to a closer later one; takes the closest later one when there is no earlier', () => {
    const both = choosePriorStudy(current, [study('1.later', '20240602'), study('1.earlier', '20230601')]);
    assert.equal(both.ok && both.match.StudyInstanceUID, '1.earlier');
    const onlyLater = choosePriorStudy(current, [study('1.l2', '20250101'), study('1.l1', '20240901')]);
    assert.equal(onlyLater.ok && onlyLater.match.StudyInstanceUID, '1.l1');
    assert.equal(onlyLater.ok && onlyLater.relation, 'later');
  });

  it('never chooses another patient with the same name (another PatientID)', () => {
    const c = choosePriorStudy(current, [study('1.other', '20230101', { PatientID: 'NPC-0002' })]);
    assert.equal(c.ok, false);
    assert.equal(!c.ok && c.reason, 'patient-mismatch');
  });

  it('never chooses a study under the same PatientID from another issuer (or with no issuer when ours has one)', () => {
    for (const issuer of ['HOSP-B', undefined]) {
      const c = choosePriorStudy(current, [study('1.iss', '20230101', issuer === undefined ? { IssuerOfPatientID: undefined } : { IssuerOfPatientID: issuer })]);
      assert.equal(c.ok, false, `issuer ${issuer}`);
      assert.equal(!c.ok && c.reason, 'patient-mismatch');
    }
    assert.equal(patientMismatch({ ...current, IssuerOfPatientID: undefined }, study('1.x', '20230101', { IssuerOfPatientID: undefined })), undefined);
  });

  it('never chooses a study whose birth date or sex differs; a side without them is not a mismatch', () => {
    const bd = choosePriorStudy(current, [study('1.bd', '20230101', { PatientBirthDate: '19710101' })]);
    assert.equal(!bd.ok && bd.reason, 'patient-mismatch');
    const sex = choosePriorStudy(current, [study('1.sex', '20230101', { PatientSex: 'F' })]);
    assert.equal(!sex.ok && sex.reason, 'patient-mismatch');
    const noBd = choosePriorStudy(current, [study('1.nobd', '20230101', { PatientBirthDate: undefined, PatientSex: undefined })]);
    assert.equal(noBd.ok && noBd.match.StudyInstanceUID, '1.nobd');
    // A mismatching study next to a good one: the good one, whatever the dates.
    const mixed = choosePriorStudy(current, [study('1.bd', '20240501', { PatientBirthDate: '19710101' }), study('1.ok', '20200101')]);
    assert.equal(mixed.ok && mixed.match.StudyInstanceUID, '1.ok');
  });

  it('finds none: no studies, only the study itself, only the same date, only non-MR', () => {
    for (const matches of [[], [study(current.StudyInstanceUID, '20230101')], [study('1.same', '20240601')], [study('1.ct', '20230101', { ModalitiesInStudy: ['CT'] })]]) {
      const c = choosePriorStudy(current, matches);
      assert.equal(c.ok, false);
      assert.equal(!c.ok && c.reason, 'no-match');
      assert.match(!c.ok ? c.message : '', /no other MR study of this patient/);
    }
  });

  it('cannot choose without a StudyDate on the current study', () => {
    const c = choosePriorStudy({ ...current, StudyDate: undefined }, [study('1.1', '20230101')]);
    assert.equal(!c.ok && c.reason, 'no-match');
  });
});

describe('prior query helpers', () => {
  it('builds the StudyDate range lookbackDays either side', () => {
    assert.equal(studyDateRange('20240601', 1825), '20190603-20290531');
    assert.equal(studyDateRange(undefined, 10), '');
  });

  it('reads a naturalized C-FIND identifier and a QIDO-RS DICOM JSON study', () => {
    assert.deepEqual(studyMatchFromNaturalized({ StudyInstanceUID: '1.2', PatientID: 'P', StudyDate: '20240101', ModalitiesInStudy: ['MR', 'SR'], NumberOfStudyRelatedInstances: 12, PatientSex: '' }), {
      StudyInstanceUID: '1.2',
      PatientID: 'P',
      StudyDate: '20240101',
      ModalitiesInStudy: ['MR', 'SR'],
      NumberOfStudyRelatedInstances: 12,
    });
    assert.deepEqual(
      studyMatchFromDicomJson({
        '0020000D': { vr: 'UI', Value: ['1.3'] },
        '00100020': { vr: 'LO', Value: ['P'] },
        '00080061': { vr: 'CS', Value: ['MR'] },
        '00201208': { vr: 'IS', Value: [5] },
      }),
      { StudyInstanceUID: '1.3', PatientID: 'P', ModalitiesInStudy: ['MR'], NumberOfStudyRelatedInstances: 5 },
    );
    assert.equal(studyMatchFromDicomJson({ '00100020': { vr: 'LO', Value: ['P'] } }), undefined);
  });

  it('combines failures of several sources: the most telling reason, every message', () => {
    const o = combineFailures([
      { source: 'pacs-a', outcome: priorFailure('pacs-unreachable', 'down', true) },
      { source: 'pacs-b', outcome: priorFailure('no-match', 'nothing') },
    ]);
    assert.equal(o.reason, 'no-match');
    assert.equal(o.message, 'pacs-a: down; pacs-b: nothing');
  });
});
