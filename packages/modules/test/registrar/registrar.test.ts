import { describe, expect, it } from 'vitest';
import { MessageState, StatsRegistry, createPvRegistry, type SipRequest } from '@ksr/core';
import { registrarModule, type Registrar, type SlApi } from '../../src/registrar/index.js';
import { usrlocModule, type UsrlocApi } from '../../src/usrloc/index.js';
import { FakeClock, context, instantiate, invite, moduleContext, recordingLogger, register, services } from './support.js';

type Params = Record<string, string | number | Array<string | number>>;

async function setup(opts: { reg?: Params; ul?: Params; sl?: boolean } = {}) {
  const clock = new FakeClock();
  const stats = new StatsRegistry();
  const pv = createPvRegistry();
  const log = recordingLogger();
  const ulInst = await usrlocModule.create(moduleContext('usrloc', { timer_interval: 1, ...(opts.ul ?? {}) }, { clock, stats, pv }));
  const ul = ulInst.api as UsrlocApi;
  const slReplies: Array<{ code: number; reason: string; headers: Array<[string, string]> }> = [];
  const sl: SlApi | undefined = opts.sl
    ? {
        reply: (_ctx, code, reason, extra) => {
          slReplies.push({ code, reason, headers: extra?.headers ?? [] });
          return 1;
        },
        toTag: () => 'sltag',
        isOwnAck: () => false,
        filterAck: () => false,
      }
    : undefined;
  const { instance, fn } = await instantiate(registrarModule, moduleContext('registrar', opts.reg ?? {}, { clock, stats, pv, logger: log.logger, apis: { usrloc: ul, sl } }));
  const svc = services();
  const ctx = (lines: string[], o: Parameters<typeof context>[1] = {}) => context(lines, { services: svc, ...o });
  /** The last reply: status, reason and header lookup. */
  const last = () => {
    const r = svc.replies.at(-1);
    if (!r) return undefined;
    const headers = r.extra?.headers ?? [];
    return { status: r.status, reason: r.reason, headers, h: (name: string) => headers.filter(([n]) => n.toLowerCase() === name.toLowerCase()).map(([, v]) => v) };
  };
  const save = (lines: string[], flags = 0, table = 'location') => fn('save')(ctx(lines), table, flags) as number;
  return { clock, stats, pv, log, ul, fn, svc, ctx, last, save, slReplies, reg: instance.api as Registrar, instance };
}

describe('registrar save(): RFC 3261 §10.3', () => {
  it('adds a binding and answers 200 with every binding, its expires and a Date', async () => {
    const { save, last, ul, clock, stats } = await setup();
    const rc = save(register('alice', { extra: ['User-Agent: phone/1.0', 'Allow: INVITE, ACK, BYE'] }));
    expect(rc).toBe(1);
    const r = last()!;
    expect(r.status).toBe(200);
    expect(r.reason).toBe('OK');
    expect(r.h('Contact')).toEqual(['<sip:alice@192.0.2.10:5070>;expires=3600']);
    expect(r.h('Date')).toEqual([new Date(clock.now()).toUTCString()]);
    const [c] = ul.contacts('location', 'alice');
    expect(c).toMatchObject({
      uri: 'sip:alice@192.0.2.10:5070',
      expires: clock.now() + 3_600_000,
      q: -1,
      cseq: 1,
      userAgent: 'phone/1.0',
      socket: 'udp:127.0.0.1:5060',
      socketId: 0,
      methods: ['INVITE', 'ACK', 'BYE'],
      regId: 0,
    });
    expect(c!.callid).toMatch(/^reg-alice-/);
    expect(stats.snapshot('registrar')['registrar:accepted_regs']).toBe(1);
  });

  it('takes expires from the contact parameter, else the Expires header, else default_expires', async () => {
    const { save, last, ul } = await setup({ reg: { default_expires: 1800 } });
    save(register('a', { contacts: ['<sip:a@192.0.2.1>;expires=120'], expires: 300 }));
    expect(last()!.h('Contact')).toEqual(['<sip:a@192.0.2.1>;expires=120']);
    save(register('b', { contacts: ['<sip:b@192.0.2.1>'], expires: 300 }));
    expect(last()!.h('Contact')).toEqual(['<sip:b@192.0.2.1>;expires=300']);
    save(register('c', { contacts: ['<sip:c@192.0.2.1>'] }));
    expect(last()!.h('Contact')).toEqual(['<sip:c@192.0.2.1>;expires=1800']);
    expect(ul.contacts('location', 'c')).toHaveLength(1);
  });

  it('clamps to max_expires and uses min_expires when default_expires is below it', async () => {
    const { save, last } = await setup({ reg: { max_expires: 600, min_expires: 120, default_expires: 60 } });
    save(register('a', { expires: 7200 }));
    expect(last()!.h('Contact')[0]).toMatch(/;expires=600$/);
    save(register('b'));
    expect(last()!.h('Contact')[0]).toMatch(/;expires=120$/);
  });

  it('rejects an interval below min_expires with 423 and Min-Expires', async () => {
    const { save, last, ul, stats } = await setup({ reg: { min_expires: 60 } });
    expect(save(register('a', { expires: 30 }))).toBe(-1);
    const r = last()!;
    expect(r.status).toBe(423);
    expect(r.reason).toBe('Interval Too Brief');
    expect(r.h('Min-Expires')).toEqual(['60']);
    expect(ul.contacts('location', 'a')).toEqual([]);
    expect(stats.snapshot('registrar')['registrar:rejected_regs']).toBe(1);
    // min_expires 0 disables the check
    const s2 = await setup({ reg: { min_expires: 0 } });
    expect(s2.save(register('a', { expires: 1 }))).toBe(1);
  });

  it('refreshes a binding: same Call-ID, higher CSeq (rc 2, new expires)', async () => {
    const { save, last, ul, clock } = await setup();
    const callId = 'refresh-1';
    save(register('alice', { callId, cseq: 1, expires: 600 }));
    const ruid = ul.contacts('location', 'alice')[0]!.ruid;
    clock.advance(300_000);
    expect(save(register('alice', { callId, cseq: 2, expires: 600 }))).toBe(2);
    expect(last()!.h('Contact')).toEqual(['<sip:alice@192.0.2.10:5070>;expires=600']);
    const c = ul.contacts('location', 'alice');
    expect(c).toHaveLength(1);
    expect(c[0]).toMatchObject({ ruid, cseq: 2, expires: clock.now() + 600_000 });
  });

  it('updates a binding from another Call-ID whatever its CSeq', async () => {
    const { save, ul } = await setup();
    save(register('alice', { callId: 'one', cseq: 50 }));
    expect(save(register('alice', { callId: 'two', cseq: 1 }))).toBe(2);
    expect(ul.contacts('location', 'alice')[0]).toMatchObject({ callid: 'two', cseq: 1 });
  });

  it('fails with 500 (nothing changed) for the same Call-ID with a lower CSeq', async () => {
    const { save, last, ul } = await setup();
    save(register('alice', { callId: 'x', cseq: 5, contacts: ['<sip:a1@192.0.2.1>', '<sip:a2@192.0.2.1>'] }));
    const before = ul.contacts('location', 'alice');
    // a new contact plus an out-of-order one: all or nothing
    expect(save(register('alice', { callId: 'x', cseq: 4, contacts: ['<sip:new@192.0.2.1>', '<sip:a2@192.0.2.1>;expires=0'] }))).toBe(-1);
    const r = last()!;
    expect(r.status).toBe(500);
    expect(r.h('P-Registrar-Error')).toEqual(['Invalid CSeq number']);
    expect(ul.contacts('location', 'alice')).toEqual(before);
  });

  it('treats the same Call-ID and CSeq within cseq_delay as a retransmission (200, no change), later as an error', async () => {
    const { save, last, ul, clock } = await setup({ ul: { cseq_delay: 20 } });
    const lines = register('alice', { callId: 'rt', cseq: 7, expires: 600 });
    save(lines);
    const c1 = ul.contacts('location', 'alice')[0]!;
    clock.advance(5_000);
    expect(save(lines)).toBe(4);
    expect(last()!.status).toBe(200);
    expect(last()!.h('Contact')).toEqual(['<sip:alice@192.0.2.10:5070>;expires=595']);
    expect(ul.contacts('location', 'alice')[0]).toEqual(c1);
    clock.advance(20_000);
    expect(save(lines)).toBe(-1);
    expect(last()!.status).toBe(500);
  });

  it('removes a binding with expires 0 (rc 3) and lists the rest', async () => {
    const { save, last, ul } = await setup();
    save(register('alice', { callId: 'c', cseq: 1, contacts: ['<sip:a1@192.0.2.1>', '<sip:a2@192.0.2.2>'] }));
    expect(save(register('alice', { callId: 'c', cseq: 2, contacts: ['<sip:a1@192.0.2.1>'], expires: 0 }))).toBe(3);
    expect(last()!.h('Contact')).toEqual(['<sip:a2@192.0.2.2>;expires=3600']);
    expect(save(register('alice', { callId: 'c', cseq: 3, contacts: ['<sip:a2@192.0.2.2>;expires=0'] }))).toBe(3);
    expect(last()!.status).toBe(200);
    expect(last()!.h('Contact')).toEqual([]);
    expect(ul.record('location', 'alice')).toBeUndefined();
    // removing what is not there: nothing to do, 200
    expect(save(register('alice', { contacts: ['<sip:zz@192.0.2.9>'], expires: 0 }))).toBe(4);
  });

  it('Contact: * with Expires: 0 removes every binding; otherwise 400', async () => {
    const { save, last, ul } = await setup();
    save(register('alice', { callId: 'c1', contacts: ['<sip:a1@192.0.2.1>'] }));
    save(register('alice', { callId: 'c2', contacts: ['<sip:a2@192.0.2.2>'] }));
    expect(save(register('alice', { contacts: ['*'] }))).toBe(-1);
    expect(last()!.status).toBe(400);
    expect(last()!.h('P-Registrar-Error')).toEqual(['* used in contact and expires is not zero']);
    expect(save(register('alice', { contacts: ['*'], expires: 10 }))).toBe(-1);
    expect(last()!.status).toBe(400);
    expect(ul.contacts('location', 'alice')).toHaveLength(2);
    expect(save(register('alice', { contacts: ['*'], expires: 0 }))).toBe(3);
    expect(last()!.status).toBe(200);
    expect(last()!.h('Contact')).toEqual([]);
    expect(ul.contacts('location', 'alice')).toEqual([]);
  });

  it('Contact: * obeys the Call-ID/CSeq rule too', async () => {
    const { save, last, ul } = await setup();
    save(register('alice', { callId: 'same', cseq: 9 }));
    expect(save(register('alice', { callId: 'same', cseq: 3, contacts: ['*'], expires: 0 }))).toBe(-1);
    expect(last()!.status).toBe(500);
    expect(ul.contacts('location', 'alice')).toHaveLength(1);
  });

  it('without Contact lists the bindings (rc 4)', async () => {
    const { save, last } = await setup();
    save(register('alice', { contacts: ['<sip:a1@192.0.2.1>;q=0.5', '<sip:a2@192.0.2.2>;q=1'] }));
    expect(save(register('alice', { contacts: [] }))).toBe(4);
    expect(last()!.h('Contact')).toEqual(['<sip:a2@192.0.2.2>;q=1;expires=3600, <sip:a1@192.0.2.1>;q=0.5;expires=3600']);
  });

  it('q-values: parsed, echoed, default_q, invalid → 400', async () => {
    const { save, last, ul } = await setup({ reg: { default_q: 300 } });
    save(register('a', { contacts: ['<sip:a@192.0.2.1>;q=0.25'] }));
    expect(ul.contacts('location', 'a')[0]!.q).toBe(250);
    expect(last()!.h('Contact')).toEqual(['<sip:a@192.0.2.1>;q=0.25;expires=3600']);
    save(register('b', { contacts: ['<sip:b@192.0.2.1>'] }));
    expect(ul.contacts('location', 'b')[0]!.q).toBe(300);
    expect(save(register('c', { contacts: ['<sip:c@192.0.2.1>;q=1.5'] }))).toBe(-1);
    expect(last()!.status).toBe(400);
    expect(last()!.h('P-Registrar-Error')).toEqual(['Invalid q param in contact']);
  });

  it('set_q_override sets the q of the contacts of this request; bad values → -1', async () => {
    const { fn, ctx, ul } = await setup();
    const c = ctx(register('a', { contacts: ['<sip:a@192.0.2.1>;q=0.1'] }));
    expect(fn('set_q_override')(c, '0.75')).toBe(1);
    expect(fn('save')(c, 'location', 0)).toBe(1);
    expect(ul.contacts('location', 'a')[0]!.q).toBe(750);
    expect(fn('set_q_override')(c, 'high')).toBe(-1);
    expect(fn('set_q_override')(c, '2')).toBe(-1);
  });

  it('rejects bad expires parameters, a bad Expires header, a To without user, an over-long contact', async () => {
    const { save, last } = await setup({ reg: { contact_max_size: 40 } });
    expect(save(register('a', { contacts: ['<sip:a@192.0.2.1>;expires=soon'] }))).toBe(-1);
    expect(last()!.h('P-Registrar-Error')).toEqual(['Invalid expires param in contact']);
    expect(save(register('a', { extra: ['Expires: later'] }))).toBe(-1);
    expect(last()!.h('P-Registrar-Error')).toEqual(['Expires parse error']);
    expect(save(register('a', { to: '<sip:ksr.test>' }))).toBe(-1);
    expect(last()!.status).toBe(400);
    expect(last()!.h('P-Registrar-Error')).toEqual(['No username in To URI']);
    expect(save(register('a', { contacts: ['<sip:a-very-long-user-name@192.0.2.100:5070;transport=tcp>'] }))).toBe(-1);
    expect(last()!.h('P-Registrar-Error')).toEqual(['Contact/received too long']);
  });

  it('max_contacts: 503 (rc -2) with Retry-After when the AOR would have too many', async () => {
    const { save, last, ul } = await setup({ reg: { max_contacts: 2, retry_after: 30 } });
    expect(save(register('a', { contacts: ['<sip:1@192.0.2.1>', '<sip:2@192.0.2.1>'] }))).toBe(1);
    expect(save(register('a', { contacts: ['<sip:3@192.0.2.1>'] }))).toBe(-2);
    const r = last()!;
    expect(r.status).toBe(503);
    expect(r.h('P-Registrar-Error')).toEqual(['Too many registered contacts']);
    expect(r.h('Retry-After')).toEqual(['30']);
    expect(ul.contacts('location', 'a')).toHaveLength(2);
    // replacing one within the limit is fine
    expect(save(register('a', { contacts: ['<sip:1@192.0.2.1>;expires=0', '<sip:3@192.0.2.1>'] }))).toBe(1);
  });

  it('max_contacts from $xavp(xavp_cfg=>max_contacts) overrides the parameter', async () => {
    const { fn, ctx, last } = await setup({ reg: { max_contacts: 5, xavp_cfg: 'reg' } });
    const state = new MessageState();
    state.xavps.set('reg', [new Map([['max_contacts', [1]]])]);
    expect(fn('save')(ctx(register('a', { contacts: ['<sip:1@192.0.2.1>', '<sip:2@192.0.2.1>'] }), { state }), 'location', 0)).toBe(-2);
    expect(last()!.status).toBe(503);
  });

  it('flag 0x04 keeps one contact per AOR', async () => {
    const { save, ul } = await setup();
    save(register('a', { contacts: ['<sip:1@192.0.2.1>', '<sip:2@192.0.2.1>'] }));
    expect(save(register('a', { contacts: ['<sip:3@192.0.2.1>'] }), 0x04)).toBe(1);
    expect(ul.contacts('location', 'a').map((c) => c.uri)).toEqual(['sip:3@192.0.2.1']);
  });

  it('flag 0x02 sends no reply; reg_send_reply() sends it later', async () => {
    const { fn, ctx, svc, last } = await setup();
    const c = ctx(register('a'));
    expect(fn('reg_send_reply')(c)).toBe(-1);
    expect(fn('save')(c, 'location', 0x02)).toBe(1);
    expect(svc.replies).toHaveLength(0);
    expect(fn('reg_send_reply')(c)).toBe(1);
    expect(last()!.status).toBe(200);
    expect(fn('reg_send_reply')(c)).toBe(-1);
  });

  it('replies through sl when it is loaded', async () => {
    const { save, slReplies, svc } = await setup({ sl: true });
    save(register('a'));
    expect(svc.replies).toHaveLength(0);
    expect(slReplies).toHaveLength(1);
    expect(slReplies[0]!.code).toBe(200);
    expect(slReplies[0]!.headers.find(([n]) => n === 'Contact')?.[1]).toBe('<sip:a@192.0.2.10:5070>;expires=3600');
  });

  it('save_uri saves for the AOR of the URI given', async () => {
    const { fn, ctx, ul } = await setup();
    expect(fn('save_uri')(ctx(register('a')), 'location', 0, 'sip:other@ksr.test')).toBe(1);
    expect(ul.contacts('location', 'other')).toHaveLength(1);
    expect(ul.contacts('location', 'a')).toHaveLength(0);
  });

  it('bad calls: not a REGISTER, a reply, an empty table → -1 without a reply', async () => {
    const { fn, ctx, svc } = await setup();
    expect(fn('save')(ctx(invite('sip:bob@ksr.test')), 'location', 0)).toBe(-1);
    const res = ctx(['SIP/2.0 200 OK', 'Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-1', 'From: <sip:a@ksr.test>;tag=1', 'To: <sip:a@ksr.test>;tag=2', 'Call-ID: r1', 'CSeq: 1 REGISTER'], { routeType: 'reply' });
    expect(fn('save')(res, 'location', 0)).toBe(-1);
    expect(fn('save')(ctx(register('a')), '', 0)).toBe(-1);
    expect(svc.replies).toHaveLength(0);
  });

  it('AOR keys: use_domain, case_sensitive, realm_prefix', async () => {
    const a = await setup({ ul: { use_domain: 1 }, reg: { realm_prefix: 'sip.' } });
    a.save(register('Alice', { to: '<sip:Alice@SIP.Example.com>' }));
    expect(a.ul.contacts('location', 'alice@example.com')).toHaveLength(1);
    const b = await setup({ reg: { case_sensitive: 1 } });
    b.save(register('Alice'));
    expect(b.ul.contacts('location', 'Alice')).toHaveLength(1);
    expect(b.ul.contacts('location', 'alice')).toHaveLength(0);
    const c = await setup();
    c.save(register('Alice'));
    expect(c.ul.contacts('location', 'alice')).toHaveLength(1);
    // escaped user parts are unescaped
    c.save(register('x', { to: '<sip:b%6Fb@ksr.test>' }));
    expect(c.ul.contacts('location', 'bob')).toHaveLength(1);
  });

  it('Path (RFC 3327): path_mode 2 needs Supported: path (420), stores and echoes it', async () => {
    const { save, last, ul } = await setup({ reg: { use_path: 1 } });
    const path = ['Path: <sip:edge.test;lr>'];
    expect(save(register('a', { extra: path }))).toBe(-1);
    expect(last()!.status).toBe(420);
    expect(last()!.h('Unsupported')).toEqual(['path']);
    expect(save(register('a', { extra: [...path, 'Supported: path, outbound'] }))).toBe(1);
    expect(ul.contacts('location', 'a')[0]!.path).toBe('<sip:edge.test;lr>');
    expect(last()!.h('Path')).toEqual(['<sip:edge.test;lr>']);
  });

  it('Path: path_mode 0 stores without echo, 1 echoes only with Supported: path; use_path 0 ignores it', async () => {
    const m0 = await setup({ reg: { use_path: 1, path_mode: 0 } });
    m0.save(register('a', { extra: ['Path: <sip:p1.test;lr>, <sip:p2.test;lr>'] }));
    expect(m0.ul.contacts('location', 'a')[0]!.path).toBe('<sip:p1.test;lr>,<sip:p2.test;lr>');
    expect(m0.last()!.h('Path')).toEqual([]);
    const m1 = await setup({ reg: { use_path: 1, path_mode: 1 } });
    m1.save(register('a', { extra: ['Path: <sip:p1.test;lr>'] }));
    expect(m1.last()!.h('Path')).toEqual([]);
    m1.save(register('b', { extra: ['Path: <sip:p1.test;lr>', 'Supported: path'] }));
    expect(m1.last()!.h('Path')).toEqual(['<sip:p1.test;lr>']);
    const off = await setup();
    off.save(register('a', { extra: ['Path: <sip:p1.test;lr>'] }));
    expect(off.ul.contacts('location', 'a')[0]!.path).toBeUndefined();
  });

  it('path_use_received: the received of the first Path URI, with the NAT flag', async () => {
    const { save, ul } = await setup({ reg: { use_path: 1, path_mode: 0, path_use_received: 1 }, ul: { nat_bflag: 6 } });
    save(register('a', { extra: ['Path: <sip:edge.test;lr;received=sip%3A198.51.100.7%3A41000>'] }));
    const c = ul.contacts('location', 'a')[0]!;
    expect(c.received).toBe('sip:198.51.100.7:41000');
    expect(c.cflags).toBe(1 << 6);
  });

  it('NAT: stores the source as received when the nat_bflag branch flag is set; received_avp wins', async () => {
    const { fn, ctx, ul, last } = await setup({ ul: { nat_bflag: 6 } });
    const state = new MessageState();
    state.branchFlags[0] = 1 << 6;
    fn('save')(ctx(register('a'), { state, info: { remote: { address: '198.51.100.9', port: 40000, family: 4 } } }), 'location', 0);
    const c = ul.contacts('location', 'a')[0]!;
    expect(c.received).toBe('sip:198.51.100.9:40000');
    expect(c.cflags).toBe(1 << 6);
    expect(last()!.h('Contact')).toEqual(['<sip:a@192.0.2.10:5070>;expires=3600;received="sip:198.51.100.9:40000"']);
    // no flag: no received
    fn('save')(ctx(register('b')), 'location', 0);
    expect(ul.contacts('location', 'b')[0]!.received).toBeUndefined();

    const r = await setup({ reg: { received_avp: '$avp(rcv)', received_param: '' }, ul: { nat_bflag: 6 } });
    const st2 = new MessageState();
    st2.avps.set('rcv', ['sip:203.0.113.5:5099;transport=tcp']);
    st2.branchFlags[0] = 1 << 6;
    r.fn('save')(r.ctx(register('a'), { state: st2 }), 'location', 0);
    expect(r.ul.contacts('location', 'a')[0]!.received).toBe('sip:203.0.113.5:5099;transport=tcp');
    expect(r.last()!.h('Contact')).toEqual(['<sip:a@192.0.2.10:5070>;expires=3600']); // received_param ""
  });

  it('stores +sip.instance and reg-id (with Supported: outbound or regid_mode) and echoes them', async () => {
    const { save, ul, last } = await setup();
    save(register('a', { contacts: ['<sip:a@192.0.2.1>;+sip.instance="<urn:uuid:0001>";reg-id=1'], extra: ['Supported: outbound'] }));
    expect(ul.contacts('location', 'a')[0]).toMatchObject({ instance: '<urn:uuid:0001>', regId: 1 });
    expect(last()!.h('Contact')).toEqual(['<sip:a@192.0.2.1>;expires=3600;+sip.instance="<urn:uuid:0001>";reg-id=1']);
    save(register('b', { contacts: ['<sip:b@192.0.2.1>;reg-id=2'] }));
    expect(ul.contacts('location', 'b')[0]!.regId).toBe(0);
  });

  it('xavp_rcd gets ruid, contact, expires of the bindings in the reply', async () => {
    const { fn, ctx, ul } = await setup({ reg: { xavp_rcd: 'ulrcd' } });
    const c = ctx(register('a'));
    fn('save')(c, 'location', 0);
    const rec = c.state.xavps.get('ulrcd')![0]!;
    expect(rec.get('ruid')).toEqual([ul.contacts('location', 'a')[0]!.ruid]);
    expect(rec.get('contact')).toEqual(['sip:a@192.0.2.10:5070']);
    expect(rec.get('expires')).toEqual([3600]);
  });

  it('an expired binding disappears (fake clock) and is no longer listed', async () => {
    const { save, last, clock, ul, fn, ctx } = await setup({ reg: { min_expires: 1 } });
    save(register('a', { expires: 2 }));
    clock.advance(1_000);
    expect(fn('registered_uri')(ctx(invite('sip:x@ksr.test')), 'location', 'sip:a@ksr.test')).toBe(1);
    clock.advance(1_500);
    expect(ul.record('location', 'a')).toBeUndefined(); // the timer (1 s) removed it
    expect(fn('lookup')(ctx(invite('sip:a@ksr.test')), 'location')).toBe(-1);
    save(register('a', { contacts: [] }));
    expect(last()!.h('Contact')).toEqual([]);
  });
});

describe('registrar lookup', () => {
  async function withBindings(opts: Parameters<typeof setup>[0] = {}) {
    const s = await setup(opts);
    s.save(register('bob', { contacts: ['<sip:bob@192.0.2.20:5060>;q=0.5'], callId: 'b1', extra: ['Allow: INVITE, ACK, BYE, CANCEL'] }));
    s.clock.advance(10);
    s.save(register('bob', { contacts: ['<sip:bob@192.0.2.21:5060;transport=tcp>;q=1'], callId: 'b2' }));
    s.clock.advance(10);
    s.save(register('bob', { contacts: ['<sip:bob@192.0.2.22:5060>'], callId: 'b3', extra: ['Allow: INVITE'] }));
    return s;
  }

  it('rewrites the R-URI with the best contact and appends the others as branches (q order)', async () => {
    const { fn, ctx } = await withBindings();
    const c = ctx(invite('sip:bob@ksr.test'));
    expect(fn('lookup')(c, 'location')).toBe(1);
    const req = c.msg as SipRequest;
    expect(req.newRequestUri).toBe('sip:bob@192.0.2.21:5060;transport=tcp');
    expect(c.state.dstUri).toBeUndefined();
    expect(c.state.branches.map((b) => [b.uri, b.q])).toEqual([
      ['sip:bob@192.0.2.20:5060', 500],
      ['sip:bob@192.0.2.22:5060', -1],
    ]);
    expect(c.state.branches[0]!.ruid).toMatch(/^ulcx-/);
    expect(c.state.sendSocketId).toBe(0);
    // the rewritten request carries the contact as R-URI
    expect(req.serialize().toString().split('\r\n')[0]).toBe('INVITE sip:bob@192.0.2.21:5060;transport=tcp SIP/2.0');
  });

  it('append_branches 0: only the R-URI', async () => {
    const { fn, ctx } = await withBindings({ reg: { append_branches: 0 } });
    const c = ctx(invite('sip:bob@ksr.test'));
    expect(fn('lookup')(c, 'location')).toBe(1);
    expect(c.state.branches).toEqual([]);
  });

  it('-1 when there is no contact, -3 when the R-URI has no AOR, -3 for a reply', async () => {
    const { fn, ctx } = await withBindings();
    expect(fn('lookup')(ctx(invite('sip:nobody@ksr.test')), 'location')).toBe(-1);
    expect(fn('lookup')(ctx(invite('sip:bob@ksr.test')), 'other_table')).toBe(-1);
    expect(fn('lookup')(ctx(invite('sip:ksr.test')), 'location')).toBe(-3);
    const res = ctx(['SIP/2.0 200 OK', 'Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-1', 'From: <sip:a@ksr.test>;tag=1', 'To: <sip:a@ksr.test>;tag=2', 'Call-ID: r1', 'CSeq: 1 INVITE'], { routeType: 'reply' });
    expect(fn('lookup')(res, 'location')).toBe(-3);
  });

  it('method_filtering: only contacts that allow the method, -2 when none does (initial requests only)', async () => {
    const { fn, ctx } = await withBindings({ reg: { method_filtering: 1 } });
    const c = ctx(invite('sip:bob@ksr.test', [], { method: 'MESSAGE' }));
    // only b2 (no Allow = everything) takes MESSAGE
    expect(fn('lookup')(c, 'location')).toBe(1);
    expect((c.msg as SipRequest).newRequestUri).toBe('sip:bob@192.0.2.21:5060;transport=tcp');
    expect(c.state.branches).toEqual([]);
    const s2 = await setup({ reg: { method_filtering: 1 } });
    s2.save(register('carol', { extra: ['Allow: INVITE'] }));
    expect(s2.fn('lookup')(s2.ctx(invite('sip:carol@ksr.test', [], { method: 'SUBSCRIBE' })), 'location')).toBe(-2);
    // in-dialog (To tag): no filtering
    expect(s2.fn('lookup')(s2.ctx(invite('sip:carol@ksr.test', [], { method: 'SUBSCRIBE', toTag: 'x' })), 'location')).toBe(1);
  });

  it('received → $du; Path → $du = first hop and the path for the R-URI branch; cflags → branch flags', async () => {
    const { fn, ctx, save } = await setup({ ul: { nat_bflag: 6 }, reg: { use_path: 1, path_mode: 0 } });
    const st = new MessageState();
    st.branchFlags[0] = 1 << 6;
    fn('save')(ctx(register('nat'), { state: st, info: { remote: { address: '198.51.100.9', port: 40000, family: 4 } } }), 'location', 0);
    const c = ctx(invite('sip:nat@ksr.test'));
    c.state.branchFlags[0] = 1 << 2;
    expect(fn('lookup')(c, 'location')).toBe(1);
    expect(c.state.dstUri).toBe('sip:198.51.100.9:40000');
    expect(c.state.branchFlags[0]).toBe((1 << 6) | (1 << 2));

    save(register('edge', { extra: ['Path: <sip:edge1.test;lr>, <sip:edge2.test;lr>'] }));
    const c2 = ctx(invite('sip:edge@ksr.test'));
    expect(fn('lookup')(c2, 'location')).toBe(1);
    expect(c2.state.dstUri).toBe('sip:edge1.test;lr');
    expect(c2.state.ruriPath).toBe('<sip:edge1.test;lr>,<sip:edge2.test;lr>');
  });

  it('path_check_local skips a first Path hop that is us', async () => {
    const { fn, ctx, save } = await setup({ reg: { use_path: 1, path_mode: 0, path_check_local: 1 } });
    save(register('p', { extra: ['Path: <sip:127.0.0.1:5060;lr>, <sip:edge2.test;lr>'] }));
    const c = ctx(invite('sip:p@ksr.test'));
    expect(fn('lookup')(c, 'location')).toBe(1);
    expect(c.state.dstUri).toBe('sip:edge2.test;lr');
    expect(c.state.ruriPath).toBe('<sip:edge2.test;lr>');
  });

  it('lookup_uri looks up another URI; lookup_to_dset adds branches only', async () => {
    const { fn, ctx } = await withBindings();
    const c = ctx(invite('sip:someone@ksr.test'));
    expect(fn('lookup_uri')(c, 'location', 'sip:bob@ksr.test')).toBe(1);
    expect((c.msg as SipRequest).newRequestUri).toBe('sip:bob@192.0.2.21:5060;transport=tcp');
    const d = ctx(invite('sip:someone@ksr.test'));
    expect(fn('lookup_to_dset')(d, 'location', 'sip:bob@ksr.test')).toBe(1);
    expect((d.msg as SipRequest).newRequestUri).toBeUndefined();
    expect(d.state.branches.map((b) => b.uri)).toEqual(['sip:bob@192.0.2.21:5060;transport=tcp', 'sip:bob@192.0.2.20:5060', 'sip:bob@192.0.2.22:5060']);
    expect(fn('lookup_to_dset')(ctx(invite('sip:bob@ksr.test')), 'location', '')).toBe(1); // "" = R-URI
    expect(fn('lookup_uri')(c, 'location', 'not a uri')).toBe(-3);
  });

  it('lookup_branches resolves the R-URI and the plain branches', async () => {
    const { fn, ctx, save } = await withBindings();
    save(register('carol', { contacts: ['<sip:carol@192.0.2.30>'] }));
    const c = ctx(invite('sip:bob@ksr.test'));
    c.state.branches.push({ uri: 'sip:carol@ksr.test', q: -1, flags: 0 });
    c.state.branches.push({ uri: 'sip:dave@ksr.test', q: -1, flags: 0 });
    c.state.branches.push({ uri: 'sip:carol@ksr.test', q: -1, flags: 0, dstUri: 'sip:10.1.1.1' });
    expect(fn('lookup_branches')(c, 'location')).toBe(1);
    expect(c.state.branches.map((b) => b.uri)).toEqual([
      'sip:carol@192.0.2.30',
      'sip:dave@ksr.test',
      'sip:carol@ksr.test',
      'sip:bob@192.0.2.20:5060',
      'sip:bob@192.0.2.22:5060',
    ]);
    const none = ctx(invite('sip:nobody@ksr.test'));
    expect(fn('lookup_branches')(none, 'location')).toBe(-1);
    none.state.branches.push({ uri: 'sip:carol@ksr.test', q: -1, flags: 0 });
    expect(fn('lookup_branches')(none, 'location')).toBe(1);
  });
});

describe('registrar registered / unregister / fetch / misc', () => {
  it('registered(): R-URI for requests, To for replies; registered_uri', async () => {
    const { fn, ctx, save } = await setup();
    save(register('alice'));
    expect(fn('registered')(ctx(invite('sip:alice@ksr.test')), 'location')).toBe(1);
    expect(fn('registered')(ctx(invite('sip:bob@ksr.test')), 'location')).toBe(-1);
    const res = ctx(['SIP/2.0 200 OK', 'Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-1', 'From: <sip:x@ksr.test>;tag=1', 'To: <sip:alice@ksr.test>;tag=2', 'Call-ID: r1', 'CSeq: 1 INVITE'], { routeType: 'reply' });
    expect(fn('registered')(res, 'location')).toBe(1);
    expect(fn('registered_uri')(ctx(invite('sip:x@ksr.test')), 'location', 'sip:alice@ksr.test')).toBe(1);
    expect(fn('registered_uri')(ctx(invite('sip:x@ksr.test')), 'location', 'garbage')).toBe(-1);
  });

  it('registered_flags / registered_action match $xavp(xavp_cfg=>match_*)', async () => {
    const { fn, ctx, save, ul } = await setup({ reg: { xavp_cfg: 'regcfg', xavp_rcd: 'rcd' } });
    save(register('alice', { callId: 'the-call' }));
    const withCfg = (fields: Record<string, string>) => {
      const st = new MessageState();
      st.xavps.set('regcfg', [new Map(Object.entries(fields).map(([k, v]) => [k, [v]]))]);
      return ctx(invite('sip:x@ksr.test'), { state: st });
    };
    expect(fn('registered_flags')(withCfg({ match_callid: 'the-call' }), 'location', 'sip:alice@ksr.test', 1)).toBe(1);
    expect(fn('registered_flags')(withCfg({ match_callid: 'other' }), 'location', 'sip:alice@ksr.test', 1)).toBe(-1);
    expect(fn('registered_flags')(withCfg({ match_callid: 'other' }), 'location', 'sip:alice@ksr.test', 0)).toBe(1);
    expect(fn('registered_flags')(withCfg({ match_contact: 'sip:alice@192.0.2.10:5070' }), 'location', 'sip:alice@ksr.test', 4)).toBe(1);
    expect(fn('registered_flags')(withCfg({ match_received: 'sip:1.2.3.4' }), 'location', 'sip:alice@ksr.test', 2)).toBe(-1);
    const a = withCfg({});
    expect(fn('registered_action')(a, 'location', 'sip:alice@ksr.test', 0, 0)).toBe(1);
    expect(a.state.xavps.get('rcd')![0]!.get('ruid')).toEqual([ul.contacts('location', 'alice')[0]!.ruid]);
    const b = withCfg({});
    expect(fn('registered_action')(b, 'location', 'sip:alice@ksr.test', 0, 2)).toBe(1);
    expect(b.state.xavps.get('rcd')).toBeUndefined();
  });

  it('unregister removes every contact of the AOR; unregister_ruid one', async () => {
    const { fn, ctx, save, ul } = await setup();
    save(register('alice', { contacts: ['<sip:a1@192.0.2.1>', '<sip:a2@192.0.2.2>'] }));
    save(register('bob'));
    const c = ctx(invite('sip:x@ksr.test'));
    const ruid = ul.contacts('location', 'alice').find((x) => x.uri === 'sip:a1@192.0.2.1')!.ruid;
    expect(fn('unregister_ruid')(c, 'location', 'sip:alice@ksr.test', ruid)).toBe(1);
    expect(ul.contacts('location', 'alice').map((x) => x.uri)).toEqual(['sip:a2@192.0.2.2']);
    expect(fn('unregister_ruid')(c, 'location', 'sip:alice@ksr.test', ruid)).toBe(-3);
    expect(fn('unregister_ruid')(c, 'location', 'sip:bob@ksr.test', ul.contacts('location', 'alice')[0]!.ruid)).toBe(-3);
    expect(fn('unregister')(c, 'location', 'sip:alice@ksr.test')).toBe(1);
    expect(fn('unregister')(c, 'location', 'sip:alice@ksr.test')).toBe(-3);
    const bobRuid = ul.contacts('location', 'bob')[0]!.ruid;
    expect(fn('unregister_ruid')(c, 'location', '', bobRuid)).toBe(1);
    expect(fn('unregister')(c, 'location', '')).toBe(-1);
    expect(fn('unregister')(c, 'location', 'sip:ksr.test')).toBe(-1);
  });

  it('reg_fetch_contacts fills $ulc(profile=>…), ulc_rget / ulc_cget read it, reg_free_contacts empties it', async () => {
    const { fn, ctx, save, pv, ul } = await setup();
    save(register('alice', { contacts: ['<sip:a1@192.0.2.1>;q=0.2', '<sip:a2@192.0.2.2>;q=0.9'], extra: ['User-Agent: ua/2'] }));
    const c = ctx(invite('sip:x@ksr.test'));
    expect(fn('reg_fetch_contacts')(c, 'location', 'sip:alice@ksr.test', 'caller')).toBe(1);
    const get = (name: string) => {
      const a = pv.lookup(name);
      if (a instanceof Error) throw a;
      return a.get(c);
    };
    expect(get('$ulc(caller=>aor)')).toBe('alice');
    expect(get('$ulc(caller=>domain)')).toBe('location');
    expect(get('$ulc(caller=>count)')).toBe(2);
    expect(get('$ulc(caller=>aorhash)')).toBe(ul.aorHash('alice'));
    expect(get('$ulc(caller=>addr)')).toBe('sip:a2@192.0.2.2');
    expect(get('$(ulc(caller=>addr)[1])')).toBe('sip:a1@192.0.2.1');
    expect(get('$(ulc(caller=>q)[1])')).toBe(200);
    expect(get('$(ulc(caller=>addr)[-1])')).toBe('sip:a1@192.0.2.1');
    expect(get('$(ulc(caller=>addr)[5])')).toBeNull();
    expect(get('$ulc(caller=>user_agent)')).toBe('ua/2');
    expect(get('$ulc(caller=>received)')).toBeNull();
    expect(typeof get('$ulc(caller=>expires)')).toBe('number');
    expect(pv.lookup('$ulc(caller=>nonsense)')).toBeInstanceOf(Error);
    expect(pv.lookup('$ulc(caller)')).toBeInstanceOf(Error);
    expect(fn('ulc_rget')(c, 'caller', 'count')).toBe(2);
    expect(fn('ulc_rget')(c, 'caller', 'addr')).toBeNull();
    expect(fn('ulc_cget')(c, 'caller', 'addr', 1)).toBe('sip:a1@192.0.2.1');
    expect(fn('ulc_cget')(c, 'caller', 'ruid', 0)).toBe(ul.contacts('location', 'alice')[0]!.ruid);
    expect(fn('ulc_cget')(c, 'caller', 'count', 0)).toBeNull();
    expect(fn('reg_free_contacts')(c, 'caller')).toBe(1);
    expect(get('$ulc(caller=>count)')).toBe(0);
    expect(fn('reg_free_contacts')(c, '')).toBe(-1);
    expect(fn('reg_fetch_contacts')(c, 'location', 'sip:nobody@ksr.test', 'caller')).toBe(-1);
    expect(fn('reg_fetch_contacts')(c, 'location', 'sip:alice@ksr.test', '')).toBe(-1);
    expect(fn('reg_fetch_contacts')(c, 'location', '%%%', 'x')).toBe(-1);
  });

  it('fills $ulc(exp=>…) with each contact that expires', async () => {
    const { save, clock, pv, ctx } = await setup({ reg: { min_expires: 1 } });
    save(register('alice', { expires: 1 }));
    clock.advance(2_000);
    const a = pv.lookup('$ulc(exp=>aor)');
    if (a instanceof Error) throw a;
    expect(a.get(ctx(invite('sip:x@ksr.test')))).toBe('alice');
  });

  it('event_callback: usrloc:contact-expired runs for each expired contact, $ulc(exp=>…) set', async () => {
    const clock = new FakeClock();
    const pv = createPvRegistry();
    const stats = new StatsRegistry();
    const ulInst = await usrlocModule.create(moduleContext('usrloc', { timer_interval: 1 }, { clock, stats, pv }));
    const ul = ulInst.api as UsrlocApi;
    const runs: Array<[string, string, unknown]> = [];
    const svc = services();
    const probe = context(invite('sip:x@ksr.test'), { services: svc });
    const mctx = {
      ...moduleContext('registrar', { min_expires: 1, event_callback: 'ksr_registrar_event' }, { clock, stats, pv, apis: { usrloc: ul } }),
      events: {
        run(callback: string, event: string) {
          const a = pv.lookup('$ulc(exp=>aor)');
          if (a instanceof Error) throw a;
          runs.push([callback, event, a.get(probe)]);
          return true;
        },
      },
    };
    const { fn } = await instantiate(registrarModule, mctx);
    fn('save')(context(register('alice', { expires: 1 }), { services: svc }), 'location', 0);
    expect(runs).toEqual([]);
    clock.advance(2_000);
    expect(runs).toEqual([['ksr_registrar_event', 'usrloc:contact-expired', 'alice']]);
  });

  it('add_sock_hdr adds the receiving socket as a header; a bad name → -1', async () => {
    const { fn, ctx } = await setup();
    const c = ctx(register('a'));
    expect(fn('add_sock_hdr')(c, 'Sock-Info')).toBe(1);
    expect(c.msg.serialize().toString()).toContain('Sock-Info: udp:127.0.0.1:5060\r\n');
    expect(fn('add_sock_hdr')(c, 'bad name')).toBe(-1);
  });

  it('sock_flag + sock_hdr_name: the socket comes from the header', async () => {
    const { fn, ctx, ul } = await setup({ reg: { sock_flag: 18, sock_hdr_name: 'Sock-Info' } });
    const st = new MessageState();
    st.flags = 1 << 18;
    fn('save')(ctx(register('a', { extra: ['Sock-Info: tcp:10.0.0.1:5060'] }), { state: st }), 'location', 0);
    expect(ul.contacts('location', 'a')[0]!.socket).toBe('tcp:10.0.0.1:5060');
  });

  it('declares usrloc as a dependency and sl as optional; checks its parameters', async () => {
    expect(registrarModule.dependencies).toEqual(['usrloc']);
    expect(registrarModule.optionalDependencies).toEqual(['sl']);
    expect(registrarModule.params.path_mode!.check!(3)).toBeDefined();
    expect(registrarModule.params.default_q!.check!(500)).toBeUndefined();
    expect(registrarModule.params.default_q!.check!(2000)).toBeDefined();
    await expect(Promise.resolve().then(() => registrarModule.create(moduleContext('registrar', {})))).rejects.toThrow(/usrloc/);
  });

  it('exports Kamailio\'s KEMI names and types', async () => {
    const { instance } = await setup();
    const sig = Object.fromEntries((instance.exports ?? []).map((e) => [e.name, `${e.returns}(${e.params.join(',')})`]));
    expect(sig).toEqual({
      save: 'int(str,int)',
      save_uri: 'int(str,int,str)',
      lookup: 'int(str)',
      lookup_uri: 'int(str,str)',
      lookup_to_dset: 'int(str,str)',
      lookup_branches: 'int(str)',
      registered: 'int(str)',
      registered_uri: 'int(str,str)',
      registered_flags: 'int(str,str,int)',
      registered_action: 'int(str,str,int,int)',
      set_q_override: 'int(str)',
      add_sock_hdr: 'int(str)',
      unregister: 'int(str,str)',
      unregister_ruid: 'int(str,str,str)',
      reg_fetch_contacts: 'int(str,str,str)',
      reg_free_contacts: 'int(str)',
      reg_send_reply: 'int()',
      ulc_rget: 'xval(str,str)',
      ulc_cget: 'xval(str,str,int)',
    });
  });
});
