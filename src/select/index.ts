/** Series selection: declarative rules pick the axial T1, T2 and CE-T1 series of a study. */
export { selectSeries, ruleFailures, describeRole, type SelectionResult, type SelectedSeries, type RejectedSeries } from './select-series';
export { summarizeSeries, type SeriesInput, type SeriesSummary } from './series-summary';
export { classifyOrientation, angleToPlane, sliceNormal, type Plane, type PlaneClass, type OrientationClass } from './orientation';
export { detectContrast, normalizeDescription, type ContrastEvidence } from './contrast';
export { builtInExclusion } from './exclusions';
export { roleAvailability, requireRoles, type RoleAvailability } from './availability';
export { ruleBasedRoleResolver } from './series-role-resolver';
