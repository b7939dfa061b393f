/**
 * DICOMweb destinations: results go by STOW-RS (PS3.18 §10.5), verification by a QIDO-RS request
 * (GET {url}/studies?limit=1). The Authorization secret is read from the destination at send time, never
 * recorded in a job, and never shown by the API (only whether one is set).
 */
import { z } from 'zod';
import { DicomwebDestinationSchema, type DicomwebDestination } from '../../core/destination-schemas';
import { httpCheck } from '../echo';
import { stowInstances } from '../stow-client';
import type { DestinationTypeModule } from './types';

export const DicomwebTargetSchema = z.object({
  type: z.literal('dicomweb'),
  key: z.string(),
  origin: z.literal('destination'),
  /** Base URL; credentials are never recorded here. */
  url: z.string(),
  /** PEM CA bundle for an https server signed by a site CA (a file name, read at send time). */
  caFile: z.string().optional(),
});
export type DicomwebTarget = z.infer<typeof DicomwebTargetSchema>;

export const dicomwebDestinations: DestinationTypeModule<DicomwebDestination, DicomwebTarget> = {
  type: 'dicomweb',
  schema: DicomwebDestinationSchema,
  targetSchema: DicomwebTargetSchema,
  target: (d) => ({ type: 'dicomweb', key: d.name, origin: 'destination', url: d.url, ...(d.caFile ? { caFile: d.caFile } : {}) }),
  describe: (t) => `STOW-RS to ${t.url}`,
  async send(t, files, ctx) {
    const o = await stowInstances(
      { url: t.url, caFile: t.caFile, ...(ctx.authorization ? { authorization: ctx.authorization } : {}) },
      files,
      { timeoutSeconds: ctx.responseTimeoutSeconds, signal: ctx.signal },
    );
    return { results: o.results, ...(o.error ? { error: o.error } : {}) };
  },
  echo: (d, opts) => httpCheck(d.url, d.authorization, opts.timeoutSeconds, d.caFile),
  publicView: (d) => {
    const { authorization, ...rest } = d;
    return { ...rest, hasAuthorization: authorization !== undefined && authorization !== '' };
  },
  credentials: (d) => (d.authorization ? { authorization: d.authorization } : {}),
  keptOnUpdate: (existing, body) =>
    body.type === 'dicomweb' && !('authorization' in body) && existing.authorization !== undefined ? { authorization: existing.authorization } : {},
};
