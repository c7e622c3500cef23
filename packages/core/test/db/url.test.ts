import { describe, expect, it } from 'vitest';
import { KsrError } from '../../src/errors.js';
import { maskDbUrl, parseDbUrl } from '../../src/db/url.js';

function err(fn: () => unknown): KsrError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(KsrError);
    return e as KsrError;
  }
  throw new Error('no error thrown');
}

describe('parseDbUrl', () => {
  it('sqlite absolute, relative and memory', () => {
    expect(parseDbUrl('sqlite:///var/lib/ksr/ksr.db')).toMatchObject({ kind: 'sqlite', path: '/var/lib/ksr/ksr.db' });
    expect(parseDbUrl('sqlite://data/ksr.db', '/srv')).toMatchObject({ kind: 'sqlite', path: '/srv/data/ksr.db' });
    expect(parseDbUrl('sqlite::memory:')).toMatchObject({ kind: 'sqlite', path: ':memory:' });
    expect(parseDbUrl('sqlite:///tmp/a%20b.db')).toMatchObject({ path: '/tmp/a b.db' });
  });
  it('postgres with defaults, port, schema and escapes', () => {
    expect(parseDbUrl('postgres://ksr:s3cr%40t@db.example.com/kamailio')).toEqual({
      kind: 'postgres',
      user: 'ksr',
      password: 's3cr@t',
      host: 'db.example.com',
      port: 5432,
      database: 'kamailio',
      schema: undefined,
      masked: 'postgres://ksr:***@db.example.com/kamailio',
    });
    expect(parseDbUrl('postgresql://u:p@127.0.0.1:6543/x?schema=t_1')).toMatchObject({ port: 6543, database: 'x', schema: 't_1' });
    expect(parseDbUrl('postgres://u@[::1]:5433/x')).toMatchObject({ host: '::1', port: 5433, password: '' });
  });
  it('bad urls are coded errors naming the url with the password masked', () => {
    const e = err(() => parseDbUrl('mysql://kamailio:kamailiorw@localhost/kamailio'));
    expect(e.code).toBe('KSR_ERR_DB_URL');
    expect(e.message).toContain('mysql://kamailio:***@localhost/kamailio');
    expect(e.message).not.toContain('kamailiorw');
    expect(e.message).toContain('unsupported database "mysql"');
    for (const u of ['', 'sqlite:', 'sqlite://', 'sqlite:///', 'sqlite:///tmp/', 'postgres://u:pw@host', 'postgres://u:pw@host:99999/db', 'postgres://u:pw@h/db?schema=a-b', 'postgres://u:pw@h/db?sslmode=x', 'just-a-path.db']) {
      const x = err(() => parseDbUrl(u));
      expect(x.code, u).toBe('KSR_ERR_DB_URL');
      expect(x.message).not.toContain(':pw@');
    }
  });
  it('maskDbUrl', () => {
    expect(maskDbUrl('postgres://a:b@c/d')).toBe('postgres://a:***@c/d');
    expect(maskDbUrl('postgres://a@c/d')).toBe('postgres://a@c/d');
    expect(maskDbUrl('sqlite:///x.db')).toBe('sqlite:///x.db');
  });
});
