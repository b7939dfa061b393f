/**
 * Renders the fixture study's heat-map Secondary Captures to PNG under docs/images/ (sc-<analysis>.png and
 * sc-montage.png), from the pixel data actually encoded in the DICOM objects.
 * Run: npx tsc -p . && node dist/tools/render-heat-map-examples.js
 */
import path from 'node:path';
import { mkdirSync } from 'node:fs';
import sharp from 'sharp';
import { readPart10 } from '../src/encode/write-part10';
import { buildExampleOutput } from '../test/fixtures/encode/example-objects';

async function main(): Promise<void> {
  const outDir = path.join(__dirname, '..', '..', 'docs', 'images');
  mkdirSync(outDir, { recursive: true });
  const { heatMaps } = await buildExampleOutput();
  const tiles: Buffer[] = [];
  for (const h of heatMaps) {
    const { dataset } = readPart10(h.buffer);
    const rgb = Buffer.from((dataset.PixelData as ArrayBuffer[])[0]!);
    const raw = { width: dataset.Columns as number, height: dataset.Rows as number, channels: 3 as const };
    const file = path.join(outDir, `sc-${h.analysis}.png`);
    await sharp(rgb, { raw }).png().toFile(file);
    tiles.push(rgb);
    console.log(file);
  }
  const montage = await sharp({ create: { width: 1024, height: 1024, channels: 3, background: '#000000' } })
    .composite(
      tiles.slice(0, 4).map((rgb, i) => ({ input: rgb, raw: { width: 512, height: 512, channels: 3 as const }, left: (i % 2) * 512, top: Math.floor(i / 2) * 512 })),
    )
    .png()
    .toFile(path.join(outDir, 'sc-montage.png'));
  console.log(path.join(outDir, 'sc-montage.png'), montage.width, montage.height);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
