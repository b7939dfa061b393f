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

/**
 * Results of opentype.js layout (advance widths, SVG path data) by weight, size and text: the same few
 * strings are laid out on every page, and each layout runs opentype's glyph substitution and kerning anew.
 * Bounded: emptied when full (captions carry per-study numbers, so the variety grows slowly).
 */
const CACHE_LIMIT = 2048;
const widths = new Map<string, number>();
const paths = new Map<string, string>();

function remember<T>(cache: Map<string, T>, key: string, make: () => T): T {
  let value = cache.get(key);
  if (value === undefined) {
    value = make();
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(key, value);
  }
  return value;
}

/**
 * Parses both bundled fonts soon (on an idle turn of the event loop), so that the first heat map of the
 * process does not wait for it: the analysis worker calls this when a study's analysis begins.
 */
export function preloadFonts(): void {
  if (fonts.size === 2) return;
  setImmediate(() => {
    try {
      bundledFont('regular');
      bundledFont('bold');
    } catch {
      // A missing font is reported by the heat map that needs it (its job fails with the message).
    }
  }).unref();
}

/** Width in pixels of `text` at `size`. */
export function measureText(text: string, size: number, weight: FontWeight = 'regular'): number {
  return remember(widths, `${weight}|${size}|${text}`, () => bundledFont(weight).getAdvanceWidth(text, size));
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
  const weight = run.weight ?? 'regular';
  const x = run.alignRight ? run.x - measureText(run.text, run.size, weight) : run.x;
  const d = remember(paths, `${weight}|${run.size}|${x}|${run.y}|${run.text}`, () => bundledFont(weight).getPath(run.text, x, run.y, run.size).toPathData(2));
  if (!d) return '';
  const outline = run.outline
    ? `<path d="${d}" fill="none" stroke="${escapeAttr(run.outline)}" stroke-width="3" stroke-linejoin="round"/>`
    : '';
  return `${outline}<path d="${d}" fill="${escapeAttr(run.fill)}"/>`;
}
