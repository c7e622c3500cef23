import type { RouteContext } from '@ksr/core';
import { describe, expect, it } from 'vitest';
import { INVITE_LINES } from '../../../core/test/support/context.js';
import { harness, type Harness } from './support.js';

// t_set_retr / t_reset_retr: per-transaction retransmission intervals (Timer A / E) of the branches.

const A = '192.0.2.20:5080';

function invite(h: Harness): RouteContext {
  const ctx = h.request();
  ctx.request!.setRequestUri(`sip:bob@${A}`);
  return ctx;
}

/** Times (ms after the relay) at which the INVITE went out to A, over `span` ms. */
function sendTimes(h: Harness, span: number, step = 50): number[] {
  const times: number[] = [];
  let seen = h.sentTo('INVITE', A).length;
  times.push(0);
  for (let t = step; t <= span; t += step) {
    h.sched.advance(step);
    const n = h.sentTo('INVITE', A).length;
    for (; seen < n; seen++) times.push(t);
  }
  return times;
}

describe('tm t_set_retr / t_reset_retr', () => {
  it('default: the INVITE is retransmitted at T1, 2·T1, 4·T1 … (500 ms)', async () => {
    const h = await harness({});
    const ctx = invite(h);
    h.call('t_relay', ctx);
    expect(sendTimes(h, 3500)).toEqual([0, 500, 1500, 3500]);
  });

  it('t_set_retr before t_relay sets T1 of the branches (INVITE doubles without cap)', async () => {
    const h = await harness({});
    const ctx = invite(h);
    expect(h.call('t_set_retr', ctx, 100, 400)).toBe(1);
    h.call('t_relay', ctx);
    expect(sendTimes(h, 1500)).toEqual([0, 100, 300, 700, 1500]);
  });

  it('non-INVITE branches are capped at T2', async () => {
    const h = await harness({});
    const lines = INVITE_LINES.map((l) => l.replace(/^INVITE /, 'MESSAGE ').replace(/^(CSeq:\s*\d+\s+)INVITE/i, '$1MESSAGE'));
    const ctx = h.request(lines);
    ctx.request!.setRequestUri(`sip:bob@${A}`);
    expect(h.call('t_set_retr', ctx, 100, 200)).toBe(1);
    h.call('t_relay', ctx);
    const times: number[] = [0];
    let seen = h.sentTo('MESSAGE', A).length;
    for (let t = 50; t <= 900; t += 50) {
      h.sched.advance(50);
      const n = h.sentTo('MESSAGE', A).length;
      for (; seen < n; seen++) times.push(t);
    }
    expect(times).toEqual([0, 100, 300, 500, 700, 900]);
  });

  it('t_reset_retr goes back to the defaults; bad intervals are refused', async () => {
    const h = await harness({});
    const ctx = invite(h);
    expect(h.call('t_set_retr', ctx, 100, 400)).toBe(1);
    expect(h.call('t_reset_retr', ctx)).toBe(1);
    h.call('t_relay', ctx);
    expect(sendTimes(h, 1500)).toEqual([0, 500, 1500]);
    expect(h.call('t_set_retr', ctx, -1, 0)).toBe(-1);
    expect(h.call('t_set_retr', ctx, 500, 100)).toBe(-1);
  });
});
