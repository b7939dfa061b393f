/**
 * Memory of the node process (VmRSS, the node only: it runs as its own process) with the shipped models on CPU
 * and a storescp destination:
 * - while 20 associations stream 20 studies at once (512 x 512) and until all 20 are analysed and delivered;
 * - its trend over many small generated studies (3 series x 3 slices of 64 x 64, sent 10 studies per
 *   association): RSS sampled after every tenth of them is finished, and the least-squares slope per 100
 *   studies over the second half (the first half includes warm-up: model sessions, decode workers, caches).
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { writeMrStudy } from '../test/helpers/mr-fixture';
import { countRows, loadAverage, REPO, rssOf, sampleRss, sendOne, sendParallel, startNodeChild, startStorescp, waitFor } from './common';

export interface MemoryResult {
  concurrent: { associations: number; instances: number; peakRssMb: number; afterRssMb: number; seconds: number };
  trend: { studies: number; points: { studies: number; rssMb: number }[]; slopeMbPer100: number; firstMb: number; lastMb: number; seconds: number };
  loadAverage: [number, number, number];
}

function slope(points: { studies: number; rssMb: number }[]): number {
  const n = points.length;
  if (n < 2) return NaN;
  const mx = points.reduce((a, p) => a + p.studies, 0) / n;
  const my = points.reduce((a, p) => a + p.rssMb, 0) / n;
  const num = points.reduce((a, p) => a + (p.studies - mx) * (p.rssMb - my), 0);
  const den = points.reduce((a, p) => a + (p.studies - mx) ** 2, 0);
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
    const step = Math.max(1, Math.round(opts.trendStudies / 10));
    const points: { studies: number; rssMb: number }[] = [];
    const t1 = Date.now();
    let next = step;
    const sampler = setInterval(() => {
      const n = done(node.dataDir) - base;
      while (n >= next && next <= opts.trendStudies) {
        points.push({ studies: next, rssMb: rssOf(node.pid) / 1048576 });
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
    const second = points.filter((p) => p.studies > opts.trendStudies / 2);
    const trend = {
      studies: opts.trendStudies,
      points,
      slopeMbPer100: slope(second.length >= 2 ? second : points),
      firstMb: points[0]?.rssMb ?? NaN,
      lastMb: points[points.length - 1]?.rssMb ?? NaN,
      seconds: (Date.now() - t1) / 1000,
    };
    console.log(`  memory trend over ${trend.studies} studies: ${trend.firstMb.toFixed(0)} -> ${trend.lastMb.toFixed(0)} MiB, slope ${trend.slopeMbPer100.toFixed(1)} MiB per 100 studies (second half; ${trend.seconds.toFixed(0)} s)`);
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
    `- Over ${t.studies} small studies (3 x 3 slices of 64 x 64, received, analysed and delivered; ${t.seconds.toFixed(0)} s): RSS ${t.firstMb.toFixed(0)} MiB after the first tenth, ${t.lastMb.toFixed(0)} MiB at the end; slope over the second half **${t.slopeMbPer100.toFixed(1)} MiB per 100 studies** (target: flat).`,
    '',
    '| studies done | RSS (MiB) |',
    '| --- | --- |',
    ...t.points.map((p) => `| ${p.studies} | ${p.rssMb.toFixed(0)} |`),
    '',
  ].join('\n');
}
