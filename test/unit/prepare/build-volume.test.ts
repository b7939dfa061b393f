import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildVolume, tryBuildVolume, WorkerPool, exportModelInputs, PreparationStepSchema, type SliceRegions } from '../../../src/prepare';
import { writeMrFile, type MrFrameSpec } from '../../helpers/mr-files';
import { tempDir } from '../../helpers/temp-dir';

/** Seeded LCG so the data never change between runs. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

describe('building volumes from stored instances', function () {
  this.timeout(60000);
  let pool: WorkerPool;
  let tmp: { dir: string; cleanup: () => void };
  before(() => {
    pool = new WorkerPool({ size: 2 });
  });
  after(() => pool.close());
  beforeEach(() => {
    tmp = tempDir('npcai-prepare-');
  });
  afterEach(() => tmp.cleanup());

  /** Slice k holds value (k * 100 - 300 + pixel index) as signed stored values. */
  function signedValues(k: number, n: number) {
    return Array.from({ length: n }, (_, i) => k * 100 - 300 + i);
  }

  it('sorts slices along the normal, not by InstanceNumber, with shuffled positions, signed data and rescale', async () => {
    // A tilted axial stack: the normal is not the z axis, positions advance along it by 4 mm.
    const a = (12 * Math.PI) / 180;
    const orientation = [1, 0, 0, 0, Math.cos(a), -Math.sin(a)];
    const normal = [0, Math.sin(a), Math.cos(a)];
    const order = [3, 0, 5, 1, 4, 2]; // file k holds slice order[k]; InstanceNumber runs the other way
    const files = order.map((slice, k) => {
      const f = path.join(tmp.dir, `i${k}.dcm`);
      const p: [number, number, number] = [-10 + 0.3 * slice, 20 + 4 * slice * normal[1]!, -5 + 4 * slice * normal[2]!];
      writeMrFile(f, {
        sopInstanceUid: `1.2.3.${k + 1}`,
        instanceNumber: 100 - k,
        rows: 3,
        columns: 4,
        orientation,
        signed: true,
        bitsStored: 12,
        frames: [{ position: p, values: signedValues(slice, 12), rescaleSlope: 2, rescaleIntercept: -1 }],
      });
      return f;
    });
    const v = await buildVolume(files, 't1', { pool });
    assert.equal(v.slices.length, 6);
    assert.deepEqual(v.slices.map((s) => s.image.sopInstanceUid), [1, 3, 5, 0, 4, 2].map((k) => `1.2.3.${k + 1}`));
    assert.ok(Math.abs(v.sliceSpacing - 4) < 1e-3, `spacing ${v.sliceSpacing}`);
    for (let i = 1; i < v.slices.length; i++) assert.ok(v.slices[i]!.location > v.slices[i - 1]!.location);
    v.slices.forEach((s, k) => assert.deepEqual([...s.pixels], signedValues(k, 12).map((x) => x * 2 - 1)));
    assert.ok(v.slices[0]!.pixels[0]! < 0, 'negative stored values survive (12-bit signed, sign-extended)');
    assert.deepEqual(v.normal.map((x) => +x.toFixed(6)), normal.map((x) => +x.toFixed(6)));
    assert.equal(v.warnings, undefined);
  });

  it('orders descending positions by location along a normal that points to the feet', async () => {
    const files = [0, 1, 2, 3].map((k) => {
      const f = path.join(tmp.dir, `d${k}.dcm`);
      writeMrFile(f, { sopInstanceUid: `1.2.4.${k}`, instanceNumber: k + 1, rows: 2, columns: 2, orientation: [1, 0, 0, 0, -1, 0], frames: [{ position: [0, 0, k * 5], values: [k, k, k, k] }] });
      return f;
    });
    const v = await buildVolume(files, 't2', { pool });
    assert.deepEqual(v.normal.map((x) => x + 0), [0, 0, -1]);
    assert.deepEqual(v.slices.map((s) => s.pixels[0]), [3, 2, 1, 0]);
    assert.deepEqual(v.slices.map((s) => s.position[2]), [15, 10, 5, 0]);
    assert.equal(v.sliceSpacing, 5);
  });

  it('reads an Enhanced MR multi-frame instance with per-frame and shared functional groups', async () => {
    const r = rng(7);
    const frames: MrFrameSpec[] = [2, 0, 3, 1].map((z) => ({
      position: [0, 0, z * 6],
      values: Array.from({ length: 6 }, () => Math.floor(r() * 4000)),
      pixelSpacing: [0.7, 0.8],
      rescaleSlope: 1 + z,
      rescaleIntercept: z,
    }));
    const perFrame = path.join(tmp.dir, 'enhanced.dcm');
    writeMrFile(perFrame, { sopInstanceUid: '1.2.5.1', rows: 2, columns: 3, enhanced: true, frames });
    const v = await buildVolume([perFrame], 'ce-t1', { pool });
    assert.deepEqual(v.slices.map((s) => s.image.frameNumber), [2, 4, 1, 3]);
    assert.deepEqual(v.slices.map((s) => s.location), [0, 6, 12, 18]);
    assert.equal(v.sliceSpacing, 6);
    v.slices.forEach((s, z) => {
      const f = frames.find((x) => x.position[2] === z * 6)!;
      assert.deepEqual([...s.pixels], f.values.map((x) => x * (1 + z) + z));
      assert.deepEqual(s.pixelSpacing, [0.7, 0.8]);
      assert.equal(s.image.sopClassUid, '1.2.840.10008.5.1.4.1.1.4.1');
    });

    const shared = path.join(tmp.dir, 'enhanced-shared.dcm');
    writeMrFile(shared, { sopInstanceUid: '1.2.5.2', seriesInstanceUid: '1.2.5.99', rows: 2, columns: 3, enhanced: true, sharedGeometry: true, frames });
    const w = await buildVolume([shared], 'ce-t1', { pool });
    assert.deepEqual(w.slices.map((s) => s.image.frameNumber), [2, 4, 1, 3]);
    // shared PixelValueTransformation: frame 1's slope/intercept (z = 2) for every frame
    assert.deepEqual([...w.slices[0]!.pixels], frames[1]!.values.map((x) => x * 3 + 2));
  });

  it('decodes JPEG-LS, RLE, JPEG 2000, JPEG lossless and big endian pixel-exact against the native original', async () => {
    const r = rng(11);
    for (const [bits, signed] of [
      [16, true],
      [16, false],
      [8, false],
    ] as const) {
      const native = path.join(tmp.dir, `native-${bits}-${signed}.dcm`);
      const max = bits === 8 ? 253 : 4093; // plus i % 3 stays within the stored range
      const values = Array.from({ length: 32 * 24 }, (_, i) => Math.floor(r() * max) - (signed ? 2048 : 0) + (i % 3));
      writeMrFile(native, { sopInstanceUid: `1.2.6.${bits}.${signed ? 1 : 0}`, rows: 32, columns: 24, bitsAllocated: bits, signed, frames: [{ position: [0, 0, 0], values, rescaleSlope: 1.5, rescaleIntercept: 7 }] });
      const base = await buildVolume([native], 't1', { pool });
      assert.deepEqual([...base.slices[0]!.pixels], values.map((x) => x * 1.5 + 7));
      const encoders: [string, string, string[]][] = [
        ['jpeg-ls', 'dcmcjpls', []],
        ['rle', 'dcmcrle', []],
        ['jpeg-lossless', 'dcmcjpeg', []],
        ['j2k', 'gdcmconv', ['--j2k']],
        ['big-endian', 'dcmconv', ['+tb']],
      ];
      for (const [name, tool, args] of encoders) {
        const out = path.join(tmp.dir, `${name}-${bits}-${signed}.dcm`);
        execFileSync(tool, tool === 'gdcmconv' ? [...args, native, out] : [...args, native, out], { stdio: 'pipe' });
        const v = await buildVolume([out], 't1', { pool });
        assert.deepEqual([...v.slices[0]!.pixels], [...base.slices[0]!.pixels], `${name} ${bits}-bit ${signed ? 'signed' : 'unsigned'}`);
      }
    }
  });

  it('keeps per-slice matrix sizes by default and can resample to the most common size', async () => {
    const files = [
      { z: 0, rows: 4, columns: 4 },
      { z: 5, rows: 2, columns: 2 },
      { z: 10, rows: 4, columns: 4 },
    ].map((s, k) => {
      const f = path.join(tmp.dir, `m${k}.dcm`);
      const n = s.rows * s.columns;
      writeMrFile(f, { sopInstanceUid: `1.2.7.${k}`, rows: s.rows, columns: s.columns, frames: [{ position: [0, 0, s.z], values: new Array(n).fill(10), pixelSpacing: [1, 1] }] });
      return f;
    });
    const keep = await buildVolume(files, 't1', { pool });
    assert.deepEqual(keep.slices.map((s) => s.rows), [4, 2, 4]);
    assert.match(keep.warnings!.join(), /mixed matrix sizes .*keep their own size/);
    const uniform = await buildVolume(files, 't1', { pool, matrix: 'most-common' });
    assert.deepEqual(uniform.slices.map((s) => [s.rows, s.columns]), [[4, 4], [4, 4], [4, 4]]);
    assert.deepEqual(uniform.slices[1]!.pixelSpacing, [0.5, 0.5]);
    assert.ok(uniform.slices[1]!.pixels.every((x) => x === 10));
  });

  it('leaves out repeated positions and off-orientation images with a warning', async () => {
    const specs: [number, number[]][] = [
      [0, [1, 0, 0, 0, 1, 0]],
      [5, [1, 0, 0, 0, 1, 0]],
      [5, [1, 0, 0, 0, 1, 0]],
      [10, [1, 0, 0, 0, 1, 0]],
      [7, [0, 1, 0, 0, 0, -1]],
    ];
    const files = specs.map(([z, o], k) => {
      const f = path.join(tmp.dir, `w${k}.dcm`);
      writeMrFile(f, { sopInstanceUid: `1.2.8.${k}`, instanceNumber: k + 1, rows: 2, columns: 2, orientation: o, frames: [{ position: [0, 0, z], values: [k, k, k, k] }] });
      return f;
    });
    const v = await buildVolume(files, 't1', { pool });
    assert.deepEqual(v.slices.map((s) => s.pixels[0]), [0, 1, 3]);
    assert.equal(v.sliceSpacing, 5);
    assert.match(v.warnings!.join(' | '), /1 image\(s\) with a different orientation/);
    assert.match(v.warnings!.join(' | '), /1 image\(s\) at an already occupied slice position/);
  });

  it('reports an unreadable series as a reason, never a crash, and the pool keeps working', async () => {
    const bad = path.join(tmp.dir, 'bad.dcm');
    writeFileSync(bad, Buffer.from('not a dicom file at all'));
    const r = await tryBuildVolume([bad], 'ce-t1', { pool });
    assert.equal(r.ok, false);
    assert.match(!r.ok ? r.reason : '', /the ce-t1 series could not be read/);
    const missing = await tryBuildVolume([path.join(tmp.dir, 'nope.dcm')], 't2', { pool });
    assert.equal(missing.ok, false);
    const empty = await tryBuildVolume([], 't2', { pool });
    assert.match(!empty.ok ? empty.reason : '', /no images/);
    const good = path.join(tmp.dir, 'good.dcm');
    writeMrFile(good, { sopInstanceUid: '1.2.9.1', rows: 2, columns: 2, frames: [{ position: [0, 0, 0], values: [1, 2, 3, 4] }] });
    assert.equal((await tryBuildVolume([good], 't2', { pool })).ok, true);
  });

  it('exports model inputs identically in the worker and in-thread, skipping slices without the region', async () => {
    const files = [0, 1, 2].map((k) => {
      const f = path.join(tmp.dir, `x${k}.dcm`);
      const values = Array.from({ length: 64 }, (_, i) => (i * (k + 3)) % 200);
      writeMrFile(f, { sopInstanceUid: `1.2.10.${k}`, rows: 8, columns: 8, frames: [{ position: [0, 0, 4 * k], values, pixelSpacing: [0.5, 0.5] }] });
      return f;
    });
    const v = await buildVolume(files, 'ce-t1', { pool });
    const steps = [
      { op: 'normalize' },
      { op: 'clahe', clipLimit: 2, tiles: 2 },
      { op: 'crop', region: 'gtv', marginMm: 0.5 },
      { op: 'padSquare' },
      { op: 'resize', rows: 6, columns: 6 },
      { op: 'imagenet' },
    ].map((s) => PreparationStepSchema.parse(s));
    const regions: (SliceRegions | undefined)[] = [{ gtv: { box: { x0: 2, y0: 3, x1: 5, y1: 5 } } }, undefined, { gtv: { box: { x0: 1, y0: 1, x1: 7, y1: 4 } } }];
    const inWorker = await exportModelInputs(v, regions, steps, { pool });
    const inThread = await exportModelInputs(v, regions, steps);
    assert.deepEqual(inWorker.sliceIndices, [0, 2]);
    assert.deepEqual(inWorker.sliceRefs.map((r) => r.sopInstanceUid), ['1.2.10.0', '1.2.10.2']);
    assert.equal(inWorker.tensors.length, 2);
    inWorker.tensors.forEach((t, i) => {
      assert.deepEqual([t.channels, t.rows, t.columns], [3, 6, 6]);
      assert.deepEqual([...t.pixels], [...inThread.tensors[i]!.pixels]);
      assert.deepEqual(t.fromSource, inThread.tensors[i]!.fromSource);
    });
  });
});
