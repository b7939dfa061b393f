/**
 * The web page's settings as the node runs with them (table node_settings, key 'web'). The config's `web`
 * section seeds them on first start; after that the stored value, changed through the admin API, counts.
 */
import { z } from 'zod';
import type { Db } from './database';

export const WebSettingsSchema = z.strictObject({
  /** Show PatientName on the web page and in the API responses made for it (default off). */
  showPatientNames: z.boolean(),
});
export type WebSettings = z.infer<typeof WebSettingsSchema>;

const KEY = 'web';

export class WebSettingsRepository {
  constructor(private readonly db: Db) {}

  get(): WebSettings {
    const row = this.db.prepare('SELECT value_json FROM node_settings WHERE key = ?').get(KEY) as { value_json: string } | undefined;
    return row ? WebSettingsSchema.parse(JSON.parse(row.value_json)) : { showPatientNames: false };
  }

  /** Replaces the stored value (validated again, so nothing invalid is ever stored). */
  put(value: WebSettings): WebSettings {
    const v = WebSettingsSchema.parse(value);
    this.db
      .prepare(`INSERT INTO node_settings (key, value_json, updated_at) VALUES (?, ?, ?)
                ON CONFLICT(key) DO UPDATE SET value_json = excluded.value_json, updated_at = excluded.updated_at`)
      .run(KEY, JSON.stringify(v), new Date().toISOString());
    return v;
  }

  /** Stores the config's value when nothing is stored yet. */
  seed(value: WebSettings): void {
    const row = this.db.prepare('SELECT 1 FROM node_settings WHERE key = ?').get(KEY);
    if (!row) this.put(value);
  }
}
