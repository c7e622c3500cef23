import { describe, expect, it } from 'vitest';
import type { ClientHandlers, ClientTransaction } from '../../src/transaction/index.js';
import { forwarded, response, setup, udpTarget } from './helpers.js';

// RFC 3261 §16.8 (Timer C) / Kamailio's fr_inv_timer: a branch that sent a provisional and then
// timed out is CANCELled; its INVITE transaction stays to ACK and absorb the 487.

const B = 'z9hG4bKout1';

function handlers(log: string[], onTimeout?: (t: ClientTransaction) => void): ClientHandlers {
  return {
    onResponse: (r) => log.push(`res ${r.status}`),
    onTimeout: (t) => {
      log.push('timeout');
      onTimeout?.(t);
    },
    onTransportError: () => log.push('error'),
    onTerminated: () => log.push('terminated'),
  };
}

describe('client INVITE timeout with a CANCEL from onTimeout', () => {
  it('Proceeding + cancel() in onTimeout: CANCEL sent, 487 ACKed and absorbed, then Timer D frees', () => {
    const { layer, clock, sent } = setup();
    const log: string[] = [];
    const txn = layer.createClient(forwarded(), udpTarget, handlers(log, (t) => t.cancel()), { fr: 5000, frInv: 2000 });
    layer.receiveResponse(response(180, { branch: B, toTag: 'd' }));
    clock.advance(2000);
    expect(log).toEqual(['res 180', 'timeout']);
    expect(txn.timedOut).toBe(true);
    expect(txn.state).toBe('Proceeding');
    const cancel = sent.find((s) => s.text.startsWith('CANCEL '));
    expect(cancel).toBeDefined();
    expect(cancel!.text).toContain(`branch=${B}`);
    // a late provisional is absorbed
    layer.receiveResponse(response(183, { branch: B, toTag: 'd' }));
    expect(log).toEqual(['res 180', 'timeout']);
    layer.receiveResponse(response(200, { branch: B, method: 'CANCEL', toTag: 'd' }));
    expect(layer.receiveResponse(response(487, { branch: B, toTag: 'd' }))).toBe(true);
    expect(log).toEqual(['res 180', 'timeout']); // not passed to the TU
    const acks = sent.filter((s) => s.text.startsWith('ACK '));
    expect(acks).toHaveLength(1);
    expect(txn.state).toBe('Completed');
    layer.receiveResponse(response(487, { branch: B, toTag: 'd' }));
    expect(sent.filter((s) => s.text.startsWith('ACK '))).toHaveLength(2);
    clock.advance(32000);
    expect(txn.state).toBe('Terminated');
    expect(layer.size.client).toBe(0);
  });

  it('a late 2xx after the timeout still goes to the TU (Accepted)', () => {
    const { layer, clock } = setup();
    const log: string[] = [];
    const txn = layer.createClient(forwarded(), udpTarget, handlers(log, (t) => t.cancel()), { frInv: 1000 });
    layer.receiveResponse(response(180, { branch: B, toTag: 'd' }));
    clock.advance(1000);
    layer.receiveResponse(response(200, { branch: B, toTag: 'd' }));
    expect(log).toEqual(['res 180', 'timeout', 'res 200']);
    expect(txn.state).toBe('Accepted');
  });

  it('no final after the CANCEL: freed after 64·T1', () => {
    const { layer, clock } = setup();
    const log: string[] = [];
    const txn = layer.createClient(forwarded(), udpTarget, handlers(log, (t) => t.cancel()), { frInv: 1000 });
    layer.receiveResponse(response(180, { branch: B, toTag: 'd' }));
    clock.advance(1000);
    clock.advance(64 * 500 - 1);
    expect(txn.state).toBe('Proceeding');
    clock.advance(1);
    expect(txn.state).toBe('Terminated');
    expect(log.at(-1)).toBe('terminated');
  });

  it('without a cancel (or in Calling) the transaction terminates at once; timeout() is idempotent', () => {
    const { layer, clock, sent } = setup();
    const log: string[] = [];
    const a = layer.createClient(forwarded(), udpTarget, handlers(log, (t) => t.cancel()), { fr: 1000 });
    clock.advance(1000);
    expect(a.state).toBe('Terminated');
    expect(sent.some((s) => s.text.startsWith('CANCEL '))).toBe(false);
    expect(log).toEqual(['timeout', 'terminated']);
    const log2: string[] = [];
    const b = layer.createClient(forwarded({ ourBranch: 'z9hG4bKout2' }), udpTarget, handlers(log2));
    layer.receiveResponse(response(180, { branch: 'z9hG4bKout2' }));
    b.timeout();
    b.timeout();
    expect(log2).toEqual(['res 180', 'timeout', 'terminated']);
    expect(layer.size.client).toBe(0);
    expect(clock.pending).toBe(0);
  });
});
