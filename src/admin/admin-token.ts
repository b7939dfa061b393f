/** The admin bearer token: from config/NPC_ADMIN_TOKEN, else generated once into <dataDir>/admin-token (mode 0600). */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export function resolveAdminToken(configured: string | undefined, dataDir: string): { token: string; file?: string } {
  if (configured) return { token: configured };
  const file = path.join(dataDir, 'admin-token');
  if (existsSync(file)) {
    tighten(file);
    const t = readFileSync(file, 'utf8').trim();
    if (t.length >= 16) return { token: t, file };
  }
  const token = randomBytes(24).toString('base64url');
  writeFileSync(file, token + '\n', { mode: 0o600 });
  chmodSync(file, 0o600);
  return { token, file };
}

/** 0600 for a token file the node owns; one it cannot change (a read-only mount) is left as it is. */
function tighten(file: string): void {
  try {
    chmodSync(file, 0o600);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'EROFS') throw e;
  }
}
