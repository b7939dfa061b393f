/**
 * The image-preparation steps a model manifest may declare, in order. One library (prepare/) executes
 * them for serving and for training export, so a model sees in service what it saw in training.
 */
import { z } from 'zod';

/** Which region a crop or mask refers to: the localiser's output on that slice. */
export const RegionSchema = z.enum(['gtv', 'gtvln', 'gtv+gtvln', 'whole']);
export type Region = z.infer<typeof RegionSchema>;

export const PreparationStepSchema = z.discriminatedUnion('op', [
  /** Resample in-plane to this pixel spacing (mm), bilinear. */
  z.strictObject({ op: z.literal('resample'), spacingMm: z.number().positive() }),
  /** Linear rescale of intensities to [min, max], clipping at the given percentiles of the slice (or volume). */
  z.strictObject({
    op: z.literal('normalize'),
    min: z.number().default(0),
    max: z.number().default(255),
    lowerPercentile: z.number().min(0).max(100).default(0.5),
    upperPercentile: z.number().min(0).max(100).default(99.5),
    scope: z.enum(['slice', 'volume']).default('volume'),
  }),
  /** Contrast limited adaptive histogram equalisation on 0-255 data (OpenCV semantics). */
  z.strictObject({ op: z.literal('clahe'), clipLimit: z.number().positive().default(2), tiles: z.number().int().min(1).default(8) }),
  /** Global histogram equalisation on 0-255 data. */
  z.strictObject({ op: z.literal('histeq') }),
  /** Set every pixel outside the region (its mask, or its box when no mask) to `value`. */
  z.strictObject({ op: z.literal('maskOutside'), region: RegionSchema, value: z.number().default(0) }),
  /** Rectangular crop around the region's bounding box with a margin (mm, or a fraction of the box). */
  z.strictObject({
    op: z.literal('crop'),
    region: RegionSchema,
    marginMm: z.number().min(0).default(0),
    marginFraction: z.number().min(0).default(0),
    /** Smallest side of the crop in mm (small lesions still show context). */
    minSizeMm: z.number().min(0).default(0),
  }),
  /** Zero-pad (never stretch) to a square. */
  z.strictObject({ op: z.literal('padSquare'), value: z.number().default(0) }),
  /** Resize to a fixed size, bilinear. */
  z.strictObject({ op: z.literal('resize'), rows: z.number().int().positive(), columns: z.number().int().positive() }),
  /** Divide by 255 then apply ImageNet mean/std per channel (replicates to 3 channels). */
  z.strictObject({ op: z.literal('imagenet') }),
  /** Linear map v -> v * scale + offset (e.g. 0-255 to 0-1). */
  z.strictObject({ op: z.literal('scale'), scale: z.number(), offset: z.number().default(0) }),
]);
export type PreparationStep = z.infer<typeof PreparationStepSchema>;
