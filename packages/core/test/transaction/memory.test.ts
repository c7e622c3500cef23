import { describe, expect, it } from 'vitest';
import { FakeScheduler, type ClientHandlers } from '../../src/transaction/index.js';
import { forwarded, request, response, setup, tcpInfo, tcpTarget, udpInfo, udpTarget } from './helpers.js';

describe('FakeScheduler', () => {
  it('fires due timers in time then creation order, including timers created while firing', () => {
    const s = new FakeScheduler();
    const out: string[] = [];
    s.after(10, () => out.push('a10'));
    s.after(5, () => {
      out.push('b5');
      s.after(1, () => out.push('c6'));
    });
    s.after(10, () => out.push('d10'));
    const x = s.after(7, () => out.push('x'));
    x.cancel();
    expect(s.pending).toBe(4 - 1);
    s.advance(9);
    expect(out).toEqual(['b5', 'c6']);
    expect(s.now()).toBe(9);
    s.advance(1);
    expect(out).toEqual(['b5', 'c6', 'a10', 'd10']);
    expect(s.pending).toBe(0);
  });
});

const noop: ClientHandlers = { onResponse: () => {}, onTimeout: () => {}, onTransportError: () => {} };

describe('memory is bounded', () => {
  it('thousands of transactions of every kind leave empty tables and no timers', () => {
    const { layer, clock } = setup();
    const N = 2000;
    for (let i = 0; i < N; i++) {
      const br = `z9hG4bKm${i}`;
      const via = (p: string) => `SIP/2.0/${p} 192.0.2.1:5060;branch=${br}`;
      switch (i % 8) {
        case 0: {
          const t = layer.create(request({ via: via('UDP') }), udpInfo);
          const r = t.reply(486);
          if (i % 16 === 0) layer.receiveRequest(request({ method: 'ACK', via: via('UDP'), toTag: r.to.tag! }), udpInfo);
          break;
        }
        case 1:
          layer.create(request({ via: via('UDP') }), udpInfo).reply(200);
          break;
        case 2:
          layer.create(request({ method: 'OPTIONS', via: via('TCP') }), tcpInfo).reply(200);
          break;
        case 3: {
          const r = layer.receiveRequest(request({ method: 'CANCEL', via: via('UDP') }), udpInfo);
          if (r.kind === 'cancel') r.cancelTxn.reply(481);
          break;
        }
        case 4:
          layer.createClient(forwarded({ ourBranch: br }), udpTarget, noop); // times out (B)
          break;
        case 5: {
          const c = layer.createClient(forwarded({ ourBranch: br }), udpTarget, noop);
          layer.receiveResponse(response(180, { branch: br }));
          c.cancel();
          layer.receiveResponse(response(200, { branch: br, method: 'CANCEL' }));
          layer.receiveResponse(response(487, { branch: br }));
          break;
        }
        case 6:
          layer.createClient(forwarded({ method: 'OPTIONS', ourBranch: br }), tcpTarget, noop);
          layer.receiveResponse(response(200, { branch: br, method: 'OPTIONS' }));
          break;
        case 7:
          layer.createClient(forwarded({ ourBranch: br }), udpTarget, noop);
          layer.receiveResponse(response(200, { branch: br }));
          break;
      }
    }
    expect(layer.stats.current).toBeGreaterThan(0);
    clock.advance(64 * 500 + 1);
    expect(layer.size).toEqual({ server: 0, client: 0 });
    expect(clock.pending).toBe(0);
    const s = layer.stats;
    expect(s.current).toBe(0);
    expect(s.waiting).toBe(0);
    expect(s.created).toBe(s.freed);
    expect(s.total).toBe(N / 2);
    expect(s['2xx'] + s['4xx']).toBe(N / 2);
  });

  it('clear() frees everything at once', () => {
    const { layer, clock } = setup();
    layer.create(request(), udpInfo);
    layer.createClient(forwarded(), udpTarget, noop);
    layer.clear();
    expect(layer.size).toEqual({ server: 0, client: 0 });
    expect(clock.pending).toBe(0);
  });
});

describe('a stateful proxy flow', () => {
  it('INVITE in, branch out, 180/486 relayed, ACK absorbed upstream and generated downstream', () => {
    const { layer, sent } = setup();
    const inbound = layer.receiveRequest(request(), udpInfo);
    if (inbound.kind !== 'new') throw new Error('expected new');
    const server = inbound.txn;
    const out = request();
    out.addVia('SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKbr1');
    const client = layer.createClient(out, udpTarget, {
      onResponse: (res) => {
        // relay: strip our Via, send upstream through the server transaction
        res.removeTopVia();
        server.sendResponse(res);
      },
      onTimeout: () => server.reply(408),
      onTransportError: () => server.reply(503),
    });
    server.data = { branches: [client] };
    layer.receiveResponse(response(180, { branch: 'z9hG4bKbr1', toTag: 'd' }));
    layer.receiveResponse(response(486, { branch: 'z9hG4bKbr1', toTag: 'd' }));
    expect(server.state).toBe('Completed');
    expect(client.state).toBe('Completed');
    const up = sent.filter((s) => s.target.address === '192.0.2.1').map((s) => s.text.split('\r\n')[0]);
    expect(up).toEqual(['SIP/2.0 100 Trying', 'SIP/2.0 180 Whatever', 'SIP/2.0 486 Whatever']);
    const relayed486 = sent.find((s) => s.text.startsWith('SIP/2.0 486'))!;
    expect(relayed486.text).not.toContain('z9hG4bKbr1');
    expect(layer.receiveRequest(request({ method: 'ACK', toTag: 'd' }), udpInfo).kind).toBe('ack');
    expect(sent.filter((s) => s.text.startsWith('ACK ')).map((s) => s.target)).toEqual([udpTarget]);
  });
});
