import process from 'node:process';
import { describe, expect, it } from 'vitest';
import { makeContext, testServices } from '../support/context.js';
import { FULL_INVITE_LINES, SDP, compiled, fullInvite, pv, reply, servicesWithLog, setPv } from './helpers.js';
import { ctimeString } from '../../src/pv/core.js';

describe('request pseudo-variables (INVITE over TCP from IPv6)', () => {
  const ctx = fullInvite();

  it.each([
    ['$ru', 'sip:bob@ksr.test:5080;transport=tcp'],
    ['$rU', 'bob'],
    ['$rd', 'ksr.test'],
    ['$rp', 5080],
    ['$rP', 'tcp'],
    ['$rz', 'sip'],
    ['$rUl', 3],
    ['$ou', 'sip:bob@ksr.test:5080;transport=tcp'],
    ['$oU', 'bob'],
    ['$od', 'ksr.test'],
    ['$op', 5080],
    ['$oP', 'tcp'],
    ['$rm', 'INVITE'],
    ['$rv', 'SIP/2.0'],
    ['$mt', 1],
    ['$rs', null],
    ['$rr', null],
    ['$fu', 'sip:alice@atlanta.test'],
    ['$fU', 'alice'],
    ['$fd', 'atlanta.test'],
    ['$fn', '"Alice Liddell"'],
    ['$ft', 'a1'],
    ['$fUl', 5],
    ['$tu', 'sip:bob@ksr.test'],
    ['$tU', 'bob'],
    ['$td', 'ksr.test'],
    ['$tn', 'Bob'],
    ['$tt', null],
    ['$tts', 0],
    ['$ci', 'call-2@host'],
    ['$cs', 42],
    ['$csb', '42 INVITE'],
    ['$ct', '<sip:alice@[2001:db8::10]:5070;transport=tcp>;expires=60, <sip:alice@10.0.0.9>;expires=30'],
    ['$ctu', 'sip:alice@[2001:db8::10]:5070;transport=tcp'],
    ['$cts', 0],
    ['$cT', 'application/sdp'],
    ['$cl', Buffer.byteLength(SDP)],
    ['$ua', 'test-ua/2.0'],
    ['$rb', SDP],
    ['$bs', Buffer.byteLength(SDP)],
    ['$si', '2001:db8::10'],
    ['$siz', '[2001:db8::10]'],
    ['$sp', 5070],
    ['$su', 'sip:[2001:db8::10]:5070;transport=tcp'],
    ['$sut', 'sip:[2001:db8::10]:5070;transport=tcp'],
    ['$sas', 'tcp:[2001:db8::10]:5070'],
    ['$Ri', '2001:db8::1'],
    ['$Rp', 5060],
    ['$Ru', 'sip:[2001:db8::1]:5060;transport=tcp'],
    ['$pr', 'tcp'],
    ['$proto', 'tcp'],
    ['$prid', 2],
    ['$conid', 7],
    ['$au', 'alice'],
    ['$ad', 'atlanta.test'],
    ['$aU', 'alice@atlanta.test'],
    ['$ar', 'ksr.test'],
    ['$adu', 'sip:bob@ksr.test'],
    ['$aa', 'MD5'],
    ['$Au', 'alice@ksr.test'],
    ['$AU', 'alice'],
    ['$ai', 'sip:alice@atlanta.test'],
    ['$pu', 'sip:ally@pref.test'],
    ['$pU', 'ally'],
    ['$pd', 'pref.test'],
    ['$pn', 'Ally'],
    ['$re', 'sip:rpid@atlanta.test'],
    ['$rt', 'sip:dave@ksr.test'],
    ['$di', 'sip:carol@ksr.test'],
    ['$dir', 'unconditional'],
    ['$dip', 'off'],
    ['$dic', '2'],
    ['$route_uri', 'sip:proxy.ksr.test;lr'],
    ['$du', null],
    ['$dd', null],
    ['$nh(u)', 'sip:bob@ksr.test:5080;transport=tcp'],
    ['$nh(U)', 'bob'],
    ['$nh(d)', 'ksr.test'],
    ['$nh(p)', 5080],
    ['$nh(P)', 'tcp'],
    ['$expires(min)', 30],
    ['$expires(max)', 60],
    ['$T_branch_idx', 0],
    ['$T_reply_code', 0],
    ['$rc', 1],
    ['$retcode', 1],
    ['$null', null],
    ['$En', '\n'],
    ['$Es', ' '],
    ['$mf', 0],
    ['$bf', 0],
    ['$sf', 0],
  ])('%s', (name, expected) => {
    expect(pv(ctx, name)).toEqual(expected);
  });

  it('$hdr / $hdrc / $hfl / $hflc', () => {
    expect(pv(ctx, '$hdr(X-Multi)')).toBe('one');
    expect(pv(ctx, '$hdr(x-MULTI)')).toBe('one');
    expect(pv(ctx, '$(hdr(X-Multi)[0])')).toBe('one');
    expect(pv(ctx, '$(hdr(X-Multi)[1])')).toBe('two');
    expect(pv(ctx, '$(hdr(X-Multi)[2])')).toBe('three');
    expect(pv(ctx, '$(hdr(X-Multi)[-1])')).toBe('three');
    expect(pv(ctx, '$(hdr(X-Multi)[-3])')).toBe('one');
    expect(pv(ctx, '$(hdr(X-Multi)[3])')).toBeNull();
    expect(pv(ctx, '$(hdr(X-Multi)[-4])')).toBeNull();
    expect(pv(ctx, '$(hdr(X-Multi)[*])')).toBe('one,two,three');
    expect(pv(ctx, '$hdr(X-None)')).toBeNull();
    expect(pv(ctx, '$(hdr(X-None)[*])')).toBeNull();
    expect(pv(ctx, '$hdrc(X-Multi)')).toBe(3);
    expect(pv(ctx, '$hdrc(X-None)')).toBe(0);
    expect(pv(ctx, '$hdrc(Via)')).toBe(2);
    // a list header field is one $hdr value; compact names resolve
    expect(pv(ctx, '$(hdr(v)[1])')).toBe('SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK-b, SIP/2.0/UDP 10.0.0.2;branch=z9hG4bK-c');
    expect(pv(ctx, '$hdr(*)')).toBe('SIP/2.0/TCP [2001:db8::10]:5070;branch=z9hG4bK-a;rport');
    expect(pv(ctx, '$(hdr(*)[-1])')).toBe(String(Buffer.byteLength(SDP))); // Content-Length, added last
    expect(pv(ctx, '$hdrc(*)')).toBe(FULL_INVITE_LINES.length); // + Content-Length − the request line
    // $hfl splits list headers into bodies
    expect(pv(ctx, '$hflc(Via)')).toBe(3);
    expect(pv(ctx, '$(hfl(Via)[2])')).toBe('SIP/2.0/UDP 10.0.0.2;branch=z9hG4bK-c');
    expect(pv(ctx, '$(hfl(Contact)[1])')).toBe('<sip:alice@10.0.0.9>;expires=30');
    expect(pv(ctx, '$hflc(X-Multi)')).toBe(3);
  });

  it('dynamic indexes', () => {
    const c = fullInvite();
    setPv(c, '$var(i)', 1);
    expect(pv(c, '$(hdr(X-Multi)[$var(i)])')).toBe('two');
    setPv(c, '$var(i)', '-1');
    expect(pv(c, '$(hdr(X-Multi)[$var(i)])')).toBe('three');
    setPv(c, '$var(i)', 'abc');
    expect(pv(c, '$(hdr(X-Multi)[$var(i)])')).toBeNull();
  });

  it('$mb, $ml, $msg(...)', () => {
    const raw = ctx.msg.raw.toString('utf8');
    expect(pv(ctx, '$mb')).toBe(raw);
    expect(pv(ctx, '$ml')).toBe(ctx.msg.raw.length);
    expect(pv(ctx, '$mbu')).toBe(raw);
    expect(pv(ctx, '$msg(len)')).toBe(ctx.msg.raw.length);
    expect(pv(ctx, '$msg(buf)')).toBe(raw);
    expect(pv(ctx, '$msg(body)')).toBe(SDP);
    expect(pv(ctx, '$msg(body_len)')).toBe(Buffer.byteLength(SDP));
    expect(pv(ctx, '$msg(fline)')).toBe('INVITE sip:bob@ksr.test:5080;transport=tcp SIP/2.0');
    expect(pv(ctx, '$msg(hdrs)')).toMatch(/^Via: SIP\/2.0\/TCP .*Content-Length: \d+$/s);
    expect(pv(ctx, '$msg(fpart)')).toBe(raw.slice(0, raw.length - SDP.length));
    expect(pv(ctx, '$msg(lpart)')).toBe(raw.slice(raw.indexOf('\n') + 1));
  });

  it('$_s(format)', () => {
    expect(pv(ctx, '$_s(sip:$rU@$fd)')).toBe('sip:bob@atlanta.test');
    expect(pv(ctx, '$_s($$ $tt $(hdr(X-Multi)[1]))')).toBe('$ <null> two');
  });

  it('Proxy-Authorization wins over Authorization; ACK and CANCEL have no credentials', () => {
    const lines = [...FULL_INVITE_LINES, 'Proxy-Authorization: Digest username="px", realm="proxy.test", nonce="n", uri="sip:x", response="r"'];
    const c = makeContext(lines);
    expect(pv(c, '$au')).toBe('px');
    expect(pv(c, '$ad')).toBeNull();
    expect(pv(c, '$ar')).toBe('proxy.test');
    const ack = makeContext(FULL_INVITE_LINES.map((l) => l.replace(/^INVITE /, 'ACK ').replace('CSeq: 42 INVITE', 'CSeq: 42 ACK')));
    expect(pv(ack, '$au')).toBeNull();
    expect(pv(ack, '$AU')).toBe('alice'); // falls back to $fU
    const none = makeContext();
    expect(pv(none, '$au')).toBeNull();
    expect(pv(none, '$ar')).toBeNull();
    expect(pv(none, '$Au')).toBe('sip:alice@atlanta.test');
    const basic = makeContext([...FULL_INVITE_LINES.filter((l) => !l.startsWith('Authorization')), 'Authorization: Basic YWxpY2U6c2VjcmV0']);
    expect(pv(basic, '$au')).toBeNull();
  });

  it('absent values are null; defaults for ports and transports', () => {
    const c = makeContext([
      'OPTIONS sips:ksr.test SIP/2.0',
      'Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-o',
      'From: <sip:192.0.2.10>;tag=x',
      'To: <tel:+15551234>',
      'Call-ID: o1',
      'CSeq: 1 OPTIONS',
    ]);
    expect(pv(c, '$rU')).toBeNull();
    expect(pv(c, '$rUl')).toBe(0);
    expect(pv(c, '$rp')).toBe(5061);
    expect(pv(c, '$rP')).toBe('tls');
    expect(pv(c, '$rz')).toBe('sips');
    expect(pv(c, '$fU')).toBeNull();
    expect(pv(c, '$fn')).toBeNull();
    expect(pv(c, '$tU')).toBe('+15551234');
    expect(pv(c, '$td')).toBeNull();
    expect(pv(c, '$ua')).toBeNull();
    expect(pv(c, '$ct')).toBeNull();
    expect(pv(c, '$ctu')).toBeNull();
    expect(pv(c, '$cT')).toBeNull();
    expect(pv(c, '$rb')).toBeNull();
    expect(pv(c, '$bs')).toBe(0);
    expect(pv(c, '$cl')).toBe(0);
    expect(pv(c, '$conid')).toBeNull();
    expect(pv(c, '$ai')).toBeNull();
    expect(pv(c, '$expires(max)')).toBeNull();
    expect(pv(c, '$route_uri')).toBeNull();
    expect(pv(c, '$(hdr(Via)[5])')).toBeNull();
  });

  it('Contact: * and Expires', () => {
    const c = makeContext([
      'REGISTER sip:ksr.test SIP/2.0',
      'Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-r',
      'From: <sip:alice@ksr.test>;tag=x',
      'To: <sip:alice@ksr.test>',
      'Call-ID: r1',
      'CSeq: 1 REGISTER',
      'Contact: *',
      'Expires: 0',
    ]);
    expect(pv(c, '$cts')).toBe(1);
    expect(pv(c, '$ctu')).toBeNull();
    expect(pv(c, '$ct')).toBe('*');
    expect(pv(c, '$expires(min)')).toBe(0);
  });

  it('IPv4 / UDP source', () => {
    const c = makeContext();
    expect(pv(c, '$si')).toBe('192.0.2.10');
    expect(pv(c, '$siz')).toBe('192.0.2.10');
    expect(pv(c, '$su')).toBe('sip:192.0.2.10:5070');
    expect(pv(c, '$sut')).toBe('sip:192.0.2.10:5070;transport=udp');
    expect(pv(c, '$Ru')).toBe('sip:127.0.0.1:5060');
    expect(pv(c, '$Rut')).toBe('sip:127.0.0.1:5060;transport=udp');
    expect(pv(c, '$prid')).toBe(1);
    expect(pv(c, '$fn')).toBe('"Alice"');
    expect(pv(c, '$rp')).toBe(5060);
    expect(pv(c, '$rP')).toBe('udp');
  });

  it('$rc follows the last int return; flags follow the state', () => {
    const c = makeContext();
    c.lastReturn = -2;
    expect(pv(c, '$rc')).toBe(-2);
    expect(pv(c, '$retcode')).toBe(-2);
    c.state.flags = 5;
    c.state.branchFlags[0] = 2;
    c.scriptFlags = 8;
    expect(pv(c, '$mf')).toBe(5);
    expect(pv(c, '$bf')).toBe(2);
    expect(pv(c, '$sf')).toBe(8);
    expect(setPv(c, '$mf', 9)).toBe(true);
    expect(c.state.flags).toBe(9);
    expect(setPv(c, '$bf', '3')).toBe(true);
    expect(c.state.branchFlags[0]).toBe(3);
    expect(setPv(c, '$mf', 'x')).toBe(false);
    expect(compiled('$sf').set).toBeUndefined();
  });
});

describe('reply pseudo-variables', () => {
  const ctx = reply();
  it.each([
    ['$rs', 486],
    ['$rr', 'Busy Here'],
    ['$rm', 'INVITE'],
    ['$mt', 2],
    ['$rv', 'SIP/2.0'],
    ['$ru', null],
    ['$rU', null],
    ['$rd', null],
    ['$rp', null],
    ['$ou', null],
    ['$tt', 'b2'],
    ['$tts', 1],
    ['$ft', 'a1'],
    ['$cs', 10],
    ['$au', null],
    ['$nh(u)', 'sip:192.0.2.10:5071'],
    ['$nh(d)', '192.0.2.10'],
    ['$nh(p)', 5071],
    ['$nh(U)', null],
    ['$nh(P)', 'udp'],
    ['$hdrc(Via)', 2],
  ])('%s', (name, expected) => {
    expect(pv(ctx, name)).toEqual(expected);
  });

  it('R-URI setters fail on a reply', () => {
    const { services, errors } = servicesWithLog();
    const c = reply({ services });
    expect(setPv(c, '$ru', 'sip:x@y')).toBe(false);
    expect(setPv(c, '$rU', 'x')).toBe(false);
    expect(errors.join('\n')).toContain('a reply has no Request-URI');
  });
});

describe('R-URI and destination setters', () => {
  it('$ru = … is serialised and read back; $ou keeps the original', () => {
    const c = makeContext();
    expect(setPv(c, '$ru', 'sip:carol@example.net:5070;transport=tcp')).toBe(true);
    expect(pv(c, '$ru')).toBe('sip:carol@example.net:5070;transport=tcp');
    expect(pv(c, '$rU')).toBe('carol');
    expect(pv(c, '$rd')).toBe('example.net');
    expect(pv(c, '$rp')).toBe(5070);
    expect(pv(c, '$ou')).toBe('sip:bob@ksr.test');
    expect(pv(c, '$oU')).toBe('bob');
    expect(c.msg.serialize().toString().split('\r\n')[0]).toBe('INVITE sip:carol@example.net:5070;transport=tcp SIP/2.0');
  });

  it('$rU, $rd, $rp rewrite parts of the current R-URI', () => {
    const c = makeContext();
    expect(setPv(c, '$rU', 'dave')).toBe(true);
    expect(setPv(c, '$rd', 'example.org')).toBe(true);
    expect(setPv(c, '$rp', 5090)).toBe(true);
    expect(pv(c, '$ru')).toBe('sip:dave@example.org:5090');
    expect(setPv(c, '$rp', '5091')).toBe(true);
    expect(pv(c, '$rp')).toBe(5091);
    expect(setPv(c, '$rp', null)).toBe(true);
    expect(pv(c, '$ru')).toBe('sip:dave@example.org');
    expect(setPv(c, '$rU', null)).toBe(true);
    expect(pv(c, '$ru')).toBe('sip:example.org');
    expect(c.msg.serialize().toString().split('\r\n')[0]).toBe('INVITE sip:example.org SIP/2.0');
  });

  it('invalid R-URI values are refused and logged; the R-URI stays', () => {
    const { services, errors } = servicesWithLog();
    const c = makeContext(undefined, { services });
    expect(setPv(c, '$ru', 'not a uri')).toBe(false);
    expect(setPv(c, '$ru', null)).toBe(false);
    expect(setPv(c, '$rd', 'bad host!')).toBe(false);
    expect(setPv(c, '$rd', null)).toBe(false);
    expect(setPv(c, '$rp', 70000)).toBe(false);
    expect(setPv(c, '$rU', 'has space')).toBe(false);
    expect(pv(c, '$ru')).toBe('sip:bob@ksr.test');
    expect(c.msg.modified).toBe(false);
    expect(errors.length).toBe(6);
  });

  it('$du sets and resets the destination URI', () => {
    const c = makeContext();
    expect(setPv(c, '$du', 'sip:10.0.0.5:5080;transport=tcp')).toBe(true);
    expect(c.state.dstUri).toBe('sip:10.0.0.5:5080;transport=tcp');
    expect(pv(c, '$du')).toBe('sip:10.0.0.5:5080;transport=tcp');
    expect(pv(c, '$dd')).toBe('10.0.0.5');
    expect(pv(c, '$dp')).toBe(5080);
    expect(pv(c, '$dP')).toBe('tcp');
    expect(pv(c, '$nh(u)')).toBe('sip:10.0.0.5:5080;transport=tcp');
    expect(pv(c, '$nh(d)')).toBe('10.0.0.5');
    expect(setPv(c, '$du', 'garbage')).toBe(false);
    expect(c.state.dstUri).toBe('sip:10.0.0.5:5080;transport=tcp');
    expect(setPv(c, '$du', null)).toBe(true);
    expect(c.state.dstUri).toBeUndefined();
    expect(pv(c, '$du')).toBeNull();
    expect(pv(c, '$dp')).toBeNull();
  });

  it('read-only pseudo-variables have no setter', () => {
    for (const n of ['$fu', '$tu', '$fn', '$si', '$hdr(Via)', '$rm', '$ci', '$rs', '$ou', '$T_reply_code']) {
      expect(compiled(n).set, n).toBeUndefined();
    }
  });
});

describe('time, process, config, environment', () => {
  it('$Ts and $Tf are cached per route run; $TS and $TF are current', () => {
    const c = makeContext();
    const ts = pv(c, '$Ts') as number;
    expect(Math.abs(ts - Date.now() / 1000)).toBeLessThan(5);
    expect(pv(c, '$Ts')).toBe(ts);
    const tf = pv(c, '$Tf');
    expect(pv(c, '$Tf')).toBe(tf);
    expect(pv(c, '$Tf')).toMatch(/^[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}$/);
    expect(Math.abs((pv(c, '$TS') as number) - Date.now() / 1000)).toBeLessThan(5);
    expect(pv(c, '$TV(s)')).toBe(ts);
    expect(pv(c, '$TV(Sn)')).toMatch(/^\d+\.\d{6}$/);
    expect(pv(c, '$Tb') as number).toBeLessThanOrEqual(ts);
    expect(pv(c, '$pp')).toBe(process.pid);
    expect(pv(c, '$time(year)')).toBe(new Date().getFullYear());
    expect(pv(c, '$utime(mon)')).toBe(new Date().getUTCMonth() + 1);
    const wday = pv(c, '$time(wday)') as number;
    expect(wday >= 1 && wday <= 7).toBe(true);
    expect(pv(c, '$time(yday)') as number).toBeGreaterThanOrEqual(1);
  });

  it('ctime format', () => {
    expect(ctimeString(new Date(1986, 10, 4, 8, 2, 3))).toBe('Tue Nov  4 08:02:03 1986');
  });

  it('$def, $defn, $env, $envn', () => {
    const c = makeContext(undefined, { services: testServices({ defines: { WITH_AUTH: null, MAXN: '42', NAME: 'abc' } }) });
    expect(pv(c, '$def(NAME)')).toBe('abc');
    expect(pv(c, '$def(WITH_AUTH)')).toBe('');
    expect(pv(c, '$def(NOPE)')).toBeNull();
    expect(pv(c, '$defn(MAXN)')).toBe(42);
    expect(pv(c, '$defn(NAME)')).toBe(0);
    expect(pv(c, '$defn(NOPE)')).toBeNull();
    process.env.KSR_PV_TEST_ENV = '17';
    try {
      expect(pv(c, '$env(KSR_PV_TEST_ENV)')).toBe('17');
      expect(pv(c, '$envn(KSR_PV_TEST_ENV)')).toBe(17);
      expect(pv(c, '$env(KSR_PV_TEST_UNSET)')).toBeNull();
      expect(pv(c, '$envn(KSR_PV_TEST_UNSET)')).toBeNull();
    } finally {
      delete process.env.KSR_PV_TEST_ENV;
    }
  });
});
