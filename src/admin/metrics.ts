/**
 * Prometheus metrics (GET /metrics, text format): process defaults plus what an operator watches on this
 * node: instances received, studies and jobs by state, open associations, models and the provider in use.
 * Counts of stored state are read from the database at scrape time, so they survive restarts.
 */
import { Router } from 'express';
import client from 'prom-client';
import type { StudyRepository } from '../assemble/study-repository';
import type { JobStore } from '../jobs/job-store';
import type { InstanceStore } from '../store/instance-store';
import type { InstanceStoredEvent } from '../store/instance-types';
import type { FreeSpaceStatus, PurgedEvent } from './retention';
import type { PriorFinishedEvent, PriorQueryEvent, PriorRetrieval } from '../priors';
import { unexpectedErrorCounts } from '../util/unexpected-errors';

export interface MetricsSources {
  studies: Pick<StudyRepository, 'countByState'>;
  instances: InstanceStore;
  jobs: Pick<JobStore, 'countByKindAndState'>;
  models: { summaries(): { id: string; version: string; provider: string }[] };
  openAssociations: () => number;
  /** Retention and the free-space check (src/admin/retention.ts), when running. */
  retention?: {
    lastFreeSpace: FreeSpaceStatus | null;
    on(event: 'purged', fn: (e: PurgedEvent) => void): unknown;
  };
  /** Prior-study retrieval from the PACS ('query' and 'finished' events). */
  priors?: Pick<PriorRetrieval, 'on'>;
}

export function createMetrics(src: MetricsSources): { registry: client.Registry; router: Router } {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: 'npcai_' });
  const stored = new client.Counter({
    name: 'npcai_instances_received_total',
    help: 'Instances stored durably since start, by ingress and whether they were an identical resend',
    labelNames: ['via', 'duplicate'] as const,
    registers: [registry],
  });
  src.instances.on('stored', (ev: InstanceStoredEvent) => stored.inc({ via: ev.via, duplicate: String(ev.duplicate) }));
  new client.Counter({
    name: 'npcai_unexpected_errors_total',
    help: 'Unexpected errors caught (logged, never fatal) since start, by where: a timer, a promise chain, or the process-level handlers',
    labelNames: ['where'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [where, n] of unexpectedErrorCounts()) this.inc({ where }, n);
    },
  });
  new client.Gauge({
    name: 'npcai_quarantined_instances',
    help: 'Instances held in quarantine (patient identity differs from their study)',
    registers: [registry],
    collect() {
      this.set(src.instances.quarantineCount());
    },
  });
  new client.Gauge({
    name: 'npcai_instances_indexed',
    help: 'Instances in the store',
    registers: [registry],
    collect() {
      this.set(src.instances.count());
    },
  });
  new client.Gauge({
    name: 'npcai_studies',
    help: 'Studies by completion state',
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [state, n] of src.studies.countByState()) this.set({ state }, n);
    },
  });
  new client.Gauge({
    name: 'npcai_jobs',
    help: 'Analysis and delivery jobs by state (failed and dead need an operator)',
    labelNames: ['kind', 'state'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const r of src.jobs.countByKindAndState()) {
        this.set({ kind: r.kind, state: r.state }, r.n);
      }
    },
  });
  new client.Gauge({
    name: 'npcai_dimse_open_associations',
    help: 'DIMSE associations open now',
    registers: [registry],
    collect() {
      this.set(src.openAssociations());
    },
  });
  new client.Gauge({
    name: 'npcai_model_info',
    help: 'Loaded models (value 1) with their version and the execution provider in use',
    labelNames: ['id', 'version', 'provider'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const m of src.models.summaries()) this.set({ id: m.id, version: m.version, provider: m.provider }, 1);
    },
  });
  if (src.retention) {
    const retention = src.retention;
    new client.Gauge({
      name: 'npcai_storage_free_bytes',
      help: 'Free bytes of the data volume at the last free-space check (retention schedule)',
      registers: [registry],
      collect() {
        if (retention.lastFreeSpace) this.set(retention.lastFreeSpace.freeBytes);
      },
    });
    new client.Gauge({
      name: 'npcai_storage_free_space_state',
      help: 'Free-space check: 1 for the current state (ok, warning: below the warning level, below-watermark: instances refused)',
      labelNames: ['state'] as const,
      registers: [registry],
      collect() {
        this.reset();
        const now = retention.lastFreeSpace?.state;
        for (const state of ['ok', 'warning', 'below-watermark']) this.set({ state }, now === state ? 1 : 0);
      },
    });
    const purged = new client.Counter({ name: 'npcai_retention_purged_total', help: 'Purges since start, by kind (received instances of a study, result files of a study)', labelNames: ['kind'] as const, registers: [registry] });
    const freed = new client.Counter({ name: 'npcai_retention_freed_bytes_total', help: 'Bytes freed by retention since start', registers: [registry] });
    retention.on('purged', (e) => {
      purged.inc({ kind: e.kind });
      freed.inc(e.bytes);
    });
  }
  const priorQueries = new client.Counter({
    name: 'npcai_prior_queries_total',
    help: 'Prior-study queries to a PACS (C-FIND, QIDO-RS), each attempt, by source type and result',
    labelNames: ['source_type', 'result'] as const,
    registers: [registry],
  });
  const priorRetrievals = new client.Counter({
    name: 'npcai_prior_retrievals_total',
    help: 'Prior-study retrievals finished, by result (ok or the not-assessable reason) and method',
    labelNames: ['result', 'method'] as const,
    registers: [registry],
  });
  const priorInstances = new client.Counter({
    name: 'npcai_prior_instances_retrieved_total',
    help: 'Instances of prior studies brought into the store, by method',
    labelNames: ['method'] as const,
    registers: [registry],
  });
  const priorSeconds = new client.Histogram({
    name: 'npcai_prior_retrieval_seconds',
    help: 'Time from the start of a prior-study retrieval to its outcome',
    buckets: [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600],
    registers: [registry],
  });
  src.priors?.on('query', (e: PriorQueryEvent) => priorQueries.inc({ source_type: e.sourceType, result: e.result }));
  src.priors?.on('finished', (e: PriorFinishedEvent) => {
    const method = e.outcome.ok ? e.outcome.study.method : 'none';
    priorRetrievals.inc({ result: e.outcome.ok ? 'ok' : e.outcome.reason, method });
    if (e.outcome.ok && method !== 'already-stored') priorInstances.inc({ method }, e.outcome.study.sopInstanceUids.length);
    priorSeconds.observe(e.durationMs / 1000);
  });
  const router = Router();
  router.get('/metrics', async (_req, res) => {
    res.setHeader('Content-Type', registry.contentType);
    res.send(await registry.metrics());
  });
  return { registry, router };
}
