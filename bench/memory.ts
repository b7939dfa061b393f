/**
 * Memory of the node process (VmRSS, the node only: it runs as its own process) with the shipped models on CPU
 * and a storescp destination:
 * - while 20 associations stream 20 studies at once (512 x 512) and until all 20 are analysed and delivered;
 * - its trend over many small generated studies (3 series x 3 slices of 64 x 64, sent 10 studies per
 *   association): RSS (and V8 heap from /metrics) sampled after every twentieth of them is finished, and the least-squares slope per 100
 *   studies over the second half (the first half includes warm-up: model sessions, decode workers, caches).
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { writeMrStudy } from '../test/helpers/mr-fixture';
import { countRows, loadAverage, REPO, rssOf, sampleRss, sendOne, sendParallel, startNodeChild, startStorescp, waitFor } from './common';

export interface MemoryResult {
  concurrent: { associations: number; instances: number; peakRssMb: number; afterRssMb: number; seconds: number };
  trend: {
    studies: number;
    points: TrendPoint[];
    /** Least-squares slope of RSS per 100 studies over the second half */
    slopeMbPer100: number;
    /** The same for V8's live heap (heap used) and for RSS less V8's committed heap (native memory: ORT, SQLite, workers, buffers) */
    heapUsedSlopeMbPer100: number;
    nativeSlopeMbPer100: number;
    firstMb: number;
    lastMb: number;
    seconds: number;
  };
  loadAverage: [number, number, number];
}

/** One sample of the trend: RSS (/proc) and, from the node's /metrics, V8's heap used and committed. */
export interface TrendPoint {
  studies: number;
  rssMb: number;
  heapUsedMb?: number;
  heapTotalMb?: number;
}

function slope(points: TrendPoint[], y: (p: TrendPoint) => number | undefined = (p) => p.rssMb): number {
  const pts = points.filter((p) => Number.isFinite(y(p)));
  const n = pts.length;
  if (n < 2) return NaN;
  const mx = pts.reduce((a, p) => a + p.studies, 0) / n;
  const my = pts.reduce((a, p) => a + y(p)!, 0) / n;
  const num = pts.reduce((a, p) => a + (p.studies - mx) * (y(p)! - my), 0);
  const den = pts.reduce((a, p) => a + (p.studies - mx) ** 2, 0);
  return (num / den) * 100;
}

function done(dataDir: string): number {
  return countRows(dataDir, `SELECT count(*) AS n FROM jobs WHERE kind = 'analysis' AND state IN ('done', 'failed', 'dead')`);
}

function writeStudies(root: string, count: number, perDir: number, opts: { slices: number; rows: number; prefix: string }): string[] {
  const marker = path.join(root, 'done');
  const dirs = Array.from({ length: Math.ceil(count / perDir) }, (_, g) => path.join(root, `group-${g}`));
  if (!existsSync(marker)) {
    rmSync(root, { recursive: true, force: true });
    for (let i = 0; i < count; i++) writeMrStudy(path.join(dirs[Math.floor(i / perDir)]!, `study-${i}`), { slices: opts.slices, rows: opts.rows, columns: opts.rows, name: `${opts.prefix}-${i}` });
    mkdirSync(root, { recursive: true });
    writeFileSync(marker, '');
  }
  return dirs;
}

export async function benchMemory(opts: { work: string; cache: string; associations: number; slicesPerSeries: number; trendStudies: number }): Promise<MemoryResult> {
  const work = path.join(opts.work, 'memory');
  const scp = await startStorescp(path.join(work, 'destination'), 'PACS');
  const node = await startNodeChild(work, {
    // 20 associations from one address: above the default per-address cap (16).
    dimse: { host: '127.0.0.1', allowUnknownSources: true, maxConnectionsPerAddress: 64 },
    models: { dir: path.join(REPO, 'models'), executionProviders: ['cpu'] },
    localAeTitles: [{ aeTitle: 'NPCAI', destinations: ['pacs'], completion: { quietSeconds: 1, forceCompleteSeconds: 60 } }],
    destinations: [{ name: 'pacs', type: 'dimse', aeTitle: 'PACS', host: '127.0.0.1', port: scp.port }],
  }, { NPC_EXECUTION_PROVIDERS: 'cpu' });
  try {
    // 20 associations at once, one 512 x 512 study each.
    const concurrentDirs = writeStudies(path.join(opts.cache, `memory-concurrent-${opts.associations}-${opts.slicesPerSeries}`), opts.associations, 1, { slices: opts.slicesPerSeries, rows: 512, prefix: 'memc' });
    const rss = sampleRss(node.pid, 100);
    const t0 = Date.now();
    await sendParallel(node.dimsePort, 'NPCAI', concurrentDirs);
    await waitFor(() => (done(node.dataDir) >= opts.associations ? true : undefined), 'the concurrent studies to be analysed', 1_800_000, 250);
    const c = rss.stop();
    const concurrent = {
      associations: opts.associations,
      instances: opts.associations * opts.slicesPerSeries * 3,
      peakRssMb: c.peak / 1048576,
      afterRssMb: rssOf(node.pid) / 1048576,
      seconds: (Date.now() - t0) / 1000,
    };
    console.log(`  memory: ${concurrent.associations} associations, ${concurrent.instances} instances: peak RSS ${concurrent.peakRssMb.toFixed(0)} MiB, ${concurrent.afterRssMb.toFixed(0)} MiB after (${concurrent.seconds.toFixed(0)} s)`);

    // Trend over many small studies.
    const perDir = 10;
    const trendDirs = writeStudies(path.join(opts.cache, `memory-trend-${opts.trendStudies}`), opts.trendStudies, perDir, { slices: 3, rows: 64, prefix: 'memt' });
    const base = done(node.dataDir);
    const step = Math.max(1, Math.round(opts.trendStudies / 20));
    const points: TrendPoint[] = [];
    const heapOf = async (p: TrendPoint) => {
      try {
        const text = await (await node.api('/metrics')).text();
        const g = (name: string) => Number(new RegExp(`^${name} ([0-9.e+]+)`, 'm').exec(text)?.[1]) / 1048576;
        p.heapUsedMb = g('npcai_nodejs_heap_size_used_bytes');
        p.heapTotalMb = g('npcai_nodejs_heap_size_total_bytes');
      } catch {
        // a missed scrape leaves the point without heap figures
      }
    };
    const scrapes: Promise<void>[] = [];
    const t1 = Date.now();
    let next = step;
    const sampler = setInterval(() => {
      const n = done(node.dataDir) - base;
      while (n >= next && next <= opts.trendStudies) {
        const p: TrendPoint = { studies: next, rssMb: rssOf(node.pid) / 1048576 };
        points.push(p);
        scrapes.push(heapOf(p));
        next += step;
      }
    }, 200);
    try {
      // Two senders at a time; the node analyses while it receives.
      for (let g = 0; g < trendDirs.length; g += 2) await Promise.all(trendDirs.slice(g, g + 2).map((d) => sendOne(node.dimsePort, 'NPCAI', [d])));
      await waitFor(() => (done(node.dataDir) - base >= opts.trendStudies ? true : undefined), 'the trend studies', 3_600_000, 250);
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      clearInterval(sampler);
    }
    await Promise.all(scrapes);
    const second = points.filter((p) => p.studies > opts.trendStudies / 2);
    const half = second.length >= 2 ? second : points;
    const trend = {
      studies: opts.trendStudies,
      points,
      slopeMbPer100: slope(half),
      heapUsedSlopeMbPer100: slope(half, (p) => p.heapUsedMb),
      nativeSlopeMbPer100: slope(half, (p) => (p.heapTotalMb === undefined ? undefined : p.rssMb - p.heapTotalMb)),
      firstMb: points[0]?.rssMb ?? NaN,
      lastMb: points[points.length - 1]?.rssMb ?? NaN,
      seconds: (Date.now() - t1) / 1000,
    };
    console.log(`  memory trend over ${trend.studies} studies: ${trend.firstMb.toFixed(0)} -> ${trend.lastMb.toFixed(0)} MiB, slope ${trend.slopeMbPer100.toFixed(1)} MiB per 100 studies (second half; V8 heap used ${trend.heapUsedSlopeMbPer100.toFixed(1)}, RSS less V8 heap ${trend.nativeSlopeMbPer100.toFixed(1)}; ${trend.seconds.toFixed(0)} s, load ${loadAverage().join(' / ')})`);
    return { concurrent, trend, loadAverage: loadAverage() };
  } finally {
    await node.stop();
    scp.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

export function memoryMarkdown(r: MemoryResult): string {
  const c = r.concurrent;
  const t = r.trend;
  return [
    `### Memory (node process RSS, shipped models on CPU, load average ${r.loadAverage.join(' / ')})`,
    '',
    `- ${c.associations} associations streaming ${c.associations} studies at once (${c.instances} instances of 512 x 512), until all are analysed and delivered: peak **${c.peakRssMb.toFixed(0)} MiB**, ${c.afterRssMb.toFixed(0)} MiB after (target < 1536 MiB; ${c.seconds.toFixed(0)} s).`,
    `- Over ${t.studies} small studies (3 x 3 slices of 64 x 64, received, analysed and delivered; ${t.seconds.toFixed(0)} s): RSS ${t.firstMb.toFixed(0)} MiB after the first twentieth, ${t.lastMb.toFixed(0)} MiB at the end; slope over the second half **${t.slopeMbPer100.toFixed(1)} MiB per 100 studies** (target: flat); beside it, V8's live heap (heap used, sampled whenever a twentieth is reached: garbage since the last collection included) ${(t.heapUsedSlopeMbPer100 ?? NaN).toFixed(1)} and RSS less V8's committed heap (native memory: ONNX Runtime, SQLite, decode workers, buffers) **${(t.nativeSlopeMbPer100 ?? NaN).toFixed(1)} MiB per 100 studies**. V8 sizes its committed heap by its own heuristics (it grows with the allocation rate and shrinks after collections), so RSS moves with it by tens of MiB between samples; what would show a leak is a rising live heap or native part.`,
    '',
    '| studies done | RSS (MiB) | V8 heap used (MiB) | V8 heap committed (MiB) | RSS less V8 heap (MiB) |',
    '| --- | --- | --- | --- | --- |',
    ...t.points.map((p) => `| ${p.studies} | ${p.rssMb.toFixed(0)} | ${p.heapUsedMb?.toFixed(0) ?? '-'} | ${p.heapTotalMb?.toFixed(0) ?? '-'} | ${p.heapTotalMb === undefined ? '-' : (p.rssMb - p.heapTotalMb).toFixed(0)} |`),
    '',
  ].join('\n');
}
