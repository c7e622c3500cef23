import { buildReply, type RouteContext, type SipRequest } from '@ksr/core';
import { describe, expect, it } from 'vitest';
import { INVITE_LINES } from '../../../core/test/support/context.js';
import { createModule } from '../sl/module-context.js';
import { tmModule } from '../../src/tm/index.js';
import { harness, UAS_INFO, type Harness } from './support.js';

// Transaction lifetimes (max_inv_lifetime, max_noninv_lifetime, t_set_max_lifetime, t_is_expired)
// and failure_reply_mode (which earlier-leg replies take part in the best-reply choice).

const A = '192.0.2.20:5080';
const B = '192.0.2.30:5090';

function invite(h: Harness, target = A): RouteContext {
  const ctx = h.request();
  ctx.request!.setRequestUri(`sip:bob@${target}`);
  return ctx;
}

function answer(h: Harness, req: SipRequest, status: number, toTag = 'x'): void {
  expect(h.api.filterResponse(buildReply(req, status, undefined, { toTag }), UAS_INFO)).toBe(true);
}

describe('tm lifetimes', () => {
  it('max_inv_lifetime: a ringing branch past the lifetime is CANCELled and 408 goes up, although fr_inv is longer', async () => {
    const h = await harness({ max_inv_lifetime: 10_000, fr_inv_timer: 60_000 });
    const ctx = invite(h);
    h.call('t_relay', ctx);
    expect(h.call('t_is_expired', ctx)).toBe(-1);
    const [out] = h.sentTo('INVITE', A);
    answer(h, out!, 180);
    h.sched.advance(9_999);
    expect(h.upstream()).toEqual([100, 180]);
    h.sched.advance(1);
    expect(h.upstream()).toEqual([100, 180, 408]);
    expect(h.sentTo('CANCEL', A)).toHaveLength(1);
    expect(h.call('t_is_expired', ctx)).toBe(1);
    answer(h, out!, 487);
    expect(h.upstream()).toEqual([100, 180, 408]);
  });

  it('the lifetime counts from the transaction, across fr_inv restarts (Timer C keeps being restarted by 183s)', async () => {
    const h = await harness({ max_inv_lifetime: 12_000, fr_inv_timer: 5_000 });
    const ctx = invite(h);
    h.call('t_relay', ctx);
    const [out] = h.sentTo('INVITE', A);
    for (let i = 0; i < 3; i++) {
      answer(h, out!, 183);
      h.sched.advance(4_000);
    }
    expect(h.upstream()).toEqual([100, 183, 183, 183, 408]);
  });

  it('t_set_max_lifetime before t_relay (INVITE value) and on the current transaction; 0 = the parameter', async () => {
    const h = await harness({ fr_inv_timer: 60_000 });
    const ctx = invite(h);
    expect(h.call('t_set_max_lifetime', ctx, 3_000, 1_000)).toBe(1);
    h.call('t_relay', ctx);
    answer(h, h.sentTo('INVITE', A)[0]!, 180);
    h.sched.advance(3_000);
    expect(h.upstream()).toEqual([100, 180, 408]);

    const h2 = await harness({ fr_inv_timer: 60_000 });
    const c2 = invite(h2);
    h2.call('t_relay', c2);
    answer(h2, h2.sentTo('INVITE', A)[0]!, 180);
    h2.sched.advance(1_000);
    expect(h2.call('t_set_max_lifetime', c2, 2_000, 0)).toBe(1); // counted from the creation
    h2.sched.advance(999);
    expect(h2.upstream()).toEqual([100, 180]);
    h2.sched.advance(1);
    expect(h2.upstream()).toEqual([100, 180, 408]);
    expect(h2.call('t_set_max_lifetime', c2, -1, 0)).toBe(-1);

    const h3 = await harness({ fr_inv_timer: 60_000, max_inv_lifetime: 50_000 });
    const c3 = invite(h3);
    h3.call('t_relay', c3);
    answer(h3, h3.sentTo('INVITE', A)[0]!, 180);
    h3.call('t_set_max_lifetime', c3, 5_000, 0);
    h3.call('t_set_max_lifetime', c3, 0, 0); // back to max_inv_lifetime
    h3.sched.advance(49_999);
    expect(h3.upstream()).toEqual([100, 180]);
    h3.sched.advance(1);
    expect(h3.upstream()).toEqual([100, 180, 408]);
  });

  it('max_noninv_lifetime for a MESSAGE: a 100-only branch times out at the lifetime', async () => {
    const h = await harness({ max_noninv_lifetime: 4_000, fr_timer: 30_000 });
    const ctx = h.request(INVITE_LINES.map((l) => l.replace('INVITE', 'MESSAGE')));
    ctx.request!.setRequestUri(`sip:bob@${A}`);
    h.call('t_relay', ctx);
    const [out] = h.sentTo('MESSAGE', A);
    answer(h, out!, 100);
    h.sched.advance(4_000);
    expect(h.upstream()).toEqual([408]);
    expect(h.sentTo('CANCEL', A)).toHaveLength(0);
  });

  it('a failure route after the lifetime: t_is_expired is 1 and t_relay refuses a new leg', async () => {
    const h = await harness({ max_inv_lifetime: 5_000, fr_inv_timer: 60_000 });
    const seen: number[] = [];
    h.routes.fail = (c) => {
      seen.push(h.call('t_is_expired', c) as number);
      c.request!.setRequestUri(`sip:vm@${B}`);
      seen.push(h.call('t_relay', c) as number);
    };
    const ctx = invite(h);
    h.call('t_on_failure', ctx, 'fail');
    h.call('t_relay', ctx);
    answer(h, h.sentTo('INVITE', A)[0]!, 180);
    h.sched.advance(5_000);
    expect(seen).toEqual([1, -1]);
    expect(h.sentTo('INVITE', B)).toHaveLength(0);
    expect(h.upstream()).toEqual([100, 180, 408]);
  });

  it('the lifetime timer goes with the transaction; parameters are checked', async () => {
    const h = await harness();
    const ctx = invite(h);
    h.call('t_relay', ctx);
    answer(h, h.sentTo('INVITE', A)[0]!, 200);
    h.sched.advance(200_000);
    expect(h.api.layer!.size).toEqual({ server: 0, client: 0 });
    expect(h.sched.pending).toBe(0);
    await expect(createModule(tmModule, { params: { max_inv_lifetime: 0 } })).rejects.toThrow(/max_inv_lifetime/);
    await expect(createModule(tmModule, { params: { failure_reply_mode: 4 } })).rejects.toThrow(/failure_reply_mode/);
  });
});

describe('tm failure_reply_mode', () => {
  /** Leg 0: A answers 302; the failure route relays to B, which times out; the best reply of leg 1 goes up. */
  async function twoLegs(mode: number, dropFirst?: string): Promise<{ up: number[]; codes: number[] }> {
    const h = await harness({ failure_reply_mode: mode, fr_timer: 1_000 });
    const codes: number[] = [];
    h.routes.f1 = (c) => {
      codes.push(h.mod.pv.compile('$T_reply_code').get(c) as number);
      if (dropFirst !== undefined) h.call('t_drop_replies', c, dropFirst);
      c.request!.setRequestUri(`sip:vm@${B}`);
      h.call('t_on_failure', c, 'f2');
      expect(h.call('t_relay', c)).toBe(1);
    };
    h.routes.f2 = (c) => {
      codes.push(h.mod.pv.compile('$T_reply_code').get(c) as number);
    };
    const ctx = invite(h);
    h.call('t_on_failure', ctx, 'f1');
    h.call('t_relay', ctx);
    answer(h, h.sentTo('INVITE', A)[0]!, 302);
    h.sched.advance(1_000);
    return { up: h.upstream(), codes };
  }

  it('0: the 302 of the first leg still wins after the second leg timed out', async () => {
    expect(await twoLegs(0)).toEqual({ up: [100, 302], codes: [302, 302] });
  });

  it('1, 2, 3: the first leg is dropped, the 408 of the second leg goes up', async () => {
    for (const mode of [1, 2, 3]) expect(await twoLegs(mode)).toEqual({ up: [100, 408], codes: [302, 408] });
  });

  it('t_drop_replies("n") in the failure route overrides mode 3', async () => {
    expect(await twoLegs(3, 'n')).toEqual({ up: [100, 302], codes: [302, 302] });
  });

  it('2 drops only the last leg: with t_drop_replies("n") on leg 0, leg 0 stays while leg 1 is dropped', async () => {
    const h = await harness({ failure_reply_mode: 2, fr_timer: 1_000 });
    const C = '192.0.2.40:5100';
    h.routes.f1 = (c) => {
      h.call('t_drop_replies', c, 'n');
      c.request!.setRequestUri(`sip:vm@${B}`);
      h.call('t_on_failure', c, 'f2');
      h.call('t_relay', c);
    };
    h.routes.f2 = (c) => {
      c.request!.setRequestUri(`sip:vm@${C}`);
      h.call('t_relay', c);
    };
    const ctx = invite(h);
    h.call('t_on_failure', ctx, 'f1');
    h.call('t_relay', ctx);
    answer(h, h.sentTo('INVITE', A)[0]!, 486); // leg 0, kept by t_drop_replies("n")
    answer(h, h.sentTo('INVITE', B)[0]!, 302); // leg 1, dropped by mode 2 in f2
    h.sched.advance(1_000); // leg 2 (C) times out: 486 (received) beats the local 408
    expect(h.upstream()).toEqual([100, 486]);
  });
});
