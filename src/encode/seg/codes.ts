/**
 * Coded concepts of the node's DICOM Segmentation, with where each was checked (no invented codes):
 * - 49755003 SCT "Morphologically Altered Structure": segmented property category (CID 7150), as written
 *   by highdicom and dcmqi examples (formerly SRT M-01000).
 * - 86049000 SCT "Neoplasm, Primary" and 14799000 SCT "Neoplasm, Secondary": segmented property types
 *   (CID 7151), DCMTK dcmsr/codes/sct.h (CODE_SCT_Neoplasm_Primary / CODE_SCT_Neoplasm_Secondary).
 * - 360955006 SCT "Nasopharynx" (the SR's finding site) and 59441001 SCT "Lymph node" (DCMTK
 *   CODE_SCT_LymphNode) as each segment's anatomic region.
 * - 123110 DCM "Artificial Intelligence": algorithm family (CID 7162, highdicom codes.cid7162).
 * - 113076 DCM "Segmentation": derivation code of each frame (what dcmjs's Segmentation writes).
 * - 121322 DCM "Source image for image processing operation": purpose of the source-image reference.
 */
import type { CodedConcept } from '../sr/codes';

const dcm = (value: string, meaning: string): CodedConcept => ({ value, scheme: 'DCM', meaning });
const sct = (value: string, meaning: string): CodedConcept => ({ value, scheme: 'SCT', meaning });

export const SegCodes = {
  MorphologicallyAlteredStructure: sct('49755003', 'Morphologically Altered Structure'),
  NeoplasmPrimary: sct('86049000', 'Neoplasm, Primary'),
  NeoplasmSecondary: sct('14799000', 'Neoplasm, Secondary'),
  Nasopharynx: sct('360955006', 'Nasopharynx'),
  LymphNode: sct('59441001', 'Lymph node'),
  ArtificialIntelligence: dcm('123110', 'Artificial Intelligence'),
  Segmentation: dcm('113076', 'Segmentation'),
  SourceImageForImageProcessingOperation: dcm('121322', 'Source image for image processing operation'),
} as const;
