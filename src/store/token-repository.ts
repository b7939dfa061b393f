/**
 * Named admin API tokens (table api_tokens). A token is shown once, when it is created; the store keeps
 * only its SHA-256, so a copy of the database gives no usable token. Lookups compare every stored hash in
 * constant time. last_used_at is written at most once a minute per token (not on every request).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Db } from './database';
import type { Principal, Role } from '../core/roles';

export interface TokenRecord {
  name: string;
  role: Role;
  sourceAeTitle: string | null;
  createdAt: string;
  lastUsedAt: string | null;
}

interface TokenRow {
  name: string;
  role: Role;
  token_sha256: string;
  source_ae_title: string | null;
  created_at: string;
  last_used_at: string | null;
}

const LAST_USED_RESOLUTION_MS = 60_000;

export function sha256(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** A new random token: 32 bytes, base64url (43 characters), prefixed so it is recognisable in a vault. */
export function generateToken(): string {
  return `npc_${randomBytes(32).toString('base64url')}`;
}

export class TokenRepository {
  private cache: { row: TokenRow; hash: Buffer }[] | undefined;

  constructor(private readonly db: Db, private readonly now: () => Date = () => new Date()) {}

  list(): TokenRecord[] {
    return this.rows().map(({ row }) => recordOf(row));
  }

  get(name: string): TokenRecord | undefined {
    const r = this.rows().find(({ row }) => row.name === name);
    return r && recordOf(r.row);
  }

  /** Creates a token; returns the record and the token itself (which is not stored and never shown again). */
  create(input: { name: string; role: Role; sourceAeTitle?: string }): { record: TokenRecord; token: string } {
    const token = generateToken();
    this.db
      .prepare('INSERT INTO api_tokens (name, role, token_sha256, source_ae_title, created_at) VALUES (?, ?, ?, ?, ?)')
      .run(input.name, input.role, sha256(token).toString('hex'), input.sourceAeTitle ?? null, this.now().toISOString());
    this.cache = undefined;
    return { record: this.get(input.name)!, token };
  }

  delete(name: string): boolean {
    const r = this.db.prepare('DELETE FROM api_tokens WHERE name = ?').run(name);
    this.cache = undefined;
    return r.changes > 0;
  }

  /** The principal a presented token belongs to (every stored hash compared in constant time), and marks its use. */
  authenticate(token: string): Principal | undefined {
    const given = sha256(token);
    let found: TokenRow | undefined;
    for (const { row, hash } of this.rows()) if (timingSafeEqual(given, hash) && !found) found = row;
    if (!found) return undefined;
    this.touch(found);
    return { name: found.name, role: found.role, ...(found.source_ae_title ? { sourceAeTitle: found.source_ae_title } : {}) };
  }

  private touch(row: TokenRow): void {
    const now = this.now();
    if (row.last_used_at && now.getTime() - Date.parse(row.last_used_at) < LAST_USED_RESOLUTION_MS) return;
    row.last_used_at = now.toISOString();
    this.db.prepare('UPDATE api_tokens SET last_used_at = ? WHERE name = ?').run(row.last_used_at, row.name);
  }

  private rows(): { row: TokenRow; hash: Buffer }[] {
    this.cache ??= (this.db.prepare('SELECT * FROM api_tokens ORDER BY name').all() as TokenRow[]).map((row) => ({
      row,
      hash: Buffer.from(row.token_sha256, 'hex'),
    }));
    return this.cache;
  }
}

function recordOf(r: TokenRow): TokenRecord {
  return { name: r.name, role: r.role, sourceAeTitle: r.source_ae_title, createdAt: r.created_at, lastUsedAt: r.last_used_at };
}
