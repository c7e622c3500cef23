import { describe, expect, it } from 'vitest';
import { createPvRegistry } from '@ksr/core';
import { authModule } from '../../src/auth/index.js';
import { computeHa1, computeResponse, digestEquals, hashHex, parseAlgorithm } from '../../src/auth/digest.js';
import { NonceCodec, MemoryNonceStateStore } from '../../src/auth/nonce.js';
import type { AuthApi } from '../../src/auth/api.js';
import { testModuleContext } from '../support/common.js';
import { FakeClock, answer, authContext, challengeParams, fakeSl, instantiate, invite, register, request, type Reply } from './support.js';

describe('digest computation: RFC test vectors', () => {
  it('RFC 2617 §3.5 (MD5, qop=auth)', () => {
    const ha1 = computeHa1('MD5', 'Mufasa', 'testrealm@host.com', 'Circle Of Life');
    const r = computeResponse({
      algorithm: 'MD5',
      ha1,
      method: 'GET',
      uri: '/dir/index.html',
      nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093',
      qop: 'auth',
      nc: '00000001',
      cnonce: '0a4f113b',
    });
    expect(r).toBe('6629fae49393a05397450978507c4ef1');
  });

  const rfc7616 = { method: 'GET', uri: '/dir/index.html', nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v', qop: 'auth', nc: '00000001', cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ' };
  it('RFC 7616 §3.9.1 MD5 and SHA-256', () => {
    const md5 = computeResponse({ ...rfc7616, algorithm: 'MD5', ha1: computeHa1('MD5', 'Mufasa', 'http-auth@example.org', 'Circle of Life') });
    expect(md5).toBe('8ca523f5e9506fed4657c9700eebdbec');
    const sha = computeResponse({ ...rfc7616, algorithm: 'SHA-256', ha1: computeHa1('SHA-256', 'Mufasa', 'http-auth@example.org', 'Circle of Life') });
    expect(sha).toBe('753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1');
  });

  it('RFC 7616 §3.9.2 SHA-512-256 (RFC 8760 algorithm; values as corrected by RFC errata 4897)', () => {
    const user = 'J\u00e4s\u00f8n Doe';
    // userhash = H(username:realm)
    expect(hashHex('SHA-512-256', `${user}:api@example.org`)).toBe('793263caabb707a56211940d90411ea4a575adeccb7e360aeb624ed06ece9b0b');
    const r = computeResponse({
      algorithm: 'SHA-512-256',
      ha1: computeHa1('SHA-512-256', user, 'api@example.org', 'Secret, or not?'),
      method: 'GET',
      uri: '/doe.json',
      nonce: '5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK',
      qop: 'auth',
      nc: '00000001',
      cnonce: 'NTg6RKcb9boFIAS3KrFK9BGeh+iDa/sm6jUMp2wds69v',
    });
    expect(r).toBe('3798d4131c277846293534c3edc11bd8a5e4cdcbff78b05db9d95eeb1cec68a5');
  });

  it('RFC 2069 (no qop), -sess and auth-int forms differ as specified', () => {
    const ha1 = computeHa1('MD5', 'a', 'r', 'p');
    const base = { ha1, method: 'INVITE', uri: 'sip:x', nonce: 'n' };
    expect(computeResponse({ ...base, algorithm: 'MD5' })).toBe(hashHex('MD5', `${ha1}:n:${hashHex('MD5', 'INVITE:sip:x')}`));
    const sessHa1 = hashHex('MD5', `${ha1}:n:c`);
    expect(computeResponse({ ...base, algorithm: 'MD5-sess', qop: 'auth', nc: '00000001', cnonce: 'c' })).toBe(
      hashHex('MD5', `${sessHa1}:n:00000001:c:auth:${hashHex('MD5', 'INVITE:sip:x')}`),
    );
    expect(computeResponse({ ...base, algorithm: 'MD5', qop: 'auth-int', nc: '00000001', cnonce: 'c', body: 'v=0' })).toBe(
      hashHex('MD5', `${ha1}:n:00000001:c:auth-int:${hashHex('MD5', `INVITE:sip:x:${hashHex('MD5', 'v=0')}`)}`),
    );
  });

  it('algorithm names and constant-time comparison', () => {
    expect(parseAlgorithm(undefined)).toBe('MD5');
    expect(parseAlgorithm('sha-256')).toBe('SHA-256');
    expect(parseAlgorithm('SHA-512')).toBe('SHA-512-256');
    expect(parseAlgorithm('SHA-1')).toBeUndefined();
    expect(digestEquals('ABCDEF', 'abcdef')).toBe(true);
    expect(digestEquals('abcdef', 'abcdee')).toBe(false);
    expect(digestEquals('abcdef', 'abcdef0')).toBe(false);
  });
});

describe('self-verifying nonces', () => {
  const fields = { uri: 'sip:ksr.test', callId: 'c1', fromTag: 'f1', srcIp: '192.0.2.10' };
  it('accepts its own nonce, rejects a tampered one (one character changed)', () => {
    const codec = new NonceCodec(Buffer.from('k'.repeat(32)));
    const n = codec.create(1_700_000_000_000, 300, 0, undefined);
    expect(codec.check(n, 1_700_000_010_000, 0, fields).ok).toBe(true);
    for (const i of [0, 5, 12, n.length - 1]) {
      const c = n[i] === 'A' ? 'B' : 'A';
      const bad = n.slice(0, i) + c + n.slice(i + 1);
      expect(codec.check(bad, 1_700_000_010_000, 0, fields)).toMatchObject({ ok: false, reason: 'invalid' });
    }
    expect(codec.check('', 1_700_000_010_000, 0, fields)).toMatchObject({ ok: false, reason: 'invalid' });
    expect(codec.check('!!!', 1_700_000_010_000, 0, fields)).toMatchObject({ ok: false, reason: 'invalid' });
    // another secret does not accept it
    expect(new NonceCodec(Buffer.from('x'.repeat(32))).check(n, 1_700_000_010_000, 0, fields)).toMatchObject({ ok: false, reason: 'invalid' });
  });

  it('expires after nonce_expire and refuses nonces from the future beyond the drift', () => {
    const codec = new NonceCodec(Buffer.from('k'.repeat(32)), 3);
    const t = 1_700_000_000_000;
    const n = codec.create(t, 300, 0, undefined);
    expect(codec.check(n, t + 299_000, 0, fields).ok).toBe(true);
    expect(codec.check(n, t + 300_000, 0, fields)).toMatchObject({ ok: false, reason: 'expired' });
    expect(codec.check(n, t - 10_000, 0, fields)).toMatchObject({ ok: false, reason: 'future' });
  });

  it('binds to Call-ID / From-tag / source IP / R-URI', () => {
    const codec = new NonceCodec(Buffer.from('k'.repeat(32)));
    const t = 1_700_000_000_000;
    const n = codec.create(t, 300, 15, fields);
    expect(codec.check(n, t, 15, fields).ok).toBe(true);
    expect(codec.check(n, t, 15, { ...fields, callId: 'other' })).toMatchObject({ ok: false, reason: 'binding' });
    expect(codec.check(n, t, 15, { ...fields, fromTag: 'x' })).toMatchObject({ ok: false, reason: 'binding' });
    expect(codec.check(n, t, 15, { ...fields, srcIp: '192.0.2.11' })).toMatchObject({ ok: false, reason: 'binding' });
    expect(codec.check(n, t, 15, { ...fields, uri: 'sip:x' })).toMatchObject({ ok: false, reason: 'binding' });
    // a nonce made with other checks is not accepted where checks are required
    expect(codec.check(codec.create(t, 300, 0, undefined), t, 2, fields)).toMatchObject({ ok: false, reason: 'binding' });
  });

  it('memory state store: nc and used nonces, bounded, pruned', () => {
    const s = new MemoryNonceStateStore(2);
    s.setNc('a', 1, 100);
    s.setNc('b', 1, 100);
    s.setNc('c', 1, 200);
    expect(s.lastNc('a')).toBeUndefined();
    expect(s.lastNc('c')).toBe(1);
    s.markUsed('u', 150);
    expect(s.isUsed('u')).toBe(true);
    s.prune(160);
    expect(s.isUsed('u')).toBe(false);
    expect(s.lastNc('b')).toBeUndefined();
    expect(s.lastNc('c')).toBe(1);
  });
});

async function setup(params: Record<string, string | number> = {}, clock = new FakeClock()) {
  const replies: Reply[] = [];
  const { ctx } = authContext(params, clock, replies);
  const m = await instantiate(authModule, ctx);
  return { ...m, replies, clock, api: m.instance.api as AuthApi, mctx: ctx };
}

/** Challenge a REGISTER and return the first challenge header value. */
function challenge(fn: (n: string) => (...a: unknown[]) => unknown, replies: Reply[], lines = register(), flags = 1): string {
  const c = request(lines);
  expect(fn('www_challenge')(c, 'ksr.test', flags)).toBe(1);
  const r = replies.at(-1)!;
  expect(r.code).toBe(401);
  return r.headers[0]![1];
}

describe('KSR.auth challenges and pv_* verification', () => {
  it('www_challenge: 401 with a digest challenge; the right password passes, a wrong one gives -2', async () => {
    const { fn, replies } = await setup();
    const ch = challenge(fn, replies);
    expect(replies[0]).toMatchObject({ code: 401, reason: 'Unauthorized' });
    expect(replies[0]!.headers[0]![0]).toBe('WWW-Authenticate');
    const p = challengeParams(ch);
    expect(p.get('realm')).toBe('ksr.test');
    expect(p.get('qop')).toBe('auth');
    expect(p.has('algorithm')).toBe(false); // MD5 by default, not named (as Kamailio)
    const ok = request(register([`Authorization: ${answer(ch)}`]));
    expect(fn('pv_www_authenticate')(ok, 'ksr.test', 'secret', 0)).toBe(1);
    const bad = request(register([`Authorization: ${answer(ch, { password: 'wrong', nc: 2 })}`]));
    expect(fn('pv_www_authenticate')(bad, 'ksr.test', 'secret', 0)).toBe(-2);
  });

  it('proxy_challenge / auth_challenge pick 407 for INVITE and 401 for REGISTER', async () => {
    const { fn, replies } = await setup();
    expect(fn('proxy_challenge')(request(invite()), 'ksr.test', 1)).toBe(1);
    expect(replies[0]).toMatchObject({ code: 407, reason: 'Proxy Authentication Required' });
    expect(replies[0]!.headers[0]![0]).toBe('Proxy-Authenticate');
    expect(fn('auth_challenge')(request(invite()), 'ksr.test', 1)).toBe(1);
    expect(replies[1]!.code).toBe(407);
    expect(fn('auth_challenge')(request(register()), 'ksr.test', 1)).toBe(1);
    expect(replies[2]!.code).toBe(401);
    const ch = replies[0]!.headers[0]![1];
    const inv = request(invite([`Proxy-Authorization: ${answer(ch, { method: 'INVITE', uri: 'sip:bob@ksr.test' })}`]));
    expect(fn('pv_proxy_authenticate')(inv, 'ksr.test', 'secret', 0)).toBe(1);
    // Authorization (www) credentials do not satisfy a proxy check
    const www = request(invite([`Authorization: ${answer(ch, { method: 'INVITE', uri: 'sip:bob@ksr.test' })}`]));
    expect(fn('pv_proxy_authenticate')(www, 'ksr.test', 'secret', 0)).toBe(-5);
  });

  it('no credentials for the realm: -5; has_credentials', async () => {
    const { fn, replies } = await setup();
    const ch = challenge(fn, replies);
    expect(fn('pv_www_authenticate')(request(register()), 'ksr.test', 'secret', 0)).toBe(-5);
    const other = request(register([`Authorization: ${answer(ch, { realm: 'other.test' })}`]));
    expect(fn('pv_www_authenticate')(other, 'ksr.test', 'secret', 0)).toBe(-5);
    expect(fn('has_credentials')(other, 'other.test')).toBe(1);
    expect(fn('has_credentials')(other, 'ksr.test')).toBe(-1);
  });

  it('the same challenge shape whoever asks (no user enumeration)', async () => {
    const { fn, replies } = await setup({ algorithm: 'SHA-256,MD5' });
    challenge(fn, replies, register([], { user: 'alice' }));
    challenge(fn, replies, register([], { user: 'nobody-here' }));
    const shape = (r: Reply) => r.headers.map(([n, v]) => [n, v.replace(/nonce="[^"]+"/, 'nonce=X')]);
    expect(shape(replies[0]!)).toEqual(shape(replies[1]!));
    expect(replies[0]!.code).toBe(replies[1]!.code);
  });

  it('nonce expiry (fake clock): -4, then the challenge says stale=true', async () => {
    const { fn, replies, clock } = await setup({ nonce_expire: 30 });
    const ch = challenge(fn, replies);
    clock.advance(31_000);
    const late = request(register([`Authorization: ${answer(ch)}`]));
    expect(fn('pv_www_authenticate')(late, 'ksr.test', 'secret', 0)).toBe(-4);
    expect(fn('www_challenge')(late, 'ksr.test', 1)).toBe(1);
    expect(challengeParams(replies.at(-1)!.headers[0]![1]).get('stale')).toBe('true');
    // a fresh request without credentials is not stale; flag 16 forces it
    fn('www_challenge')(request(register()), 'ksr.test', 1);
    expect(challengeParams(replies.at(-1)!.headers[0]![1]).has('stale')).toBe(false);
    fn('www_challenge')(request(register()), 'ksr.test', 17);
    expect(challengeParams(replies.at(-1)!.headers[0]![1]).get('stale')).toBe('true');
  });

  it('a tampered nonce (one character changed) is rejected with -1', async () => {
    const { fn, replies } = await setup();
    const ch = challenge(fn, replies);
    const nonce = challengeParams(ch).get('nonce')!;
    const bad = nonce.slice(0, 10) + (nonce[10] === 'A' ? 'B' : 'A') + nonce.slice(11);
    const c = request(register([`Authorization: ${answer(ch, { nonce: bad })}`]));
    expect(fn('pv_www_authenticate')(c, 'ksr.test', 'secret', 0)).toBe(-1);
  });

  it('nonce_count: the same nc twice is a replay (-6); a higher nc passes', async () => {
    const { fn, replies } = await setup({ nonce_count: 1 });
    const ch = challenge(fn, replies);
    const hdr = `Authorization: ${answer(ch, { nc: 1 })}`;
    expect(fn('pv_www_authenticate')(request(register([hdr])), 'ksr.test', 'secret', 0)).toBe(1);
    expect(fn('pv_www_authenticate')(request(register([hdr])), 'ksr.test', 'secret', 0)).toBe(-6);
    expect(fn('pv_www_authenticate')(request(register([`Authorization: ${answer(ch, { nc: 2 })}`])), 'ksr.test', 'secret', 0)).toBe(1);
    expect(fn('pv_www_authenticate')(request(register([`Authorization: ${answer(ch, { nc: 2 })}`])), 'ksr.test', 'secret', 0)).toBe(-6);
  });

  it('nonce_count: a wrong password consumes the nc unless flag 32', async () => {
    const { fn, replies } = await setup({ nonce_count: 1 });
    const ch = challenge(fn, replies);
    const wrong = request(register([`Authorization: ${answer(ch, { nc: 1, password: 'x' })}`]));
    expect(fn('pv_www_authenticate')(wrong, 'ksr.test', 'secret', 32)).toBe(-2);
    expect(fn('pv_www_authenticate')(request(register([`Authorization: ${answer(ch, { nc: 1 })}`])), 'ksr.test', 'secret', 0)).toBe(1);
    const wrong2 = request(register([`Authorization: ${answer(ch, { nc: 2, password: 'x' })}`]));
    expect(fn('pv_www_authenticate')(wrong2, 'ksr.test', 'secret', 0)).toBe(-2);
    expect(fn('pv_www_authenticate')(request(register([`Authorization: ${answer(ch, { nc: 2 })}`])), 'ksr.test', 'secret', 0)).toBe(-6);
  });

  it('one_time_nonce: a nonce authenticates once', async () => {
    const { fn, replies } = await setup({ one_time_nonce: 1 });
    const ch = challenge(fn, replies, register(), 0); // no qop: no nc
    const hdr = `Authorization: ${answer(ch)}`;
    expect(fn('pv_www_authenticate')(request(register([hdr])), 'ksr.test', 'secret', 0)).toBe(1);
    expect(fn('pv_www_authenticate')(request(register([hdr])), 'ksr.test', 'secret', 0)).toBe(-6);
  });

  it('auth_checks_register binds the nonce to the Call-ID: another Call-ID is rejected', async () => {
    const { fn, replies } = await setup({ auth_checks_register: 2 });
    const ch = challenge(fn, replies, register([], { callId: 'A@x' }));
    expect(fn('pv_www_authenticate')(request(register([`Authorization: ${answer(ch)}`], { callId: 'A@x' })), 'ksr.test', 'secret', 0)).toBe(1);
    expect(fn('pv_www_authenticate')(request(register([`Authorization: ${answer(ch)}`], { callId: 'B@x' })), 'ksr.test', 'secret', 0)).toBe(-1);
  });

  it('auth_checks source-IP binding: another source address is rejected', async () => {
    const { fn, replies } = await setup({ auth_checks_register: 8 });
    const c0 = request(register(), { src: '192.0.2.10' });
    fn('www_challenge')(c0, 'ksr.test', 1);
    const ch = replies[0]!.headers[0]![1];
    expect(fn('pv_www_authenticate')(request(register([`Authorization: ${answer(ch)}`]), { src: '192.0.2.10' }), 'ksr.test', 'secret', 0)).toBe(1);
    expect(fn('pv_www_authenticate')(request(register([`Authorization: ${answer(ch)}`]), { src: '192.0.2.99' }), 'ksr.test', 'secret', 0)).toBe(-1);
  });

  it('several algorithms: one challenge each, strongest first; each verifies; an unoffered algorithm is refused', async () => {
    const { fn, replies } = await setup({ algorithm: 'MD5,SHA-512-256,SHA-256' });
    challenge(fn, replies);
    const hs = replies[0]!.headers;
    expect(hs.map(([, v]) => challengeParams(v).get('algorithm'))).toEqual(['SHA-512-256', 'SHA-256', 'MD5']);
    expect(new Set(hs.map(([, v]) => challengeParams(v).get('nonce'))).size).toBe(1);
    for (const [, v] of hs) {
      expect(fn('pv_www_authenticate')(request(register([`Authorization: ${answer(v)}`])), 'ksr.test', 'secret', 0)).toBe(1);
    }
    const only = await setup({ algorithm: 'SHA-256' });
    const ch = challenge(only.fn, only.replies);
    expect(challengeParams(ch).get('algorithm')).toBe('SHA-256');
    // a downgrade to MD5 is not accepted when only SHA-256 is offered
    const md5 = request(register([`Authorization: ${answer(ch, { algorithm: 'MD5' })}`]));
    expect(only.fn('pv_www_authenticate')(md5, 'ksr.test', 'secret', 0)).toBe(-1);
  });

  it('auth_algorithm changes what is offered; unknown names fail', async () => {
    const { fn, replies } = await setup();
    expect(fn('auth_algorithm')(request(register()), 'SHA-256')).toBe(1);
    const ch = challenge(fn, replies);
    expect(challengeParams(ch).get('algorithm')).toBe('SHA-256');
    expect(fn('auth_algorithm')(request(register()), 'SHA-1')).toBe(-1);
    expect(fn('auth_algorithm')(request(register()), 'MD5,bogus')).toBe(-1);
  });

  it('flag 1: the password argument is HA1; a 64-digit HA1 serves SHA-256', async () => {
    const { fn, replies } = await setup({ algorithm: 'SHA-256,MD5' });
    challenge(fn, replies);
    const [sha, md5] = replies[0]!.headers.map(([, v]) => v);
    const md5Ha1 = computeHa1('MD5', 'alice', 'ksr.test', 'secret');
    const shaHa1 = computeHa1('SHA-256', 'alice', 'ksr.test', 'secret');
    expect(fn('pv_www_authenticate')(request(register([`Authorization: ${answer(md5!)}`])), 'ksr.test', md5Ha1, 1)).toBe(1);
    expect(fn('pv_www_authenticate')(request(register([`Authorization: ${answer(sha!)}`])), 'ksr.test', shaHa1, 1)).toBe(1);
    // an MD5 HA1 cannot verify SHA-256 credentials
    expect(fn('pv_www_authenticate')(request(register([`Authorization: ${answer(sha!, { nc: 3 })}`])), 'ksr.test', md5Ha1, 1)).toBe(-1);
  });

  it('pv_auth_check: checks=1 wants the To user for REGISTER (-8 otherwise)', async () => {
    const { fn, replies } = await setup();
    const ch = challenge(fn, replies);
    const asBob = request(register([`Authorization: ${answer(ch, { username: 'bob' })}`]));
    expect(fn('pv_auth_check')(asBob, 'ksr.test', 'secret', 0, 1)).toBe(-8);
    const asBob2 = request(register([`Authorization: ${answer(ch, { username: 'bob', nc: 2 })}`]));
    expect(fn('pv_auth_check')(asBob2, 'ksr.test', 'secret', 0, 0)).toBe(1);
    const asAlice = request(register([`Authorization: ${answer(ch, { nc: 3 })}`]));
    expect(fn('pv_auth_check')(asAlice, 'ksr.test', 'secret', 0, 1)).toBe(1);
  });

  it('pv_* flags 4: a failed check leaves the challenge in $avp(digest_challenge)', async () => {
    const { fn } = await setup();
    const c = request(register());
    expect(fn('pv_www_authenticate')(c, 'ksr.test', 'secret', 4)).toBe(-5);
    const v = c.state.avps.get('digest_challenge')?.[0];
    expect(String(v)).toMatch(/^WWW-Authenticate: Digest realm="ksr.test", nonce="[^"]+", qop="auth"\r\n$/);
  });

  it('consume_credentials removes the credentials that authorized the request', async () => {
    const { fn, replies } = await setup();
    const ch = challenge(fn, replies);
    const c = request(register([`Authorization: ${answer(ch)}`]));
    expect(fn('consume_credentials')(c)).toBe(-1);
    expect(fn('pv_www_authenticate')(c, 'ksr.test', 'secret', 0)).toBe(1);
    expect(fn('consume_credentials')(c)).toBe(1);
    expect(c.request!.serialize().toString()).not.toMatch(/Authorization/i);
  });

  it('a shared secret lets a second server accept the first one\'s nonce; a per-start random secret does not', async () => {
    const a = await setup({ secret: 'shared-secret-for-the-cluster' });
    const b = await setup({ secret: 'shared-secret-for-the-cluster' });
    const ch = challenge(a.fn, a.replies);
    expect(b.fn('pv_www_authenticate')(request(register([`Authorization: ${answer(ch)}`])), 'ksr.test', 'secret', 0)).toBe(1);
    const r1 = await setup();
    const r2 = await setup();
    const ch2 = challenge(r1.fn, r1.replies);
    expect(r2.fn('pv_www_authenticate')(request(register([`Authorization: ${answer(ch2)}`])), 'ksr.test', 'secret', 0)).toBe(-1);
  });

  it('auth_get_www_authenticate stores the header in a variable', async () => {
    const pv = createPvRegistry();
    const replies: Reply[] = [];
    const ctx = testModuleContext('auth', {}, { pv, apis: { sl: fakeSl(replies) } });
    const { fn } = await instantiate(authModule, ctx);
    const c = request(register());
    expect(fn('auth_get_www_authenticate')(c, 'ksr.test', 1, '$var(wauth)')).toBe(1);
    expect(String(c.services.vars.get('wauth'))).toMatch(/^WWW-Authenticate: Digest realm="ksr.test", nonce="/);
    expect(fn('auth_get_www_authenticate')(c, 'ksr.test', 1, '$ci')).toBe(-1);
    expect(fn('auth_get_www_authenticate')(c, 'ksr.test', 1, 'nope(')).toBe(-1);
    expect(replies).toHaveLength(0);
  });

  it('bad arguments never throw: empty realm, bad flags, replies, ACK, malformed credentials', async () => {
    const { fn, replies } = await setup();
    // empty realm: -1 and a 500 unless flag 4
    expect(fn('www_challenge')(request(register()), '', 1)).toBe(-1);
    expect(replies.at(-1)!.code).toBe(500);
    const n = replies.length;
    expect(fn('www_challenge')(request(register()), '', 5)).toBe(-1);
    expect(replies.length).toBe(n);
    expect(fn('www_challenge')(request(register()), 'a"b', 4)).toBe(-1);
    expect(fn('www_challenge')(request(register()), 'ksr.test', -1)).toBe(-1);
    expect(fn('pv_www_authenticate')(request(register()), 'ksr.test', 'x', 64)).toBe(-1);
    expect(fn('pv_www_authenticate')(request(register()), '', 'x', 0)).toBe(-1);
    const ack = request(['ACK sip:bob@ksr.test SIP/2.0', 'Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK1', 'From: <sip:a@x>;tag=1', 'To: <sip:b@x>;tag=2', 'Call-ID: c', 'CSeq: 1 ACK']);
    expect(fn('www_challenge')(ack, 'ksr.test', 4)).toBe(-1);
    const reply = request(['SIP/2.0 200 OK', 'Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK1', 'From: <sip:a@x>;tag=1', 'To: <sip:b@x>;tag=2', 'Call-ID: c', 'CSeq: 1 INVITE']);
    expect(fn('www_challenge')(reply, 'ksr.test', 4)).toBe(-1);
    expect(fn('pv_www_authenticate')(reply, 'ksr.test', 'x', 0)).toBe(-1);
    expect(fn('consume_credentials')(reply)).toBe(-1);
    expect(fn('has_credentials')(reply, 'ksr.test')).toBe(-1);
    for (const h of [
      'Authorization: Digest realm="ksr.test"',
      'Authorization: Digest realm="ksr.test", username="a", nonce="n", uri="sip:x", response="r", algorithm=SHA-1',
      'Authorization: Digest realm="ksr.test", username="a", nonce="n", uri="sip:x", response="r", qop=auth',
      'Authorization: Digest realm="ksr.test", username="a", nonce="n", uri="sip:x", response="r"',
    ]) {
      expect(fn('pv_www_authenticate')(request(register([h])), 'ksr.test', 'x', 0)).toBe(-1);
    }
  });

  it('counts statistics', async () => {
    const { fn, replies, mctx } = await setup();
    const ch = challenge(fn, replies);
    fn('pv_www_authenticate')(request(register([`Authorization: ${answer(ch)}`])), 'ksr.test', 'secret', 0);
    fn('pv_www_authenticate')(request(register([`Authorization: ${answer(ch, { password: 'no' })}`])), 'ksr.test', 'secret', 0);
    const s = mctx.stats.snapshot('auth');
    expect(s['auth:challenges']).toBe(1);
    expect(s['auth:success']).toBe(1);
    expect(s['auth:failure']).toBe(1);
  });

  it('add_authinfo_hdr: Authentication-Info with rspauth for the local reply', async () => {
    const { fn, replies } = await setup({ add_authinfo_hdr: 1 });
    const ch = challenge(fn, replies);
    const c = request(register([`Authorization: ${answer(ch)}`]));
    expect(fn('pv_www_authenticate')(c, 'ksr.test', 'secret', 0)).toBe(1);
    const ai = c.state.replyHeaders.find(([n]) => n === 'Authentication-Info');
    expect(ai?.[1]).toMatch(/nextnonce="[^"]+", qop=auth, rspauth="[0-9a-f]{32}", cnonce="c0ffee", nc=00000001/);
  });
});
