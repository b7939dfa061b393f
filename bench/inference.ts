/**
 * Inference time per model, execution provider and batch size:
 * - the shipped models (models/): seeded inputs, after a warm-up, ms per slice on cpu (and webgpu where it
 *   starts), the largest output difference from cpu;
 * - paper-size reference networks (ResNet-50 at 224 and 512, Inception-ResNet-v2 at 299, a U-Net at 512)
 *   exported from PyTorch (bench/reference-nets.py, Debian python3-torch; cache dir, not the repo), timed with
 *   ONNX Runtime under the session options given (ORT's defaults and the node's) and with PyTorch itself (as it
 *   comes, and with OMP_WAIT_POLICY=PASSIVE), the same number of threads, alternating run by run so that every
 *   side meets the same load: the ratio is the median of the per-round ratios.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createModelSession, DEFAULT_SESSION_TUNING, type ModelSession, type NamedTensor, type SessionTuning } from '../src/infer/session-pool';
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
  /** PyTorch ms per run as it comes (libgomp's default wait policy: idle OpenMP threads spin) */
  torchMsPerRun: number;
  /** PyTorch ms per run with OMP_WAIT_POLICY=PASSIVE (idle OpenMP threads sleep, as ORT's with allowSpinning false) */
  torchPassiveMsPerRun: number;
  /** ORT (each tuning) / PyTorch: the median of the per-round ratios (each round runs every side once, back to back) */
  ratioToTorch: Record<string, number>;
  /** ORT (each tuning) / PyTorch with OMP_WAIT_POLICY=PASSIVE, the same way */
  ratioToTorchPassive: Record<string, number>;
  /** Process CPU ms per run (all threads, spinning included), by side ('torch' and each tuning) */
  cpuMsPerRun: Record<string, number>;
  /** Fastest run per side (the nearest to an idle machine that a shared one gives) */
  minMsPerRun: Record<string, number>;
  /** Alternating rounds timed */
  runs: number;
  loadAverage: [number, number, number];
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

interface TorchHello {
  torch: string;
  threads: number;
  networks: { name: string; file: string; input: number[] }[];
}

/** Debian's python3 (where python3-torch installs), not a python3 earlier on PATH (pyenv, venvs). */
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

/**
 * bench/reference-nets.py as a child that exports the networks, then answers one timed forward pass per
 * request line, so that PyTorch and ONNX Runtime runs alternate under the same load.
 */
class TorchServer {
  private buf = '';
  private waiting: ((line: string) => void)[] = [];
  private lines: string[] = [];
  stderr = '';
  private exited = false;
  private constructor(private readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.on('data', (d: Buffer) => {
      this.buf += d.toString();
      let i: number;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        const w = this.waiting.shift();
        if (w) w(line);
        else this.lines.push(line);
      }
    });
    child.stderr.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
      process.stderr.write(d);
    });
    child.on('close', () => {
      this.exited = true;
      for (const w of this.waiting.splice(0)) w('');
    });
  }

  static start(args: string[], threads: number, extraEnv: NodeJS.ProcessEnv = {}): TorchServer {
    // PyTorch's intra-op threads are OpenMP's; BLAS single-threaded inside them (else OpenBLAS threads x OpenMP
    // threads oversubscribe the cores: measured here 10-20x slower on a loaded 2-core machine).
    const env = { ...process.env, OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: '1', MKL_NUM_THREADS: '1', ...extraEnv };
    return new TorchServer(spawn(PYTHON, args, { env, stdio: ['pipe', 'pipe', 'pipe'] }));
  }

  next(): Promise<string> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    if (this.exited) return Promise.resolve('');
    return new Promise((r) => this.waiting.push(r));
  }

  async request<T>(line: string): Promise<T> {
    this.child.stdin.write(line + '\n');
    const answer = await this.next();
    if (!answer) throw new Error(`reference-nets.py exited: ${this.stderr.slice(-500)}`);
    return JSON.parse(answer) as T;
  }

  stop(): void {
    if (!this.exited) this.child.stdin.end('quit\n');
  }
}

export function torchAvailable(): Promise<boolean> {
  return new Promise((resolve) => {
    const c = spawn(PYTHON, ['-c', 'import torch, torchvision'], { stdio: 'ignore' });
    c.on('error', () => resolve(false));
    c.on('close', (code) => resolve(code === 0));
  });
}

/** One ORT run timed as the node runs it (ModelSession.run: tensor in, outputs copied out): wall and process CPU ms. */
async function ortRun(s: ModelSession, inputs: Record<string, NamedTensor>): Promise<{ ms: number; cpuMs: number }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await s.run(inputs);
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { ms, cpuMs: (c.user + c.system) / 1000 };
}

async function referenceNetworks(cache: string, threads: number, batches: number[], quick: boolean, tunings: Record<string, SessionTuning>, gpu: boolean): Promise<InferenceResult['reference']> {
  if (!(await torchAvailable())) return { measured: false, note: 'not measured: python3-torch / python3-torchvision not installed (bench/setup.sh installs them)', tunings, rows: [] };
  const only = process.env.BENCH_REFERENCE_NETS;
  const args = [path.join(REPO, 'bench', 'reference-nets.py'), '--cache', path.join(cache, 'onnx'), '--threads', String(threads), ...(quick ? ['--quick'] : []), ...(only ? ['--only', only] : [])];
  // Two PyTorch processes: as it comes (libgomp's idle threads spin, like ORT's by default) and with
  // OMP_WAIT_POLICY=PASSIVE (they sleep, like ORT's with allowSpinning false). The second exports nothing new.
  const py = TorchServer.start(args, threads);
  let passive: TorchServer | undefined;
  try {
    const hello = await py.next();
    if (!hello) return { measured: false, note: `not measured: reference-nets.py failed: ${py.stderr.slice(-500)}`, tunings, rows: [] };
    passive = TorchServer.start(args, threads, { OMP_WAIT_POLICY: 'PASSIVE' });
    if (!(await passive.next())) return { measured: false, note: `not measured: reference-nets.py (passive) failed: ${passive.stderr.slice(-500)}`, tunings, rows: [] };
    const t = JSON.parse(hello) as TorchHello;
    const rows: ReferenceRow[] = [];
    const budgetMs = quick ? 500 : Number(process.env.BENCH_REFERENCE_BUDGET_MS ?? 12000);
    const minRuns = quick ? 2 : Number(process.env.BENCH_REFERENCE_MIN_RUNS ?? 5);
    const maxRuns = Math.max(minRuns, quick ? 3 : 15);
    for (const n of t.networks) {
      for (const batch of batches) {
        const input = randomInput([batch, ...n.input], 7);
        const sessions: [string, ModelSession][] = [];
        try {
          for (const [name, tuning] of Object.entries(tunings)) sessions.push([name, await createModelSession(n.name, n.file, ['cpu'], silentLogger(), tuning)]);
          if (gpu) sessions.push(['webgpu', await createModelSession(n.name, n.file, ['webgpu'], silentLogger())]);
          const feeds = (s: ModelSession) => ({ [s.inputNames[0]!]: input });
          // Warm-up: one run each (PyTorch's first request also makes its input).
          await py.request(`run ${n.name} ${batch}`);
          await passive.request(`run ${n.name} ${batch}`);
          for (const [, s] of sessions) await s.run(feeds(s));
          // Rounds: PyTorch and every ORT session once each, the order rotated per round; ratios per round.
          const sides = ['torch', 'torch-passive', ...sessions.map(([k]) => k)];
          const torchSide = { torch: py, 'torch-passive': passive } as Record<string, TorchServer>;
          const ms: Record<string, number[]> = Object.fromEntries(sides.map((k) => [k, []]));
          const cpu: Record<string, number[]> = Object.fromEntries(sides.map((k) => [k, []]));
          const end = performance.now() + budgetMs;
          let round = 0;
          while (round < maxRuns && (round < minRuns || performance.now() < end)) {
            for (let j = 0; j < sides.length; j++) {
              const side = sides[(round + j) % sides.length]!;
              const ts = torchSide[side];
              const s = sessions.find(([k]) => k === side)?.[1];
              const r = ts ? await ts.request<{ ms: number; cpuMs: number }>(`run ${n.name} ${batch}`) : await ortRun(s!, feeds(s!));
              ms[side]!.push(r.ms);
              cpu[side]!.push(r.cpuMs);
            }
            round++;
          }
          const torchMs = median(ms.torch!);
          const ortMs = Object.fromEntries(sessions.map(([k]) => [k, median(ms[k]!)]));
          const torchPassiveMs = median(ms['torch-passive']!);
          const ratio = Object.fromEntries(sessions.map(([k]) => [k, median(ms[k]!.map((v, i) => v / ms.torch![i]!))]));
          const ratioPassive = Object.fromEntries(sessions.map(([k]) => [k, median(ms[k]!.map((v, i) => v / ms['torch-passive']![i]!))]));
          const cpuMs = Object.fromEntries(sides.map((k) => [k, median(cpu[k]!)]));
          const minMs = Object.fromEntries(sides.map((k) => [k, Math.min(...ms[k]!)]));
          const load = loadAverage();
          rows.push({ network: n.name, input: n.input, batch, ortMsPerRun: ortMs, torchMsPerRun: torchMs, torchPassiveMsPerRun: torchPassiveMs, ratioToTorch: ratio, ratioToTorchPassive: ratioPassive, cpuMsPerRun: cpuMs, minMsPerRun: minMs, runs: round, loadAverage: load });
          console.log(
            `  reference ${n.name} batch ${batch} (${round} alternating rounds, load ${load.join(' / ')}): PyTorch ${torchMs.toFixed(0)} ms (CPU ${cpuMs.torch!.toFixed(0)}), passive ${torchPassiveMs.toFixed(0)} ms (CPU ${cpuMs['torch-passive']!.toFixed(0)}), ` +
              sessions.map(([k]) => `ORT ${k} ${ortMs[k]!.toFixed(0)} ms (CPU ${cpuMs[k]!.toFixed(0)}, ${ratio[k]!.toFixed(2)}x / ${ratioPassive[k]!.toFixed(2)}x)`).join(', ') +
              `; fastest runs: ${sides.map((k) => `${k} ${minMs[k]!.toFixed(0)}`).join(', ')} ms`,
          );
        } finally {
          for (const [, s] of sessions) await s.release();
        }
      }
      await py.request(`drop ${n.name}`);
      await passive.request(`drop ${n.name}`);
    }
    return { measured: true, torch: t.torch, tunings, rows };
  } finally {
    py.stop();
    passive?.stop();
  }
}

/**
 * ORT session tunings the reference networks run with: default = ONNX Runtime's own defaults, tuned = the node's
 * (DEFAULT_SESSION_TUNING, threads explicit); BENCH_ORT_TUNINGS='{"name": {SessionTuning}, ...}' adds more.
 */
export function benchTunings(threads: number): Record<string, SessionTuning> {
  const extra = process.env.BENCH_ORT_TUNINGS ? (JSON.parse(process.env.BENCH_ORT_TUNINGS) as Record<string, SessionTuning>) : {};
  return {
    default: {},
    tuned: { ...DEFAULT_SESSION_TUNING, intraOpThreads: threads },
    ...extra,
  };
}

export async function benchInference(opts: { cache: string; quick: boolean; providers: ExecutionProvider[] }): Promise<InferenceResult> {
  const threads = Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
  const batches = [1, 8];
  const notMeasured = new Map<string, string>();
  const providers = [...new Set<ExecutionProvider>(['cpu', ...opts.providers])];
  const shipped = await shippedModels(providers, batches, opts.quick, notMeasured);
  const tunings = benchTunings(threads);
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

function fastest(x: ReferenceRow): string {
  const m = x.minMsPerRun as Record<string, number> | undefined;
  const t = m?.tuned;
  if (!m || t === undefined) return '-';
  return `${t.toFixed(0)} ms: ${(t / m.torch!).toFixed(2)}x (${(t / m['torch-passive']!).toFixed(2)}x)`;
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
    `Paper-size reference networks (random weights, exported by bench/reference-nets.py with PyTorch ${ref.torch ?? '-'}'s TorchScript exporter, opset 13, BatchNorm folded, dynamic batch; ONNX Runtime CPU vs PyTorch CPU (eval, no_grad, NCHW float32), same machine, ${r.threads} threads each). PyTorch (as it comes, and with OMP_WAIT_POLICY=PASSIVE) and every ORT session run once per round, the order rotated each round, so both sides meet the same load; the ratio is the median of the per-round ratios; CPU ms is the process's CPU time per run (all threads, spinning included):`,
    '',
    ...(ref.measured
      ? [
          `| network | input | batch | rounds | load (1 min) | PyTorch ms/run (CPU ms) | PyTorch passive ms/run (CPU ms) | ${tn.map((t) => `ORT ${t} ms/run (CPU ms)`).join(' | ')} | ${tn.map((t) => `ORT ${t} / PyTorch`).join(' | ')} | ${tn.map((t) => `ORT ${t} / PyTorch passive`).join(' | ')} | fastest runs: ORT tuned / PyTorch (passive) |`,
          `| --- | --- | --- | --- | --- | --- | --- | ${tn.map(() => '---').join(' | ')} | ${tn.map(() => '---').join(' | ')} | ${tn.map(() => '---').join(' | ')} | --- |`,
          ...ref.rows.map(
            (x) =>
              `| ${x.network} | ${x.input.join(' x ')} | ${x.batch} | ${x.runs} | ${x.loadAverage[0]} | ${x.torchMsPerRun.toFixed(0)} (${x.cpuMsPerRun.torch?.toFixed(0) ?? '-'}) | ${x.torchPassiveMsPerRun.toFixed(0)} (${x.cpuMsPerRun['torch-passive']?.toFixed(0) ?? '-'}) | ${tn.map((t) => `${x.ortMsPerRun[t]!.toFixed(0)} (${x.cpuMsPerRun[t]?.toFixed(0) ?? '-'})`).join(' | ')} | ${tn.map((t) => `**${x.ratioToTorch[t]!.toFixed(2)}x**`).join(' | ')} | ${tn.map((t) => `**${x.ratioToTorchPassive[t]!.toFixed(2)}x**`).join(' | ')} | ${fastest(x)} |`,
          ),
          ...(gpuMeasured ? [] : ['| (all) | | | | | webgpu: not measured: no GPU | | |']),
        ]
      : [ref.note ?? 'not measured']),
    '',
    `Tunings: ${tn.map((t) => `${t} = ${JSON.stringify(ref.tunings[t] ?? {})}`).join('; ')}.`,
    '',
  ].join('\n');
}
