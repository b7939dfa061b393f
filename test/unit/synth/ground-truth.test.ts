import assert from 'node:assert/strict';
import { drawPatient, type PatientModel } from '../../../src/synth/patient';
import { nCategoryFromNodes, stageFrom, tCategoryFromInvasion, reachesIntracranial } from '../../../src/synth/ground-truth';
import { CRICOID_CAUDAL_Z, SKULL_BASE_Z } from '../../../src/synth/phantom';

function auc(scores: number[], labels: boolean[]): number {
  let pairs = 0;
  let wins = 0;
  scores.forEach((s, i) => {
    if (!labels[i]) return;
    scores.forEach((t, j) => {
      if (labels[j]) return;
      pairs++;
      wins += s > t ? 1 : s === t ? 0.5 : 0;
    });
  });
  return wins / pairs;
}

describe('synthetic cohort ground truth', () => {
  const patients: PatientModel[] = [];
  before(() => {
    for (let i = 0; i < 600; i++) patients.push(drawPatient({ seed: 'gt-test', index: i }));
  });

  it('derives T from extent: T4 exactly when the tumour reaches above the skull base', () => {
    for (const p of patients) {
      const tumour = p.lesions.find((l) => l.kind === 'gtv')!;
      assert.equal(p.labels.T === 4, reachesIntracranial(tumour), p.patientId);
      assert.equal(p.labels.T, tCategoryFromInvasion(p.labels.imageFeatures.invasion));
      if (p.labels.T === 3) assert.ok(tumour.blobs.every((b) => b.cz + b.rz <= SKULL_BASE_Z));
    }
  });

  it('derives N from node sides and the cricoid level, and stage III vs IVa from T and N (AJCC 8th)', () => {
    for (const p of patients) {
      const nodes = p.lesions.filter((l) => l.kind !== 'gtv');
      const n = nCategoryFromNodes(nodes);
      assert.equal(p.labels.N, n);
      const f = p.labels.imageFeatures;
      if (n === 3) assert.ok(f.nodesBelowCricoid || f.largestNodeMm > 60);
      if (n === 2) assert.ok(f.bilateralNodes && !f.nodesBelowCricoid);
      if (n === 0) assert.equal(f.metastaticNodeCount, 0);
      assert.equal(p.labels.stage, p.labels.T === 4 || n === 3 ? 'IVa' : 'III');
      assert.equal(stageFrom(p.labels.T, p.labels.N), p.labels.stage);
      assert.ok(nodes.filter((l) => l.kind === 'gtvln').every((l) => (l.blobs[0]!.cz - l.blobs[0]!.rz < CRICOID_CAUDAL_Z) === (l.level === 'IV')));
    }
  });

  it('only draws locoregionally advanced (stage III / IVa) patients with roughly balanced stages', () => {
    const iva = patients.filter((p) => p.labels.stage === 'IVa').length / patients.length;
    assert.ok(iva > 0.4 && iva < 0.6, `IVa fraction ${iva}`);
  });

  it('keeps outcome rates in the documented ranges', () => {
    const rate = (f: (p: PatientModel) => boolean) => patients.filter(f).length / patients.length;
    const checks: [string, number, number, number][] = [
      ['DMFS event', rate((p) => p.labels.dmfs.event === 1), 0.18, 0.36],
      ['MSOM event', rate((p) => p.labels.msom.event === 1), 0.12, 0.28],
      ['residual after CCRT', rate((p) => p.labels.residual.ccrt === 1), 0.27, 0.43],
      ['residual after IC+CCRT', rate((p) => p.labels.residual.icCcrt === 1), 0.18, 0.33],
      ['DMFS high risk', rate((p) => p.labels.dmfs.highRisk), 0.42, 0.58],
      ['MSOM high risk', rate((p) => p.labels.msom.highRisk), 0.42, 0.58],
      ['progression high risk', rate((p) => p.labels.progression.highRisk), 0.42, 0.58],
    ];
    for (const [name, r, lo, hi] of checks) assert.ok(r >= lo && r <= hi, `${name} rate ${r.toFixed(3)} outside [${lo}, ${hi}]`);
  });

  it('makes image features carry most of the risk signal, with noise so that nothing is trivially separable', () => {
    const z = (v: number[]) => {
      const m = v.reduce((a, b) => a + b, 0) / v.length;
      const sd = Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / v.length);
      return v.map((x) => (x - m) / sd);
    };
    const vol = z(patients.map((p) => Math.log(p.labels.imageFeatures.tumourVolumeMl)));
    const nod = z(patients.map((p) => Math.log1p(p.labels.imageFeatures.nodalVolumeMl)));
    const het = z(patients.map((p) => p.labels.imageFeatures.heterogeneity));
    const enh = z(patients.map((p) => p.labels.imageFeatures.enhancement));
    const dmfsImage = patients.map((_, i) => 0.55 * vol[i]! + 0.25 * nod[i]! + 0.55 * het[i]!);
    const msomImage = patients.map((_, i) => 0.55 * het[i]! + 0.45 * enh[i]! + 0.35 * nod[i]! + 0.15 * vol[i]!);
    const dmfsAuc = auc(dmfsImage, patients.map((p) => p.labels.dmfs.highRisk));
    const msomAuc = auc(msomImage, patients.map((p) => p.labels.msom.highRisk));
    assert.ok(dmfsAuc > 0.9 && dmfsAuc < 0.995, `DMFS image AUC ${dmfsAuc}`);
    assert.ok(msomAuc > 0.9 && msomAuc < 0.995, `MSOM image AUC ${msomAuc}`);
    // Events are drawn from the risk: informative, but far from separable.
    const eventAuc = auc(patients.map((p) => p.labels.dmfs.riskScore), patients.map((p) => p.labels.dmfs.event === 1));
    assert.ok(eventAuc > 0.65 && eventAuc < 0.9, `DMFS event AUC of the true score ${eventAuc}`);
    // TNM alone is a weak predictor of the DMFS group (as in the papers).
    const tnmAuc = auc(patients.map((p) => p.labels.T + p.labels.N), patients.map((p) => p.labels.dmfs.highRisk));
    assert.ok(tnmAuc < 0.75, `TNM AUC ${tnmAuc}`);
  });

  it('relates the post-treatment response to progression risk', () => {
    const a = auc(patients.map((p) => p.labels.progression.remainingFraction), patients.map((p) => p.labels.progression.highRisk));
    assert.ok(a > 0.7, `remaining-fraction AUC ${a}`);
  });

  it('is deterministic in (seed, index) and differs between seeds', () => {
    const a = drawPatient({ seed: 'gt-test', index: 5 });
    assert.deepEqual(a.labels, patients[5]!.labels);
    const b = drawPatient({ seed: 'other', index: 5 });
    assert.notDeepEqual(b.labels, a.labels);
  });
});
