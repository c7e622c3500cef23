import { describe, expect, it } from 'vitest';
import { SipParseError, parseNameAddr, parseRouteParam, parseVia } from '../../src/sip/index.js';

describe('parseNameAddr', () => {
  it('quoted display name with escapes', () => {
    const na = parseNameAddr('"Mr. \\"J\\" \\\\ User" <sip:j.user@example.com>;tag=abc;x="q;,v"');
    expect(na.displayName).toBe('Mr. "J" \\ User');
    expect(na.uri.user).toBe('j.user');
    expect(na.tag).toBe('abc');
    expect(na.params.get('x')).toBe('"q;,v"');
    expect(na.raw).toBe('"Mr. \\"J\\" \\\\ User" <sip:j.user@example.com>;tag=abc;x="q;,v"');
  });

  it('token display names, with and without LWS before < (lwsdisp)', () => {
    expect(parseNameAddr('Alice  Liddell <sip:alice@example.com>').displayName).toBe('Alice  Liddell');
    const na = parseNameAddr('caller<sip:caller@example.com>;tag=323');
    expect(na.displayName).toBe('caller');
    expect(na.tag).toBe('323');
    expect(parseNameAddr('"" <sip:a@example.com>').displayName).toBe('');
    expect(parseNameAddr('"UTF-8 ü 大" <sip:a@example.com>').displayName).toBe('UTF-8 ü 大');
  });

  it('<uri> without display name keeps URI params in the URI', () => {
    const na = parseNameAddr('<sip:a@example.com;transport=tcp;lr>;expires=60;q=0.5');
    expect(na.displayName).toBeUndefined();
    expect(na.uri.params.get('transport')).toBe('tcp');
    expect(na.uri.params.has('lr')).toBe(true);
    expect(na.params.get('expires')).toBe('60');
    expect(na.params.get('q')).toBe('0.5');
    expect(na.tag).toBeUndefined();
  });

  it('bare addr-spec: params after the URI belong to the header (§20.10)', () => {
    const na = parseNameAddr('sip:alice@example.com;tag=xyz;transport=tcp');
    expect(na.uri.params.size).toBe(0);
    expect(na.tag).toBe('xyz');
    expect(na.params.get('transport')).toBe('tcp');
    const c = parseNameAddr('sip:+19725552222@gw1.example.net;unknownparam'); // cparam01
    expect(c.params.get('unknownparam')).toBeNull();
    expect(parseNameAddr('sip:user@example.com ;   tag    = 1918181833n').tag).toBe('1918181833n');
    expect(parseNameAddr('isbn:2983792873').uri.scheme).toBe('isbn');
    expect(parseNameAddr('tel:+1234;tag=5').tag).toBe('5');
  });

  it('header params: LWS around ; and =, quoted values, flags, lowercase names, first wins', () => {
    const na = parseNameAddr('<sip:a@b.example.com> ; Foo = Bar ;flag; +sip.instance="<urn:uuid:1>" ;foo=again');
    expect([...na.params]).toEqual([
      ['foo', 'Bar'],
      ['flag', null],
      ['+sip.instance', '"<urn:uuid:1>"'],
    ]);
    expect(parseNameAddr('<sip:a@b.example.com>;received=[2001:db8::1]').params.get('received')).toBe('[2001:db8::1]');
  });

  it('rejects malformed name-addrs', () => {
    for (const bad of [
      '',
      '   ',
      '"Mr. J. User <sip:j.user@example.com>', // quotbal
      'Bell, Alexander <sip:a.g.bell@example.com>;tag=43', // baddn
      '"Watson, Thomas" < sip:t.watson@example.org >', // badaspec
      '<sip:a@example.com',
      'sip:a@example.com>',
      '"name" sip:a@example.com',
      'name "quoted" <sip:a@example.com>',
      'sip:user@example.com?Route=%3Csip:sip.example.com%3E', // regbadct
      'sip:a,b@example.com',
      '<sip:a@example.com>;;tag=1',
      '<sip:a@example.com>;tag=',
      '<sip:a@example.com>;tag="open',
      '<sip:a@example.com> junk',
      '<sip:a@example.com>;ta g=1',
      '<>',
      '<not-a-uri>',
      'sip:user;par=u%40example.net@example.com',
    ]) {
      expect(() => parseNameAddr(bad), bad).toThrow(SipParseError);
    }
  });
});

describe('parseRouteParam', () => {
  it('bracketed form is a normal name-addr; a bare URI keeps ;params in the URI', () => {
    const a = parseRouteParam('<sip:p.example.com;lr>;foo=bar');
    expect(a.uri.params.has('lr')).toBe(true);
    expect(a.params.get('foo')).toBe('bar');
    const b = parseRouteParam('sip:p.example.com;lr;maddr=192.0.2.1');
    expect([...b.uri.params.keys()]).toEqual(['lr', 'maddr']);
    expect(b.params.size).toBe(0);
    expect(() => parseRouteParam('sip:p.example.com;;lr')).toThrow(SipParseError);
    expect(() => parseRouteParam('sip:p.example.com junk')).toThrow(SipParseError);
  });
});

describe('parseVia', () => {
  it('parses protocol, transport (uppercased), sent-by and params', () => {
    const [v] = parseVia('SIP/2.0/udp pc33.atlanta.example.com:5066;branch=z9hG4bK776asdhds;received=192.0.2.1;rport=5070;maddr=224.2.0.1;ttl=16;x;Y=Z');
    expect(v).toMatchObject({
      protocol: 'SIP/2.0',
      transport: 'UDP',
      host: 'pc33.atlanta.example.com',
      port: 5066,
      branch: 'z9hG4bK776asdhds',
      received: '192.0.2.1',
      rport: 5070,
      maddr: '224.2.0.1',
      ttl: 16,
      raw: 'SIP/2.0/udp pc33.atlanta.example.com:5066;branch=z9hG4bK776asdhds;received=192.0.2.1;rport=5070;maddr=224.2.0.1;ttl=16;x;Y=Z',
    });
    expect(v!.params.get('x')).toBeNull();
    expect(v!.params.get('y')).toBe('Z');
  });

  it('rport flag is null, absent is undefined', () => {
    expect(parseVia('SIP/2.0/UDP h.example.com;rport;branch=z9hG4bK1')[0]!.rport).toBeNull();
    expect(parseVia('SIP/2.0/UDP h.example.com;branch=z9hG4bK1')[0]!.rport).toBeUndefined();
    expect(parseVia('SIP/2.0/UDP h.example.com')[0]!.port).toBeUndefined();
  });

  it('comma-separated values, LWS inside sent-protocol and around : ; =', () => {
    const vs = parseVia('SIP / 2.0 / TCP   spindle.example.com : 5061 ;  branch  =  z9hG4bK9ikj8 , SIP/2.0/UDP 192.168.255.111; branch=z9hG4bK30239');
    expect(vs.map((v) => [v.transport, v.host, v.port, v.branch])).toEqual([
      ['TCP', 'spindle.example.com', 5061, 'z9hG4bK9ikj8'],
      ['UDP', '192.168.255.111', undefined, 'z9hG4bK30239'],
    ]);
  });

  it('IPv6 sent-by keeps brackets; received may be a bare IPv6', () => {
    const [v] = parseVia('SIP/2.0/TLS [2001:db8::9]:5061;branch=z9hG4bKx;received=2001:db8::1');
    expect(v!.host).toBe('[2001:db8::9]');
    expect(v!.port).toBe(5061);
    expect(v!.received).toBe('2001:db8::1');
  });

  it('unknown transports are accepted (transports)', () => {
    expect(parseVia('SIP/2.0/UNKNOWN t3.example.com;branch=z9hG4bKasd0f3en')[0]!.transport).toBe('UNKNOWN');
    expect(parseVia('SIP/2.0/SCTP t2.example.com;branch=z9hG4bKiokioukju908')[0]!.transport).toBe('SCTP');
  });

  it('branch equal to the magic cookie alone parses (badbranch is a transaction-layer matter)', () => {
    expect(parseVia('SIP/2.0/UDP 192.0.2.103;branch=z9hG4bK')[0]!.branch).toBe('z9hG4bK');
  });

  it('rejects malformed values', () => {
    for (const bad of [
      '',
      'SIP/2.0/UDP 192.0.2.15;;,;,,', // badinv01
      'SIP/2.0/UDP a.example.com,',
      ',SIP/2.0/UDP a.example.com',
      'SIP/2.0/UDP',
      'SIP/2.0/UDPa.example.com',
      'SIP/2.0 a.example.com',
      'SIP//UDP a.example.com',
      'SIP/2.0/UDP a.example.com:',
      'SIP/2.0/UDP a.example.com:70000',
      'SIP/2.0/UDP [::1',
      'SIP/2.0/UDP [::g]',
      'SIP/2.0/UDP ::1',
      'SIP/2.0/UDP a.example.com;ttl=300',
      'SIP/2.0/UDP a.example.com;ttl',
      'SIP/2.0/UDP a.example.com;rport=65536',
      'SIP/2.0/UDP a.example.com;received',
      'SIP/2.0/UDP a.example.com;maddr',
      'SIP/2.0/UDP a.example.com;branch="quoted"',
      'SIP/2.0/UDP a.example.com extra',
      'SIP/2.0/UDP a..example.com',
    ]) {
      expect(() => parseVia(bad), bad).toThrow(SipParseError);
    }
  });
});
