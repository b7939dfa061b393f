/**
 * Series selection as data (in the spirit of MONAI Deploy's series selector): named rules, each with a
 * role and conditions (description regexes, ImageType include/exclude, orientation within a tolerance,
 * contrast, ScanningSequence/SequenceVariant, TR/TE ranges, image count). Pure and explainable: every series
 * that is not picked says why, rule by rule.
 *
 * Matching semantics: descriptions are matched case-insensitively with '_' read as a space (so `\b` works
 * on "t1_tse_tra"); SeriesDescription is used, ProtocolName when the description is empty. A list of
 * description patterns matches when any pattern matches; ImageType include needs every value, exclude
 * none. A condition on an attribute the series does not record (TR, TE, orientation) does not hold.
 * Each series fills at most one role; among candidates for a role the higher rule priority wins, then the
 * lower SeriesNumber, then more images, then the Series Instance UID (deterministic).
 */
import type { SelectionRule } from '../config/schema';
import { angleToPlane } from './orientation';
import { normalizeDescription } from './contrast';
import { builtInExclusion } from './exclusions';
import { summarizeSeries, type SeriesInput, type SeriesSummary } from './series-summary';
import { errorMessage } from '../util/error-message';

export interface SelectedSeries {
  seriesInstanceUid: string;
  /** Name of the rule that picked it. */
  rule: string;
  seriesDescription: string;
}

export interface RejectedSeries {
  seriesInstanceUid: string;
  seriesDescription: string;
  reasons: string[];
}

export interface SelectionResult {
  selected: Map<string, SelectedSeries>;
  rejected: RejectedSeries[];
  /** Roles named by the rules that no series fills, with a reason in words. */
  missing: Map<string, string>;
}

function compile(patterns: string[] | undefined, rule: string): RegExp[] | undefined {
  return patterns?.map((p) => {
    try {
      return new RegExp(p, 'i');
    } catch (e) {
      throw new Error(`selection rule ${rule}: invalid regular expression ${JSON.stringify(p)}: ${errorMessage(e)}`);
    }
  });
}

const upper = (xs: string[] | undefined) => xs?.map((x) => x.trim().toUpperCase());

function inRange(value: number | undefined, range: [number, number] | undefined, name: string): string | undefined {
  if (!range) return undefined;
  if (value === undefined) return `${name} not recorded (rule needs ${range[0]}-${range[1]} ms)`;
  if (value < range[0] || value > range[1]) return `${name} ${value} ms outside ${range[0]}-${range[1]} ms`;
  return undefined;
}

/** Every condition of `rule` that `s` fails, as words (empty when the rule matches). */
export function ruleFailures(rule: SelectionRule, s: SeriesSummary): string[] {
  const failures: string[] = [];
  const desc = normalizeDescription(s.seriesDescription || s.protocolName);
  const include = compile(rule.seriesDescription, rule.name);
  if (include && !include.some((r) => r.test(desc))) failures.push(`description "${desc}" does not match ${rule.seriesDescription!.join(' | ')}`);
  const exclude = compile(rule.seriesDescriptionExclude, rule.name);
  const excluded = exclude?.map((r) => r.exec(desc)).find((m) => m !== null);
  if (excluded) failures.push(`description contains excluded "${excluded[0]}"`);
  const itInclude = upper(rule.imageTypeInclude)?.filter((v) => !s.imageType.includes(v));
  if (itInclude && itInclude.length > 0) failures.push(`ImageType lacks ${itInclude.join(', ')}`);
  const itExclude = upper(rule.imageTypeExclude)?.filter((v) => s.imageType.includes(v));
  if (itExclude && itExclude.length > 0) failures.push(`ImageType has excluded ${itExclude.join(', ')}`);
  if (rule.orientation) {
    if (s.orientation.plane === 'unknown') failures.push('no usable ImageOrientationPatient');
    else {
      const angle = angleToPlane(s.orientationVector, rule.orientation);
      if (angle === undefined || angle > rule.orientationToleranceDegrees) {
        failures.push(`orientation ${s.orientation.plane} (${(angle ?? NaN).toFixed(0)}° from ${rule.orientation}, tolerance ${rule.orientationToleranceDegrees}°)`);
      }
    }
  }
  if (rule.contrast === 'required' && !s.contrast.contrast) failures.push(`no contrast: ${s.contrast.evidence}`);
  if (rule.contrast === 'forbidden' && s.contrast.contrast) failures.push(`contrast-enhanced: ${s.contrast.evidence}`);
  const ss = upper(rule.scanningSequence);
  if (ss && !ss.some((v) => s.scanningSequence.includes(v))) failures.push(`ScanningSequence ${s.scanningSequence.join('\\') || '(none)'} has none of ${ss.join(', ')}`);
  const ssx = upper(rule.scanningSequenceExclude)?.filter((v) => s.scanningSequence.includes(v));
  if (ssx && ssx.length > 0) failures.push(`ScanningSequence has excluded ${ssx.join(', ')}`);
  const sv = upper(rule.sequenceVariant);
  if (sv && !sv.some((v) => s.sequenceVariant.includes(v))) failures.push(`SequenceVariant ${s.sequenceVariant.join('\\') || '(none)'} has none of ${sv.join(', ')}`);
  const svx = upper(rule.sequenceVariantExclude)?.filter((v) => s.sequenceVariant.includes(v));
  if (svx && svx.length > 0) failures.push(`SequenceVariant has excluded ${svx.join(', ')}`);
  const tr = inRange(s.repetitionTime, rule.repetitionTimeMs, 'RepetitionTime');
  if (tr) failures.push(tr);
  const te = inRange(s.echoTime, rule.echoTimeMs, 'EchoTime');
  if (te) failures.push(te);
  if (s.imageCount < rule.minInstances) failures.push(`${s.imageCount} image(s), rule needs at least ${rule.minInstances}`);
  return failures;
}


interface Candidate {
  summary: SeriesSummary;
  rule: SelectionRule;
  order: number;
}

function better(a: Candidate, b: Candidate): number {
  if (a.rule.priority !== b.rule.priority) return b.rule.priority - a.rule.priority;
  const an = a.summary.seriesNumber ?? Number.MAX_SAFE_INTEGER;
  const bn = b.summary.seriesNumber ?? Number.MAX_SAFE_INTEGER;
  if (an !== bn) return an - bn;
  if (a.summary.imageCount !== b.summary.imageCount) return b.summary.imageCount - a.summary.imageCount;
  if (a.summary.seriesInstanceUid !== b.summary.seriesInstanceUid) return a.summary.seriesInstanceUid < b.summary.seriesInstanceUid ? -1 : 1;
  return a.order - b.order;
}

const ROLE_WORDS: Record<string, string> = { t1: 'axial T1-weighted', t2: 'axial T2-weighted', 'ce-t1': 'axial contrast-enhanced T1-weighted' };

/** Words for a role in "not assessable" reasons. */
export function describeRole(role: string): string {
  return ROLE_WORDS[role] ?? role;
}

export function selectSeries(series: SeriesInput[], rules: SelectionRule[]): SelectionResult {
  const summaries = series.map((s) => summarizeSeries(s));
  const reasons = new Map<string, string[]>();
  const candidates: Candidate[] = [];
  summaries.forEach((s) => {
    const r: string[] = [];
    reasons.set(s.seriesInstanceUid, r);
    if (s.imageCount === 0 || series.find((x) => x.seriesInstanceUid === s.seriesInstanceUid)!.headers.length === 0) {
      r.push('no images');
      return;
    }
    const exclusion = builtInExclusion(s);
    if (exclusion) {
      r.push(exclusion);
      return;
    }
    rules.forEach((rule, order) => {
      const failures = ruleFailures(rule, s);
      if (failures.length === 0) candidates.push({ summary: s, rule, order });
      else r.push(`${rule.name} (${rule.role}): ${failures.join('; ')}`);
    });
  });
  if (rules.length === 0) for (const r of reasons.values()) if (r.length === 0) r.push('no selection rules are configured');

  candidates.sort(better);
  const selected = new Map<string, SelectedSeries>();
  const used = new Map<string, string>();
  for (const c of candidates) {
    const uid = c.summary.seriesInstanceUid;
    const holder = selected.get(c.rule.role);
    if (!holder && !used.has(uid)) {
      selected.set(c.rule.role, { seriesInstanceUid: uid, rule: c.rule.name, seriesDescription: c.summary.seriesDescription });
      used.set(uid, c.rule.role);
      continue;
    }
    if (used.get(uid) === c.rule.role) continue; // a weaker rule for the role it already fills
    const why = used.has(uid)
      ? `already selected as ${used.get(uid)}`
      : `series ${holder!.seriesInstanceUid} ("${holder!.seriesDescription}", rule ${holder!.rule}) was preferred`;
    reasons.get(uid)!.push(`${c.rule.name} (${c.rule.role}): matched, but ${why}`);
  }

  const rejected: RejectedSeries[] = summaries
    .filter((s) => !used.has(s.seriesInstanceUid))
    .map((s) => ({ seriesInstanceUid: s.seriesInstanceUid, seriesDescription: s.seriesDescription, reasons: reasons.get(s.seriesInstanceUid)! }));

  const missing = new Map<string, string>();
  for (const role of new Set(rules.map((r) => r.role))) {
    if (selected.has(role)) continue;
    missing.set(role, series.length === 0 ? `no ${describeRole(role)} series: the study has no series` : `no ${describeRole(role)} series (${summaries.length} series considered, none matched a rule for ${role})`);
  }
  return { selected, rejected, missing };
}
