import { describe, expect, it } from 'vitest';
import { SipParseError, isIPv4, isIPv6, parseUri, uriEquals } from '../../src/sip/index.js';

describe('parseUri: sip/sips', () => {
  it('parses all components', () => {
    const u = parseUri('sips:alice:secret@Atlanta.Example.COM:5061;transport=tcp;lr;Maddr=239.255.255.1?subject=project%20x&priority=urgent');
    expect(u.scheme).toBe('sips');
    expect(u.user).toBe('alice');
    expect(u.password).toBe('secret');
    expect(u.host).toBe('Atlanta.Example.COM');
    expect(u.hostType).toBe('hostname');
    expect(u.port).toBe(5061);
    expect([...u.params]).toEqual([
      ['transport', 'tcp'],
      ['lr', null],
      ['maddr', '239.255.255.1'],
    ]);
    expect([...u.headers]).toEqual([
      ['subject', 'project%20x'],
      ['priority', 'urgent'],
    ]);
    expect(u.raw).toBe('sips:alice:secret@Atlanta.Example.COM:5061;transport=tcp;lr;Maddr=239.255.255.1?subject=project%20x&priority=urgent');
  });

  it('lowercases the scheme', () => {
    expect(parseUri('SIP:a@b.example.com').scheme).toBe('sip');
    expect(parseUri('SiPs:b.example.com').scheme).toBe('sips');
  });

  it('host types: IPv4, IPv6 reference (brackets kept), hostname with trailing dot', () => {
    expect(parseUri('sip:192.0.2.4').hostType).toBe('ipv4');
    const v6 = parseUri('sip:user@[2001:db8::10]:5070;transport=udp');
    expect(v6.host).toBe('[2001:db8::10]');
    expect(v6.hostType).toBe('ipv6');
    expect(v6.port).toBe(5070);
    expect(parseUri('sip:[::ffff:192.0.2.1]').hostType).toBe('ipv6');
    expect(parseUri('sip:[::1]').host).toBe('[::1]');
    const dot = parseUri('sip:example.com.');
    expect(dot.host).toBe('example.com.');
    expect(dot.hostType).toBe('hostname');
    expect(parseUri('sip:a-b.c-d.example').hostType).toBe('hostname');
  });

  it('user part may hold ; ? / , & = + $ and escapes (semiuri, intmeth, esc01, escnull)', () => {
    expect(parseUri('sip:user;par=u%40example.net@example.com').user).toBe('user;par=u%40example.net');
    expect(parseUri('sip:user;par=u%40example.net@example.com').params.size).toBe(0);
    expect(parseUri('sip:sips%3Auser%40example.com@example.net').user).toBe('sips%3Auser%40example.com');
    expect(parseUri('sip:null-%00-null@example.com').user).toBe('null-%00-null');
    expect(parseUri('sip:+1-972-555-2222;isub=1@gw1.example.net;user=phone').params.get('user')).toBe('phone');
    const esc = parseUri('sip:cal%6Cer@host5.example.net;%6C%72=%6C%72;n%61me=v%61lue%25%34%31');
    expect(esc.params.get('%6c%72')).toBe('%6C%72');
    expect(esc.params.get('n%61me')).toBe('v%61lue%25%34%31');
  });

  it('empty password is allowed', () => {
    const u = parseUri('sip:alice:@example.com');
    expect(u.user).toBe('alice');
    expect(u.password).toBe('');
  });

  it('keeps the first of duplicate params', () => {
    expect(parseUri('sip:a@b.example.com;x=1;X=2').params.get('x')).toBe('1');
  });

  it('rejects malformed URIs', () => {
    for (const bad of [
      '',
      'sip:',
      'sip:@example.com',
      'sip:user@',
      'sip:user@example.com:',
      'sip:user@example.com:65536',
      'sip:user@example.com:5x',
      'sip:user@exa mple.com',
      'sip:user@[2001:db8::1',
      'sip:user@[2001:db8:::1]',
      'sip:user@[1:2:3:4:5:6:7:8:9]',
      'sip:user@[12345::1]',
      'sip:user@[fe80::1%25eth0]',
      'sip:user@256.1.1.1',
      'sip:user@1.2.3',
      'sip:user@example..com',
      'sip:user@-example.com',
      'sip:user@example-.com',
      'sip:user@exam_ple.com',
      'sip:user@example.com;;lr',
      'sip:user@example.com;lr=',
      'sip:user@example.com;=x',
      'sip:us er@example.com',
      'sip:user@example.com%41',
      'sip:us%4@example.com',
      'sip:us%GG@example.com',
      'sip:user@example.com?a=b c',
      ' sip:user@example.com',
      'sip:user@example.com ',
      '<sip:user@example.com>',
      'sip:u"@example.com',
      'sip:ü@example.com',
      'nocolon',
      '1sip:a@b',
      ':a@b',
    ]) {
      expect(() => parseUri(bad), bad).toThrow(SipParseError);
    }
  });

  it('toString re-renders from the fields', () => {
    const u = parseUri('SIP:alice:pw@example.com:5060;transport=TCP;lr?h=v&x=');
    expect(u.toString()).toBe('sip:alice:pw@example.com:5060;transport=TCP;lr?h=v&x=');
    u.host = 'other.example.com';
    u.port = undefined;
    u.params.delete('lr');
    expect(u.toString()).toBe('sip:alice:pw@other.example.com;transport=TCP?h=v&x=');
    expect(String(parseUri('sip:[::1]:5060'))).toBe('sip:[::1]:5060');
  });
});

describe('parseUri: tel and other schemes', () => {
  it('tel: number in user, params parsed, no host', () => {
    const t = parseUri('tel:+1-201-555-0123;ext=1234;phone-context=example.com');
    expect(t.scheme).toBe('tel');
    expect(t.user).toBe('+1-201-555-0123');
    expect(t.host).toBe('');
    expect(t.hostType).toBe('none');
    expect(t.params.get('ext')).toBe('1234');
    expect(t.params.get('phone-context')).toBe('example.com');
    expect(t.toString()).toBe('tel:+1-201-555-0123;ext=1234;phone-context=example.com');
    expect(parseUri('tel:7042;phone-context=+1-212').user).toBe('7042');
    expect(() => parseUri('tel:')).toThrow(SipParseError);
    expect(() => parseUri('tel:+1 555')).toThrow(SipParseError);
  });

  it('any other absoluteURI is opaque', () => {
    const u = parseUri('urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6');
    expect(u.scheme).toBe('urn');
    expect(u.hostType).toBe('none');
    expect(u.host).toBe('');
    expect(u.opaque).toBe('uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6');
    expect(u.toString()).toBe('urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6');
    expect(parseUri('soap.beep://192.0.2.103:3002').scheme).toBe('soap.beep');
    expect(parseUri('http://www.example.com/a?b=c').opaque).toBe('//www.example.com/a?b=c');
    expect(() => parseUri('http:')).toThrow(SipParseError);
    expect(() => parseUri('http://a b')).toThrow(SipParseError);
    expect(() => parseUri('http://a<b')).toThrow(SipParseError);
  });
});

describe('isIPv4 / isIPv6', () => {
  it('IPv4', () => {
    for (const ok of ['0.0.0.0', '255.255.255.255', '192.0.2.1', '01.2.3.4']) expect(isIPv4(ok), ok).toBe(true);
    for (const bad of ['256.0.0.1', '1.2.3', '1.2.3.4.5', '1..2.3', '1.2.3.4 ', 'a.b.c.d', '1234.1.1.1', '']) expect(isIPv4(bad), bad).toBe(false);
  });
  it('IPv6', () => {
    for (const ok of ['::', '::1', '1::', '2001:db8::1', '2001:db8:0:0:0:0:0:1', '::ffff:192.0.2.1', '1:2:3:4:5:6:1.2.3.4', 'fe80::a:b:c:d']) {
      expect(isIPv6(ok), ok).toBe(true);
    }
    for (const bad of [':', ':::', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '1::2::3', '12345::', 'g::1', '1.2.3.4::', '::1.2.3', '1:2:3:4:5:6:7:1.2.3.4', '', '1:']) {
      expect(isIPv6(bad), bad).toBe(false);
    }
  });
});

describe('uriEquals (RFC 3261 §19.1.4)', () => {
  it('equivalent pairs from the RFC', () => {
    const eq: Array<[string, string]> = [
      ['sip:%61lice@atlanta.com;transport=TCP', 'sip:alice@AtLanTa.CoM;Transport=tcp'],
      ['sip:carol@chicago.com', 'sip:carol@chicago.com;newparam=5'],
      ['sip:carol@chicago.com', 'sip:carol@chicago.com;security=on'],
      ['sip:carol@chicago.com;newparam=5', 'sip:carol@chicago.com;security=on'],
      ['sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com', 'sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com'],
      ['sip:alice@atlanta.com?subject=project%20x&priority=urgent', 'sip:alice@atlanta.com?priority=urgent&subject=project%20x'],
    ];
    for (const [a, b] of eq) {
      expect(uriEquals(a, b), `${a} == ${b}`).toBe(true);
      expect(uriEquals(b, a), `${b} == ${a}`).toBe(true);
    }
  });

  it('non-equivalent pairs from the RFC', () => {
    const ne: Array<[string, string]> = [
      ['SIP:ALICE@AtLanTa.CoM;Transport=udp', 'sip:alice@AtLanTa.CoM;Transport=UDP'],
      ['sip:bob@biloxi.com', 'sip:bob@biloxi.com:5060'],
      ['sip:bob@biloxi.com', 'sip:bob@biloxi.com;transport=udp'],
      ['sip:bob@biloxi.com', 'sip:bob@biloxi.com:6000;transport=tcp'],
      ['sip:carol@chicago.com', 'sip:carol@chicago.com?Subject=next%20meeting'],
      ['sip:bob@phone21.boxesbybob.com', 'sip:bob@192.0.2.4'],
    ];
    for (const [a, b] of ne) {
      expect(uriEquals(a, b), `${a} != ${b}`).toBe(false);
      expect(uriEquals(b, a), `${b} != ${a}`).toBe(false);
    }
  });

  it('scheme, userinfo, must-match params and headers', () => {
    expect(uriEquals('sip:alice@example.com', 'sips:alice@example.com')).toBe(false);
    expect(uriEquals('sip:alice@example.com', 'sip:example.com')).toBe(false);
    expect(uriEquals('sip:alice:a@example.com', 'sip:alice:A@example.com')).toBe(false);
    expect(uriEquals('sip:alice:a@example.com', 'sip:alice@example.com')).toBe(false);
    expect(uriEquals('sip:a@example.com;user=phone', 'sip:a@example.com')).toBe(false);
    expect(uriEquals('sip:a@example.com;ttl=1', 'sip:a@example.com')).toBe(false);
    expect(uriEquals('sip:a@example.com;method=INVITE', 'sip:a@example.com')).toBe(false);
    expect(uriEquals('sip:a@example.com;maddr=1.2.3.4', 'sip:a@example.com;maddr=1.2.3.4')).toBe(true);
    expect(uriEquals('sip:a@example.com;maddr=1.2.3.4', 'sip:a@example.com;maddr=1.2.3.5')).toBe(false);
    expect(uriEquals('sip:a@example.com;lr', 'sip:a@example.com;lr=on')).toBe(false);
    expect(uriEquals('sip:a@example.com;%6C%72', 'sip:a@example.com;lr')).toBe(true);
    expect(uriEquals('sip:a@example.com?x=1', 'sip:a@example.com?x=2')).toBe(false);
    expect(uriEquals('sip:a@example.com?X=1', 'sip:a@example.com?x=1')).toBe(true);
    expect(uriEquals('sip:a@[2001:DB8::1]', 'sip:a@[2001:db8::1]')).toBe(true);
    expect(uriEquals('sip:a%2Cb@example.com', 'sip:a,b@example.com')).toBe(true);
  });

  it('accepts parsed URIs and strings; unparsable strings are never equal', () => {
    expect(uriEquals(parseUri('sip:a@b.example.com'), 'sip:a@B.EXAMPLE.COM')).toBe(true);
    expect(uriEquals('not a uri', 'not a uri')).toBe(false);
  });

  it('tel and opaque schemes', () => {
    expect(uriEquals('tel:+1-201-555-0123', 'tel:+12015550123')).toBe(true);
    expect(uriEquals('tel:+1-201-555-0123;ext=1', 'tel:+12015550123')).toBe(false);
    expect(uriEquals('tel:7042;phone-context=example.com', 'tel:7042;Phone-Context=EXAMPLE.com')).toBe(true);
    expect(uriEquals('urn:x:%41', 'urn:x:A')).toBe(true);
    expect(uriEquals('urn:x:a', 'URN:x:a')).toBe(true);
    expect(uriEquals('urn:x:a', 'urn:x:A')).toBe(false);
    expect(uriEquals('tel:123', 'sip:123@example.com')).toBe(false);
  });
});
