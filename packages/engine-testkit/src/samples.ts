import type { ReceiveInfo } from '@ksr/core';

/**
 * The INVITE engine tests route: a real message to parse, with the fields the fixtures read
 * (display name, tags, Contact). Options change the few parts some tests need different.
 */
export function sampleInvite(opts: { callId?: string; branch?: string; extraHeaders?: readonly string[] } = {}): string {
  return [
    'INVITE sip:bob@ksr.test SIP/2.0',
    `Via: SIP/2.0/UDP 192.0.2.10:5070;branch=${opts.branch ?? 'z9hG4bK-inv1'};rport`,
    'Max-Forwards: 70',
    'From: "Alice" <sip:alice@atlanta.test>;tag=a1',
    'To: <sip:bob@ksr.test>',
    `Call-ID: ${opts.callId ?? 'call-1@192.0.2.10'}`,
    'CSeq: 10 INVITE',
    'Contact: <sip:alice@192.0.2.10:5070>',
    ...(opts.extraHeaders ?? []),
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

/** Where the sample INVITE came from: UDP from 192.0.2.10:5070 to 127.0.0.1:5060. */
export const SAMPLE_INFO: ReceiveInfo = {
  proto: 'udp',
  local: { address: '127.0.0.1', port: 5060, family: 4 },
  remote: { address: '192.0.2.10', port: 5070, family: 4 },
  socketId: 0,
};
