/**
 * Value representations whose explicit-VR element header has 2 reserved bytes and a 4-byte length
 * (PS3.5 7.1.2, Table 7.1-1); every other VR has a 2-byte length. The one copy the parsers use.
 */
export const LONG_LENGTH_VRS: ReadonlySet<string> = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);

/** True when an explicit-VR element of this VR has a 4-byte length field. */
export function hasLongLength(vr: string): boolean {
  return LONG_LENGTH_VRS.has(vr);
}
