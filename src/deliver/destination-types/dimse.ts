/** DIMSE destinations: results go by C-STORE (PS3.4 Annex B), verification by C-ECHO (PS3.4 Annex A). */
import { z } from 'zod';
import { DimseDestinationSchema, type DimseDestination } from '../../core/destination-schemas';
import { storeInstances } from '../cstore-scu';
import { cEcho } from '../echo';
import type { DestinationTypeModule } from './types';

export const DimseTargetSchema = z.object({
  type: z.literal('dimse'),
  key: z.string(),
  /** A configured destination, or the calling AE of the study ("back to the sender"). */
  origin: z.enum(['destination', 'sender']),
  aeTitle: z.string(),
  host: z.string(),
  port: z.number(),
  callingAeTitle: z.string(),
  /** DICOM TLS: file names only (the files are read at send time). */
  tls: z
    .object({ caFile: z.string().optional(), certFile: z.string().optional(), keyFile: z.string().optional(), rejectUnauthorized: z.boolean().optional() })
    .optional(),
});
export type DimseTarget = z.infer<typeof DimseTargetSchema>;

export const dimseDestinations: DestinationTypeModule<DimseDestination, DimseTarget> = {
  type: 'dimse',
  schema: DimseDestinationSchema,
  targetSchema: DimseTargetSchema,
  target: (d, calledAeTitle) => ({
    type: 'dimse',
    key: d.name,
    origin: 'destination',
    aeTitle: d.aeTitle,
    host: d.host,
    port: d.port,
    callingAeTitle: d.callingAeTitle ?? calledAeTitle,
    ...(d.tls ? { tls: d.tls } : {}),
  }),
  describe: (t) => `C-STORE${t.tls ? ' over TLS' : ''} to ${t.aeTitle}@${t.host}:${t.port} as ${t.callingAeTitle}`,
  async send(t, files, ctx) {
    const o = await storeInstances(
      { host: t.host, port: t.port, calledAeTitle: t.aeTitle, callingAeTitle: t.callingAeTitle, tls: t.tls },
      files,
      { responseTimeoutSeconds: ctx.responseTimeoutSeconds, signal: ctx.signal },
    );
    return { results: o.results, ...(o.error ? { error: o.error } : {}) };
  },
  echo: (d, opts) =>
    cEcho({ host: d.host, port: d.port, calledAeTitle: d.aeTitle, callingAeTitle: d.callingAeTitle ?? opts.callingAeTitle, tls: d.tls }, opts.timeoutSeconds),
  publicView: (d) => d,
  credentials: () => ({}),
  keptOnUpdate: () => ({}),
};
