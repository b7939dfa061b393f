/**
 * The training recipe (models/training/recipe.json): one entry per shipped model with what the node's
 * serving path needs (task, input role, preparation steps, slice selection, aggregation, clinical encoding)
 * and what training needs (architecture, label, epochs, cut-off method; passed through to train.py).
 * The export and the manifests are both derived from it, so training and serving cannot drift apart.
 */
import fs from 'node:fs';
import { z } from 'zod';
import { AggregationSchema, ClinicalEncodingSchema, LOCALISER_MEASURES, ModelTaskSchema, SliceSelectionSchema } from '../infer/manifest';
import { PreparationStepSchema } from '../prepare/steps';

/** Ground-truth labels the export can read from a synthetic cohort's labels.json. */
export const TrainingLabelSchema = z.enum(['stageIVa', 'dmfsHigh', 'msomHigh', 'residualCcrt', 'residualIcCcrt', 'progressionHigh']);
export type TrainingLabel = z.infer<typeof TrainingLabelSchema>;

export const RecipeModelSchema = z.looseObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/),
  name: z.string().min(1),
  task: ModelTaskSchema,
  /** The series role of the single image input (t1, t2, ce-t1). */
  role: z.string().min(1),
  /** Which study of the patient: pre-treatment (default) or the post-treatment follow-up. */
  study: z.enum(['pre', 'post']).default('pre'),
  label: TrainingLabelSchema.optional(),
  sliceSelection: SliceSelectionSchema,
  /** Training only: extra slices exported besides the serving selection (marked servingSlice = false). */
  trainSliceSelection: SliceSelectionSchema.optional(),
  aggregation: AggregationSchema.default('mean'),
  preparation: z.array(PreparationStepSchema).min(1),
  /** Clinical covariates: a logistic combination with the image score (DMFS) or an early-fusion input (MSOM). */
  clinical: z.strictObject({ use: z.enum(['logistic', 'input']), encoding: z.array(ClinicalEncodingSchema).min(1) }).optional(),
  /** Image signature (src/training/fit-signatures.ts): the localiser measures combined with the networks' vote. */
  signature: z
    .strictObject({ measures: z.array(z.strictObject({ measure: z.enum(LOCALISER_MEASURES), transform: z.enum(['identity', 'log1p']) })).min(1) })
    .optional(),
});
export type RecipeModel = z.infer<typeof RecipeModelSchema>;

export const RecipeSchema = z.looseObject({ models: z.array(RecipeModelSchema).min(1) });
export type Recipe = z.infer<typeof RecipeSchema>;

export function readRecipe(file: string): Recipe {
  const parsed = RecipeSchema.safeParse(JSON.parse(fs.readFileSync(file, 'utf8')));
  if (!parsed.success) {
    throw new Error(`recipe ${file}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  const ids = new Set<string>();
  for (const m of parsed.data.models) {
    if (ids.has(m.id)) throw new Error(`recipe ${file}: duplicate model id ${m.id}`);
    ids.add(m.id);
    if (m.task !== 'localiser' && m.task !== 'generic' && !m.label) throw new Error(`recipe ${file}: model ${m.id} needs a label`);
  }
  return parsed.data;
}
