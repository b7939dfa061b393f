/**
 * The jet-like colour map the papers use for class-activation maps: blue (weak) -> cyan -> green -> yellow
 * -> red (strong). Values outside 0..1 are clamped.
 */

export type Rgb = [number, number, number];

function clamp01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

/** The jet colour of `t` (0..1) as 8-bit RGB. */
export function jet(t: number): Rgb {
  const x = clamp01(Number.isFinite(t) ? t : 0);
  const r = clamp01(1.5 - Math.abs(4 * x - 3));
  const g = clamp01(1.5 - Math.abs(4 * x - 2));
  const b = clamp01(1.5 - Math.abs(4 * x - 1));
  return [Math.round(r * 255), Math.round(g * 255), Math.round(b * 255)];
}

/** Opacity of the overlay for an activation value: transparent below `floor`, rising to `maxAlpha`. */
export function overlayAlpha(t: number, floor = 0.12, full = 0.55, maxAlpha = 0.6): number {
  if (!(t > floor)) return 0;
  return maxAlpha * clamp01((t - floor) / (full - floor));
}
