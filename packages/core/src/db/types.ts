/**
 * The database layer's contract (Kamailio's db_url per module). Synchronous on purpose: KEMI
 * functions run synchronously inside the script, as Kamailio's do (a Kamailio worker blocks on
 * its DB query too). SQLite (better-sqlite3) is synchronous by nature; PostgreSQL runs its
 * client in a worker thread and the caller waits on Atomics.wait for the answer.
 * Tables and columns are named as in Kamailio's schema so existing databases work.
 */

export type DbValue = string | number | bigint | boolean | null;
export type DbRow = Record<string, DbValue>;
/** Column = value pairs, joined with AND (a null value means IS NULL). */
export type DbWhere = Record<string, DbValue>;

export interface DbQuery {
  columns?: readonly string[];
  where?: DbWhere;
  orderBy?: string;
  limit?: number;
}

export interface Db {
  /** The db_url it was opened with (password masked). */
  readonly url: string;
  readonly kind: 'sqlite' | 'postgres';
  select(table: string, q?: DbQuery): DbRow[];
  insert(table: string, row: DbRow): void;
  /** Rows changed. */
  update(table: string, where: DbWhere, set: DbRow): number;
  /** Rows deleted. */
  delete(table: string, where: DbWhere): number;
  /** Raw SQL with `?` placeholders (rewritten to $1… for PostgreSQL); rows for a SELECT, [] otherwise. */
  exec(sql: string, params?: readonly DbValue[]): DbRow[];
  transaction<T>(fn: () => T): T;
  close(): void;
}
