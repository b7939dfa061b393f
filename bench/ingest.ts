/**
 * Ingest: C-STORE throughput with 1 and 4 parallel storescu senders into the node (durable: fdatasync file +
 * directory fsync before each Success, indexed), DCMTK storescp (files, no fsync) and Debian Orthanc (its
 * defaults) on the same files, in the same run, interleaved per repetition. The node runs as its own process
 * (its RSS is its own). Optionally more node variants (`variants`) for before/after comparisons.
 *
 * A minimal durable Node receiver (bench/minimal-receiver.ts) runs beside them as a reference for what the
 * runtime and the durability contract cost apart from the node's own per-instance work.
 *
 * Every timed run starts after a `sync` (no dirty pages of an earlier run or of the input files are written back
 * while it is timed). The storescp run is also timed until its files are durable (`sync -f` of its directory
 * right after the last sender ends: one flush for the whole batch, the most favourable durable figure storescp
 * can have). Each run records the whole machine's CPU per instance (every process and the kernel: receiver,
 * senders, writeback), from which the rate a fully busy machine would reach at that cost follows (the CPU ceiling).
 */
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { cpus } from 'node:os';
import path from 'node:path';
import { writeMrStudy } from '../test/helpers/mr-fixture';
import { startOrthanc } from '../test/helpers/orthanc';
import { countRows, freePort, machineCpuSeconds, median, processCpuSeconds, sampleRss, sendParallel, splitForSenders, startNodeChild, startStorescp, loadAverage, syncSeconds } from './common';

export interface IngestVariant {
  name: string;
  env?: NodeJS.ProcessEnv;
  config?: Record<string, unknown>;
  /**
   * Send a separate warm-up study (other UIDs, not timed) through the same senders first: the steady state of a
   * node that has been running, not its first instances (V8 compiles the hot path while they arrive: about a
   * sixth of a fresh process's CPU over its first 400 instances, measured with perf).
   */
  warm?: boolean;
}

export interface IngestRow {
  senders: number;
  receiver: string;
  instPerSec: number[];
  median: number;
  peakRssMb: number;
  /** The receiver's CPU (user + system, all threads) per instance, ms, per repetition. */
  cpuMsPerInstance?: number[];
  /** The whole machine's busy CPU per instance while the senders ran (receiver, senders, kernel), ms, per repetition. */
  machineCpuMsPerInstance?: number[];
  /**
   * The rate at which the machine's cores would all be busy at the median machine CPU per instance: what this
   * receiver could reach on this machine with these senders if nothing but CPU limited it.
   */
  cpuCeiling?: number;
}

interface RunFigures {
  rate: number;
  peak: number;
  cpuMs?: number;
  machineMs: number;
}

export interface IngestBenchResult {
  instances: number;
  instanceBytes: number;
  repetitions: number;
  loadAverage: [number, number, number];
  rows: IngestRow[];
  /** Cores of the machine (the CPU ceiling's numerator; absent in reports of earlier waves). */
  cores?: number;
  /** node / reference, medians of the same run. */
  ratios: { senders: number; receiver: string; reference: string; ratio: number }[];
  orthanc: { available: boolean; note?: string };
}

/**
 * One timed run into a receiver already started (and warmed): a `sync` first, then the senders, with the
 * receiver's RSS peak and CPU and the whole machine's CPU per instance over the senders' time.
 */
async function timedSend(pid: number | undefined, port: number, aeTitle: string, dirs: string[], count: number): Promise<{ figures: RunFigures; seconds: number; machine0: number }> {
  await syncSeconds();
  const rss = pid ? sampleRss(pid, 50) : undefined;
  const cpu0 = pid ? processCpuSeconds(pid) : NaN;
  const machine0 = machineCpuSeconds();
  const seconds = await sendParallel(port, aeTitle, dirs);
  const machineMs = ((machineCpuSeconds() - machine0) * 1000) / count;
  const cpuMs = pid ? ((processCpuSeconds(pid) - cpu0) * 1000) / count : undefined;
  return { figures: { rate: count / seconds, peak: rss?.stop().peak ?? 0, machineMs, ...(cpuMs !== undefined ? { cpuMs } : {}) }, seconds, machine0 };
}

async function nodeRun(work: string, dirs: string[], count: number, variant: IngestVariant, warm?: { dirs: string[]; count: number }): Promise<RunFigures> {
  const node = await startNodeChild(work, { models: { dir: path.join(work, 'no-models') }, ...(variant.config ?? {}) }, variant.env);
  try {
    const warmed = variant.warm && warm ? warm.count : 0;
    if (warmed) await sendParallel(node.dimsePort, 'NPCAI', warm!.dirs);
    const { figures } = await timedSend(node.pid, node.dimsePort, 'NPCAI', dirs, count);
    const stored = countRows(node.dataDir, 'SELECT count(*) AS n FROM instances');
    if (stored !== count + warmed) throw new Error(`node stored ${stored} of ${count + warmed} instances`);
    return figures;
  } finally {
    await node.stop();
  }
}

/** storescp as it runs (files in the page cache) and the same run until its files are durable (`synced`). */
async function storescpRun(work: string, dirs: string[], count: number): Promise<{ plain: RunFigures; synced: RunFigures }> {
  const scp = await startStorescp(path.join(work, 'storescp-out'));
  try {
    const { figures: plain, seconds, machine0 } = await timedSend(scp.child.pid, scp.port, scp.aeTitle, dirs, count);
    const flush = await syncSeconds(scp.dir);
    const syncedMachineMs = ((machineCpuSeconds() - machine0) * 1000) / count;
    return { plain, synced: { ...plain, rate: count / (seconds + flush), machineMs: syncedMachineMs } };
  } finally {
    scp.stop();
    rmSync(scp.dir, { recursive: true, force: true });
  }
}

/**
 * The minimal durable Node receiver (bench/minimal-receiver.ts: the node's framing and durability, nothing else),
 * warmed up like the warm node: what the runtime and the durability contract cost, apart from the node's own work.
 */
async function minimalRun(work: string, dirs: string[], count: number, warm?: { dirs: string[]; count: number }): Promise<RunFigures> {
  const dir = path.join(work, 'minimal-receiver');
  rmSync(dir, { recursive: true, force: true });
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(__dirname, 'minimal-receiver.js'), String(port), dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`minimal receiver exited (${code})`)));
      child.stdout!.once('data', () => resolve());
    });
    if (warm) await sendParallel(port, 'MINIMAL', warm.dirs);
    const { figures } = await timedSend(child.pid, port, 'MINIMAL', dirs, count);
    const stored = readdirSync(path.join(dir, 'instances')).length;
    if (stored !== count + (warm?.count ?? 0)) throw new Error(`minimal receiver stored ${stored} of ${count + (warm?.count ?? 0)} instances`);
    return figures;
  } finally {
    child.removeAllListeners('exit');
    child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

async function orthancRun(dirs: string[], count: number): Promise<RunFigures> {
  const o = await startOrthanc();
  try {
    return (await timedSend(o.pid, o.dicomPort, o.aeTitle, dirs, count)).figures;
  } finally {
    await o.cleanup();
  }
}

export async function benchIngest(opts: { work: string; instances: number; repetitions: number; senders: number[]; orthanc: boolean; variants?: IngestVariant[] }): Promise<IngestBenchResult> {
  const filesDir = path.join(opts.work, 'ingest-files');
  rmSync(filesDir, { recursive: true, force: true });
  // 512 x 512 16-bit: 0.5 MB per instance; three series.
  const study = writeMrStudy(filesDir, { slices: Math.ceil(opts.instances / 3), rows: 512, columns: 512, name: 'bench' });
  const count = study.files.length;
  const variants: IngestVariant[] = opts.variants ?? [{ name: 'node' }];
  // The warm-up study for `warm` variants: a third as many instances, same size, other UIDs.
  const warmStudy = variants.some((v) => v.warm) ? writeMrStudy(path.join(opts.work, 'ingest-warm'), { slices: Math.max(1, Math.ceil(opts.instances / 9)), rows: 512, columns: 512, name: 'bench-warm' }) : undefined;
  const instanceBytes = readFileSync(study.files[0]!).length;
  const rates = new Map<string, number[]>();
  const peaks = new Map<string, number>();
  const cpuMs = new Map<string, number[]>();
  const machineMs = new Map<string, number[]>();
  const push = (k: string, r: RunFigures) => {
    rates.set(k, [...(rates.get(k) ?? []), r.rate]);
    if (r.cpuMs !== undefined) cpuMs.set(k, [...(cpuMs.get(k) ?? []), r.cpuMs]);
    machineMs.set(k, [...(machineMs.get(k) ?? []), r.machineMs]);
    peaks.set(k, Math.max(peaks.get(k) ?? 0, r.peak));
  };
  let orthancNote: string | undefined;
  let orthancOk = opts.orthanc;
  try {
    for (const n of opts.senders) {
      const dirs = splitForSenders(study.files, n, path.join(opts.work, `ingest-senders-${n}`));
      const warm = warmStudy ? { dirs: splitForSenders(warmStudy.files, n, path.join(opts.work, `ingest-warm-senders-${n}`)), count: warmStudy.files.length } : undefined;
      for (let rep = 0; rep < opts.repetitions; rep++) {
        const line: string[] = [];
        // The order of the node variants alternates per repetition: the second of two back-to-back runs was
        // measured faster whichever it was (page cache, CPU frequency), which an unalternated order reads as a gain.
        for (const v of rep % 2 ? [...variants].reverse() : variants) {
          const r = await nodeRun(opts.work, dirs, count, v, warm);
          push(`${n}|${v.name}`, r);
          line.push(`${v.name} ${r.rate.toFixed(0)}`);
        }
        const m = await minimalRun(opts.work, dirs, count, warm);
        push(`${n}|${MINIMAL_RECEIVER}`, m);
        line.push(`minimal ${m.rate.toFixed(0)}`);
        const s = await storescpRun(opts.work, dirs, count);
        push(`${n}|storescp`, s.plain);
        push(`${n}|${STORESCP_SYNCED}`, s.synced);
        line.push(`storescp ${s.plain.rate.toFixed(0)} (${s.synced.rate.toFixed(0)} until synced)`);
        if (orthancOk) {
          try {
            const o = await orthancRun(dirs, count);
            push(`${n}|orthanc`, o);
            line.push(`orthanc ${o.rate.toFixed(0)}`);
          } catch (e) {
            orthancOk = false;
            orthancNote = `Orthanc not measured: ${e instanceof Error ? e.message : String(e)}`;
          }
        }
        console.log(`  ingest ${n} sender(s) rep ${rep + 1}: ${line.join(', ')} inst/s (load ${loadAverage()[0]})`);
      }
      rmSync(path.dirname(dirs[0]!), { recursive: true, force: true });
      if (warm) rmSync(path.dirname(warm.dirs[0]!), { recursive: true, force: true });
    }
  } finally {
    rmSync(filesDir, { recursive: true, force: true });
    rmSync(path.join(opts.work, 'ingest-warm'), { recursive: true, force: true });
  }
  const cores = cpus().length;
  const rows: IngestRow[] = [];
  for (const [k, v] of rates) {
    const [senders, receiver] = k.split('|') as [string, string];
    const machine = machineMs.get(k) ?? [];
    rows.push({
      senders: Number(senders), receiver, instPerSec: v, median: median(v), peakRssMb: (peaks.get(k) ?? 0) / 1048576,
      ...(cpuMs.get(k) ? { cpuMsPerInstance: cpuMs.get(k)! } : {}),
      ...(machine.length ? { machineCpuMsPerInstance: machine, cpuCeiling: (cores * 1000) / median(machine) } : {}),
    });
  }
  const ratios: IngestBenchResult['ratios'] = [];
  for (const n of opts.senders) {
    for (const v of variants) {
      const node = rows.find((r) => r.senders === n && r.receiver === v.name)!;
      for (const ref of [MINIMAL_RECEIVER, 'storescp', STORESCP_SYNCED, 'orthanc']) {
        const rr = rows.find((r) => r.senders === n && r.receiver === ref);
        if (rr) ratios.push({ senders: n, receiver: v.name, reference: ref, ratio: node.median / rr.median });
      }
    }
  }
  return { instances: count, instanceBytes, repetitions: opts.repetitions, loadAverage: loadAverage(), cores, rows, ratios, orthanc: { available: orthancOk, ...(orthancNote ? { note: orthancNote } : {}) } };
}

/** The minimal durable Node receiver (bench/minimal-receiver.ts). */
export const MINIMAL_RECEIVER = 'minimal Node receiver, durable';

/** The storescp run timed until its files are durable (one `sync -f` after the last sender). */
export const STORESCP_SYNCED = 'storescp, then sync';

export function ingestMarkdown(r: IngestBenchResult): string {
  const f = (a: number[]) => a.map((x) => x.toFixed(0)).join(', ');
  const ms = (a: number[] | undefined) => (a ? a.map((c) => c.toFixed(2)).join(', ') : '-');
  const cores = r.cores ?? 0;
  return [
    `### Ingest (C-STORE, storescu senders, ${r.instances} instances of ${(r.instanceBytes / 1048576).toFixed(2)} MB, ${r.repetitions} repetition(s), load average ${r.loadAverage.join(' / ')})`,
    '',
    `Machine CPU: every process and the kernel (receiver, senders, writeback) per instance while the senders ran; CPU ceiling: the rate at which ${cores || 'all'} core(s) would all be busy at that cost (median).`,
    '',
    '| senders | receiver | inst/s per repetition | median | receiver CPU ms per instance | machine CPU ms per instance | CPU ceiling inst/s | peak RSS |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...r.rows.map((x) => `| ${x.senders} | ${x.receiver} | ${f(x.instPerSec)} | ${x.median.toFixed(0)} | ${ms(x.cpuMsPerInstance)} | ${ms(x.machineCpuMsPerInstance)} | ${x.cpuCeiling ? x.cpuCeiling.toFixed(0) : '-'} | ${x.peakRssMb.toFixed(0)} MiB |`),
    '',
    '| senders | node | / reference | ratio (medians, same run) |',
    '| --- | --- | --- | --- |',
    ...r.ratios.map((x) => `| ${x.senders} | ${x.receiver} | ${x.reference} | **${x.ratio.toFixed(2)}x** |`),
    '',
    ...(r.orthanc.note ? [r.orthanc.note, ''] : []),
  ].join('\n');
}
