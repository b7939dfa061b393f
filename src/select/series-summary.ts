/**
 * One series reduced to the attributes selection rules look at. Reads classic MR headers and, for
 * Enhanced MR (one instance, many frames), the shared/per-frame functional groups when the index kept them.
 */
import type { InstanceHeader } from '../core/instance-header';
import { classifyOrientation, type OrientationClass } from './orientation';
import { detectContrast, type ContrastEvidence } from './contrast';
import { mostCommon } from '../util/most-common';

export interface SeriesInput {
  seriesInstanceUid: string;
  headers: InstanceHeader[];
}

export interface SeriesSummary {
  seriesInstanceUid: string;
  seriesDescription: string;
  protocolName: string;
  seriesNumber?: number;
  modality?: string;
  sopClassUid?: string;
  manufacturer?: string;
  imageType: string[];
  scanningSequence: string[];
  sequenceVariant: string[];
  repetitionTime?: number;
  echoTime?: number;
  inversionTime?: number;
  diffusionBValue?: number;
  /** The most common ImageOrientationPatient of the series' images, and its plane. */
  orientationVector?: number[];
  orientation: OrientationClass;
  /** Distinct orientation planes found (more than one: a multi-plane localiser or mixed series). */
  planes: string[];
  contrast: ContrastEvidence;
  /** Images in the series (frames for multi-frame instances). */
  imageCount: number;
}

function item(x: unknown): Record<string, unknown> | undefined {
  if (Array.isArray(x)) return x.length > 0 && typeof x[0] === 'object' ? (x[0] as Record<string, unknown>) : undefined;
  return x && typeof x === 'object' ? (x as Record<string, unknown>) : undefined;
}

function strings(x: unknown): string[] {
  if (x === undefined || x === null) return [];
  const list = Array.isArray(x) ? x : String(x).split('\\');
  return list.map((v) => String(v).trim().toUpperCase()).filter((v) => v.length > 0);
}

function num(x: unknown): number | undefined {
  const v = Array.isArray(x) ? x[0] : x;
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : undefined;
}

function numbers(x: unknown): number[] | undefined {
  if (!Array.isArray(x)) return undefined;
  const out = x.map((v) => num(v));
  return out.every((v) => v !== undefined) ? (out as number[]) : undefined;
}

/** A functional-group macro item: per-frame (first frame) first, then shared. */
function functionalGroup(h: InstanceHeader, macro: string): Record<string, unknown> | undefined {
  const perFrame = item(h.PerFrameFunctionalGroupsSequence);
  const shared = item(h.SharedFunctionalGroupsSequence);
  return item(perFrame?.[macro]) ?? item(shared?.[macro]);
}

export function headerOrientation(h: InstanceHeader): number[] | undefined {
  return numbers(h.ImageOrientationPatient) ?? numbers(functionalGroup(h, 'PlaneOrientationSequence')?.ImageOrientationPatient);
}

function headerRepetitionTime(h: InstanceHeader): number | undefined {
  return num(h.RepetitionTime) ?? num(functionalGroup(h, 'MRTimingAndRelatedParametersSequence')?.RepetitionTime);
}

function headerEchoTime(h: InstanceHeader): number | undefined {
  return num(h.EchoTime) ?? num(functionalGroup(h, 'MREchoSequence')?.EffectiveEchoTime) ?? num(h.EffectiveEchoTime);
}

function headerContrastAgent(h: InstanceHeader): string | undefined {
  if (typeof h.ContrastBolusAgent === 'string' && h.ContrastBolusAgent.trim() !== '') return h.ContrastBolusAgent;
  const seq = item(h.ContrastBolusAgentSequence);
  if (seq) return String(seq.CodeMeaning ?? seq.CodeValue ?? 'contrast agent (ContrastBolusAgentSequence)');
  return undefined;
}


export function summarizeSeries(series: SeriesInput): SeriesSummary {
  const hs = series.headers;
  const first = hs[0] ?? ({} as InstanceHeader);
  const orientations = hs.map(headerOrientation).filter((o): o is number[] => o !== undefined);
  const common = mostCommon(orientations, (o) => o.map((v) => v.toFixed(2)).join('/'));
  const planes = [...new Set(orientations.map((o) => classifyOrientation(o).plane))].sort();
  const imageCount = hs.reduce((n, h) => n + Math.max(1, num(h.NumberOfFrames) ?? 1), 0);
  const seriesDescription = typeof first.SeriesDescription === 'string' ? first.SeriesDescription : '';
  const agent = hs.map(headerContrastAgent).find((a) => a !== undefined);
  return {
    seriesInstanceUid: series.seriesInstanceUid,
    seriesDescription,
    protocolName: typeof first.ProtocolName === 'string' ? first.ProtocolName : '',
    seriesNumber: num(first.SeriesNumber),
    modality: first.Modality,
    sopClassUid: first.SOPClassUID,
    manufacturer: first.Manufacturer,
    imageType: [...new Set(hs.flatMap((h) => strings(h.ImageType)))],
    scanningSequence: strings(first.ScanningSequence),
    sequenceVariant: strings(first.SequenceVariant),
    repetitionTime: headerRepetitionTime(first),
    echoTime: headerEchoTime(first),
    inversionTime: num(first.InversionTime),
    diffusionBValue: hs.map((h) => num(h.DiffusionBValue)).find((b) => b !== undefined),
    orientationVector: common,
    orientation: classifyOrientation(common),
    planes,
    contrast: detectContrast({ seriesDescription: seriesDescription || String(first.ProtocolName ?? ''), contrastBolusAgent: agent }),
    imageCount,
  };
}
