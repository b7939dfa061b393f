/**
 * Feeds the audit trail from the events the stages already emit: the DIMSE server's association
 * decisions, the assembler's study-received / job-created, the job store's finished analyses, the
 * outbox's delivery updates. Observers only: a failure here is logged and changes nothing for a peer.
 * Studies are named by StudyInstanceUID and accession number, never by patient.
 */
import type { EventEmitter } from 'node:events';
import type { JobCreatedEvent, StudyReceivedEvent } from '../assemble/study-assembler';
import type { DeliveryJob } from '../deliver/outbox';
import type { JobFinishedEvent } from '../jobs/job-store';
import type { AssociationDecidedEvent } from '../receive/dimse/store-scp';
import type { AuditRecorder } from './audit-log';

export interface AuditSources {
  assembler: EventEmitter;
  jobs: EventEmitter;
  outbox: EventEmitter;
  /** Accession number of a study (from its stored instances), when it has one. */
  accessionOf?: (studyInstanceUid: string) => string | undefined;
}

const short = (s: string | null | undefined) => (s == null ? undefined : s.slice(0, 500));

/** The DIMSE server's onAssociationDecided hook. */
export function auditAssociation(audit: AuditRecorder): (ev: AssociationDecidedEvent) => void {
  return (ev) =>
    audit.record(ev.accepted ? 'association-accepted' : 'association-refused', {
      actor: { name: ev.callingAeTitle, role: 'dicom-peer' },
      callingAeTitle: ev.callingAeTitle,
      calledAeTitle: ev.calledAeTitle,
      remoteAddress: ev.remoteAddress,
      ...(ev.accepted ? { acceptedContexts: ev.acceptedContexts, proposedContexts: ev.proposedContexts } : { reason: ev.reason, message: ev.message }),
    });
}

/** Subscribes; returns the function that unsubscribes. */
export function connectAudit(audit: AuditRecorder, src: AuditSources, onError: (e: unknown) => void = () => undefined): () => void {
  const guard =
    <T>(f: (ev: T) => void) =>
    (ev: T) => {
      try {
        f(ev);
      } catch (e) {
        onError(e);
      }
    };
  const onReceived = guard((ev: StudyReceivedEvent) =>
    audit.record('study-received', {
      studyInstanceUid: ev.studyInstanceUid,
      accessionNumber: ev.accessionNumber,
      calledAeTitle: ev.calledAeTitle,
      callingAeTitle: ev.callingAeTitle,
      via: ev.via,
      reopened: ev.reopened,
    }),
  );
  const onComplete = guard((ev: JobCreatedEvent) =>
    audit.record('study-complete', {
      studyInstanceUid: ev.study.studyInstanceUid,
      accessionNumber: src.accessionOf?.(ev.study.studyInstanceUid),
      calledAeTitle: ev.study.calledAeTitle,
      generation: ev.job.generation,
      reason: ev.reason,
      analysisJobId: ev.job.id,
      supersededJobIds: ev.supersededJobIds,
    }),
  );
  const onFinished = guard(({ job, outcome }: JobFinishedEvent) => {
    if (job.kind !== 'analysis') return;
    audit.record(outcome === 'done' ? 'analysis-done' : 'analysis-failed', {
      studyInstanceUid: job.studyInstanceUid,
      accessionNumber: src.accessionOf?.(job.studyInstanceUid),
      calledAeTitle: job.calledAeTitle,
      generation: job.generation,
      jobId: job.id,
      state: job.state,
      attempts: job.attempts,
      ...(outcome === 'failed' ? { error: short(job.error) } : {}),
    });
  });
  const onDelivery = guard((job: DeliveryJob) => {
    const last = job.history[job.history.length - 1]?.event;
    const common = {
      studyInstanceUid: job.studyInstanceUid,
      accessionNumber: src.accessionOf?.(job.studyInstanceUid),
      destination: job.destination,
      jobId: job.id,
      attempts: job.attempts,
      files: job.files.length,
    };
    if (job.state === 'done') audit.record('result-delivered', { ...common, sent: job.files.filter((f) => f.state === 'sent').length });
    else if (job.state === 'failed' || job.state === 'dead') audit.record('delivery-failed', { ...common, state: job.state, final: true, error: short(job.error) });
    else if (job.state === 'queued' && last === 'retry-scheduled') audit.record('delivery-failed', { ...common, state: job.state, final: false, nextAttemptAt: job.nextAttemptAt, error: short(job.error) });
  });
  src.assembler.on('study-received', onReceived);
  src.assembler.on('job-created', onComplete);
  src.jobs.on('finished', onFinished);
  src.outbox.on('job-updated', onDelivery);
  return () => {
    src.assembler.off('study-received', onReceived);
    src.assembler.off('job-created', onComplete);
    src.jobs.off('finished', onFinished);
    src.outbox.off('job-updated', onDelivery);
  };
}
