/**
 * Inference time per model, execution provider and batch size:
 * - the shipped models (models/): seeded inputs, after a warm-up, ms per slice on cpu (and webgpu where it
 *   starts), the largest output difference from cpu;
 * - paper-size reference networks (ResNet-50 at 224 and 512, Inception-ResNet-v2 at 299, a U-Net at 512)
 *   exported from PyTorch (bench/reference-nets.py, Debian python3-torch; cache dir, not the repo), timed with
 *   ONNX Runtime under the session options given (default and tuned) and with PyTorch itself on the same
 *   machine and the same number of threads as the reference.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createModelSession, type ModelSession, type NamedTensor, type SessionTuning } from '../src/infer/session-pool';
import { ModelManifestSchema } from '../src/infer/manifest';
import { silentLogger } from '../src/logging/logger';
import type { ExecutionProvider } from '../src/config/schema';
import { loadAverage, median, REPO } from './common';

export interface InferenceRow {
  model: string;
  provider: string;
  batch: number;
  msPerSlice: number;
  ratioToCpu: number;
  maxAbsDiffFromCpu: number;
}

export interface ReferenceRow {
  network: string;
  input: number[];
  batch: number;
  /** ONNX Runtime ms per run, by tuning name */
  ortMsPerRun: Record<string, number>;
  torchMsPerRun: number;
  /** ORT (each tuning) / PyTorch, medians of the same run */
  ratioToTorch: Record<string, number>;
  runs: number;
}

export interface InferenceResult {
  loadAverage: [number, number, number];
  threads: number;
  providersTried: string[];
  providersNotMeasured: { provider: string; reason: string }[];
  shipped: InferenceRow[];
  reference: { measured: boolean; note?: string; torch?: string; tunings: Record<string, SessionTuning>; rows: ReferenceRow[] };
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

function randomInput(dims: number[], seed: number): NamedTensor {
  const r = rng(seed);
  return { data: Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => r()), dims };
}

/** Median ms per run after one warm-up: at least `minRuns`, more while within `budgetMs`. */
async function timeRuns(s: ModelSession, inputs: Record<string, NamedTensor>, minRuns: number, budgetMs: number, maxRuns = 10): Promise<{ ms: number; runs: number; out: Record<string, NamedTensor> }> {
  let out = await s.run(inputs);
  const times: number[] = [];
  const end = performance.now() + budgetMs;
  while (times.length < maxRuns && (times.length < minRuns || performance.now() < end)) {
    const t0 = performance.now();
    out = await s.run(inputs);
    times.push(performance.now() - t0);
  }
  return { ms: median(times), runs: times.length, out };
}

async function shippedModels(providers: ExecutionProvider[], batches: number[], quick: boolean, notMeasured: Map<string, string>): Promise<InferenceRow[]> {
  const dir = path.join(REPO, 'models');
  const rows: InferenceRow[] = [];
  let ids = readdirSync(dir).filter((d) => existsSync(path.join(dir, d, 'manifest.json'))).sort();
  if (quick) ids = ids.slice(0, 2);
  for (const id of ids) {
    const manifest = ModelManifestSchema.parse(JSON.parse(readFileSync(path.join(dir, id, 'manifest.json'), 'utf8')));
    for (const batch of batches) {
      const inputs: Record<string, NamedTensor> = {};
      manifest.inputs.forEach((i, k) => (inputs[i.name] = randomInput(i.shape.map((d, j) => (j === 0 ? batch : Number(d))), 42 + k)));
      let cpuMs = NaN;
      let cpuOut: Record<string, NamedTensor> | undefined;
      for (const p of providers) {
        if (notMeasured.has(p)) continue;
        let s: ModelSession;
        try {
          s = await createModelSession(id, path.join(dir, id, manifest.file), [p], silentLogger());
        } catch (e) {
          notMeasured.set(p, e instanceof Error ? e.message.split('\n')[0]!.slice(0, 200) : String(e));
          continue;
        }
        try {
          const t = await timeRuns(s, inputs, quick ? 2 : 5, quick ? 100 : 1000);
          const ms = t.ms / batch;
          let diff = 0;
          if (p === 'cpu') {
            cpuMs = ms;
            cpuOut = t.out;
          } else if (cpuOut) {
            for (const [name, o] of Object.entries(t.out)) {
              const c = cpuOut[name]!.data;
              for (let k = 0; k < o.data.length; k++) diff = Math.max(diff, Math.abs(o.data[k]! - c[k]!));
            }
          }
          rows.push({ model: id, provider: p, batch, msPerSlice: ms, ratioToCpu: ms / cpuMs, maxAbsDiffFromCpu: diff });
        } finally {
          await s.release();
        }
      }
    }
  }
  return rows;
}

interface TorchOutput {
  torch: string;
  threads: number;
  networks: { name: string; file: string; input: number[]; batch: number; torchMsPerRun: number[] }[];
}

/** Debian's python3 (where python3-torch installs), not a python3 earlier on PATH (pyenv, venvs). */
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

function runPython(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // PyTorch's intra-op threads are OpenMP's; BLAS single-threaded inside them (else OpenBLAS threads x OpenMP
    // threads oversubscribe the cores: measured here 10-20x slower on a loaded 2-core machine).
    const threads = args[args.indexOf('--threads') + 1]!;
    const c = spawn(PYTHON, args, { env: { ...process.env, OMP_NUM_THREADS: threads, OPENBLAS_NUM_THREADS: '1', MKL_NUM_THREADS: '1' } });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d) => (stdout += d));
    c.stderr.on('data', (d) => {
      stderr += d;
      process.stderr.write(d);
    });
    c.on('error', (e) => resolve({ code: -1, stdout, stderr: String(e) }));
    c.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

export function torchAvailable(): Promise<boolean> {
  return new Promise((resolve) => {
    const c = spawn(PYTHON, ['-c', 'import torch, torchvision'], { stdio: 'ignore' });
    c.on('error', () => resolve(false));
    c.on('close', (code) => resolve(code === 0));
  });
}

async function referenceNetworks(cache: string, threads: number, batches: number[], quick: boolean, tunings: Record<string, SessionTuning>, gpu: boolean): Promise<InferenceResult['reference']> {
  if (!(await torchAvailable())) return { measured: false, note: 'not measured: python3-torch / python3-torchvision not installed (bench/setup.sh installs them)', tunings, rows: [] };
  const py = await runPython([path.join(REPO, 'bench', 'reference-nets.py'), '--cache', path.join(cache, 'onnx'), '--threads', String(threads), '--batches', batches.join(','), '--budget', quick ? '0.5' : '6', ...(quick ? ['--quick'] : []), ...(process.env.BENCH_REFERENCE_NETS ? ['--only', process.env.BENCH_REFERENCE_NETS] : [])]);
  if (py.code !== 0) return { measured: false, note: `not measured: reference-nets.py failed: ${py.stderr.slice(-500)}`, tunings, rows: [] };
  const t = JSON.parse(py.stdout) as TorchOutput;
  const rows: ReferenceRow[] = [];
  for (const n of t.networks) {
    const ortMs: Record<string, number> = {};
    let runs = 0;
    const input = randomInput([n.batch, ...n.input], 7);
    for (const [name, tuning] of Object.entries(tunings)) {
      const s = await createModelSession(n.name, n.file, ['cpu'], silentLogger(), tuning);
      try {
        const r = await timeRuns(s, { [s.inputNames[0]!]: input }, 2, quick ? 500 : 6000);
        ortMs[name] = r.ms;
        runs = r.runs;
      } finally {
        await s.release();
      }
    }
    if (gpu) {
      const s = await createModelSession(n.name, n.file, ['webgpu'], silentLogger());
      try {
        ortMs.webgpu = (await timeRuns(s, { [s.inputNames[0]!]: input }, 2, quick ? 500 : 6000)).ms;
      } finally {
        await s.release();
      }
    }
    const torchMs = median(n.torchMsPerRun);
    rows.push({ network: n.name, input: n.input, batch: n.batch, ortMsPerRun: ortMs, torchMsPerRun: torchMs, ratioToTorch: Object.fromEntries(Object.entries(ortMs).map(([k, v]) => [k, v / torchMs])), runs });
    console.log(`  reference ${n.name} batch ${n.batch}: PyTorch ${torchMs.toFixed(0)} ms, ORT ${Object.entries(ortMs).map(([k, v]) => `${k} ${v.toFixed(0)} ms`).join(', ')}`);
  }
  return { measured: true, torch: t.torch, tunings, rows };
}

export async function benchInference(opts: { cache: string; quick: boolean; providers: ExecutionProvider[] }): Promise<InferenceResult> {
  const threads = Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
  const batches = [1, 8];
  const notMeasured = new Map<string, string>();
  const providers = [...new Set<ExecutionProvider>(['cpu', ...opts.providers])];
  const shipped = await shippedModels(providers, batches, opts.quick, notMeasured);
  const tunings: Record<string, SessionTuning> = {
    default: {},
    tuned: { intraOpThreads: threads, graphOptimizationLevel: 'all', memoryArena: true, executionMode: 'sequential' },
  };
  const reference = await referenceNetworks(opts.cache, threads, batches, opts.quick, tunings, shipped.some((x) => x.provider === 'webgpu'));
  return {
    loadAverage: loadAverage(),
    threads,
    providersTried: providers,
    providersNotMeasured: [...notMeasured].map(([provider, reason]) => ({ provider, reason })),
    shipped,
    reference,
  };
}

export function inferenceMarkdown(r: InferenceResult): string {
  const gpuMeasured = r.shipped.some((x) => x.provider === 'webgpu');
  const ref = r.reference;
  const tn = [...Object.keys(ref.tunings), ...(gpuMeasured && ref.rows.some((x) => x.ortMsPerRun.webgpu !== undefined) ? ['webgpu'] : [])];
  return [
    `### Inference (seeded inputs, after a warm-up, median of the timed runs; ${r.threads} threads; load average ${r.loadAverage.join(' / ')})`,
    '',
    'Shipped models:',
    '',
    '| model | provider | batch | ms per slice | ratio to CPU | max abs diff from CPU |',
    '| --- | --- | --- | --- | --- | --- |',
    ...r.shipped.map((x) => `| ${x.model} | ${x.provider} | ${x.batch} | ${x.msPerSlice.toFixed(2)} | ${x.ratioToCpu.toFixed(2)}x | ${x.provider === 'cpu' ? '-' : x.maxAbsDiffFromCpu.toExponential(2)} |`),
    ...(gpuMeasured ? [] : ['| (all) | webgpu | - | not measured: no GPU | - | - |']),
    '',
    ...r.providersNotMeasured.map((p) => `- ${p.provider}: not measured (${p.reason}).`),
    '',
    `Paper-size reference networks (random weights, exported by bench/reference-nets.py with PyTorch ${ref.torch ?? '-'}'s TorchScript exporter, opset 13; ONNX Runtime CPU vs PyTorch CPU, same machine, same threads):`,
    '',
    ...(ref.measured
      ? [
          `| network | input | batch | PyTorch ms/run | ${tn.map((t) => `ORT ${t} ms/run`).join(' | ')} | ${tn.map((t) => `ORT ${t} / PyTorch`).join(' | ')} | ms per slice (ORT tuned) |`,
          `| --- | --- | --- | --- | ${tn.map(() => '---').join(' | ')} | ${tn.map(() => '---').join(' | ')} | --- |`,
          ...ref.rows.map(
            (x) =>
              `| ${x.network} | ${x.input.join(' x ')} | ${x.batch} | ${x.torchMsPerRun.toFixed(0)} | ${tn.map((t) => x.ortMsPerRun[t]!.toFixed(0)).join(' | ')} | ${tn.map((t) => `**${x.ratioToTorch[t]!.toFixed(2)}x**`).join(' | ')} | ${(x.ortMsPerRun.tuned! / x.batch).toFixed(0)} |`,
          ),
          ...(gpuMeasured ? [] : ['| (all) | | | webgpu: not measured: no GPU | | | |']),
        ]
      : [ref.note ?? 'not measured']),
    '',
    `Tunings: ${tn.map((t) => `${t} = ${JSON.stringify(ref.tunings[t])}`).join('; ')}.`,
    '',
  ].join('\n');
}
