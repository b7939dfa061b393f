/** The AE title as PS3.5 §6.2 allows it (VR AE): 1-16 characters of the default repertoire, no backslash, not all spaces. */
import { z } from 'zod';

export const AeTitleSchema = z
  .string()
  .min(1)
  .max(16)
  .regex(/^[\x20-\x5b\x5d-\x7e]*[\x21-\x5b\x5d-\x7e][\x20-\x5b\x5d-\x7e]*$/, 'AE title: 1-16 printable ASCII characters, no backslash, not all spaces')
  .transform((s) => s.trim());
