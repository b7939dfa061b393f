/**
 * End-to-end: from the last instance of a study acknowledged (storescu exits) to its SR and heat maps
 * acknowledged by a local storescp destination (every delivery job of the study done), per study, with the
 * shipped models on CPU; the quiet period (completion.quietSeconds) is reported apart and subtracted. Stage
 * times come from the node's own job history. Then a backlog: N studies arriving at once (4 senders), studies
 * per hour until the last is delivered, with C-ECHO latency measured throughout against an idle reference.
 */
import { existsSync, linkSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { writeCohort } from '../src/synth/cohort';
import { echoMs, echoWhile, loadAverage, median, processCpuSeconds, queryRows, REPO, sampleRss, sendOne, sendParallel, startNodeChild, startStorescp, waitFor, type NodeChild } from './common';

export interface StudyTiming {
  study: string;
  instances: number;
  /** last instance acknowledged -> every result acknowledged by the destination, seconds */
  totalSeconds: number;
  /** the same less the configured quiet period */
  beyondQuietSeconds: number;
  /** last ack -> study complete (quiet period + the completion timer's granularity) */
  completionSeconds: number;
  /** complete -> analysis job running */
  queuedSeconds: number;
  /** analysis job running -> done (volumes, analyses, encode) */
  analysisSeconds: number;
  /** analysis done -> last delivery acknowledged */
  deliverySeconds: number;
  /** the analysis job's own stage timings (volumes, analyses, SR/SC/SEG encoding), seconds */
  volumesSeconds: number;
  analysesSeconds: number;
  encodeSeconds: number;
  /**
   * CPU seconds the node process (every thread: event loop, decode workers, ONNX Runtime) used from the last
   * ack until the results were acknowledged: a figure the machine's load moves far less than wall time.
   */
  nodeCpuSeconds: number;
}

export interface EndToEndResult {
  matrix: number;
  /** whether a warm-up study ran first (not with --quick: its one study includes the warm-up) */
  warmup: boolean;
  quietSeconds: number;
  loadAverage: [number, number, number];
  studies: StudyTiming[];
  medianBeyondQuietSeconds: number;
  backlog: {
    studies: number;
    matrix: number;
    senders: number;
    sendSeconds: number;
    doneSeconds: number;
    studiesPerHour: number;
    /** node CPU seconds (all threads) per backlog study, receive included */
    nodeCpuSecondsPerStudy: number;
    peakRssMb: number;
    echoIdleMs: number[];
    echoUnderLoadMs: number[];
    echoRatio: number;
    loadAverage: [number, number, number];
  };
}

interface JobRow {
  study_instance_uid: string;
  kind: string;
  state: string;
  history_json: string;
  result_json: string | null;
  updated_at: string;
}


/** A cohort of `patients` pre-treatment studies (3 analysed series, no distractors), cached by its parameters. */
export function cohortStudyDirs(cache: string, patients: number, matrix: 256 | 512, seed: number): string[] {
  const dir = path.join(cache, `cohort-${patients}-${matrix}-${seed}`);
  if (!existsSync(path.join(dir, 'done'))) {
    rmSync(dir, { recursive: true, force: true });
    writeCohort(dir, { patients, seed, matrix, noDistractors: true, idPrefix: `B${seed}-` });
    mkdirSync(path.join(dir, 'done'));
  }
  // One send dir per study: links to its series folders only (not the ground-truth masks).
  const out: string[] = [];
  for (const p of readdirSync(dir).filter((d) => d.startsWith(`B${seed}-`)).sort()) {
    const pre = path.join(dir, p, 'pre');
    const send = path.join(dir, 'send', p);
    if (!existsSync(send)) {
      for (const s of readdirSync(pre).filter((d) => d !== 'masks')) {
        mkdirSync(path.join(send, s), { recursive: true });
        for (const f of readdirSync(path.join(pre, s))) linkSync(path.join(pre, s, f), path.join(send, s, f));
      }
    }
    out.push(send);
  }
  return out;
}

function stamp(history: { at: string; to: string }[], to: string): number | undefined {
  const e = [...history].reverse().find((h) => h.to === to);
  return e ? Date.parse(e.at) : undefined;
}

/** Studies whose analysis is done and every delivery job done: their completion, analysis and delivery times. */
function finished(node: NodeChild): Map<string, { completed: number; running: number; analysed: number; delivered: number; stages: Record<string, number> }> {
  const jobs = queryRows<JobRow>(node.dataDir, `SELECT study_instance_uid, kind, state, history_json, result_json, updated_at FROM jobs WHERE kind IN ('analysis', 'delivery') AND state != 'superseded'`);
  const studies = queryRows<{ study_instance_uid: string; completed_at: string | null }>(node.dataDir, 'SELECT study_instance_uid, completed_at FROM studies');
  const completedAt = new Map(studies.map((s) => [s.study_instance_uid, s.completed_at ? Date.parse(s.completed_at) : NaN]));
  const by = new Map<string, JobRow[]>();
  for (const j of jobs) by.set(j.study_instance_uid, [...(by.get(j.study_instance_uid) ?? []), j]);
  const out = new Map<string, { completed: number; running: number; analysed: number; delivered: number; stages: Record<string, number> }>();
  for (const [uid, js] of by) {
    const a = js.find((j) => j.kind === 'analysis' && j.state === 'done');
    const d = js.filter((j) => j.kind === 'delivery');
    if (!a || d.length === 0 || d.some((j) => j.state !== 'done')) continue;
    const ah = JSON.parse(a.history_json) as { at: string; to: string }[];
    out.set(uid, {
      completed: completedAt.get(uid) ?? NaN,
      running: stamp(ah, 'running') ?? NaN,
      analysed: stamp(ah, 'done') ?? NaN,
      // A delivery job's last update is the one that marked it done, after the destination's last response.
      delivered: Math.max(...d.map((j) => Date.parse(j.updated_at))),
      stages: ((a.result_json ? (JSON.parse(a.result_json) as { timings?: Record<string, number> }).timings : undefined) ?? {}),
    });
  }
  return out;
}

function failedJobs(node: NodeChild): string[] {
  return queryRows<{ kind: string; state: string; error: string | null }>(node.dataDir, `SELECT kind, state, error FROM jobs WHERE state IN ('failed', 'dead')`).map((j) => `${j.kind} ${j.state}: ${j.error}`);
}

async function startE2eNode(work: string, quietSeconds: number): Promise<{ node: NodeChild; stop(): Promise<void> }> {
  const scp = await startStorescp(path.join(work, 'destination'), 'PACS');
  const node = await startNodeChild(work, {
    models: { dir: path.join(REPO, 'models'), executionProviders: ['cpu'] },
    localAeTitles: [{ aeTitle: 'NPCAI', destinations: ['pacs'], completion: { quietSeconds, forceCompleteSeconds: 600 } }],
    // BENCH_ANALYSIS_CONCURRENCY: analysis jobs in flight (the node's default when unset), to compare settings.
    ...(process.env.BENCH_ANALYSIS_CONCURRENCY ? { analysis: { concurrency: Number(process.env.BENCH_ANALYSIS_CONCURRENCY) } } : {}),
    destinations: [{ name: 'pacs', type: 'dimse', aeTitle: 'PACS', host: '127.0.0.1', port: scp.port }],
  }, { NPC_EXECUTION_PROVIDERS: 'cpu' });
  return {
    node,
    async stop() {
      await node.stop();
      scp.stop();
      rmSync(scp.dir, { recursive: true, force: true });
    },
  };
}

export async function benchEndToEnd(opts: { work: string; cache: string; studies: number; matrix: 256 | 512; backlogStudies: number; backlogMatrix: 256 | 512; quietSeconds: number; warmup: boolean }): Promise<EndToEndResult> {
  const q = opts.quietSeconds;
  const e2eDirs = cohortStudyDirs(opts.cache, opts.studies, opts.matrix, 1401);
  const backlogDirs = cohortStudyDirs(opts.cache, opts.backlogStudies, opts.backlogMatrix, 1402);
  const studies: StudyTiming[] = [];
  const { node, stop } = await startE2eNode(path.join(opts.work, 'e2e'), q);
  let backlog: EndToEndResult['backlog'];
  try {
    // Warm-up: one study (model sessions, decode workers), not reported.
    if (opts.warmup) {
      const warm = cohortStudyDirs(opts.cache, 1, 256, 1400)[0]!;
      await sendParallel(node.dimsePort, 'NPCAI', [warm]);
      await waitFor(() => (finished(node).size >= 1 ? true : undefined), 'the warm-up study', 300_000, 100);
    }
    // One study at a time.
    for (const dir of e2eDirs) {
      const before = new Set(finished(node).keys());
      await sendParallel(node.dimsePort, 'NPCAI', [dir]);
      const acked = Date.now();
      const cpuAtAck = processCpuSeconds(node.pid);
      const [uid, t] = await waitFor(
        () => {
          const f = [...finished(node)].find(([u]) => !before.has(u));
          if (!f && failedJobs(node).length) throw new Error(`end-to-end: ${failedJobs(node).join('; ')}`);
          return f;
        },
        'the study\'s results at the destination',
        300_000,
        20,
      );
      const cpuSeconds = processCpuSeconds(node.pid) - cpuAtAck;
      const s: StudyTiming = {
        study: uid,
        instances: 0,
        totalSeconds: (t.delivered - acked) / 1000,
        beyondQuietSeconds: (t.delivered - acked) / 1000 - q,
        completionSeconds: (t.completed - acked) / 1000,
        queuedSeconds: (t.running - t.completed) / 1000,
        analysisSeconds: (t.analysed - t.running) / 1000,
        deliverySeconds: (t.delivered - t.analysed) / 1000,
        volumesSeconds: (t.stages.volumesMs ?? NaN) / 1000,
        analysesSeconds: (t.stages.analysesMs ?? NaN) / 1000,
        encodeSeconds: (t.stages.encodeMs ?? NaN) / 1000,
        nodeCpuSeconds: cpuSeconds,
      };
      s.instances = queryRows<{ n: number }>(node.dataDir, 'SELECT count(*) AS n FROM instances WHERE study_instance_uid = ?', uid)[0]!.n;
      studies.push(s);
      console.log(`  end-to-end ${s.instances} instances: ${s.totalSeconds.toFixed(2)} s after the last ack (${s.beyondQuietSeconds.toFixed(2)} s beyond the ${q} s quiet period; analysis ${s.analysisSeconds.toFixed(2)} s = volumes ${s.volumesSeconds.toFixed(2)} + analyses ${s.analysesSeconds.toFixed(2)} + encode ${s.encodeSeconds.toFixed(2)}, delivery ${s.deliverySeconds.toFixed(2)} s; node CPU ${s.nodeCpuSeconds.toFixed(2)} s)`);
    }
    // Backlog: every study at once over 4 associations; C-ECHO latency meanwhile vs idle.
    const echoIdle: number[] = [];
    for (let i = 0; i < 5; i++) echoIdle.push(await echoMs(node.dimsePort));
    const before = finished(node).size;
    const senders = Math.min(4, backlogDirs.length);
    const groups = Array.from({ length: senders }, (_, i) => backlogDirs.filter((_, k) => k % senders === i));
    const rss = sampleRss(node.pid, 200);
    const echo = echoWhile(node.dimsePort, 250);
    const t0 = Date.now();
    const backlogCpu0 = processCpuSeconds(node.pid);
    await Promise.all(groups.map((g) => sendOne(node.dimsePort, 'NPCAI', g)));
    const sendSeconds = (Date.now() - t0) / 1000;
    await waitFor(
      () => {
        if (failedJobs(node).length) throw new Error(`backlog: ${failedJobs(node).join('; ')}`);
        return finished(node).size - before >= backlogDirs.length ? true : undefined;
      },
      'the backlog',
      3_600_000,
      250,
    );
    const doneSeconds = (Date.now() - t0) / 1000;
    const nodeCpuSeconds = processCpuSeconds(node.pid) - backlogCpu0;
    const echoUnderLoad = (await echo.done()).filter((x) => Number.isFinite(x));
    const { peak } = rss.stop();
    backlog = {
      studies: backlogDirs.length,
      matrix: opts.backlogMatrix,
      senders,
      sendSeconds,
      doneSeconds,
      studiesPerHour: (backlogDirs.length / doneSeconds) * 3600,
      nodeCpuSecondsPerStudy: nodeCpuSeconds / backlogDirs.length,
      peakRssMb: peak / 1048576,
      echoIdleMs: echoIdle,
      echoUnderLoadMs: echoUnderLoad,
      echoRatio: median(echoUnderLoad) / median(echoIdle),
      loadAverage: loadAverage(),
    };
    console.log(`  backlog ${backlog.studies} studies: sent in ${sendSeconds.toFixed(1)} s, all delivered after ${doneSeconds.toFixed(1)} s: ${backlog.studiesPerHour.toFixed(0)} studies/h; C-ECHO ${median(echoIdle).toFixed(0)} ms idle, ${median(echoUnderLoad).toFixed(0)} ms median / ${Math.max(...echoUnderLoad).toFixed(0)} ms max under load`);
  } finally {
    await stop();
  }
  return { matrix: opts.matrix, quietSeconds: q, warmup: opts.warmup, loadAverage: loadAverage(), studies, medianBeyondQuietSeconds: median(studies.map((s) => s.beyondQuietSeconds)), backlog };
}

export function endToEndMarkdown(r: EndToEndResult): string {
  const f = (x: number) => x.toFixed(2);
  const b = r.backlog;
  return [
    `### End-to-end (shipped models, CPU, ${r.matrix} x ${r.matrix} 3-sequence studies one at a time, quiet period ${r.quietSeconds} s, load average ${r.loadAverage.join(' / ')})`,
    '',
    '| study | instances | last ack -> results acked (s) | beyond quiet (s) | to complete (s) | queued (s) | analysis (s) | volumes / analyses / encode (s) | delivery (s) | node CPU (s) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...r.studies.map((s, i) => `| ${i + 1} | ${s.instances} | ${f(s.totalSeconds)} | **${f(s.beyondQuietSeconds)}** | ${f(s.completionSeconds)} | ${f(s.queuedSeconds)} | ${f(s.analysisSeconds)} | ${f(s.volumesSeconds)} / ${f(s.analysesSeconds)} / ${f(s.encodeSeconds)} | ${f(s.deliverySeconds)} | ${f(s.nodeCpuSeconds)} |`),
    '',
    `Median beyond the quiet period: **${f(r.medianBeyondQuietSeconds)} s** (target <= 4 s). "to complete" is the quiet period plus the completion timer's granularity; "analysis" covers volumes, every analysis and the SR/SC/SEG encoding (the job's own stage timings beside it); "node CPU" is the node process's user + system time over all its threads from the last ack to the results acknowledged, which the machine's load moves far less than wall time.`,
    '',
    `Backlog: ${b.studies} studies of ${b.matrix} x ${b.matrix} arriving at once over ${b.senders} associations: all sent after ${b.sendSeconds.toFixed(1)} s, all results acknowledged after ${b.doneSeconds.toFixed(1)} s: **${b.studiesPerHour.toFixed(0)} studies per hour**; node CPU ${(b.nodeCpuSecondsPerStudy ?? NaN).toFixed(2)} s per study (receive included); node peak RSS ${b.peakRssMb.toFixed(0)} MiB (load average ${b.loadAverage.join(' / ')}).`,
    '',
    `C-ECHO (a fresh echoscu, process start included) while the backlog is received and analysed: median ${median(b.echoUnderLoadMs).toFixed(0)} ms, max ${Math.max(0, ...b.echoUnderLoadMs).toFixed(0)} ms over ${b.echoUnderLoadMs.length} echoes; idle reference in the same run ${median(b.echoIdleMs).toFixed(0)} ms: **${b.echoRatio.toFixed(2)}x**.`,
    '',
  ].join('\n');
}
