import assert from 'node:assert/strict';
import { loadConfig } from '../../../src/config/load';
import { SelectionRuleSchema, type SelectionRule } from '../../../src/config/schema';
import { selectSeries, requireRoles, roleAvailability, classifyOrientation, detectContrast } from '../../../src/select';
import { AX, COR, SAG, makeSeries, tilted, type SeriesSpec } from './vendor-series';

const rules: SelectionRule[] = loadConfig({ env: {} }).selection.rules;

const T1SE = { tr: 550, te: 12, ss: 'SE' };
const T2SE = { tr: 4000, te: 95, ss: 'SE' };
const GRE3D = { tr: 4.2, te: 1.9, ss: 'GR', sv: 'SP\\SS' };
const GE = 'GE MEDICAL SYSTEMS' as const;
const PH = 'Philips Medical Systems' as const;

/** [case, expected role or 'rejected', pattern the rejection must mention] */
const table: [SeriesSpec, string, RegExp?][] = [
  // GE
  [{ manufacturer: GE, description: 'AX T1 FSE', ...T1SE }, 't1'],
  [{ manufacturer: GE, description: 'Ax T2 FRFSE FS', ...T2SE }, 't2'],
  [{ manufacturer: GE, description: 'AX T1 FSE +C', ...T1SE }, 'ce-t1'],
  [{ manufacturer: GE, description: 'AX T1 FS POST GAD', ...T1SE, agent: 'MAGNEVIST' }, 'ce-t1'],
  [{ manufacturer: GE, description: 'Ax LAVA-Flex +C', ...GRE3D, agent: 'Omniscan' }, 'ce-t1'],
  [{ manufacturer: GE, description: 'AX T2 PROPELLER', ...T2SE }, 't2'],
  [{ manufacturer: GE, description: '3-pl loc', ss: 'GR', tr: 6, te: 1.6, images: 9 }, 'rejected', /localizer/],
  [{ manufacturer: GE, description: 'ASSET cal', ss: 'GR', tr: 150, te: 1, images: 40 }, 'rejected', /localizer/],
  [{ manufacturer: GE, description: 'Ax DWI b1000', ss: 'EP', tr: 5000, te: 70, imageType: 'ORIGINAL\\PRIMARY\\OTHER' }, 'rejected', /diffusion/],
  [{ manufacturer: GE, description: 'Exponential Apparent Diffusion Coefficient', ss: 'EP', imageType: 'DERIVED\\SECONDARY\\EXP' }, 'rejected', /diffusion/],
  [{ manufacturer: GE, description: 'SAG T1 FSE +C', ...T1SE, iop: SAG }, 'rejected', /orientation sagittal/],
  [{ manufacturer: GE, description: 'COR T2 FS', ...T2SE, iop: COR }, 'rejected', /orientation coronal/],
  // Siemens
  [{ description: 't1_tse_tra', ...T1SE }, 't1'],
  [{ description: 't2_tse_tra_fs', ...T2SE }, 't2'],
  [{ description: 't1_tse_fs_tra_post', ...T1SE }, 'ce-t1'],
  [{ description: 't1_vibe_fs_tra_Gd', ...GRE3D }, 'ce-t1'],
  [{ description: 't2_tse_dixon_tra_W', ...T2SE, imageType: 'ORIGINAL\\PRIMARY\\M\\DIXON\\WATER' }, 't2'],
  [{ description: 't2_tse_dixon_tra_F', ...T2SE, imageType: 'DERIVED\\PRIMARY\\DIXON\\FAT' }, 'rejected', /FAT/],
  [{ description: 'AAHead_Scout', ss: 'GR', tr: 3, te: 1.4, images: 128, imageType: 'ORIGINAL\\PRIMARY\\M\\NORM' }, 'rejected', /localizer/],
  [{ description: 'localizer', ss: 'GR', tr: 8, te: 4, images: 3, imageType: 'ORIGINAL\\PRIMARY\\LOCALIZER' }, 'rejected', /localizer/],
  [{ description: 'ep2d_diff_b1000', ss: 'EP', tr: 6000, te: 80, imageType: 'ORIGINAL\\PRIMARY\\DIFFUSION\\NONE' }, 'rejected', /diffusion/],
  [{ description: 'ep2d_diff_tra_ADC', ss: 'EP', imageType: 'DERIVED\\PRIMARY\\DIFFUSION\\ADC' }, 'rejected', /diffusion/],
  [{ description: 'ep2d_diff_tra_TRACEW', ss: 'EP', imageType: 'DERIVED\\PRIMARY\\DIFFUSION\\TRACEW' }, 'rejected', /diffusion/],
  [{ description: 't1_mprage_sag_p2_iso_MPR_tra', ...GRE3D, imageType: 'DERIVED\\SECONDARY\\MPR' }, 'rejected', /derived/],
  [{ description: 't2_tse_sag', ...T2SE, iop: SAG }, 'rejected', /orientation sagittal/],
  [{ description: 't1_tse_cor_fs_post', ...T1SE, iop: COR }, 'rejected', /orientation coronal/],
  [{ description: 't2_tirm_tra_dark-fluid', ss: 'SE\\IR', tr: 9000, te: 85 }, 'rejected', /excluded/],
  [{ description: 't1_vibe_fs_tra_Gd_SUB', ...GRE3D, imageType: 'DERIVED\\PRIMARY\\SUBTRACTION' }, 'rejected', /derived/],
  // Philips
  [{ manufacturer: PH, description: 'T1W_TSE', ...T1SE }, 't1'],
  [{ manufacturer: PH, description: 'WATER: T2W_TSE_SPAIR', ...T2SE, imageType: 'ORIGINAL\\PRIMARY\\W\\W\\DERIVED' }, 't2'],
  [{ manufacturer: PH, description: 'T1W_TSE_SPIR +C', ...T1SE }, 'ce-t1'],
  [{ manufacturer: PH, description: 'sT1W_3D_TFE', ...GRE3D }, 't1'],
  [{ manufacturer: PH, description: 'sT1W_3D_TFE', ...GRE3D, iop: SAG }, 'rejected', /orientation sagittal/],
  [{ manufacturer: PH, description: 'T2W_TSE', ...T2SE }, 't2'],
  [{ manufacturer: PH, description: 'SURVEY', ss: 'GR', tr: 11, te: 4.6, images: 9 }, 'rejected', /localizer/],
  [{ manufacturer: PH, description: 'DWI_b0_1000', ss: 'EP', tr: 4000, te: 70 }, 'rejected', /diffusion/],
  [{ manufacturer: PH, description: 'dADC', ss: 'EP', imageType: 'DERIVED\\PRIMARY\\ADC\\ADC' }, 'rejected', /diffusion/],
  [{ manufacturer: PH, description: 'T1W_mDIXON_TSE_IP', ...T1SE, imageType: 'ORIGINAL\\PRIMARY\\IP\\IP' }, 'rejected', /IP/],
  // Contrast decided by tags when the description is neutral, by the description when it says "pre"
  [{ description: 'AX SE', ...T1SE, agent: '' }, 't1'],
  [{ description: 'AX SE', ...T1SE, agent: 'Gadovist 1.0' }, 'ce-t1'],
  [{ description: 'T1 AXIAL', ...T1SE, agent: 'Dotarem' }, 'ce-t1'],
  [{ description: 'T1 AXIAL PRE', ...T1SE, agent: 'Dotarem' }, 't1'],
  [{ description: 'Series 7', ...T2SE }, 't2'],
  // Orientation tolerance
  [{ description: 't2_tse_tra_fs', ...T2SE, iop: tilted(15) }, 't2'],
  [{ description: 't2_tse_tra_fs', ...T2SE, iop: tilted(35) }, 'rejected', /oblique/],
  // Implausible timing for the name: a "T2" with T1 timing is not used as T2
  [{ description: 'AX T2', tr: 500, te: 12, ss: 'SE' }, 'rejected', /EchoTime 12 ms outside 50-300/],
  // Too few images
  [{ description: 't1_tse_tra', ...T1SE, images: 2 }, 'rejected', /at least 3/],
];

describe('series selection with the shipped rules', () => {
  it('ships rules that validate against the schema and cover t1, t2 and ce-t1', () => {
    assert.ok(table.length >= 30);
    for (const r of rules) SelectionRuleSchema.parse(r);
    assert.deepEqual([...new Set(rules.map((r) => r.role))].sort(), ['ce-t1', 't1', 't2']);
  });

  table.forEach(([spec, expected, because], i) => {
    const label = `${spec.manufacturer ?? 'SIEMENS'} "${spec.description}"${spec.agent ? ` agent=${spec.agent}` : ''}${spec.iop && spec.iop !== AX ? ` iop=${spec.iop.map((v) => v.toFixed(2)).join('\\')}` : ''}`;
    it(`${expected === 'rejected' ? 'rejects' : `selects as ${expected}`}: ${label} (#${i + 1})`, () => {
      const s = makeSeries(spec);
      const result = selectSeries([s], rules);
      if (expected === 'rejected') {
        assert.equal(result.selected.size, 0, `picked as ${[...result.selected.keys()].join(',')} by ${[...result.selected.values()].map((v) => v.rule).join(',')}`);
        assert.equal(result.rejected.length, 1);
        const reasons = result.rejected[0]!.reasons.join(' | ');
        if (because) assert.match(reasons, because);
      } else {
        const roles = [...result.selected.keys()];
        assert.deepEqual(roles, [expected], `rejected: ${result.rejected.map((r) => r.reasons.join(' | ')).join('\n')}`);
        const sel = result.selected.get(expected)!;
        assert.equal(sel.seriesInstanceUid, s.seriesInstanceUid);
        assert.ok(rules.some((r) => r.name === sel.rule && r.role === expected));
      }
    });
  });
});

describe('series selection of a whole study', () => {
  const study = [
    makeSeries({ manufacturer: GE, description: '3-pl loc', ss: 'GR', tr: 6, te: 1.6, images: 9, seriesNumber: 1 }),
    makeSeries({ manufacturer: GE, description: 'AX T1 FSE', ...T1SE, seriesNumber: 2 }),
    makeSeries({ manufacturer: GE, description: 'Ax T2 FRFSE', ...T2SE, seriesNumber: 3 }),
    makeSeries({ manufacturer: GE, description: 'Ax T2 FRFSE FS', ...T2SE, seriesNumber: 4 }),
    makeSeries({ manufacturer: GE, description: 'Ax DWI b1000', ss: 'EP', seriesNumber: 5 }),
    makeSeries({ manufacturer: GE, description: 'SAG T1 FSE +C', ...T1SE, iop: SAG, seriesNumber: 6 }),
    makeSeries({ manufacturer: GE, description: 'AX T1 FSE +C', ...T1SE, seriesNumber: 7 }),
    makeSeries({ manufacturer: GE, description: 'AX T1 FS +C', ...T1SE, seriesNumber: 8 }),
  ];

  it('picks one series per role, prefers fat suppression, and records the rule', () => {
    const r = selectSeries(study, rules);
    assert.equal(r.selected.get('t1')!.seriesDescription, 'AX T1 FSE');
    assert.equal(r.selected.get('t1')!.rule, 't1-axial');
    assert.equal(r.selected.get('t2')!.seriesDescription, 'Ax T2 FRFSE FS');
    assert.equal(r.selected.get('t2')!.rule, 't2-fat-suppressed-axial');
    assert.equal(r.selected.get('ce-t1')!.seriesDescription, 'AX T1 FS +C');
    assert.equal(r.selected.get('ce-t1')!.rule, 'ce-t1-fat-suppressed-axial');
    assert.equal(r.missing.size, 0);
  });

  it('explains why every other series was not picked', () => {
    const r = selectSeries(study, rules);
    const why = new Map(r.rejected.map((x) => [x.seriesDescription, x.reasons.join(' | ')]));
    assert.deepEqual([...why.keys()].sort(), ['3-pl loc', 'AX T1 FSE +C', 'Ax DWI b1000', 'Ax T2 FRFSE', 'SAG T1 FSE +C']);
    assert.match(why.get('3-pl loc')!, /localizer/);
    assert.match(why.get('Ax DWI b1000')!, /diffusion/);
    assert.match(why.get('SAG T1 FSE +C')!, /ce-t1-axial \(ce-t1\): orientation sagittal/);
    assert.match(why.get('Ax T2 FRFSE')!, /t2-axial \(t2\): matched, but series .* \("Ax T2 FRFSE FS", rule t2-fat-suppressed-axial\) was preferred/);
    assert.match(why.get('AX T1 FSE +C')!, /t1-axial \(t1\): contrast-enhanced: description token "\+C"/);
  });

  it('makes a missing sequence "not assessable" with a reason, never an error', () => {
    const noContrast = study.filter((s) => !/\+C/.test(s.headers[0]!.SeriesDescription!));
    const r = selectSeries(noContrast, rules);
    assert.equal(r.selected.has('ce-t1'), false);
    const a = roleAvailability(r, 'ce-t1');
    assert.equal(a.available, false);
    assert.match(!a.available ? a.reason : '', /no axial contrast-enhanced T1-weighted series/);
    const need = requireRoles(r, ['t2', 'ce-t1']);
    assert.equal(need.ok, false);
    const ok = requireRoles(r, ['t1', 't2']);
    assert.equal(ok.ok, true);
    const empty = selectSeries([], rules);
    assert.equal(empty.selected.size, 0);
    assert.match(empty.missing.get('t1')!, /no series/);
  });

  it('never selects anything when no rules are configured, and says so', () => {
    const r = selectSeries(study.slice(1, 2), []);
    assert.equal(r.selected.size, 0);
    assert.deepEqual(r.rejected[0]!.reasons, ['no selection rules are configured']);
  });

  it('breaks ties between equal rules by the lower series number', () => {
    const a = makeSeries({ description: 't1_tse_tra', ...T1SE, seriesNumber: 9 });
    const b = makeSeries({ description: 't1_tse_tra', ...T1SE, seriesNumber: 4 });
    assert.equal(selectSeries([a, b], rules).selected.get('t1')!.seriesInstanceUid, b.seriesInstanceUid);
    assert.equal(selectSeries([b, a], rules).selected.get('t1')!.seriesInstanceUid, b.seriesInstanceUid);
  });

  it('applies ScanningSequence and SequenceVariant conditions of site rules', () => {
    const rule = SelectionRuleSchema.parse({ name: 'site-t1-gre', role: 't1', scanningSequence: ['GR'], sequenceVariant: ['SP'], sequenceVariantExclude: ['MP'], orientation: 'axial' });
    const spoiled = makeSeries({ description: 'site protocol 1', ss: 'GR', sv: 'SP\\OSP' });
    const prepared = makeSeries({ description: 'site protocol 2', ss: 'GR', sv: 'SP\\MP' });
    const spinEcho = makeSeries({ description: 'site protocol 3', ss: 'SE', sv: 'SK' });
    const r = selectSeries([prepared, spinEcho, spoiled], [rule]);
    assert.equal(r.selected.get('t1')!.seriesInstanceUid, spoiled.seriesInstanceUid);
    const why = r.rejected.map((x) => x.reasons.join(' | ')).join('\n');
    assert.match(why, /SequenceVariant has excluded MP/);
    assert.match(why, /ScanningSequence SE has none of GR/);
  });

  it('reports an invalid regular expression in a rule by name', () => {
    const bad = SelectionRuleSchema.parse({ name: 'broken', role: 't1', seriesDescription: ['(t1'] });
    assert.throws(() => selectSeries(study.slice(1, 2), [bad]), /selection rule broken: invalid regular expression/);
  });

  it('reads orientation, TR/TE and contrast from Enhanced MR functional groups', () => {
    const s = makeSeries({
      description: 't1_tse_tra_Gd',
      images: 1,
      extra: {
        SOPClassUID: '1.2.840.10008.5.1.4.1.1.4.1',
        NumberOfFrames: 24,
        ImageOrientationPatient: undefined,
        RepetitionTime: undefined,
        EchoTime: undefined,
        SharedFunctionalGroupsSequence: [
          {
            PlaneOrientationSequence: [{ ImageOrientationPatient: AX }],
            MRTimingAndRelatedParametersSequence: [{ RepetitionTime: 600 }],
            MREchoSequence: [{ EffectiveEchoTime: 10 }],
          },
        ],
      },
    });
    const r = selectSeries([s], rules);
    assert.equal(r.selected.get('ce-t1')?.seriesInstanceUid, s.seriesInstanceUid);
  });
});

describe('orientation and contrast helpers', () => {
  it('classifies planes within a tolerance', () => {
    assert.equal(classifyOrientation(AX).plane, 'axial');
    assert.equal(classifyOrientation(SAG).plane, 'sagittal');
    assert.equal(classifyOrientation(COR).plane, 'coronal');
    assert.equal(classifyOrientation(tilted(10)).plane, 'axial');
    assert.equal(Math.round(classifyOrientation(tilted(10)).angleDegrees!), 10);
    assert.equal(classifyOrientation(tilted(30)).plane, 'oblique');
    assert.equal(classifyOrientation(tilted(30), 35).plane, 'axial');
    assert.equal(classifyOrientation([0, 0, 0, 0, 0, 0]).plane, 'unknown');
    assert.equal(classifyOrientation(undefined).plane, 'unknown');
  });

  it('detects contrast from tokens and the agent, with pre-contrast words winning', () => {
    const yes = ['AX T1 +C', 'T1 C+', 'T1 POST', 't1_tse_tra_Gd', 'T1 GAD', 'CE-T1', 'T1+GD', 'T1 FS post contrast', 'T1W_SE_enhanced'];
    const no = ['AX T1', 'T1 pre', 'T1 PRE GD', 'non-enhanced T1', 't1_tse_tra', 'T1 FACE'];
    for (const d of yes) assert.equal(detectContrast({ seriesDescription: d }).contrast, true, d);
    for (const d of no) assert.equal(detectContrast({ seriesDescription: d }).contrast, false, d);
    assert.equal(detectContrast({ seriesDescription: 'AX SE', contrastBolusAgent: 'Gadavist' }).contrast, true);
    assert.equal(detectContrast({ seriesDescription: 'AX SE', contrastBolusAgent: 'NONE' }).contrast, false);
    assert.equal(detectContrast({ seriesDescription: 'T1 pre', contrastBolusAgent: 'Gadavist' }).contrast, false);
  });
});
