/**
 * What an analysis needs from selection: each required role either resolves to a selected series or
 * gives a "not assessable" reason in words. A missing sequence is never an error.
 */
import type { SelectionResult, SelectedSeries } from './select-series';
import { describeRole } from './select-series';

export type RoleAvailability =
  | { available: true; role: string; series: SelectedSeries }
  | { available: false; role: string; reason: string };

export function roleAvailability(selection: SelectionResult, role: string): RoleAvailability {
  const series = selection.selected.get(role);
  if (series) return { available: true, role, series };
  return { available: false, role, reason: selection.missing.get(role) ?? `no ${describeRole(role)} series (no selection rule fills role ${role})` };
}

/** All roles an analysis needs: the series, or the first reason it cannot be assessed. */
export function requireRoles(
  selection: SelectionResult,
  roles: string[],
): { ok: true; series: Map<string, SelectedSeries> } | { ok: false; reason: string } {
  const series = new Map<string, SelectedSeries>();
  const reasons: string[] = [];
  for (const role of roles) {
    const a = roleAvailability(selection, role);
    if (a.available) series.set(role, a.series);
    else reasons.push(a.reason);
  }
  return reasons.length === 0 ? { ok: true, series } : { ok: false, reason: reasons.join('; ') };
}
