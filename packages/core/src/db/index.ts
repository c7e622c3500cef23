/**
 * The database layer: `openDb(db_url)` gives a synchronous `Db` over SQLite (better-sqlite3) or
 * PostgreSQL (pg in a worker thread). See README.md.
 */
import type { Logger } from '../log.js';
import { initSchema } from './schema.js';
import { PostgresDb } from './postgres.js';
import { SqliteDb } from './sqlite.js';
import type { Db } from './types.js';
import { parseDbUrl } from './url.js';

export type { Db, DbQuery, DbRow, DbValue, DbWhere } from './types.js';
export { parseDbUrl, maskDbUrl, type DbUrl } from './url.js';
export { initSchema, ensureTable, tableVersion, locationTable, tableDdl, KAMAILIO_TABLES, type TableDef } from './schema.js';
export { toDbDatetime, fromDbDatetime } from './sql.js';

/** ksr's default db_url: an SQLite file in the working directory (Kamailio's default is a MySQL server). */
export const DEFAULT_DB_URL = 'sqlite://ksr.db';

export interface OpenDbOptions {
  logger?: Logger;
  /**
   * Create Kamailio's tables (initSchema) when they are missing. Default: true for SQLite (the
   * embedded default works without setup), false for PostgreSQL (`ksr db init` creates them).
   * For PostgreSQL it also creates the `?schema=` schema.
   */
  createSchema?: boolean;
  /** PostgreSQL: the time one query may take, connecting included (ms, default 5000). */
  timeoutMs?: number;
  /** SQLite busy_timeout (ms, default 5000). */
  busyTimeoutMs?: number;
  /** Base directory of relative sqlite:// paths (default: the working directory). */
  cwd?: string;
}

/** Open a database by its db_url. Throws KSR_ERR_DB_URL / KSR_ERR_DB_CONNECT (coded). */
export function openDb(url: string, opts: OpenDbOptions = {}): Db {
  const u = parseDbUrl(url, opts.cwd);
  // the schema is created by default in an SQLite file, only on request in PostgreSQL
  const createSchema = u.kind === 'sqlite' ? opts.createSchema !== false : opts.createSchema === true;
  const db: Db =
    u.kind === 'sqlite'
      ? new SqliteDb(u.masked, u.path, { ...(opts.busyTimeoutMs !== undefined ? { busyTimeoutMs: opts.busyTimeoutMs } : {}) })
      : new PostgresDb(u, { ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}), createSchema });
  if (createSchema) {
    try {
      initSchema(db);
    } catch (err) {
      db.close();
      throw err;
    }
  }
  opts.logger?.debug({ db: db.url }, 'database opened');
  return db;
}
