/**
 * SQL building shared by both dialects: identifiers are checked and double-quoted (valid in SQLite
 * and PostgreSQL), values always go as parameters. Statements use `?` placeholders; PostgreSQL
 * gets them rewritten to $1… by `toPgPlaceholders`.
 */
import { ErrorCodes, KsrError } from '../errors.js';
import type { DbQuery, DbRow, DbValue, DbWhere } from './types.js';

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function ident(name: string): string {
  if (typeof name !== 'string' || !IDENT.test(name) || name.length > 63) {
    throw new KsrError(ErrorCodes.DB_QUERY, `invalid table or column name "${String(name)}"`);
  }
  return `"${name}"`;
}

export interface Sql {
  sql: string;
  params: DbValue[];
}

function whereClause(where: DbWhere | undefined, params: DbValue[]): string {
  if (!where) return '';
  const parts: string[] = [];
  for (const [k, v] of Object.entries(where)) {
    if (v === undefined) continue;
    if (v === null) parts.push(`${ident(k)} IS NULL`);
    else {
      parts.push(`${ident(k)} = ?`);
      params.push(v);
    }
  }
  return parts.length ? ` WHERE ${parts.join(' AND ')}` : '';
}

export function buildSelect(table: string, q: DbQuery = {}): Sql {
  const params: DbValue[] = [];
  const cols = q.columns && q.columns.length ? q.columns.map(ident).join(', ') : '*';
  let sql = `SELECT ${cols} FROM ${ident(table)}${whereClause(q.where, params)}`;
  if (q.orderBy) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:\s+(ASC|DESC))?$/i.exec(q.orderBy.trim());
    if (!m) throw new KsrError(ErrorCodes.DB_QUERY, `invalid orderBy "${q.orderBy}" (column [ASC|DESC])`);
    sql += ` ORDER BY ${ident(m[1]!)}${m[2] ? ` ${m[2].toUpperCase()}` : ''}`;
  }
  if (q.limit !== undefined) {
    if (!Number.isInteger(q.limit) || q.limit < 0) throw new KsrError(ErrorCodes.DB_QUERY, `invalid limit ${q.limit}`);
    sql += ` LIMIT ${q.limit}`;
  }
  return { sql, params };
}

export function buildInsert(table: string, row: DbRow): Sql {
  const keys = Object.keys(row).filter((k) => row[k] !== undefined);
  if (keys.length === 0) throw new KsrError(ErrorCodes.DB_QUERY, `insert into ${table}: no columns`);
  return {
    sql: `INSERT INTO ${ident(table)} (${keys.map(ident).join(', ')}) VALUES (${keys.map(() => '?').join(', ')})`,
    params: keys.map((k) => row[k]!),
  };
}

export function buildUpdate(table: string, where: DbWhere, set: DbRow): Sql {
  const keys = Object.keys(set).filter((k) => set[k] !== undefined);
  if (keys.length === 0) throw new KsrError(ErrorCodes.DB_QUERY, `update ${table}: nothing to set`);
  const params: DbValue[] = keys.map((k) => set[k]!);
  return { sql: `UPDATE ${ident(table)} SET ${keys.map((k) => `${ident(k)} = ?`).join(', ')}${whereClause(where, params)}`, params };
}

export function buildDelete(table: string, where: DbWhere): Sql {
  const params: DbValue[] = [];
  return { sql: `DELETE FROM ${ident(table)}${whereClause(where, params)}`, params };
}

/** `?` → `$1`, `$2` … outside quoted strings, quoted identifiers and comments. */
export function toPgPlaceholders(sql: string): string {
  let out = '';
  let n = 0;
  for (let i = 0; i < sql.length; i++) {
    const ch = sql[i]!;
    if (ch === "'" || ch === '"') {
      const end = sql.indexOf(ch, i + 1);
      const stop = end < 0 ? sql.length : end + 1;
      out += sql.slice(i, stop);
      i = stop - 1;
    } else if (ch === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i);
      const stop = end < 0 ? sql.length : end;
      out += sql.slice(i, stop);
      i = stop - 1;
    } else if (ch === '?') out += `$${++n}`;
    else out += ch;
  }
  return out;
}

/** Now as Kamailio writes DATETIME columns: "YYYY-MM-DD HH:MM:SS" (UTC here). */
export function toDbDatetime(ms: number): string {
  const d = new Date(Math.floor(ms / 1000) * 1000);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
}

/** "YYYY-MM-DD HH:MM:SS" (UTC) → ms since the epoch; numbers are taken as Unix seconds. NaN when it does not parse. */
export function fromDbDatetime(v: DbValue): number {
  if (typeof v === 'number') return v * 1000;
  if (typeof v === 'bigint') return Number(v) * 1000;
  if (typeof v !== 'string') return NaN;
  const m = /^(\d{4})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(?:\.\d+)?/.exec(v);
  if (!m) return NaN;
  return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
}
