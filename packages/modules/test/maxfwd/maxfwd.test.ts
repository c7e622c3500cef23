import { parseMessage, type SipRequest } from '@ksr/core';
import { describe, expect, it } from 'vitest';
import { INVITE_LINES, makeContext, sipText } from '../../../core/test/support/context.js';
import { maxfwdModule } from '../../src/maxfwd/index.js';
import { createModule } from '../sl/module-context.js';

const withMaxFwd = (v: string | undefined) =>
  INVITE_LINES.flatMap((l) => (l.startsWith('Max-Forwards:') ? (v === undefined ? [] : [`Max-Forwards: ${v}`]) : [l]));

/** The request as it would be forwarded (lumps applied), parsed again. */
const forwarded = (req: SipRequest) => parseMessage(req.serialize()) as SipRequest;

describe('process_maxfwd', () => {
  it('adds Max-Forwards: limit when the request has none (2)', async () => {
    const m = await createModule(maxfwdModule);
    const ctx = makeContext(withMaxFwd(undefined));
    expect(m.fn('process_maxfwd')(ctx, 10)).toBe(2);
    const out = forwarded(ctx.request!);
    expect(out.maxForwards).toBe(10);
    expect(out.headerValues('max-forwards')).toEqual(['10']);
    // the parsed getters show the request as received (lumps)
    expect(ctx.request!.maxForwards).toBeUndefined();
  });

  it('decrements a value above 0 (1)', async () => {
    const m = await createModule(maxfwdModule);
    const ctx = makeContext(withMaxFwd('5'));
    expect(m.fn('process_maxfwd')(ctx, 10)).toBe(1);
    expect(forwarded(ctx.request!).headerValues('max-forwards')).toEqual(['4']);
    const one = makeContext(withMaxFwd('1'));
    expect(m.fn('process_maxfwd')(one, 10)).toBe(1);
    expect(forwarded(one.request!).maxForwards).toBe(0);
  });

  it('lowers the decremented value to max_limit', async () => {
    const m = await createModule(maxfwdModule);
    const ctx = makeContext(withMaxFwd('255'));
    expect(m.fn('process_maxfwd')(ctx, 10)).toBe(1);
    expect(forwarded(ctx.request!).maxForwards).toBe(70);
    const low = await createModule(maxfwdModule, { params: { max_limit: 16 } });
    const c2 = makeContext(withMaxFwd('70'));
    expect(low.fn('process_maxfwd')(c2, 10)).toBe(1);
    expect(forwarded(c2.request!).maxForwards).toBe(16);
    const c3 = makeContext(withMaxFwd('12'));
    expect(low.fn('process_maxfwd')(c3, 10)).toBe(1);
    expect(forwarded(c3.request!).maxForwards).toBe(11);
  });

  it('returns -1 for Max-Forwards: 0 and leaves the request alone', async () => {
    const m = await createModule(maxfwdModule);
    const ctx = makeContext(withMaxFwd('0'));
    expect(m.fn('process_maxfwd')(ctx, 10)).toBe(-1);
    expect(ctx.request!.modified).toBe(false);
  });

  it('does not decrement twice for the same request', async () => {
    const m = await createModule(maxfwdModule);
    const ctx = makeContext(withMaxFwd('5'));
    expect(m.fn('process_maxfwd')(ctx, 10)).toBe(1);
    expect(m.fn('process_maxfwd')(ctx, 10)).toBe(1);
    expect(forwarded(ctx.request!).maxForwards).toBe(4);
    const added = makeContext(withMaxFwd(undefined));
    expect(m.fn('process_maxfwd')(added, 10)).toBe(2);
    expect(m.fn('process_maxfwd')(added, 20)).toBe(2);
    expect(forwarded(added.request!).headerValues('max-forwards')).toEqual(['10']);
  });

  it('fails with -2 for a bad limit or a reply', async () => {
    const m = await createModule(maxfwdModule);
    const ctx = makeContext(withMaxFwd('5'));
    for (const bad of [0, -1, 256, 1.5]) expect(m.fn('process_maxfwd')(ctx, bad)).toBe(-2);
    expect(ctx.request!.modified).toBe(false);
    const reply = makeContext(sipText(['SIP/2.0 200 OK', 'Via: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK-r', 'From: <sip:a@x>;tag=1', 'To: <sip:b@y>;tag=2', 'Call-ID: r', 'CSeq: 1 INVITE', 'Max-Forwards: 3']));
    expect(m.fn('process_maxfwd')(reply, 10)).toBe(-2);
    expect(m.logger.lines.filter((l) => l.level === 'error')).toHaveLength(5);
  });

  it('rejects max_limit outside 1..256', async () => {
    await expect(createModule(maxfwdModule, { params: { max_limit: 0 } })).rejects.toThrow(/1..256/);
    await expect(createModule(maxfwdModule, { params: { max_limit: 257 } })).rejects.toThrow(/1..256/);
  });
});

describe('is_maxfwd_lt', () => {
  it('compares the received value', async () => {
    const m = await createModule(maxfwdModule);
    const lt = m.fn('is_maxfwd_lt');
    expect(lt(makeContext(withMaxFwd('0')), 1)).toBe(1);
    expect(lt(makeContext(withMaxFwd('1')), 1)).toBe(-1);
    expect(lt(makeContext(withMaxFwd('70')), 71)).toBe(1);
    expect(lt(makeContext(withMaxFwd(undefined)), 10)).toBe(-2);
  });

  it('sees the value process_maxfwd set (decremented or added)', async () => {
    const m = await createModule(maxfwdModule);
    const ctx = makeContext(withMaxFwd('1'));
    expect(m.fn('is_maxfwd_lt')(ctx, 1)).toBe(-1);
    m.fn('process_maxfwd')(ctx, 10);
    expect(m.fn('is_maxfwd_lt')(ctx, 1)).toBe(1);
    const added = makeContext(withMaxFwd(undefined));
    m.fn('process_maxfwd')(added, 5);
    expect(m.fn('is_maxfwd_lt')(added, 6)).toBe(1);
    expect(m.fn('is_maxfwd_lt')(added, 5)).toBe(-1);
  });

  it('fails with -3 for a bad limit or a reply', async () => {
    const m = await createModule(maxfwdModule);
    expect(m.fn('is_maxfwd_lt')(makeContext(withMaxFwd('5')), -1)).toBe(-3);
    expect(m.fn('is_maxfwd_lt')(makeContext(withMaxFwd('5')), 300)).toBe(-3);
    const reply = makeContext(sipText(['SIP/2.0 200 OK', 'Via: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK-r', 'From: <sip:a@x>;tag=1', 'To: <sip:b@y>;tag=2', 'Call-ID: r', 'CSeq: 1 INVITE']));
    expect(m.fn('is_maxfwd_lt')(reply, 5)).toBe(-3);
  });

  it('exports the Kamailio KEMI signatures', async () => {
    const m = await createModule(maxfwdModule);
    expect((m.instance.exports ?? []).map((e) => `${e.name}:${e.returns}(${e.params.join(',')})`)).toEqual([
      'process_maxfwd:int(int)',
      'is_maxfwd_lt:int(int)',
    ]);
  });
});
