import type { RouteContext, SipRequest, SipResponse } from '@ksr/core';
import { describe, expect, it } from 'vitest';
import { INVITE_LINES, makeContext, sipText, testServices, type TestServices } from '../../../core/test/support/context.js';
import { SANITY, SANITY_DEFAULT_CHECKS, digestProblem, sanityModule } from '../../src/sanity/index.js';
import { slModule, type SlApi } from '../../src/sl/index.js';
import { createModule } from '../sl/module-context.js';

/** INVITE_LINES with some lines replaced (by header name) or added. */
function invite(edit: Record<string, string | null> = {}, first?: string): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const l of INVITE_LINES) {
    const name = l.includes(':') && !l.startsWith('INVITE') ? l.slice(0, l.indexOf(':')) : '';
    if (name && name in edit) {
      seen.add(name);
      if (edit[name] !== null) out.push(`${name}: ${edit[name]}`);
    } else out.push(l);
  }
  for (const [k, v] of Object.entries(edit)) if (!seen.has(k) && v !== null) out.push(`${k}: ${v}`);
  if (first) out[0] = first;
  return out;
}

const REPLY_LINES = [
  'SIP/2.0 200 OK',
  'Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-ours',
  'Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-inv1',
  'From: <sip:alice@atlanta.test>;tag=a1',
  'To: <sip:bob@ksr.test>;tag=b1',
  'Call-ID: call-1@192.0.2.10',
  'CSeq: 10 INVITE',
];

const DIGEST_OK =
  'Digest username="alice", realm="ksr.test", nonce="abc123", uri="sip:bob@ksr.test", response="0123456789abcdef0123456789abcdef", algorithm=MD5';

/** Overwrite a parsed property, for checks the parser makes impossible to fail. */
function tamper<T extends SipRequest | SipResponse>(msg: T, prop: string, value: unknown): T {
  Object.defineProperty(msg, prop, { value, configurable: true });
  return msg;
}

async function setup(params: Record<string, string | number> = {}, withSl = true) {
  const sl = await createModule(slModule);
  const m = await createModule(sanityModule, { params, apis: withSl ? { sl: sl.api<SlApi>() } : {} });
  return { ...m, sl };
}

function run(m: Awaited<ReturnType<typeof setup>>, lines: string[] | Buffer, msgChecks: number, uriChecks = 7, services: TestServices = testServices()) {
  const ctx = makeContext(lines, { services });
  const rc = m.fn('sanity_check')(ctx, msgChecks, uriChecks) as number;
  return { rc, ctx, replies: services.replies };
}

/** Run one check on a context whose message was tampered with. */
function runCtx(m: Awaited<ReturnType<typeof setup>>, ctx: RouteContext, msgChecks: number, uriChecks = 7) {
  return m.fn('sanity_check')(ctx, msgChecks, uriChecks) as number;
}

describe('each check: a message that violates it, one that passes', () => {
  it('1 R-URI SIP version (505)', async () => {
    const m = await setup();
    expect(run(m, INVITE_LINES, SANITY.RURI_SIP_VERSION).rc).toBe(1);
    expect(run(m, invite({}, 'INVITE sip:bob@ksr.test sip/2.0'), SANITY.RURI_SIP_VERSION).rc).toBe(1);
    // the parser refuses other versions; tamper to see the check itself
    const services = testServices();
    const ctx = makeContext(INVITE_LINES, { services });
    tamper(ctx.msg, 'version', 'SIP/3.0');
    expect(runCtx(m, ctx, SANITY.RURI_SIP_VERSION)).toBe(0);
    expect(services.replies[0]).toMatchObject({ status: 505, reason: 'Version Not Supported (R-URI)' });
  });

  it('2 R-URI scheme (416)', async () => {
    const m = await setup();
    for (const ok of ['sip:bob@ksr.test', 'sips:bob@ksr.test', 'tel:+15551234']) {
      expect(run(m, invite({}, `INVITE ${ok} SIP/2.0`), SANITY.RURI_SCHEME).rc).toBe(1);
    }
    const bad = run(m, invite({}, 'INVITE http://example.com/x SIP/2.0'), SANITY.RURI_SCHEME);
    expect(bad.rc).toBe(0);
    expect(bad.replies[0]).toMatchObject({ status: 416, reason: 'Unsupported URI Scheme in Request URI' });
    // the current R-URI counts (after seturi)
    const ctx = makeContext(INVITE_LINES);
    ctx.request!.setRequestUri('urn:service:sos');
    expect(runCtx(m, ctx, SANITY.RURI_SCHEME)).toBe(0);
  });

  it('4 required headers (400)', async () => {
    const m = await setup();
    expect(run(m, INVITE_LINES, SANITY.REQUIRED_HEADERS).rc).toBe(1);
    const services = testServices();
    const ctx = makeContext(INVITE_LINES, { services });
    tamper(ctx.msg, 'headers', ctx.msg.headers.filter((h) => h.key !== 'call-id'));
    expect(runCtx(m, ctx, SANITY.REQUIRED_HEADERS)).toBe(0);
    expect(services.replies[0]).toMatchObject({ status: 400, reason: 'Missing Required Header in Request' });
  });

  it('8 and 16 (Via version and protocol) check nothing, as in Kamailio', async () => {
    const m = await setup();
    expect(run(m, INVITE_LINES, SANITY.VIA_SIP_VERSION | SANITY.VIA_PROTOCOL).rc).toBe(1);
  });

  it('32 CSeq method (400)', async () => {
    const m = await setup();
    expect(run(m, INVITE_LINES, SANITY.CSEQ_METHOD).rc).toBe(1);
    const bad = run(m, invite({ CSeq: '10 BYE' }), SANITY.CSEQ_METHOD);
    expect(bad.rc).toBe(0);
    expect(bad.replies[0]).toMatchObject({ status: 400, reason: 'CSeq method does not match request method' });
    expect(run(m, invite({ CSeq: '10 invite' }), SANITY.CSEQ_METHOD).rc).toBe(0);
  });

  it('64 CSeq value (400)', async () => {
    const m = await setup();
    expect(run(m, invite({ CSeq: '4294967295 INVITE' }), SANITY.CSEQ_VALUE).rc).toBe(1);
    const bad = run(m, invite({ CSeq: '00000000010 INVITE' }), SANITY.CSEQ_VALUE);
    expect(bad.rc).toBe(0);
    expect(bad.replies[0]).toMatchObject({ status: 400, reason: 'CSeq number is illegal' });
  });

  it('128 Content-Length (400)', async () => {
    const m = await setup();
    expect(run(m, sipText(INVITE_LINES, 'v=0\r\n'), SANITY.CONTENT_LENGTH).rc).toBe(1);
    // without Content-Length (UDP) the body is the rest of the datagram: nothing to compare
    expect(run(m, Buffer.from(`${INVITE_LINES.join('\r\n')}\r\n\r\nv=0\r\n`), SANITY.CONTENT_LENGTH).rc).toBe(1);
    // the parser cuts the body at Content-Length; tamper to see the check itself
    const services = testServices();
    const ctx = makeContext(sipText(INVITE_LINES, 'v=0\r\n'), { services });
    tamper(ctx.msg, 'contentLength', 99);
    expect(runCtx(m, ctx, SANITY.CONTENT_LENGTH)).toBe(0);
    expect(services.replies[0]).toMatchObject({ status: 400, reason: 'Content-Length mis-match' });
  });

  it('256 Expires value (400)', async () => {
    const m = await setup();
    expect(run(m, INVITE_LINES, SANITY.EXPIRES_VALUE).rc).toBe(1);
    expect(run(m, invite({ Expires: '3600' }), SANITY.EXPIRES_VALUE).rc).toBe(1);
    for (const bad of ['soon', '-1', '4294967296', 'Thu, 01 Dec 2044 16:00:00 GMT', '1.5']) {
      const r = run(m, invite({ Expires: bad }), SANITY.EXPIRES_VALUE);
      expect(r.rc, bad).toBe(0);
      expect(r.replies[0]).toMatchObject({ status: 400, reason: 'Expires value is illegal' });
    }
  });

  it('512 Proxy-Require (420 with Unsupported)', async () => {
    const m = await setup({ proxy_require: 'foo, Bar ' });
    expect(run(m, INVITE_LINES, SANITY.PROXY_REQUIRE).rc).toBe(1);
    expect(run(m, invite({ 'Proxy-Require': 'foo, bar' }), SANITY.PROXY_REQUIRE).rc).toBe(1);
    const bad = run(m, invite({ 'Proxy-Require': 'foo, sec-agree, 100rel' }), SANITY.PROXY_REQUIRE);
    expect(bad.rc).toBe(0);
    expect(bad.replies[0]).toMatchObject({ status: 420, reason: 'Bad Extension', extra: { headers: [['Unsupported', 'sec-agree, 100rel']] } });
    // without the modparam every extension is unsupported
    const none = await setup();
    expect(run(none, invite({ 'Proxy-Require': 'foo' }), SANITY.PROXY_REQUIRE).replies[0]?.status).toBe(420);
  });

  it('1024 parse URIs, as uri_checks selects (400)', async () => {
    const m = await setup();
    const P = SANITY.PARSE_URIS;
    expect(run(m, INVITE_LINES, P, 15).rc).toBe(1);
    expect(run(m, invite({ From: '<tel:+15551234>;tag=a1', To: '<sips:bob@ksr.test>' }, 'INVITE tel:+15551234 SIP/2.0'), P, 15).rc).toBe(1);
    const cases: Array<[string[], number, string]> = [
      [invite({}, 'INVITE http://example.com/x SIP/2.0'), 1, 'Bad Request URI'],
      [invite({ From: '<mailto:alice@atlanta.test>;tag=a1' }), 2, 'Bad From URI'],
      [invite({ To: '<urn:service:sos>' }), 4, 'Bad To URI'],
      [invite({ Contact: '<http://example.com/me>' }), 8, 'Bad Contact URI'],
    ];
    for (const [lines, bit, reason] of cases) {
      const r = run(m, lines, P, bit);
      expect(r.rc, reason).toBe(0);
      expect(r.replies[0]).toMatchObject({ status: 400, reason });
      // the same message passes when its URI is not selected
      expect(run(m, lines, P, 15 & ~bit).rc, reason).toBe(1);
    }
    expect(run(m, invite({ Contact: '*', Expires: '0' }), P, 8).rc).toBe(1);
  });

  it('2048 digest credentials (400)', async () => {
    const m = await setup();
    const D = SANITY.DIGEST;
    expect(run(m, INVITE_LINES, D).rc).toBe(1);
    expect(run(m, invite({ Authorization: DIGEST_OK }), D).rc).toBe(1);
    expect(run(m, invite({ 'Proxy-Authorization': `${DIGEST_OK}, qop=auth, nc=00000001, cnonce="xyz"` }), D).rc).toBe(1);
    const bads = [
      'Basic YWxpY2U6c2VjcmV0',
      'Digest username="alice", realm="ksr.test", nonce="abc123", uri="sip:bob@ksr.test"',
      'Digest username="", realm="ksr.test", nonce="abc123", uri="sip:bob@ksr.test", response="0123456789abcdef0123456789abcdef"',
      `${DIGEST_OK.replace('0123456789abcdef0123456789abcdef', 'nothex')}`,
      `${DIGEST_OK}, qop=auth, cnonce="xyz"`,
      'Digest username="alice" realm="broken"',
    ];
    for (const v of bads) {
      const r = run(m, invite({ 'Proxy-Authorization': v }), D);
      expect(r.rc, v).toBe(0);
      expect(r.replies[0]).toMatchObject({ status: 400, reason: 'Bad Credentials' });
    }
    // ACK and CANCEL carry no credentials of their own
    const cancel = invite({ CSeq: '10 CANCEL', Authorization: 'Basic xyz' }, 'CANCEL sip:bob@ksr.test SIP/2.0');
    expect(run(m, cancel, D).rc).toBe(1);
  });

  it('4096 duplicate To/From tags (400)', async () => {
    const m = await setup();
    const T = SANITY.DUPLICATE_TAGS;
    expect(run(m, INVITE_LINES, T).rc).toBe(1);
    expect(run(m, invite({ From: '"A;tag=x" <sip:alice@atlanta.test;tag=uriparam>;tag=a1' }), T).rc).toBe(1);
    const from = run(m, invite({ From: '<sip:alice@atlanta.test>;tag=a1;TAG=a2' }), T);
    expect(from.rc).toBe(0);
    expect(from.replies[0]).toMatchObject({ status: 400, reason: 'Duplicate From tag' });
    const to = run(m, invite({ To: 'sip:bob@ksr.test;tag=b1;tag=b2' }), T);
    expect(to.replies[0]).toMatchObject({ status: 400, reason: 'Duplicate To tag' });
  });

  it('8192 Authorization header (400): Digest must be complete, other schemes pass', async () => {
    const m = await setup();
    const A = SANITY.AUTHORIZATION;
    expect(run(m, invite({ Authorization: 'Basic YWxpY2U6c2VjcmV0' }), A).rc).toBe(1);
    expect(run(m, invite({ Authorization: DIGEST_OK }), A).rc).toBe(1);
    // Proxy-Authorization is not this check's business
    expect(run(m, invite({ 'Proxy-Authorization': 'Digest username="x"' }), A).rc).toBe(1);
    const bad = run(m, invite({ Authorization: 'Digest username="alice", realm="ksr.test"' }), A);
    expect(bad.rc).toBe(0);
    expect(bad.replies[0]).toMatchObject({ status: 400, reason: 'Bad Authorization Header' });
  });

  it('16384 first Via (400)', async () => {
    const m = await setup();
    expect(run(m, INVITE_LINES, SANITY.VIA1_HEADER).rc).toBe(1);
    const services = testServices();
    const ctx = makeContext(INVITE_LINES, { services });
    tamper(ctx.msg, 'via', []);
    expect(runCtx(m, ctx, SANITY.VIA1_HEADER)).toBe(0);
    expect(services.replies[0]).toMatchObject({ status: 400, reason: 'Missing or Bad Via Header' });
  });

  it('stops at the first failing check, in bit order', async () => {
    const m = await setup();
    const r = run(m, invite({ CSeq: '10 BYE', Expires: 'x' }), 32767, 15);
    expect(r.replies).toHaveLength(1);
    expect(r.replies[0]!.reason).toBe('CSeq method does not match request method');
  });

  it('digestProblem explains', () => {
    expect(digestProblem(DIGEST_OK)).toBeUndefined();
    expect(digestProblem('Basic x')).toMatch(/not Digest/);
    expect(digestProblem('Digest realm="r"')).toMatch(/username/);
  });
});

describe('replies, autodrop and noreply', () => {
  it('replies through sl (its To-tag, its statistics) and records the last error', async () => {
    const m = await setup();
    const services = testServices();
    const { rc, ctx } = run(m, invite({ CSeq: '10 BYE' }), SANITY_DEFAULT_CHECKS, 7, services);
    expect(rc).toBe(0);
    expect(ctx.replied).toBe(true);
    expect(services.replies).toHaveLength(1);
    expect((services.replies[0]!.extra as { toTag?: string }).toTag).toBe(m.sl.api<SlApi>().toTag(ctx.request!));
    expect(m.sl.stats.snapshot('sl')['sl:400_replies']).toBe(1);
    expect(ctx.state.lastError).toEqual({ code: 400, reason: 'CSeq method does not match request method' });
  });

  it('replies through the core when sl is not loaded', async () => {
    const m = await setup({}, false);
    const services = testServices();
    const { rc, ctx } = run(m, invite({ Expires: 'never' }), SANITY.EXPIRES_VALUE, 7, services);
    expect(rc).toBe(0);
    expect(ctx.replied).toBe(true);
    expect(services.replies).toEqual([{ status: 400, reason: 'Expires value is illegal' }]);
  });

  it('autodrop=0 returns -1 (and still replies)', async () => {
    const m = await setup({ autodrop: 0 });
    const r = run(m, invite({ Expires: 'never' }), SANITY.EXPIRES_VALUE);
    expect(r.rc).toBe(-1);
    expect(r.replies).toHaveLength(1);
    expect(run(m, INVITE_LINES, SANITY.EXPIRES_VALUE).rc).toBe(1);
  });

  it('noreply=1 leaves the reply to sanity_reply()', async () => {
    const m = await setup({ noreply: 1 });
    const services = testServices();
    const ctx = makeContext(invite({ 'Proxy-Require': 'x-ext' }), { services });
    expect(m.fn('sanity_check')(ctx, SANITY.PROXY_REQUIRE, 7)).toBe(0);
    expect(services.replies).toHaveLength(0);
    expect(ctx.replied).toBe(false);
    expect(ctx.state.lastError).toEqual({ code: 420, reason: 'Bad Extension' });
    expect(m.fn('sanity_reply')(ctx)).toBe(1);
    expect(services.replies).toEqual([expect.objectContaining({ status: 420, reason: 'Bad Extension', extra: expect.objectContaining({ headers: [['Unsupported', 'x-ext']] }) })]);
    // once
    expect(m.fn('sanity_reply')(ctx)).toBe(-1);
    // nothing failed: nothing to send
    expect(m.fn('sanity_reply')(makeContext(INVITE_LINES, { services }))).toBe(-1);
    expect(services.replies).toHaveLength(1);
  });

  it('sanity_reply with noreply=0 has nothing left to do (1)', async () => {
    const m = await setup();
    expect(m.fn('sanity_reply')(makeContext(INVITE_LINES))).toBe(1);
  });

  it('never replies to an ACK or to a reply', async () => {
    const m = await setup();
    const services = testServices();
    const ack = invite({ CSeq: '10 INVITE' }, 'ACK sip:bob@ksr.test SIP/2.0');
    expect(run(m, ack, SANITY.CSEQ_METHOD, 7, services).rc).toBe(0);
    const badReply = REPLY_LINES.map((l) => (l.startsWith('To:') ? 'To: <sip:bob@ksr.test>;tag=b1;tag=b2' : l));
    expect(run(m, badReply, 17604 | SANITY.DUPLICATE_TAGS, 6, services).rc).toBe(0);
    expect(services.replies).toHaveLength(0);
  });

  it('checks replies with the request-only checks skipped (17604, 6 as the examples do)', async () => {
    const m = await setup();
    expect(run(m, REPLY_LINES, 17604, 6).rc).toBe(1);
    expect(run(m, REPLY_LINES, 32767, 15).rc).toBe(1);
    const badFrom = REPLY_LINES.map((l) => (l.startsWith('From:') ? 'From: <mailto:alice@atlanta.test>;tag=a1' : l));
    expect(run(m, badFrom, 17604, 6).rc).toBe(0);
  });
});

describe('sanity_check_defaults, arguments, parameters', () => {
  it('sanity_check_defaults uses default_checks and uri_checks', async () => {
    const m = await setup();
    const dup = invite({ From: '<sip:alice@atlanta.test>;tag=a1;tag=a2' });
    const ctx = makeContext(dup);
    expect(m.fn('sanity_check_defaults')(ctx)).toBe(1); // 3047 has no 4096
    const strict = await setup({ default_checks: SANITY.DUPLICATE_TAGS });
    expect(strict.fn('sanity_check_defaults')(makeContext(dup))).toBe(0);
    const uris = await setup({ default_checks: SANITY.PARSE_URIS, uri_checks: 8 });
    expect(uris.fn('sanity_check_defaults')(makeContext(invite({ From: '<mailto:a@b>;tag=1' })))).toBe(1);
    expect(uris.fn('sanity_check_defaults')(makeContext(invite({ Contact: '<mailto:a@b>' })))).toBe(0);
  });

  it('refuses out-of-range arguments with -1 and no reply', async () => {
    const m = await setup();
    const services = testServices();
    const ctx = makeContext(invite({ CSeq: '10 BYE' }), { services });
    for (const [a, b] of [
      [-1, 7],
      [32768, 7],
      [1.5, 7],
      [32, -1],
      [32, 16],
    ] as const) {
      expect(m.fn('sanity_check')(ctx, a, b)).toBe(-1);
    }
    expect(services.replies).toHaveLength(0);
    expect(m.fn('sanity_check')(ctx, 0, 0)).toBe(1);
  });

  it('refuses bad module parameters', async () => {
    await expect(createModule(sanityModule, { params: { default_checks: 40000 } })).rejects.toThrow(/0..32767/);
    await expect(createModule(sanityModule, { params: { uri_checks: 16 } })).rejects.toThrow(/0..15/);
    await expect(createModule(sanityModule, { params: { autodrop: 2 } })).rejects.toThrow(/0..1/);
  });

  it('exports the KEMI signatures', async () => {
    const m = await setup();
    expect((m.instance.exports ?? []).map((e) => `${e.name}:${e.returns}(${e.params.join(',')})`)).toEqual([
      'sanity_check:int(int,int)',
      'sanity_check_defaults:int()',
      'sanity_reply:int()',
    ]);
  });
});
