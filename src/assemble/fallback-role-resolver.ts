/**
 * A FALLBACK series-role resolver, used only until the rule-based selector from src/select is wired in.
 * Heuristics: axial orientation (ImageOrientationPatient, else "AX"/"TRA" in the description), contrast
 * from ContrastBolusAgent or "+C|POST|GAD|CE" in the description, T1/T2 from the description (or TR/TE
 * when the description says neither). Localizers, diffusion (DWI/ADC/TRACE), sagittal and coronal series
 * are never chosen. Among several candidates for a role the series with most instances wins, then the
 * lowest SeriesNumber.
 */
import type { InstanceHeader } from '../store/instance-types';
import type { SeriesHeaders, SeriesRoleResolver } from './series-roles';

export interface FallbackResolverOptions {
  /** Fewest instances a series needs to fill a role (a volume, not a single slice). */
  minInstances?: number;
  /** Largest angle between the slice normal and the patient's z axis for an axial series. */
  axialToleranceDegrees?: number;
}

const EXCLUDED_DESCRIPTION = /LOC|SCOUT|SURVEY|PILOT|DWI|DIFF|ADC|TRACE|\bEXP\b|\bSAG|\bCOR|MIP|\bSUB/i;
const EXCLUDED_IMAGE_TYPE = /LOCALIZER|ADC|DIFFUSION|TRACEW|PROJECTION/i;
const CONTRAST_DESCRIPTION = /\+C|C\+|POST|GAD|(^|[^A-Z])CE([^A-Z]|$)|CONTRAST/i;
const AXIAL_DESCRIPTION = /(^|[^A-Z])(AX|TRA|AXIAL|TRANS)/i;

export function createFallbackRoleResolver(opts: FallbackResolverOptions = {}): SeriesRoleResolver {
  const minInstances = opts.minInstances ?? 3;
  const cosTolerance = Math.cos(((opts.axialToleranceDegrees ?? 20) * Math.PI) / 180);
  return (series: SeriesHeaders[]) => {
    const candidates = new Map<string, { uid: string; count: number; seriesNumber: number }[]>();
    for (const s of series) {
      if (s.headers.length < minInstances) continue;
      const role = classifySeries(s.headers[0]!, cosTolerance);
      if (!role) continue;
      const list = candidates.get(role) ?? [];
      list.push({ uid: s.seriesInstanceUid, count: s.headers.length, seriesNumber: Number(s.headers[0]!.SeriesNumber ?? Infinity) });
      candidates.set(role, list);
    }
    const roles = new Map<string, string>();
    for (const [role, list] of candidates) {
      list.sort((a, b) => b.count - a.count || a.seriesNumber - b.seriesNumber || a.uid.localeCompare(b.uid));
      roles.set(role, list[0]!.uid);
    }
    return roles;
  };
}

/** The role one series would fill (judged on one representative header), or undefined. */
export function classifySeries(h: InstanceHeader, cosTolerance = Math.cos((20 * Math.PI) / 180)): 't1' | 't2' | 'ce-t1' | undefined {
  const description = `${h.SeriesDescription ?? ''} ${h.ProtocolName ?? ''}`.trim();
  const imageType = Array.isArray(h.ImageType) ? h.ImageType.join('\\') : String(h.ImageType ?? '');
  if (EXCLUDED_DESCRIPTION.test(description) || EXCLUDED_IMAGE_TYPE.test(imageType)) return undefined;
  if (!isAxial(h, description, cosTolerance)) return undefined;
  const contrast = (typeof h.ContrastBolusAgent === 'string' && h.ContrastBolusAgent.trim() !== '') || CONTRAST_DESCRIPTION.test(description);
  const weighting = weightingOf(h, description);
  if (weighting === 't2') return contrast ? undefined : 't2';
  if (weighting === 't1') return contrast ? 'ce-t1' : 't1';
  return undefined;
}

function weightingOf(h: InstanceHeader, description: string): 't1' | 't2' | undefined {
  const t1 = /T1/i.test(description);
  const t2 = /T2/i.test(description);
  if (t1 && !t2) return 't1';
  if (t2 && !t1) return 't2';
  if (t1 && t2) return undefined;
  const tr = Number(h.RepetitionTime);
  const te = Number(h.EchoTime);
  if (!Number.isFinite(tr) || !Number.isFinite(te)) return undefined;
  if (tr < 1000 && te < 30) return 't1';
  if (tr > 2000 && te > 60) return 't2';
  return undefined;
}

function isAxial(h: InstanceHeader, description: string, cosTolerance: number): boolean {
  const iop = h.ImageOrientationPatient;
  if (Array.isArray(iop) && iop.length === 6 && iop.every((v) => Number.isFinite(Number(v)))) {
    const [r0, r1, r2, c0, c1, c2] = iop.map(Number) as [number, number, number, number, number, number];
    const n = [r1 * c2 - r2 * c1, r2 * c0 - r0 * c2, r0 * c1 - r1 * c0];
    const len = Math.hypot(n[0]!, n[1]!, n[2]!);
    return len > 0 && Math.abs(n[2]!) / len >= cosTolerance;
  }
  return AXIAL_DESCRIPTION.test(description);
}
