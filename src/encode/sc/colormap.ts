/**
 * The jet-like colour map the papers use for class-activation maps: blue (weak) -> cyan -> green -> yellow
 * -> red (strong). Values outside 0..1 are clamped.
 */

export type Rgb = [number, number, number];

function clamp01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

/** `t` as jet() reads it: 0..1, 0 for a non-finite value. */
export function jetInput(t: number): number {
  return clamp01(Number.isFinite(t) ? t : 0);
}

/** One 8-bit channel of the jet colour of `x` (a jetInput value): red centre 3, green 2, blue 1. */
export function jetLevel(x: number, centre: number): number {
  return Math.round(clamp01(1.5 - Math.abs(4 * x - centre)) * 255);
}

/** The jet colour of `t` (0..1) as 8-bit RGB. */
export function jet(t: number): Rgb {
  const x = jetInput(t);
  return [jetLevel(x, 3), jetLevel(x, 2), jetLevel(x, 1)];
}

/** Opacity of the overlay for an activation value: transparent below `floor`, rising to `maxAlpha`. */
export function overlayAlpha(t: number, floor = 0.12, full = 0.55, maxAlpha = 0.6): number {
  if (!(t > floor)) return 0;
  return maxAlpha * clamp01((t - floor) / (full - floor));
}
