/**
 * What a model is for (the manifest's `task`). A low fact shared by infer/ (manifests, ensemble checks) and
 * analyses/ (which models an analysis scores), so that neither has to import the other's runtime code.
 */
export const MODEL_TASKS = [
  'localiser',
  'stage',
  'dmfs',
  'msom',
  'residual-ccrt',
  'residual-ic-ccrt',
  'progression-pre',
  'progression-post',
  'generic',
] as const;
export type ModelTask = (typeof MODEL_TASKS)[number];
