import { describe, expect, it } from 'vitest';
import type { SipResponse } from '../../src/sip/index.js';
import type { ClientHandlers, ClientTransaction } from '../../src/transaction/index.js';
import { forwarded, headerLines, response, setup, tcpTarget, udpTarget } from './helpers.js';

function recorder() {
  const log: string[] = [];
  const responses: SipResponse[] = [];
  const handlers: ClientHandlers = {
    onResponse: (r) => {
      responses.push(r);
      log.push(`res ${r.status}`);
    },
    onTimeout: () => log.push('timeout'),
    onTransportError: () => log.push('error'),
    onTerminated: () => log.push('terminated'),
  };
  return { log, responses, handlers };
}

const B = 'z9hG4bKout1';

describe('INVITE client transaction (UDP)', () => {
  it('Timer A doubles without a cap until Timer B fires onTimeout', () => {
    const { layer, clock, times } = setup();
    const rec = recorder();
    const txn = layer.createClient(forwarded(), udpTarget, rec.handlers);
    expect(txn.state).toBe('Calling');
    clock.advance(40000);
    expect(times('INVITE')).toEqual([0, 500, 1500, 3500, 7500, 15500, 31500]);
    expect(rec.log).toEqual(['timeout', 'terminated']);
    expect(txn.state).toBe('Terminated');
    expect(layer.size.client).toBe(0);
    expect(clock.pending).toBe(0);
  });

  it('sends the request as serialized (our Via on top) to the target', () => {
    const { layer, sent } = setup();
    const req = forwarded();
    layer.createClient(req, udpTarget, recorder().handlers);
    expect(sent[0]!.target).toBe(udpTarget);
    expect(sent[0]!.text).toBe(req.serialize().toString('utf8'));
    expect(headerLines(sent[0]!.text)[1]).toBe(`Via: SIP/2.0/UDP 10.0.0.1:5060;branch=${B}`);
  });

  it('a 1xx stops Timer A; Timer B keeps running by default', () => {
    const { layer, clock, times } = setup();
    const rec = recorder();
    const txn = layer.createClient(forwarded(), udpTarget, rec.handlers);
    clock.advance(600);
    expect(layer.receiveResponse(response(180, { branch: B, toTag: 'd1' }))).toBe(true);
    expect(txn.state).toBe('Proceeding');
    clock.advance(31399);
    expect(times('INVITE')).toEqual([0, 500]);
    expect(rec.log).toEqual(['res 180']);
    clock.advance(1);
    expect(rec.log).toEqual(['res 180', 'timeout', 'terminated']);
  });

  it('frInv restarts the final-response timer after the first 1xx; restartFrOnEachReply on every 1xx', () => {
    const { layer, clock } = setup();
    const rec = recorder();
    layer.createClient(forwarded(), udpTarget, rec.handlers, { fr: 5000, frInv: 120000 });
    clock.advance(4000);
    layer.receiveResponse(response(180, { branch: B }));
    clock.advance(119999);
    expect(rec.log).toEqual(['res 180']);
    clock.advance(1);
    expect(rec.log).toEqual(['res 180', 'timeout', 'terminated']);

    const rec2 = recorder();
    layer.createClient(forwarded({ ourBranch: 'z9hG4bKout2' }), udpTarget, rec2.handlers, { fr: 5000, restartFrOnEachReply: true });
    clock.advance(4000);
    layer.receiveResponse(response(180, { branch: 'z9hG4bKout2' }));
    clock.advance(4000);
    layer.receiveResponse(response(183, { branch: 'z9hG4bKout2' }));
    clock.advance(4999);
    expect(rec2.log).toEqual(['res 180', 'res 183']);
    clock.advance(1);
    expect(rec2.log).toEqual(['res 180', 'res 183', 'timeout', 'terminated']);
  });

  it('300-699: ACK per §17.1.1.3 (same branch, To tag of the response, Routes), resent on retransmissions, Timer D', () => {
    const { layer, clock, sent } = setup();
    const rec = recorder();
    const req = forwarded({ extra: ['Route: <sip:p1.example.com;lr>', 'Route: <sip:p2.example.com;lr>, <sip:p3.example.com;lr>'] });
    req.setRequestUri('sip:bob@10.9.9.9');
    const txn = layer.createClient(req, udpTarget, rec.handlers);
    layer.receiveResponse(response(486, { branch: B, toTag: 'dtag' }));
    expect(txn.state).toBe('Completed');
    expect(rec.log).toEqual(['res 486']);
    const ack = sent[1]!;
    expect(ack.target).toBe(udpTarget);
    expect(headerLines(ack.text)).toEqual([
      'ACK sip:bob@10.9.9.9 SIP/2.0',
      `Via: SIP/2.0/UDP 10.0.0.1:5060;branch=${B}`,
      'Max-Forwards: 70',
      'To: <sip:bob@example.com>;tag=dtag',
      'From: <sip:alice@example.com>;tag=ft1',
      'Call-ID: call-1@example.com',
      'CSeq: 1 ACK',
      'Route: <sip:p1.example.com;lr>',
      'Route: <sip:p2.example.com;lr>, <sip:p3.example.com;lr>',
      'Content-Length: 0',
    ]);
    expect(layer.receiveResponse(response(486, { branch: B, toTag: 'dtag' }))).toBe(true);
    expect(sent).toHaveLength(3);
    expect(sent[2]!.text).toBe(ack.text);
    expect(rec.log).toEqual(['res 486']); // the retransmission is not passed up
    clock.advance(600);
    expect(sent).toHaveLength(3); // Timer A stopped
    clock.advance(32000 - 601);
    expect(txn.state).toBe('Completed');
    clock.advance(1);
    expect(txn.state).toBe('Terminated');
    expect(layer.stats.rpl_received).toBe(2);
  });

  it('2xx → Accepted (RFC 6026): 2xx retransmissions and other 2xx go up, no ACK generated, Timer M frees', () => {
    const { layer, clock, sent } = setup();
    const rec = recorder();
    const txn = layer.createClient(forwarded(), udpTarget, rec.handlers);
    layer.receiveResponse(response(200, { branch: B, toTag: 'a' }));
    expect(txn.state).toBe('Accepted');
    layer.receiveResponse(response(200, { branch: B, toTag: 'a' }));
    layer.receiveResponse(response(200, { branch: B, toTag: 'b' }));
    layer.receiveResponse(response(486, { branch: B, toTag: 'c' })); // ignored in Accepted
    expect(rec.log).toEqual(['res 200', 'res 200', 'res 200']);
    expect(sent).toHaveLength(1);
    clock.advance(31999);
    expect(txn.state).toBe('Accepted');
    clock.advance(1);
    expect(rec.log.at(-1)).toBe('terminated');
    expect(layer.stats).toMatchObject({ current: 0, waiting: 0 });
  });
});

describe('non-INVITE client transaction', () => {
  it('Timer E: T1 doubling capped at T2; Timer F fires onTimeout', () => {
    const { layer, clock, times } = setup();
    const rec = recorder();
    layer.createClient(forwarded({ method: 'OPTIONS' }), udpTarget, rec.handlers);
    clock.advance(40000);
    expect(times('OPTIONS')).toEqual([0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
    expect(rec.log).toEqual(['timeout', 'terminated']);
  });

  it('in Proceeding Timer E is reset to T2; a final goes up, Completed absorbs, Timer K = T4', () => {
    const { layer, clock, times } = setup();
    const rec = recorder();
    const txn = layer.createClient(forwarded({ method: 'REGISTER' }), udpTarget, rec.handlers);
    clock.advance(100);
    layer.receiveResponse(response(100, { branch: B, method: 'REGISTER' }));
    expect(txn.state).toBe('Proceeding');
    clock.advance(10000); // E at 500 (then T2): 4500, 8500
    expect(times('REGISTER')).toEqual([0, 500, 4500, 8500]);
    layer.receiveResponse(response(200, { branch: B, method: 'REGISTER' }));
    layer.receiveResponse(response(200, { branch: B, method: 'REGISTER' }));
    expect(txn.state).toBe('Completed');
    expect(rec.log).toEqual(['res 100', 'res 200']);
    clock.advance(4999);
    expect(txn.state).toBe('Completed');
    clock.advance(1);
    expect(txn.state).toBe('Terminated');
    expect(times('REGISTER')).toHaveLength(4);
  });
});

describe('reliable transport (TCP)', () => {
  it('no retransmissions; D and K are zero', () => {
    const { layer, clock, sent } = setup();
    const rec = recorder();
    const inv = layer.createClient(forwarded(), tcpTarget, rec.handlers);
    const opt = layer.createClient(forwarded({ method: 'OPTIONS', ourBranch: 'z9hG4bKo' }), tcpTarget, recorder().handlers);
    clock.advance(20000);
    expect(sent).toHaveLength(2);
    layer.receiveResponse(response(404, { branch: B }));
    expect(sent).toHaveLength(3); // the ACK
    expect(inv.state).toBe('Terminated');
    expect(rec.log).toEqual(['res 404', 'terminated']);
    layer.receiveResponse(response(200, { branch: 'z9hG4bKo', method: 'OPTIONS' }));
    expect(opt.state).toBe('Terminated');
    expect(layer.size.client).toBe(0);
    expect(clock.pending).toBe(0);
  });

  it('Timer B still fires over TCP', () => {
    const { layer, clock } = setup();
    const rec = recorder();
    layer.createClient(forwarded(), tcpTarget, rec.handlers);
    clock.advance(32000);
    expect(rec.log).toEqual(['timeout', 'terminated']);
  });
});

describe('response matching (§17.1.3)', () => {
  it('matches by top Via branch + CSeq method only', () => {
    const { layer } = setup();
    const txn = layer.createClient(forwarded(), udpTarget, recorder().handlers);
    expect(layer.matchResponse(response(180, { branch: B }))).toBe(txn);
    expect(layer.receiveResponse(response(180, { branch: B, method: 'CANCEL' }))).toBe(false);
    expect(layer.receiveResponse(response(180, { branch: 'z9hG4bKnope' }))).toBe(false);
    // our branch must be on top: a response with the upstream Via on top does not match
    expect(layer.receiveResponse(response(180, { branch: 'z9hG4bKabc123', via2: false }))).toBe(false);
    expect(layer.stats.rpl_received).toBe(0);
  });

  it('rejects ACK, a missing branch and a duplicate branch+method', () => {
    const { layer } = setup();
    const h = recorder().handlers;
    expect(() => layer.createClient(forwarded({ method: 'ACK' }), udpTarget, h)).toThrow(TypeError);
    layer.createClient(forwarded(), udpTarget, h);
    expect(() => layer.createClient(forwarded(), udpTarget, h)).toThrow(TypeError);
    const noBranch = forwarded();
    noBranch.removeHeader('via', 0);
    noBranch.addVia('SIP/2.0/UDP 10.0.0.1');
    expect(() => layer.createClient(noBranch, udpTarget, h)).toThrow(TypeError);
  });
});

describe('cancel() (RFC 3261 §9.1)', () => {
  function cancelLines(text: string) {
    return headerLines(text);
  }

  it('builds the CANCEL exactly and sends it once a provisional arrived; CANCEL has its own transaction', () => {
    const { layer, sent } = setup();
    const rec = recorder();
    const req = forwarded({ extra: ['Route: <sip:p1.example.com;lr>'] });
    const inv = layer.createClient(req, udpTarget, rec.handlers);
    layer.receiveResponse(response(180, { branch: B, toTag: 'd1' }));
    const crec = recorder();
    const c = inv.cancel(crec.handlers, { headers: [['Reason', 'SIP;cause=200;text="Call completed elsewhere"']] })!;
    expect(inv.cancel()).toBe(c);
    expect(c.state).toBe('Trying');
    expect(c.cancels).toBe(inv);
    expect(c.branch).toBe(B);
    expect(sent).toHaveLength(2);
    expect(sent[1]!.target).toBe(udpTarget);
    expect(cancelLines(sent[1]!.text)).toEqual([
      'CANCEL sip:bob@example.com SIP/2.0',
      `Via: SIP/2.0/UDP 10.0.0.1:5060;branch=${B}`,
      'Max-Forwards: 70',
      'To: <sip:bob@example.com>', // the request's To, not the response's
      'From: <sip:alice@example.com>;tag=ft1',
      'Call-ID: call-1@example.com',
      'CSeq: 1 CANCEL',
      'Route: <sip:p1.example.com;lr>',
      'Reason: SIP;cause=200;text="Call completed elsewhere"',
      'Content-Length: 0',
    ]);
    expect(layer.receiveResponse(response(200, { branch: B, method: 'CANCEL' }))).toBe(true);
    expect(crec.log).toEqual(['res 200']);
    expect(rec.log).toEqual(['res 180']);
    layer.receiveResponse(response(487, { branch: B, toTag: 'd1' }));
    expect(rec.log).toEqual(['res 180', 'res 487']);
    expect(sent[2]!.text).toMatch(/^ACK /);
  });

  it('queues the CANCEL until a provisional response (timer E starts then)', () => {
    const { layer, clock, times } = setup();
    const inv = layer.createClient(forwarded(), udpTarget, recorder().handlers);
    const c = inv.cancel()!;
    expect(c.state).toBe('Pending');
    clock.advance(1000);
    expect(times('CANCEL')).toEqual([]);
    layer.receiveResponse(response(100, { branch: B }));
    expect(c.state).toBe('Trying');
    clock.advance(600);
    expect(times('CANCEL')).toEqual([1000, 1500]);
  });

  it('drops a queued CANCEL when a final response (or timeout) comes first', () => {
    const { layer, clock, times } = setup();
    const inv = layer.createClient(forwarded(), udpTarget, recorder().handlers);
    const crec = recorder();
    const c = inv.cancel(crec.handlers)!;
    layer.receiveResponse(response(486, { branch: B }));
    expect(c.state).toBe('Terminated');
    expect(crec.log).toEqual(['terminated']);
    expect(inv.cancel()).toBe(c);
    const inv2 = layer.createClient(forwarded({ ourBranch: 'z9hG4bKout2' }), udpTarget, recorder().handlers);
    const c2 = inv2.cancel()!;
    clock.advance(32000);
    expect(c2.state).toBe('Terminated');
    expect(times('CANCEL')).toEqual([]);
    expect(layer.size.client).toBe(0);
  });

  it('returns undefined after a final response; throws for non-INVITE', () => {
    const { layer } = setup();
    const inv = layer.createClient(forwarded(), udpTarget, recorder().handlers);
    layer.receiveResponse(response(603, { branch: B }));
    expect(inv.cancel()).toBeUndefined();
    const opt = layer.createClient(forwarded({ method: 'OPTIONS', ourBranch: 'z9hG4bKo' }), udpTarget, recorder().handlers);
    expect(() => opt.cancel()).toThrow(TypeError);
  });
});

describe('transport errors', () => {
  it('a failed send calls onTransportError and terminates', async () => {
    const ctx = setup();
    ctx.failSends(new Error('ECONNREFUSED'));
    const rec = recorder();
    const txn: ClientTransaction = ctx.layer.createClient(forwarded(), tcpTarget, rec.handlers);
    await new Promise((r) => setImmediate(r));
    expect(rec.log).toEqual(['error', 'terminated']);
    expect(txn.state).toBe('Terminated');
    expect(ctx.clock.pending).toBe(0);
  });

  it('a throwing handler does not break the layer', () => {
    const { layer, clock } = setup();
    layer.createClient(forwarded(), udpTarget, {
      onResponse: () => {
        throw new Error('boom');
      },
      onTimeout: () => {},
      onTransportError: () => {},
    });
    layer.receiveResponse(response(486, { branch: B }));
    clock.advance(32000);
    expect(layer.size.client).toBe(0);
  });
});
