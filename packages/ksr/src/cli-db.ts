/**
 * `ksr db init` (Kamailio's `kamdbctl create`) and `ksr user add|rm|passwd|list` (`kamctl
 * add|rm|passwd`): the database of a config (the db_url modparams of usrloc, auth_db,
 * permissions …) or of `--db-url URL`. Subscribers are stored as Kamailio stores them: password,
 * ha1 = MD5(user:realm:password), ha1b = MD5(user@domain:realm:password), realm = domain.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { DEFAULT_DB_URL, KAMAILIO_TABLES, KsrError, initSchema, maskDbUrl, openDb, type Db, type KsrConfig } from '@ksr/core';

interface Io {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

export const DB_USAGE = `Database commands (SQLite file or PostgreSQL, Kamailio's schema):
  ksr db init [-f FILE | --db-url URL]               create the tables (like kamdbctl create)
  ksr user add USER@DOMAIN PASSWORD [-f FILE | --db-url URL]
  ksr user passwd USER@DOMAIN PASSWORD [-f FILE | --db-url URL]
  ksr user rm USER@DOMAIN [-f FILE | --db-url URL]
  ksr user list [DOMAIN] [-f FILE | --db-url URL]
The database is --db-url, else the db_url modparams of the config (-f, default ./ksr.cfg when
it exists), else ${DEFAULT_DB_URL}.`;

class UsageError extends Error {}

/** ha1 / ha1b as Kamailio's kamctl computes them (realm = domain). */
export function subscriberHashes(user: string, domain: string, password: string): { ha1: string; ha1b: string } {
  const md5 = (s: string): string => createHash('md5').update(s).digest('hex');
  return { ha1: md5(`${user}:${domain}:${password}`), ha1b: md5(`${user}@${domain}:${domain}:${password}`) };
}

interface Parsed {
  positional: string[];
  configFile: string | undefined;
  dbUrl: string | undefined;
}

function parse(argv: readonly string[]): Parsed {
  const out: Parsed = { positional: [], configFile: undefined, dbUrl: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`option ${a} needs a value`);
      return v;
    };
    if (a === '-f') out.configFile = value();
    else if (a.startsWith('-f') && a.length > 2) out.configFile = a.slice(2);
    else if (a === '--db-url') out.dbUrl = value();
    else if (a.startsWith('--db-url=')) out.dbUrl = a.slice('--db-url='.length);
    else if (a.startsWith('-') && a !== '-') throw new UsageError(`unknown option ${a}`);
    else out.positional.push(a);
  }
  return out;
}

/** The db_url modparams of a config, auth_db's first (the subscriber table), each once. */
export function configDbUrls(cfg: KsrConfig): string[] {
  const urls = cfg.modparams.filter((m) => m.param === 'db_url').sort((a, b) => Number(b.module === 'auth_db') - Number(a.module === 'auth_db'));
  return [...new Set(urls.map((m) => String(m.value)))];
}

function dbUrls(p: Parsed, loadCfg: (file: string) => KsrConfig): string[] {
  if (p.dbUrl !== undefined) return [p.dbUrl];
  const file = p.configFile ?? (existsSync('ksr.cfg') ? 'ksr.cfg' : undefined);
  if (file === undefined) return [DEFAULT_DB_URL];
  const urls = configDbUrls(loadCfg(file));
  return urls.length ? urls : [DEFAULT_DB_URL];
}

function splitAccount(s: string | undefined): { user: string; domain: string } {
  const m = s === undefined ? null : /^([^@\s:]+)@([^@\s]+)$/.exec(s);
  if (!m) throw new UsageError(`expected USER@DOMAIN, got '${s ?? ''}'`);
  return { user: m[1]!, domain: m[2]!.toLowerCase() };
}

function openSubscriberDb(url: string): Db {
  const db = openDb(url, { createSchema: url.startsWith('sqlite') });
  try {
    db.select('subscriber', { limit: 0 });
  } catch (err) {
    db.close();
    throw new KsrError('KSR_ERR_DB_QUERY', `${maskDbUrl(url)} has no subscriber table: run 'ksr db init' first (${(err as Error).message})`);
  }
  return db;
}

/** `ksr db …` / `ksr user …`; argv starts with "db" or "user". Returns the exit code. */
export async function runDbCli(argv: readonly string[], io: Io, loadCfg: (file: string) => KsrConfig): Promise<number> {
  const [group, cmd, ...rest] = argv;
  try {
    if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
      io.stdout(`${DB_USAGE}\n`);
      return cmd === undefined ? 2 : 0;
    }
    const p = parse(rest);
    if (group === 'db') {
      if (cmd !== 'init') throw new UsageError(`unknown command 'ksr db ${cmd}'`);
      if (p.positional.length) throw new UsageError(`unexpected argument '${p.positional[0]}'`);
      for (const url of dbUrls(p, loadCfg)) {
        const db = openDb(url, { createSchema: true });
        try {
          initSchema(db);
        } finally {
          db.close();
        }
        io.stdout(`ksr: ${db.url}: tables ready (${KAMAILIO_TABLES.map((t) => `${t.name} v${t.version}`).join(', ')})\n`);
      }
      return 0;
    }
    if (group !== 'user') throw new UsageError(`unknown command '${group}'`);
    const url = dbUrls(p, loadCfg)[0]!;
    const args = p.positional;
    const expect = (n: number): void => {
      if (args.length !== n) throw new UsageError(`'ksr user ${cmd}' takes ${n === 0 ? 'no arguments' : n === 1 ? 'USER@DOMAIN' : 'USER@DOMAIN PASSWORD'}`);
    };
    let db: Db | undefined;
    try {
      switch (cmd) {
        case 'add': {
          expect(2);
          const { user, domain } = splitAccount(args[0]);
          db = openSubscriberDb(url);
          if (db.select('subscriber', { columns: ['id'], where: { username: user, domain } }).length) {
            io.stderr(`ksr: user ${user}@${domain} already exists\n`);
            return 1;
          }
          db.insert('subscriber', { username: user, domain, password: args[1]!, ...subscriberHashes(user, domain, args[1]!) });
          io.stdout(`ksr: user ${user}@${domain} added\n`);
          return 0;
        }
        case 'passwd': {
          expect(2);
          const { user, domain } = splitAccount(args[0]);
          db = openSubscriberDb(url);
          if (db.update('subscriber', { username: user, domain }, { password: args[1]!, ...subscriberHashes(user, domain, args[1]!) }) === 0) {
            io.stderr(`ksr: no user ${user}@${domain}\n`);
            return 1;
          }
          io.stdout(`ksr: password of ${user}@${domain} changed\n`);
          return 0;
        }
        case 'rm': {
          expect(1);
          const { user, domain } = splitAccount(args[0]);
          db = openSubscriberDb(url);
          if (db.delete('subscriber', { username: user, domain }) === 0) {
            io.stderr(`ksr: no user ${user}@${domain}\n`);
            return 1;
          }
          io.stdout(`ksr: user ${user}@${domain} removed\n`);
          return 0;
        }
        case 'list': {
          if (args.length > 1) throw new UsageError(`'ksr user list' takes at most a DOMAIN`);
          db = openSubscriberDb(url);
          const rows = db.select('subscriber', { columns: ['username', 'domain'], ...(args[0] ? { where: { domain: args[0].toLowerCase() } } : {}) });
          rows.sort((a, b) => `${a.domain}\n${a.username}`.localeCompare(`${b.domain}\n${b.username}`));
          for (const r of rows) io.stdout(`${String(r.username)}@${String(r.domain)}\n`);
          return 0;
        }
        default:
          throw new UsageError(`unknown command 'ksr user ${cmd}'`);
      }
    } finally {
      db?.close();
    }
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`ksr: ${err.message}\n\n${DB_USAGE}\n`);
      return 2;
    }
    if (err instanceof KsrError) {
      io.stderr(`ksr: error: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}
