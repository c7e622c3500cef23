import { parseMessage, SipParseError, type SipRequest, type SipResponse } from '../../src/sip/index.js';

/** Join lines with CRLF; the caller includes the empty line ('') and body. */
export function crlf(...lines: string[]): Buffer {
  return Buffer.from(lines.join('\r\n'), 'utf8');
}

export const BASIC_HEADERS = [
  'Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds',
  'Max-Forwards: 70',
  'To: Bob <sip:bob@biloxi.example.com>',
  'From: Alice <sip:alice@atlanta.example.com>;tag=1928301774',
  'Call-ID: a84b4c76e66710@pc33.atlanta.example.com',
  'CSeq: 314159 INVITE',
  'Contact: <sip:alice@pc33.atlanta.example.com>',
];

/** A minimal valid INVITE with `extra` header lines appended and the given body. */
export function invite(extra: string[] = [], body = ''): Buffer {
  return crlf(
    'INVITE sip:bob@biloxi.example.com SIP/2.0',
    ...BASIC_HEADERS,
    ...extra,
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  );
}

export function req(data: Buffer | string, opts?: Parameters<typeof parseMessage>[1]): SipRequest {
  const m = parseMessage(typeof data === 'string' ? Buffer.from(data, 'utf8') : data, opts);
  if (!('method' in m)) throw new Error('expected a request');
  return m;
}

export function res(data: Buffer | string, opts?: Parameters<typeof parseMessage>[1]): SipResponse {
  const m = parseMessage(typeof data === 'string' ? Buffer.from(data, 'utf8') : data, opts);
  if (!('status' in m)) throw new Error('expected a response');
  return m;
}

/** The SipParseError reason thrown by fn (fails the test when fn does not throw one). */
export function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof SipParseError) return err.reason;
    throw err;
  }
  throw new Error('expected a SipParseError');
}
