/**
 * The seam between study completion and series selection: the assembler asks which required roles
 * (t1, t2, ce-t1, ...) the series received so far fill. The real selector (src/select, data-driven rules)
 * and the fallback in fallback-role-resolver.ts both have this shape.
 */
import type { InstanceHeader } from '../store/instance-types';

export interface SeriesHeaders {
  seriesInstanceUid: string;
  /** Headers of the series' instances as indexed (header_json), in no particular order. */
  headers: InstanceHeader[];
}

/** Maps each role found to the SeriesInstanceUID chosen for it; roles not found are absent. */
export type SeriesRoleResolver = (series: SeriesHeaders[]) => Map<string, string>;
