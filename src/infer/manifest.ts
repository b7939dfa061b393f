/**
 * The model manifest (models/<id>/manifest.json): what a model is, what it needs and how its outputs
 * become a patient answer. One zod schema gives the type and the runtime check; cross-field rules
 * (output names, CAM source, clinical vector width, ...) are checked in `checkManifest`. Format: docs/model-manifest.md.
 */
import { z } from 'zod';
import { MODEL_TASKS, type ModelTask } from '../core/model-tasks';
import { PreparationStepSchema, RegionSchema } from '../prepare/steps';

export const MANIFEST_SCHEMA_VERSION = 1;

export const ModelTaskSchema = z.enum(MODEL_TASKS);
export type { ModelTask };

/** A dimension: a positive size, or -1 / "N" (or any other name) for a free (batch) axis. */
const DimSchema = z.union([z.number().int().refine((n) => n === -1 || n > 0, 'a dimension is -1 or a positive size'), z.string().min(1)]);
export type Dim = z.infer<typeof DimSchema>;

export const ImageInputSchema = z.strictObject({
  name: z.string().min(1),
  kind: z.literal('image').default('image'),
  /** [batch, channels, rows, columns]; batch is -1 or "N" for a dynamic batch. */
  shape: z.array(DimSchema).length(4),
  /** Series roles filling the channels, in channel order (e.g. ["ce-t1"] or ["ce-t1", "t2"]). */
  roles: z.array(z.string().min(1)).min(1),
});

export const ClinicalInputSchema = z.strictObject({
  name: z.string().min(1),
  kind: z.literal('clinical'),
  /** [batch, width of the encoded clinical vector]. */
  shape: z.array(DimSchema).length(2),
});

export const ModelInputSchema = z.discriminatedUnion('kind', [ImageInputSchema, ClinicalInputSchema]);
export type ModelInput = z.infer<typeof ModelInputSchema>;
export type ImageInput = z.infer<typeof ImageInputSchema>;

export const OutputMeaningSchema = z.enum(['probability', 'logits', 'cam', 'mask', 'features']);

export const ModelOutputSchema = z.strictObject({
  name: z.string().min(1),
  meaning: OutputMeaningSchema,
  shape: z.array(DimSchema).min(1).optional(),
  /** For probability/logits: the index of the positive class ([N,1] sigmoid: 0; [N,2] softmax: usually 1). */
  positiveIndex: z.number().int().min(0).optional(),
  /** For masks: the label of each channel. */
  labels: z.array(z.enum(['GTV', 'GTVln'])).optional(),
});
export type ModelOutput = z.infer<typeof ModelOutputSchema>;

export const SliceSelectionSchema = z.discriminatedUnion('mode', [
  z.strictObject({ mode: z.literal('all') }),
  z.strictObject({ mode: z.literal('tumour-slices'), region: RegionSchema.default('gtv+gtvln') }),
  z.strictObject({ mode: z.literal('largest-tumour'), region: RegionSchema.default('gtv') }),
  z.strictObject({ mode: z.literal('top-k'), k: z.number().int().min(1), region: RegionSchema.default('gtv+gtvln') }),
]);
export type SliceSelection = z.infer<typeof SliceSelectionSchema>;

export const AggregationSchema = z.enum(['mean', 'weighted-mean-by-area', 'single']);
export type Aggregation = z.infer<typeof AggregationSchema>;

export const CamSpecSchema = z.discriminatedUnion('kind', [
  /** The graph outputs the map itself ([N,h,w] or [N,1,h,w]); for GAP + linear heads it equals Grad-CAM. */
  z.strictObject({ kind: z.literal('in-graph'), output: z.string().min(1) }),
  /** The graph outputs the last feature map [N,C,h,w]; cam = relu(sum_c weights[c] * A_c). */
  z.strictObject({ kind: z.literal('feature-map+weights'), output: z.string().min(1), weights: z.array(z.number()).min(1) }),
]);
export type CamSpec = z.infer<typeof CamSpecSchema>;

export const CutoffSchema = z.strictObject({
  value: z.number().min(0).max(1),
  /** How the cut-off was chosen, in words (e.g. "median predicted risk of the training cohort"). */
  method: z.string().min(1),
});
export type Cutoff = z.infer<typeof CutoffSchema>;

export const ClinicalVariableSchema = z.enum([
  'nStage',
  'ebvDnaCopiesPerMl',
  'treatment',
  'age',
  'sex',
  'clinicalStage',
  'pni',
  'haemoglobinGPerL',
  'doseGy',
  'cisplatinMgM2',
  'cycles',
]);
export type ClinicalVariable = z.infer<typeof ClinicalVariableSchema>;

/** How one clinical variable becomes one or more numbers of the clinical vector. */
export const ClinicalEncodingSchema = z.discriminatedUnion('kind', [
  /** (x - mean) / std: one number. */
  z.strictObject({ variable: ClinicalVariableSchema, kind: z.literal('standardise'), mean: z.number(), std: z.number().positive() }),
  /** One number per category, 1 for the patient's. A value outside the categories cannot be encoded. */
  z.strictObject({ variable: ClinicalVariableSchema, kind: z.literal('one-hot'), categories: z.array(z.string()).min(1) }),
  /** The index of the value in `levels` (e.g. N0..N3 -> 0..3): one number. */
  z.strictObject({ variable: ClinicalVariableSchema, kind: z.literal('ordinal'), levels: z.array(z.string()).min(1) }),
  /** 1 when x >= threshold, else 0 (e.g. EBV-DNA >= 4000 copies/mL): one number. */
  z.strictObject({ variable: ClinicalVariableSchema, kind: z.literal('threshold'), threshold: z.number() }),
]);
export type ClinicalEncoding = z.infer<typeof ClinicalEncodingSchema>;

export const ClinicalSpecSchema = z.discriminatedUnion('use', [
  /** Logistic combination of the image score with the encoded clinical vector (paper 003, DMFS). */
  z.strictObject({
    use: z.literal('logistic'),
    encoding: z.array(ClinicalEncodingSchema).min(1),
    logistic: z.strictObject({
      intercept: z.number(),
      imageCoefficient: z.number(),
      /** What enters the regression: the image probability itself or its logit. */
      imageTransform: z.enum(['identity', 'logit']).default('identity'),
      /** One coefficient per number of the encoded vector, in order. */
      coefficients: z.array(z.number()).min(1),
    }),
    /** Cut-off on the combined risk (the manifest's `cutoff` applies to the image-only score). */
    cutoff: CutoffSchema,
  }),
  /** The encoded clinical vector is a second input tensor of the graph (paper 004, MSOM early fusion). */
  z.strictObject({ use: z.literal('input'), input: z.string().min(1), encoding: z.array(ClinicalEncodingSchema).min(1) }),
]);
export type ClinicalSpec = z.infer<typeof ClinicalSpecSchema>;

/** Measurements of the localiser's masks a signature can use (computed in src/analyses/localiser-measures.ts). */
export const LOCALISER_MEASURES = [
  'gtvVolumeMl',
  'gtvlnVolumeMl',
  'gtvAboveLargestMm',
  'gtvBelowLargestMm',
  'gtvlnLowestBelowLargestMm',
  'largestNodeDiameterMm',
  'gtvRelativeSignal',
  'gtvSignalCv',
  'gtvlnRelativeSignal',
] as const;
export type LocaliserMeasure = (typeof LOCALISER_MEASURES)[number];

/**
 * The model's image signature: a logistic combination of the networks' patient-level vote (as its logit) with
 * measurements of the localiser's masks (src/analyses/localiser-measures.ts), fitted on the training split.
 * With a signature, `cutoff` applies to the signature, and a clinical logistic combination takes the signature
 * as its image score. All members of an ensemble carry the same signature; the first member's is used.
 */
export const SignatureSpecSchema = z.strictObject({
  intercept: z.number(),
  /** Coefficient of logit(vote of the task's networks). */
  voteCoefficient: z.number(),
  measures: z
    .array(
      z.strictObject({
        measure: z.enum(LOCALISER_MEASURES),
        /** log1p for volumes and sizes (skewed), identity for heights. */
        transform: z.enum(['identity', 'log1p']),
        coefficient: z.number(),
      }),
    )
    .min(1),
});
export type SignatureSpec = z.infer<typeof SignatureSpecSchema>;

export const ModelManifestSchema = z.strictObject({
  schemaVersion: z.literal(MANIFEST_SCHEMA_VERSION),
  id: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'id: lower-case letters, digits, . _ - (at most 64)'),
  name: z.string().min(1).max(128),
  version: z.string().min(1).max(64),
  task: ModelTaskSchema,
  /** The ONNX file, relative to the model's directory. */
  file: z.string().min(1).refine((f) => !f.includes('..') && !f.startsWith('/'), 'file: a path inside the model directory'),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'sha256: 64 lower-case hex digits'),
  /** Class labels for the answer (e.g. III / IVa); absent for localisers. */
  classes: z.strictObject({ negative: z.string().min(1), positive: z.string().min(1) }).optional(),
  inputs: z.array(ModelInputSchema).min(1),
  outputs: z.array(ModelOutputSchema).min(1),
  preparation: z.array(PreparationStepSchema),
  sliceSelection: SliceSelectionSchema.default({ mode: 'all' }),
  aggregation: AggregationSchema.default('mean'),
  cam: CamSpecSchema.optional(),
  cutoff: CutoffSchema.optional(),
  clinical: ClinicalSpecSchema.optional(),
  signature: SignatureSpecSchema.optional(),
  /** Localiser post-processing: probability threshold and the smallest component kept (model-input pixels). */
  localisation: z
    .strictObject({ threshold: z.number().min(0).max(1).default(0.5), minAreaPx: z.number().int().min(1).default(4) })
    .optional(),
  intendedUse: z.string().min(1),
  researchUseOnly: z.literal(true),
  trainingData: z.string().min(1),
  metrics: z.record(z.string(), z.union([z.number(), z.string()])).default({}),
});
export type ModelManifest = z.infer<typeof ModelManifestSchema>;

/** Number of values the clinical encoding produces. */
export function clinicalVectorWidth(encoding: ClinicalEncoding[]): number {
  return encoding.reduce((n, e) => n + (e.kind === 'one-hot' ? e.categories.length : 1), 0);
}

export function isDynamicDim(d: Dim): boolean {
  return typeof d === 'string' || d === -1;
}

/** Cross-field rules a schema cannot state. Returns every problem found (empty when the manifest is sound). */
export function checkManifest(m: ModelManifest): string[] {
  const problems: string[] = [];
  const outputNames = new Set(m.outputs.map((o) => o.name));
  const inputNames = new Set(m.inputs.map((i) => i.name));
  if (outputNames.size !== m.outputs.length) problems.push('outputs: duplicate names');
  if (inputNames.size !== m.inputs.length) problems.push('inputs: duplicate names');
  const images = m.inputs.filter((i): i is ImageInput => i.kind === 'image');
  if (images.length !== 1) problems.push(`inputs: exactly one image input is supported (found ${images.length})`);
  for (const img of images) {
    for (const d of img.shape.slice(1)) if (isDynamicDim(d)) problems.push(`inputs.${img.name}: only the batch axis may be dynamic`);
    const channels = img.shape[1];
    const replicates = m.preparation.some((s) => s.op === 'imagenet');
    const expected = replicates ? 3 * img.roles.length : img.roles.length;
    if (typeof channels === 'number' && channels !== expected) {
      problems.push(`inputs.${img.name}: ${channels} channels but ${img.roles.length} role(s)${replicates ? ' replicated to 3 by imagenet' : ''} give ${expected}`);
    }
    const last = [...m.preparation].reverse().find((s) => s.op === 'resize');
    if (!last) problems.push('preparation: must end the geometric steps with a resize to the input size');
    else if (last.rows !== img.shape[2] || last.columns !== img.shape[3]) {
      problems.push(`preparation: resize to ${last.rows}x${last.columns} but input ${img.name} is ${String(img.shape[2])}x${String(img.shape[3])}`);
    }
  }
  if (m.task === 'localiser') {
    const mask = m.outputs.find((o) => o.meaning === 'mask');
    if (!mask) problems.push('localiser: needs an output with meaning "mask"');
    else if (!mask.labels?.length) problems.push(`outputs.${mask.name}: a mask needs labels (GTV, GTVln) per channel`);
  } else {
    const probs = m.outputs.filter((o) => o.meaning === 'probability' || o.meaning === 'logits');
    if (probs.length !== 1) problems.push(`outputs: exactly one probability or logits output is needed (found ${probs.length})`);
    if (!m.cutoff) problems.push('cutoff: required for a scoring model');
    if (!m.classes) problems.push('classes: required for a scoring model (negative / positive labels)');
    if (!m.cam) problems.push('cam: required for a scoring model (every score has a heat map)');
  }
  if (m.cam) {
    const o = m.outputs.find((x) => x.name === m.cam!.output);
    const want = m.cam.kind === 'in-graph' ? 'cam' : 'features';
    if (!o) problems.push(`cam.output: "${m.cam.output}" is not among the outputs`);
    else if (o.meaning !== want) problems.push(`cam.output: "${m.cam.output}" has meaning "${o.meaning}", expected "${want}"`);
    if (m.cam.kind === 'feature-map+weights' && o?.shape && o.shape.length === 4 && typeof o.shape[1] === 'number' && o.shape[1] !== m.cam.weights.length) {
      problems.push(`cam.weights: ${m.cam.weights.length} weights for a ${o.shape[1]}-channel feature map`);
    }
  }
  if (m.clinical) {
    const width = clinicalVectorWidth(m.clinical.encoding);
    if (m.clinical.use === 'logistic' && m.clinical.logistic.coefficients.length !== width) {
      problems.push(`clinical.logistic.coefficients: ${m.clinical.logistic.coefficients.length} given, the encoding gives ${width} values`);
    }
    if (m.clinical.use === 'input') {
      const input = m.inputs.find((i) => i.name === (m.clinical as { input: string }).input);
      if (!input) problems.push(`clinical.input: "${m.clinical.input}" is not among the inputs`);
      else if (input.kind !== 'clinical') problems.push(`clinical.input: "${m.clinical.input}" is not a clinical input`);
      else if (typeof input.shape[1] === 'number' && input.shape[1] !== width) {
        problems.push(`inputs.${input.name}: width ${input.shape[1]} but the clinical encoding gives ${width} values`);
      }
    }
  }
  if (m.inputs.some((i) => i.kind === 'clinical') && m.clinical?.use !== 'input') {
    problems.push('inputs: a clinical input needs clinical.use = "input"');
  }
  if (m.signature && m.task === 'localiser') problems.push('signature: a localiser has no vote to combine');
  if (m.signature && new Set(m.signature.measures.map((x) => x.measure)).size !== m.signature.measures.length) {
    problems.push('signature.measures: a measure is listed twice');
  }
  if ((m.sliceSelection.mode === 'largest-tumour') !== (m.aggregation === 'single') && m.task !== 'localiser') {
    problems.push('aggregation "single" goes with sliceSelection "largest-tumour" (and only with it)');
  }
  return problems;
}
