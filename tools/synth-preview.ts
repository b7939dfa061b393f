/**
 * Render a few axial slices of one synthetic patient (T1, T2, CE-T1) to PNG montages for the docs:
 * node dist/tools/synth-preview.js [--seed S] [--index I] [--out docs/images] [--matrix 256|512] [--overlay]
 * One PNG per sequence: three slices (skull base / nasopharynx, upper neck with nodes, lower neck) side by
 * side, each windowed to its 1st-99.5th percentile. With --overlay a fourth PNG outlines the masks on CE-T1.
 */
import path from 'node:path';
import fs from 'node:fs';
import sharp from 'sharp';
import dcmjs from 'dcmjs';
import { generatePatient, type GeneratedSeries } from '../src/synth/cohort';

interface Decoded {
  rows: number;
  columns: number;
  z: number;
  pixels: Uint16Array;
}

function decode(buf: Buffer): Decoded {
  const dict = dcmjs.data.DicomMessage.readFile(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer);
  const ds = dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict.dict) as Record<string, unknown>;
  const px = (ds.PixelData as ArrayBuffer[])[0]!;
  return { rows: ds.Rows as number, columns: ds.Columns as number, z: (ds.ImagePositionPatient as number[])[2]!, pixels: new Uint16Array(px) };
}

function window8(img: Decoded): Uint8Array {
  const vals = Array.from(img.pixels).filter((v) => v > 0).sort((a, b) => a - b);
  const lo = vals[Math.floor(vals.length * 0.3)] ?? 0; // suppresses the background noise floor (smaller PNGs)
  const hi = vals[Math.floor(vals.length * 0.995)] ?? 1;
  const out = new Uint8Array(img.pixels.length);
  for (let i = 0; i < out.length; i++) out[i] = Math.max(0, Math.min(255, Math.round(((img.pixels[i]! - lo) / (hi - lo)) * 255)));
  return out;
}

/** Indices (in the series' instance order) of the slices nearest the wanted heights. */
function pickSlices(series: GeneratedSeries, wantedZ: number[]): number[] {
  const zs = series.instances.map((b) => decode(b).z);
  return wantedZ.map((w) => zs.reduce((best, z, i) => (Math.abs(z - w) < Math.abs(zs[best]! - w) ? i : best), 0));
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const get = (k: string, d: string) => {
    const i = argv.indexOf(k);
    return i >= 0 && argv[i + 1] ? argv[i + 1]! : d;
  };
  const seed = get('--seed', 'docs');
  const index = Number(get('--index', '3'));
  const out = get('--out', 'docs/images');
  const matrix = Number(get('--matrix', '256')) as 256 | 512;
  const zs = get('--z', '-6,-34,-62').split(',').map(Number);
  fs.mkdirSync(out, { recursive: true });
  const p = generatePatient(seed, { index, matrix, noDistractors: true });
  process.stdout.write(`${p.labels.PatientID} T${p.labels.T}N${p.labels.N} stage ${p.labels.stage}; ${JSON.stringify(p.labels.imageFeatures)}\n`);
  for (const role of ['t1', 't2', 'ce-t1'] as const) {
    const s = p.series.find((x) => x.headerInfo.role === role)!;
    const idx = pickSlices(s, zs);
    const tiles = idx.map((i) => decode(s.instances[i]!));
    const { rows, columns } = tiles[0]!;
    const montage = Buffer.alloc(rows * columns * tiles.length);
    tiles.forEach((t, k) => {
      const w = window8(t);
      for (let r = 0; r < rows; r++) montage.set(w.subarray(r * columns, (r + 1) * columns), r * columns * tiles.length + k * columns);
    });
    let img = sharp(montage, { raw: { width: columns * tiles.length, height: rows, channels: 1 } });
    if (argv.includes('--overlay') && s.mask) {
      const rgb = Buffer.alloc(rows * columns * tiles.length * 3);
      for (let i = 0; i < montage.length; i++) rgb[i * 3] = rgb[i * 3 + 1] = rgb[i * 3 + 2] = montage[i]!;
      idx.forEach((si, k) => {
        const m = s.mask!.voxels.subarray(si * rows * columns, (si + 1) * rows * columns);
        for (let r = 1; r < rows - 1; r++) {
          for (let c = 1; c < columns - 1; c++) {
            const v = m[r * columns + c]!;
            if (v && (m[r * columns + c - 1] !== v || m[r * columns + c + 1] !== v || m[(r - 1) * columns + c] !== v || m[(r + 1) * columns + c] !== v)) {
              const o = (r * columns * tiles.length + k * columns + c) * 3;
              rgb[o] = v === 1 ? 255 : 0;
              rgb[o + 1] = v === 1 ? 40 : 220;
              rgb[o + 2] = v === 1 ? 40 : 0;
            }
          }
        }
      });
      img = sharp(rgb, { raw: { width: columns * tiles.length, height: rows, channels: 3 } });
    }
    const file = path.join(out, `synthetic-${role}${argv.includes('--overlay') ? '-masks' : ''}.png`);
    await img.png({ compressionLevel: 9, palette: true, colours: 48 }).toFile(file);
    process.stdout.write(`${file} (${s.headerInfo.SeriesDescription}; slices z=${tiles.map((t) => t.z).join(', ')})\n`);
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exitCode = 1;
});
