/**
 * Inference time per model and execution provider: each shipped model runs the same seeded batch of
 * slices on every provider that starts on this machine (cpu always; webgpu, cuda where available), after a
 * warm-up, and reports ms per slice, the ratio to the CPU provider, and the largest output difference from
 * the CPU provider (the "same results on GPU as on CPU" check).
 */
import path from 'node:path';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { createModelSession, type ModelSession, type NamedTensor } from '../src/infer/session-pool';
import { ModelManifestSchema } from '../src/infer/manifest';
import { silentLogger } from '../src/logging/logger';
import type { ExecutionProvider } from '../src/config/schema';

export interface InferenceRow {
  model: string;
  provider: string;
  msPerSlice: number;
  ratioToCpu: number;
  maxAbsDiffFromCpu: number;
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

export async function benchInference(opts: { modelsDir?: string; batch?: number; repeats?: number; providers?: ExecutionProvider[] } = {}): Promise<InferenceRow[]> {
  const dir = opts.modelsDir ?? path.resolve('models');
  const batch = opts.batch ?? 16;
  const repeats = opts.repeats ?? 5;
  // cuda only where a site installed its binaries (probing it otherwise prints native errors): NPC_BENCH_CUDA=1
  const providers = opts.providers ?? (['cpu', 'webgpu', ...(process.env.NPC_BENCH_CUDA === '1' ? ['cuda'] : [])] as ExecutionProvider[]);
  const rows: InferenceRow[] = [];
  for (const id of readdirSync(dir).filter((d) => existsSync(path.join(dir, d, 'manifest.json'))).sort()) {
    const manifest = ModelManifestSchema.parse(JSON.parse(readFileSync(path.join(dir, id, 'manifest.json'), 'utf8')));
    const r = rng(42);
    const inputs: Record<string, NamedTensor> = {};
    for (const i of manifest.inputs) {
      const dims = i.shape.map((d, k) => (k === 0 ? batch : Number(d)));
      inputs[i.name] = { data: Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => r()), dims };
    }
    let cpuMs = NaN;
    let cpuOut: Record<string, NamedTensor> | undefined;
    for (const p of providers) {
      let s: ModelSession;
      try {
        s = await createModelSession(id, path.join(dir, id, manifest.file), [p], silentLogger());
      } catch {
        continue; // provider not available on this machine
      }
      for (let w = 0; w < 2; w++) await s.run(inputs);
      const t0 = process.hrtime.bigint();
      let out: Record<string, NamedTensor> = {};
      for (let k = 0; k < repeats; k++) out = await s.run(inputs);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6 / repeats / batch;
      let diff = 0;
      if (p === 'cpu') {
        cpuMs = ms;
        cpuOut = out;
      } else if (cpuOut) {
        for (const [name, t] of Object.entries(out)) {
          const c = cpuOut[name]!.data;
          for (let k = 0; k < t.data.length; k++) diff = Math.max(diff, Math.abs(t.data[k]! - c[k]!));
        }
      }
      rows.push({ model: id, provider: p, msPerSlice: ms, ratioToCpu: ms / cpuMs, maxAbsDiffFromCpu: diff });
    }
  }
  return rows;
}

export function inferenceMarkdown(rows: InferenceRow[], batch = 16): string {
  return [
    `## inference (batch ${batch}, seeded inputs, after warm-up)`,
    '',
    '| model | provider | ms per slice | ratio to CPU | max abs diff from CPU |',
    '| --- | --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.model} | ${r.provider} | ${r.msPerSlice.toFixed(2)} | ${r.ratioToCpu.toFixed(2)}x | ${r.provider === 'cpu' ? '-' : r.maxAbsDiffFromCpu.toExponential(2)} |`),
    '',
    'Providers that do not start on this machine are left out (webgpu needs a GPU with Vulkan; cuda needs the site-installed CUDA binaries).',
    '',
  ].join('\n');
}
