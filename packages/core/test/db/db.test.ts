import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KsrError } from '../../src/errors.js';
import { initSchema, locationTable, ensureTable, openDb, tableVersion, tableDdl, fromDbDatetime, toDbDatetime, type Db } from '../../src/db/index.js';
import { toPgPlaceholders } from '../../src/db/sql.js';
import { dropPgSchema, pgSchemaUrl, requirePg } from './pg-support.js';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(KsrError);
    return (e as KsrError).code;
  }
  return 'no error';
}

const dir = mkdtempSync(join(tmpdir(), 'ksr-db-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function dialectSuite(name: string, open: () => Db, cleanup: () => void): void {
  describe(`Db over ${name}`, () => {
    let db: Db;
    beforeAll(() => {
      db = open();
    });
    afterAll(() => {
      db?.close();
      cleanup();
    });

    it('has Kamailio schema and version rows', () => {
      expect(tableVersion(db, 'version')).toBe(1);
      expect(tableVersion(db, 'subscriber')).toBe(7);
      expect(tableVersion(db, 'location')).toBe(9);
      expect(tableVersion(db, 'address')).toBe(6);
      expect(tableVersion(db, 'trusted')).toBe(6);
      expect(tableVersion(db, 'nope')).toBeUndefined();
      initSchema(db); // idempotent
      expect(db.select('version', { where: { table_name: 'location' } })).toHaveLength(1);
    });

    it('insert / select / update / delete', () => {
      db.insert('subscriber', { username: 'alice', domain: 'example.com', password: 'pw', ha1: 'h1', ha1b: 'h2' });
      db.insert('subscriber', { username: 'bob', domain: 'example.com', password: "it's", ha1: 'x', ha1b: 'y' });
      expect(db.select('subscriber', { columns: ['username', 'password'], where: { domain: 'example.com' }, orderBy: 'username DESC' })).toEqual([
        { username: 'bob', password: "it's" },
        { username: 'alice', password: 'pw' },
      ]);
      expect(db.select('subscriber', { orderBy: 'username', limit: 1 })[0]).toMatchObject({ username: 'alice', ha1: 'h1', ha1b: 'h2' });
      expect(typeof db.select('subscriber', { limit: 1 })[0]!.id).toBe('number');
      expect(db.update('subscriber', { username: 'alice' }, { password: 'new' })).toBe(1);
      expect(db.update('subscriber', { username: 'nobody' }, { password: 'new' })).toBe(0);
      expect(db.select('subscriber', { columns: ['password'], where: { username: 'alice' } })).toEqual([{ password: 'new' }]);
      expect(db.delete('subscriber', { username: 'bob', domain: 'example.com' })).toBe(1);
      expect(db.select('subscriber')).toHaveLength(1);
    });

    it('NULL in where, booleans, datetimes, reals', () => {
      db.insert('location', { ruid: 'r1', username: 'u', domain: null, contact: 'sip:u@h', expires: toDbDatetime(Date.UTC(2030, 0, 2, 3, 4, 5)), q: 0.5, flags: true });
      const rows = db.select('location', { where: { username: 'u', domain: null } });
      expect(rows).toHaveLength(1);
      expect(fromDbDatetime(rows[0]!.expires!)).toBe(Date.UTC(2030, 0, 2, 3, 4, 5));
      expect(rows[0]!.q).toBeCloseTo(0.5);
      expect(rows[0]!.flags).toBe(1);
      expect(rows[0]!.callid).toBe('Default-Call-ID');
      expect(db.select('location', { where: { domain: 'x' } })).toHaveLength(0);
    });

    it('exec with ? placeholders returns rows for SELECT, [] otherwise', () => {
      expect(db.exec('UPDATE subscriber SET ha1 = ? WHERE username = ?', ['zz', 'alice'])).toEqual([]);
      const r = db.exec("SELECT username, ha1, '?' AS lit FROM subscriber WHERE username = ?", ['alice']);
      expect(r).toEqual([{ username: 'alice', ha1: 'zz', lit: '?' }]);
      expect(Number(db.exec('SELECT count(*) AS n FROM subscriber')[0]!.n)).toBe(1);
    });

    it('transactions commit, roll back and nest', () => {
      db.transaction(() => {
        db.insert('address', { grp: 1, ip_addr: '10.0.0.1', mask: 32, port: 0 });
        db.insert('address', { grp: 2, ip_addr: '10.0.0.2' });
      });
      expect(db.select('address')).toHaveLength(2);
      expect(() =>
        db.transaction(() => {
          db.insert('address', { grp: 3, ip_addr: '10.0.0.3' });
          throw new Error('boom');
        }),
      ).toThrow('boom');
      expect(db.select('address')).toHaveLength(2);
      db.transaction(() => {
        db.insert('address', { grp: 4, ip_addr: '10.0.0.4' });
        try {
          db.transaction(() => {
            db.insert('address', { grp: 5, ip_addr: '10.0.0.5' });
            throw new Error('inner');
          });
        } catch {
          // inner rolled back only
        }
      });
      expect(db.select('address', { columns: ['grp'], orderBy: 'grp' }).map((r) => r.grp)).toEqual([1, 2, 4]);
      expect(db.select('address', { where: { grp: 2 } })[0]).toMatchObject({ mask: 32, port: 0, tag: null });
    });

    it('bad SQL, constraints and identifiers are KSR_ERR_DB_QUERY', () => {
      expect(codeOf(() => db.exec('SELEKT nothing'))).toBe('KSR_ERR_DB_QUERY');
      expect(codeOf(() => db.insert('subscriber', { username: 'alice', domain: 'example.com' }))).toBe('KSR_ERR_DB_QUERY');
      expect(codeOf(() => db.select('sub; drop table x'))).toBe('KSR_ERR_DB_QUERY');
      expect(codeOf(() => db.select('subscriber', { where: { 'a b': 1 } }))).toBe('KSR_ERR_DB_QUERY');
      expect(codeOf(() => db.select('subscriber', { orderBy: 'id; --' }))).toBe('KSR_ERR_DB_QUERY');
      expect(codeOf(() => db.select('no_such_table'))).toBe('KSR_ERR_DB_QUERY');
      // still usable afterwards
      expect(db.select('subscriber')).toHaveLength(1);
    });

    it('ensureTable creates another location-shaped table with its version row', () => {
      ensureTable(db, locationTable('location_b'));
      ensureTable(db, locationTable('location_b'));
      expect(tableVersion(db, 'location_b')).toBe(9);
      db.insert('location_b', { ruid: 'x', username: 'u', contact: 'sip:x' });
      expect(db.select('location_b')).toHaveLength(1);
    });
  });
}

dialectSuite(
  'SQLite (file)',
  () => openDb(`sqlite://${join(dir, 'sub', 'ksr.db')}`),
  () => {},
);

let pgUrl = '';
dialectSuite(
  'PostgreSQL',
  () => {
    requirePg();
    pgUrl = pgSchemaUrl('dbtest');
    return openDb(pgUrl, { createSchema: true });
  },
  () => {
    if (pgUrl) dropPgSchema(pgUrl);
  },
);

describe('SQLite specifics', () => {
  it('creates the file and directories, WAL mode, relative paths against cwd', () => {
    const db = openDb('sqlite://rel/dir/x.db', { cwd: dir });
    expect(existsSync(join(dir, 'rel/dir/x.db'))).toBe(true);
    expect(db.exec('PRAGMA journal_mode')[0]).toEqual({ journal_mode: 'wal' });
    expect(Number(db.exec('PRAGMA busy_timeout')[0]!.timeout)).toBe(5000);
    db.close();
    // a second open sees the same data, schema untouched
    const again = openDb(`sqlite:///${join(dir, 'rel/dir/x.db')}`);
    expect(tableVersion(again, 'location')).toBe(9);
    again.close();
  });
  it('createSchema: false leaves the file empty', () => {
    const db = openDb('sqlite::memory:', { createSchema: false });
    expect(codeOf(() => db.select('version'))).toBe('KSR_ERR_DB_QUERY');
    db.close();
  });
  it('a path it cannot create is KSR_ERR_DB_CONNECT', () => {
    writeFileSync(join(dir, 'plain-file'), '');
    expect(codeOf(() => openDb(`sqlite://${join(dir, 'plain-file', 'x.db')}`))).toBe('KSR_ERR_DB_CONNECT');
  });
  it('DDL per dialect', () => {
    expect(tableDdl('sqlite', locationTable())[0]).toContain('"id" INTEGER PRIMARY KEY NOT NULL');
    expect(tableDdl('postgres', locationTable())[0]).toContain('"id" SERIAL PRIMARY KEY NOT NULL');
    expect(tableDdl('postgres', locationTable())[0]).toContain(`"expires" TIMESTAMP WITHOUT TIME ZONE DEFAULT '2030-05-28 21:32:15' NOT NULL`);
  });
  it('placeholders rewritten for PostgreSQL outside literals and comments', () => {
    expect(toPgPlaceholders(`SELECT '?', "a?" FROM t WHERE a = ? AND b = ? -- ?\n AND c = ?`)).toBe(
      `SELECT '?', "a?" FROM t WHERE a = $1 AND b = $2 -- ?\n AND c = $3`,
    );
  });
});

describe('PostgreSQL worker failures', () => {
  it('a query that outlives the timeout is KSR_ERR_DB_TIMEOUT and the next query works', () => {
    requirePg();
    const db = openDb(pgSchemaUrl('dbtimeout').replace(/[?&]schema=[^&]*/, ''), { timeoutMs: 500 });
    try {
      expect(db.exec('SELECT 2 AS two')).toEqual([{ two: 2 }]); // worker started and connected
      const t0 = Date.now();
      expect(codeOf(() => db.exec('SELECT pg_sleep(5)'))).toBe('KSR_ERR_DB_TIMEOUT');
      expect(Date.now() - t0).toBeLessThan(2500);
      expect(db.exec('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    } finally {
      db.close();
    }
  });

  it('a closed port on 127.0.0.1 is KSR_ERR_DB_CONNECT naming host:port/db, password masked', async () => {
    const port = await new Promise<number>((res) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => res(p));
      });
    });
    const db = openDb(`postgres://ksr:topsecret@127.0.0.1:${port}/ksr_test`, { timeoutMs: 3000 });
    try {
      let e: KsrError | undefined;
      try {
        db.select('subscriber');
      } catch (x) {
        e = x as KsrError;
      }
      expect(e?.code).toBe('KSR_ERR_DB_CONNECT');
      expect(e?.message).toContain(`127.0.0.1:${port}/ksr_test`);
      expect(e?.message).not.toContain('topsecret');
      // again: still a coded error, no hang
      expect(codeOf(() => db.exec('SELECT 1'))).toBe('KSR_ERR_DB_CONNECT');
    } finally {
      db.close();
    }
  });

  it('a wrong password is KSR_ERR_DB_CONNECT', () => {
    requirePg();
    const u = new URL(process.env.KSR_TEST_PG_URL ?? 'postgres://ksr:ksr@127.0.0.1:5432/ksr_test');
    u.password = 'wrong-password';
    const db = openDb(u.toString(), { timeoutMs: 3000 });
    try {
      expect(codeOf(() => db.exec('SELECT 1'))).toBe('KSR_ERR_DB_CONNECT');
    } finally {
      db.close();
    }
  });

  it('a closed Db refuses work with a coded error', () => {
    const db = openDb('postgres://ksr:ksr@127.0.0.1:1/x');
    db.close();
    expect(codeOf(() => db.exec('SELECT 1'))).toBe('KSR_ERR_DB_CONNECT');
  });
});
