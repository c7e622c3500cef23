import process from 'node:process';
import { describe, expect, it } from 'vitest';
import { kxExports } from '../../src/kemi/exports/kx.js';
import { KemiRegistry } from '../../src/kemi/registry.js';
import type { RouteContext } from '../../src/routing/context.js';
import { makeContext, testServices } from '../support/context.js';
import { callExport, fullInvite, reply, SDP } from '../pv/helpers.js';

const kx = (ctx: RouteContext, name: string, ...args: unknown[]): unknown => callExport(kxExports, 'kx', ctx, name, ...args);

/** Kamailio's kemix exports that ksr does not provide (see kx.ts). */
const LEFT_OUT = ['get_send_sock', 'get_send_sock_name', 'get_send_sock_port', 'get_rcv_sock_name', 'get_rcvadvip', 'get_rcvadvport'];

describe('KSR.kx export table', () => {
  it("has kemix's functions and types (minus the socket ones ksr cannot answer)", () => {
    const sig = Object.fromEntries(kxExports.map((e) => [e.name, `${e.returns}(${e.params.join(',')})`]));
    const x = 'xval()';
    expect(sig).toEqual({
      get_ruri: x,
      get_ruser: x,
      getw_ruser: x,
      gete_ruser: x,
      get_rhost: x,
      getw_rhost: x,
      gete_rhost: x,
      get_ouri: x,
      get_furi: x,
      get_fuser: x,
      getw_fuser: x,
      gete_fuser: x,
      get_fhost: x,
      getw_fhost: x,
      gete_fhost: x,
      get_turi: x,
      get_tuser: x,
      gete_tuser: x,
      getw_tuser: x,
      get_thost: x,
      gete_thost: x,
      getw_thost: x,
      get_duri: x,
      gete_duri: x,
      getw_duri: x,
      get_cturi: x,
      gete_cturi: x,
      getw_cturi: x,
      get_nhuri: x,
      get_srcuri: x,
      get_ua: x,
      gete_ua: x,
      getw_ua: x,
      get_srcip: x,
      get_srcport: x,
      get_rcvip: x,
      get_rcvport: x,
      get_proto: x,
      get_protoid: 'int()',
      get_au: x,
      getw_au: x,
      gete_au: x,
      get_method: x,
      get_status: 'int()',
      gets_status: x,
      get_body: x,
      getw_body: x,
      gete_body: x,
      get_bodylen: 'int()',
      get_timestamp: 'int()',
      get_callid: x,
      get_conid: 'int()',
      get_msgbuf: x,
      get_msglen: 'int()',
      get_msgtype: 'int()',
      get_def: 'xval(str)',
      get_defn: 'int(str)',
      ifdef: 'bool(str)',
      ifndef: 'bool(str)',
      get_env: 'xval(str)',
      get_envn: 'int(str)',
    });
    for (const n of LEFT_OUT) expect(sig[n]).toBeUndefined();
  });

  it('registers as module "kx"', () => {
    const reg = new KemiRegistry<RouteContext>();
    reg.addModule('kx', kxExports);
    expect(reg.freeze().exportsOf('kx').length).toBe(kxExports.length);
  });
});

describe('KSR.kx on a request', () => {
  const ctx = fullInvite();
  it.each([
    ['get_ruri', 'sip:bob@ksr.test:5080;transport=tcp'],
    ['get_ruser', 'bob'],
    ['get_rhost', 'ksr.test'],
    ['get_ouri', 'sip:bob@ksr.test:5080;transport=tcp'],
    ['get_furi', 'sip:alice@atlanta.test'],
    ['get_fuser', 'alice'],
    ['get_fhost', 'atlanta.test'],
    ['get_turi', 'sip:bob@ksr.test'],
    ['get_tuser', 'bob'],
    ['get_thost', 'ksr.test'],
    ['get_duri', null],
    ['gete_duri', ''],
    ['getw_duri', '<<null>>'],
    ['get_cturi', 'sip:alice@[2001:db8::10]:5070;transport=tcp'],
    ['get_nhuri', 'sip:bob@ksr.test:5080;transport=tcp'],
    ['get_srcuri', 'sip:[2001:db8::10]:5070;transport=tcp'],
    ['get_ua', 'test-ua/2.0'],
    ['get_srcip', '2001:db8::10'],
    ['get_srcport', 5070],
    ['get_rcvip', '2001:db8::1'],
    ['get_rcvport', 5060],
    ['get_proto', 'tcp'],
    ['get_protoid', 2],
    ['get_au', 'alice'],
    ['get_method', 'INVITE'],
    ['get_status', -1],
    ['gets_status', null],
    ['get_body', SDP],
    ['get_bodylen', Buffer.byteLength(SDP)],
    ['get_callid', 'call-2@host'],
    ['get_conid', 7],
    ['get_msgtype', 1],
  ])('%s', (name, expected) => {
    expect(kx(ctx, name)).toEqual(expected);
  });

  it('get_msgbuf / get_msglen / get_timestamp', () => {
    expect(kx(ctx, 'get_msgbuf')).toBe(ctx.msg.raw.toString('utf8'));
    expect(kx(ctx, 'get_msglen')).toBe(ctx.msg.raw.length);
    expect(Math.abs((kx(ctx, 'get_timestamp') as number) - Date.now() / 1000)).toBeLessThan(5);
  });

  it('follows $ru and $du changes', () => {
    const c = makeContext();
    c.request!.setRequestUri('sip:carol@example.net');
    c.state.dstUri = 'sip:10.0.0.1:5080';
    expect(kx(c, 'get_ruri')).toBe('sip:carol@example.net');
    expect(kx(c, 'get_ruser')).toBe('carol');
    expect(kx(c, 'get_rhost')).toBe('example.net');
    expect(kx(c, 'get_ouri')).toBe('sip:bob@ksr.test');
    expect(kx(c, 'get_duri')).toBe('sip:10.0.0.1:5080');
    expect(kx(c, 'get_nhuri')).toBe('sip:10.0.0.1:5080');
  });

  it('absent values: get_ null, gete_ "", getw_ "<<null>>"', () => {
    const c = makeContext([
      'REGISTER sip:ksr.test SIP/2.0',
      'Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-r',
      'From: <sip:ksr.test>;tag=x',
      'To: <tel:+15551234>',
      'Call-ID: r1',
      'CSeq: 1 REGISTER',
      'Contact: *',
    ]);
    for (const base of ['ruser', 'fuser', 'thost', 'cturi', 'ua', 'au', 'body', 'duri']) {
      expect(kx(c, `get_${base}`), base).toBeNull();
      expect(kx(c, `gete_${base}`), base).toBe('');
      expect(kx(c, `getw_${base}`), base).toBe('<<null>>');
    }
    expect(kx(c, 'get_rhost')).toBe('ksr.test');
    expect(kx(c, 'get_tuser')).toBe('+15551234');
    expect(kx(c, 'get_bodylen')).toBe(0);
    expect(kx(c, 'get_conid')).toBe(-1);
    expect(kx(c, 'get_srcuri')).toBe('sip:192.0.2.10:5070');
    expect(kx(c, 'get_proto')).toBe('udp');
    expect(kx(c, 'get_protoid')).toBe(1);
  });
});

describe('KSR.kx on a reply', () => {
  const ctx = reply();
  it.each([
    ['get_ruri', null],
    ['get_ruser', null],
    ['gete_ruser', ''],
    ['get_rhost', null],
    ['get_ouri', null],
    ['get_nhuri', null],
    ['get_status', 486],
    ['gets_status', '486'],
    ['get_method', 'INVITE'],
    ['get_msgtype', 2],
    ['get_au', null],
    ['get_turi', 'sip:bob@ksr.test'],
  ])('%s', (name, expected) => {
    expect(kx(ctx, name)).toEqual(expected);
  });
});

describe('KSR.kx defines and environment', () => {
  const ctx = makeContext(undefined, { services: testServices({ defines: { WITH_AUTH: null, MAXN: '42', NAME: 'abc', NEG: '-3' } }) });

  it('ifdef / ifndef', () => {
    expect(kx(ctx, 'ifdef', 'WITH_AUTH')).toBe(true);
    expect(kx(ctx, 'ifdef', 'MAXN')).toBe(true);
    expect(kx(ctx, 'ifdef', 'WITH_NAT')).toBe(false);
    expect(kx(ctx, 'ifndef', 'WITH_NAT')).toBe(true);
    expect(kx(ctx, 'ifndef', 'WITH_AUTH')).toBe(false);
  });

  it('get_def / get_defn', () => {
    expect(kx(ctx, 'get_def', 'NAME')).toBe('abc');
    expect(kx(ctx, 'get_def', 'WITH_AUTH')).toBe('');
    expect(kx(ctx, 'get_def', 'NOPE')).toBe('');
    expect(kx(ctx, 'get_defn', 'MAXN')).toBe(42);
    expect(kx(ctx, 'get_defn', 'NEG')).toBe(-3);
    expect(kx(ctx, 'get_defn', 'NAME')).toBe(0);
    expect(kx(ctx, 'get_defn', 'NOPE')).toBe(0);
  });

  it('get_env / get_envn', () => {
    process.env.KSR_KX_TEST_ENV = '12';
    process.env.KSR_KX_TEST_STR = 'hello';
    try {
      expect(kx(ctx, 'get_env', 'KSR_KX_TEST_ENV')).toBe('12');
      expect(kx(ctx, 'get_env', 'KSR_KX_TEST_STR')).toBe('hello');
      expect(kx(ctx, 'get_env', 'KSR_KX_TEST_UNSET')).toBe('');
      expect(kx(ctx, 'get_env', '')).toBe('');
      expect(kx(ctx, 'get_envn', 'KSR_KX_TEST_ENV')).toBe(12);
      expect(kx(ctx, 'get_envn', 'KSR_KX_TEST_STR')).toBe(0);
      expect(kx(ctx, 'get_envn', 'KSR_KX_TEST_UNSET')).toBe(0);
    } finally {
      delete process.env.KSR_KX_TEST_ENV;
      delete process.env.KSR_KX_TEST_STR;
    }
  });
});
