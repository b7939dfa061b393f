/**
 * Roles of admin API bearer tokens (docs/operator-contract.md). Shared by the token store (src/store) and
 * the admin API's authorisation (src/admin/route-table.ts).
 */
export const ROLES = ['admin', 'operator', 'ingest', 'metrics'] as const;
export type Role = (typeof ROLES)[number];

/** Who made a request: a named token and its role (ingest tokens also name the source they send as). */
export interface Principal {
  name: string;
  role: Role;
  /** Ingest tokens: the configured source AE title their STOW-RS instances are recorded as calling AE. */
  sourceAeTitle?: string;
}
