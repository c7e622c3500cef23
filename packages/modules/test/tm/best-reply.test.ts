import { buildReply, parseMessage, type SipRequest, type SipResponse } from '@ksr/core';
import { describe, expect, it } from 'vitest';
import { INVITE_LINES } from '../../../core/test/support/context.js';
import { replyPriority } from '../../src/tm/tm.js';
import { harness, UAS_INFO, type Harness } from './support.js';

// Best-reply choice (RFC 3261 §16.7 steps 6–7 as Kamailio does it), challenge aggregation,
// the fr_inv CANCEL of a ringing branch, and a reply that lost the Vias below ours.

const A = '192.0.2.20:5080';
const B = '192.0.2.30:5090';
const C = '192.0.2.40:5100';
const CALLER = '192.0.2.10:5070';

function fork(h: Harness, targets: string[]) {
  const ctx = h.request();
  ctx.request!.setRequestUri(`sip:bob@${targets[0]}`);
  for (const t of targets.slice(1)) ctx.state.branches.push({ uri: `sip:bob@${t}`, q: -1, flags: 0 });
  expect(h.call('t_relay', ctx)).toBe(1);
  return { ctx, out: targets.map((t) => h.sentTo('INVITE', t)[0]!) };
}

function answer(h: Harness, req: SipRequest, status: number, headers: Array<[string, string]> = [], toTag = `t${status}`): void {
  expect(h.api.filterResponse(buildReply(req, status, undefined, { toTag, headers }), UAS_INFO)).toBe(true);
}

function lastUp(h: Harness): SipResponse {
  const up = h.sent().filter((s) => s.to === CALLER && 'status' in s.msg);
  return up.at(-1)!.msg as SipResponse;
}

describe('tm best reply (RFC 3261 §16.7)', () => {
  it('ranks: 6xx first, then 3xx < 4xx < 5xx; 401/407 then 415/420/484 inside 4xx; 503 last in 5xx; received before local', () => {
    expect(replyPriority(603, true)).toBeLessThan(replyPriority(302, true));
    expect(replyPriority(603, true, true)).toBeGreaterThan(replyPriority(503, true));
    expect(replyPriority(302, true)).toBeLessThan(replyPriority(401, true));
    expect(replyPriority(407, true)).toBeLessThan(replyPriority(415, true));
    expect(replyPriority(484, true)).toBeLessThan(replyPriority(404, true));
    expect(replyPriority(404, true)).toBeLessThan(replyPriority(408, false));
    expect(replyPriority(480, true)).toBeLessThan(replyPriority(500, true));
    expect(replyPriority(500, true)).toBeLessThan(replyPriority(503, true));
  });

  it('404 + 407 + 401: the 407 is relayed with every challenge of the 401/407 branches (step 7)', async () => {
    const h = await harness();
    const { out } = fork(h, [A, B, C]);
    answer(h, out[0]!, 404);
    answer(h, out[1]!, 407, [['Proxy-Authenticate', 'Digest realm="b.test", nonce="nb"']]);
    answer(h, out[2]!, 401, [
      ['WWW-Authenticate', 'Digest realm="c.test", nonce="nc1"'],
      ['WWW-Authenticate', 'Digest realm="c.test", nonce="nc2", algorithm=SHA-256'],
    ]);
    expect(h.upstream()).toEqual([100, 407]);
    const r = lastUp(h);
    expect(r.headerValues('proxy-authenticate')).toEqual(['Digest realm="b.test", nonce="nb"']);
    expect(r.headerValues('www-authenticate')).toEqual(['Digest realm="c.test", nonce="nc1"', 'Digest realm="c.test", nonce="nc2", algorithm=SHA-256']);
    expect(r.via).toHaveLength(1);
  });

  it('415/420/484 beat other 4xx; 3xx beats 4xx; 6xx beats everything', async () => {
    const h = await harness();
    const { out } = fork(h, [A, B]);
    answer(h, out[0]!, 404);
    answer(h, out[1]!, 484);
    expect(h.upstream()).toEqual([100, 484]);

    const h2 = await harness();
    const f2 = fork(h2, [A, B]);
    answer(h2, f2.out[0]!, 486);
    answer(h2, f2.out[1]!, 302, [['Contact', '<sip:elsewhere@192.0.2.99>']]);
    expect(h2.upstream()).toEqual([100, 302]);

    const h3 = await harness();
    const f3 = fork(h3, [A, B]);
    answer(h3, f3.out[0]!, 180, [], 'a');
    answer(h3, f3.out[1]!, 603);
    // the 6xx CANCELs the ringing branch; its 487 does not beat the 603
    const [cancel] = h3.sentTo('CANCEL', A);
    expect(cancel).toBeDefined();
    answer(h3, f3.out[0]!, 487, [], 'a');
    expect(h3.upstream()).toEqual([100, 180, 603]);
  });

  it('5xx: another 5xx beats a 503; a 503 alone becomes 500', async () => {
    const h = await harness();
    const { out } = fork(h, [A, B]);
    answer(h, out[0]!, 503);
    answer(h, out[1]!, 502);
    expect(h.upstream()).toEqual([100, 502]);
    const h2 = await harness();
    const f = fork(h2, [A]);
    answer(h2, f.out[0]!, 503);
    expect(h2.upstream()).toEqual([100, 500]);
  });

  it('a received 4xx beats a local 408 of a timed-out branch', async () => {
    const h = await harness({ fr_timer: 1000 });
    const { out } = fork(h, [A, B]);
    answer(h, out[0]!, 480);
    h.sched.advance(1000);
    expect(h.upstream()).toEqual([100, 480]);
  });

  it('a final reply that kept only our Via is not relayed without Via: a local reply with its status goes up', async () => {
    const h = await harness();
    const { out } = fork(h, [A]);
    const full = buildReply(out[0]!, 486, undefined, { toTag: 'x' }).serialize().toString('latin1');
    let seenVia = false;
    const text = full
      .split('\r\n')
      .filter((l) => {
        if (!/^via:/i.test(l)) return true;
        if (seenVia) return false;
        seenVia = true;
        return true;
      })
      .join('\r\n');
    const res = parseMessage(Buffer.from(text, 'latin1')) as SipResponse;
    expect(res.via).toHaveLength(1);
    expect(h.api.filterResponse(res, UAS_INFO)).toBe(true);
    expect(h.upstream()).toEqual([100, 486]);
    expect(lastUp(h).via[0]!.host).toBe('192.0.2.10');
  });
});

describe('tm fr_inv timeout of a ringing branch (Timer C, as Kamailio)', () => {
  it('CANCELs the branch, relays a local 408, ACKs the 487 downstream and does not relay it', async () => {
    const h = await harness({ fr_inv_timer: 3000 });
    const { out } = fork(h, [A]);
    answer(h, out[0]!, 180, [], 'r');
    h.sched.advance(3000);
    expect(h.upstream()).toEqual([100, 180, 408]);
    const [cancel] = h.sentTo('CANCEL', A);
    expect(cancel).toBeDefined();
    expect(cancel!.via[0]!.branch).toBe(out[0]!.via[0]!.branch);
    answer(h, cancel!, 200, [], 'r');
    answer(h, out[0]!, 487, [], 'r');
    expect(h.sentTo('ACK', A)).toHaveLength(1);
    expect(h.upstream()).toEqual([100, 180, 408]);
    // the caller's ACK of the 408 is absorbed
    const toTag = lastUp(h).to.tag!;
    const ack = h.request(['ACK sip:bob@ksr.test SIP/2.0', ...INVITE_LINES.slice(1, 4), `To: <sip:bob@ksr.test>;tag=${toTag}`, 'Call-ID: call-1@192.0.2.10', 'CSeq: 10 ACK']);
    expect(h.mod.instance.filterRequest!(ack)).toBe(true);
    h.sched.advance(100_000);
    expect(h.api.layer!.size).toEqual({ server: 0, client: 0 });
  });

  it('a branch without any reply just times out (no CANCEL)', async () => {
    const h = await harness({ fr_timer: 2000 });
    fork(h, [A]);
    h.sched.advance(2000);
    expect(h.upstream()).toEqual([100, 408]);
    expect(h.sentTo('CANCEL', A)).toHaveLength(0);
  });

  it('restart_fr_on_each_reply=1 restarts fr_inv on every provisional; 0 only on the first', async () => {
    const h = await harness({ fr_inv_timer: 5000, restart_fr_on_each_reply: 1 });
    const { out } = fork(h, [A]);
    answer(h, out[0]!, 180, [], 'r');
    h.sched.advance(4000);
    answer(h, out[0]!, 183, [], 'r');
    h.sched.advance(4999);
    expect(h.upstream()).toEqual([100, 180, 183]);
    h.sched.advance(1);
    expect(h.upstream()).toEqual([100, 180, 183, 408]);

    const h0 = await harness({ fr_inv_timer: 5000, restart_fr_on_each_reply: 0 });
    const f0 = fork(h0, [A]);
    answer(h0, f0.out[0]!, 180, [], 'r');
    h0.sched.advance(4000);
    answer(h0, f0.out[0]!, 183, [], 'r');
    h0.sched.advance(1000);
    expect(h0.upstream()).toEqual([100, 180, 183, 408]);
  });
});
