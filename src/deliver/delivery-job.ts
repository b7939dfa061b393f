/**
 * A delivery job as the outbox sees it: the row of src/jobs/delivery-job-repository.ts with its payload
 * (the target and each SOP instance's state) and history parsed.
 */
import { z } from 'zod';
import { DELIVERY_KIND, type DeliveryJobState } from '../jobs/delivery-job-repository';
import type { JobRow } from '../jobs/job-store';
import { DeliveryTargetSchema, type DeliveryTarget } from './destination-types';

export { DELIVERY_KIND, type DeliveryJobState } from '../jobs/delivery-job-repository';

export const DeliveryFileStateSchema = z.object({
  path: z.string(),
  sopInstanceUid: z.string(),
  sopClassUid: z.string(),
  /** pending: not sent yet (or sent again after a retry); sent: stored by the destination; failed: the last attempt failed. */
  state: z.enum(['pending', 'sent', 'failed']),
  /** Outcome of the last attempt for this instance. */
  message: z.string().optional(),
  status: z.number().optional(),
  permanent: z.boolean().optional(),
  sentAt: z.string().optional(),
});
export type DeliveryFileState = z.infer<typeof DeliveryFileStateSchema>;

export const DeliveryPayloadSchema = z.object({ target: DeliveryTargetSchema, files: z.array(DeliveryFileStateSchema) });
export type DeliveryPayload = z.infer<typeof DeliveryPayloadSchema>;

export const DeliveryHistoryEntrySchema = z.object({
  at: z.string(),
  event: z.string(),
  attempt: z.number().optional(),
  message: z.string().optional(),
  sent: z.number().optional(),
  failed: z.number().optional(),
});
export type DeliveryHistoryEntry = z.infer<typeof DeliveryHistoryEntrySchema>;

export interface DeliveryJob {
  id: number;
  kind: typeof DELIVERY_KIND;
  state: DeliveryJobState;
  studyInstanceUid: string;
  calledAeTitle: string | null;
  parentJobId: number | null;
  destination: string;
  target: DeliveryTarget;
  files: DeliveryFileState[];
  attempts: number;
  nextAttemptAt: string | null;
  error: string | null;
  createdAt: string;
  updatedAt: string;
  history: DeliveryHistoryEntry[];
}

export function toDeliveryJob(row: JobRow): DeliveryJob {
  const payload = DeliveryPayloadSchema.parse(JSON.parse(row.payload_json ?? '{}'));
  const history = z.array(DeliveryHistoryEntrySchema).catch([]).parse(JSON.parse(row.history_json || '[]'));
  return {
    id: row.id,
    kind: DELIVERY_KIND,
    state: row.state as DeliveryJobState,
    studyInstanceUid: row.study_instance_uid,
    calledAeTitle: row.called_ae_title,
    parentJobId: row.parent_job_id,
    destination: row.destination ?? payload.target.key,
    target: payload.target,
    files: payload.files,
    attempts: row.attempts,
    nextAttemptAt: row.next_attempt_at,
    error: row.error,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    history,
  };
}
