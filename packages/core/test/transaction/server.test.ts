import { describe, expect, it } from 'vitest';
import { TransactionStateError, defaultReplyTarget } from '../../src/transaction/index.js';
import { request, res, setup, tcpInfo, udpInfo } from './helpers.js';

describe('INVITE server transaction (UDP)', () => {
  it('sends 100 Trying at creation and retransmits the last response on INVITE retransmissions', () => {
    const { layer, sent } = setup();
    const r = layer.receiveRequest(request(), udpInfo);
    expect(r.kind).toBe('new');
    const txn = r.kind === 'new' ? r.txn : undefined!;
    expect(txn.isInvite).toBe(true);
    expect(txn.state).toBe('Proceeding');
    expect(sent).toHaveLength(1);
    expect(sent[0]!.text).toMatch(/^SIP\/2\.0 100 /);
    expect(sent[0]!.target).toMatchObject({ proto: 'udp', address: '192.0.2.1', port: 5060 });

    const again = layer.receiveRequest(request(), udpInfo);
    expect(again).toEqual({ kind: 'retransmission', txn });
    expect(sent).toHaveLength(2);
    expect(sent[1]!.text).toMatch(/^SIP\/2\.0 100 /);

    txn.reply(180);
    layer.receiveRequest(request(), udpInfo);
    expect(sent.map((s) => s.text.slice(8, 11))).toEqual(['100', '100', '180', '180']);
    expect(layer.stats.rpl_generated).toBe(2);
    expect(layer.stats.rpl_sent).toBe(2);
  });

  it('autoInv100 can be disabled', () => {
    const { layer, sent } = setup({ autoInv100: false });
    layer.receiveRequest(request(), udpInfo);
    expect(sent).toHaveLength(0);
  });

  it('Timer G retransmits a non-2xx final (T1 doubling, capped at T2) until Timer H', () => {
    const { layer, clock, times } = setup({ autoInv100: false });
    const txn = layer.create(request(), udpInfo);
    const terminated: string[] = [];
    txn.onTerminated = (t) => terminated.push(t.id);
    txn.reply(486);
    expect(txn.state).toBe('Completed');
    clock.advance(40000);
    // 0, then +500, +1000, +2000, +4000, +4000 …, H at 32000 (the G due at 32000 is not sent after H)
    expect(times('SIP/2.0 486')).toEqual([0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
    expect(txn.state).toBe('Terminated');
    expect(terminated).toEqual([txn.id]);
    expect(layer.size).toEqual({ server: 0, client: 0 });
    expect(clock.pending).toBe(0);
    expect(layer.stats['4xx']).toBe(1);
  });

  it('absorbs the ACK of a non-2xx final: Confirmed, G stops, Timer I (T4) frees it', () => {
    const { layer, clock, times } = setup({ autoInv100: false });
    const txn = layer.create(request(), udpInfo);
    const resp = txn.reply(404);
    clock.advance(600); // one G retransmission
    const ack = request({ method: 'ACK', toTag: resp.to.tag! });
    expect(layer.receiveRequest(ack, udpInfo)).toEqual({ kind: 'ack', txn });
    expect(txn.state).toBe('Confirmed');
    expect(layer.receiveRequest(ack, udpInfo)).toEqual({ kind: 'ack', txn }); // retransmitted ACK absorbed too
    expect(layer.receiveRequest(request(), udpInfo).kind).toBe('retransmission'); // INVITE absorbed in Confirmed
    clock.advance(4999 - 600 + 600 - 1);
    expect(txn.state).toBe('Confirmed');
    clock.advance(2);
    expect(txn.state).toBe('Terminated');
    expect(times('SIP/2.0 404')).toEqual([0, 500]);
    expect(layer.stats.waiting).toBe(0);
  });

  it('2xx → Accepted (RFC 6026): INVITE retransmissions absorbed, ACKs passed up, relayed 2xx sent, Timer L frees', () => {
    const { layer, clock, sent } = setup({ autoInv100: false });
    const txn = layer.create(request(), udpInfo);
    const ok = txn.reply(200);
    expect(txn.state).toBe('Accepted');
    expect(layer.receiveRequest(request(), udpInfo)).toEqual({ kind: 'retransmission', txn });
    expect(sent).toHaveLength(1);
    // ACK for 2xx with a new branch: not matched.
    expect(layer.receiveRequest(request({ method: 'ACK', branch: 'z9hG4bKack2', toTag: ok.to.tag! }), udpInfo)).toEqual({ kind: 'ack-2xx' });
    // ACK reusing the INVITE branch: matched but not absorbed.
    expect(layer.receiveRequest(request({ method: 'ACK', toTag: ok.to.tag! }), udpInfo)).toEqual({ kind: 'ack-2xx', txn });
    txn.sendResponse(ok); // a 2xx retransmission from downstream
    expect(sent).toHaveLength(2);
    expect(() => txn.reply(486)).toThrow(TransactionStateError);
    clock.advance(31999);
    expect(txn.state).toBe('Accepted');
    clock.advance(1);
    expect(txn.state).toBe('Terminated');
    expect(layer.stats).toMatchObject({ current: 0, waiting: 0, '2xx': 1, rpl_sent: 1 });
  });

  it('rejects a second final response and replies after termination', () => {
    const { layer } = setup();
    const txn = layer.create(request(), udpInfo);
    txn.reply(500);
    expect(() => txn.reply(404)).toThrow(TransactionStateError);
    expect(() => txn.reply(180)).toThrow(TransactionStateError);
  });

  it('uses one To tag for all locally generated replies', () => {
    const { layer } = setup();
    const txn = layer.create(request(), udpInfo);
    const a = txn.reply(180);
    const b = txn.reply(486);
    expect(a.to.tag).toBe(txn.toTag);
    expect(b.to.tag).toBe(txn.toTag);
  });
});

describe('INVITE server transaction (TCP)', () => {
  it('no Timer G; ACK frees it at once (I = 0); responses go back on the connection', () => {
    const { layer, clock, sent } = setup({ autoInv100: false });
    const txn = layer.create(request({ via: 'SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bKt1' }), tcpInfo);
    const r = txn.reply(486);
    expect(sent[0]!.target).toMatchObject({ proto: 'tcp', address: '192.0.2.1', port: 40000, connectionId: 7 });
    clock.advance(20000);
    expect(sent).toHaveLength(1);
    expect(layer.receiveRequest(request({ method: 'ACK', via: 'SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bKt1', toTag: r.to.tag! }), tcpInfo).kind).toBe('ack');
    expect(txn.state).toBe('Terminated');
    expect(clock.pending).toBe(0);
  });

  it('Timer H still applies over TCP', () => {
    const { layer, clock } = setup({ autoInv100: false });
    const txn = layer.create(request({ via: 'SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bKt1' }), tcpInfo);
    txn.reply(486);
    clock.advance(31999);
    expect(txn.state).toBe('Completed');
    clock.advance(1);
    expect(txn.state).toBe('Terminated');
  });
});

describe('non-INVITE server transaction', () => {
  it('Trying → Proceeding → Completed; retransmissions get the last response; Timer J = 64*T1 over UDP', () => {
    const { layer, clock, sent } = setup();
    const r = layer.receiveRequest(request({ method: 'OPTIONS' }), udpInfo);
    const txn = r.kind === 'new' ? r.txn : undefined!;
    expect(txn.state).toBe('Trying');
    expect(sent).toHaveLength(0); // no automatic 100 for non-INVITE
    expect(layer.receiveRequest(request({ method: 'OPTIONS' }), udpInfo).kind).toBe('retransmission');
    expect(sent).toHaveLength(0); // nothing to resend yet
    txn.reply(100);
    expect(txn.state).toBe('Proceeding');
    txn.reply(200);
    expect(txn.state).toBe('Completed');
    layer.receiveRequest(request({ method: 'OPTIONS' }), udpInfo);
    expect(sent.map((s) => s.text.slice(8, 11))).toEqual(['100', '200', '200']);
    clock.advance(20000);
    expect(sent).toHaveLength(3); // no retransmission timer for non-INVITE responses
    clock.advance(11999);
    expect(txn.state).toBe('Completed');
    clock.advance(1);
    expect(txn.state).toBe('Terminated');
    expect(layer.size.server).toBe(0);
  });

  it('Timer J is 0 over TCP', () => {
    const { layer, clock } = setup();
    const txn = layer.create(request({ method: 'REGISTER', via: 'SIP/2.0/TCP 192.0.2.1;branch=z9hG4bKr' }), tcpInfo);
    let done = false;
    txn.onTerminated = () => (done = true);
    txn.reply(200);
    expect(done).toBe(true);
    expect(layer.size.server).toBe(0);
    expect(clock.pending).toBe(0);
  });
});

describe('server matching (RFC 3261 §17.2.3)', () => {
  it('matches by branch + sent-by + method; a different sent-by or method is a new transaction', () => {
    const { layer } = setup();
    const t = layer.create(request({ method: 'OPTIONS' }), udpInfo);
    expect(layer.match(request({ method: 'OPTIONS' }))).toBe(t);
    expect(layer.match(request({ method: 'OPTIONS', via: 'SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKabc123' }))).toBe(t); // default port 5060
    expect(layer.match(request({ method: 'OPTIONS', via: 'SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bKabc123' }))).toBeUndefined();
    expect(layer.match(request({ method: 'INFO' }))).toBeUndefined();
    expect(layer.match(request({ method: 'OPTIONS', branch: 'z9hG4bKother' }))).toBeUndefined();
    expect(() => layer.create(request({ method: 'OPTIONS' }), udpInfo)).toThrow(TransactionStateError);
    expect(() => layer.create(request({ method: 'ACK' }), udpInfo)).toThrow(TypeError);
  });

  it('match() has no side effects', () => {
    const { layer, sent } = setup();
    expect(layer.match(request())).toBeUndefined();
    expect(layer.size.server).toBe(0);
    const t = layer.create(request(), udpInfo);
    layer.match(request());
    expect(sent).toHaveLength(1);
    expect(t.state).toBe('Proceeding');
  });

  it('CANCEL: own transaction, finds the INVITE, sets canceled; its retransmission matches the CANCEL transaction', () => {
    const { layer } = setup();
    const inv = layer.create(request(), udpInfo);
    const cancel = request({ method: 'CANCEL' });
    expect(layer.matchCancel(cancel)).toBe(inv);
    expect(layer.match(cancel)).toBeUndefined();
    const r = layer.receiveRequest(cancel, udpInfo);
    expect(r.kind).toBe('cancel');
    if (r.kind !== 'cancel') return;
    expect(r.txn).toBe(inv);
    expect(inv.canceled).toBe(true);
    expect(r.cancelTxn).not.toBe(inv);
    expect(r.cancelTxn.request.method).toBe('CANCEL');
    r.cancelTxn.reply(200);
    expect(layer.receiveRequest(request({ method: 'CANCEL' }), udpInfo)).toEqual({ kind: 'retransmission', txn: r.cancelTxn });
  });

  it('CANCEL without an INVITE transaction, and after a final response', () => {
    const { layer } = setup();
    const r = layer.receiveRequest(request({ method: 'CANCEL', branch: 'z9hG4bKnone' }), udpInfo);
    expect(r).toMatchObject({ kind: 'cancel', txn: undefined });
    const inv = layer.create(request(), udpInfo);
    inv.reply(486);
    const r2 = layer.receiveRequest(request({ method: 'CANCEL' }), udpInfo);
    expect(r2).toMatchObject({ kind: 'cancel', txn: inv });
    expect(inv.canceled).toBe(false);
  });

  it('RFC 2543 fallback: R-URI, To tag, From tag, Call-ID, CSeq, top Via', () => {
    const { layer } = setup({ autoInv100: false });
    const old = { branch: null, via: 'SIP/2.0/UDP 192.0.2.1:5060' } as const;
    const t = layer.create(request(old), udpInfo);
    expect(layer.match(request(old))).toBe(t);
    expect(layer.match(request({ ...old, fromTag: 'other' }))).toBeUndefined();
    expect(layer.match(request({ ...old, callId: 'x@y' }))).toBeUndefined();
    expect(layer.match(request({ ...old, cseq: 2 }))).toBeUndefined();
    expect(layer.match(request({ ...old, uri: 'sip:carol@example.com' }))).toBeUndefined();
    expect(layer.match(request({ ...old, toTag: 'sometag' }))).toBeUndefined();
    expect(layer.match(request({ ...old, via: 'SIP/2.0/UDP 192.0.2.2:5060' }))).toBeUndefined();
    // a non-cookie branch is RFC 2543 too
    expect(layer.match(request({ ...old, via: 'SIP/2.0/UDP 192.0.2.1:5060;branch=abc' }))).toBeUndefined();
    const r = t.reply(486);
    expect(layer.receiveRequest(request({ ...old, method: 'ACK', toTag: 'wrong' }), udpInfo)).toEqual({ kind: 'ack-2xx' });
    expect(layer.receiveRequest(request({ ...old, method: 'ACK', toTag: r.to.tag! }), udpInfo)).toEqual({ kind: 'ack', txn: t });
    expect(t.state).toBe('Confirmed');
    const c = layer.receiveRequest(request({ ...old, method: 'CANCEL' }), udpInfo);
    expect(c).toMatchObject({ kind: 'cancel', txn: t });
  });
});

describe('defaultReplyTarget (RFC 3261 §18.2.2, RFC 3581)', () => {
  it('UDP: source address, Via port; rport → source port; TCP → connection', () => {
    const info = { ...udpInfo, remote: { address: '203.0.113.9', port: 31000, family: 4 as const } };
    expect(defaultReplyTarget(request({ via: 'SIP/2.0/UDP 10.1.1.1:5070;branch=z9hG4bKx' }), info)).toEqual({
      proto: 'udp',
      address: '203.0.113.9',
      port: 5070,
      socketId: 1,
    });
    expect(defaultReplyTarget(request({ via: 'SIP/2.0/UDP 10.1.1.1:5070;rport;branch=z9hG4bKx' }), info).port).toBe(31000);
    expect(defaultReplyTarget(request({ via: 'SIP/2.0/UDP 10.1.1.1;branch=z9hG4bKx' }), info).port).toBe(5060);
    expect(defaultReplyTarget(request(), tcpInfo)).toMatchObject({ proto: 'tcp', port: 40000, connectionId: 7 });
  });

  it('a caller-given replyTarget wins', () => {
    const { layer, sent } = setup();
    layer.create(request(), udpInfo, { replyTarget: { proto: 'udp', address: '198.51.100.1', port: 9 } });
    expect(sent[0]!.target).toEqual({ proto: 'udp', address: '198.51.100.1', port: 9 });
  });

  it('relayed responses are sent as serialized', () => {
    const { layer, sent } = setup({ autoInv100: false });
    const txn = layer.create(request(), udpInfo);
    const r = res(['SIP/2.0 183 Session Progress', 'Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKabc123', 'To: <sip:bob@example.com>;tag=d1', 'From: <sip:alice@example.com>;tag=ft1', 'Call-ID: call-1@example.com', 'CSeq: 1 INVITE']);
    txn.sendResponse(r);
    expect(sent[0]!.text).toBe(r.raw.toString('utf8'));
    expect(txn.lastResponse).toBe(r);
  });
});
