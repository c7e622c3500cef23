/**
 * `ksr db init` and `ksr user add|list|passwd|rm` through the real binary, against a temporary
 * SQLite file, a config's db_url and PostgreSQL.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDb } from '@ksr/core';
import { ksrBin } from './support/proc.js';
import { dropPgSchema, pgSchemaUrl, requirePg } from '../../core/test/db/pg-support.js';

const dir = mkdtempSync(join(tmpdir(), 'ksr-cli-db-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function ksr(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [ksrBin, ...args], { cwd: dir, timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 99) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

describe('ksr db / ksr user on SQLite', () => {
  const url = `sqlite://${join(dir, 'data', 'ksr.db')}`;

  it('db init creates the file with the schema; running it again is harmless', async () => {
    const r = await ksr(['db', 'init', '--db-url', url]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('subscriber v7');
    expect(existsSync(join(dir, 'data', 'ksr.db'))).toBe(true);
    expect((await ksr(['db', 'init', `--db-url=${url}`])).code).toBe(0);
    const db = openDb(url);
    expect(db.select('version', { where: { table_name: 'location' } })[0]!.table_version).toBe(9);
    db.close();
  });

  it('user add / list / passwd / rm with Kamailio ha1 and ha1b', async () => {
    expect((await ksr(['user', 'add', 'alice@Example.com', 's3cret', '--db-url', url])).code).toBe(0);
    expect((await ksr(['user', 'add', 'bob@example.com', 'pw', '--db-url', url])).code).toBe(0);
    const dup = await ksr(['user', 'add', 'alice@example.com', 'other', '--db-url', url]);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toContain('already exists');
    const db = openDb(url);
    const row = () => db.select('subscriber', { where: { username: 'alice', domain: 'example.com' } })[0];
    expect(row()).toMatchObject({
      password: 's3cret',
      ha1: md5('alice:example.com:s3cret'),
      ha1b: md5('alice@example.com:example.com:s3cret'),
    });
    const list = await ksr(['user', 'list', '--db-url', url]);
    expect(list.stdout).toBe('alice@example.com\nbob@example.com\n');
    expect((await ksr(['user', 'passwd', 'alice@example.com', 'n3w', '--db-url', url])).code).toBe(0);
    expect(row()).toMatchObject({ password: 'n3w', ha1: md5('alice:example.com:n3w') });
    expect((await ksr(['user', 'rm', 'alice@example.com', '--db-url', url])).code).toBe(0);
    expect(row()).toBeUndefined();
    const gone = await ksr(['user', 'rm', 'alice@example.com', '--db-url', url]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('no user alice@example.com');
    expect((await ksr(['user', 'passwd', 'nobody@example.com', 'x', '--db-url', url])).code).toBe(1);
    db.close();
  });

  it('takes the db_url from the config (-f) and explains usage mistakes', async () => {
    const cfgDb = join(dir, 'from-cfg.db');
    writeFileSync(
      join(dir, 'db.cfg'),
      ['#!KSR', 'loadmodule "usrloc.so"', `modparam("usrloc", "db_url", "sqlite://${cfgDb}")`, 'modparam("usrloc", "db_mode", 3)', ''].join('\n'),
    );
    const r = await ksr(['db', 'init', '-f', 'db.cfg']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(existsSync(cfgDb)).toBe(true);
    expect((await ksr(['user', 'add', 'carol@example.org', 'pw', '-f', 'db.cfg'])).code).toBe(0);
    expect((await ksr(['user', 'list', 'example.org', '-f', 'db.cfg'])).stdout).toBe('carol@example.org\n');

    const bad = await ksr(['user', 'add', 'no-domain', 'pw', '--db-url', url]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('expected USER@DOMAIN');
    expect((await ksr(['db', 'drop'])).code).toBe(2);
    const badUrl = await ksr(['db', 'init', '--db-url', 'mysql://k:secretpw@h/db']);
    expect(badUrl.code).toBe(1);
    expect(badUrl.stderr).toContain('unsupported database "mysql"');
    expect(badUrl.stderr).not.toContain('secretpw');
    const help = await ksr(['--help']);
    expect(help.stdout).toContain('ksr db init');
    expect(help.stdout).toContain('ksr user add');
  });
});

describe('ksr db / ksr user on PostgreSQL', () => {
  let url = '';
  afterAll(() => {
    if (url) dropPgSchema(url);
  });
  it('db init creates the schema, user add stores the subscriber', async () => {
    requirePg();
    url = pgSchemaUrl('clidb');
    const before = await ksr(['user', 'list', '--db-url', url]);
    expect(before.code).toBe(1);
    expect(before.stderr).toContain("run 'ksr db init' first");
    const r = await ksr(['db', 'init', '--db-url', url]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('postgres://ksr:***@');
    expect((await ksr(['user', 'add', 'dave@example.net', 'pw', '--db-url', url])).code).toBe(0);
    expect((await ksr(['user', 'list', '--db-url', url])).stdout).toBe('dave@example.net\n');
    const db = openDb(url);
    expect(db.select('subscriber')[0]).toMatchObject({ username: 'dave', ha1: md5('dave:example.net:pw') });
    db.close();
  });
});
