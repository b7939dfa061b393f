import assert from 'node:assert/strict';
import { createPreparer } from '../../../src/analyses/prepare-adapter';
import type { Slice, Volume } from '../../../src/prepare/volume-types';
import { WorkerPool } from '../../../src/prepare';
import { percentiles } from '../../../src/prepare/steps/percentile';

function volumeOf(n: number, rows: number, columns: number): Volume {
  const slices: Slice[] = Array.from({ length: n }, (_, k) => ({
    pixels: Float32Array.from({ length: rows * columns }, (_, i) => (i % columns) + k),
    rows,
    columns,
    pixelSpacing: [1, 1],
    position: [0, 0, k * 5],
    location: k * 5,
    image: { studyInstanceUid: '1.2', seriesInstanceUid: '1.2.3', sopInstanceUid: `1.2.3.${k + 1}`, sopClassUid: '1.2.840.10008.5.1.4.1.1.4' },
  }));
  return { seriesInstanceUid: '1.2.3', role: 'ce-t1', orientation: [1, 0, 0, 0, 1, 0], normal: [0, 0, 1], sliceSpacing: 5, slices };
}

/** Records the arguments of every request the pool is asked to prepare (the pool still does the work). */
function recordPrepareCalls(pool: WorkerPool): Parameters<WorkerPool['prepare']>[] {
  const calls: Parameters<WorkerPool['prepare']>[] = [];
  const prepare = pool.prepare.bind(pool);
  pool.prepare = (...args) => {
    calls.push(args);
    return prepare(...args);
  };
  return calls;
}

describe('ImagePreparer over src/prepare', () => {
  const steps = [
    { op: 'crop' as const, region: 'gtv' as const, marginMm: 0, marginFraction: 0, minSizeMm: 0 },
    { op: 'padSquare' as const, value: 0 },
    { op: 'resize' as const, rows: 20, columns: 20 },
  ];

  it('maps model-input pixel edges back to the source slice through crop, pad and resize', async () => {
    const v = volumeOf(3, 100, 100);
    const box = { x0: 20, y0: 30, x1: 60, y1: 50 };
    const batch = await createPreparer().prepareBatch([{ channels: [v.slices[1]!], volumes: [v], regions: [{ gtv: box }] }], steps);
    assert.deepEqual(batch.dims, [1, 1, 20, 20]);
    const t = batch.transforms[0]!;
    // 40 x 20 crop padded to 40 x 40 (10 rows above), resized to 20 x 20: one input pixel = 2 source pixels
    assert.ok(Math.abs(t.offsetX + t.scaleX * 0 - 20) < 1e-9, `x0 ${t.offsetX}`);
    assert.ok(Math.abs(t.offsetX + t.scaleX * 20 - 60) < 1e-9);
    assert.ok(Math.abs(t.offsetY + t.scaleY * 5 - 30) < 1e-9, `y ${t.offsetY + t.scaleY * 5}`);
    assert.ok(Math.abs(t.scaleX - 2) < 1e-9 && Math.abs(t.scaleY - 2) < 1e-9);
  });

  it('gives the same tensors in the worker pool as on the main thread, and stacks channels', async () => {
    const a = volumeOf(4, 64, 64);
    const b = volumeOf(4, 64, 64);
    const items = [0, 2].map((i) => ({ channels: [a.slices[i]!, b.slices[i]!], volumes: [a, b], regions: [{ gtv: { x0: 10, y0: 10, x1: 40, y1: 30 } }, { gtv: { x0: 10, y0: 10, x1: 40, y1: 30 } }] }));
    const norm = [{ op: 'normalize' as const, min: 0, max: 255, lowerPercentile: 0.5, upperPercentile: 99.5, scope: 'volume' as const }, ...steps];
    const here = await createPreparer().prepareBatch(items, norm);
    const pool = new WorkerPool({ size: 1 });
    try {
      const there = await createPreparer({ pool }).prepareBatch(items, norm);
      assert.deepEqual(there.dims, [2, 2, 20, 20]);
      assert.deepEqual(Array.from(there.data), Array.from(here.data));
    } finally {
      await pool.close();
    }
  });
});

describe('ImagePreparer: work done once per study', () => {
  const normalize = { op: 'normalize' as const, min: 0, max: 255, lowerPercentile: 0.5, upperPercentile: 99.5, scope: 'volume' as const };
  const cropTo = (size: number) => [
    normalize,
    { op: 'crop' as const, region: 'gtv' as const, marginMm: 0, marginFraction: 0, minSizeMm: 0 },
    { op: 'padSquare' as const, value: 0 },
    { op: 'resize' as const, rows: size, columns: size },
  ];

  it('computes a volume\'s ranges in the first request only, then sends only the slices it prepares; repeats come from the cache', async () => {
    const v = volumeOf(6, 32, 32);
    const regions = v.slices.map((_, i) => ({ gtv: { x0: 2 + i, y0: 3, x1: 20, y1: 25 } }));
    const itemsOf = (idx: number[]) => idx.map((i) => ({ channels: [v.slices[i]!], volumes: [v], regions: [regions[i]!] }));
    const pool = new WorkerPool({ size: 1 });
    const calls = recordPrepareCalls(pool);
    try {
      const preparer = createPreparer({ pool });
      const here = createPreparer();
      const a = await preparer.prepareBatch(itemsOf([1, 4]), cropTo(16));
      assert.equal(calls.length, 1);
      assert.equal(calls[0]![0].length, 2, 'the two slices to prepare');
      assert.ok('volumePixels' in calls[0]![3] && calls[0]![3].volumePixels.length === 6, 'and the series, once, for its ranges');
      // same percentiles, other steps: the ranges travel instead of the series
      const b = await preparer.prepareBatch(itemsOf([0, 1, 4]), cropTo(8));
      assert.equal(calls.length, 2);
      assert.equal(calls[1]![0].length, 3);
      assert.ok('volumeRanges' in calls[1]![3]);
      // the same steps and regions again (another model with the same preparation): nothing is sent
      const again = await preparer.prepareBatch(itemsOf([4, 1]), cropTo(16));
      assert.equal(calls.length, 2);
      // only slice 0 is new
      await preparer.prepareBatch(itemsOf([0, 4]), cropTo(16));
      assert.equal(calls.length, 3);
      assert.equal(calls[2]![0].length, 1);
      // every answer equals preparing on the main thread from scratch
      assert.deepEqual(Array.from(a.data), Array.from((await here.prepareBatch(itemsOf([1, 4]), cropTo(16))).data));
      assert.deepEqual(Array.from(b.data), Array.from((await createPreparer().prepareBatch(itemsOf([0, 1, 4]), cropTo(8))).data));
      const fresh = await createPreparer().prepareBatch(itemsOf([4, 1]), cropTo(16));
      assert.deepEqual(Array.from(again.data), Array.from(fresh.data));
      assert.deepEqual(again.transforms, fresh.transforms);
    } finally {
      await pool.close();
    }
  });

  it('keeps prepared slices apart by their regions when the steps read them', async () => {
    const v = volumeOf(3, 32, 32);
    const preparer = createPreparer();
    const small = await preparer.prepareBatch([{ channels: [v.slices[1]!], volumes: [v], regions: [{ gtv: { x0: 0, y0: 0, x1: 8, y1: 8 } }] }], cropTo(8));
    const large = await preparer.prepareBatch([{ channels: [v.slices[1]!], volumes: [v], regions: [{ gtv: { x0: 0, y0: 0, x1: 24, y1: 24 } }] }], cropTo(8));
    assert.notDeepEqual(small.transforms, large.transforms);
  });
});

describe('ImagePreparer: volume percentiles', () => {
  const norm = { op: 'normalize' as const, min: 0, max: 255, lowerPercentile: 0.5, upperPercentile: 99.5, scope: 'volume' as const };
  const steps = [norm, { op: 'resize' as const, rows: 8, columns: 8 }];

  it('computes the expected percentiles with the first ranges in the pool, exactly as on the main thread', async () => {
    const v = volumeOf(5, 24, 24);
    const all = v.slices.map((s) => s.pixels);
    const pool = new WorkerPool({ size: 1 });
    const calls = recordPrepareCalls(pool);
    try {
      const preparer = createPreparer({ pool, expectPercentiles: [99] });
      await preparer.prepareBatch(v.slices.map((s) => ({ channels: [s], volumes: [v], regions: [{}] })), steps);
      assert.deepEqual((calls[0]![3] as { percentiles?: number[] }).percentiles, [99]);
      assert.deepEqual(await preparer.volumePercentiles!(v, [99, 50]), percentiles(all, [99, 50]));
      assert.equal(calls.length, 1);
      // a preparer without a pool or expectations computes them when asked, with the same values
      assert.deepEqual(await createPreparer().volumePercentiles!(v, [50, 99]), percentiles(all, [50, 99]));
    } finally {
      await pool.close();
    }
  });
});
