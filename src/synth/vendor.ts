/**
 * Vendor-style acquisition protocols: GE, Siemens and Philips descriptions, series numbering, sequence
 * attributes (ScanningSequence, SequenceVariant, ScanOptions, ImageType, TR/TE), contrast agent on the
 * post-contrast series only, stored intensity scale / rescale slope, matrix, spacing, slice thickness and
 * slice order. One protocol per study; the axial T1, T2 and CE-T1 share its slice geometry.
 */
import type { Rng } from './rng';
import type { SequenceKind } from './sequences';

export type Vendor = 'GE' | 'Siemens' | 'Philips';
/** Role of a series: the three analysed axial series and the distractors. */
export type SeriesRole = 't1' | 't2' | 'ce-t1' | 'localizer' | 'sag-t2' | 'cor-ce-t1' | 'dwi' | 'adc';
export const ANALYSED_ROLES: readonly SeriesRole[] = ['t1', 't2', 'ce-t1'];

export interface SeriesProtocol {
  role: SeriesRole;
  kind: SequenceKind;
  seriesNumber: number;
  description: string;
  scanningSequence: string[];
  sequenceVariant: string[];
  scanOptions: string[];
  imageType: string[];
  mrAcquisitionType: '2D' | '3D';
  repetitionTime: number;
  echoTime: number;
  echoTrainLength: number;
  flipAngle: number;
  contrastAgent?: string;
  /** Instance 1 is the most superior slice ('descending') or the most inferior ('ascending'). */
  sliceOrder: 'ascending' | 'descending';
  diffusionBValue?: number;
}

export interface StackGeometry {
  matrix: number;
  fovMm: number;
  pixelSpacing: number;
  sliceThickness: number;
  spacingBetweenSlices: number;
  sliceCount: number;
  /** z of the most superior slice centre. */
  topZ: number;
  /** Table offset of the image centre from the patient's midline, mm. */
  centreX: number;
  centreY: number;
}

export interface StudyProtocol {
  vendor: Vendor;
  manufacturer: string;
  model: string;
  fieldStrength: 1.5 | 3;
  softwareVersions: string;
  institutionName: string;
  stationName: string;
  studyDescription: string;
  bodyPartExamined: string;
  /** Stored value per unit signal. */
  intensityScale: number;
  bitsStored: 12 | 16;
  /** Philips-style rescale (real value = stored * slope + intercept); null when absent. */
  rescale: { slope: number; intercept: number } | null;
  noise: number;
  geometry: StackGeometry;
  series: SeriesProtocol[];
}

export type MatrixOption = 256 | 512 | 'mixed';

const MODELS: Record<Vendor, { manufacturer: string[]; '1.5': string[]; '3': string[]; software: string[] }> = {
  GE: { manufacturer: ['GE MEDICAL SYSTEMS'], '1.5': ['SIGNA HDxt', 'Optima MR450w'], '3': ['DISCOVERY MR750', 'SIGNA Premier'], software: ['24\\LX\\MR Software release:HD16.0_V02_1131.a', 'DV26.0_R03_1831.b'] },
  Siemens: { manufacturer: ['SIEMENS'], '1.5': ['Avanto', 'Aera'], '3': ['Skyra', 'Prisma', 'Verio'], software: ['syngo MR E11', 'syngo MR B17'] },
  Philips: { manufacturer: ['Philips Medical Systems', 'Philips Healthcare'], '1.5': ['Achieva', 'Ingenia'], '3': ['Achieva dStream', 'Ingenia'], software: ['5.3.1\\5.3.1.0', '5.6.1\\5.6.1.1'] },
};

interface Names {
  localizer: string[];
  t1: string[];
  t2fs: string[];
  t2: string[];
  cefs: string[];
  ce: string[];
  sag: string[];
  cor: string[];
  dwi: string[];
  adc: string[];
}

const NAMES: Record<Vendor, Names> = {
  GE: {
    localizer: ['3-Plane Loc', '3Plane Loc SSFSE'],
    t1: ['Ax T1 FSE', 'AX T1', 'Ax T1 FSE 5mm'],
    t2fs: ['Ax T2 FRFSE FS', 'AX T2 FSE FS', 'Ax T2 PROPELLER FS'],
    t2: ['Ax T2 FSE', 'AX T2 FRFSE'],
    cefs: ['AX T1 +C FS', 'Ax T1 FSE +C FS', '+C Ax T1 FS'],
    ce: ['AX T1 +C', 'Ax T1 FSE +C'],
    sag: ['Sag T2 FRFSE', 'SAG T2 FSE'],
    cor: ['Cor T1 +C FS', 'COR T1 FSE +C'],
    dwi: ['Ax DWI b1000', 'AX DWI 1000b'],
    adc: ['Apparent Diffusion Coefficient (mm2/s)'],
  },
  Siemens: {
    localizer: ['localizer', 'AAHead_Scout'],
    t1: ['t1_tse_tra', 't1_tse_tra_5mm'],
    t2fs: ['t2_tse_tra_fs', 't2_tse_fs_tra', 't2_blade_tra_fs'],
    t2: ['t2_tse_tra', 't2_tse_tra_p2'],
    cefs: ['t1_tse_fs_tra_post', 't1_tse_tra_fs_post', 't1_tse_fs_tra+c'],
    ce: ['t1_tse_tra_post', 't1_tse_tra+c'],
    sag: ['t2_tse_sag', 't2_tse_sag_p2'],
    cor: ['t1_tse_fs_cor_post', 't1_tse_cor_fs+c'],
    dwi: ['ep2d_diff_b1000_tra_TRACEW', 'ep2d_diff_tra_TRACEW'],
    adc: ['ep2d_diff_b1000_tra_ADC', 'ep2d_diff_tra_ADC'],
  },
  Philips: {
    localizer: ['Survey', 'SURVEY'],
    t1: ['T1W_TSE', 'T1W_TSE_TRA', 'sT1W_TSE'],
    t2fs: ['WATER: T2W_TSE', 'T2W_TSE_SPAIR', 'T2W_TSE_FS'],
    t2: ['T2W_TSE', 'T2W_TSE_TRA'],
    cefs: ['WATER: T1W_mDIXON +C', 'T1W_TSE_SPIR +C', 'T1W_SPIR_GD TRA'],
    ce: ['T1W_TSE +C', 'T1W_TSE_GD'],
    sag: ['T2W_TSE SAG', 'sT2W_TSE_SAG'],
    cor: ['T1W_SPIR_GD COR', 'COR T1W_TSE_SPIR +C'],
    dwi: ['DWI_SSh b1000', 'DWI_B1000'],
    adc: ['dADC', 'DWI_SSh_ADC'],
  },
};

const AGENTS = ['Gadoterate meglumine', 'Gadopentetate dimeglumine', 'Gd-DTPA', 'DOTAREM', 'Magnevist'];

export interface ProtocolOptions {
  matrix: MatrixOption;
  /** Study label ('pre' | 'post'): post-treatment studies re-use the vendor of the pre study. */
  vendor?: Vendor;
  fieldStrength?: 1.5 | 3;
}

export function drawStudyProtocol(rng: Rng, opts: ProtocolOptions): StudyProtocol {
  const vendor = opts.vendor ?? rng.pick(['GE', 'Siemens', 'Philips'] as const);
  const fieldStrength = opts.fieldStrength ?? (rng.chance(0.55) ? 3 : 1.5);
  const m = MODELS[vendor];
  const names = NAMES[vendor];

  const matrix = opts.matrix === 'mixed' ? rng.pick([256, 320, 384, 448, 512]) : opts.matrix;
  const fovMm = rng.pick([200, 210, 220, 230, 240]);
  const sliceThickness = rng.pick([4, 4.5, 5, 5, 5.5, 6]);
  // Spacing of at least 5 mm so that <= 24 slices still reach below the cricoid (level IV nodes).
  const gap = Math.max(5 - sliceThickness, 0) + rng.pick([0, 0.5, 1]);
  const spacingBetweenSlices = Math.round((sliceThickness + gap) * 10) / 10;
  const coverage = rng.uniform(116, 122);
  const sliceCount = Math.min(24, Math.max(16, Math.ceil(coverage / spacingBetweenSlices) + 1));
  const geometry: StackGeometry = {
    matrix,
    fovMm,
    pixelSpacing: fovMm / matrix,
    sliceThickness,
    spacingBetweenSlices,
    sliceCount,
    topZ: Math.round(rng.uniform(32, 38) * 10) / 10,
    centreX: Math.round(rng.uniform(-6, 6) * 10) / 10,
    centreY: Math.round(rng.uniform(-4, 10) * 10) / 10,
  };

  const t2fs = rng.chance(0.85);
  const cefs = rng.chance(0.85);
  const sliceOrder = (): 'ascending' | 'descending' => (rng.chance(vendor === 'GE' ? 0.8 : 0.4) ? 'descending' : 'ascending');
  const is3 = fieldStrength === 3;
  const tse = seqAttrs(vendor, 'tse');
  const fsOpt = (fs: boolean) => (fs ? (vendor === 'GE' ? ['FAST_GEMS', 'FS'] : ['FS']) : vendor === 'GE' ? ['FAST_GEMS'] : []);
  const imageType = (fsWater: boolean): string[] =>
    vendor === 'GE' ? ['ORIGINAL', 'PRIMARY', 'OTHER'] : vendor === 'Siemens' ? ['ORIGINAL', 'PRIMARY', 'M', 'NORM', 'DIS2D'] : fsWater ? ['DERIVED', 'PRIMARY', 'W', 'W', 'DERIVED'] : ['ORIGINAL', 'PRIMARY', 'M_SE', 'M', 'SE'];
  const t1Tr = Math.round(rng.uniform(is3 ? 550 : 420, is3 ? 750 : 620));
  const t1Te = Math.round(rng.uniform(8, 15) * 10) / 10;
  const agent = rng.pick(AGENTS);

  const t2Desc = rng.pick(t2fs ? names.t2fs : names.t2);
  const ceDesc = rng.pick(cefs ? names.cefs : names.ce);
  const base: Omit<SeriesProtocol, 'seriesNumber'>[] = [
    { role: 'localizer', kind: 'loc', description: rng.pick(names.localizer), ...seqAttrs(vendor, 'gre'), scanOptions: [], imageType: vendor === 'Philips' ? ['ORIGINAL', 'PRIMARY', 'M_FFE', 'M', 'FFE'] : ['ORIGINAL', 'PRIMARY', 'LOCALIZER'], mrAcquisitionType: '2D', repetitionTime: Math.round(rng.uniform(6, 12) * 10) / 10, echoTime: 2.3, echoTrainLength: 1, flipAngle: 20, sliceOrder: 'descending' },
    { role: 't1', kind: 't1', description: rng.pick(names.t1), ...tse, scanOptions: fsOpt(false), imageType: imageType(false), mrAcquisitionType: '2D', repetitionTime: t1Tr, echoTime: t1Te, echoTrainLength: rng.int(2, 5), flipAngle: vendor === 'Siemens' ? 150 : 90, sliceOrder: sliceOrder() },
    { role: 't2', kind: t2fs ? 't2fs' : 't2', description: t2Desc, ...tse, scanOptions: fsOpt(t2fs), imageType: imageType(t2fs && t2Desc.startsWith('WATER')), mrAcquisitionType: '2D', repetitionTime: Math.round(rng.uniform(3000, 5200)), echoTime: Math.round(rng.uniform(80, 105)), echoTrainLength: rng.int(12, 24), flipAngle: vendor === 'Siemens' ? 150 : 90, sliceOrder: sliceOrder() },
    { role: 'sag-t2', kind: 't2', description: rng.pick(names.sag), ...tse, scanOptions: fsOpt(false), imageType: imageType(false), mrAcquisitionType: '2D', repetitionTime: Math.round(rng.uniform(2800, 4000)), echoTime: Math.round(rng.uniform(85, 100)), echoTrainLength: rng.int(14, 20), flipAngle: 90, sliceOrder: 'ascending' },
    { role: 'dwi', kind: 'dwi', description: rng.pick(names.dwi), ...seqAttrs(vendor, 'epi'), scanOptions: ['FS'], imageType: ['ORIGINAL', 'PRIMARY', 'DIFFUSION', 'TRACEW'], mrAcquisitionType: '2D', repetitionTime: Math.round(rng.uniform(4000, 6500)), echoTime: Math.round(rng.uniform(60, 85)), echoTrainLength: 1, flipAngle: 90, sliceOrder: sliceOrder(), diffusionBValue: 1000 },
    { role: 'adc', kind: 'adc', description: rng.pick(names.adc), ...seqAttrs(vendor, 'epi'), scanOptions: ['FS'], imageType: ['DERIVED', 'PRIMARY', 'DIFFUSION', 'ADC'], mrAcquisitionType: '2D', repetitionTime: 5000, echoTime: 70, echoTrainLength: 1, flipAngle: 90, sliceOrder: 'descending' },
    { role: 'ce-t1', kind: cefs ? 'ce-t1fs' : 'ce-t1', description: ceDesc, ...tse, scanOptions: fsOpt(cefs), imageType: imageType(cefs && ceDesc.startsWith('WATER')), mrAcquisitionType: '2D', repetitionTime: t1Tr, echoTime: t1Te, echoTrainLength: rng.int(2, 5), flipAngle: vendor === 'Siemens' ? 150 : 90, contrastAgent: agent, sliceOrder: sliceOrder() },
    { role: 'cor-ce-t1', kind: 'ce-t1fs', description: rng.pick(names.cor), ...tse, scanOptions: fsOpt(true), imageType: imageType(false), mrAcquisitionType: '2D', repetitionTime: t1Tr, echoTime: t1Te, echoTrainLength: rng.int(2, 5), flipAngle: 90, contrastAgent: agent, sliceOrder: 'ascending' },
  ];
  // T1 and T2 swap places in some protocols.
  if (rng.chance(0.4)) [base[1], base[2]] = [base[2]!, base[1]!];
  const series: SeriesProtocol[] = base.map((s, i) => ({ ...s, seriesNumber: seriesNumberFor(vendor, i, s.role) }));

  const bitsStored: 12 | 16 = vendor === 'GE' ? 16 : 12;
  const intensityScale = vendor === 'GE' ? rng.uniform(900, 1800) : vendor === 'Siemens' ? rng.uniform(1500, 3000) : rng.uniform(1200, 2800);
  const rescale = vendor === 'Philips' ? { slope: Math.round(rng.uniform(1.1, 3.2) * 100000) / 100000, intercept: 0 } : null;
  return {
    vendor,
    manufacturer: rng.pick(m.manufacturer),
    model: rng.pick(is3 ? m['3'] : m['1.5']),
    fieldStrength,
    softwareVersions: rng.pick(m.software),
    institutionName: `Synthetic ${vendor === 'GE' ? 'East' : vendor === 'Siemens' ? 'West' : 'South'} Hospital`,
    stationName: `${vendor.toUpperCase()}MR${rng.int(1, 4)}`,
    studyDescription: rng.pick(['MRI NASOPHARYNX', 'MR NASOPHARYNX AND NECK W/WO CONTRAST', 'MRI HEAD NECK +C', 'NPC MRI']),
    bodyPartExamined: rng.pick(['HEADNECK', 'NECK', 'HEAD']),
    intensityScale: Math.round(intensityScale),
    bitsStored,
    rescale,
    noise: is3 ? rng.uniform(0.015, 0.025) : rng.uniform(0.025, 0.04),
    geometry,
    series,
  };
}

function seqAttrs(vendor: Vendor, kind: 'tse' | 'gre' | 'epi'): { scanningSequence: string[]; sequenceVariant: string[] } {
  if (kind === 'gre') return { scanningSequence: ['GR'], sequenceVariant: vendor === 'Siemens' ? ['SP', 'OSP'] : ['SS'] };
  if (kind === 'epi') return { scanningSequence: ['EP'], sequenceVariant: vendor === 'Siemens' ? ['SK', 'SP'] : ['SK'] };
  return { scanningSequence: ['SE'], sequenceVariant: vendor === 'Siemens' ? ['SK', 'SP', 'OSP'] : ['SK'] };
}

function seriesNumberFor(vendor: Vendor, index: number, role: SeriesRole): number {
  if (vendor === 'Philips') return (index + 1) * 100 + 1; // 101, 201, ...
  if (vendor === 'GE' && role === 'adc') return 600 + index; // GE derived maps get a high number
  return index + 1;
}
