import { describe, expect, it } from 'vitest';
import {
  DEFAULT_LIMITS,
  SipParseError,
  SipRequest,
  SipResponse,
  isRequest,
  parseMessage,
} from '../../src/sip/index.js';
import { BASIC_HEADERS, crlf, invite, reasonOf, req, res } from './helpers.js';

const RESPONSE_HEADERS = [
  'Via: SIP/2.0/UDP server10.biloxi.example.com;branch=z9hG4bK4b43c2ff8.1',
  'Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds;received=192.0.2.1',
  'To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf',
  'From: Alice <sip:alice@atlanta.example.com>;tag=1928301774',
  'Call-ID: a84b4c76e66710@pc33.atlanta.example.com',
  'CSeq: 314159 INVITE',
];

describe('start line', () => {
  it('parses a request line', () => {
    const m = req(invite());
    expect(m).toBeInstanceOf(SipRequest);
    expect(isRequest(m)).toBe(true);
    expect(m.method).toBe('INVITE');
    expect(m.uri).toBe('sip:bob@biloxi.example.com');
    expect(m.ruri.user).toBe('bob');
    expect(m.ruri.host).toBe('biloxi.example.com');
    expect(m.version).toBe('SIP/2.0');
  });

  it('parses a status line', () => {
    const m = res(crlf('SIP/2.0 180 Ringing', ...RESPONSE_HEADERS, 'Content-Length: 0', '', ''));
    expect(m).toBeInstanceOf(SipResponse);
    expect(isRequest(m)).toBe(false);
    expect(m.status).toBe(180);
    expect(m.reason).toBe('Ringing');
    expect(m.version).toBe('SIP/2.0');
    expect(m.via).toHaveLength(2);
  });

  it('accepts SIP/2.0 case-insensitively', () => {
    expect(req(invite().toString().replace('SIP/2.0\r\n', 'sip/2.0\r\n')).version).toBe('sip/2.0');
    expect(res(crlf('sIp/2.0 200 OK', ...RESPONSE_HEADERS, '', '')).status).toBe(200);
  });

  it('rejects other versions (RFC 4475 badvers)', () => {
    const r = reasonOf(() => parseMessage(Buffer.from(invite().toString().replace('SIP/2.0\r\n', 'SIP/7.0\r\n'))));
    expect(r).toMatch(/unsupported SIP version/);
    expect(() => parseMessage(crlf('SIP/3.0 200 OK', ...RESPONSE_HEADERS, '', ''))).toThrow(SipParseError);
  });

  it('accepts an empty reason phrase (noreason) and a missing SP after the code', () => {
    expect(res(crlf('SIP/2.0 100 ', ...RESPONSE_HEADERS, '', '')).reason).toBe('');
    expect(res(crlf('SIP/2.0 100', ...RESPONSE_HEADERS, '', '')).reason).toBe('');
  });

  it('decodes a UTF-8 reason phrase (unreason)', () => {
    const m = res(crlf('SIP/2.0 200 = 2**3 * 5**2 но сто девяносто девять - простое', ...RESPONSE_HEADERS, '', ''));
    expect(m.reason).toBe('= 2**3 * 5**2 но сто девяносто девять - простое');
  });

  it('rejects bad status codes (bigcode and friends)', () => {
    for (const line of ['SIP/2.0 4294967301 better not break the receiver', 'SIP/2.0 99 Low', 'SIP/2.0 700 High', 'SIP/2.0 20x OK', 'SIP/2.0 2000 OK', 'SIP/2.0  200 OK']) {
      expect(() => parseMessage(crlf(line, ...RESPONSE_HEADERS, '', '')), line).toThrow(SipParseError);
    }
  });

  it('rejects multiple SP, trailing SP and LWS inside the Request-URI (lwsstart, trws, lwsruri)', () => {
    const body = [...BASIC_HEADERS, 'Content-Length: 0', '', ''];
    for (const line of [
      'INVITE  sip:user@example.com  SIP/2.0',
      'OPTIONS sip:remote-target@example.com SIP/2.0  ',
      'INVITE sip:user@example.com; lr SIP/2.0',
      'INVITE sip:user@example.com\tSIP/2.0',
      'INVITE sip:user@example.com',
      'INVITE',
      ' INVITE sip:user@example.com SIP/2.0',
    ]) {
      expect(() => parseMessage(crlf(line, ...body)), line).toThrow(SipParseError);
    }
  });

  it('rejects a Request-URI enclosed in <> (ltgtruri) and one with headers (escruri)', () => {
    const tail = [...BASIC_HEADERS, 'Content-Length: 0', '', ''];
    expect(() => parseMessage(crlf('INVITE <sip:user@example.com> SIP/2.0', ...tail))).toThrow(SipParseError);
    expect(reasonOf(() => parseMessage(crlf('INVITE sip:user@example.com?Route=%3Csip:example.com%3E SIP/2.0', ...tail)))).toMatch(
      /must not contain headers/,
    );
  });

  it('accepts token methods with unusual characters (intmeth) and unknown schemes (unkscm, novelsc)', () => {
    const tail = [...BASIC_HEADERS.slice(0, 5), "CSeq: 139122385 !interesting-Method0123456789_*+`.%indeed'~", 'Content-Length: 0', '', ''];
    const m = req(
      crlf(
        "!interesting-Method0123456789_*+`.%indeed'~ sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com SIP/2.0",
        ...tail,
      ),
    );
    expect(m.method).toBe("!interesting-Method0123456789_*+`.%indeed'~");
    expect(m.ruri.user).toBe("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
    expect(m.ruri.password).toBe("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
    expect(m.cseq.method).toBe(m.method);

    const u = req(crlf('OPTIONS nobodyKnowsThisScheme:totallyopaquecontent SIP/2.0', ...tail));
    expect(u.ruri.scheme).toBe('nobodyknowsthisscheme');
    expect(u.ruri.hostType).toBe('none');
    const n = req(crlf('OPTIONS soap.beep://192.0.2.103:3002 SIP/2.0', ...tail));
    expect(n.ruri.scheme).toBe('soap.beep');
  });

  it('rejects a non-token method', () => {
    expect(() => parseMessage(crlf('INV(ITE sip:a@b SIP/2.0', ...BASIC_HEADERS, '', ''))).toThrow(SipParseError);
  });

  it('skips leading CRLFs before the start line (§7.5) and excludes them from raw', () => {
    const m = req(Buffer.concat([Buffer.from('\r\n\r\n\n'), invite()]));
    expect(m.method).toBe('INVITE');
    expect(m.raw.equals(invite())).toBe(true);
  });

  it('rejects empty input and input that is only CRLFs', () => {
    expect(() => parseMessage(Buffer.alloc(0))).toThrow(SipParseError);
    expect(() => parseMessage(Buffer.from('\r\n\r\n'))).toThrow(SipParseError);
  });
});

describe('header section', () => {
  it('accepts bare LF line endings', () => {
    const m = req(invite().toString().replace(/\r\n/g, '\n'));
    expect(m.callId).toBe('a84b4c76e66710@pc33.atlanta.example.com');
    expect(m.body.length).toBe(0);
  });

  it('unfolds continuation lines into one SP and trims values', () => {
    const m = req(
      invite([
        'Subject:   I know you are there,',
        '    pick up the phone',
        '\tand talk to me!   ',
        'NewFangledHeader:   newfangled value',
        ' continued newfangled value',
      ]),
    );
    expect(m.header('subject')).toBe('I know you are there, pick up the phone and talk to me!');
    expect(m.header('NEWFANGLEDHEADER')).toBe('newfangled value continued newfangled value');
  });

  it('handles the whitespace of RFC 4475 wsinv', () => {
    const m = req(
      crlf(
        'INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0',
        'TO :',
        ' sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n',
        'from   : "J Rosenberg \\\\\\""       <sip:jdrosen@example.com>',
        '  ;',
        '  tag = 98asjd8',
        'MaX-fOrWaRdS: 0068',
        'Call-ID: wsinv.ndaksdj@192.0.2.1',
        'Content-Length   : 150',
        'cseq: 0009',
        '  INVITE',
        'Via  : SIP  /   2.0',
        ' /UDP',
        '    192.0.2.2;branch=390skdjuw',
        's :',
        'NewFangledHeader:   newfangled value',
        ' continued newfangled value',
        'UnknownHeaderWithUnusualValue: ;;,,;;,;',
        'Content-Type: application/sdp',
        'Route:',
        ' <sip:services.example.com;lr;unknownwith=value;unknown-no-value>',
        'v:  SIP  / 2.0  / TCP     spindle.example.com   ;',
        '  branch  =   z9hG4bK9ikj8  ,',
        ' SIP  /    2.0   / UDP  192.168.255.111   ; branch=',
        ' z9hG4bK30239',
        'm:"Quoted string \\"\\"" <sip:jdrosen@example.com> ; newparam =',
        '      newvalue ;',
        '  secondparam ; q = 0.33',
        '',
        'v=0\r\no=mhandley 29739 7272939 IN IP4 192.0.2.3\r\ns=-\r\nc=IN IP4 192.0.2.4\r\nt=0 0\r\nm=audio 49217 RTP/AVP 0 12\r\nm=video 3227 RTP/AVP 31\r\na=rtpmap:31 LPC\r\n',
      ),
    );
    expect(m.to.uri.user).toBe('vivekg');
    expect(m.to.tag).toBe('1918181833n');
    expect(m.from.displayName).toBe('J Rosenberg \\"');
    expect(m.from.tag).toBe('98asjd8');
    expect(m.maxForwards).toBe(68);
    expect(m.cseq).toEqual({ seq: 9, method: 'INVITE' });
    expect(m.via.map((v) => [v.transport, v.host, v.branch])).toEqual([
      ['UDP', '192.0.2.2', '390skdjuw'],
      ['TCP', 'spindle.example.com', 'z9hG4bK9ikj8'],
      ['UDP', '192.168.255.111', 'z9hG4bK30239'],
    ]);
    expect(m.header('subject')).toBe('');
    expect(m.hasHeader('s')).toBe(true);
    expect(m.route).toHaveLength(1);
    expect(m.route[0]!.uri.params.has('lr')).toBe(true);
    expect(m.contact.contacts).toHaveLength(1);
    expect(m.contact.contacts[0]!.displayName).toBe('Quoted string ""');
    expect(m.contact.contacts[0]!.params.get('newparam')).toBe('newvalue');
    expect(m.contact.contacts[0]!.params.get('secondparam')).toBeNull();
    expect(m.contact.contacts[0]!.params.get('q')).toBe('0.33');
    expect(m.contentLength).toBe(150);
    expect(m.body.length).toBe(150);
  });

  it('resolves compact forms and any case', () => {
    const m = req(
      crlf(
        'OPTIONS sip:a@example.com SIP/2.0',
        'v: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1',
        'f: <sip:b@example.com>;tag=1',
        't: <sip:a@example.com>',
        'i: abc@def',
        'CSEQ: 1 OPTIONS',
        'm: <sip:b@192.0.2.1>',
        'k: path, outbound',
        'c: text/plain',
        'l: 2',
        '',
        'hi',
      ),
    );
    expect(m.via[0]!.branch).toBe('z9hG4bK1');
    expect(m.from.tag).toBe('1');
    expect(m.callId).toBe('abc@def');
    expect(m.header('Call-ID')).toBe('abc@def');
    expect(m.header('i')).toBe('abc@def');
    expect(m.header('CONTENT-type')).toBe('text/plain');
    expect(m.contentType).toBe('text/plain');
    expect(m.headerValues('Supported')).toEqual(['path', 'outbound']);
    expect(m.headers.map((h) => h.key)).toEqual([
      'via', 'from', 'to', 'call-id', 'cseq', 'contact', 'supported', 'content-type', 'content-length',
    ]);
    expect(m.headers[0]).toEqual({ name: 'v', key: 'via', value: 'SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1' });
    expect(m.body.toString()).toBe('hi');
  });

  it('splits list headers on commas outside quotes and <> and keeps others whole', () => {
    const m = req(
      invite([
        'Contact: "Doe, John" <sip:jo,hn@a.example.com;x=1>;expires=60, <sip:j2@b.example.com>',
        'Route: <sip:p1.example.com;lr>,<sip:p2.example.com;lr>',
        'Route: <sip:p3.example.com;lr>',
        'Allow: INVITE, ACK,CANCEL ,, BYE',
        'Date: Sat, 13 Nov 2010 23:29:00 GMT',
        'Authorization: Digest username="a, b", realm="x"',
        'X-Custom: a, b',
      ]),
    );
    expect(m.headerValues('contact')).toEqual([
      '<sip:alice@pc33.atlanta.example.com>',
      '"Doe, John" <sip:jo,hn@a.example.com;x=1>;expires=60',
      '<sip:j2@b.example.com>',
    ]);
    expect(m.contact.contacts.map((c) => c.uri.user)).toEqual(['alice', 'jo,hn', 'j2']);
    expect(m.contact.contacts[1]!.displayName).toBe('Doe, John');
    expect(m.contact.contacts[1]!.params.get('expires')).toBe('60');
    expect(m.route.map((r) => r.uri.host)).toEqual(['p1.example.com', 'p2.example.com', 'p3.example.com']);
    expect(m.headerValues('route')).toHaveLength(3);
    expect(m.headerValues('allow')).toEqual(['INVITE', 'ACK', 'CANCEL', 'BYE']);
    expect(m.headerValues('date')).toEqual(['Sat, 13 Nov 2010 23:29:00 GMT']);
    expect(m.headerValues('authorization')).toHaveLength(1);
    expect(m.headerValues('x-custom')).toEqual(['a, b']);
    expect(m.headerValues('nope')).toEqual([]);
    // results are copies
    m.headerValues('allow').push('X');
    expect(m.headerValues('allow')).toHaveLength(4);
  });

  it('rejects header lines without colon, bad names and continuation before any header', () => {
    expect(reasonOf(() => parseMessage(invite(['NoColonHere'])))).toMatch(/without colon/);
    expect(reasonOf(() => parseMessage(invite(['Bad Name: x'])))).toMatch(/invalid header name/);
    expect(reasonOf(() => parseMessage(invite([': empty name'])))).toMatch(/invalid header name/);
    expect(reasonOf(() => parseMessage(invite(['Bad(Name): x'])))).toMatch(/invalid header name/);
    expect(reasonOf(() => parseMessage(crlf('OPTIONS sip:a@b SIP/2.0', ' folded: x', ...BASIC_HEADERS, '', '')))).toMatch(
      /continuation/,
    );
  });

  it('rejects a bare CR and a missing empty line', () => {
    expect(() => parseMessage(invite(['X-A: a\rb']))).toThrow(SipParseError);
    expect(() => parseMessage(Buffer.from('OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\n'))).toThrow(/truncated/);
    expect(() => parseMessage(Buffer.from('OPTIONS sip:a@b SIP/2.0'))).toThrow(/truncated/);
  });

  it('rejects raw control characters outside quoted-pairs, accepts them inside (intmeth To display name)', () => {
    for (const v of ['a\u0000b', '\u0000', '\u001b[31mred', 'a\u007fb', '"a\u0000b"', 'a\\\u0000']) {
      expect(reasonOf(() => parseMessage(invite([`X-Weird: ${v}`]))), JSON.stringify(v)).toMatch(/control character/);
    }
    expect(reasonOf(() => parseMessage(Buffer.from(crlf('SIP/2.0 200 O\u0001K', ...BASIC_HEADERS, '', ''))))).toMatch(/control character in start line/);
    expect(req(invite(['X-Tab: a\tb'])).header('x-tab')).toBe('a\tb');
    expect(req(invite(['X-Q: "a\\\u0000b"'])).header('x-q')).toBe('"a\\\u0000b"');
    const to = req(
      crlf(
        'OPTIONS sip:a@example.com SIP/2.0',
        'Via: SIP/2.0/TCP host1.example.com;branch=z9hG4bK-.!%66*_+`\'~',
        'To: "BEL:\\\u0007 NUL:\\\u0000 DEL:\\\u007f" <sip:1_unusual.URI~(to-be!sure)&isn\'t+it$/crazy?,/;;*@example.com>',
        'From: token1~` token2\'+_ token3*%!.- <sip:mundane@example.com>;fromParam\'\'~+*_!.-%="работающий";tag=_token~1\'+`*%!-.',
        'Call-ID: intmeth.word%ZK-!.*_+\'@word`~)(><:\\/"][?}{',
        'CSeq: 139122385 OPTIONS',
        'Max-Forwards: 255',
        "extensionHeader-!.%*+_`'~: \ufeff大停電",
        'Content-Length: 0',
        '',
        '',
      ),
    );
    expect(to.to.displayName).toBe('BEL:\u0007 NUL:\u0000 DEL:\u007f');
    expect(to.from.displayName).toBe("token1~` token2'+_ token3*%!.-");
    expect(to.from.params.get("fromparam''~+*_!.-%")).toBe('"работающий"');
    expect(to.from.tag).toBe("_token~1'+`*%!-.");
    expect(to.callId).toBe('intmeth.word%ZK-!.*_+\'@word`~)(><:\\/"][?}{');
    expect(to.header("extensionHeader-!.%*+_`'~")).toBe('\ufeff大停電');
    expect(to.via[0]!.branch).toBe("z9hG4bK-.!%66*_+`'~");
  });
});

describe('hot headers', () => {
  it('parses Via, From, To, Call-ID, CSeq, Max-Forwards, Content-Length, Contact, Route, Record-Route eagerly', () => {
    const m = req(invite(['Record-Route: <sip:rr1.example.com;lr>, <sip:rr2.example.com;lr>', 'Route: <sip:r.example.com;lr>']));
    expect(m.via).toHaveLength(1);
    expect(m.via[0]!).toMatchObject({ protocol: 'SIP/2.0', transport: 'UDP', host: '192.0.2.1', port: 5060, branch: 'z9hG4bK776asdhds' });
    expect(m.from.displayName).toBe('Alice');
    expect(m.from.tag).toBe('1928301774');
    expect(m.to.tag).toBeUndefined();
    expect(m.to.uri.host).toBe('biloxi.example.com');
    expect(m.callId).toBe('a84b4c76e66710@pc33.atlanta.example.com');
    expect(m.cseq).toEqual({ seq: 314159, method: 'INVITE' });
    expect(m.maxForwards).toBe(70);
    expect(m.contentLength).toBe(0);
    expect(m.contact.star).toBe(false);
    expect(m.contact.contacts[0]!.uri.host).toBe('pc33.atlanta.example.com');
    expect(m.recordRoute.map((r) => r.uri.host)).toEqual(['rr1.example.com', 'rr2.example.com']);
    expect(m.route.map((r) => r.uri.host)).toEqual(['r.example.com']);
    expect(m.expires).toBeUndefined();
    expect(m.contentType).toBeUndefined();
  });

  it('collects all Via values top-first across headers and commas', () => {
    const m = res(
      crlf(
        'SIP/2.0 200 OK',
        'Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1, SIP/2.0/TCP b.example.com:5070;branch=z9hG4bK2',
        'v: SIP/2.0/TLS [2001:db8::1]:5061;branch=z9hG4bK3;received=2001:db8::9;rport=5999',
        ...RESPONSE_HEADERS.slice(2),
        '',
        '',
      ),
    );
    expect(m.via.map((v) => v.host)).toEqual(['a.example.com', 'b.example.com', '[2001:db8::1]']);
    expect(m.via[2]!.received).toBe('2001:db8::9');
    expect(m.via[2]!.rport).toBe(5999);
    expect(m.headerValues('via')).toHaveLength(3);
  });

  it('accepts a missing Max-Forwards but requires Via, From, To, Call-ID, CSeq (insuf)', () => {
    const headers = BASIC_HEADERS.filter((h) => !h.startsWith('Max-Forwards'));
    expect(req(crlf('OPTIONS sip:a@b SIP/2.0', ...headers, '', '')).maxForwards).toBeUndefined();
    for (const name of ['Via', 'To', 'From', 'Call-ID', 'CSeq']) {
      const hs = BASIC_HEADERS.filter((h) => !h.startsWith(`${name}:`));
      expect(reasonOf(() => parseMessage(crlf('OPTIONS sip:a@b SIP/2.0', ...hs, '', ''))), name).toMatch(
        new RegExp(`missing required header ${name}`),
      );
    }
    expect(() =>
      parseMessage(crlf('INVITE sip:user@example.com SIP/2.0', 'CSeq: 193942 INVITE', 'Via: SIP/2.0/UDP 192.0.2.95;branch=z9hG4bKkdj.insuf', 'Content-Type: application/sdp', 'l: 0', '', '')),
    ).toThrow(SipParseError);
  });

  it('does not enforce CSeq method == request method (mismatch01/02)', () => {
    const m = req(crlf('OPTIONS sip:a@b SIP/2.0', ...BASIC_HEADERS, '', ''));
    expect(m.method).toBe('OPTIONS');
    expect(m.cseq.method).toBe('INVITE');
  });

  it('bounds CSeq at 2^32-1', () => {
    const at = (v: string) => crlf('OPTIONS sip:a@b SIP/2.0', ...BASIC_HEADERS.filter((h) => !h.startsWith('CSeq')), `CSeq: ${v}`, '', '');
    expect(req(at('4294967295 OPTIONS')).cseq.seq).toBe(4294967295);
    expect(req(at('0 OPTIONS')).cseq.seq).toBe(0);
    expect(reasonOf(() => parseMessage(at('4294967296 OPTIONS')))).toMatch(/out of range/);
    expect(() => parseMessage(at('36893488147419103232 OPTIONS'))).toThrow(SipParseError); // scalar02
    for (const bad of ['-1 OPTIONS', 'OPTIONS', '12', '12OPTIONS', '1 2 OPTIONS', 'x OPTIONS', '1 OPT/IONS', '']) {
      expect(() => parseMessage(at(bad)), bad).toThrow(SipParseError);
    }
  });

  it('bounds Max-Forwards at 0..255 (zeromf ok, scalar02 fails)', () => {
    const at = (v: string) => invite().toString().replace('Max-Forwards: 70', `Max-Forwards: ${v}`);
    expect(req(at('0')).maxForwards).toBe(0);
    expect(req(at('255')).maxForwards).toBe(255);
    expect(req(at('0068')).maxForwards).toBe(68);
    for (const bad of ['256', '300', '-1', 'ten', '', '1 2', '99999999999999999999']) {
      expect(() => parseMessage(Buffer.from(at(bad))), bad).toThrow(SipParseError);
    }
  });

  it('rejects negative, non-numeric and overflowing Content-Length (ncl)', () => {
    for (const bad of ['-999', 'abc', '1e3', '99999999999999999999', '', '+5']) {
      const data = invite().toString().replace('Content-Length: 0', `Content-Length: ${bad}`);
      expect(() => parseMessage(Buffer.from(data)), bad).toThrow(SipParseError);
    }
  });

  it('Expires is lazy and bounded at 2^32-1', () => {
    expect(req(invite(['Expires: 3600'])).expires).toBe(3600);
    expect(req(invite(['Expires: 4294967295'])).expires).toBe(4294967295);
    const m = req(invite([`Expires: 1${'0'.repeat(100)}`]));
    expect(() => m.expires).toThrow(SipParseError);
    expect(() => req(invite(['Expires: soon'])).expires).toThrow(SipParseError);
  });

  it('rejects conflicting duplicates of single-value headers, accepts identical ones (multi01, mcl01)', () => {
    for (const dup of [
      'To: sip:other@example.net',
      'From: sip:caller@example.net;tag=2923420123',
      'Call-ID: other@x',
      'CSeq: 59 INVITE',
      'Max-Forwards: 5',
      'Content-Length: 5',
    ]) {
      expect(reasonOf(() => parseMessage(invite([dup]))), dup).toMatch(/conflicting duplicate/);
    }
    const same = req(invite(['Call-ID: a84b4c76e66710@pc33.atlanta.example.com', 'Max-Forwards: 070', 'Content-Length: 0']));
    expect(same.callId).toBe('a84b4c76e66710@pc33.atlanta.example.com');
    expect(same.maxForwards).toBe(70);
  });

  it('Contact: * (star) alone, and not mixed with addresses', () => {
    const m = req(crlf('REGISTER sip:example.com SIP/2.0', ...BASIC_HEADERS.filter((h) => !h.startsWith('Contact')), 'Contact: *', 'Expires: 0', '', ''));
    expect(m.contact).toEqual({ star: true, contacts: [] });
    expect(() => parseMessage(invite(['Contact: *']))).toThrow(/mixed/);
  });

  it('an empty Contact/Route header contributes nothing; empty list elements fail (badinv01)', () => {
    expect(req(invite(['Route:'])).route).toEqual([]);
    expect(() => parseMessage(invite(['Route: <sip:a@b>,,<sip:c@d>']))).toThrow(SipParseError);
    expect(() => parseMessage(invite(['Contact: "Joe" <sip:joe@example.org>;;;;']))).toThrow(SipParseError);
    expect(() => parseMessage(Buffer.from(invite().toString().replace('branch=z9hG4bK776asdhds', 'branch=z9hG4bK776asdhds;;,;,,')))).toThrow(
      SipParseError,
    );
    expect(() => parseMessage(Buffer.from(invite().toString().replace(';tag=1928301774', ';;tag=1928301774')))).toThrow(SipParseError);
  });

  it('a bare URI in Route/Record-Route keeps its params in the URI (loose routing)', () => {
    const m = req(invite(['Route: sip:proxy.example.com;lr, <sip:p2.example.com;lr>;x=1', 'Record-Route: sip:rr.example.com;lr;transport=tcp']));
    expect(m.route[0]!.uri.params.has('lr')).toBe(true);
    expect(m.route[0]!.params.size).toBe(0);
    expect(m.route[1]!.params.get('x')).toBe('1');
    expect(m.recordRoute[0]!.uri.params.get('transport')).toBe('tcp');
    // From/To/Contact keep the addr-spec rule (params belong to the header)
    expect(m.from.uri.params.size).toBe(0);
  });

  it('rejects malformed From/To (quotbal, badaspec, baddn, regbadct)', () => {
    const swap = (hdr: string, v: string) =>
      Buffer.from(invite().toString().replace(new RegExp(`^${hdr}: .*$`, 'm'), `${hdr}: ${v}`));
    expect(() => parseMessage(swap('To', '"Mr. J. User <sip:j.user@example.com>'))).toThrow(/invalid To header/);
    expect(() => parseMessage(swap('To', '"Watson, Thomas" < sip:t.watson@example.org >'))).toThrow(SipParseError);
    expect(() => parseMessage(swap('From', 'Bell, Alexander <sip:a.g.bell@example.com>;tag=43'))).toThrow(/invalid From header/);
    expect(() => parseMessage(swap('Contact', 'sip:user@example.com?Route=%3Csip:sip.example.com%3E'))).toThrow(/Contact/);
    expect(() => parseMessage(swap('To', 'not a uri'))).toThrow(SipParseError);
    expect(() => parseMessage(swap('To', '<sip:bob@biloxi.example.com'))).toThrow(SipParseError);
    // but a bracketed Contact with escaped headers is fine (regescrt)
    expect(req(swap('Contact', '<sip:user@example.com?Route=%3Csip:sip.example.com%3E>')).contact.contacts[0]!.uri.headers.get('Route')).toBe(
      '%3Csip:sip.example.com%3E',
    );
  });

  it('accepts unknown URI schemes in headers (unksm2)', () => {
    const m = req(
      crlf(
        'REGISTER sip:example.com SIP/2.0',
        'To: isbn:2983792873',
        'From: <http://www.example.com>;tag=3234233',
        'Call-ID: unksm2.daksdj@hyphenated-host.example.com',
        'CSeq: 234902 REGISTER',
        'Max-Forwards: 70',
        'Via: SIP/2.0/UDP 192.0.2.21:5060;branch=z9hG4bKkdjuw',
        'Contact: <name:John_Smith>',
        'l: 0',
        '',
        '',
      ),
    );
    expect(m.to.uri.scheme).toBe('isbn');
    expect(m.from.uri.scheme).toBe('http');
    expect(m.from.tag).toBe('3234233');
    expect(m.contact.contacts[0]!.uri.scheme).toBe('name');
  });

  it('rejects an empty or whitespace Call-ID', () => {
    expect(() => parseMessage(Buffer.from(invite().toString().replace(/^Call-ID: .*$/m, 'Call-ID:')))).toThrow(SipParseError);
    expect(() => parseMessage(Buffer.from(invite().toString().replace(/^Call-ID: .*$/m, 'Call-ID: a b')))).toThrow(SipParseError);
  });

  it('rejects bad Via sent-by and params', () => {
    for (const v of [
      'SIP/2.0/UDP',
      'SIP/2.0/UDP ;branch=x',
      'SIP/2.0 192.0.2.1',
      'SIP/2.0/UDP 192.0.2.1:99999',
      'SIP/2.0/UDP 2001:db8::1',
      'SIP/2.0/UDP [2001:db8::zz]',
      'SIP/2.0/UDP host_name.example.com',
      'SIP/2.0/UDP 192.0.2.1;ttl=256',
      'SIP/2.0/UDP 192.0.2.1;rport=x',
      'SIP/2.0/UDP 192.0.2.1;branch',
      'SIP/2.0/UDP 192.0.2.1 junk',
      'SIP/2.0/UDP 192.0.2.256',
    ]) {
      const data = invite().toString().replace(/^Via: .*$/m, `Via: ${v}`);
      expect(() => parseMessage(Buffer.from(data)), v).toThrow(/Via/);
    }
  });
});

describe('Content-Length framing', () => {
  it('takes exactly Content-Length body bytes and ignores the rest of a datagram (dblreq)', () => {
    const first = invite([], 'v=0\r\n');
    const data = Buffer.concat([first, Buffer.from('REGISTER sip:example.com SIP/2.0\r\nTo: x\r\n\r\n')]);
    const m = req(data);
    expect(m.body.toString()).toBe('v=0\r\n');
    expect(m.raw.equals(first)).toBe(true);
    expect(m.serialize().equals(first)).toBe(true);
  });

  it('fails when Content-Length is larger than the bytes present (clerr)', () => {
    const data = Buffer.from(invite([], 'short').toString().replace('Content-Length: 5', 'Content-Length: 9999'));
    expect(reasonOf(() => parseMessage(data))).toMatch(/Content-Length 9999 larger than/);
  });

  it('without Content-Length takes the rest of a datagram, but fails on a stream', () => {
    const data = crlf('MESSAGE sip:a@b SIP/2.0', ...BASIC_HEADERS, 'Content-Type: text/plain', '', 'hello\r\nworld');
    expect(req(data).body.toString()).toBe('hello\r\nworld');
    expect(req(data).contentLength).toBeUndefined();
    expect(reasonOf(() => parseMessage(data, { stream: true }))).toMatch(/missing Content-Length/);
    expect(req(invite([], 'abc'), { stream: true }).body.toString()).toBe('abc');
  });

  it('keeps binary bodies with NUL bytes intact', () => {
    const body = Buffer.from([0, 1, 2, 0xff, 0, 13, 10, 13, 10, 0x80, 0]);
    const head = crlf('MESSAGE sip:a@b SIP/2.0', ...BASIC_HEADERS, 'Content-Type: application/octet-stream', `Content-Length: ${body.length}`, '', '');
    const m = req(Buffer.concat([head, body, Buffer.from('trailing')]));
    expect(m.body.equals(body)).toBe(true);
    expect(m.raw.length).toBe(head.length + body.length);
  });

  it('multipart body (mpart01-like) is framed by Content-Length only', () => {
    const body = '--boundary42\r\nContent-Type: text/plain\r\n\r\nhi\r\n--boundary42--\r\n';
    const m = req(invite(['Content-Type: multipart/mixed;boundary=boundary42'], body));
    expect(m.body.toString()).toBe(body);
  });
});

describe('limits', () => {
  it('exposes the defaults', () => {
    expect(DEFAULT_LIMITS).toEqual({ maxMessageSize: 65535, maxHeaders: 256, maxLineLength: 8192 });
  });

  it('maxMessageSize', () => {
    const big = invite([], 'x'.repeat(70000));
    expect(reasonOf(() => parseMessage(big))).toMatch(/maxMessageSize/);
    expect(reasonOf(() => parseMessage(invite([], 'x'.repeat(200)), { limits: { maxMessageSize: 300 } }))).toMatch(/maxMessageSize/);
    expect(req(big, { limits: { maxMessageSize: 100000 } }).body.length).toBe(70000);
  });

  it('maxHeaders', () => {
    const many = Array.from({ length: 300 }, (_, i) => `X-H${i}: ${i}`);
    expect(reasonOf(() => parseMessage(invite(many)))).toMatch(/maxHeaders/);
    expect(req(invite(many), { limits: { maxHeaders: 400 } }).header('x-h299')).toBe('299');
    expect(reasonOf(() => parseMessage(invite([]), { limits: { maxHeaders: 3 } }))).toMatch(/maxHeaders/);
  });

  it('maxLineLength for header lines (folded lines count as one) and the start line', () => {
    expect(reasonOf(() => parseMessage(invite([`X-Long: ${'a'.repeat(9000)}`])))).toMatch(/maxLineLength/);
    const folded = Array.from({ length: 20 }, (_, i) => (i === 0 ? `X-Fold: ${'a'.repeat(500)}` : ` ${'b'.repeat(500)}`));
    expect(reasonOf(() => parseMessage(invite(folded)))).toMatch(/maxLineLength/);
    expect(req(invite([`X-Long: ${'a'.repeat(8000)}`])).header('x-long')!.length).toBe(8000);
    expect(reasonOf(() => parseMessage(crlf(`OPTIONS sip:${'a'.repeat(9000)}@b SIP/2.0`, ...BASIC_HEADERS, '', '')))).toMatch(/maxLineLength/);
    expect(reasonOf(() => parseMessage(Buffer.from(`OPTIONS sip:${'a'.repeat(9000)}`)))).toMatch(/maxLineLength/);
  });

  it('long but legal values parse (longreq-like)', () => {
    const vias = Array.from({ length: 34 }, (_, i) => `Via: SIP/2.0/TCP sip${i}.example.com`);
    const m = req(
      crlf(
        'INVITE sip:user@example.com SIP/2.0',
        `To: "I have a user name of ${'extreme'.repeat(10)} proportion"<sip:user@example.com:6000;unknownparam1=very${'long'.repeat(20)}value;longparam${'name'.repeat(25)}=shortvalue;very${'long'.repeat(25)}ParameterNameWithNoValue>`,
        `F: sip:${'amazinglylongcallername'.repeat(5)}@example.net;tag=12${'982'.repeat(50)}424;unknownheaderparam${'name'.repeat(20)}=unknowheaderparam${'value'.repeat(15)};unknownValueless${'paramname'.repeat(10)}`,
        `Call-ID: longreq.one${'really'.repeat(20)}longcallid`,
        'CSeq: 3882340 INVITE',
        ...vias,
        'Max-Forwards: 70',
        'l: 0',
        '',
        '',
      ),
    );
    expect(m.via).toHaveLength(34);
    expect(m.from.tag).toBe(`12${'982'.repeat(50)}424`);
    expect(m.to.displayName).toContain('extremeextreme');
    expect(m.to.uri.port).toBe(6000);
  });
});

describe('parseMessage input handling', () => {
  it('accepts a plain Uint8Array', () => {
    const b = invite();
    expect(req(new Uint8Array(b.buffer, b.byteOffset, b.byteLength) as Buffer).method).toBe('INVITE');
  });

  it('raises SipParseError with code and reason', () => {
    try {
      parseMessage(Buffer.from('garbage'));
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(SipParseError);
      const e = err as SipParseError;
      expect(e.code).toBe('KSR_ERR_SIP_PARSE');
      expect(e.message).toBe(e.reason);
      expect(e.name).toBe('SipParseError');
    }
  });
});
