import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDb, type Db } from '@ksr/core';
import { authModule } from '../../src/auth/index.js';
import { authDbModule, parseLoadCredentials } from '../../src/auth_db/index.js';
import { computeHa1 } from '../../src/auth/digest.js';
import { testModuleContext } from '../support/common.js';
import { FakeClock, answer, challengeParams, fakeSl, instantiate, invite, register, request, type Reply } from '../auth/support.js';

let dir: string;
let url: string;
let db: Db;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ksr-authdb-'));
  url = `sqlite://${join(dir, 'subs.db')}`;
  db = openDb(url); // creates Kamailio's schema
  const row = (username: string, domain: string, password: string, extra: Record<string, string> = {}) => ({
    username,
    domain,
    password,
    ha1: computeHa1('MD5', username, domain, password),
    ha1b: computeHa1('MD5', `${username}@${domain}`, domain, password),
    ...extra,
  });
  db.insert('subscriber', row('alice', 'ksr.test', 'secret'));
  db.insert('subscriber', row('bob', 'ksr.test', 'bobpw'));
  db.insert('subscriber', row('alice', 'other.test', 'otherpw'));
});
afterAll(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

async function setup(params: Record<string, string | number> = {}, authParams: Record<string, string | number> = {}) {
  const replies: Reply[] = [];
  const clock = new FakeClock();
  const actx = testModuleContext('auth', authParams, { clock, apis: { sl: fakeSl(replies) } });
  const auth = await instantiate(authModule, actx);
  const ctx = testModuleContext('auth_db', { db_url: url, ...params }, { clock, apis: { auth: auth.instance.api }, declared: ['auth'] });
  const m = await instantiate(authDbModule, ctx);
  const ch = (lines = register()): string => {
    auth.fn('auth_challenge')(request(lines), 'ksr.test', 1);
    return replies.at(-1)!.headers[0]![1];
  };
  return { ...m, auth, replies, ch };
}

describe('auth_db against a SQLite subscriber table', () => {
  it('www_authenticate with stored HA1 (default password_column ha1)', async () => {
    const { fn, ch, instance } = await setup();
    const c = ch();
    expect(fn('www_authenticate')(request(register([`Authorization: ${answer(c)}`])), 'ksr.test', 'subscriber')).toBe(1);
    expect(fn('www_authenticate')(request(register([`Authorization: ${answer(c, { password: 'bad', nc: 2 })}`])), 'ksr.test', 'subscriber')).toBe(-2);
    await instance.destroy?.();
  });

  it('unknown user: -3, and the challenge is the same as for a known user', async () => {
    const { fn, ch, replies } = await setup();
    const c1 = ch(register([], { user: 'nobody' }));
    expect(fn('www_authenticate')(request(register([`Authorization: ${answer(c1, { username: 'nobody' })}`], { user: 'nobody' })), 'ksr.test', 'subscriber')).toBe(-3);
    const c2 = ch(register([], { user: 'alice' }));
    const strip = (v: string) => v.replace(/nonce="[^"]+"/, '');
    expect(strip(c1)).toBe(strip(c2));
    expect(replies[0]!.code).toBe(replies[1]!.code);
  });

  it('calculate_ha1=1 uses the plain password column', async () => {
    const { fn, ch } = await setup({ calculate_ha1: 1, password_column: 'password' });
    const c = ch();
    expect(fn('www_authenticate')(request(register([`Authorization: ${answer(c)}`])), 'ksr.test', 'subscriber')).toBe(1);
  });

  it('calculate_ha1=1 with SHA-256 and SHA-512-256 challenges', async () => {
    const s = await setup({ calculate_ha1: 1, password_column: 'password' }, { algorithm: 'SHA-512-256,SHA-256' });
    s.auth.fn('auth_challenge')(request(register()), 'ksr.test', 1);
    expect(s.replies[0]!.headers).toHaveLength(2);
    for (const [, v] of s.replies[0]!.headers) {
      expect(s.fn('www_authenticate')(request(register([`Authorization: ${answer(v)}`])), 'ksr.test', 'subscriber')).toBe(1);
    }
  });

  it('a username with @domain uses password_column_2 (ha1b)', async () => {
    const { fn, ch } = await setup();
    const c = ch();
    const hdr = `Authorization: ${answer(c, { username: 'alice@ksr.test' })}`;
    expect(fn('www_authenticate')(request(register([hdr])), 'ksr.test', 'subscriber')).toBe(1);
  });

  it('use_domain=1 looks up user and domain', async () => {
    const { fn, auth, replies } = await setup({ use_domain: 1 });
    auth.fn('auth_challenge')(request(register([], { domain: 'other.test' })), 'other.test', 1);
    const c = replies.at(-1)!.headers[0]![1];
    const ok = request(register([`Authorization: ${answer(c, { password: 'otherpw', uri: 'sip:other.test' })}`], { domain: 'other.test' }));
    expect(fn('www_authenticate')(ok, 'other.test', 'subscriber')).toBe(1);
    const wrong = request(register([`Authorization: ${answer(c, { password: 'secret', nc: 2, uri: 'sip:other.test' })}`], { domain: 'other.test' }));
    expect(fn('www_authenticate')(wrong, 'other.test', 'subscriber')).toBe(-2);
  });

  it('auth_check: proxy for INVITE, identity check (flags 1) and its INVITE exemption (flags 3)', async () => {
    const { fn, ch } = await setup();
    const c = ch(invite());
    expect(challengeParams(c).get('realm')).toBe('ksr.test');
    const creds = (nc: number, username = 'alice') => `Proxy-Authorization: ${answer(c, { method: 'INVITE', uri: 'sip:bob@ksr.test', nc, username, password: username === 'bob' ? 'bobpw' : 'secret' })}`;
    expect(fn('auth_check')(request(invite([creds(1)])), 'ksr.test', 'subscriber', 1)).toBe(1);
    // bob's valid credentials on a request From alice
    expect(fn('auth_check')(request(invite([creds(2, 'bob')])), 'ksr.test', 'subscriber', 1)).toBe(-8);
    expect(fn('auth_check')(request(invite([creds(3, 'bob')])), 'ksr.test', 'subscriber', 3)).toBe(1);
    expect(fn('auth_check')(request(invite([creds(4, 'bob')])), 'ksr.test', 'subscriber', 0)).toBe(1);
  });

  it('load_credentials puts columns into AVPs after success', async () => {
    expect(parseLoadCredentials('$avp(pw)=password;domain')).toEqual([
      { avp: 'pw', column: 'password' },
      { avp: 'domain', column: 'domain' },
    ]);
    expect(parseLoadCredentials('$var(x)=password')).toBeUndefined();
    const { fn, ch } = await setup({ load_credentials: '$avp(pw)=password;domain' });
    const c = ch();
    const ctx = request(register([`Authorization: ${answer(c)}`]));
    expect(fn('www_authenticate')(ctx, 'ksr.test', 'subscriber')).toBe(1);
    expect(ctx.state.avps.get('pw')).toEqual(['secret']);
    expect(ctx.state.avps.get('domain')).toEqual(['ksr.test']);
    const failed = request(register([`Authorization: ${answer(c, { password: 'no', nc: 2 })}`]));
    expect(fn('www_authenticate')(failed, 'ksr.test', 'subscriber')).toBe(-2);
    expect(failed.state.avps.get('pw')).toBeUndefined();
  });

  it('is_subscriber', async () => {
    const { fn } = await setup({ load_credentials: '$avp(pw)=password' });
    const c = request(invite());
    expect(fn('is_subscriber')(c, 'sip:bob@ksr.test', 'subscriber', 1)).toBe(1);
    expect(c.state.avps.get('pw')).toEqual(['bobpw']);
    expect(fn('is_subscriber')(c, 'sip:bob@other.test', 'subscriber', 1)).toBe(-1);
    expect(fn('is_subscriber')(c, 'sip:bob@other.test', 'subscriber', 0)).toBe(1);
    const c2 = request(invite());
    expect(fn('is_subscriber')(c2, 'sip:bob@ksr.test', 'subscriber', 3)).toBe(1);
    expect(c2.state.avps.get('pw')).toBeUndefined();
    expect(fn('is_subscriber')(c, 'not a uri', 'subscriber', 0)).toBe(-1);
    expect(fn('is_subscriber')(c, 'sip:ksr.test', 'subscriber', 0)).toBe(-1);
  });

  it('bad arguments and a database that cannot be opened never throw', async () => {
    const { fn, ch } = await setup();
    const c = ch();
    const hdr = `Authorization: ${answer(c)}`;
    expect(fn('www_authenticate')(request(register([hdr])), 'ksr.test', 'sub; DROP TABLE x')).toBe(-1);
    expect(fn('www_authenticate')(request(register([hdr])), 'ksr.test', 'no_such_table')).toBe(-1);
    expect(fn('www_authenticate')(request(register([hdr])), '', 'subscriber')).toBe(-1);
    expect(fn('auth_check')(request(register([hdr])), 'ksr.test', 'subscriber', 9)).toBe(-1);
    expect(fn('is_subscriber')(request(register()), 'sip:a@b', 'subscriber', -1)).toBe(-1);
    const broken = await setup({ db_url: 'postgres://nobody:x@127.0.0.1:1/none' });
    const c2 = broken.ch();
    expect(broken.fn('www_authenticate')(request(register([`Authorization: ${answer(c2)}`])), 'ksr.test', 'subscriber')).toBe(-1);
    const badUrl = await setup({ db_url: 'mysql://x' });
    const c3 = badUrl.ch();
    expect(badUrl.fn('www_authenticate')(request(register([`Authorization: ${answer(c3)}`])), 'ksr.test', 'subscriber')).toBe(-1);
  });
});
