/**
 * Kamailio's database schema for the tables ksr uses (names, columns, defaults and the version
 * rows of Kamailio 5.x/6.x `kamdbctl create`), rendered for SQLite and PostgreSQL.
 * `initSchema(db)` is idempotent: it creates what is missing and adds missing version rows.
 */
import { ErrorCodes, KsrError } from '../errors.js';
import { ident } from './sql.js';
import type { Db } from './types.js';

type ColType = 'serial' | 'int' | 'smallint' | 'real' | 'datetime' | `varchar(${number})`;

interface Col {
  name: string;
  type: ColType;
  notNull?: boolean;
  /** SQL literal. */
  dflt?: string;
}

export interface TableDef {
  name: string;
  version: number;
  columns: Col[];
  unique?: Array<{ name: string; columns: string[] }>;
  indexes?: Array<{ name: string; columns: string[] }>;
}

const id: Col = { name: 'id', type: 'serial', notNull: true };

/** The location table's columns; usrloc uses the same definition for every udomain table. */
export function locationTable(name = 'location'): TableDef {
  return {
    name,
    version: 9,
    columns: [
      id,
      { name: 'ruid', type: 'varchar(64)', notNull: true, dflt: "''" },
      { name: 'username', type: 'varchar(64)', notNull: true, dflt: "''" },
      { name: 'domain', type: 'varchar(64)', dflt: 'NULL' },
      { name: 'contact', type: 'varchar(512)', notNull: true, dflt: "''" },
      { name: 'received', type: 'varchar(128)', dflt: 'NULL' },
      { name: 'path', type: 'varchar(512)', dflt: 'NULL' },
      { name: 'expires', type: 'datetime', notNull: true, dflt: "'2030-05-28 21:32:15'" },
      { name: 'q', type: 'real', notNull: true, dflt: '1.0' },
      { name: 'callid', type: 'varchar(255)', notNull: true, dflt: "'Default-Call-ID'" },
      { name: 'cseq', type: 'int', notNull: true, dflt: '1' },
      { name: 'last_modified', type: 'datetime', notNull: true, dflt: "'2000-01-01 00:00:01'" },
      { name: 'flags', type: 'int', notNull: true, dflt: '0' },
      { name: 'cflags', type: 'int', notNull: true, dflt: '0' },
      { name: 'user_agent', type: 'varchar(255)', notNull: true, dflt: "''" },
      { name: 'socket', type: 'varchar(64)', dflt: 'NULL' },
      { name: 'methods', type: 'int', dflt: 'NULL' },
      { name: 'instance', type: 'varchar(255)', dflt: 'NULL' },
      { name: 'reg_id', type: 'int', notNull: true, dflt: '0' },
      { name: 'server_id', type: 'int', notNull: true, dflt: '0' },
      { name: 'connection_id', type: 'int', notNull: true, dflt: '0' },
      { name: 'keepalive', type: 'int', notNull: true, dflt: '0' },
      { name: 'partition', type: 'int', notNull: true, dflt: '0' },
    ],
    unique: [{ name: `${name}_ruid_idx`, columns: ['ruid'] }],
    indexes: [
      { name: `${name}_account_contact_idx`, columns: ['username', 'domain', 'contact'] },
      { name: `${name}_expires_idx`, columns: ['expires'] },
      { name: `${name}_connection_idx`, columns: ['server_id', 'connection_id'] },
    ],
  };
}

/** Every table `ksr db init` creates (Kamailio's standard, usrloc, auth_db and permissions tables). */
export const KAMAILIO_TABLES: readonly TableDef[] = [
  {
    name: 'version',
    version: 1,
    columns: [
      { name: 'table_name', type: 'varchar(32)', notNull: true },
      { name: 'table_version', type: 'int', notNull: true, dflt: '0' },
    ],
    unique: [{ name: 'version_table_name_idx', columns: ['table_name'] }],
  },
  {
    name: 'subscriber',
    version: 7,
    columns: [
      id,
      { name: 'username', type: 'varchar(64)', notNull: true, dflt: "''" },
      { name: 'domain', type: 'varchar(64)', notNull: true, dflt: "''" },
      { name: 'password', type: 'varchar(64)', notNull: true, dflt: "''" },
      { name: 'ha1', type: 'varchar(128)', notNull: true, dflt: "''" },
      { name: 'ha1b', type: 'varchar(128)', notNull: true, dflt: "''" },
    ],
    unique: [{ name: 'subscriber_account_idx', columns: ['username', 'domain'] }],
    indexes: [{ name: 'subscriber_username_idx', columns: ['username'] }],
  },
  locationTable('location'),
  {
    name: 'location_attrs',
    version: 1,
    columns: [
      id,
      { name: 'ruid', type: 'varchar(64)', notNull: true, dflt: "''" },
      { name: 'username', type: 'varchar(64)', notNull: true, dflt: "''" },
      { name: 'domain', type: 'varchar(64)', dflt: 'NULL' },
      { name: 'aname', type: 'varchar(64)', notNull: true, dflt: "''" },
      { name: 'atype', type: 'int', notNull: true, dflt: '0' },
      { name: 'avalue', type: 'varchar(512)', notNull: true, dflt: "''" },
      { name: 'last_modified', type: 'datetime', notNull: true, dflt: "'2000-01-01 00:00:01'" },
    ],
    indexes: [
      { name: 'location_attrs_account_record_idx', columns: ['username', 'domain', 'ruid'] },
      { name: 'location_attrs_last_modified_idx', columns: ['last_modified'] },
    ],
  },
  {
    name: 'address',
    version: 6,
    columns: [
      id,
      { name: 'grp', type: 'int', notNull: true, dflt: '1' },
      { name: 'ip_addr', type: 'varchar(50)', notNull: true },
      { name: 'mask', type: 'int', notNull: true, dflt: '32' },
      { name: 'port', type: 'smallint', notNull: true, dflt: '0' },
      { name: 'tag', type: 'varchar(64)' },
    ],
  },
  {
    name: 'trusted',
    version: 6,
    columns: [
      id,
      { name: 'src_ip', type: 'varchar(50)', notNull: true },
      { name: 'proto', type: 'varchar(4)', notNull: true },
      { name: 'from_pattern', type: 'varchar(64)', dflt: 'NULL' },
      { name: 'ruri_pattern', type: 'varchar(64)', dflt: 'NULL' },
      { name: 'tag', type: 'varchar(64)' },
      { name: 'priority', type: 'int', notNull: true, dflt: '0' },
    ],
    indexes: [{ name: 'trusted_peer_idx', columns: ['src_ip'] }],
  },
];

function colSql(kind: Db['kind'], c: Col): string {
  let t: string;
  if (c.type === 'serial') return kind === 'postgres' ? `${ident(c.name)} SERIAL PRIMARY KEY NOT NULL` : `${ident(c.name)} INTEGER PRIMARY KEY NOT NULL`;
  if (c.type === 'int') t = 'INTEGER';
  else if (c.type === 'smallint') t = 'SMALLINT';
  else if (c.type === 'real') t = 'REAL';
  else if (c.type === 'datetime') t = 'TIMESTAMP WITHOUT TIME ZONE';
  else t = c.type.toUpperCase();
  return `${ident(c.name)} ${t}${c.dflt !== undefined ? ` DEFAULT ${c.dflt}` : ''}${c.notNull ? ' NOT NULL' : ''}`;
}

/** CREATE TABLE / INDEX statements (IF NOT EXISTS) for one table in a dialect. */
export function tableDdl(kind: Db['kind'], t: TableDef): string[] {
  const parts = t.columns.map((c) => colSql(kind, c));
  for (const u of t.unique ?? []) parts.push(`CONSTRAINT ${ident(u.name)} UNIQUE (${u.columns.map(ident).join(', ')})`);
  const out = [`CREATE TABLE IF NOT EXISTS ${ident(t.name)} (\n    ${parts.join(',\n    ')}\n)`];
  for (const i of t.indexes ?? []) out.push(`CREATE INDEX IF NOT EXISTS ${ident(i.name)} ON ${ident(t.name)} (${i.columns.map(ident).join(', ')})`);
  return out;
}

/** The table's DDL and its version row; the version table must exist. */
function createTable(db: Db, t: TableDef): void {
  for (const s of tableDdl(db.kind, t)) db.exec(s);
  if (db.select('version', { where: { table_name: t.name } }).length === 0) {
    db.insert('version', { table_name: t.name, table_version: t.version });
  }
}

/** Create one table (and its version row, and the version table) when missing. */
export function ensureTable(db: Db, t: TableDef): void {
  db.transaction(() => {
    createTable(db, KAMAILIO_TABLES[0]!);
    if (t.name !== 'version') createTable(db, t);
  });
}

/** Create Kamailio's tables that are missing (all of KAMAILIO_TABLES, or the ones named). Idempotent. */
export function initSchema(db: Db, tables?: readonly string[]): void {
  const defs = tables ? KAMAILIO_TABLES.filter((t) => tables.includes(t.name)) : KAMAILIO_TABLES;
  if (tables) for (const n of tables) if (!defs.some((t) => t.name === n)) throw new KsrError(ErrorCodes.DB_QUERY, `no schema for table "${n}"`);
  db.transaction(() => {
    createTable(db, KAMAILIO_TABLES[0]!);
    for (const t of defs) if (t.name !== 'version') createTable(db, t);
  });
}

/** The version row of a table (Kamailio's version table), undefined when there is none. */
export function tableVersion(db: Db, table: string): number | undefined {
  const rows = db.select('version', { columns: ['table_version'], where: { table_name: table } });
  const v = rows[0]?.table_version;
  return v === undefined || v === null ? undefined : Number(v);
}
