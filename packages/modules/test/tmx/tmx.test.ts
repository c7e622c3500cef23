import type { RouteContext } from '@ksr/core';
import { describe, expect, it } from 'vitest';
import { INVITE_LINES, makeContext } from '../../../core/test/support/context.js';
import { createModule } from '../sl/module-context.js';
import { harness, type Harness } from '../tm/support.js';
import { MemoryPretranTable, pretranKey, tmxModule } from '../../src/tmx/index.js';

const UAS1 = '192.0.2.20:5080';
const UAS2 = '192.0.2.30:5090';

async function setup(params: Record<string, number | string> = {}, tmxParams: Record<string, number> = {}) {
  const h = await harness(params);
  const tmx = await createModule(tmxModule, { apis: { tm: h.api }, params: tmxParams, stats: h.mod.stats });
  const x = (name: string, ctx: RouteContext, ...args: unknown[]) => (tmx.fn(name) as (...a: unknown[]) => unknown)(ctx, ...args);
  return { h, tmx, x };
}

let nVia = 0;
function invite(h: Harness, uri = `sip:bob@${UAS1}`, callId = 'call-1@192.0.2.10'): RouteContext {
  const ctx = h.request(
    INVITE_LINES.map((l) =>
      l.startsWith('Via:') ? `Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-t${++nVia};rport` : l.startsWith('Call-ID:') ? `Call-ID: ${callId}` : l,
    ),
  );
  ctx.request!.setRequestUri(uri);
  return ctx;
}

const pv = (h: Harness, name: string, ctx: RouteContext) => h.mod.pv.compile(name).get(ctx);

describe('tmx route checks, t_flush_flags, t_precheck_trans', () => {
  it('t_is_*_route follow the route type', async () => {
    const { x } = await setup();
    const at = (rt: RouteContext['routeType']) => makeContext(INVITE_LINES, { routeType: rt });
    expect(['request', 'failure', 'branch', 'reply', 'tm-onreply'].map((rt) => x('t_is_request_route', at(rt as RouteContext['routeType'])))).toEqual([1, -1, -1, -1, -1]);
    expect(x('t_is_failure_route', at('failure'))).toBe(1);
    expect(x('t_is_failure_route', at('request'))).toBe(-1);
    expect(x('t_is_branch_route', at('branch'))).toBe(1);
    expect(x('t_is_branch_route', at('failure'))).toBe(-1);
    expect(x('t_is_reply_route', at('reply'))).toBe(1);
    expect(x('t_is_reply_route', at('tm-onreply'))).toBe(1);
    expect(x('t_is_reply_route', at('request'))).toBe(-1);
  });

  it('t_flush_flags: 1 with a transaction (one flag set per transaction), -1 without', async () => {
    const { h, x } = await setup();
    const ctx = invite(h);
    expect(x('t_flush_flags', ctx)).toBe(-1);
    h.call('t_newtran', ctx);
    ctx.state.flags |= 8;
    expect(x('t_flush_flags', ctx)).toBe(1);
  });

  it('t_flush_xflags: 1 with a transaction, -1 without', async () => {
    const { h, x } = await setup();
    const ctx = invite(h);
    expect(x('t_flush_xflags', ctx)).toBe(-1);
    h.call('t_newtran', ctx);
    expect(x('t_flush_xflags', ctx)).toBe(1);
  });

  it('t_precheck_trans: 1 for the same request while another processing holds it, -1 once released, ACK/CANCEL untracked', async () => {
    const { h, x } = await setup();
    const a = invite(h);
    const lines = INVITE_LINES.map((l) => (l.startsWith('Via:') ? `Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-t${nVia};rport` : l));
    const b = h.request(lines);
    expect(x('t_precheck_trans', a)).toBe(-1);
    expect(x('t_precheck_trans', a)).toBe(-1); // the same message again
    expect(x('t_precheck_trans', b)).toBe(1); // a retransmission while a is processed
    await Promise.resolve();
    expect(x('t_precheck_trans', h.request(lines))).toBe(-1);
    const ack = h.request(['ACK sip:bob@ksr.test SIP/2.0', 'Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-ack', 'From: <sip:a@b>;tag=1', 'To: <sip:c@d>;tag=2', 'Call-ID: x', 'CSeq: 1 ACK']);
    expect(x('t_precheck_trans', ack)).toBe(-1);
    expect(pretranKey(ack.request!)).toBeUndefined();
    const off = await setup({}, { precheck_trans: 0 });
    const c = invite(off.h);
    expect(off.x('t_precheck_trans', c)).toBe(-1);
    expect(off.x('t_precheck_trans', off.h.request(INVITE_LINES.map((l) => (l.startsWith('Via:') ? `Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-t${nVia};rport` : l))))).toBe(-1);
    // the table: owners, RFC 2543 keys
    const t = new MemoryPretranTable();
    expect(t.claim('k', 1)).toBe(true);
    expect(t.claim('k', 2)).toBe(false);
    t.release('k', 2);
    expect(t.size).toBe(1);
    t.release('k', 1);
    expect(t.size).toBe(0);
    const old = h.request(INVITE_LINES.map((l) => (l.startsWith('Via:') ? 'Via: SIP/2.0/UDP 192.0.2.10:5070;branch=1234' : l)));
    expect(pretranKey(old.request!)).toContain('call-1@192.0.2.10|10|INVITE|a1|');
  });
});

describe('tmx t_suspend / t_continue', () => {
  it('suspends, $T(id_index)/$T(id_label) identify it, t_continue runs the function as a failure route that may t_relay', async () => {
    const { h, x } = await setup();
    let routeType = '';
    h.routes.resume = (c) => {
      routeType = c.routeType;
      expect(x('t_is_failure_route', c)).toBe(1);
      c.request!.setRequestUri(`sip:bob@${UAS2}`);
      expect(h.call('t_relay', c)).toBe(1);
    };
    const ctx = invite(h);
    expect(x('t_suspend', ctx)).toBe(1);
    expect(x('t_suspend', ctx)).toBe(1);
    expect(h.upstream()).toEqual([100]);
    const idx = pv(h, '$T(id_index)', ctx) as number;
    const label = pv(h, '$T(id_label)', ctx) as number;
    expect(h.sent().filter((s) => 'method' in s.msg)).toHaveLength(0);
    // a retransmission is absorbed by the transaction
    expect(h.mod.instance.filterRequest!(h.request(INVITE_LINES.map((l) => (l.startsWith('Via:') ? `Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-t${nVia};rport` : l))))).toBe(true);
    const other = makeContext(['OPTIONS sip:ksr.test SIP/2.0', 'Via: SIP/2.0/UDP 192.0.2.99;branch=z9hG4bK-o', 'From: <sip:a@b>;tag=1', 'To: <sip:c@d>', 'Call-ID: o', 'CSeq: 1 OPTIONS'], {
      services: h.services,
    });
    expect(x('t_continue', other, idx, label + 1, 'resume')).toBe(-1);
    expect(x('t_continue', other, idx, label, 'resume')).toBe(1);
    expect(routeType).toBe('failure');
    const [out] = h.sentTo('INVITE', UAS2);
    expect(out!.uri).toBe(`sip:bob@${UAS2}`);
    h.answer(out!, 200);
    expect(h.upstream()).toEqual([100, 100, 200]);
    expect(x('t_continue', other, idx, label, 'resume')).toBe(-1); // no longer suspended
    h.sched.advance(200_000);
    expect(h.api.layer!.size).toEqual({ server: 0, client: 0 });
  });

  it('a suspended transaction not continued within fr_timer runs its failure route (408), else gets a 408', async () => {
    const { h, x } = await setup({ fr_timer: 2000 });
    let code = 0;
    h.routes.fail = (c) => {
      code = h.call('t_get_status_code', c) as number;
      expect(h.call('t_check_status', c, '408')).toBe(1);
      h.call('t_reply', c, 480, 'Later');
    };
    const ctx = invite(h);
    h.call('t_on_failure', ctx, 'fail');
    x('t_suspend', ctx);
    h.sched.advance(1999);
    expect(h.upstream()).toEqual([100]);
    h.sched.advance(1);
    expect(h.upstream()).toEqual([100, 480]);
    expect(code).toBe(100);
    const c2 = invite(h, `sip:bob@${UAS1}`, 'call-2');
    x('t_suspend', c2);
    h.sched.advance(2000);
    expect(h.upstream().at(-1)).toBe(408);
  });

  it('t_continue whose function neither relays nor replies answers 500; t_suspend errors', async () => {
    const { h, x } = await setup();
    h.routes.nothing = () => {};
    const ctx = invite(h);
    x('t_suspend', ctx);
    expect(x('t_continue', ctx, pv(h, '$T(id_index)', ctx), pv(h, '$T(id_label)', ctx), 'nothing')).toBe(1);
    expect(h.upstream()).toEqual([100, 500]);
    const replied = invite(h, `sip:bob@${UAS1}`, 'call-3');
    h.call('t_reply', replied, 404, 'No');
    expect(x('t_suspend', replied)).toBe(-1);
    expect(x('t_suspend', makeContext(INVITE_LINES, { routeType: 'failure', services: h.services }))).toBe(-1);
  });
});

describe('tmx t_drop, t_cancel_branches, t_cancel_callid, t_reply_callid, t_reuse_branch, stats', () => {
  it('t_drop in a failure route: nothing goes upstream, the transaction is freed after wt_timer', async () => {
    const { h, x } = await setup({ wt_timer: 1000 });
    h.routes.fail = (c) => {
      expect(x('t_drop_rcode', c, 99)).toBe(-1);
      expect(x('t_drop', c)).toBe(1);
    };
    const ctx = invite(h);
    expect(x('t_drop', ctx)).toBe(-1);
    h.call('t_on_failure', ctx, 'fail');
    h.call('t_relay', ctx);
    h.answer(h.sentTo('INVITE', UAS1)[0]!, 486);
    expect(h.upstream()).toEqual([100]);
    expect(h.call('t_get_status_code', ctx)).toBe(100);
    h.sched.advance(1000);
    h.sched.advance(100_000);
    expect(h.api.layer!.size).toEqual({ server: 0, client: 0 });
  });

  it('t_drop_rcode in an onreply route: the 6xx is not relayed', async () => {
    const { h, x } = await setup();
    h.routes.rpl = (c) => {
      if ((c.msg as { status: number }).status >= 600) expect(x('t_drop_rcode', c, 603)).toBe(1);
    };
    const ctx = invite(h);
    h.call('t_on_reply', ctx, 'rpl');
    h.call('t_relay', ctx);
    h.answer(h.sentTo('INVITE', UAS1)[0]!, 180);
    h.answer(h.sentTo('INVITE', UAS1)[0]!, 603);
    expect(h.upstream()).toEqual([100, 180]);
  });

  it('t_cancel_branches in the tm onreply route: "others", "this", "all", bad mode', async () => {
    for (const [mode, want] of [
      ['others', [0, 1]],
      ['this', [1, 0]],
      ['all', [1, 1]],
    ] as const) {
      const { h, x } = await setup();
      h.routes.rpl = (c) => {
        if (h.call('t_get_branch_index', c) === 0 && (c.msg as { status: number }).status === 183) {
          expect(x('t_cancel_branches', c, 'nonsense')).toBe(-1);
          expect(x('t_cancel_branches', c, mode)).toBe(1);
        }
      };
      const ctx = invite(h);
      expect(x('t_cancel_branches', ctx, 'this')).toBe(-1);
      ctx.state.branches.push({ uri: `sip:bob@${UAS2}`, q: -1, flags: 0 });
      h.call('t_on_reply', ctx, 'rpl');
      h.call('t_relay', ctx);
      h.answer(h.sentTo('INVITE', UAS2)[0]!, 180, 'b');
      h.answer(h.sentTo('INVITE', UAS1)[0]!, 183);
      expect([h.sentTo('CANCEL', UAS1).length, h.sentTo('CANCEL', UAS2).length]).toEqual(want);
    }
  });

  it('t_cancel_callid CANCELs the INVITE by Call-ID/CSeq with a Reason; t_reply_callid replies', async () => {
    const { h, x } = await setup();
    const ctx = invite(h, `sip:bob@${UAS1}`, 'cc-1');
    h.call('t_relay', ctx);
    h.answer(h.sentTo('INVITE', UAS1)[0]!, 180);
    const any = makeContext(INVITE_LINES, { services: h.services });
    expect(x('t_cancel_callid', any, 'cc-1', '11', 3, 200)).toBe(-1);
    expect(x('t_cancel_callid', any, 'nope', '10', 3, 200)).toBe(-1);
    expect(x('t_cancel_callid', any, 'cc-1', '10', 3, 200)).toBe(1);
    const [cancel] = h.sentTo('CANCEL', UAS1);
    expect(cancel!.header('reason')).toBe('SIP;cause=200');
    expect(ctx.state.flags & (1 << 3)).toBe(8);
    h.answer(cancel!, 200);
    h.answer(h.sentTo('INVITE', UAS1)[0]!, 487);
    expect(h.upstream()).toEqual([100, 180, 487]);
    expect(h.call('t_is_canceled', ctx)).toBe(1);

    const c2 = invite(h, `sip:bob@${UAS1}`, 'rc-1');
    h.call('t_newtran', c2);
    expect(x('t_reply_callid', any, 'rc-1', 'x', 404, 'No')).toBe(-1);
    expect(x('t_reply_callid', any, 'rc-1', '10', 404, 'Not Here')).toBe(1);
    expect(h.upstream().at(-1)).toBe(404);
    expect(x('t_reply_callid', any, 'rc-1', '10', 500, 'Again')).toBe(-1);
  });

  it('t_reuse_branch in a branch-failure route re-sends to the failed branch', async () => {
    const { h, x } = await setup();
    let tries = 0;
    h.routes.bf = (c) => {
      if (++tries > 1) return;
      expect(x('t_reuse_branch', c)).toBe(1);
      expect(c.request!.newRequestUri).toBe(`sip:bob@${UAS2}`);
      expect(h.call('t_relay', c)).toBe(1);
    };
    const ctx = invite(h, `sip:bob@${UAS2}`);
    ctx.state.dstUri = `sip:${UAS2}`;
    expect(x('t_reuse_branch', ctx)).toBe(-1);
    h.call('t_on_branch_failure', ctx, 'bf');
    h.call('t_relay', ctx);
    h.answer(h.sentTo('INVITE', UAS2)[0]!, 503);
    const sent = h.sentTo('INVITE', UAS2);
    expect(sent).toHaveLength(2);
    expect(sent[1]!.via[0]!.branch).not.toBe(sent[0]!.via[0]!.branch);
    h.answer(sent[1]!, 200, 'ok');
    expect(h.upstream()).toEqual([100, 200]);
  });

  it('statistics: tmx gauges read tm', async () => {
    const { h, x, tmx } = await setup();
    const ctx = invite(h);
    h.call('t_relay', ctx);
    h.answer(h.sentTo('INVITE', UAS1)[0]!, 486);
    h.call('t_uac_send', ctx, 'OPTIONS', `sip:a@${UAS2}`, '', '', 'From: <sip:k@ksr.test>\r\nTo: <sip:a@ksr.test>', '');
    void x;
    const s = Object.fromEntries(tmx.stats.select('tmx:').map((e) => [e.name, e.value]));
    expect(s.UAS_transactions).toBe(1);
    expect(s.UAC_transactions).toBe(1);
    expect(s['4xx_transactions']).toBe(1);
    expect(s['2xx_transactions']).toBe(0);
    expect(s.rpl_received).toBe(1);
    expect(s.rpl_generated).toBe(1);
    expect(s.rpl_sent).toBe(2);
    expect(s.inuse_transactions).toBeGreaterThan(0);
    expect(s.active_transactions).toBeLessThan(s.inuse_transactions!);
  });
});
