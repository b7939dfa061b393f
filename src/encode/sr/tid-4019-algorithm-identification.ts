/**
 * TID 4019 Algorithm Identification: Algorithm Name, Algorithm Version, then 0..n Algorithm Parameters
 * (HAS CONCEPT MOD TEXT, in this order, nothing else). The parameters state the cut-off, whether the score
 * is image-only or combined with clinical covariates, and which models (with checksum and provider) ran.
 */
import type { AssessedResult, ModelIdentity } from '../../analyses/types';
import { Dcm } from './codes';
import { textItem, formatDecimalString, type ContentItem } from './content-items';

/** A readable name for the model set behind a result (one model: its name; an ensemble: names joined). */
export function algorithmName(models: readonly ModelIdentity[]): string {
  if (models.length === 0) throw new Error('algorithm identification needs at least one model');
  const names = [...new Set(models.map((m) => m.name))];
  return names.length === 1 ? names[0]! : `Ensemble of ${models.length}: ${names.join(' + ')}`;
}

/** The version text: one version, or each model's version when they differ. */
export function algorithmVersion(models: readonly ModelIdentity[]): string {
  const versions = [...new Set(models.map((m) => m.version))];
  return versions.length === 1 ? versions[0]! : models.map((m) => `${m.id} ${m.version}`).join('; ');
}

/** The parameters that let a reader reproduce the score. */
export function algorithmParameters(result: AssessedResult): string[] {
  const params: string[] = [];
  if (result.cutoff !== undefined) params.push(`Cut-off: ${formatDecimalString(result.cutoff)}`);
  params.push(
    result.clinicalCovariatesUsed
      ? `Inputs: MR images combined with clinical covariates (${result.clinicalVariables.join(', ') || 'unspecified'})`
      : 'Inputs: MR images only (no clinical covariates)',
  );
  for (const m of result.models) {
    params.push(`Model ${m.id} ${m.version} sha256:${m.sha256.slice(0, 16)} on ${m.provider}`);
  }
  return params;
}

/** The TID 4019 items for a result, to be placed in its measurement group. */
export function algorithmIdentificationItems(result: AssessedResult): ContentItem[] {
  return [
    textItem('HAS CONCEPT MOD', Dcm.AlgorithmName, algorithmName(result.models)),
    textItem('HAS CONCEPT MOD', Dcm.AlgorithmVersion, algorithmVersion(result.models)),
    ...algorithmParameters(result).map((p) => textItem('HAS CONCEPT MOD', Dcm.AlgorithmParameters, p)),
  ];
}
