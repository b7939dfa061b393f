/**
 * Text for burned-in annotations without system fonts: glyph outlines come from a TrueType font bundled as an
 * npm dependency (DejaVu Sans, from dejavu-fonts-ttf) through opentype.js, and are emitted as SVG <path>
 * elements. librsvg (inside sharp) fills paths without fontconfig, so the rendering is the same on a fresh CI
 * machine with no fonts installed as on a workstation.
 */
import path from 'node:path';
import { readFileSync } from 'node:fs';
import * as opentype from 'opentype.js';

export type FontWeight = 'regular' | 'bold';

const FONT_FILES: Record<FontWeight, string> = {
  regular: 'DejaVuSans.ttf',
  bold: 'DejaVuSans-Bold.ttf',
};

const fonts = new Map<FontWeight, opentype.Font>();

/** The bundled font (loaded once). Throws with a clear message when the package is missing. */
export function bundledFont(weight: FontWeight = 'regular'): opentype.Font {
  let font = fonts.get(weight);
  if (!font) {
    const pkg = require.resolve('dejavu-fonts-ttf/package.json');
    const file = path.join(path.dirname(pkg), 'ttf', FONT_FILES[weight]);
    const bytes = readFileSync(file);
    font = opentype.parse(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    fonts.set(weight, font);
  }
  return font;
}

/** Width in pixels of `text` at `size`. */
export function measureText(text: string, size: number, weight: FontWeight = 'regular'): number {
  return bundledFont(weight).getAdvanceWidth(text, size);
}

/** `text` shortened with an ellipsis so that it fits `maxWidth` pixels. */
export function fitText(text: string, size: number, maxWidth: number, weight: FontWeight = 'regular'): string {
  if (measureText(text, size, weight) <= maxWidth) return text;
  let cut = text.length;
  while (cut > 0 && measureText(text.slice(0, cut) + '…', size, weight) > maxWidth) cut--;
  return text.slice(0, cut).trimEnd() + '…';
}

export interface TextRun {
  text: string;
  x: number;
  /** Baseline y. */
  y: number;
  size: number;
  fill: string;
  weight?: FontWeight;
  /** Right-align at x instead of left. */
  alignRight?: boolean;
  /** Outline colour drawn under the glyphs for contrast. */
  outline?: string;
}

function escapeAttr(value: string): string {
  return value.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
}

/** An SVG fragment with the outlines of one run of text. */
export function textToSvgPath(run: TextRun): string {
  const font = bundledFont(run.weight ?? 'regular');
  const x = run.alignRight ? run.x - font.getAdvanceWidth(run.text, run.size) : run.x;
  const d = font.getPath(run.text, x, run.y, run.size).toPathData(2);
  if (!d) return '';
  const outline = run.outline
    ? `<path d="${d}" fill="none" stroke="${escapeAttr(run.outline)}" stroke-width="3" stroke-linejoin="round"/>`
    : '';
  return `${outline}<path d="${d}" fill="${escapeAttr(run.fill)}"/>`;
}
