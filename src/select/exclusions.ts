/**
 * Series no rule may ever pick, whatever the configuration says: localisers/scouts/calibration scans,
 * diffusion (DWI, ADC, TRACE, EXP, FA), derived reformats and projections (MPR, MIP, subtraction), non-MR
 * objects, and series mixing several imaging planes. Returns the reason, or undefined when the series may
 * be considered by the rules.
 */
import { SopClass } from '../dicom/uids';
import { normalizeDescription } from './contrast';
import type { SeriesSummary } from './series-summary';

const LOCALIZER_DESCRIPTION =
  /\b(loc|locali[sz]er|scout|survey|surview|3\s*-?\s*pl(ane)?|tri\s*-?\s*pilot|pilot|aahead\s*scout|aascout|cal|calibration|asset\s*cal|pure\s*cal|sense\s*ref|refscan|coil\s*survey)\b/i;
const LOCALIZER_IMAGE_TYPE = ['LOCALIZER', 'SCOUT'];

const DIFFUSION_DESCRIPTION =
  /\b(dwi|adc|e?adc|trace|tracew|exp|diff|diffusion|ep2d\s*diff|resolve|dti|dki|ivim|fa|b\s*-?\s*\d{2,4}|b\d{2,4}|bvalue|b-?value)\b/i;
const DIFFUSION_IMAGE_TYPE = ['DIFFUSION', 'ADC', 'TRACEW', 'EADC', 'FA', 'EXP', 'TRACE', 'CALC_BVALUE'];

const DERIVED_DESCRIPTION = /\b(mpr|mip|minip|mnip|reformat\w*|sub|subtraction|vr|3d\s*render\w*|cpr|mpr\s*\w+)\b/i;
const DERIVED_IMAGE_TYPE = ['MPR', 'MIP', 'MNIP', 'PROJECTION IMAGE', 'REFORMATTED', 'SUBTRACTION', 'SUB', 'CPR', 'VOLUME_RENDERING', 'CSA MPR', 'CSAMANIPULATED'];

const MR_IMAGE_CLASSES: ReadonlySet<string> = new Set([
  SopClass.MrImageStorage,
  SopClass.EnhancedMrImageStorage,
  '1.2.840.10008.5.1.4.1.1.4.4', // Legacy Converted Enhanced MR Image Storage
]);

function imageTypeHit(s: SeriesSummary, values: string[]): string | undefined {
  return values.find((v) => s.imageType.includes(v));
}

export function builtInExclusion(s: SeriesSummary): string | undefined {
  if (s.sopClassUid && !MR_IMAGE_CLASSES.has(s.sopClassUid)) return `not an MR image (SOP Class ${s.sopClassUid})`;
  if (s.modality && s.modality !== 'MR') return `not an MR image (Modality ${s.modality})`;
  const desc = normalizeDescription(s.seriesDescription || s.protocolName);
  let hit = imageTypeHit(s, LOCALIZER_IMAGE_TYPE);
  if (hit) return `localizer (ImageType ${hit})`;
  let m = LOCALIZER_DESCRIPTION.exec(desc);
  if (m) return `localizer (description "${m[0]}")`;
  const standardPlanes = s.planes.filter((p) => p === 'axial' || p === 'sagittal' || p === 'coronal');
  if (standardPlanes.length > 1) return `mixes imaging planes (${standardPlanes.join(', ')}): a multi-plane localizer or mixed series`;
  hit = imageTypeHit(s, DIFFUSION_IMAGE_TYPE);
  if (hit) return `diffusion (ImageType ${hit})`;
  if (s.diffusionBValue !== undefined && s.diffusionBValue > 0) return `diffusion (DiffusionBValue ${s.diffusionBValue})`;
  m = DIFFUSION_DESCRIPTION.exec(desc);
  if (m) return `diffusion (description "${m[0]}")`;
  hit = imageTypeHit(s, DERIVED_IMAGE_TYPE);
  if (hit) return `derived reformat or projection (ImageType ${hit})`;
  m = DERIVED_DESCRIPTION.exec(desc);
  if (m) return `derived reformat or projection (description "${m[0]}")`;
  return undefined;
}
