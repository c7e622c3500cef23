/**
 * SQLite through better-sqlite3 (synchronous by nature), loaded only when a sqlite:// url is
 * opened. WAL journal and a busy timeout, so several processes can share one file.
 */
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { ErrorCodes, KsrError } from '../errors.js';
import { buildDelete, buildInsert, buildSelect, buildUpdate } from './sql.js';
import type { Db, DbQuery, DbRow, DbValue, DbWhere } from './types.js';

const require = createRequire(import.meta.url);
let driver: typeof BetterSqlite3 | undefined;

function load(): typeof BetterSqlite3 {
  driver ??= require('better-sqlite3') as typeof BetterSqlite3;
  return driver;
}

function norm(v: DbValue): unknown {
  return typeof v === 'boolean' ? (v ? 1 : 0) : v;
}

function normRow(r: Record<string, unknown>): DbRow {
  for (const [k, v] of Object.entries(r)) if (Buffer.isBuffer(v)) r[k] = v.toString('utf8');
  return r as DbRow;
}

export class SqliteDb implements Db {
  readonly kind = 'sqlite' as const;
  private readonly db: BetterSqlite3.Database;
  private readonly stmts = new Map<string, BetterSqlite3.Statement>();

  constructor(
    readonly url: string,
    readonly path: string,
    opts: { busyTimeoutMs?: number } = {},
  ) {
    const Database = load();
    try {
      if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
      this.db = new Database(path);
      this.db.pragma(`busy_timeout = ${Math.max(0, Math.trunc(opts.busyTimeoutMs ?? 5000))}`);
      if (path !== ':memory:') this.db.pragma('journal_mode = WAL');
    } catch (err) {
      throw new KsrError(ErrorCodes.DB_CONNECT, `cannot open the SQLite database ${url}: ${(err as Error).message}`, { cause: err });
    }
  }

  private stmt(sql: string): BetterSqlite3.Statement {
    let s = this.stmts.get(sql);
    if (!s) {
      try {
        s = this.db.prepare(sql);
      } catch (err) {
        throw new KsrError(ErrorCodes.DB_QUERY, `${this.url}: ${(err as Error).message} (${sql})`, { cause: err });
      }
      if (this.stmts.size > 500) this.stmts.clear();
      this.stmts.set(sql, s);
    }
    return s;
  }

  private run(sql: string, params: readonly DbValue[], rows: boolean): DbRow[] | number {
    const s = this.stmt(sql);
    try {
      const args = params.map(norm);
      if (rows && s.reader) return (s.all(...args) as Record<string, unknown>[]).map(normRow);
      return s.run(...args).changes;
    } catch (err) {
      if (err instanceof KsrError) throw err;
      throw new KsrError(ErrorCodes.DB_QUERY, `${this.url}: ${(err as Error).message} (${sql})`, { cause: err });
    }
  }

  select(table: string, q?: DbQuery): DbRow[] {
    const { sql, params } = buildSelect(table, q);
    return this.run(sql, params, true) as DbRow[];
  }

  insert(table: string, row: DbRow): void {
    const { sql, params } = buildInsert(table, row);
    this.run(sql, params, false);
  }

  update(table: string, where: DbWhere, set: DbRow): number {
    const { sql, params } = buildUpdate(table, where, set);
    return this.run(sql, params, false) as number;
  }

  delete(table: string, where: DbWhere): number {
    const { sql, params } = buildDelete(table, where);
    return this.run(sql, params, false) as number;
  }

  exec(sql: string, params: readonly DbValue[] = []): DbRow[] {
    const r = this.run(sql, params, true);
    return Array.isArray(r) ? r : [];
  }

  transaction<T>(fn: () => T): T {
    // better-sqlite3 nests with savepoints
    return this.db.transaction(fn)();
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
