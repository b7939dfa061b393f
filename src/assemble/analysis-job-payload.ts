/**
 * The payload of an analysis job (`jobs.payload_json`, kind 'analysis'): built here, at completion and at
 * re-analysis on demand, and read back through the parser here. The analysis stage re-selects series from
 * the store itself; `roles` records what completion saw.
 */
import { z } from 'zod';
import type { SeriesSummary, StudyRecord } from './study-repository';

export const AnalysisTriggerSchema = z.enum(['initial', 'late-instances', 'requested']);
export type AnalysisTrigger = z.infer<typeof AnalysisTriggerSchema>;

export const AnalysisJobPayloadSchema = z.object({
  studyInstanceUid: z.string().min(1),
  calledAeTitle: z.string().min(1),
  callingAeTitle: z.string(),
  /** Study generation (0-based, see src/core/generation.ts). */
  generation: z.number().int().min(0),
  reason: z.enum(['quiet', 'forced']),
  trigger: AnalysisTriggerSchema,
  /** Role -> SeriesInstanceUID as the resolver saw it at completion (empty for a requested re-analysis). */
  roles: z.record(z.string(), z.string()),
  missingRoles: z.array(z.string()),
  seriesCount: z.number().int().min(0),
  instanceCount: z.number().int().min(0),
  /** Id of the analysis job whose results this one replaces (also in parent_job_id), or null. */
  supersedesJobId: z.number().int().positive().nullable(),
});
export type AnalysisJobPayload = z.infer<typeof AnalysisJobPayloadSchema>;

export interface AnalysisJobPayloadInput {
  study: Pick<StudyRecord, 'studyInstanceUid' | 'calledAeTitle' | 'callingAeTitle'>;
  generation: number;
  reason: AnalysisJobPayload['reason'];
  trigger: AnalysisTrigger;
  roles?: ReadonlyMap<string, string>;
  missingRoles?: readonly string[];
  /** The study reception's series as indexed now (for the counts). */
  series: readonly Pick<SeriesSummary, 'instanceCount'>[];
  supersedesJobId: number | null;
}

export function buildAnalysisJobPayload(input: AnalysisJobPayloadInput): AnalysisJobPayload {
  return {
    studyInstanceUid: input.study.studyInstanceUid,
    calledAeTitle: input.study.calledAeTitle,
    callingAeTitle: input.study.callingAeTitle,
    generation: input.generation,
    reason: input.reason,
    trigger: input.trigger,
    roles: Object.fromEntries(input.roles ?? []),
    missingRoles: [...(input.missingRoles ?? [])],
    seriesCount: input.series.length,
    instanceCount: input.series.reduce((n, s) => n + s.instanceCount, 0),
    supersedesJobId: input.supersedesJobId,
  };
}

export class AnalysisJobPayloadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AnalysisJobPayloadError';
  }
}

/** Reads a stored payload; a malformed one is an AnalysisJobPayloadError naming each bad field. */
export function parseAnalysisJobPayload(payload: unknown): AnalysisJobPayload {
  const r = AnalysisJobPayloadSchema.safeParse(payload);
  if (!r.success) {
    throw new AnalysisJobPayloadError(`invalid analysis job payload: ${r.error.issues.map((i) => `${i.path.join('.') || '(payload)'}: ${i.message}`).join('; ')}`);
  }
  return r.data;
}
