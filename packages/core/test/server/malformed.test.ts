import { describe, expect, it } from 'vitest';
import { buildMalformedReply } from '../../src/server/malformed.js';

const CRLF = '\r\n';
function msg(lines: string[]): Buffer {
  return Buffer.from(lines.join(CRLF) + CRLF + CRLF, 'latin1');
}

describe('400 for requests the parser refused', () => {
  it('answers with the five headers copied and a To tag added', () => {
    const data = msg([
      'INVITE sip:bob@example.com SIP/2.0',
      'Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-1',
      'v: SIP/2.0/UDP 192.0.2.2;branch=z9hG4bK-2',
      'Max-Forwards: 99999999999999999', // what made the parser refuse it
      'f: <sip:alice@example.com>;tag=a1',
      't: Bob <sip:bob@example.com>',
      'i: abc@192.0.2.1',
      'CSeq: 1 INVITE',
      'Content-Length: 0',
    ]);
    const reply = buildMalformedReply(data, 'tag99')!.toString('latin1');
    expect(reply.startsWith('SIP/2.0 400 Bad Request\r\n')).toBe(true);
    expect(reply).toContain('Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-1\r\nVia: SIP/2.0/UDP 192.0.2.2;branch=z9hG4bK-2\r\n');
    expect(reply).toContain('From: <sip:alice@example.com>;tag=a1\r\n');
    expect(reply).toContain('To: Bob <sip:bob@example.com>;tag=tag99\r\n');
    expect(reply).toContain('Call-ID: abc@192.0.2.1\r\n');
    expect(reply).toContain('CSeq: 1 INVITE\r\n');
    expect(reply.endsWith('Content-Length: 0\r\n\r\n')).toBe(true);
  });

  it('keeps an existing To tag', () => {
    const data = msg(['BYE sip:b@h SIP/2.0', 'Via: SIP/2.0/UDP h;branch=z9hG4bK1', 'From: <sip:a@h>;tag=1', 'To: <sip:b@h>;tag=2', 'Call-ID: x', 'CSeq: bogus']);
    const reply = buildMalformedReply(data, 'new')!.toString('latin1');
    expect(reply).toContain('To: <sip:b@h>;tag=2\r\n');
    expect(reply).not.toContain('tag=new');
  });

  it('drops what cannot be answered', () => {
    const base = ['Via: SIP/2.0/UDP h;branch=z9hG4bK1', 'From: <sip:a@h>;tag=1', 'To: <sip:b@h>', 'Call-ID: x', 'CSeq: 1 OPTIONS'];
    expect(buildMalformedReply(msg(['OPTIONS sip:h SIP/2.0', ...base.slice(1)]), 't')).toBeUndefined(); // no Via
    expect(buildMalformedReply(msg(['OPTIONS sip:h SIP/2.0', ...base.filter((l) => !l.startsWith('Call-ID'))]), 't')).toBeUndefined();
    expect(buildMalformedReply(msg(['ACK sip:h SIP/2.0', ...base]), 't')).toBeUndefined(); // ACK is never answered
    expect(buildMalformedReply(msg(['SIP/2.0 200 OK', ...base]), 't')).toBeUndefined(); // a response
    expect(buildMalformedReply(Buffer.from('garbage'), 't')).toBeUndefined();
    expect(buildMalformedReply(Buffer.alloc(0), 't')).toBeUndefined();
    expect(buildMalformedReply(msg(['OPTIONS sip:h SIP/2.0', 'Via: SIP/2.0/UDP h\x00evil', ...base.slice(1)]), 't')).toBeUndefined();
  });
});
