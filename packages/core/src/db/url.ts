/**
 * db_url parsing (Kamailio's form): `sqlite:///abs/path.db`, `sqlite://relative/path.db`,
 * `sqlite::memory:` (tests), `postgres://user:pass@host:port/db` (also `postgresql://`).
 * Errors name the url with its password masked.
 */
import { isAbsolute, resolve } from 'node:path';
import { ErrorCodes, KsrError } from '../errors.js';

export type DbUrl =
  | { readonly kind: 'sqlite'; /** Absolute file path, or ':memory:'. */ readonly path: string; readonly masked: string }
  | {
      readonly kind: 'postgres';
      readonly user: string;
      readonly password: string;
      readonly host: string;
      readonly port: number;
      readonly database: string;
      /** `?schema=name`: a ksr extension, the search_path (created when missing with createSchema). */
      readonly schema: string | undefined;
      readonly masked: string;
    };

/** The url with the password of its user info replaced by `***`. */
export function maskDbUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*:)([^@]*)@/i, '$1***@');
}

function bad(url: string, why: string): KsrError {
  return new KsrError(ErrorCodes.DB_URL, `invalid db_url "${maskDbUrl(url)}": ${why}`);
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Parse a db_url. Relative SQLite paths resolve against `cwd` (default process.cwd()), as
 * Kamailio's db_sqlite resolves them against its working directory.
 */
export function parseDbUrl(url: string, cwd: string = process.cwd()): DbUrl {
  if (typeof url !== 'string' || url.trim() === '') throw bad(String(url), 'empty');
  const u = url.trim();
  const masked = maskDbUrl(u);
  if (u === 'sqlite::memory:' || u === 'sqlite://:memory:') return { kind: 'sqlite', path: ':memory:', masked };
  if (/^sqlite:/i.test(u)) {
    const m = /^sqlite:\/\/(.*)$/i.exec(u);
    if (!m) throw bad(u, 'expected sqlite:///absolute/path.db, sqlite://relative/path.db or sqlite::memory:');
    let rest = m[1]!;
    const q = rest.indexOf('?');
    if (q >= 0) rest = rest.slice(0, q);
    if (rest === '' || rest === '/') throw bad(u, 'no database file');
    let path: string;
    try {
      path = decodeURIComponent(rest);
    } catch {
      throw bad(u, 'bad %-escape in the path');
    }
    if (path.endsWith('/')) throw bad(u, 'the path names a directory');
    return { kind: 'sqlite', path: isAbsolute(path) ? path : resolve(cwd, path), masked };
  }
  if (/^postgres(ql)?:/i.test(u)) {
    let parsed: URL;
    try {
      parsed = new URL(u);
    } catch {
      throw bad(u, 'expected postgres://user:password@host[:port]/database');
    }
    const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
    if (!parsed.hostname) throw bad(u, 'no host');
    if (!database || database.includes('/')) throw bad(u, 'no database name (postgres://user:password@host[:port]/database)');
    const port = parsed.port ? Number(parsed.port) : 5432;
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw bad(u, `bad port "${parsed.port}"`);
    const schema = parsed.searchParams.get('schema') ?? undefined;
    if (schema !== undefined && !IDENT.test(schema)) throw bad(u, `bad schema name "${schema}"`);
    for (const k of parsed.searchParams.keys()) if (k !== 'schema') throw bad(u, `unknown parameter "${k}"`);
    const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
    return {
      kind: 'postgres',
      user: decodeURIComponent(parsed.username),
      password: decodeURIComponent(parsed.password),
      host,
      port,
      database,
      schema,
      masked,
    };
  }
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(u)?.[1];
  throw bad(u, scheme ? `unsupported database "${scheme}" (sqlite and postgres are supported)` : 'no scheme (sqlite://… or postgres://…)');
}

/** "host:port/db" for messages. */
export function pgTarget(u: { host: string; port: number; database: string }): string {
  return `${u.host.includes(':') ? `[${u.host}]` : u.host}:${u.port}/${u.database}`;
}
