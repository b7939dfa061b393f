/**
 * Local AE titles, sources and destinations as the node runs with them. The config file seeds them on
 * first start (an entry whose key is not yet in the store is inserted); after that the store, changed
 * through the admin API, is what counts, and it survives restarts.
 */
import type { z } from 'zod';
import type { Statement } from 'better-sqlite3';
import type { Db } from './database';
import { LocalAeTitleSchema, SourceSchema, type LocalAeTitle, type Source } from '../config/schema';
import { DestinationSchema, type Destination } from '../core/destination-schemas';

interface TableSpec<T> {
  table: 'ae_titles' | 'sources' | 'destinations';
  key: 'ae_title' | 'name';
  schema: z.ZodType<T>;
  keyOf: (v: T) => string;
}

class Collection<T> {
  private cache: Map<string, T> | undefined;
  private readonly upsert: Statement;
  private readonly remove: Statement;
  private readonly selectAll: Statement;

  /** Statements are prepared once; table and key names come from the fixed TableSpec, never from input. */
  constructor(db: Db, private readonly spec: TableSpec<T>) {
    const { table, key } = spec;
    this.upsert = db.prepare(`INSERT INTO ${table} (${key}, config_json, updated_at) VALUES (?, ?, ?)
                ON CONFLICT(${key}) DO UPDATE SET config_json = excluded.config_json, updated_at = excluded.updated_at`);
    this.remove = db.prepare(`DELETE FROM ${table} WHERE ${key} = ?`);
    this.selectAll = db.prepare(`SELECT config_json FROM ${table} ORDER BY ${key}`);
  }

  list(): T[] {
    return [...this.load().values()];
  }
  get(key: string): T | undefined {
    return this.load().get(key);
  }
  /** Inserts or replaces; the value is validated again so nothing invalid is ever stored. */
  put(value: T): T {
    const v = this.spec.schema.parse(value);
    this.upsert.run(this.spec.keyOf(v), JSON.stringify(v), new Date().toISOString());
    this.cache = undefined;
    return v;
  }
  delete(k: string): boolean {
    const r = this.remove.run(k);
    this.cache = undefined;
    return r.changes > 0;
  }
  /** Inserts values whose key is not stored yet. */
  seed(values: T[]): void {
    for (const v of values) if (!this.get(this.spec.keyOf(v))) this.put(v);
  }
  private load(): Map<string, T> {
    if (!this.cache) {
      const rows = this.selectAll.all() as { config_json: string }[];
      this.cache = new Map(rows.map((r) => {
        const v = this.spec.schema.parse(JSON.parse(r.config_json));
        return [this.spec.keyOf(v), v] as const;
      }));
    }
    return this.cache;
  }
}

export class SettingsRepository {
  readonly aeTitles: Collection<LocalAeTitle>;
  readonly sources: Collection<Source>;
  readonly destinations: Collection<Destination>;

  constructor(db: Db) {
    this.aeTitles = new Collection(db, { table: 'ae_titles', key: 'ae_title', schema: LocalAeTitleSchema, keyOf: (v) => v.aeTitle });
    this.sources = new Collection(db, { table: 'sources', key: 'ae_title', schema: SourceSchema, keyOf: (v) => v.aeTitle });
    this.destinations = new Collection(db, { table: 'destinations', key: 'name', schema: DestinationSchema, keyOf: (v) => v.name });
  }

  seed(config: { localAeTitles: LocalAeTitle[]; sources: Source[]; destinations: Destination[] }): void {
    this.destinations.seed(config.destinations);
    this.aeTitles.seed(config.localAeTitles);
    this.sources.seed(config.sources);
  }
}
