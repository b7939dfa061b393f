/**
 * Worker thread of the preparation pool: decodes stored instances (dcmjs-codecs is synchronous WASM)
 * and runs preparation steps on whole series, so the event loop never does either.
 */
import { parentPort } from 'node:worker_threads';
import { readFile } from 'node:fs/promises';
import { readFrames } from './read-frames';
import { prepareSlice, volumeStatistics } from './pipeline';
import type { PoolRequest, PoolResponse, PrepareResult } from './pool-protocol';

if (!parentPort) throw new Error('decode-worker.ts must run as a worker thread');
const port = parentPort;

async function handle(req: PoolRequest): Promise<{ result: unknown; transfer: ArrayBuffer[] }> {
  if (req.type === 'decode') {
    const bytes = await readFile(req.path);
    const decoded = await readFrames(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer, { shared: true });
    // Shared pixel buffers travel as they are (and cannot be transferred); any other is transferred.
    return { result: decoded, transfer: decoded.frames.flatMap((f) => (f.pixels.buffer instanceof ArrayBuffer ? [f.pixels.buffer] : [])) };
  }
  const r = req.ranges;
  const stats = 'volumeRanges' in r ? { volumeRanges: r.volumeRanges } : volumeStatistics(r.volumePixels.map((pixels) => ({ pixels })), req.steps, r.percentiles);
  const volumeRanges = stats.volumeRanges;
  const prepared = req.slices.map((slice, k) => prepareSlice(slice, req.steps, req.regions[k], { volumeRanges }));
  const result: PrepareResult = { prepared, volumeRanges, ...('percentiles' in stats ? { percentiles: stats.percentiles } : {}) };
  return { result, transfer: prepared.map((o) => o.pixels.buffer as ArrayBuffer) };
}

port.on('message', (req: PoolRequest) => {
  handle(req).then(
    ({ result, transfer }) => port.postMessage({ id: req.id, ok: true, result } satisfies PoolResponse, transfer),
    (e: unknown) => {
      const err = e instanceof Error ? e : new Error(String(e));
      port.postMessage({ id: req.id, ok: false, error: { name: err.name, message: err.message } } satisfies PoolResponse);
    },
  );
});
