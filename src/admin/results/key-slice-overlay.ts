/**
 * keySliceOverlay: what the web page draws over the key slice's heat map -- the outline of the result SEG's
 * segments (GTV, GTVln) on that slice when the analysis produced a SEG, else the localiser's region box
 * recorded in the job result. One function so the source can change without touching the page: it returns
 * SVG paths in the source slice's pixel space and the placement of that slice on the heat-map page.
 */
import type { PixelBox } from '../../core/pixel-box';
import type { ImageRef } from '../../core/image-ref';
import { fitSlice, PAGE_SIZE } from '../../encode/sc/render-heat-map';
import { unpackBinaryFrame } from '../../encode/seg/segment-frames';
import type { NaturalDataset } from './read-result-file';

export interface OverlayOutline {
  /** E.g. "GTV", "GTVln" (SEG segment labels) or "GTV region (localiser)". */
  label: string;
  /** SVG path data in source pixel units (x right, y down; a pixel is the unit square at its index). */
  path: string;
}

export interface KeySliceOverlay {
  source: 'seg' | 'localiser-region';
  analysis: string;
  /** The source MR slice the outlines lie on. */
  image: ImageRef;
  /** The heat map (Secondary Capture) of that slice, when there is one. */
  heatMapSopInstanceUid: string | null;
  sourceRows: number;
  sourceColumns: number;
  /** Where the source slice lies on the heat-map page: page = (x + scaleX * col, y + scaleY * row). */
  placement: { pageRows: number; pageColumns: number; x: number; y: number; scaleX: number; scaleY: number };
  outlines: OverlayOutline[];
}

/** The fields of an analysis job's result (AnalysisJobResult, JSON) this module reads. */
export interface OverlayJobResult {
  results?: { analysis?: string; assessable?: boolean; keyImages?: { image: ImageRef; region?: PixelBox }[] }[];
  outputs?: { kind?: string; analysis?: string; sopInstanceUid: string }[];
}

export interface KeySliceOverlayInput {
  result: OverlayJobResult;
  /** The header of a stored source instance (Rows, Columns, PixelSpacing), by SOP Instance UID. */
  sourceHeader: (sopInstanceUid: string) => { Rows?: unknown; Columns?: unknown; PixelSpacing?: unknown } | undefined;
  /** Reads a stored result object of the study (the SEG), by SOP Instance UID. */
  readResult: (sopInstanceUid: string) => Promise<NaturalDataset | undefined>;
}

export async function keySliceOverlay(input: KeySliceOverlayInput): Promise<KeySliceOverlay | undefined> {
  const assessed = (input.result.results ?? []).filter((r) => r.assessable && r.keyImages?.length);
  const first = assessed[0];
  if (!first?.keyImages?.[0]) return undefined;
  const key = first.keyImages[0];
  const header = input.sourceHeader(key.image.sopInstanceUid);
  const rows = Number(header?.Rows);
  const columns = Number(header?.Columns);
  if (!(rows > 0 && columns > 0)) return undefined;
  const spacing = Array.isArray(header?.PixelSpacing) ? (header!.PixelSpacing as unknown[]).map(Number) : [];
  const place = fitSlice({ rows, columns, pixelSpacing: [spacing[0] ?? 1, spacing[1] ?? 1] as [number, number] });
  const outputs = input.result.outputs ?? [];
  const heatMap = outputs.find((o) => o.kind === 'sc' && o.analysis === first.analysis);
  const base = {
    analysis: first.analysis ?? '',
    image: key.image,
    heatMapSopInstanceUid: heatMap?.sopInstanceUid ?? null,
    sourceRows: rows,
    sourceColumns: columns,
    placement: { pageRows: PAGE_SIZE, pageColumns: PAGE_SIZE, x: place.x, y: place.y, scaleX: place.scaleX, scaleY: place.scaleY },
  };
  const seg = outputs.find((o) => o.kind === 'seg');
  if (seg) {
    const ds = await input.readResult(seg.sopInstanceUid);
    if (ds) return { ...base, source: 'seg', outlines: segOutlines(ds, key.image) };
  }
  const outlines = assessed
    .flatMap((r) => r.keyImages ?? [])
    .filter((k) => k.image.sopInstanceUid === key.image.sopInstanceUid && k.region)
    .slice(0, 1)
    .map((k) => ({ label: 'GTV region (localiser)', path: boxPath(k.region!) }));
  return { ...base, source: 'localiser-region', outlines };
}

function boxPath(b: PixelBox): string {
  const x0 = Math.min(b.x0, b.x1);
  const y0 = Math.min(b.y0, b.y1);
  return `M${x0} ${y0}H${Math.max(b.x0, b.x1)}V${Math.max(b.y0, b.y1)}H${x0}Z`;
}

const item = (v: unknown): Record<string, unknown> | undefined => (Array.isArray(v) ? v[0] : v) as Record<string, unknown> | undefined;
const items = (v: unknown): Record<string, unknown>[] => (Array.isArray(v) ? v : v ? [v] : []) as Record<string, unknown>[];

/** The outline of every segment's frame on `image`, from a binary SEG (BitsAllocated 1). */
export function segOutlines(ds: NaturalDataset, image: ImageRef): OverlayOutline[] {
  const rows = Number(ds.Rows);
  const columns = Number(ds.Columns);
  const labels = new Map(items(ds.SegmentSequence).map((s) => [Number(s.SegmentNumber), String(s.SegmentLabel ?? `segment ${String(s.SegmentNumber)}`)]));
  const pd = ds.PixelData as ArrayBuffer | ArrayBuffer[] | undefined;
  const packed = new Uint8Array((Array.isArray(pd) ? pd[0] : pd) ?? new ArrayBuffer(0));
  const out: OverlayOutline[] = [];
  items(ds.PerFrameFunctionalGroupsSequence).forEach((frame, index) => {
    const source = item(item(item(frame.DerivationImageSequence)?.SourceImageSequence));
    if (source?.ReferencedSOPInstanceUID !== image.sopInstanceUid) return;
    const refFrame = source.ReferencedFrameNumber;
    if (image.frameNumber !== undefined && refFrame !== undefined && Number(refFrame) !== image.frameNumber) return;
    const segment = Number(item(frame.SegmentIdentificationSequence)?.ReferencedSegmentNumber);
    if ((index + 1) * rows * columns > packed.length * 8) return;
    const mask = unpackBinaryFrame(packed, index, rows * columns);
    const path = maskOutline(mask, rows, columns);
    if (path) out.push({ label: labels.get(segment) ?? `segment ${segment}`, path });
  });
  return out;
}

/** The boundary of a 0/1 mask as SVG path data: one unit edge wherever a set pixel meets an unset one. */
export function maskOutline(mask: Uint8Array, rows: number, columns: number): string {
  const at = (x: number, y: number) => x >= 0 && y >= 0 && x < columns && y < rows && mask[y * columns + x] === 1;
  const parts: string[] = [];
  for (let y = 0; y < rows; y++) {
    for (let x = 0; x < columns; x++) {
      if (!at(x, y)) continue;
      if (!at(x, y - 1)) parts.push(`M${x} ${y}h1`);
      if (!at(x, y + 1)) parts.push(`M${x} ${y + 1}h1`);
      if (!at(x - 1, y)) parts.push(`M${x} ${y}v1`);
      if (!at(x + 1, y)) parts.push(`M${x + 1} ${y}v1`);
    }
  }
  return parts.join('');
}
