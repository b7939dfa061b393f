/**
 * Minimal SVG charts (axes, ticks, polylines, legend) rendered to PNG with sharp for the validation
 * report. Text uses the DejaVu Sans family (Debian fonts-dejavu-core), with generic sans-serif fallback.
 */
import sharp from 'sharp';

export interface Series {
  label: string;
  points: [number, number][];
  color: string;
  /** Draw as a step function (Kaplan-Meier). */
  step?: boolean;
  dashed?: boolean;
  markers?: boolean;
}

export interface ChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  xRange: [number, number];
  yRange: [number, number];
  series: Series[];
  notes?: string[];
  width?: number;
  height?: number;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function ticks(lo: number, hi: number, n = 5): number[] {
  const step = (hi - lo) / n;
  return Array.from({ length: n + 1 }, (_, i) => lo + i * step);
}

const fmt = (v: number) => (Math.abs(v) >= 10 ? v.toFixed(0) : v.toFixed(1));

export function chartSvg(spec: ChartSpec): string {
  const W = spec.width ?? 560;
  const H = spec.height ?? 440;
  const m = { l: 64, r: 20, t: 40, b: 56 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const [x0, x1] = spec.xRange;
  const [y0, y1] = spec.yRange;
  const sx = (x: number) => m.l + ((x - x0) / (x1 - x0 || 1)) * pw;
  const sy = (y: number) => m.t + ph - ((y - y0) / (y1 - y0 || 1)) * ph;
  const parts: string[] = [];
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(`<text x="${W / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">${esc(spec.title)}</text>`);
  for (const t of ticks(x0, x1)) {
    parts.push(`<line x1="${sx(t)}" y1="${m.t}" x2="${sx(t)}" y2="${m.t + ph}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${sx(t)}" y="${m.t + ph + 18}" text-anchor="middle" font-size="12">${fmt(t)}</text>`);
  }
  for (const t of ticks(y0, y1)) {
    parts.push(`<line x1="${m.l}" y1="${sy(t)}" x2="${m.l + pw}" y2="${sy(t)}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${m.l - 8}" y="${sy(t) + 4}" text-anchor="end" font-size="12">${fmt(t)}</text>`);
  }
  parts.push(`<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  parts.push(`<text x="${m.l + pw / 2}" y="${H - 14}" text-anchor="middle" font-size="13">${esc(spec.xLabel)}</text>`);
  parts.push(`<text transform="translate(16 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle" font-size="13">${esc(spec.yLabel)}</text>`);
  spec.series.forEach((s, i) => {
    const pts: [number, number][] = [];
    s.points.forEach(([x, y], k) => {
      if (s.step && k > 0) pts.push([x, s.points[k - 1]![1]]);
      pts.push([x, y]);
    });
    const d = pts.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ');
    parts.push(`<polyline points="${d}" fill="none" stroke="${s.color}" stroke-width="2.2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    if (s.markers) for (const [x, y] of s.points) parts.push(`<circle cx="${sx(x)}" cy="${sy(y)}" r="4" fill="${s.color}"/>`);
    const ly = m.t + 16 + i * 18;
    parts.push(`<line x1="${m.l + pw - 190}" y1="${ly - 4}" x2="${m.l + pw - 170}" y2="${ly - 4}" stroke="${s.color}" stroke-width="3"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    parts.push(`<text x="${m.l + pw - 165}" y="${ly}" font-size="12">${esc(s.label)}</text>`);
  });
  (spec.notes ?? []).forEach((n, i) => {
    parts.push(`<text x="${m.l + 10}" y="${m.t + ph - 12 - ((spec.notes?.length ?? 1) - 1 - i) * 16}" font-size="12">${esc(n)}</text>`);
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="DejaVu Sans, sans-serif">${parts.join('')}</svg>`;
}

/** A 2x2 confusion matrix as a table image. */
export function confusionSvg(title: string, c: { tp: number; fp: number; tn: number; fn: number }, labels: [string, string]): string {
  const W = 560, H = 300;
  const cell = (x: number, y: number, v: number, label: string, shade: string) =>
    `<rect x="${x}" y="${y}" width="120" height="80" fill="${shade}" stroke="#333"/>` +
    `<text x="${x + 60}" y="${y + 40}" text-anchor="middle" font-size="22" font-weight="bold">${v}</text>` +
    `<text x="${x + 60}" y="${y + 62}" text-anchor="middle" font-size="11">${label}</text>`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="DejaVu Sans, sans-serif">
<rect width="${W}" height="${H}" fill="white"/>
<text x="${W / 2}" y="26" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>
<text x="270" y="62" text-anchor="middle" font-size="13">Predicted</text>
<text x="210" y="84" text-anchor="middle" font-size="12">${esc(labels[1])}</text>
<text x="330" y="84" text-anchor="middle" font-size="12">${esc(labels[0])}</text>
<text transform="translate(40 190) rotate(-90)" text-anchor="middle" font-size="13">Actual</text>
<text x="140" y="144" text-anchor="end" font-size="12">${esc(labels[1])}</text>
<text x="140" y="224" text-anchor="end" font-size="12">${esc(labels[0])}</text>
${cell(150, 100, c.tp, 'true positive', '#c6e2c6')}${cell(270, 100, c.fn, 'false negative', '#f4cccc')}
${cell(150, 180, c.fp, 'false positive', '#f4cccc')}${cell(270, 180, c.tn, 'true negative', '#c6e2c6')}
</svg>`;
}

export async function svgToPng(svg: string): Promise<Buffer> {
  return sharp(Buffer.from(svg), { density: 96 }).png().toBuffer();
}
