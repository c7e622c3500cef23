import { MessageState, parseMessage, sip, type RouteContext, type SipRequest, type SipResponse } from '@ksr/core';
import { describe, expect, it } from 'vitest';
import { INVITE_LINES, makeContext, sipText, testServices, type TestServices } from '../../../core/test/support/context.js';
import { slModule, type SlApi } from '../../src/sl/index.js';
import { createModule, testConfig } from './module-context.js';

const OPTIONS_LINES = [
  'OPTIONS sip:ksr.test SIP/2.0',
  'Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-opt1;rport',
  'Max-Forwards: 70',
  'From: <sip:probe@atlanta.test>;tag=f1',
  'To: <sip:ksr.test>',
  'Call-ID: opt-1@192.0.2.10',
  'CSeq: 1 OPTIONS',
];

/** Services whose reply() builds the real reply (buildReply) and keeps it. */
function buildingServices(): TestServices & { built: SipResponse[] } {
  const s = testServices();
  const built: SipResponse[] = [];
  return Object.assign(s, {
    built,
    reply: async (ctx: RouteContext, status: number, reason: string, extra?: Parameters<TestServices['reply']>[3]) => {
      s.replies.push({ status, reason, ...(extra ? { extra } : {}) });
      built.push(sip.buildReply(ctx.request!, status, reason, extra));
      return true;
    },
  });
}

async function setup(params: Record<string, string | number> = {}, apis: Record<string, unknown> = {}) {
  const m = await createModule(slModule, { params, apis });
  return { ...m, sl: m.api<SlApi>() };
}

function stat(m: { stats: { snapshot(g?: string): Record<string, number> } }, name: string): number {
  return m.stats.snapshot('sl')[`sl:${name}`] ?? 0;
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('sl_send_reply', () => {
  it('replies with the code and reason, a To-tag of sl, and marks the request replied', async () => {
    const m = await setup();
    const services = buildingServices();
    const ctx = makeContext(OPTIONS_LINES, { services });
    expect(m.fn('sl_send_reply')(ctx, 200, 'OK')).toBe(1);
    expect(ctx.replied).toBe(true);
    expect(services.replies).toHaveLength(1);
    const res = services.built[0]!;
    expect(res.status).toBe(200);
    expect(res.reason).toBe('OK');
    expect(res.to.tag).toBe(m.sl.toTag(ctx.request!));
    expect(stat(m, '200_replies')).toBe(1);
    expect(stat(m, 'sent_replies')).toBe(1);
  });

  it('gives a retransmission the same To-tag, and another request another one', async () => {
    const m = await setup();
    const first = makeContext(INVITE_LINES);
    const retrans = makeContext(INVITE_LINES);
    expect(first.msg).not.toBe(retrans.msg);
    const t1 = m.sl.toTag(first.request!);
    expect(m.sl.toTag(retrans.request!)).toBe(t1);
    expect(t1).toMatch(/^[0-9a-f]{8}-[0-9a-f]{16}$/);
    const otherBranch = makeContext(INVITE_LINES.map((l) => l.replace('z9hG4bK-inv1', 'z9hG4bK-inv2')));
    const otherCall = makeContext(INVITE_LINES.map((l) => l.replace('call-1@', 'call-2@')));
    const otherFrom = makeContext(INVITE_LINES.map((l) => l.replace('tag=a1', 'tag=a2')));
    for (const c of [otherBranch, otherCall, otherFrom]) expect(m.sl.toTag(c.request!)).not.toBe(t1);
    // both replies carry it on the wire
    const services = buildingServices();
    m.fn('sl_send_reply')(makeContext(INVITE_LINES, { services }), 404, 'Not Here');
    m.fn('sl_send_reply')(makeContext(INVITE_LINES, { services }), 404, 'Not Here');
    expect(services.built.map((r) => r.to.tag)).toEqual([t1, t1]);
  });

  it('derives RFC 2543 tags (no magic cookie) from the CSeq number and the top Via', async () => {
    const m = await setup();
    const lines = INVITE_LINES.map((l) => (l.startsWith('Via:') ? 'Via: SIP/2.0/UDP 192.0.2.10:5070' : l));
    const a = m.sl.toTag(makeContext(lines).request!);
    expect(m.sl.toTag(makeContext(lines).request!)).toBe(a);
    expect(m.sl.toTag(makeContext(lines.map((l) => l.replace('CSeq: 10', 'CSeq: 11'))).request!)).not.toBe(a);
  });

  it('keeps a To-tag the request already has, and adds none to 100', async () => {
    const m = await setup();
    const services = buildingServices();
    const withTag = INVITE_LINES.map((l) => (l.startsWith('To:') ? 'To: <sip:bob@ksr.test>;tag=existing' : l));
    m.fn('sl_send_reply')(makeContext(withTag, { services }), 488, 'Not Acceptable Here');
    m.fn('sl_send_reply')(makeContext(INVITE_LINES, { services }), 100, 'Trying');
    expect(services.built[0]!.to.tag).toBe('existing');
    expect(services.built[1]!.to.tag).toBeUndefined();
  });

  it('uses a signature that depends on the listen sockets (stable for one config)', async () => {
    const a = await setup();
    const b = await createModule(slModule, { config: testConfig({ listen: [{ proto: 'udp', host: '127.0.0.1', port: 5060 } as never] }) });
    const req = makeContext(INVITE_LINES).request!;
    const again = await setup();
    expect(again.sl.toTag(req)).toBe(a.sl.toTag(req));
    expect(b.api<SlApi>().toTag(req).slice(0, 8)).not.toBe(a.sl.toTag(req).slice(0, 8));
  });

  it('puts the destination set in 3xx replies as Contacts', async () => {
    const m = await setup();
    const services = buildingServices();
    const ctx = makeContext(INVITE_LINES, { services });
    ctx.request!.setRequestUri('sip:bob@192.0.2.50');
    ctx.state.branches.push({ uri: 'sip:bob@192.0.2.51', q: 500, flags: 0 }, { uri: 'sip:bob@192.0.2.52', q: -1, flags: 0 });
    expect(m.fn('sl_send_reply')(ctx, 302, 'Moved Temporarily')).toBe(1);
    expect(services.built[0]!.headerValues('contact')).toEqual(['<sip:bob@192.0.2.50>', '<sip:bob@192.0.2.51>;q=0.5', '<sip:bob@192.0.2.52>']);
    // not for other classes
    m.fn('sl_send_reply')(makeContext(INVITE_LINES, { services, state: ctx.state }), 404, 'Not Found');
    expect(services.built[1]!.hasHeader('contact')).toBe(false);
  });

  it('refuses bad codes, bad reasons, replies and ACKs (-1, nothing sent)', async () => {
    const m = await setup();
    const services = testServices();
    const send = m.fn('sl_send_reply');
    const ctx = makeContext(INVITE_LINES, { services });
    expect(send(ctx, 99, 'Low')).toBe(-1);
    expect(send(ctx, 700, 'High')).toBe(-1);
    expect(send(ctx, 200.5, 'Fraction')).toBe(-1);
    expect(send(ctx, 200, 'OK\r\nX-Injected: 1')).toBe(-1);
    const reply = makeContext(sipText(['SIP/2.0 200 OK', 'Via: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK-r', 'From: <sip:a@x>;tag=1', 'To: <sip:b@y>;tag=2', 'Call-ID: r', 'CSeq: 1 INVITE']), { services, routeType: 'reply' });
    expect(send(reply, 200, 'OK')).toBe(-1);
    const ack = makeContext(['ACK sip:bob@ksr.test SIP/2.0', 'Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK-a', 'From: <sip:a@x>;tag=1', 'To: <sip:b@y>;tag=2', 'Call-ID: a', 'CSeq: 1 ACK'], { services });
    expect(send(ack, 200, 'OK')).toBe(-1);
    expect(services.replies).toHaveLength(0);
    expect(ctx.replied).toBe(false);
    expect(stat(m, 'failures')).toBe(5);
    expect(stat(m, 'sent_replies')).toBe(0);
    expect(m.logger.lines.some((l) => l.level === 'error' && /invalid reply code 99/.test(l.msg))).toBe(true);
  });

  it('counts a failed send in sl:failures', async () => {
    const m = await setup();
    const services = testServices();
    services.reply = async () => false;
    expect(m.fn('sl_send_reply')(makeContext(INVITE_LINES, { services }), 486, 'Busy Here')).toBe(1);
    await tick();
    expect(stat(m, 'failures')).toBe(1);
    services.reply = async () => {
      throw new Error('socket gone');
    };
    m.fn('sl_send_reply')(makeContext(INVITE_LINES, { services }), 486, 'Busy Here');
    await tick();
    expect(stat(m, 'failures')).toBe(2);
  });
});

describe('sl statistics', () => {
  it('counts each code in its own counter or else its class, and all in sent_replies', async () => {
    const m = await setup();
    const send = m.fn('sl_send_reply');
    const codes = [180, 183, 200, 202, 204, 300, 301, 302, 305, 400, 401, 403, 404, 407, 408, 483, 486, 500, 503, 603];
    for (const code of codes) expect(send(makeContext(INVITE_LINES), code, 'x')).toBe(1);
    const s = m.stats.snapshot('sl');
    expect(s).toMatchObject({
      'sl:1xx_replies': 2,
      'sl:200_replies': 1,
      'sl:202_replies': 1,
      'sl:2xx_replies': 1,
      'sl:300_replies': 1,
      'sl:301_replies': 1,
      'sl:302_replies': 1,
      'sl:3xx_replies': 1,
      'sl:400_replies': 1,
      'sl:401_replies': 1,
      'sl:403_replies': 1,
      'sl:404_replies': 1,
      'sl:407_replies': 1,
      'sl:408_replies': 1,
      'sl:483_replies': 1,
      'sl:4xx_replies': 1,
      'sl:500_replies': 1,
      'sl:5xx_replies': 1,
      'sl:6xx_replies': 1,
      'sl:xxx_replies': 0,
      'sl:sent_replies': codes.length,
      'sl:sent_err_replies': 0,
      'sl:failures': 0,
      'sl:received_ACKs': 0,
    });
  });
});

describe('send_reply, send_reply_mode', () => {
  it('replies statelessly without tm, through tm when it has a transaction', async () => {
    const services = testServices();
    const plain = await setup();
    expect(plain.fn('send_reply')(makeContext(INVITE_LINES, { services }), 403, 'Forbidden')).toBe(1);
    expect(services.replies.map((r) => r.status)).toEqual([403]);

    const calls: number[] = [];
    let inTransaction = true;
    const tm = {
      replyInTransaction: (_c: RouteContext, code: number) => {
        calls.push(code);
        return inTransaction ? 1 : undefined;
      },
    };
    const withTm = await setup({}, { tm });
    expect(withTm.fn('send_reply')(makeContext(INVITE_LINES, { services }), 404, 'Not Found')).toBe(1);
    expect(calls).toEqual([404]);
    expect(services.replies).toHaveLength(1);
    inTransaction = false;
    expect(withTm.fn('send_reply')(makeContext(INVITE_LINES, { services }), 405, 'Not Allowed')).toBe(1);
    expect(services.replies.map((r) => r.status)).toEqual([403, 405]);

    const unbound = await setup({ bind_tm: 0 }, { tm });
    inTransaction = true;
    unbound.fn('send_reply')(makeContext(INVITE_LINES, { services }), 406, 'Not Acceptable');
    expect(calls).toEqual([404, 405]);
    expect(services.replies.map((r) => r.status)).toEqual([403, 405, 406]);
  });

  it('send_reply_mode sets the reply connection flags', async () => {
    const m = await setup();
    const services = testServices();
    const a = makeContext(INVITE_LINES, { services });
    expect(m.fn('send_reply_mode')(a, 404, 'Not Found', 3)).toBe(1);
    expect([a.state.replyNoConnect, a.state.replyClose]).toEqual([true, true]);
    const b = makeContext(INVITE_LINES, { services });
    expect(m.fn('send_reply_mode')(b, 404, 'Not Found', 2)).toBe(1);
    expect([b.state.replyNoConnect, b.state.replyClose]).toEqual([false, true]);
    const c = makeContext(INVITE_LINES, { services });
    expect(m.fn('send_reply_mode')(c, 404, 'Not Found', 4)).toBe(-1);
    expect(m.fn('send_reply_mode')(c, 404, 'Not Found', -1)).toBe(-1);
    expect(m.fn('send_reply_mode')(c, 1000, 'Bad', 0)).toBe(-1);
    expect(services.replies).toHaveLength(2);
  });
});

describe('sl_reply_error, send_reply_error', () => {
  it('answers with the recorded last error, else default_code/default_reason', async () => {
    const m = await setup();
    const services = testServices();
    expect(m.fn('sl_reply_error')(makeContext(INVITE_LINES, { services }))).toBe(1);
    const state = new MessageState();
    state.lastError = { code: 400, reason: 'Bad Header' };
    expect(m.fn('sl_reply_error')(makeContext(INVITE_LINES, { services, state }))).toBe(1);
    expect(m.fn('send_reply_error')(makeContext(INVITE_LINES, { services, state }))).toBe(1);
    expect(services.replies.map((r) => `${r.status} ${r.reason}`)).toEqual(['500 Internal Server Error', '400 Bad Header', '400 Bad Header']);
    expect(stat(m, 'sent_err_replies')).toBe(3);

    const custom = await setup({ default_code: 503, default_reason: 'Try Later' });
    custom.fn('sl_reply_error')(makeContext(INVITE_LINES, { services }));
    expect(services.replies.at(-1)).toMatchObject({ status: 503, reason: 'Try Later' });
  });

  it('fails on a reply and counts nothing sent', async () => {
    const m = await setup();
    const res = makeContext(sipText(['SIP/2.0 500 Oops', 'Via: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK-r', 'From: <sip:a@x>;tag=1', 'To: <sip:b@y>;tag=2', 'Call-ID: r', 'CSeq: 1 INVITE']));
    expect(m.fn('sl_reply_error')(res)).toBe(-1);
    expect(stat(m, 'sent_err_replies')).toBe(0);
  });

  it('rejects bad default parameters', async () => {
    await expect(createModule(slModule, { params: { default_code: 99 } })).rejects.toThrow(/100..699/);
    await expect(createModule(slModule, { params: { default_reason: 'a\nb' } })).rejects.toThrow(/control/);
    await expect(createModule(slModule, { params: { nonsense: 1 } })).rejects.toThrow(/no parameter/);
  });
});

describe('sl_forward_reply', () => {
  const REPLY = [
    'SIP/2.0 408 Request Timeout',
    'Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-ours',
    'Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-inv1;received=192.0.2.10;rport=5070',
    'From: <sip:alice@atlanta.test>;tag=a1',
    'To: <sip:bob@ksr.test>;tag=b1',
    'Call-ID: call-1@192.0.2.10',
    'CSeq: 10 INVITE',
  ];
  const replyCtx = (services: TestServices) => makeContext(REPLY, { services, routeType: 'reply' });

  it('forwards with a new code of the same class and a new reason', async () => {
    const m = await setup();
    const services = testServices();
    const ctx = replyCtx(services);
    expect(m.fn('sl_forward_reply')(ctx, '404', 'Not found')).toBe(1);
    expect(ctx.relayed).toBe(true);
    expect(services.sent).toHaveLength(1);
    expect(services.sent[0]!.target).toMatchObject({ proto: 'udp', address: '192.0.2.10', port: 5070 });
    const out = parseMessage(services.sent[0]!.data) as SipResponse;
    expect([out.status, out.reason, out.via.length, out.via[0]!.branch]).toEqual([404, 'Not found', 1, 'z9hG4bK-inv1']);
  });

  it('keeps the code with "" and takes the standard phrase when only the code changes', async () => {
    const m = await setup();
    const services = testServices();
    expect(m.fn('sl_forward_reply')(replyCtx(services), '', '')).toBe(1);
    expect(m.fn('sl_forward_reply')(replyCtx(services), '', 'Gone Away')).toBe(1);
    expect(m.fn('sl_forward_reply')(replyCtx(services), '480', '')).toBe(1);
    const got = services.sent.map((s) => parseMessage(s.data) as SipResponse).map((r) => `${r.status} ${r.reason}`);
    expect(got).toEqual(['408 Request Timeout', '408 Gone Away', '480 Temporarily Unavailable']);
  });

  it('refuses another class, bad codes and reasons, and requests', async () => {
    const m = await setup();
    const services = testServices();
    const fwd = m.fn('sl_forward_reply');
    expect(fwd(replyCtx(services), '200', 'OK')).toBe(-1);
    expect(fwd(replyCtx(services), '4xx', 'Nope')).toBe(-1);
    expect(fwd(replyCtx(services), '4000', 'Nope')).toBe(-1);
    expect(fwd(replyCtx(services), '404', 'Not\r\nfound')).toBe(-1);
    expect(fwd(makeContext(INVITE_LINES, { services }), '404', 'x')).toBe(-1);
    expect(services.sent).toHaveLength(0);
  });
});

describe('ACKs to sl replies', () => {
  const ackFor = (req: SipRequest, tag: string, branch = req.via[0]!.branch!) =>
    makeContext([
      'ACK sip:bob@ksr.test SIP/2.0',
      `Via: SIP/2.0/UDP 192.0.2.10:5070;branch=${branch};rport`,
      'Max-Forwards: 70',
      'From: "Alice" <sip:alice@atlanta.test>;tag=a1',
      `To: <sip:bob@ksr.test>;tag=${tag}`,
      `Call-ID: ${req.callId}`,
      'CSeq: 10 ACK',
    ]);

  it('recognises the ACK of a reply sl sent, and counts it when filtered', async () => {
    const m = await setup();
    const invite = makeContext(INVITE_LINES).request!;
    const tag = m.sl.toTag(invite);
    const ack = ackFor(invite, tag);
    expect(m.sl.isOwnAck(ack.request!)).toBe(true);
    expect(m.sl.filterAck(ack)).toBe(true);
    // the ACK of a 2xx is a new transaction (another branch) but carries the same tag
    expect(m.sl.isOwnAck(ackFor(invite, tag, 'z9hG4bK-other').request!)).toBe(true);
    expect(stat(m, 'received_ACKs')).toBe(1);
  });

  it('lets other ACKs and non-ACKs through', async () => {
    const m = await setup();
    const invite = makeContext(INVITE_LINES).request!;
    expect(m.sl.isOwnAck(ackFor(invite, 'someone-else').request!)).toBe(false);
    expect(m.sl.isOwnAck(makeContext(INVITE_LINES.map((l) => (l.startsWith('To:') ? `To: <sip:bob@ksr.test>;tag=${m.sl.toTag(invite)}` : l))).request!)).toBe(false);
    const other = await createModule(slModule, { config: testConfig({ aliases: [{ host: 'elsewhere.test' } as never] }) });
    expect(m.sl.isOwnAck(ackFor(invite, other.api<SlApi>().toTag(invite)).request!)).toBe(false);
    expect(m.sl.filterAck(ackFor(invite, 'x'))).toBe(false);
    const res = makeContext(sipText(['SIP/2.0 200 OK', 'Via: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK-r', 'From: <sip:a@x>;tag=1', 'To: <sip:b@y>;tag=2', 'Call-ID: r', 'CSeq: 1 INVITE']));
    expect(m.sl.filterAck(res)).toBe(false);
    expect(stat(m, 'received_ACKs')).toBe(0);
  });
});

describe('the sl API', () => {
  it('replies with extra headers, body and content type', async () => {
    const m = await setup();
    const services = buildingServices();
    const ctx = makeContext(INVITE_LINES, { services });
    expect(m.sl.reply(ctx, 401, 'Unauthorized', { headers: [['WWW-Authenticate', 'Digest realm="ksr.test", nonce="abc"']], body: 'hi', contentType: 'text/plain' })).toBe(1);
    const res = services.built[0]!;
    expect(res.header('www-authenticate')).toBe('Digest realm="ksr.test", nonce="abc"');
    expect(res.body.toString()).toBe('hi');
    expect(res.contentType).toBe('text/plain');
    expect(res.to.tag).toBe(m.sl.toTag(ctx.request!));
    expect(stat(m, '401_replies')).toBe(1);
  });

  it('refuses header injection', async () => {
    const m = await setup();
    const services = testServices();
    const ctx = makeContext(INVITE_LINES, { services });
    expect(m.sl.reply(ctx, 400, 'Bad', { headers: [['X-A', 'v\r\nX-B: w']] })).toBe(-1);
    expect(m.sl.reply(ctx, 400, 'Bad', { headers: [['X A', 'v']] })).toBe(-1);
    expect(services.replies).toHaveLength(0);
  });

  it('exports the Kamailio KEMI signatures', async () => {
    const m = await setup();
    const sigs = Object.fromEntries((m.instance.exports ?? []).map((e) => [e.name, `${e.returns}(${e.params.join(',')})`]));
    expect(sigs).toEqual({
      sl_send_reply: 'int(int,str)',
      send_reply: 'int(int,str)',
      send_reply_mode: 'int(int,str,int)',
      sl_reply_error: 'int()',
      send_reply_error: 'int()',
      sl_forward_reply: 'int(str,str)',
    });
  });
});
