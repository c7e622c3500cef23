import { parseMessage, type SipRequest, type SipResponse } from '../../src/sip/index.js';
import type { ReceiveInfo, SendTarget } from '../../src/transport/types.js';
import { FakeScheduler, TransactionLayer, type TransactionLayerOptions } from '../../src/transaction/index.js';

export function req(lines: string[], body = ''): SipRequest {
  const m = parseMessage(Buffer.from([...lines, `Content-Length: ${Buffer.byteLength(body)}`, '', body].join('\r\n')));
  if (!('method' in m)) throw new Error('not a request');
  return m;
}

export function res(lines: string[]): SipResponse {
  const m = parseMessage(Buffer.from([...lines, 'Content-Length: 0', '', ''].join('\r\n')));
  if (!('status' in m)) throw new Error('not a response');
  return m;
}

export interface ReqOpts {
  method?: string;
  branch?: string | null;
  via?: string;
  cseq?: number;
  cseqMethod?: string;
  toTag?: string;
  fromTag?: string;
  uri?: string;
  callId?: string;
  extra?: string[];
}

export function request(o: ReqOpts = {}): SipRequest {
  const method = o.method ?? 'INVITE';
  const branch = o.branch === undefined ? 'z9hG4bKabc123' : o.branch;
  const via = o.via ?? `SIP/2.0/UDP 192.0.2.1:5060${branch === null ? '' : `;branch=${branch}`}`;
  return req([
    `${method} ${o.uri ?? 'sip:bob@example.com'} SIP/2.0`,
    `Via: ${via}`,
    'Max-Forwards: 70',
    `To: <sip:bob@example.com>${o.toTag ? `;tag=${o.toTag}` : ''}`,
    `From: <sip:alice@example.com>;tag=${o.fromTag ?? 'ft1'}`,
    `Call-ID: ${o.callId ?? 'call-1@example.com'}`,
    `CSeq: ${o.cseq ?? 1} ${o.cseqMethod ?? method}`,
    ...(o.extra ?? []),
  ]);
}

/** A response as a downstream element sends it to us: our Via on top. */
export function response(status: number, o: { branch: string; method?: string; toTag?: string; cseq?: number; via2?: boolean }): SipResponse {
  return res([
    `SIP/2.0 ${status} Whatever`,
    `Via: SIP/2.0/UDP 10.0.0.1:5060;branch=${o.branch}`,
    ...(o.via2 === false ? [] : ['Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKabc123']),
    `To: <sip:bob@example.com>${o.toTag ? `;tag=${o.toTag}` : ''}`,
    'From: <sip:alice@example.com>;tag=ft1',
    'Call-ID: call-1@example.com',
    `CSeq: ${o.cseq ?? 1} ${o.method ?? 'INVITE'}`,
  ]);
}

export const udpInfo: ReceiveInfo = {
  proto: 'udp',
  local: { address: '10.0.0.1', port: 5060, family: 4 },
  remote: { address: '192.0.2.1', port: 5060, family: 4 },
  socketId: 1,
};

export const tcpInfo: ReceiveInfo = { ...udpInfo, proto: 'tcp', remote: { address: '192.0.2.1', port: 40000, family: 4 }, connectionId: 7 };

export const udpTarget: SendTarget = { proto: 'udp', address: '198.51.100.5', port: 5060 };
export const tcpTarget: SendTarget = { proto: 'tcp', address: '198.51.100.5', port: 5060 };

export interface Sent {
  target: SendTarget;
  text: string;
  at: number;
}

export function setup(opts: Partial<TransactionLayerOptions> = {}) {
  const clock = new FakeScheduler();
  const sent: Sent[] = [];
  let fail: unknown;
  const layer = new TransactionLayer({
    send: (target, data) => {
      if (fail !== undefined) return Promise.reject(fail);
      sent.push({ target, text: data.toString('utf8'), at: clock.now() });
      return Promise.resolve();
    },
    scheduler: clock,
    ...opts,
  });
  return {
    clock,
    sent,
    layer,
    failSends(err: unknown) {
      fail = err;
    },
    /** Times (ms) of sends whose first line starts with `prefix`. */
    times(prefix: string): number[] {
      return sent.filter((s) => s.text.startsWith(prefix)).map((s) => s.at);
    },
  };
}

/** A request as the proxy forwards it: our Via on top with `branch`. */
export function forwarded(o: ReqOpts & { ourBranch?: string } = {}): SipRequest {
  const r = request(o);
  r.addVia(`SIP/2.0/UDP 10.0.0.1:5060;branch=${o.ourBranch ?? 'z9hG4bKout1'}`);
  return r;
}

export function headerLines(text: string): string[] {
  return text.split('\r\n\r\n')[0]!.split('\r\n');
}
