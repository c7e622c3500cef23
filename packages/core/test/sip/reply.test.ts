import { describe, expect, it } from 'vitest';
import {
  MAGIC_COOKIE,
  SipResponse,
  buildReply,
  canonicalHeaderName,
  generateBranch,
  generateTag,
  isListHeader,
  reasonPhrase,
} from '../../src/sip/index.js';
import { BASIC_HEADERS, crlf, invite, req } from './helpers.js';

describe('buildReply (RFC 3261 §8.2.6)', () => {
  it('copies Via (all, in order), From, To, Call-ID, CSeq and adds a To tag', () => {
    const m = req(invite(['Via: SIP/2.0/UDP second.example.com;branch=z9hG4bK2, SIP/2.0/TCP third.example.com;branch=z9hG4bK3']));
    const r = buildReply(m, 486, undefined, { toTag: 'totag1' });
    expect(r).toBeInstanceOf(SipResponse);
    expect(r.status).toBe(486);
    expect(r.reason).toBe('Busy Here');
    expect(r.via.map((v) => v.host)).toEqual(['192.0.2.1', 'second.example.com', 'third.example.com']);
    expect(r.headerValues('via')).toEqual(m.headerValues('via'));
    expect(r.header('from')).toBe(m.header('from'));
    expect(r.to.tag).toBe('totag1');
    expect(r.header('to')).toBe('Bob <sip:bob@biloxi.example.com>;tag=totag1');
    expect(r.callId).toBe(m.callId);
    expect(r.cseq).toEqual(m.cseq);
    expect(r.contentLength).toBe(0);
    expect(r.headers.map((h) => h.name)).toEqual(['Via', 'Via', 'From', 'To', 'Call-ID', 'CSeq', 'Content-Length']);
    expect(r.raw.toString()).toMatch(/^SIP\/2\.0 486 Busy Here\r\nVia: SIP\/2\.0\/UDP 192\.0\.2\.1:5060;branch=z9hG4bK776asdhds\r\n/);
  });

  it('generates a To tag when none is given, never for 100, keeps an existing tag', () => {
    const m = req(invite());
    const r = buildReply(m, 180);
    expect(r.to.tag).toMatch(/^[0-9a-f]{16}$/);
    expect(buildReply(m, 100).to.tag).toBeUndefined();
    expect(buildReply(m, 100).reason).toBe('Trying');
    const tagged = req(invite().toString().replace('To: Bob <sip:bob@biloxi.example.com>', 'To: <sip:bob@biloxi.example.com>;tag=existing'));
    expect(buildReply(tagged, 200, 'OK', { toTag: 'other' }).to.tag).toBe('existing');
  });

  it('adds the tag as a header param for a bare addr-spec To', () => {
    const m = req(invite().toString().replace('To: Bob <sip:bob@biloxi.example.com>', 'To: sip:bob@biloxi.example.com'));
    const r = buildReply(m, 404, undefined, { toTag: 'x' });
    expect(r.to.tag).toBe('x');
    expect(r.to.uri.params.size).toBe(0);
  });

  it('uses the edited top Via (received/rport) and ignores Vias added by addVia', () => {
    const m = req(invite().toString().replace(';branch=z9hG4bK776asdhds', ';rport;branch=z9hG4bK776asdhds'));
    m.setTopViaParam('received', '198.51.100.1');
    m.setTopViaParam('rport', '40000');
    m.addVia('SIP/2.0/UDP proxy.example.com;branch=z9hG4bKmine');
    const r = buildReply(m, 403);
    expect(r.via).toHaveLength(1);
    expect(r.via[0]!.received).toBe('198.51.100.1');
    expect(r.via[0]!.rport).toBe(40000);
  });

  it('extra headers, body and content type; Content-Length always present', () => {
    const m = req(invite());
    const r = buildReply(m, 200, 'Fine', {
      toTag: 't',
      headers: [
        ['Contact', '<sip:server@192.0.2.9>'],
        ['Allow', 'INVITE, ACK, BYE'],
      ],
      body: 'v=0\r\n',
      contentType: 'application/sdp',
    });
    expect(r.reason).toBe('Fine');
    expect(r.headers.map((h) => h.name)).toEqual(['Via', 'From', 'To', 'Call-ID', 'CSeq', 'Contact', 'Allow', 'Content-Type', 'Content-Length']);
    expect(r.contact.contacts[0]!.uri.host).toBe('192.0.2.9');
    expect(r.body.toString()).toBe('v=0\r\n');
    expect(r.contentLength).toBe(5);
    expect(r.contentType).toBe('application/sdp');
    const bin = buildReply(m, 200, undefined, { toTag: 't', body: Buffer.from([0, 0xff, 0]) });
    expect(bin.body.equals(Buffer.from([0, 0xff, 0]))).toBe(true);
  });

  it('UTF-8 reason phrases survive', () => {
    expect(buildReply(req(invite()), 480, 'Nicht verfügbar').reason).toBe('Nicht verfügbar');
  });

  it('rejects bad arguments', () => {
    const m = req(invite());
    expect(() => buildReply(m, 99)).toThrow(RangeError);
    expect(() => buildReply(m, 700)).toThrow(RangeError);
    expect(() => buildReply(m, 200.5)).toThrow(RangeError);
    expect(() => buildReply(m, 200, 'OK\r\nX-Evil: 1')).toThrow(TypeError);
    expect(() => buildReply(m, 200, 'OK', { headers: [['X-A', 'a\r\nb']] })).toThrow(TypeError);
    expect(() => buildReply(m, 200, 'OK', { headers: [['X A', 'a']] })).toThrow(TypeError);
    expect(() => buildReply(m, 200, 'OK', { toTag: 'a b' })).toThrow(TypeError);
  });

  it('works for a request with compact headers and LF line ends', () => {
    const m = req(
      crlf('OPTIONS sip:a@b SIP/2.0', 'v: SIP/2.0/UDP h.example.com;branch=z9hG4bKq', 'f: <sip:x@y>;tag=1', 't: <sip:a@b>', 'i: cid', 'CSeq: 7 OPTIONS', '', '')
        .toString()
        .replace(/\r\n/g, '\n'),
    );
    const r = buildReply(m, 200);
    expect(r.via[0]!.host).toBe('h.example.com');
    expect(r.callId).toBe('cid');
    expect(r.cseq).toEqual({ seq: 7, method: 'OPTIONS' });
    expect(r.from.tag).toBe('1');
  });

  it('result serializes to its raw bytes', () => {
    const r = buildReply(req(crlf('BYE sip:a@b SIP/2.0', ...BASIC_HEADERS, '', '')), 200);
    expect(r.serialize()).toBe(r.raw);
  });
});

describe('reasonPhrase', () => {
  it('standard phrases and the Unknown fallback', () => {
    expect(reasonPhrase(100)).toBe('Trying');
    expect(reasonPhrase(200)).toBe('OK');
    expect(reasonPhrase(404)).toBe('Not Found');
    expect(reasonPhrase(407)).toBe('Proxy Authentication Required');
    expect(reasonPhrase(481)).toBe('Call/Transaction Does Not Exist');
    expect(reasonPhrase(483)).toBe('Too Many Hops');
    expect(reasonPhrase(503)).toBe('Service Unavailable');
    expect(reasonPhrase(603)).toBe('Decline');
    expect(reasonPhrase(299)).toBe('Unknown');
  });
});

describe('ids', () => {
  it('tags are 16 hex chars and distinct', () => {
    const tags = new Set(Array.from({ length: 2000 }, () => generateTag()));
    expect(tags.size).toBe(2000);
    for (const t of tags) expect(t).toMatch(/^[0-9a-f]{16}$/);
  });

  it('branches start with the magic cookie', () => {
    expect(MAGIC_COOKIE).toBe('z9hG4bK');
    const b = generateBranch();
    expect(b.startsWith('z9hG4bK')).toBe(true);
    expect(b).toMatch(/^z9hG4bK[0-9a-f]{20}$/);
    expect(generateBranch()).not.toBe(b);
  });
});

describe('canonicalHeaderName', () => {
  it('lowercases full names and expands every compact form', () => {
    expect(canonicalHeaderName('Call-ID')).toBe('call-id');
    expect(canonicalHeaderName('VIA')).toBe('via');
    expect(canonicalHeaderName('X-Custom')).toBe('x-custom');
    const compact: Record<string, string> = {
      i: 'call-id', m: 'contact', e: 'content-encoding', l: 'content-length', c: 'content-type', f: 'from',
      s: 'subject', k: 'supported', t: 'to', v: 'via', o: 'event', u: 'allow-events', r: 'refer-to',
      b: 'referred-by', x: 'session-expires', y: 'identity', a: 'accept-contact', j: 'reject-contact',
      d: 'request-disposition', n: 'identity-info',
    };
    for (const [k, v] of Object.entries(compact)) {
      expect(canonicalHeaderName(k)).toBe(v);
      expect(canonicalHeaderName(k.toUpperCase())).toBe(v);
    }
    expect(canonicalHeaderName('z')).toBe('z');
  });

  it('isListHeader', () => {
    expect(isListHeader('Via')).toBe(true);
    expect(isListHeader('m')).toBe(true);
    expect(isListHeader('Record-Route')).toBe(true);
    expect(isListHeader('Authorization')).toBe(false);
    expect(isListHeader('Date')).toBe(false);
  });
});
