import assert from 'node:assert/strict';
import { applySignature, measureLocalisation, signVote, MIN_NODE_AREA_MM2 } from '../../../src/analyses/localiser-measures';
import type { LocalisationResult, SliceLocalisation } from '../../../src/analyses/localisation';
import { ModelManifestSchema, checkManifest, type ModelManifest, type SignatureSpec } from '../../../src/infer/manifest';
import type { Slice, Volume } from '../../../src/prepare/volume-types';
import { logit, sigmoid } from '../../../src/analyses/aggregation';

const close = (a: number, b: number, eps = 1e-9) => assert.ok(Math.abs(a - b) < eps, `${a} != ${b}`);

/** A localisation over slices 5 mm apart (z = 0, 5, 10, ...), pixels 0.5 x 0.5 mm (0.25 mm2). */
function localisation(perSlice: { gtv?: number; nodes?: number[] }[]): LocalisationResult {
  const slices: SliceLocalisation[] = perSlice.map((s, i) => {
    const slice = { rows: 10, columns: 10, pixelSpacing: [0.5, 0.5], position: [0, 0, i * 5], location: i * 5, pixels: new Float32Array(100), image: { sopInstanceUid: `1.2.${i}` } } as unknown as Slice;
    const nodes = s.nodes ?? [];
    return {
      slice,
      detections: [
        ...(s.gtv ? [{ label: 'GTV', image: slice.image, box: { x0: 0, y0: 0, x1: 1, y1: 1 }, score: 0.9, areaPx: s.gtv }] : []),
        ...nodes.map((a) => ({ label: 'GTVln', image: slice.image, box: { x0: 0, y0: 0, x1: 1, y1: 1 }, score: 0.9, areaPx: a })),
      ],
      regions: {},
      gtvAreaPx: s.gtv ?? 0,
      gtvlnAreaPx: nodes.reduce((a, b) => a + b, 0),
    } as SliceLocalisation;
  });
  const volume = { sliceSpacing: 5, slices: slices.map((s) => s.slice) } as unknown as Volume;
  const areas = slices.map((s) => s.gtvAreaPx);
  const largest = areas.indexOf(Math.max(...areas));
  return { volume, model: { id: 'loc', version: '1', provider: 'cpu' }, slices, ...(areas[largest]! > 0 ? { largestTumourSlice: largest } : {}), timingMs: 0 } as LocalisationResult;
}

describe('localiser measures', () => {
  it('measures volumes and heights of the tumour run around the largest slice, ignoring an isolated detection', () => {
    const loc = localisation([
      { nodes: [400] }, // z 0: a node 100 mm2, 25 mm below the largest tumour slice
      { nodes: [40] }, // z 5: 10 mm2, below MIN_NODE_AREA_MM2: does not set the lowest node
      { gtv: 800 }, // z 10
      { gtv: 1600 }, // z 15 <- largest
      { gtv: 400 }, // z 20
      {}, // z 25
      { gtv: 100 }, // z 30: isolated detection, not part of the primary tumour's run
    ]);
    const m = measureLocalisation(loc);
    close(m.gtvVolumeMl, ((800 + 1600 + 400) * 0.25 * 5) / 1000);
    close(m.gtvAboveLargestMm, 5);
    close(m.gtvBelowLargestMm, 5);
    close(m.gtvlnVolumeMl, ((400 + 40) * 0.25 * 5) / 1000);
    close(m.gtvlnLowestBelowLargestMm, 15);
    close(m.largestNodeDiameterMm, 2 * Math.sqrt(100 / Math.PI));
    assert.ok(40 * 0.25 < MIN_NODE_AREA_MM2);
  });

  it('gives first-order signal statistics inside the masks, relative to the series 99th percentile', () => {
    const loc = localisation([{ gtv: 4 }, { gtv: 4, nodes: [2] }, {}]);
    // slice 0: GTV pixels 0..3 = 100, 300, 100, 300; slice 1: GTV pixels 0..3 all 200, node pixels 4..5 = 50
    const fill = (i: number, values: Record<number, number>, gtv: number[], ln: number[]) => {
      const s = loc.slices[i]!;
      for (const [k, v] of Object.entries(values)) s.slice.pixels[Number(k)] = v;
      if (gtv.length) s.regions.gtvMask = Uint8Array.from({ length: 100 }, (_, k) => (gtv.includes(k) ? 1 : 0));
      if (ln.length) s.regions.gtvlnMask = Uint8Array.from({ length: 100 }, (_, k) => (ln.includes(k) ? 1 : 0));
    };
    fill(0, { 0: 100, 1: 300, 2: 100, 3: 300 }, [0, 1, 2, 3], []);
    fill(1, { 0: 200, 1: 200, 2: 200, 3: 200, 4: 50, 5: 50 }, [0, 1, 2, 3], [4, 5]);
    loc.slices[2]!.slice.pixels.fill(400); // the brightest tissue: the 99th percentile is 400
    const m = measureLocalisation(loc);
    close(m.gtvRelativeSignal, 200 / 400);
    close(m.gtvSignalCv, Math.sqrt((4 * 100 ** 2) / 8) / 200);
    close(m.gtvlnRelativeSignal, 50 / 400);
  });

  it('gives zeros when nothing was found', () => {
    const m = measureLocalisation(localisation([{}, {}, {}]));
    assert.ok(Object.values(m).every((v) => v === 0), JSON.stringify(m));
  });

  it('combines the vote and the measures as the manifest says, and passes the vote through without a signature', () => {
    const spec: SignatureSpec = {
      intercept: -1,
      voteCoefficient: 0.8,
      measures: [
        { measure: 'gtvVolumeMl', transform: 'log1p', coefficient: 0.5 },
        { measure: 'gtvAboveLargestMm', transform: 'identity', coefficient: 0.1 },
      ],
    };
    const loc = localisation([{ gtv: 800 }, { gtv: 1600 }, { gtv: 400 }]);
    const m = measureLocalisation(loc);
    close(applySignature(spec, 0.7, m), sigmoid(-1 + 0.8 * logit(0.7) + 0.5 * Math.log1p(m.gtvVolumeMl) + 0.1 * 5));
    const manifest = { id: 'x', signature: spec } as unknown as ModelManifest;
    const signed = signVote(manifest, 0.7, loc);
    close(signed.probability, applySignature(spec, 0.7, m));
    assert.equal(signed.components.networksVote, 0.7);
    assert.equal(signed.components.gtvAboveLargestMm, 5);
    assert.match(signed.note!, /gtvVolumeMl, gtvAboveLargestMm/);
    const plain = signVote({ id: 'y' } as unknown as ModelManifest, 0.7, loc);
    assert.deepEqual(plain, { probability: 0.7, components: { networksVote: 0.7 } });
  });

  it('the manifest schema refuses an unknown measure and a repeated measure', () => {
    const base = {
      schemaVersion: 1, id: 'm', name: 'm', version: '1', task: 'stage', file: 'model.onnx', sha256: 'a'.repeat(64),
      classes: { negative: 'III', positive: 'IVa' },
      inputs: [{ name: 'image', kind: 'image', shape: ['N', 1, 8, 8], roles: ['ce-t1'] }],
      outputs: [{ name: 'p', meaning: 'probability', shape: ['N', 1] }, { name: 'cam', meaning: 'cam', shape: ['N', 2, 2] }],
      preparation: [{ op: 'resize', rows: 8, columns: 8 }],
      cam: { kind: 'in-graph', output: 'cam' },
      cutoff: { value: 0.5, method: 'fixed' },
      intendedUse: 'test', researchUseOnly: true, trainingData: 'none',
    };
    const sig = (measures: unknown[]) => ({ intercept: 0, voteCoefficient: 1, measures });
    assert.equal(ModelManifestSchema.safeParse({ ...base, signature: sig([{ measure: 'tumourColour', transform: 'identity', coefficient: 1 }]) }).success, false);
    const twice = ModelManifestSchema.parse({ ...base, signature: sig([{ measure: 'gtvVolumeMl', transform: 'log1p', coefficient: 1 }, { measure: 'gtvVolumeMl', transform: 'identity', coefficient: 1 }]) });
    assert.ok(checkManifest(twice).some((p) => /listed twice/.test(p)));
    const ok = ModelManifestSchema.parse({ ...base, signature: sig([{ measure: 'gtvVolumeMl', transform: 'log1p', coefficient: 1 }]) });
    assert.deepEqual(checkManifest(ok), []);
  });
});
