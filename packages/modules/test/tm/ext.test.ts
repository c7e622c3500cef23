import type { RouteContext, SipRequest } from '@ksr/core';
import { describe, expect, it } from 'vitest';
import { INVITE_LINES } from '../../../core/test/support/context.js';
import { testConfig } from '../support/common.js';
import { harness, type Harness } from './support.js';

const UAS1 = '192.0.2.20:5080';
const UAS2 = '192.0.2.30:5090';
const UAS3 = '192.0.2.40:5070';
const CONTACTS = { contacts_avp: 'tm_contacts', contact_flows_avp: 'tm_flows' };

let nVia = 0;
/** A fresh INVITE (own Via branch, so its own transaction). */
function invite(h: Harness, uri = `sip:bob@${UAS1}`): RouteContext {
  const ctx = h.request(INVITE_LINES.map((l) => (l.startsWith('Via:') ? `Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-x${++nVia};rport` : l)));
  ctx.request!.setRequestUri(uri);
  return ctx;
}

const pv = (h: Harness, name: string, ctx: RouteContext) => h.mod.pv.compile(name).get(ctx);

describe('tm t_load_contacts / t_next_contacts', () => {
  it('serial forking by q: highest first, equal q in parallel, unspecified q last, -2 at the end', async () => {
    const h = await harness(CONTACTS);
    const ctx = invite(h, `sip:a@${UAS1}`); // R-URI, q unspecified: the lowest
    ctx.state.branches.push({ uri: `sip:b@${UAS2}`, q: 500, flags: 0 }, { uri: `sip:c@${UAS3}`, q: 500, flags: 0 }, { uri: 'sip:d@192.0.2.50:5060', q: 1000, flags: 4 });
    expect(h.call('t_load_contacts', ctx)).toBe(1);
    expect(ctx.state.branches).toEqual([]);
    const recs = ctx.state.xavps.get('tm_contacts')!;
    expect(recs.map((r) => r.get('uri')![0])).toEqual(['sip:d@192.0.2.50:5060', `sip:b@${UAS2}`, `sip:c@${UAS3}`, `sip:a@${UAS1}`]);
    expect(recs.map((r) => r.has('last'))).toEqual([true, false, true, true]);
    const rounds: string[][] = [];
    const next: number[] = [];
    h.routes.serial = (c) => {
      const r = h.call('t_next_contacts', c) as number;
      next.push(r);
      if (r < 0) return;
      h.call('t_on_failure', c, 'serial');
      expect(h.call('t_relay', c)).toBe(1);
    };
    expect(h.call('t_next_contacts', ctx)).toBe(1);
    expect(ctx.request!.newRequestUri).toBe('sip:d@192.0.2.50:5060');
    expect(ctx.state.ruriQ).toBe(1000);
    expect(ctx.state.branchFlags[0]).toBe(4);
    h.call('t_on_failure', ctx, 'serial');
    expect(h.call('t_relay', ctx)).toBe(1);
    const [d] = h.sentTo('INVITE', '192.0.2.50:5060');
    rounds.push(h.sent().filter((s) => 'method' in s.msg && s.msg.method === 'INVITE').map((s) => (s.msg as SipRequest).uri));
    h.answer(d!, 486);
    // B and C in parallel
    const b = h.sentTo('INVITE', UAS2)[0]!;
    const c = h.sentTo('INVITE', UAS3)[0]!;
    expect(b.uri).toBe(`sip:b@${UAS2}`);
    expect(c.uri).toBe(`sip:c@${UAS3}`);
    h.answer(b, 480, 'b');
    expect(h.sentTo('INVITE', UAS1)).toHaveLength(0);
    h.answer(c, 404, 'c');
    // then A
    const a = h.sentTo('INVITE', UAS1)[0]!;
    expect(a.uri).toBe(`sip:a@${UAS1}`);
    expect(h.upstream()).toEqual([100]);
    h.answer(a, 603, 'a');
    expect(next).toEqual([1, 1, -2]);
    expect(h.upstream()).toEqual([100, 603]);
    expect(ctx.state.xavps.has('tm_contacts')).toBe(false);
    expect(rounds[0]).toEqual(['sip:d@192.0.2.50:5060']);
  });

  it('one branch: nothing to do; errors without contacts_avp or with a bad mode; mode 1 tries one contact at a time', async () => {
    const h = await harness(CONTACTS);
    const one = invite(h);
    expect(h.call('t_load_contacts', one)).toBe(1);
    expect(one.state.xavps.has('tm_contacts')).toBe(false);
    expect(h.call('t_next_contacts', one)).toBe(-2);
    expect(h.call('t_load_contacts_mode', one, 7)).toBe(-1);
    const plain = await harness();
    const p = invite(plain);
    p.state.branches.push({ uri: `sip:b@${UAS2}`, q: 500, flags: 0 });
    expect(plain.call('t_load_contacts', p)).toBe(-1);
    expect(plain.call('t_next_contacts', p)).toBe(-1);
    expect(p.state.branches).toHaveLength(1);

    // an R-URI left as received (lookup_to_dset) is not a contact
    const aor = h.request();
    aor.state.branches.push({ uri: `sip:b@${UAS2}`, q: 500, flags: 0 }, { uri: `sip:c@${UAS3}`, q: 1000, flags: 0 });
    expect(h.call('t_load_contacts', aor)).toBe(1);
    expect(aor.state.xavps.get('tm_contacts')!.map((r) => r.get('uri')![0])).toEqual([`sip:c@${UAS3}`, `sip:b@${UAS2}`]);
    expect(h.call('t_next_contacts', aor)).toBe(1);
    expect(aor.request!.newRequestUri).toBe(`sip:c@${UAS3}`);

    const ctx = invite(h, `sip:a@${UAS1}`);
    ctx.state.ruriQ = 0;
    ctx.state.branches.push({ uri: `sip:b@${UAS2}`, q: 500, flags: 0 }, { uri: `sip:c@${UAS3}`, q: 500, flags: 0 });
    expect(h.call('t_load_contacts_mode', ctx, 1)).toBe(1);
    const recs = ctx.state.xavps.get('tm_contacts')!;
    expect(recs.every((r) => r.has('last'))).toBe(true);
    expect(new Set(recs.slice(0, 2).map((r) => r.get('uri')![0]))).toEqual(new Set([`sip:b@${UAS2}`, `sip:c@${UAS3}`]));
    expect(recs[2]!.get('uri')![0]).toBe(`sip:a@${UAS1}`);
    expect(h.call('t_next_contacts', ctx)).toBe(1);
    expect(ctx.state.branches).toEqual([]);
  });

  it('one contact per +sip.instance; the branch-failure route takes the next flow (t_next_contact_flow)', async () => {
    const h = await harness(CONTACTS);
    const ctx = invite(h, `sip:alice@${UAS1}`);
    ctx.state.ruriQ = 1000;
    ctx.state.branches.push({ uri: `sip:alice@${UAS2}`, q: 1000, flags: 0, instance: '<urn:uuid:1>' });
    // both contacts of the same instance: make the R-URI one carry it too
    ctx.state.branches.unshift({ uri: `sip:alice@${UAS3}`, q: 1000, flags: 0, instance: '<urn:uuid:1>' });
    expect(h.call('t_load_contacts', ctx)).toBe(1);
    expect(h.call('t_next_contacts', ctx)).toBe(1);
    // R-URI (no instance) and the first contact of urn:uuid:1; the second waits in tm_flows
    expect(ctx.state.branches.map((b) => b.uri)).toEqual([`sip:alice@${UAS3}`]);
    expect(ctx.state.xavps.get('tm_flows')!.map((r) => r.get('uri')![0])).toEqual([`sip:alice@${UAS2}`]);
    const flow: number[] = [];
    h.routes.bf = (c) => {
      const r = h.call('t_next_contact_flow', c) as number;
      flow.push(r);
      if (r > 0) expect(h.call('t_relay', c)).toBe(1);
    };
    h.call('t_on_branch_failure', ctx, 'bf');
    expect(h.call('t_is_set', ctx, 'branch_failure_route')).toBe(1);
    h.call('t_relay', ctx);
    h.answer(h.sentTo('INVITE', UAS1)[0]!, 404); // no instance: nothing to take
    h.answer(h.sentTo('INVITE', UAS3)[0]!, 430, 'u3'); // flow failed: next flow of urn:uuid:1
    expect(flow).toEqual([-2, 1]);
    const [u2] = h.sentTo('INVITE', UAS2);
    expect(u2!.uri).toBe(`sip:alice@${UAS2}`);
    h.answer(u2!, 200, 'u2');
    expect(h.upstream()).toEqual([100, 200]);
  });
});

describe('tm branch-failure route, failure-route request copies, t_drop_replies', () => {
  it('runs for every negative final before the failure route, sees the reply; t_branch_timeout there', async () => {
    const h = await harness({ fr_timer: 1000 });
    const seen: Array<[number, number, unknown, number]> = [];
    h.routes.bf = (c) => {
      seen.push([h.call('t_get_branch_index', c) as number, pv(h, '$T_reply_code', c) as number, pv(h, '$T_rpl($rs)', c), h.call('t_branch_timeout', c) as number]);
      expect(c.routeType).toBe('branch-failure');
    };
    let failed = 0;
    h.routes.fail = () => {
      failed = seen.length;
    };
    const ctx = invite(h);
    ctx.state.branches.push({ uri: `sip:bob@${UAS2}`, q: -1, flags: 0 });
    h.call('t_on_branch_failure', ctx, 'bf');
    h.call('t_on_failure', ctx, 'fail');
    h.call('t_relay', ctx);
    h.answer(h.sentTo('INVITE', UAS1)[0]!, 486);
    h.sched.advance(1000); // branch 1 times out
    expect(seen).toEqual([
      [0, 486, 486, -1],
      [1, 408, null, 1],
    ]);
    expect(failed).toBe(2);
    expect(h.upstream()).toEqual([100, 486]);
  });

  it('failure routes start from the request as saved (t_save_lumps / first t_relay); their own edits do not leak', async () => {
    const h = await harness();
    let round = 0;
    h.routes.fail = (c) => {
      round++;
      expect(c.request!.header('x-late')).toBeUndefined();
      c.request!.appendHeader('X-Round', String(round));
      c.request!.setRequestUri(round === 1 ? `sip:bob@${UAS2}` : `sip:bob@${UAS3}`);
      h.call('t_on_failure', c, 'fail');
      h.call('t_relay', c);
    };
    const ctx = invite(h);
    expect(h.call('t_save_lumps', ctx)).toBe(-1); // no transaction yet
    h.call('t_newtran', ctx);
    ctx.request!.appendHeader('X-Early', '1');
    expect(h.call('t_save_lumps', ctx)).toBe(1);
    ctx.request!.appendHeader('X-Late', '1');
    h.call('t_on_failure', ctx, 'fail');
    h.call('t_relay', ctx);
    const [b0] = h.sentTo('INVITE', UAS1);
    expect(b0!.header('x-early')).toBe('1');
    expect(b0!.header('x-late')).toBe('1');
    h.answer(b0!, 486);
    const [b1] = h.sentTo('INVITE', UAS2);
    expect(b1!.header('x-early')).toBe('1');
    expect(b1!.header('x-late')).toBeUndefined();
    expect(b1!.headerValues('x-round')).toEqual(['1']);
    h.answer(b1!, 486, 'b1');
    const [b2] = h.sentTo('INVITE', UAS3);
    expect(b2!.headerValues('x-round')).toEqual(['2']);
    expect(b2!.header('x-early')).toBe('1');
  });

  it('t_drop_replies("a") leaves the earlier replies out of the best-reply choice; "n" keeps them', async () => {
    for (const [mode, want] of [
      ['a', 500],
      ['n', 486],
    ] as const) {
      const h = await harness();
      h.routes.fail = (c) => {
        expect(h.call('t_drop_replies', c, mode)).toBe(1);
        c.request!.setRequestUri(`sip:bob@${UAS2}`);
        h.call('t_relay', c);
      };
      const ctx = invite(h);
      expect(h.call('t_drop_replies', ctx, 'a')).toBe(-1); // not in a failure route
      h.call('t_on_failure', ctx, 'fail');
      h.call('t_relay', ctx);
      h.answer(h.sentTo('INVITE', UAS1)[0]!, 486);
      h.answer(h.sentTo('INVITE', UAS2)[0]!, 503, 'b');
      expect(h.upstream()).toEqual([100, want]);
    }
    const h = await harness();
    h.routes.fail = (c) => {
      expect(h.call('t_drop_replies', c, 'x')).toBe(-1);
      expect(h.call('t_drop_replies_all', c)).toBe(1);
    };
    const ctx = invite(h);
    h.call('t_on_failure', ctx, 'fail');
    h.call('t_relay', ctx);
    h.answer(h.sentTo('INVITE', UAS1)[0]!, 486);
    // no new branch: the drop has no effect, the best reply goes upstream
    expect(h.upstream()).toEqual([100, 486]);
  });
});

describe('tm t_replicate, t_uac_send, events, internal error reply', () => {
  it('t_replicate sends a copy statefully and absorbs its replies', async () => {
    const h = await harness();
    const ctx = invite(h);
    expect(h.call('t_replicate', ctx, `sip:${UAS2}`)).toBe(1);
    const [copy] = h.sentTo('INVITE', UAS2);
    expect(copy!.uri).toBe(`sip:bob@${UAS1}`);
    expect(copy!.via).toHaveLength(2);
    expect(h.answer(copy!, 200)).toBe(true);
    expect(h.upstream()).toEqual([]);
    expect(h.call('t_relay', ctx)).toBe(1);
    expect(h.sentTo('INVITE', UAS1)).toHaveLength(1);
    expect(h.call('t_replicate', ctx, 'sip:host.example.com')).toBe(-1);
  });

  it('t_uac_send builds a local request, runs event_callback("tm:local-request") that may change $du, absorbs the reply', async () => {
    const h = await harness({ event_callback: 'ksr_tm_event' });
    const events: Array<[string, readonly string[] | undefined, string]> = [];
    h.api.attachRouting({
      run(ctx, name, args) {
        events.push([name, args, ctx.routeType]);
        if (name === 'ksr_tm_event') ctx.state.dstUri = `sip:${UAS2}`;
        return { kind: 'ok', dropped: false };
      },
    });
    const ctx = invite(h);
    expect(h.call('t_uac_send', ctx, 'OPTIONS', 'sip:alice@ksr.test', `sip:${UAS1}`, '', 'From: <sip:ksr@ksr.test>\r\nTo: <sip:alice@ksr.test>\r\nX-A: 1', '')).toBe(1);
    expect(events).toEqual([['ksr_tm_event', ['tm:local-request'], 'event']]);
    expect(h.sentTo('OPTIONS', UAS1)).toHaveLength(0);
    const [opt] = h.sentTo('OPTIONS', UAS2);
    expect(opt!.uri).toBe('sip:alice@ksr.test');
    expect(opt!.from.tag).toMatch(/^[0-9a-f]+$/);
    expect(opt!.cseq).toEqual({ seq: 10, method: 'OPTIONS' });
    expect(opt!.callId).toMatch(/@ksr$/);
    expect(opt!.maxForwards).toBe(70);
    expect(opt!.header('x-a')).toBe('1');
    expect(opt!.header('user-agent')).toBe('ksr'); // user_agent_header's default
    expect(opt!.via).toHaveLength(1);
    expect(opt!.via[0]!.host).toBe('127.0.0.1');
    expect(h.answer(opt!, 200)).toBe(true);
    // a MESSAGE with a body
    expect(h.call('t_uac_send', ctx, 'MESSAGE', `sip:alice@${UAS1}`, '', '', 'From: <sip:k@ksr.test>;tag=1\nTo: <sip:a@ksr.test>\nContent-Type: text/plain', 'hello')).toBe(1);
    const msg = h.sentTo('MESSAGE', UAS2)[0]!; // the event callback moved it too
    expect(msg.body.toString()).toBe('hello');
    expect(msg.from.tag).toBe('1');
    // errors
    const bad = (...a: string[]) => h.call('t_uac_send', ctx, ...a);
    expect(bad('OPTIONS', 'sip:a@ksr.test', '', '', 'From: <sip:k@ksr.test>', '')).toBe(-1);
    expect(bad('INVITE', 'sip:a@ksr.test', '', '', 'From: <sip:k@ksr.test>\r\nTo: <sip:a@ksr.test>', '')).toBe(-1);
    expect(bad('OPT IONS', 'sip:a@ksr.test', '', '', 'From: <sip:k@ksr.test>\r\nTo: <sip:a@ksr.test>', '')).toBe(-1);
    expect(bad('MESSAGE', 'sip:a@ksr.test', '', '', 'From: <sip:k@ksr.test>\r\nTo: <sip:a@ksr.test>', 'body')).toBe(-1);
    expect(bad('OPTIONS', 'sip:a@ksr.test', '', 'udp:10.9.9.9:5060', 'From: <sip:k@ksr.test>\r\nTo: <sip:a@ksr.test>', '')).toBe(-1);
    expect(bad('OPTIONS', 'not a uri', '', '', 'From: <sip:k@ksr.test>\r\nTo: <sip:a@ksr.test>', '')).toBe(-1);
    expect(h.mod.exp('t_uac_send').params).toEqual(['str', 'str', 'str', 'str', 'str', 'str']);
  });

  it('t_uac_send: user_agent_header is the User-Agent of local requests; server_signature=no leaves it out', async () => {
    const loc = { file: 'test.cfg', line: 1 };
    const send = (h: Awaited<ReturnType<typeof harness>>, extra = '') => {
      expect(h.call('t_uac_send', invite(h), 'OPTIONS', `sip:alice@${UAS1}`, '', '', `From: <sip:k@ksr.test>\r\nTo: <sip:a@ksr.test>${extra}`, '')).toBe(1);
      return h.sentTo('OPTIONS', UAS1).at(-1)!;
    };
    const custom = await harness({}, testConfig({ globals: new Map([['user_agent_header', { value: 'User-Agent: edge-proxy/1', loc }]]) }));
    expect(send(custom).header('user-agent')).toBe('edge-proxy/1');
    expect(send(custom, '\r\nUser-Agent: mine').header('user-agent')).toBe('mine'); // the script's own wins
    const off = await harness({}, testConfig({ globals: new Map([['server_signature', { value: 'no', loc }]]) }));
    expect(send(off).header('user-agent')).toBeUndefined();
  });

  it('tm:local-response runs event_callback_lres_sent after a local reply', async () => {
    const h = await harness({ event_callback_lres_sent: 'lres' });
    const seen: Array<[readonly string[] | undefined, number]> = [];
    h.api.attachRouting({
      run(ctx, _name, args) {
        seen.push([args, (ctx.msg as { status: number }).status]);
        return { kind: 'ok', dropped: false };
      },
    });
    const ctx = invite(h);
    expect(h.call('t_reply', ctx, 404, 'Not Here')).toBe(1);
    expect(seen).toEqual([[['tm:local-response'], 404]]);
  });

  it('a t_relay that sends no branch answers 500 unless t_relay_to_flags(2) / t_set_disable_internal_reply(1)', async () => {
    const h = await harness();
    const a = invite(h, 'sip:bob@example.com');
    expect(h.call('t_relay', a)).toBe(-1);
    expect(h.upstream()).toEqual([100, 500]);
    const h2 = await harness();
    expect(h2.call('t_relay_to_flags', invite(h2, 'sip:bob@example.com'), 2)).toBe(-1);
    const b = invite(h2, 'sip:bob@example.com');
    expect(h2.call('t_set_disable_internal_reply', b, 1)).toBe(1);
    expect(h2.call('t_relay', b)).toBe(-1);
    expect(h2.upstream().filter((s) => s >= 200)).toEqual([]);
    expect(h2.call('t_set_disable_failover', b, 1)).toBe(1);
    expect(h2.call('t_is_retr_async_reply', b)).toBe(-1);
  });
});

describe('tm pseudo-variables', () => {
  it('$T_req, $T_rpl, $T(...), $T_reply_reason, $T_reply_last', async () => {
    const h = await harness();
    const got: Record<string, unknown> = {};
    h.routes.rpl = (c) => {
      got.req_fu = pv(h, '$T_req($fu)', c);
      got.req_rm = pv(h, '$T_req($rm)', c);
      got.rpl_rs = pv(h, '$T_rpl($rs)', c);
      got.last = pv(h, '$T_reply_last', c);
      got.type = pv(h, '$T(reply_type)', c);
    };
    h.routes.fail = (c) => {
      got.f_code = pv(h, '$T(reply_code)', c);
      got.f_reason = pv(h, '$T_reply_reason', c);
      got.f_rpl = pv(h, '$T_rpl($rr)', c);
      got.f_last = pv(h, '$T(reply_last)', c);
      got.f_type = pv(h, '$T(reply_type)', c);
      got.f_bidx = pv(h, '$T(branch_index)', c);
      got.f_idx = pv(h, '$T(id_index)', c);
    };
    const ctx = invite(h);
    expect(pv(h, '$T(id_index)', ctx)).toBeNull();
    expect(pv(h, '$T_req($fu)', ctx)).toBeNull();
    expect(typeof pv(h, '$T(id_index_n)', ctx)).toBe('number'); // creates the transaction
    const idx = pv(h, '$T(id_index)', ctx);
    const label = pv(h, '$T(id_label)', ctx);
    expect(typeof label).toBe('number');
    h.call('t_on_reply', ctx, 'rpl');
    h.call('t_on_failure', ctx, 'fail');
    ctx.state.branches.push({ uri: `sip:bob@${UAS2}`, q: -1, flags: 0 });
    h.call('t_relay', ctx);
    h.answer(h.sentTo('INVITE', UAS1)[0]!, 486);
    expect(got).toMatchObject({ req_fu: 'sip:alice@atlanta.test', req_rm: 'INVITE', rpl_rs: 486, last: 486, type: 0 });
    h.answer(h.sentTo('INVITE', UAS2)[0]!, 404, 'b');
    expect(got).toMatchObject({ f_code: 486, f_reason: 'Busy Here', f_rpl: 'Busy Here', f_last: 404, f_type: 0, f_bidx: 0, f_idx: idx });
    expect(() => h.mod.pv.compile('$T(nonsense)')).toThrow(/unknown \$T attribute/);
    // a local reply: reply_type 1
    const c2 = invite(h);
    h.call('t_reply', c2, 403, 'No');
    expect(pv(h, '$T(reply_type)', c2)).toBe(1);
    expect(pv(h, '$T(reply_code)', c2)).toBe(403);
    expect(pv(h, '$T_reply_reason', c2)).toBe('No');
  });
});

describe('tm exports that had no tests', () => {
  it('t_grep_status, t_set_fr_inv / t_reset_fr, t_retransmit_reply, t_reply_error', async () => {
    const h = await harness({ fr_inv_timer: 9000 });
    let grep: number[] = [];
    h.routes.fail = (c) => {
      grep = [h.call('t_grep_status', c, 486) as number, h.call('t_grep_status', c, 404) as number];
    };
    const ctx = invite(h);
    ctx.state.branches.push({ uri: `sip:bob@${UAS2}`, q: -1, flags: 0 });
    h.call('t_on_failure', ctx, 'fail');
    expect(h.call('t_set_fr_inv', ctx, 3000)).toBe(1);
    expect(h.call('t_set_fr_inv', ctx, -1)).toBe(-1);
    h.call('t_relay', ctx);
    h.answer(h.sentTo('INVITE', UAS1)[0]!, 180);
    h.answer(h.sentTo('INVITE', UAS2)[0]!, 486, 'b');
    h.sched.advance(2999);
    expect(grep).toEqual([]);
    h.sched.advance(1); // fr_inv 3000 after the 180
    expect(grep).toEqual([1, -1]);

    const h2 = await harness({ fr_inv_timer: 9000 });
    const c2 = invite(h2);
    h2.call('t_set_fr_inv', c2, 3000);
    expect(h2.call('t_reset_fr', c2)).toBe(1);
    h2.call('t_relay', c2);
    h2.answer(h2.sentTo('INVITE', UAS1)[0]!, 180);
    h2.sched.advance(3000);
    expect(h2.upstream()).toEqual([100, 180]);
    h2.sched.advance(6000);
    expect(h2.upstream()).toEqual([100, 180, 408]);
    expect(h2.call('t_retransmit_reply', c2)).toBe(1);
    expect(h2.upstream()).toEqual([100, 180, 408, 408]);
    expect(h2.call('t_retransmit_reply', invite(h2))).toBe(-1);

    const c3 = invite(h2);
    expect(h2.call('t_reply_error', c3)).toBe(1);
    expect(h2.upstream().at(-1)).toBe(500);
    const c4 = invite(h2);
    c4.state.lastError = { code: 416, reason: 'Unsupported URI Scheme' };
    expect(h2.call('t_reply_error', c4)).toBe(1);
    expect(h2.upstream().at(-1)).toBe(416);
  });

  it('t_set_disable_6xx: a 6xx no longer CANCELs the other branches; t_set_no_e2e_cancel_reason drops the Reason of a CANCEL', async () => {
    for (const disable of [0, 1]) {
      const h = await harness();
      const ctx = invite(h);
      ctx.state.branches.push({ uri: `sip:bob@${UAS2}`, q: -1, flags: 0 });
      expect(h.call('t_set_disable_6xx', ctx, disable)).toBe(1);
      h.call('t_relay', ctx);
      h.answer(h.sentTo('INVITE', UAS2)[0]!, 180, 'b');
      h.answer(h.sentTo('INVITE', UAS1)[0]!, 603);
      expect(h.sentTo('CANCEL', UAS2)).toHaveLength(disable ? 0 : 1);
    }
    for (const off of [0, 1]) {
      const h = await harness();
      const ctx = invite(h);
      expect(h.call('t_set_no_e2e_cancel_reason', ctx, off)).toBe(1);
      h.call('t_relay', ctx);
      h.answer(h.sentTo('INVITE', UAS1)[0]!, 180);
      const cancel = h.request([
        'CANCEL sip:bob@ksr.test SIP/2.0',
        `Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-x${nVia};rport`,
        'Max-Forwards: 70',
        'From: "Alice" <sip:alice@atlanta.test>;tag=a1',
        'To: <sip:bob@ksr.test>',
        'Call-ID: call-1@192.0.2.10',
        'CSeq: 10 CANCEL',
        'Reason: Q.850;cause=16',
      ]);
      expect(h.call('t_relay', cancel)).toBe(1);
      const [down] = h.sentTo('CANCEL', UAS1);
      expect(down!.header('reason')).toBe(off ? undefined : 'Q.850;cause=16');
    }
  });
});
