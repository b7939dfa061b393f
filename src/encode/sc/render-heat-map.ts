/**
 * Renders one heat-map page, 512 x 512 RGB: the source MR slice (windowed, resized keeping its physical
 * aspect, padded) with the class-activation map blended in jet colours, the detected region outlined, a
 * colour bar with labels, and burned-in text: analysis, result, probability, risk group, cut-off, inputs,
 * model and version, and "RESEARCH USE ONLY".
 */
import sharp from 'sharp';
import { ANALYSES } from '../../analyses/registry';
import type { AssessedResult, CamMap, PixelBox } from '../../analyses/types';
import type { Slice } from '../../prepare/volume-types';
import { jet, jetInput, jetLevel, overlayAlpha } from './colormap';
import { fitText, textToSvgPath, type TextRun } from './glyph-text';
import { algorithmVersion } from '../sr/tid-4019-algorithm-identification';
import { valuesAtRanks } from '../../prepare/steps/percentile';
import { axisSamples, type AxisSamples } from '../../prepare/steps/bilinear';

export const PAGE_SIZE = 512;

/** Where things go on the page (pixels). */
export const LAYOUT = {
  top: { height: 70 },
  image: { x: 8, y: 74, width: 424, height: 368 },
  colourBar: { x: 452, y: 104, width: 18, height: 300 },
  bottom: { y: 446 },
} as const;

const BACKGROUND: [number, number, number] = [12, 16, 22];

export interface HeatMapPage {
  /** RGB, 8 bits per sample, pixel-interleaved (PlanarConfiguration 0), PAGE_SIZE x PAGE_SIZE. */
  rgb: Buffer;
  rows: number;
  columns: number;
}

/** Window of a slice: the 1st and 99.5th percentiles of its values (robust to outliers). */
export function windowOf(pixels: Float32Array): { low: number; high: number } {
  const step = Math.max(1, Math.floor(pixels.length / 65536));
  // The sampled finite values in a Float32Array (the pixels' own precision).
  const sample = new Float32Array(Math.ceil(pixels.length / step));
  let n = 0;
  for (let i = 0; i < pixels.length; i += step) {
    const v = pixels[i]!;
    if (Number.isFinite(v)) sample[n++] = v;
  }
  if (n === 0) return { low: 0, high: 1 };
  // Order statistics of the sample (what sorting it would give at each rank), shared with the preparation steps.
  const [low, high] = valuesAtRanks(sample.subarray(0, n), [Math.floor(0.01 * (n - 1)), Math.floor(0.995 * (n - 1))]) as [number, number];
  return high > low ? { low, high } : { low, high: low + 1 };
}

/** Windows of slices already drawn (analyses often share a key slice), keyed by the slice's pixel array. */
const windows = new WeakMap<Float32Array, { low: number; high: number }>();

function cachedWindowOf(pixels: Float32Array): { low: number; high: number } {
  let w = windows.get(pixels);
  if (!w) {
    w = windowOf(pixels);
    windows.set(pixels, w);
  }
  return w;
}


/**
 * The windowed slice resampled (bilinear) into `place` on the page, grey, with the class-activation map
 * blended in jet colours where it reaches the overlay floor. Plain locals only (no closures): V8 keeps the
 * loop tight.
 */
function drawSlice(
  rgb: Buffer,
  size: number,
  place: { x: number; y: number; width: number; height: number },
  pixels: Float32Array,
  columns: number,
  window: { low: number; high: number },
  xs: AxisSamples,
  ys: AxisSamples,
  cam: { data: Float32Array; columns: number; xs: AxisSamples; ys: AxisSamples } | undefined,
): void {
  const low = window.low;
  const range = window.high - low;
  const width = place.width;
  const xi0 = xs.i0;
  const xi1 = xs.i1;
  const xw0 = xs.w0;
  const xw1 = xs.w1;
  const camData = cam ? cam.data : new Float32Array(0);
  const camColumns = cam ? cam.columns : 0;
  const cxi0 = cam ? cam.xs.i0 : xi0;
  const cxi1 = cam ? cam.xs.i1 : xi1;
  const cxw0 = cam ? cam.xs.w0 : xw0;
  const cxw1 = cam ? cam.xs.w1 : xw1;
  for (let py = 0; py < place.height; py++) {
    const row0 = ys.i0[py]! * columns;
    const row1 = ys.i1[py]! * columns;
    const wy0 = ys.w0[py]!;
    const wy1 = ys.w1[py]!;
    const camRow0 = cam ? cam.ys.i0[py]! * camColumns : 0;
    const camRow1 = cam ? cam.ys.i1[py]! * camColumns : 0;
    const camWy0 = cam ? cam.ys.w0[py]! : 0;
    const camWy1 = cam ? cam.ys.w1[py]! : 0;
    let o = ((place.y + py) * size + place.x) * 3;
    for (let px = 0; px < width; px++, o += 3) {
      const x0 = xi0[px]!;
      const x1 = xi1[px]!;
      const wx0 = xw0[px]!;
      const wx1 = xw1[px]!;
      const top = pixels[row0 + x0]! * wx0 + pixels[row0 + x1]! * wx1;
      const bottom = pixels[row1 + x0]! * wx0 + pixels[row1 + x1]! * wx1;
      const v = top * wy0 + bottom * wy1;
      const grey = Math.max(0, Math.min(255, ((v - low) / range) * 255));
      let r = grey;
      let g = grey;
      let b = grey;
      if (cam) {
        const c0 = cxi0[px]!;
        const c1 = cxi1[px]!;
        const cw0 = cxw0[px]!;
        const cw1 = cxw1[px]!;
        const camTop = camData[camRow0 + c0]! * cw0 + camData[camRow0 + c1]! * cw1;
        const camBottom = camData[camRow1 + c0]! * cw0 + camData[camRow1 + c1]! * cw1;
        const t = camTop * camWy0 + camBottom * camWy1;
        const a = overlayAlpha(t);
        if (a > 0) {
          const x = jetInput(t);
          r = r * (1 - a) + jetLevel(x, 3) * a;
          g = g * (1 - a) + jetLevel(x, 2) * a;
          b = b * (1 - a) + jetLevel(x, 1) * a;
        }
      }
      rgb[o] = Math.round(r);
      rgb[o + 1] = Math.round(g);
      rgb[o + 2] = Math.round(b);
    }
  }
}

/** Placement of the source slice in the image area, keeping its physical aspect ratio. */
export function fitSlice(slice: Pick<Slice, 'rows' | 'columns' | 'pixelSpacing'>): { x: number; y: number; width: number; height: number; scaleX: number; scaleY: number } {
  const [rowSpacing, columnSpacing] = slice.pixelSpacing[0] > 0 && slice.pixelSpacing[1] > 0 ? slice.pixelSpacing : [1, 1];
  const physicalWidth = slice.columns * columnSpacing;
  const physicalHeight = slice.rows * rowSpacing;
  const area = LAYOUT.image;
  const scale = Math.min(area.width / physicalWidth, area.height / physicalHeight);
  const width = Math.max(1, Math.round(physicalWidth * scale));
  const height = Math.max(1, Math.round(physicalHeight * scale));
  return {
    x: area.x + Math.floor((area.width - width) / 2),
    y: area.y + Math.floor((area.height - height) / 2),
    width,
    height,
    scaleX: width / slice.columns,
    scaleY: height / slice.rows,
  };
}

function percent(p: number): string {
  return p.toFixed(2);
}

/** The burned-in lines of text, in reading order (exported for tests). */
export function captionLines(result: AssessedResult): { title: string; result: string; details: string; model: string; research: string } {
  const details: string[] = [];
  if (result.analysis === 'residual' && result.components) {
    const { ccrt, icCcrt } = result.components;
    details.push(`P(residual) CCRT ${percent(ccrt ?? NaN)} / IC+CCRT ${percent(icCcrt ?? NaN)}`);
  } else {
    const scoreLabel = ANALYSES[result.analysis].report.heatMapScoreLabel;
    details.push(`${scoreLabel} = ${percent(result.probability)}`);
  }
  if (result.group) details.push(`Risk group: ${result.group === 'high' ? 'HIGH' : 'LOW'}`);
  if (result.cutoff !== undefined) details.push(`Cut-off: ${result.cutoff}`);
  const ids = [...new Set(result.models.map((m) => m.id))];
  return {
    title: result.title,
    result: `Result: ${result.valueText}`,
    details: details.join('   '),
    model: `${result.clinicalCovariatesUsed ? 'Image + clinical' : 'Image only'} | ${ids.length > 1 ? 'Models' : 'Model'} v${algorithmVersion(result.models)}: ${ids.join(', ')}`,
    research: 'RESEARCH USE ONLY - not for clinical decisions',
  };
}

/** Renders the page. */
export async function renderHeatMapPage(input: {
  result: AssessedResult;
  slice: Slice;
  cam?: CamMap;
  region?: PixelBox;
}): Promise<HeatMapPage> {
  const { slice, cam, region, result } = input;
  if (slice.pixels.length !== slice.rows * slice.columns) throw new Error('slice pixel count does not match rows x columns');
  if (cam && cam.data.length !== cam.rows * cam.columns) throw new Error('CAM size does not match rows x columns');
  const size = PAGE_SIZE;
  const rgb = Buffer.alloc(size * size * 3, Buffer.from(BACKGROUND));

  // Slice with CAM overlay. Sampling positions are per column and per row (the same arithmetic bilinear
  // sampling per pixel did), the window once per slice: the pixel loop allocates nothing and calls nothing.
  const place = fitSlice(slice);
  const sx = (px: number) => (px + 0.5) / place.scaleX - 0.5;
  const sy = (py: number) => (py + 0.5) / place.scaleY - 0.5;
  drawSlice(
    rgb,
    size,
    place,
    slice.pixels,
    slice.columns,
    cachedWindowOf(slice.pixels),
    axisSamples(place.width, slice.columns, sx),
    axisSamples(place.height, slice.rows, sy),
    cam
      ? {
          data: cam.data,
          columns: cam.columns,
          xs: axisSamples(place.width, cam.columns, (px) => ((sx(px) + 0.5) * cam.columns) / slice.columns - 0.5),
          ys: axisSamples(place.height, cam.rows, (py) => ((sy(py) + 0.5) * cam.rows) / slice.rows - 0.5),
        }
      : undefined,
  );

  // Colour bar.
  const bar = LAYOUT.colourBar;
  for (let y = 0; y < bar.height; y++) {
    const [cr, cg, cb] = jet(1 - y / (bar.height - 1));
    for (let x = 0, o = ((bar.y + y) * size + bar.x) * 3; x < bar.width; x++, o += 3) {
      rgb[o] = cr;
      rgb[o + 1] = cg;
      rgb[o + 2] = cb;
    }
  }

  // Vector overlay: region outline, bar frame and labels, text.
  const svg: string[] = [];
  if (region) {
    const x0 = place.x + Math.min(region.x0, region.x1) * place.scaleX;
    const y0 = place.y + Math.min(region.y0, region.y1) * place.scaleY;
    const w = Math.abs(region.x1 - region.x0) * place.scaleX;
    const h = Math.abs(region.y1 - region.y0) * place.scaleY;
    svg.push(
      `<rect x="${x0.toFixed(1)}" y="${y0.toFixed(1)}" width="${w.toFixed(1)}" height="${h.toFixed(1)}" fill="none" stroke="#000000" stroke-width="3"/>`,
      `<rect x="${x0.toFixed(1)}" y="${y0.toFixed(1)}" width="${w.toFixed(1)}" height="${h.toFixed(1)}" fill="none" stroke="#ffffff" stroke-width="1.5" stroke-dasharray="6 4"/>`,
    );
  }
  svg.push(`<rect x="${bar.x - 0.5}" y="${bar.y - 0.5}" width="${bar.width + 1}" height="${bar.height + 1}" fill="none" stroke="#c8c8c8" stroke-width="1"/>`);
  const lines = captionLines(result);
  const runs: TextRun[] = [
    { text: fitText(lines.title, 18, size - 16, 'bold'), x: 8, y: 21, size: 18, fill: '#ffffff', weight: 'bold' },
    { text: fitText(lines.result, 16, size - 16, 'bold'), x: 8, y: 43, size: 16, fill: '#ffd84a', weight: 'bold' },
    { text: fitText(lines.details, 15, size - 16), x: 8, y: 63, size: 15, fill: '#e6e6e6' },
    { text: fitText(lines.model, 14, size - 16), x: 8, y: 466, size: 14, fill: '#d0d0d0' },
    { text: fitText(lines.research, 15, size - 16, 'bold'), x: 8, y: 494, size: 15, fill: '#ff5a4a', weight: 'bold' },
    { text: 'CAM', x: bar.x + bar.width / 2 + 14, y: bar.y - 12, size: 13, fill: '#e6e6e6', weight: 'bold', alignRight: true },
    { text: '1.0', x: bar.x + bar.width + 4, y: bar.y + 5, size: 12, fill: '#e6e6e6' },
    { text: '0.5', x: bar.x + bar.width + 4, y: bar.y + bar.height / 2 + 4, size: 12, fill: '#e6e6e6' },
    { text: '0.0', x: bar.x + bar.width + 4, y: bar.y + bar.height + 4, size: 12, fill: '#e6e6e6' },
    { text: 'high', x: bar.x - 3, y: bar.y + 5, size: 11, fill: '#bdbdbd', alignRight: true },
    { text: 'low', x: bar.x - 3, y: bar.y + bar.height + 4, size: 11, fill: '#bdbdbd', alignRight: true },
  ];
  for (const run of runs) svg.push(textToSvgPath(run));
  const overlay = Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}" viewBox="0 0 ${size} ${size}">${svg.join('')}</svg>`,
  );
  const composed = await sharp(rgb, { raw: { width: size, height: size, channels: 3 } })
    .composite([{ input: overlay, top: 0, left: 0 }])
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (composed.info.channels !== 3 || composed.info.width !== size || composed.info.height !== size) {
    throw new Error(`unexpected composite output ${composed.info.width}x${composed.info.height}x${composed.info.channels}`);
  }
  return { rgb: composed.data, rows: size, columns: size };
}

/** A PNG of a rendered page (for docs and review). */
export async function pageToPng(page: HeatMapPage): Promise<Buffer> {
  return sharp(page.rgb, { raw: { width: page.columns, height: page.rows, channels: 3 } }).png().toBuffer();
}
