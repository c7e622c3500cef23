import { describe, expect, it } from 'vitest';
import { SipParseError, parseMessage } from '../../src/sip/index.js';
import { BASIC_HEADERS, crlf, invite, req, res } from './helpers.js';

/** Original text with `line` inserted before the line that starts with `before` (or before the empty line). */
function withLineBefore(text: string, before: string | null, line: string): string {
  const at = before === null ? text.indexOf('\r\n\r\n') + 2 : text.indexOf(`\r\n${before}`) + 2;
  return text.slice(0, at) + line + text.slice(at);
}

describe('serialize without edits', () => {
  it('returns raw itself, byte-identical', () => {
    const m = req(invite([], 'v=0\r\n'));
    expect(m.modified).toBe(false);
    expect(m.serialize()).toBe(m.raw);
    expect(m.serialize().equals(invite([], 'v=0\r\n'))).toBe(true);
  });

  it('a no-op edit (absent header) records nothing', () => {
    const m = req(invite());
    expect(m.removeHeader('X-Absent')).toBe(0);
    expect(m.replaceHeader('X-Absent', 'v')).toBe(false);
    expect(m.insertHeaderBefore('X-Absent', 'X-New', 'v')).toBe(false);
    expect(m.appendHeaderAfter('X-Absent', 'X-New', 'v')).toBe(false);
    expect(m.modified).toBe(false);
    expect(m.serialize().equals(m.raw)).toBe(true);
  });
});

describe('header edits', () => {
  it('appendHeader adds after the last header in call order', () => {
    const m = req(invite([], 'body'));
    m.appendHeader('X-A', '1');
    m.appendHeader('X-B', ' 2 ');
    expect(m.modified).toBe(true);
    const text = invite([], 'body').toString();
    expect(m.serialize().toString()).toBe(withLineBefore(text, null, 'X-A: 1\r\nX-B: 2\r\n'));
    // getters keep showing the original
    expect(m.hasHeader('x-a')).toBe(false);
    expect(m.headers.length).toBe(BASIC_HEADERS.length + 1);
    const again = req(m.serialize());
    expect(again.headerValues('x-a')).toEqual(['1']);
    expect(again.headers.at(-1)!.name).toBe('X-B');
  });

  it('insertHeader puts the header first; the latest call ends up first', () => {
    const m = req(invite());
    m.insertHeader('X-1', 'a');
    m.insertHeader('X-2', 'b');
    const text = invite().toString();
    expect(m.serialize().toString()).toBe(withLineBefore(text, 'Via:', 'X-2: b\r\nX-1: a\r\n'));
  });

  it('insertHeaderBefore / appendHeaderAfter anchor at the first occurrence (compact names resolve)', () => {
    const m = req(invite());
    expect(m.insertHeaderBefore('cseq', 'X-Before', '1')).toBe(true);
    expect(m.appendHeaderAfter('i', 'X-After', '2')).toBe(true);
    const names = req(m.serialize()).headers.map((h) => h.name);
    expect(names.slice(4, 8)).toEqual(['Call-ID', 'X-After', 'X-Before', 'CSeq']);
  });

  it('removeHeader removes all (or the index-th) fields incl. compact forms and returns the count', () => {
    const m = req(invite(['Route: <sip:a.example.com;lr>', 'Route: <sip:b.example.com;lr>', 'X-K: 1', 'x-k: 2', 'X-K: 3']));
    expect(m.removeHeader('x-k', 1)).toBe(1);
    expect(req(m.serialize()).headerValues('x-k')).toEqual(['1', '3']);
    expect(m.removeHeader('X-K')).toBe(2);
    expect(m.removeHeader('X-K')).toBe(0);
    expect(m.removeHeader('route', 5)).toBe(0);
    expect(m.removeHeader('route', 0)).toBe(1);
    const again = req(m.serialize());
    expect(again.hasHeader('x-k')).toBe(false);
    expect(again.route.map((r) => r.uri.host)).toEqual(['b.example.com']);

    const c = req(crlf('OPTIONS sip:a@b SIP/2.0', ...BASIC_HEADERS.filter((h) => !h.startsWith('Contact')), 'm: <sip:x@y>', 'Contact: <sip:z@w>', '', ''));
    expect(c.removeHeader('Contact')).toBe(2);
    expect(req(c.serialize()).contact.contacts).toEqual([]);
  });

  it('removing a folded header removes its continuation lines', () => {
    const text = invite(['Subject: first line', '  second line', '\tthird line', 'X-After: yes']).toString();
    const m = req(text);
    expect(m.header('subject')).toBe('first line second line third line');
    m.removeHeader('subject');
    expect(m.serialize().toString()).toBe(text.replace('Subject: first line\r\n  second line\r\n\tthird line\r\n', ''));
  });

  it('replaceHeader keeps the position and the name as written', () => {
    const text = crlf('OPTIONS sip:a@b SIP/2.0', ...BASIC_HEADERS, 'subject: old', ' folded', 'X-Z: z', '', '').toString();
    const m = req(text);
    expect(m.replaceHeader('Subject', 'new value')).toBe(true);
    expect(m.serialize().toString()).toBe(text.replace('subject: old\r\n folded\r\n', 'subject: new value\r\n'));
    expect(m.header('subject')).toBe('old folded');
    expect(m.replaceHeader('subject', 'newer')).toBe(true);
    expect(req(m.serialize()).header('subject')).toBe('newer');
  });

  it('edits are visible in currentHeaders()', () => {
    const m = req(invite());
    m.removeHeader('contact');
    m.appendHeader('X-A', '1');
    m.replaceHeader('max-forwards', '69');
    const cur = m.currentHeaders();
    expect(cur.map((h) => h.key)).toEqual(['via', 'max-forwards', 'to', 'from', 'call-id', 'cseq', 'content-length', 'x-a']);
    expect(cur[1]!.value).toBe('69');
    expect(m.headers.map((h) => h.key)).toContain('contact');
  });

  it('rejects header injection and bad names', () => {
    const m = req(invite());
    expect(() => m.appendHeader('X-A', 'a\r\nVia: evil')).toThrow(TypeError);
    expect(() => m.appendHeader('X A', 'a')).toThrow(TypeError);
    expect(() => m.insertHeader('', 'a')).toThrow(TypeError);
    expect(() => m.replaceHeader('to', 'a\nb')).toThrow(TypeError);
    expect(() => m.appendHeader('X-A', 'a\u0000b')).toThrow(TypeError);
    expect(() => m.appendHeader('X-A', 'a\u001bb')).toThrow(TypeError);
    m.appendHeader('X-Q', '"quoted-pair \\\u0000 ok"');
    expect(req(m.serialize()).header('x-q')).toBe('"quoted-pair \\\u0000 ok"');
    m.removeHeader('x-q');
    expect(() => m.setTopViaParam('received', '1.2.3.4;x')).toThrow(TypeError);
    expect(() => m.setTopViaParam('bad name', null)).toThrow(TypeError);
  });
});

describe('Request-URI', () => {
  it('setRequestUri rewrites only the R-URI span', () => {
    const text = invite([], 'x').toString();
    const m = req(text);
    m.setRequestUri('sip:bob@192.0.2.4:5080;transport=tcp');
    expect(m.newRequestUri).toBe('sip:bob@192.0.2.4:5080;transport=tcp');
    expect(m.uri).toBe('sip:bob@biloxi.example.com');
    expect(m.ruri.host).toBe('biloxi.example.com');
    expect(m.serialize().toString()).toBe(text.replace('INVITE sip:bob@biloxi.example.com SIP/2.0', 'INVITE sip:bob@192.0.2.4:5080;transport=tcp SIP/2.0'));
    m.setRequestUri('sip:carol@example.com');
    expect(req(m.serialize()).uri).toBe('sip:carol@example.com');
  });

  it('rejects invalid URIs', () => {
    const m = req(invite());
    expect(() => m.setRequestUri('sip:a b@c')).toThrow(SipParseError);
    expect(() => m.setRequestUri('<sip:a@b>')).toThrow(SipParseError);
    expect(() => m.setRequestUri('sip:a@b?x=y')).toThrow(SipParseError);
    expect(m.newRequestUri).toBeUndefined();
    expect(m.modified).toBe(false);
  });
});

describe('setBody', () => {
  it('replaces the body and rewrites Content-Length; sets Content-Type', () => {
    const m = req(invite(['Content-Type: text/plain'], 'old'));
    m.setBody('new body ü', 'application/sdp');
    const again = req(m.serialize());
    expect(again.body.toString()).toBe('new body ü');
    expect(again.contentLength).toBe(Buffer.byteLength('new body ü'));
    expect(again.contentType).toBe('application/sdp');
    expect(again.headerValues('content-type')).toHaveLength(1);
    expect(m.body.toString()).toBe('old');
    expect(m.contentLength).toBe(3);
  });

  it('adds Content-Length (and Content-Type) when absent', () => {
    const m = req(crlf('MESSAGE sip:a@b SIP/2.0', ...BASIC_HEADERS, '', 'rest of datagram'));
    expect(m.contentLength).toBeUndefined();
    m.setBody(Buffer.from([0, 1, 2, 0]), 'application/octet-stream');
    const out = m.serialize();
    const again = req(out, { stream: true });
    expect(again.contentLength).toBe(4);
    expect(again.contentType).toBe('application/octet-stream');
    expect(again.body.equals(Buffer.from([0, 1, 2, 0]))).toBe(true);
    expect(out.toString('latin1')).toMatch(/Content-Type: application\/octet-stream\r\nContent-Length: 4\r\n\r\n\x00\x01\x02\x00$/);
  });

  it('empty body removes Content-Type unless one is given; "" always removes it', () => {
    const a = req(invite(['Content-Type: application/sdp'], 'v=0'));
    a.setBody('');
    let again = req(a.serialize());
    expect(again.contentLength).toBe(0);
    expect(again.hasHeader('content-type')).toBe(false);
    expect(again.body.length).toBe(0);

    const b = req(invite(['Content-Type: application/sdp'], 'v=0'));
    b.setBody('x=1');
    again = req(b.serialize());
    expect(again.contentType).toBe('application/sdp');

    const c = req(invite(['Content-Type: application/sdp'], 'v=0'));
    c.setBody('x=1', '');
    expect(req(c.serialize()).hasHeader('content-type')).toBe(false);
  });

  it('collapses duplicate (identical) Content-Length headers', () => {
    const m = req(invite(['l: 0']));
    m.setBody('abc');
    const again = req(m.serialize());
    expect(again.headerValues('content-length')).toEqual(['3']);
  });
});

describe('Via edits', () => {
  it('setTopViaParam adds received and a flag rport, touching only the top Via line', () => {
    const text = invite(['Via: SIP/2.0/UDP second.example.com;branch=z9hG4bK2']).toString();
    const m = req(text);
    m.setTopViaParam('received', '198.51.100.7');
    m.setTopViaParam('rport', '5099');
    expect(m.serialize().toString()).toBe(
      text.replace(
        'Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds\r\n',
        'Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds;received=198.51.100.7;rport=5099\r\n',
      ),
    );
    expect(m.via[0]!.received).toBeUndefined();
    const v = req(m.serialize()).via;
    expect(v[0]!.received).toBe('198.51.100.7');
    expect(v[0]!.rport).toBe(5099);
    expect(v[1]!.received).toBeUndefined();
  });

  it('setTopViaParam replaces an existing param (rport flag -> value) and writes flags', () => {
    const m = req(invite().toString().replace(';branch=z9hG4bK776asdhds', ';rport;branch=z9hG4bK776asdhds'));
    m.setTopViaParam('rport', '6000');
    m.setTopViaParam('alias', null);
    const via = req(m.serialize()).via[0]!;
    expect(via.rport).toBe(6000);
    expect(via.params.get('alias')).toBeNull();
    expect(via.raw).toBe('SIP/2.0/UDP 192.0.2.1:5060;rport=6000;branch=z9hG4bK776asdhds;alias');
  });

  it('setTopViaParam on a multi-value Via header changes only the first value', () => {
    const m = res(
      crlf(
        'SIP/2.0 200 OK',
        'Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1 , SIP/2.0/UDP b.example.com;branch=z9hG4bK2',
        ...BASIC_HEADERS.slice(1),
        '',
        '',
      ),
    );
    m.setTopViaParam('received', '10.0.0.1');
    const v = req(Buffer.from(m.serialize().toString().replace('SIP/2.0 200 OK', 'OPTIONS sip:x@y SIP/2.0'))).via;
    expect(v.map((x) => [x.host, x.received])).toEqual([
      ['a.example.com', '10.0.0.1'],
      ['b.example.com', undefined],
    ]);
  });

  it('addVia pushes a new top Via; removeTopVia pops values and headers', () => {
    const m = req(invite(['Via: SIP/2.0/UDP second.example.com;branch=z9hG4bK2, SIP/2.0/UDP third.example.com;branch=z9hG4bK3']));
    m.addVia('SIP/2.0/TCP proxy.example.com;branch=z9hG4bKnew;rport');
    let vias = req(m.serialize()).via.map((v) => v.host);
    expect(vias).toEqual(['proxy.example.com', '192.0.2.1', 'second.example.com', 'third.example.com']);
    expect(() => m.addVia('garbage')).toThrow(SipParseError);

    m.removeTopVia(); // the one we added
    m.removeTopVia(); // 192.0.2.1
    vias = req(m.serialize()).via.map((v) => v.host);
    expect(vias).toEqual(['second.example.com', 'third.example.com']);
    m.removeTopVia(); // first value of the two-value header
    const again = req(m.serialize());
    expect(again.via.map((v) => v.host)).toEqual(['third.example.com']);
    expect(again.headerValues('via')).toEqual(['SIP/2.0/UDP third.example.com;branch=z9hG4bK3']);
    expect(m.via).toHaveLength(3); // original view
  });

  it('response forwarding: removeTopVia leaves everything else byte-identical', () => {
    const text = crlf(
      'SIP/2.0 200 OK',
      'Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp',
      'Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds;received=192.0.2.1',
      ...BASIC_HEADERS.slice(1),
      'Content-Length: 4',
      '',
      'abcd',
    ).toString();
    const m = res(text);
    m.removeTopVia();
    expect(m.serialize().toString()).toBe(text.replace('Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp\r\n', ''));
  });
});

describe('combinations and byte identity', () => {
  it('several edits: untouched lines, start line and body stay byte-identical', () => {
    const body = Buffer.from([0x76, 0x3d, 0x30, 0x0d, 0x0a, 0x00, 0xff]);
    const head = crlf(
      'INVITE sip:bob@biloxi.example.com SIP/2.0',
      'Via:   SIP/2.0/UDP 192.0.2.1:5060 ;branch=z9hG4bK776asdhds',
      'Max-Forwards:70',
      'To: Bob <sip:bob@biloxi.example.com>',
      'From   : Alice <sip:alice@atlanta.example.com>;tag=1928301774',
      'Call-ID: a84b4c76e66710@pc33.atlanta.example.com',
      'CSeq: 314159 INVITE',
      'X-Fold: a',
      ' b',
      'Route: <sip:p1.example.com;lr>',
      `Content-Length: ${body.length}`,
      '',
      '',
    );
    const m = req(Buffer.concat([head, body]));
    m.setTopViaParam('received', '203.0.113.9');
    m.replaceHeader('Max-Forwards', '69');
    m.removeHeader('route');
    m.addVia('SIP/2.0/UDP proxy.example.com;branch=z9hG4bKproxy');
    m.appendHeader('Record-Route', '<sip:proxy.example.com;lr>');
    const out = m.serialize().toString('latin1');
    const expected =
      'INVITE sip:bob@biloxi.example.com SIP/2.0\r\n' +
      'Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bKproxy\r\n' +
      'Via: SIP/2.0/UDP 192.0.2.1:5060 ;branch=z9hG4bK776asdhds;received=203.0.113.9\r\n' +
      'Max-Forwards: 69\r\n' +
      'To: Bob <sip:bob@biloxi.example.com>\r\n' +
      'From   : Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n' +
      'Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n' +
      'CSeq: 314159 INVITE\r\n' +
      'X-Fold: a\r\n b\r\n' +
      `Content-Length: ${body.length}\r\n` +
      'Record-Route: <sip:proxy.example.com;lr>\r\n' +
      '\r\n' +
      body.toString('latin1');
    expect(out).toBe(expected);
    const again = req(m.serialize());
    expect(again.via.map((v) => v.host)).toEqual(['proxy.example.com', '192.0.2.1']);
    expect(again.maxForwards).toBe(69);
    expect(again.recordRoute[0]!.uri.host).toBe('proxy.example.com');
    expect(again.body.equals(body)).toBe(true);
  });

  it('LF-only messages: untouched lines keep LF, new lines use CRLF, result parses', () => {
    const text = invite([], 'b').toString().replace(/\r\n/g, '\n');
    const m = req(text);
    m.appendHeader('X-New', '1');
    const out = m.serialize().toString();
    expect(out).toBe(text.replace('Content-Length: 1\n', 'Content-Length: 1\nX-New: 1\r\n'));
    expect(req(out).header('x-new')).toBe('1');
  });

  it('serialize({ stream: true }) adds Content-Length when the message has none', () => {
    const data = crlf('MESSAGE sip:a@b SIP/2.0', ...BASIC_HEADERS, '', 'hello');
    const m = req(data);
    const out = m.serialize({ stream: true });
    expect(out.toString()).toBe(data.toString().replace('\r\n\r\nhello', '\r\nContent-Length: 5\r\n\r\nhello'));
    expect(req(out, { stream: true }).contentLength).toBe(5);
    expect(m.serialize()).toBe(m.raw);
    const withCl = req(invite());
    expect(withCl.serialize({ stream: true })).toBe(withCl.raw);
  });

  it('serialize is repeatable and does not consume the edits', () => {
    const m = req(invite());
    m.appendHeader('X-A', '1');
    expect(m.serialize().equals(m.serialize())).toBe(true);
  });

  it('edited output of every edit kind re-parses', () => {
    const m = req(invite(['Subject: s'], 'abc'));
    m.insertHeader('X-First', '1');
    m.appendHeader('X-Last', '2');
    m.insertHeaderBefore('to', 'X-BeforeTo', '3');
    m.appendHeaderAfter('to', 'X-AfterTo', '4');
    m.replaceHeader('subject', 'new');
    m.removeHeader('contact');
    m.setRequestUri('sip:new@example.com');
    m.setBody('defg', 'text/plain');
    m.setTopViaParam('rport', '1234');
    m.addVia('SIP/2.0/UDP p.example.com;branch=z9hG4bKp');
    const again = parseMessage(m.serialize());
    expect(again.headers.map((h) => h.name)).toEqual([
      'X-First', 'Via', 'Via', 'Max-Forwards', 'X-BeforeTo', 'To', 'X-AfterTo', 'From', 'Call-ID', 'CSeq',
      'Subject', 'Content-Type', 'Content-Length', 'X-Last',
    ]);
  });
});
