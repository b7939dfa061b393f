/**
 * Prometheus metrics (GET /metrics, text format): process defaults plus what an operator watches on this
 * node: instances received, studies and jobs by state, open associations, models and the provider in use.
 * Counts of stored state are read from the database at scrape time, so they survive restarts.
 */
import { Router } from 'express';
import client from 'prom-client';
import type { StudyRepository } from '../assemble/study-repository';
import type { JobStore } from '../jobs/job-store';
import type { Db } from '../store/database';
import type { InstanceStore } from '../store/instance-store';
import type { InstanceStoredEvent } from '../store/instance-types';
import { unexpectedErrorCounts } from '../util/unexpected-errors';

export interface MetricsSources {
  db: Db;
  studies: Pick<StudyRepository, 'countByState'>;
  instances: InstanceStore;
  jobs: Pick<JobStore, 'countByKindAndState'>;
  models: { summaries(): { id: string; version: string; provider: string }[] };
  openAssociations: () => number;
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
      this.set((src.db.prepare('SELECT COUNT(*) AS n FROM quarantine').get() as { n: number }).n);
    },
  });
  new client.Gauge({
    name: 'npcai_instances_indexed',
    help: 'Instances in the store',
    registers: [registry],
    collect() {
      this.set((src.db.prepare('SELECT COUNT(*) AS n FROM instances').get() as { n: number }).n);
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
  const router = Router();
  router.get('/metrics', async (_req, res) => {
    res.setHeader('Content-Type', registry.contentType);
    res.send(await registry.metrics());
  });
  return { registry, router };
}
