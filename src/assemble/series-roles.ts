/**
 * The seam between study completion and series selection: the assembler asks which required roles
 * (t1, t2, ce-t1, ...) the series received so far fill. The node runs the rule-based selector
 * (src/select/series-role-resolver.ts, config `selection.rules`) behind this seam.
 */
import type { InstanceHeader } from '../store/instance-types';

export interface SeriesHeaders {
  seriesInstanceUid: string;
  /** Headers of the series' instances as indexed (header_json), in no particular order. */
  headers: InstanceHeader[];
}

/** Maps each role found to the SeriesInstanceUID chosen for it; roles not found are absent. */
export type SeriesRoleResolver = (series: SeriesHeaders[]) => Map<string, string>;
