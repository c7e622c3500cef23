import { describe, expect, it } from 'vitest';
import { INVITE_LINES } from '../../../core/test/support/context.js';
import { harness } from './support.js';

const UAS1 = '192.0.2.20:5080';
const UAS2 = '192.0.2.30:5090';

function invite(h: Awaited<ReturnType<typeof harness>>, uri = `sip:bob@${UAS1}`) {
  const ctx = h.request();
  ctx.request!.setRequestUri(uri);
  return ctx;
}

describe('tm t_relay', () => {
  it('relays an INVITE: 100 Trying, our Via, 180 and 200 forwarded, stats', async () => {
    const h = await harness();
    const ctx = invite(h);
    expect(h.call('t_relay', ctx)).toBe(1);
    expect(ctx.relayed).toBe(true);
    expect(h.upstream()).toEqual([100]);
    const [out] = h.sentTo('INVITE', UAS1);
    expect(out).toBeDefined();
    expect(out!.uri).toBe(`sip:bob@${UAS1}`);
    expect(out!.via).toHaveLength(2);
    expect(out!.via[0]!.host).toBe('127.0.0.1');
    expect(out!.via[0]!.branch).toMatch(/^z9hG4bK/);
    expect(out!.maxForwards).toBe(70);
    expect(h.answer(out!, 100)).toBe(true);
    expect(h.answer(out!, 180)).toBe(true);
    expect(h.answer(out!, 200)).toBe(true);
    expect(h.upstream()).toEqual([100, 180, 200]);
    const ok = h.sent().at(-1)!.msg;
    expect(ok.via).toHaveLength(1);
    expect(ok.via[0]!.host).toBe('192.0.2.10');
    // 2xx retransmission from the UAS is relayed too
    expect(h.answer(out!, 200)).toBe(true);
    expect(h.upstream()).toEqual([100, 180, 200, 200]);
    expect(h.mod.stats.snapshot('tm')['tm:rpl_received']).toBe(4);
    expect(h.mod.stats.snapshot('tm')['tm:created']).toBe(2);
    // everything is freed after the wait timers
    h.sched.advance(100_000);
    expect(h.api.layer!.size).toEqual({ server: 0, client: 0 });
    expect(h.mod.stats.snapshot('tm')['tm:current']).toBe(0);
  });

  it('absorbs request retransmissions (the last reply is sent again) and the ACK of a non-2xx', async () => {
    const h = await harness();
    const ctx = invite(h);
    h.call('t_relay', ctx);
    const again = h.request();
    expect(h.mod.instance.filterRequest!(again)).toBe(true);
    expect(h.upstream()).toEqual([100, 100]);
    const [out] = h.sentTo('INVITE', UAS1);
    h.answer(out!, 486);
    expect(h.upstream()).toEqual([100, 100, 486]);
    // ACK sent downstream by the client transaction
    expect(h.sentTo('ACK', UAS1)).toHaveLength(1);
    const toTag = (h.sent().at(-2)!.msg.to.tag ?? h.sent().find((s) => 'status' in s.msg && s.msg.status === 486)!.msg.to.tag)!;
    const ack = h.request([
      'ACK sip:bob@ksr.test SIP/2.0',
      'Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-inv1;rport',
      'Max-Forwards: 70',
      'From: "Alice" <sip:alice@atlanta.test>;tag=a1',
      `To: <sip:bob@ksr.test>;tag=${toTag}`,
      'Call-ID: call-1@192.0.2.10',
      'CSeq: 10 ACK',
    ]);
    expect(h.mod.instance.filterRequest!(ack)).toBe(true);
    // a new request is not absorbed
    const other = h.request(INVITE_LINES.map((l) => (l.startsWith('Via:') ? 'Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-other;rport' : l)));
    expect(h.mod.instance.filterRequest!(other)).toBe(false);
  });

  it('486 → failure route → t_relay to a second target (serial forking)', async () => {
    const h = await harness();
    let code = 0;
    h.routes.fail = (c) => {
      code = h.call('t_check_status', c, '486') as number;
      expect(h.call('t_branch_replied', c)).toBe(1);
      expect(h.call('t_branch_timeout', c)).toBe(-1);
      c.request!.setRequestUri(`sip:vm@${UAS2}`);
      expect(h.call('t_relay', c)).toBe(1);
    };
    const ctx = invite(h);
    expect(h.call('t_on_failure', ctx, 'fail')).toBe(1);
    expect(h.call('t_is_set', ctx, 'failure_route')).toBe(1);
    expect(h.call('t_is_set', ctx, 'branch_route')).toBe(-1);
    h.call('t_relay', ctx);
    const [b1] = h.sentTo('INVITE', UAS1);
    h.answer(b1!, 180);
    h.answer(b1!, 486);
    expect(code).toBe(1);
    expect(h.upstream()).toEqual([100, 180]);
    const [b2] = h.sentTo('INVITE', UAS2);
    expect(b2!.uri).toBe(`sip:vm@${UAS2}`);
    expect(b2!.via[0]!.branch).not.toBe(b1!.via[0]!.branch);
    h.answer(b2!, 200, 'vm');
    expect(h.upstream()).toEqual([100, 180, 200]);
  });

  it('no failure route: the best final is relayed; a 503 becomes 500', async () => {
    const h = await harness();
    const ctx = h.request();
    ctx.request!.setRequestUri(`sip:bob@${UAS1}`);
    ctx.state.branches.push({ uri: `sip:bob@${UAS2}`, q: -1, flags: 0 });
    h.call('t_relay', ctx);
    h.answer(h.sentTo('INVITE', UAS1)[0]!, 503);
    expect(h.upstream()).toEqual([100]);
    h.answer(h.sentTo('INVITE', UAS2)[0]!, 404);
    expect(h.upstream()).toEqual([100, 404]);
  });

  it('timeout → 408 after fr_inv_timer, or the failure route with t_branch_timeout', async () => {
    const h = await harness({ fr_timer: 2000, fr_inv_timer: 5000 });
    const ctx = invite(h);
    h.call('t_relay', ctx);
    h.answer(h.sentTo('INVITE', UAS1)[0]!, 180);
    h.sched.advance(4999);
    expect(h.upstream()).toEqual([100, 180]);
    h.sched.advance(1);
    expect(h.upstream()).toEqual([100, 180, 408]);

    const h2 = await harness({ fr_timer: 2000 });
    let timeout = 0;
    h2.routes.f = (c) => {
      timeout = h2.call('t_branch_timeout', c) as number;
      expect(h2.call('t_any_timeout', c)).toBe(1);
      expect(h2.call('t_check_status', c, '408')).toBe(1);
      h2.call('t_reply', c, 480, 'Unavailable');
    };
    const c2 = invite(h2);
    h2.call('t_on_failure', c2, 'f');
    h2.call('t_relay', c2);
    h2.sched.advance(2000);
    expect(timeout).toBe(1);
    expect(h2.upstream()).toEqual([100, 480]);
  });

  it('CANCEL while ringing: 200 to the CANCEL, CANCEL downstream, 487 relayed', async () => {
    const h = await harness();
    const ctx = invite(h);
    h.call('t_relay', ctx);
    const [out] = h.sentTo('INVITE', UAS1);
    h.answer(out!, 180);
    const cancel = h.request([
      'CANCEL sip:bob@ksr.test SIP/2.0',
      'Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-inv1;rport',
      'Max-Forwards: 70',
      'From: "Alice" <sip:alice@atlanta.test>;tag=a1',
      'To: <sip:bob@ksr.test>',
      'Call-ID: call-1@192.0.2.10',
      'CSeq: 10 CANCEL',
    ]);
    expect(h.mod.instance.filterRequest!(cancel)).toBe(false);
    expect(h.call('t_check_trans', cancel)).toBe(1);
    expect(h.call('t_lookup_cancel', cancel)).toBe(1);
    expect(h.call('t_relay', cancel)).toBe(1);
    expect(h.upstream()).toEqual([100, 180, 200]);
    const [down] = h.sentTo('CANCEL', UAS1);
    expect(down!.via[0]!.branch).toBe(out!.via[0]!.branch);
    h.answer(down!, 200);
    h.answer(out!, 487);
    expect(h.upstream()).toEqual([100, 180, 200, 487]);
    expect(h.call('t_is_canceled', ctx)).toBe(1);
  });

  it('parallel fork: the first 200 wins, the other branch is cancelled', async () => {
    const h = await harness();
    const ctx = invite(h);
    ctx.state.branches.push({ uri: `sip:bob@${UAS2}`, q: -1, flags: 0 });
    h.call('t_relay', ctx);
    const [a] = h.sentTo('INVITE', UAS1);
    const [b] = h.sentTo('INVITE', UAS2);
    h.answer(a!, 180, 'a');
    h.answer(b!, 180, 'b');
    h.answer(a!, 200, 'a');
    expect(h.upstream()).toEqual([100, 180, 180, 200]);
    const [cb] = h.sentTo('CANCEL', UAS2);
    expect(cb!.header('reason')).toContain('cause=200');
    h.answer(cb!, 200, 'b');
    h.answer(b!, 487, 'b');
    expect(h.upstream()).toEqual([100, 180, 180, 200]);
  });

  it('branch route per branch (drop = not sent) and tm onreply route (drop = provisional not relayed)', async () => {
    const h = await harness();
    const seen: number[] = [];
    h.routes.br = (c) => {
      const idx = h.call('t_get_branch_index', c) as number;
      seen.push(idx);
      if (idx === 1) c.dropRequested = true;
      else (c.msg as { appendHeader(n: string, v: string): void }).appendHeader('X-Branch', String(idx));
    };
    const codes: number[] = [];
    h.routes.rpl = (c) => {
      codes.push(h.mod.pv.compile('$T_reply_code').get(c) as number);
      if ((c.msg as { status: number }).status === 183) c.dropRequested = true;
    };
    const ctx = invite(h);
    ctx.state.branches.push({ uri: `sip:bob@${UAS2}`, q: -1, flags: 0 });
    h.call('t_on_branch', ctx, 'br');
    h.call('t_on_reply', ctx, 'rpl');
    expect(h.call('t_relay', ctx)).toBe(1);
    expect(seen).toEqual([0, 1]);
    expect(h.sentTo('INVITE', UAS2)).toHaveLength(0);
    const [a] = h.sentTo('INVITE', UAS1);
    expect(a!.header('x-branch')).toBe('0');
    h.answer(a!, 183);
    h.answer(a!, 180);
    h.answer(a!, 200);
    expect(codes).toEqual([183, 180, 200]);
    expect(h.upstream()).toEqual([100, 180, 200]);
  });

  it('t_reply / replyInTransaction reply statefully; t_newtran, t_exists, t_release', async () => {
    const h = await harness({ auto_inv_100: 0 });
    const ctx = h.request();
    expect(h.api.replyInTransaction(ctx, 404, 'Not Here')).toBeUndefined();
    expect(h.call('t_exists', ctx)).toBe(-1);
    expect(h.call('t_newtran', ctx)).toBe(1);
    expect(h.upstream()).toEqual([]);
    expect(h.call('t_exists', ctx)).toBe(1);
    expect(h.call('t_lookup_request', h.request())).toBe(1);
    expect(h.api.replyInTransaction(ctx, 404, 'Not Here')).toBe(1);
    expect(h.upstream()).toEqual([404]);
    expect(h.call('t_get_status_code', ctx)).toBe(404);
    expect(h.call('t_reply', ctx, 99, 'x')).toBe(-1);
    expect(h.call('t_reply', ctx, 500, 'again')).toBe(-1);
    // retransmission: t_check_trans re-sends and returns 0
    expect(h.call('t_check_trans', h.request())).toBe(0);
    expect(h.upstream()).toEqual([404, 404]);
    expect(h.call('t_release', ctx)).toBe(1);
    expect(h.call('t_release', ctx)).toBe(-1);
  });

  it('bad arguments and targets', async () => {
    const h = await harness();
    let n = 0;
    const fresh = () => h.request(INVITE_LINES.map((l) => (l.startsWith('Via:') ? `Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-f${++n};rport` : l)));
    const ctx = invite(h, 'sip:bob@example.com');
    expect(h.call('t_relay', ctx)).toBe(-1);
    expect(h.call('t_relay_to_proxy', fresh(), 'not a proxy!')).toBe(-1);
    expect(h.call('t_relay_to_proto_addr', fresh(), 'sctp', '1.2.3.4', 5060)).toBe(-1);
    expect(h.call('t_check_status', ctx, '(')).toBe(-1);
    expect(h.call('t_is_set', ctx, 'nonsense')).toBe(-1);
    expect(h.call('t_set_fr', ctx, -1, 0)).toBe(-1);
    expect(h.call('t_relay_to_proto_addr', fresh(), 'udp', '192.0.2.30', 5090)).toBe(1);
    expect(h.sentTo('INVITE', UAS2)).toHaveLength(1);
    expect(h.call('t_relay_to_proxy', fresh(), 'udp:192.0.2.20:5080')).toBe(1);
    expect(h.sentTo('INVITE', UAS1)).toHaveLength(1);
    // a reply given to t_relay
    const { makeContext } = await import('../../../core/test/support/context.js');
    const rctx = makeContext(['SIP/2.0 200 OK', 'Via: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK-r', 'From: <sip:a@b>;tag=1', 'To: <sip:c@d>', 'Call-ID: r1', 'CSeq: 1 INVITE'], { services: h.services });
    expect(h.call('t_relay', rctx)).toBe(-1);
  });

  it('Path becomes Route, rr refresh is called per branch, ACK (2xx) is forwarded statelessly, tables empty after many calls', async () => {
    const refreshed: string[] = [];
    const { createModule } = await import('../sl/module-context.js');
    const { tmModule } = await import('../../src/tm/index.js');
    const { FakeScheduler } = await import('@ksr/core');
    const mod = await createModule(tmModule, { apis: { rr: { refresh: (c: { state: { dstUri?: string } }) => refreshed.push(c.state.dstUri ?? '') } } });
    const api = mod.api<import('../../src/tm/index.js').TmApi>();
    const sched = new FakeScheduler();
    api.setScheduler(sched);
    const h = await harness();
    const ctx = h.request();
    ctx.request!.setRequestUri('sip:bob@10.0.0.1');
    ctx.state.dstUri = `sip:${UAS1}`;
    ctx.state.ruriPath = `<sip:${UAS1};lr>`;
    h.call('t_relay', ctx);
    const [out] = h.sentTo('INVITE', UAS1);
    expect(out!.uri).toBe('sip:bob@10.0.0.1');
    expect(out!.header('route')).toBe(`<sip:${UAS1};lr>`);
    // rr refresh sees the branch destination
    const c2 = h.request();
    const services = h.services;
    const { makeContext } = await import('../../../core/test/support/context.js');
    const rc = makeContext(INVITE_LINES, { services });
    rc.request!.setRequestUri(`sip:bob@${UAS2}`);
    expect((mod.fn('t_relay') as (c: unknown) => number)(rc)).toBe(1);
    expect(refreshed).toEqual(['']);
    void c2;
    const ack = h.request([
      `ACK sip:bob@${UAS1} SIP/2.0`,
      'Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-ack2;rport',
      'Max-Forwards: 70',
      'From: <sip:alice@atlanta.test>;tag=a1',
      'To: <sip:bob@ksr.test>;tag=uas',
      'Call-ID: call-1@192.0.2.10',
      'CSeq: 10 ACK',
    ]);
    expect(h.mod.instance.filterRequest!(ack)).toBe(false);
    expect(h.call('t_relay', ack)).toBe(1);
    expect(h.sentTo('ACK', UAS1)).toHaveLength(1);
    // many transactions: every table returns to empty
    const h3 = await harness();
    for (let i = 0; i < 50; i++) {
      const c = h3.request(INVITE_LINES.map((l) => (l.startsWith('Via:') ? `Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-m${i};rport` : l)));
      c.request!.setRequestUri(`sip:bob@${UAS1}`);
      h3.call('t_relay', c);
      const o = h3.sentTo('INVITE', UAS1).at(-1)!;
      h3.answer(o, i % 2 ? 200 : 486);
    }
    h3.sched.advance(200_000);
    expect(h3.api.layer!.size).toEqual({ server: 0, client: 0 });
    expect(h3.sched.pending).toBe(0);
  });
});
