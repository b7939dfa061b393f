/**
 * Measures decoding and preparing one synthetic series (24 slices of 512 x 512, 16-bit, JPEG-LS) and how
 * long the event loop stalls meanwhile: in the worker pool versus on the main thread.
 * Run: npx tsc -p . && node dist/bench/prepare-series.js
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { buildVolume, exportModelInputs, PreparationStepSchema, WorkerPool, readFrames, assembleVolume } from '../src/prepare';
import { readFile } from 'node:fs/promises';
import { writeMrFile } from '../test/helpers/mr-files';
import { tempDir } from '../test/helpers/temp-dir';

/** Runs fn while a 5 ms timer records the longest gap between its ticks (the event loop's worst stall). */
async function measure<T>(label: string, fn: () => Promise<T>): Promise<T> {
  let last = performance.now();
  let worst = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last - 5);
    last = now;
  }, 5);
  const h = monitorEventLoopDelay({ resolution: 5 });
  h.enable();
  const t0 = performance.now();
  const out = await fn();
  const ms = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 20)); // let the timer see the end of a blocking stretch
  clearInterval(timer);
  h.disable();
  console.log(`${label.padEnd(40)} ${ms.toFixed(0).padStart(6)} ms   longest event-loop stall ${Math.max(worst, h.max / 1e6).toFixed(0).padStart(5)} ms`);
  return out;
}

async function main(): Promise<void> {
  const { dir, cleanup } = tempDir('npcai-bench-');
  const pool = new WorkerPool();
  try {
    const n = 512;
    const files: string[] = [];
    for (let k = 0; k < 24; k++) {
      const values = Array.from({ length: n * n }, (_, i) => Math.round(1000 + 800 * Math.sin(i / 900 + k) + ((i * 7919) % 97)));
      const native = path.join(dir, `n${k}.dcm`);
      writeMrFile(native, { sopInstanceUid: `1.2.826.0.1.3680043.2.1143.7.${k}`, instanceNumber: 24 - k, rows: n, columns: n, frames: [{ position: [0, 0, 5 * ((k * 7) % 24)], values, pixelSpacing: [0.45, 0.45] }] });
      const jls = path.join(dir, `j${k}.dcm`);
      execFileSync('dcmcjpls', [native, jls]);
      files.push(jls);
    }
    const steps = [{ op: 'normalize' }, { op: 'clahe' }, { op: 'resample', spacingMm: 1 }, { op: 'padSquare' }, { op: 'resize', rows: 224, columns: 224 }, { op: 'imagenet' }].map((s) =>
      PreparationStepSchema.parse(s),
    );
    console.log(`pool: ${pool.size} worker(s); 24 x ${n} x ${n} JPEG-LS slices`);
    await buildVolume(files.slice(0, 2), 't1', { pool }); // start the workers and the WASM
    const volume = await measure('decode + assemble in the pool', () => buildVolume(files, 't1', { pool }));
    await measure('decode + assemble on the main thread', async () => {
      const decoded = [];
      for (const f of files) {
        const b = await readFile(f);
        decoded.push(await readFrames(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer));
      }
      return assembleVolume(decoded, 't1');
    });
    const regions = volume.slices.map(() => undefined);
    await measure('prepare 24 slices in a worker', () => exportModelInputs(volume, regions, steps, { pool }));
    await measure('prepare 24 slices on the main thread', () => exportModelInputs(volume, regions, steps));
  } finally {
    await pool.close();
    cleanup();
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
