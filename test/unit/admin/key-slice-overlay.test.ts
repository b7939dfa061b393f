/**
 * keySliceOverlay: the outline of the result SEG's segments on the key slice (read back from a SEG the node's
 * encoder wrote), else the localiser's region box; maskOutline draws one unit edge per boundary side.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { encodeSegmentation } from '../../../src/encode/seg/encode-segmentation';
import { keySliceOverlay, maskOutline } from '../../../src/admin/results/key-slice-overlay';
import { readResultDataset } from '../../../src/admin/results/read-result-file';
import { tempDir } from '../../helpers/temp-dir';
import { segmentationFixture } from '../../fixtures/encode/segmentation-fixture';

/** Number of unit edges in a path of `M x y h1` / `M x y v1` parts. */
const edges = (p: string) => (p.match(/[hv]1/g) ?? []).length;

describe('key-slice overlay', function () {
  this.timeout(60_000);

  it('outlines a mask with one unit edge per boundary side (a 2 x 2 square has 8)', () => {
    const m = new Uint8Array(16);
    for (const i of [5, 6, 9, 10]) m[i] = 1;
    const p = maskOutline(m, 4, 4);
    assert.equal(edges(p), 8);
    assert.match(p, /M1 1h1/);
    assert.equal(maskOutline(new Uint8Array(16), 4, 4), '');
  });

  it('takes the SEG when the result has one: GTV and GTVln outlines on the key slice', async () => {
    const t = tempDir('npcai-overlay-');
    try {
      const { input, volume } = await segmentationFixture(t.dir);
      const seg = encodeSegmentation(input);
      const file = path.join(t.dir, 'seg.dcm');
      writeFileSync(file, seg.buffer);
      const key = volume.slices[3]!; // GTV and GTVln both lie on slice 3
      const result = {
        results: [{ analysis: 'stage', assessable: true, keyImages: [{ image: key.image, region: { x0: 20, y0: 20, x1: 40, y1: 36 } }] }],
        outputs: [
          { kind: 'sc', analysis: 'stage', sopInstanceUid: '1.2.3.4' },
          { kind: 'seg', sopInstanceUid: seg.sopInstanceUid },
        ],
      };
      const header = { Rows: 64, Columns: 64, PixelSpacing: [1, 1] };
      const o = await keySliceOverlay({ result, sourceHeader: () => header, readResult: () => readResultDataset(file) });
      assert.ok(o);
      assert.equal(o.source, 'seg');
      assert.equal(o.heatMapSopInstanceUid, '1.2.3.4');
      assert.deepEqual(o.outlines.map((l) => l.label), ['GTV', 'GTVln']);
      for (const l of o.outlines) assert.ok(edges(l.path) > 8, `${l.label} has an outline`);
      // The placement maps the 64 x 64 slice into the heat map's 512 x 512 page (424 x 368 image area).
      assert.equal(o.placement.pageColumns, 512);
      assert.ok(Math.abs(o.placement.scaleX - 368 / 64) < 1e-9);

      const noSeg = await keySliceOverlay({ result: { ...result, outputs: result.outputs.slice(0, 1) }, sourceHeader: () => header, readResult: async () => undefined });
      assert.equal(noSeg!.source, 'localiser-region');
      assert.deepEqual(noSeg!.outlines, [{ label: 'GTV region (localiser)', path: 'M20 20H40V36H20Z' }]);
    } finally {
      t.cleanup();
    }
  });
});
