/**
 * Tissue classes of the synthetic head-and-neck phantom. The phantom is a label map of these classes;
 * sequences.ts turns a label into a signal per MR sequence and field strength.
 */
export const Tissue = {
  Air: 0,
  Fat: 1,
  Muscle: 2,
  CorticalBone: 3,
  Marrow: 4,
  Mucosa: 5,
  Brain: 6,
  Csf: 7,
  Parotid: 8,
  Gland: 9,
  Artery: 10,
  Cord: 11,
  Skin: 12,
  BenignNode: 13,
  Tumour: 14,
  TumourNecrosis: 15,
  Node: 16,
  NodeNecrosis: 17,
  Cartilage: 18,
  Vein: 19,
  Vitreous: 20,
  Lymphoid: 21,
} as const;
export type TissueId = (typeof Tissue)[keyof typeof Tissue];
export const TISSUE_COUNT = 22;

/** Mask values written beside each T1/T2/CE-T1 series (uint8 per voxel). */
export const MaskLabel = {
  Background: 0,
  Gtv: 1,
  Gtvln: 2,
} as const;
