/**
 * Ingest benchmark: C-STORE throughput of the node (durable: fsync file + directory, indexed) against
 * DCMTK's storescp (no fsync) on the same files, same machine, same run; storescu sends both, with
 * TCP_NODELAY=1. Reports instances/s, the ratio and peak RSS.
 */
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, mkdirSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { writeMrStudy } from '../test/helpers/mr-fixture';
import { loadConfig } from '../src/config/load';
import { startNode } from '../src/node';
import { silentLogger } from '../src/logging/logger';
import { runTool } from '../test/helpers/dicom-peers';

export interface IngestBenchResult {
  name: 'ingest';
  instances: number;
  instanceBytes: number;
  repetitions: number;
  nodeInstPerSec: number[];
  storescpInstPerSec: number[];
  ratio: number;
  nodePeakRssMb: number;
  storescpPeakRssMb: number;
  fsync: boolean;
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

async function timeStorescu(port: number, aec: string, dir: string): Promise<number> {
  const t0 = process.hrtime.bigint();
  const r = await runTool('storescu', ['-aet', 'BENCH', '-aec', aec, '+sd', '+r', '127.0.0.1', String(port), dir], 600000);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.code !== 0) throw new Error(`storescu failed: ${r.output.slice(-500)}`);
  return seconds;
}

async function runNode(dir: string, count: number, fsync: boolean): Promise<{ rate: number; peakRss: number }> {
  const dataDir = path.join(os.tmpdir(), `npcai-bench-node-${process.pid}`);
  rmSync(dataDir, { recursive: true, force: true });
  const config = loadConfig({
    env: {},
    overrides: {
      dataDir,
      dimse: { port: 0, host: '127.0.0.1', allowUnknownSources: true },
      http: { port: 0, host: '127.0.0.1', adminToken: 'bench-token-0123456789' },
      storage: { fsync, freeSpaceWatermarkMb: 0 },
      models: { executionProviders: ['cpu'] },
    },
  });
  const node = await startNode(config, { logger: silentLogger() });
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
  try {
    const seconds = await timeStorescu(node.dimsePort, 'NPCAI', dir);
    const stored = (node.db.prepare('SELECT count(*) AS n FROM instances').get() as { n: number }).n;
    if (stored !== count) throw new Error(`node stored ${stored} of ${count}`);
    return { rate: count / seconds, peakRss: peak };
  } finally {
    clearInterval(timer);
    await node.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function runStorescp(dir: string, count: number): Promise<{ rate: number; peakRss: number }> {
  const out = path.join(os.tmpdir(), `npcai-bench-storescp-${process.pid}`);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const port = await freePort();
  const child = spawn('storescp', ['--output-directory', out, '-aet', 'STORESCP', String(port)], { env: { ...process.env, TCP_NODELAY: '1' }, stdio: 'ignore' });
  try {
    for (let i = 0; i < 50; i++) {
      const ok = await new Promise<boolean>((r) => {
        const s = net.connect(port, '127.0.0.1', () => (s.destroy(), r(true)));
        s.on('error', () => r(false));
      });
      if (ok) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const seconds = await timeStorescu(port, 'STORESCP', dir);
    let peak = 0;
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      peak = m ? Number(m[1]) * 1024 : 0;
    } catch {
      /* not Linux */
    }
    return { rate: count / seconds, peakRss: peak };
  } finally {
    child.kill('SIGTERM');
    rmSync(out, { recursive: true, force: true });
  }
}

export async function benchIngest(opts: { instances?: number; repetitions?: number; fsync?: boolean } = {}): Promise<IngestBenchResult> {
  const instances = opts.instances ?? Number(process.env.BENCH_INGEST_INSTANCES ?? 400);
  const repetitions = opts.repetitions ?? Number(process.env.BENCH_REPETITIONS ?? 3);
  const fsync = opts.fsync ?? true;
  const dir = path.join(os.tmpdir(), `npcai-bench-files-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  // 512x512 16-bit: 0.5 MB per instance; three series.
  const study = writeMrStudy(dir, { slices: Math.ceil(instances / 3), rows: 512, columns: 512, name: 'bench' });
  const files = study.files.length;
  const instanceBytes = readFileSync(study.files[0]!).length;
  const nodeRates: number[] = [];
  const scpRates: number[] = [];
  let nodePeak = 0;
  let scpPeak = 0;
  try {
    for (let rep = 0; rep < repetitions; rep++) {
      const n = await runNode(dir, files, fsync);
      nodeRates.push(n.rate);
      nodePeak = Math.max(nodePeak, n.peakRss);
      const s = await runStorescp(dir, files);
      scpRates.push(s.rate);
      scpPeak = Math.max(scpPeak, s.peakRss);
      process.stdout.write(`  ingest rep ${rep + 1}: node ${n.rate.toFixed(0)} inst/s, storescp ${s.rate.toFixed(0)} inst/s\n`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
  return {
    name: 'ingest',
    instances: files,
    instanceBytes,
    repetitions,
    nodeInstPerSec: nodeRates,
    storescpInstPerSec: scpRates,
    ratio: median(nodeRates) / median(scpRates),
    nodePeakRssMb: nodePeak / 1048576,
    storescpPeakRssMb: scpPeak / 1048576,
    fsync,
  };
}
