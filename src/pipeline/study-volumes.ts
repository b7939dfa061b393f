/**
 * From a study's stored instances to the volumes the analyses need: group by series, select series by
 * the configured rules (recording which rule picked each), and build a volume per selected role.
 * A role that is missing or unreadable is reported with its reason, never thrown.
 */
import type { SelectionRule } from '../config/schema';
import { selectSeries, type SelectedSeries } from '../select';
import { tryBuildVolume, type WorkerPool } from '../prepare';
import type { Volume } from '../prepare/volume-types';
import type { StoredInstance } from '../store/instance-types';

export interface StudyVolumes {
  volumes: Record<string, Volume>;
  selected: Map<string, SelectedSeries>;
  /** Why a role has no volume (not selected, or its series could not be read). */
  missing: Map<string, string>;
  rejected: { seriesInstanceUid: string; seriesDescription?: string; reasons: string[] }[];
}

export function groupBySeries(instances: StoredInstance[]): Map<string, StoredInstance[]> {
  const bySeries = new Map<string, StoredInstance[]>();
  for (const i of instances) bySeries.set(i.seriesInstanceUid, [...(bySeries.get(i.seriesInstanceUid) ?? []), i]);
  return bySeries;
}

export async function buildStudyVolumes(instances: StoredInstance[], rules: SelectionRule[], opts: { pool?: WorkerPool; roles?: string[] } = {}): Promise<StudyVolumes> {
  const bySeries = groupBySeries(instances);
  const selection = selectSeries(
    [...bySeries].map(([seriesInstanceUid, list]) => ({ seriesInstanceUid, headers: list.map((i) => i.header) })),
    rules,
  );
  const volumes: Record<string, Volume> = {};
  const missing = new Map<string, string>(selection.missing);
  // With the node's pool every role's instances go to it at once (a series assembles while the next one
  // decodes, and several workers decode in parallel); without one (a temporary pool per series) one
  // series at a time. The volumes are recorded in the selection's order either way.
  const wanted = [...selection.selected].filter(([role]) => !opts.roles || opts.roles.includes(role));
  const build = ([role, sel]: (typeof wanted)[number]) => tryBuildVolume(bySeries.get(sel.seriesInstanceUid) ?? [], role, opts.pool ? { pool: opts.pool } : {});
  const started = opts.pool ? wanted.map(build) : undefined;
  for (const [k, entry] of wanted.entries()) {
    const [role, sel] = entry;
    const built = await (started ? started[k]! : build(entry));
    if (built.ok) {
      volumes[role] = { ...built.volume, role, ...(sel.seriesDescription ? { seriesDescription: sel.seriesDescription } : {}) };
    } else {
      missing.set(role, built.reason);
    }
  }
  return { volumes, selected: selection.selected, missing, rejected: selection.rejected };
}
