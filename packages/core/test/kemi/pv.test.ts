import { describe, expect, it } from 'vitest';
import { createPvExports, pvExports } from '../../src/kemi/exports/pv.js';
import { KemiRegistry } from '../../src/kemi/registry.js';
import { createPvRegistry } from '../../src/pv/index.js';
import type { RouteContext } from '../../src/routing/context.js';
import { makeContext, testServices } from '../support/context.js';
import { callExport, fullInvite, servicesWithLog } from '../pv/helpers.js';

const call = (ctx: RouteContext, name: string, ...args: unknown[]): unknown => callExport(pvExports, 'pv', ctx, name, ...args);

describe('KSR.pv export table', () => {
  it("has Kamailio's 12 pv functions with their types", () => {
    const sig = Object.fromEntries(pvExports.map((e) => [e.name, `${e.returns}(${e.params.join(',')})`]));
    expect(sig).toEqual({
      get: 'xval(str)',
      gete: 'xval(str)',
      getw: 'xval(str)',
      geti: 'int(str)',
      getl: 'xval(str)',
      getvn: 'xval(str,int)',
      getvs: 'xval(str,str)',
      seti: 'bool(str,int)',
      setl: 'bool(str,long)',
      sets: 'bool(str,str)',
      unset: 'bool(str)',
      is_null: 'bool(str)',
    });
  });

  it('registers as module "pv"', () => {
    const reg = new KemiRegistry<RouteContext>();
    reg.addModule('pv', pvExports);
    expect(reg.freeze().find('pv', 'get')?.qualified).toBe('KSR.pv.get');
  });
});

describe('KSR.pv getters', () => {
  it('get returns strings and integers', () => {
    const ctx = fullInvite();
    expect(call(ctx, 'get', '$ru')).toBe('sip:bob@ksr.test:5080;transport=tcp');
    expect(call(ctx, 'get', '$cs')).toBe(42);
    expect(call(ctx, 'get', '$sp')).toBe(5070);
    expect(call(ctx, 'get', '$(hdr(X-Multi)[1])')).toBe('two');
  });

  it('null modes: get null, gete "", getw "<<null>>"', () => {
    const ctx = makeContext();
    expect(call(ctx, 'get', '$tt')).toBeNull();
    expect(call(ctx, 'gete', '$tt')).toBe('');
    expect(call(ctx, 'getw', '$tt')).toBe('<<null>>');
    expect(call(ctx, 'gete', '$ft')).toBe('a1');
    expect(call(ctx, 'getw', '$cs')).toBe(10);
  });

  it('geti: integers, integer strings, else 0', () => {
    const ctx = makeContext();
    call(ctx, 'sets', '$var(s)', '123');
    call(ctx, 'sets', '$var(neg)', '-7');
    call(ctx, 'sets', '$var(abc)', 'abc');
    call(ctx, 'sets', '$var(mixed)', '12abc');
    call(ctx, 'sets', '$var(big)', '99999999999');
    expect(call(ctx, 'geti', '$cs')).toBe(10);
    expect(call(ctx, 'geti', '$var(s)')).toBe(123);
    expect(call(ctx, 'geti', '$var(neg)')).toBe(-7);
    expect(call(ctx, 'geti', '$var(abc)')).toBe(0);
    expect(call(ctx, 'geti', '$var(mixed)')).toBe(0);
    expect(call(ctx, 'geti', '$var(big)')).toBe(0);
    expect(call(ctx, 'geti', '$ru')).toBe(0);
    expect(call(ctx, 'geti', '$tt')).toBe(0);
    expect(call(ctx, 'geti', '$nosuch')).toBe(0);
  });

  it('getl: like geti beyond 32 bits, as an xval number', () => {
    const ctx = makeContext();
    call(ctx, 'sets', '$var(big)', '99999999999');
    expect(call(ctx, 'getl', '$var(big)')).toBe(99999999999);
    expect(call(ctx, 'getl', '$tt')).toBe(0);
    expect(call(ctx, 'getl', '$ru')).toBe(0);
    expect(call(ctx, 'setl', '$var(l)', 2 ** 40)).toBe(true);
    expect(call(ctx, 'getl', '$var(l)')).toBe(2 ** 40);
  });

  it('getvn / getvs give the default for null and for invalid names', () => {
    const ctx = makeContext();
    expect(call(ctx, 'getvn', '$tt', 7)).toBe(7);
    expect(call(ctx, 'getvn', '$cs', 7)).toBe(10);
    expect(call(ctx, 'getvn', '$nosuch', -1)).toBe(-1);
    expect(call(ctx, 'getvs', '$tt', 'none')).toBe('none');
    expect(call(ctx, 'getvs', '$ft', 'none')).toBe('a1');
    expect(call(ctx, 'getvs', '$(', 'bad')).toBe('bad');
  });

  it('is_null: true for null and for invalid names', () => {
    const ctx = makeContext();
    expect(call(ctx, 'is_null', '$tt')).toBe(true);
    expect(call(ctx, 'is_null', '$ft')).toBe(false);
    expect(call(ctx, 'is_null', '$var(never)')).toBe(false); // $var reads 0
    expect(call(ctx, 'is_null', '$avp(never)')).toBe(true);
    expect(call(ctx, 'is_null', '$nosuch')).toBe(true);
  });
});

describe('KSR.pv setters', () => {
  it('seti / sets / setl / unset on $var, $avp, $xavp, $shv', () => {
    const services = testServices();
    const ctx = makeContext(undefined, { services });
    expect(call(ctx, 'seti', '$var(n)', 5)).toBe(true);
    expect(call(ctx, 'get', '$var(n)')).toBe(5);
    expect(call(ctx, 'sets', '$var(n)', '5')).toBe(true);
    expect(call(ctx, 'get', '$var(n)')).toBe('5');
    expect(call(ctx, 'unset', '$var(n)')).toBe(true);
    expect(call(ctx, 'get', '$var(n)')).toBe(0);
    expect(call(makeContext(undefined, { services }), 'get', '$var(n)')).toBe(0);

    call(ctx, 'sets', '$avp(a)', 'x');
    call(ctx, 'seti', '$avp(a)', 1);
    expect(call(ctx, 'get', '$avp(a)')).toBe(1);
    expect(call(ctx, 'unset', '$avp(a)')).toBe(true);
    expect(call(ctx, 'get', '$avp(a)')).toBe('x');

    call(ctx, 'sets', '$xavp(r=>f)', 'v');
    call(ctx, 'seti', '$xavp(r[0]=>g)', 2);
    expect(call(ctx, 'get', '$xavp(r=>g)')).toBe(2);

    call(ctx, 'seti', '$shv(s)', 9);
    expect(call(makeContext(undefined, { services }), 'get', '$shv(s)')).toBe(9);
  });

  it('$ru and $du through sets / unset', () => {
    const ctx = makeContext();
    expect(call(ctx, 'sets', '$ru', 'sip:carol@example.net')).toBe(true);
    expect(ctx.msg.serialize().toString()).toMatch(/^INVITE sip:carol@example\.net SIP\/2\.0\r\n/);
    expect(call(ctx, 'sets', '$du', 'sip:10.0.0.1:5080')).toBe(true);
    expect(ctx.state.dstUri).toBe('sip:10.0.0.1:5080');
    expect(call(ctx, 'unset', '$du')).toBe(true);
    expect(ctx.state.dstUri).toBeUndefined();
    expect(call(ctx, 'seti', '$rp', 5099)).toBe(true);
    expect(call(ctx, 'get', '$ru')).toBe('sip:carol@example.net:5099');
  });

  it('setting a read-only pseudo-variable is false with an error log', () => {
    const { services, errors } = servicesWithLog();
    const ctx = makeContext(undefined, { services });
    expect(call(ctx, 'sets', '$fu', 'sip:x@y')).toBe(false);
    expect(call(ctx, 'unset', '$hdr(Via)')).toBe(false);
    expect(call(ctx, 'seti', '$rs', 200)).toBe(false);
    expect(errors).toEqual([
      'KSR.pv.sets: $fu is read-only',
      'KSR.pv.unset: $hdr(Via) is read-only',
      'KSR.pv.seti: $rs is read-only',
    ]);
    expect(ctx.msg.modified).toBe(false);
  });
});

describe('KSR.pv with invalid names', () => {
  it.each(['$', '$(', '$hdr(', '$nosuch', '', 'ru', '$hdr(Via)[1]', '$(ru{s.len})', '$sht(t=>k)'])('%j: null / 0 / false, an error log, no throw', (name) => {
    const { services, errors } = servicesWithLog();
    const ctx = makeContext(undefined, { services });
    expect(call(ctx, 'get', name)).toBeNull();
    expect(call(ctx, 'gete', name)).toBe('');
    expect(call(ctx, 'getw', name)).toBe('<<null>>');
    expect(call(ctx, 'geti', name)).toBe(0);
    expect(call(ctx, 'getl', name)).toBe(0);
    expect(call(ctx, 'sets', name, 'x')).toBe(false);
    expect(call(ctx, 'seti', name, 1)).toBe(false);
    expect(call(ctx, 'unset', name)).toBe(false);
    expect(call(ctx, 'is_null', name)).toBe(true);
    expect(errors.length).toBe(9);
    expect(errors[0]).toMatch(/^KSR\.pv\.get: invalid pseudo-variable /);
  });

  it('uses the cache of its registry', () => {
    const reg = createPvRegistry({ cacheLimit: 4 });
    const table = createPvExports(reg);
    const ctx = makeContext();
    for (let i = 0; i < 10; i++) callExport(table, 'pv', ctx, 'get', `$var(v${i})`);
    expect(reg.cacheSize).toBe(4);
    callExport(table, 'pv', ctx, 'get', '$nosuch');
    expect(reg.cacheSize).toBe(4);
  });
});
