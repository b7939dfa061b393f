/**
 * The series-role resolver study completion runs in production: the same rule-based selector (config
 * `selection.rules`) the analyses use, so "the required series are present" means what the analysis
 * will select.
 */
import type { SeriesRoleResolver } from '../assemble/series-roles';
import type { SelectionRule } from '../config/schema';
import { selectSeries } from './select-series';

export function ruleBasedRoleResolver(rules: SelectionRule[]): SeriesRoleResolver {
  return (series) => {
    const { selected } = selectSeries(series, rules);
    return new Map([...selected].map(([role, s]) => [role, s.seriesInstanceUid]));
  };
}
