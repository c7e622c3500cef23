import { MemorySharedVars, MessageState, PvNameError, XAVP_VALUE, createPvRegistry, createPvExports, type PvRegistry, type RouteContext, type SocketInfo } from '@ksr/core';
import { describe, expect, it } from 'vitest';
import { makeContext, testServices } from '../../../core/test/support/context.js';
import { parseVarSet, pvModule, type PvModuleApi } from '../../src/pv/index.js';
import { instantiate, moduleContext, recordingLogger } from '../htable/support.js';

const SOCKETS: SocketInfo[] = [
  { id: 0, proto: 'udp', local: { address: '127.0.0.1', port: 5060, family: 4 } },
  { id: 1, proto: 'tcp', local: { address: '127.0.0.1', port: 5060, family: 4 } },
];

async function setup(params: Record<string, string | number | Array<string | number>> = {}) {
  const pv = createPvRegistry();
  const log = recordingLogger();
  const shv = new MemorySharedVars();
  const vars = new Map();
  const { instance, fn } = await instantiate(pvModule, moduleContext('pv', params, { pv, logger: log.logger, shv, vars }));
  const services = { ...testServices({ logger: log.logger }), shv, vars, sockets: () => SOCKETS };
  const ctx = makeContext(undefined, { services, state: new MessageState() });
  const ksrPv = Object.fromEntries(createPvExports(pv).map((e) => [e.name, e.fn as (...a: unknown[]) => unknown]));
  return { pv, log, instance, fn, ctx, ksrPv, api: instance.api as PvModuleApi, shv, vars };
}

function pvGet(pv: PvRegistry, ctx: RouteContext, name: string) {
  const a = pv.lookup(name);
  if (a instanceof PvNameError) throw a;
  return a.get(ctx);
}

describe('modparams shvset / varset', () => {
  it('parses name=i:int and name=s:text', () => {
    expect(parseVarSet('debug=i:1')).toEqual({ name: 'debug', value: 1 });
    expect(parseVarSet('n=i:-42')).toEqual({ name: 'n', value: -42 });
    expect(parseVarSet('gw=s:sip:11.11.11.11;transport=tcp')).toEqual({ name: 'gw', value: 'sip:11.11.11.11;transport=tcp' });
    expect(parseVarSet('e=s:')).toEqual({ name: 'e', value: '' });
    expect(() => parseVarSet('x')).toThrow(/expected/);
    expect(() => parseVarSet('x=q:1')).toThrow(/expected/);
    expect(() => parseVarSet('x=i:abc')).toThrow(/not an integer/);
    expect(() => parseVarSet('a b=i:1')).toThrow(/bad variable name/);
    expect(pvModule.params.shvset!.check!('x=i:zz')).toMatch(/not an integer/);
    expect(pvModule.params.varset!.check!('x=i:1')).toBeUndefined();
  });

  it('sets $shv and $var at create, readable through KSR.pv and KSR.pvx', async () => {
    const { ctx, ksrPv, fn, api } = await setup({ shvset: ['debug=i:1', 'gw=s:sip:10.10.10.10'], varset: ['init=i:7', 'name=s:ksr'] });
    expect(ksrPv.get!(ctx, '$shv(debug)')).toBe(1);
    expect(ksrPv.get!(ctx, '$shv(gw)')).toBe('sip:10.10.10.10');
    expect(ksrPv.get!(ctx, '$var(init)')).toBe(7);
    expect(fn('var_get')(ctx, 'name')).toBe('ksr');
    expect(api.shvList()).toEqual([
      { name: 'debug', value: 1 },
      { name: 'gw', value: 'sip:10.10.10.10' },
    ]);
  });

  it('binds as KSR.pvx', () => {
    expect(pvModule.name).toBe('pv');
    expect(pvModule.kemiName).toBe('pvx');
  });
});

describe('KSR.pvx $var / $shv', () => {
  it('var_seti / var_sets / var_get share $var with KSR.pv', async () => {
    const { ctx, fn, ksrPv } = await setup();
    expect(fn('var_seti')(ctx, 'x', 5)).toBe(1);
    expect(ksrPv.get!(ctx, '$var(x)')).toBe(5);
    expect(fn('var_sets')(ctx, 'y', 'text')).toBe(1);
    expect(ksrPv.get!(ctx, '$var(y)')).toBe('text');
    ksrPv.sets!(ctx, '$var(z)', 'from-pv');
    expect(fn('var_get')(ctx, 'z')).toBe('from-pv');
    expect(fn('var_get')(ctx, 'never')).toBe(0); // $var is never null
    expect(fn('var_seti')(ctx, 'bad name', 1)).toBe(-1);
    expect(fn('var_sets')(ctx, '$x', 'v')).toBe(-1);
    expect(fn('var_get')(ctx, '')).toBeNull();
  });

  it('shv_seti / shv_sets / shv_get / shvinc_get', async () => {
    const { ctx, fn, ksrPv, api } = await setup();
    expect(fn('shv_seti')(ctx, 'c', 1)).toBe(1);
    expect(ksrPv.get!(ctx, '$shv(c)')).toBe(1);
    expect(fn('shvinc_get')(ctx, 'c')).toBe(2);
    expect(fn('shvinc_get')(ctx, 'fresh')).toBe(1);
    expect(fn('shv_sets')(ctx, 's', 'v')).toBe(1);
    expect(fn('shv_get')(ctx, 's')).toBe('v');
    expect(fn('shv_get')(ctx, 'never')).toBe(0);
    expect(fn('shvinc_get')(ctx, 's')).toBeNull();
    expect(fn('shv_seti')(ctx, 'a(b)', 1)).toBe(-1);
    expect(fn('shv_get')(ctx, 'a b')).toBeNull();
    expect(fn('shvinc_get')(ctx, '')).toBeNull();
    expect(api.shvGet('c')).toBe(2);
    expect(api.shvGet('never')).toBeNull();
    expect(api.shvSet('d', 'x')).toBe(true);
    expect(api.shvSet('bad name', 'x')).toBe(false);
    expect(fn('shv_get')(ctx, 'd')).toBe('x');
  });
});

describe('KSR.pvx $avp', () => {
  it('avp_seti / avp_sets stack values, avp_get* read the newest, avp_rm removes all', async () => {
    const { ctx, fn, ksrPv } = await setup();
    expect(fn('avp_seti')(ctx, 'a', 1)).toBe(1);
    expect(fn('avp_sets')(ctx, 'a', 'two')).toBe(1);
    expect(fn('avp_get')(ctx, 'a')).toBe('two');
    expect(ksrPv.get!(ctx, '$(avp(a)[1])')).toBe(1);
    expect(fn('avp_is_null')(ctx, 'a')).toBe(-1);
    expect(fn('avp_rm')(ctx, 'a')).toBe(1);
    expect(fn('avp_is_null')(ctx, 'a')).toBe(1);
    expect(fn('avp_get')(ctx, 'a')).toBeNull();
    expect(fn('avp_gete')(ctx, 'a')).toBe('');
    expect(fn('avp_getw')(ctx, 'a')).toBe('<<null>>');
    expect(fn('avp_sets')(ctx, 's:b', 'x')).toBe(1);
    expect(fn('avp_get')(ctx, 'b')).toBe('x');
  });

  it('fails on bad names', async () => {
    const { ctx, fn } = await setup();
    expect(fn('avp_seti')(ctx, 'a)', 1)).toBe(-1);
    expect(fn('avp_sets')(ctx, '$x', 'v')).toBe(-1);
    expect(fn('avp_get')(ctx, 'i:x')).toBeNull();
    expect(fn('avp_rm')(ctx, '')).toBe(-1);
  });
});

describe('KSR.pvx $xavp', () => {
  it('xavp_seti / xavp_sets push records with their own value; xavp_get* / xavp_rm / xavp_is_null', async () => {
    const { ctx, fn, ksrPv } = await setup();
    expect(fn('xavp_is_null')(ctx, 'r')).toBe(1);
    expect(fn('xavp_seti')(ctx, 'r', 1)).toBe(1);
    expect(fn('xavp_sets')(ctx, 'r', 'two')).toBe(1);
    expect(ctx.state.xavps.get('r')).toEqual([new Map([[XAVP_VALUE, ['two']]]), new Map([[XAVP_VALUE, [1]]])]);
    expect(fn('xavp_get')(ctx, 'r')).toBe('two');
    expect(ksrPv.get!(ctx, '$xavp(r[1])')).toBe(1);
    expect(fn('xavp_is_null')(ctx, 'r')).toBe(-1);
    expect(fn('xavp_rm')(ctx, 'r')).toBe(1);
    expect(fn('xavp_get')(ctx, 'r')).toBeNull();
    expect(fn('xavp_gete')(ctx, 'r')).toBe('');
    expect(fn('xavp_getw')(ctx, 'r')).toBe('<<null>>');
    expect(fn('xavp_seti')(ctx, 'bad name', 1)).toBe(-1);
    expect(fn('xavp_get')(ctx, 'a=>b')).toBeNull();
    expect(fn('xavp_rm')(ctx, '')).toBe(-1);
  });

  it('xavp_child_seti / sets add to the newest record (or create one), child get/rm/is_null', async () => {
    const { ctx, fn, ksrPv } = await setup();
    expect(fn('xavp_child_seti')(ctx, 'x', 'y', 10)).toBe(1);
    expect(ksrPv.get!(ctx, '$xavp(x=>y)')).toBe(10);
    expect(fn('xavp_child_sets')(ctx, 'x', 'z', 'Count: 10')).toBe(1);
    expect(ctx.state.xavps.get('x')).toHaveLength(1);
    expect(fn('xavp_child_get')(ctx, 'x', 'z')).toBe('Count: 10');
    expect(fn('xavp_child_gete')(ctx, 'x', 'none')).toBe('');
    expect(fn('xavp_child_getw')(ctx, 'x', 'none')).toBe('<<null>>');
    expect(fn('xavp_child_is_null')(ctx, 'x', 'y')).toBe(-1);
    expect(fn('xavp_child_rm')(ctx, 'x', 'y')).toBe(1);
    expect(fn('xavp_child_is_null')(ctx, 'x', 'y')).toBe(1);
    expect(fn('xavp_child_get')(ctx, 'x', 'z')).toBe('Count: 10');
    // a newest record holding a plain value is replaced by one with the child
    fn('xavp_sets')(ctx, 'v', 'plain');
    expect(fn('xavp_child_seti')(ctx, 'v', 'c', 1)).toBe(1);
    expect(ctx.state.xavps.get('v')).toEqual([new Map([['c', [1]]])]);
    expect(fn('xavp_child_seti')(ctx, 'x', 'bad name', 1)).toBe(-1);
    expect(fn('xavp_child_sets')(ctx, '', 'c', 'v')).toBe(-1);
    expect(fn('xavp_child_is_null')(ctx, 'x', '(')).toBe(1);
    expect(fn('xavp_child_rm')(ctx, 'x', '')).toBe(-1);
  });

  it('xavp_params_explode / xavp_params_implode(_qval) round-trip; Kamailio field order', async () => {
    const { ctx, fn, ksrPv } = await setup();
    expect(fn('xavp_params_explode')(ctx, 'a=b;c=d;e=f', 'x')).toBe(1);
    expect(ksrPv.get!(ctx, '$xavp(x=>a)')).toBe('b');
    expect(ksrPv.get!(ctx, '$xavp(x=>e)')).toBe('f');
    expect(fn('xavp_params_implode')(ctx, 'x', '$var(out)')).toBe(1);
    expect(ksrPv.get!(ctx, '$var(out)')).toBe('a=b;c=d;e=f;');
    // the pv module's documented example: fields added e, c, a implode as a, c, e
    ksrPv.sets!(ctx, '$xavp(y=>e)', 'f');
    ksrPv.sets!(ctx, '$xavp(y[0]=>c)', 'd');
    ksrPv.seti!(ctx, '$xavp(y[0]=>a)', 5);
    expect(fn('xavp_params_implode')(ctx, 'y', '$var(out)')).toBe(1);
    expect(ksrPv.get!(ctx, '$var(out)')).toBe('a=5;c=d;e=f;');
    expect(fn('xavp_params_implode_qval')(ctx, 'y', '$var(q)')).toBe(1);
    expect(ksrPv.get!(ctx, '$var(q)')).toBe('a="5";c="d";e="f";');
    expect(fn('xavp_params_explode')(ctx, ' flag ; q="x;y" ', 'z')).toBe(1);
    expect(fn('xavp_params_implode')(ctx, 'z', '$var(z)')).toBe(1);
    expect(ksrPv.get!(ctx, '$var(z)')).toBe('flag;q=x;y;');
    expect(fn('xavp_xparams_explode')(ctx, 'a=1,b=2', ',', 'w')).toBe(1);
    expect(ksrPv.get!(ctx, '$xavp(w=>b)')).toBe('2');
  });

  it('params explode/implode failures', async () => {
    const { ctx, fn } = await setup();
    expect(fn('xavp_params_explode')(ctx, '', 'x')).toBe(-1);
    expect(fn('xavp_params_explode')(ctx, 'a="open', 'x')).toBe(-1);
    expect(fn('xavp_params_explode')(ctx, 'bad name=1', 'x')).toBe(-1);
    expect(fn('xavp_params_explode')(ctx, 'a=1', 'bad name')).toBe(-1);
    expect(fn('xavp_xparams_explode')(ctx, 'a=1', '', 'x')).toBe(-1);
    expect(fn('xavp_xparams_explode')(ctx, 'a=1', ',;', 'x')).toBe(-1);
    expect(fn('xavp_params_implode')(ctx, 'none', '$var(o)')).toBe(-1);
    fn('xavp_params_explode')(ctx, 'a=1', 'x');
    expect(fn('xavp_params_implode')(ctx, 'x', '$ci')).toBe(-1); // read-only
    expect(fn('xavp_params_implode')(ctx, 'x', '$nope(')).toBe(-1);
  });

  it('xavp_slist_explode splits on any separator, trims with mode t, skips empty tokens', async () => {
    const { ctx, fn, ksrPv } = await setup();
    expect(fn('xavp_slist_explode')(ctx, 'a=b; c=d;', '=;', 't', 'x')).toBe(1);
    expect([0, 1, 2, 3].map((i) => ksrPv.get!(ctx, `$xavp(x[0]=>v[${i}])`))).toEqual(['a', 'b', 'c', 'd']);
    expect(fn('xavp_slist_explode')(ctx, 'a, b', ',', '', 'y')).toBe(1);
    expect(ksrPv.get!(ctx, '$xavp(y[0]=>v[1])')).toBe(' b');
    expect(fn('xavp_slist_explode')(ctx, ';;', ';', 't', 'z')).toBe(-1);
    expect(fn('xavp_slist_explode')(ctx, 'a', '', 't', 'z')).toBe(-1);
    expect(fn('xavp_slist_explode')(ctx, 'a', ';', 't', '')).toBe(-1);
  });

  it('xavp_lshift rotates', async () => {
    const { ctx, fn } = await setup();
    for (const v of [10, 20, 30]) fn('xavp_seti')(ctx, 'n', v);
    // records newest first: 30 20 10
    expect(fn('xavp_lshift')(ctx, 'n', 1)).toBe(1);
    expect(ctx.state.xavps.get('n')!.map((r) => r.get(XAVP_VALUE)![0])).toEqual([20, 10, 30]);
    expect(fn('xavp_lshift')(ctx, 'n', -1)).toBe(1);
    expect(ctx.state.xavps.get('n')!.map((r) => r.get(XAVP_VALUE)![0])).toEqual([30, 20, 10]);
    expect(fn('xavp_lshift')(ctx, 'n', 4)).toBe(1);
    expect(ctx.state.xavps.get('n')!.map((r) => r.get(XAVP_VALUE)![0])).toEqual([20, 10, 30]);
    expect(fn('xavp_lshift')(ctx, 'none', 1)).toBe(-1);
    expect(fn('xavp_lshift')(ctx, '', 1)).toBe(-1);
  });

  it('xavp_copy appends a copy; xavp_copy_dst replaces one (Kamailio examples)', async () => {
    const { ctx, fn, pv } = await setup();
    for (const i of [0, 1, 2]) {
      const a = pv.lookup('$xavp(a=>x)');
      const b = pv.lookup(`$xavp(a[0]=>y)`);
      if (a instanceof PvNameError || b instanceof PvNameError) throw new Error('bad name');
      a.set!(ctx, `a-${i}-x`);
      b.set!(ctx, `a-${i}-y`);
    }
    expect(fn('xavp_copy')(ctx, 'a', 2, 'b')).toBe(1);
    expect(fn('xavp_copy')(ctx, 'a', 1, 'b')).toBe(1);
    expect(fn('xavp_copy')(ctx, 'a', 0, 'b')).toBe(1);
    expect([0, 1, 2].map((i) => pvGet(pv, ctx, `$xavp(b[${i}]=>x)`))).toEqual(['a-0-x', 'a-1-x', 'a-2-x']);
    // copies are independent
    ctx.state.xavps.get('b')![0]!.get('x')![0] = 'changed';
    expect(pvGet(pv, ctx, '$xavp(a[2]=>x)')).toBe('a-0-x');
    expect(fn('xavp_copy')(ctx, 'a', 5, 'b')).toBe(-1);
    expect(fn('xavp_copy')(ctx, 'none', 0, 'b')).toBe(-1);
    expect(fn('xavp_copy_dst')(ctx, 'a', 2, 'a', 0)).toBe(1);
    expect(pvGet(pv, ctx, '$xavp(a[0]=>x)')).toBe('a-0-x');
    expect(fn('xavp_copy_dst')(ctx, 'a', 0, 'none', 0)).toBe(-1);
    expect(fn('xavp_copy_dst')(ctx, 'a', 0, 'b', 9)).toBe(-1);
    expect(fn('xavp_copy_dst')(ctx, 'a', 0, 'bad name', 0)).toBe(-1);
  });

  it('pv_var_to_xavp / pv_xavp_to_var / pv_xavp_print', async () => {
    const { ctx, fn, ksrPv, log } = await setup();
    fn('var_seti')(ctx, 'temp', 3);
    fn('var_sets')(ctx, 'foo', 'foo indeed');
    ksrPv.sets!(ctx, '$xavp(ok=>old)', 'gone');
    expect(fn('pv_var_to_xavp')(ctx, 'temp', 'ok')).toBe(1);
    expect(ksrPv.get!(ctx, '$xavp(ok[0]=>temp)')).toBe(3);
    expect(ksrPv.get!(ctx, '$xavp(ok[0]=>old)')).toBeNull();
    expect(fn('pv_var_to_xavp')(ctx, '*', 'ok')).toBe(1);
    expect(ksrPv.get!(ctx, '$xavp(ok[0]=>foo)')).toBe('foo indeed');
    expect(fn('pv_var_to_xavp')(ctx, 'unset', 'ok')).toBe(-1);
    expect(fn('pv_var_to_xavp')(ctx, 'temp', 'bad name')).toBe(-1);
    ksrPv.seti!(ctx, '$xavp(bar=>temp)', 4);
    ksrPv.sets!(ctx, '$xavp(bar[0]=>foo)', 'bar foo');
    expect(fn('pv_xavp_to_var')(ctx, 'bar')).toBe(1);
    expect(ksrPv.get!(ctx, '$var(temp)')).toBe(4);
    expect(ksrPv.get!(ctx, '$var(foo)')).toBe('bar foo');
    expect(fn('pv_xavp_to_var')(ctx, 'none')).toBe(-1);
    expect(fn('pv_xavp_print')(ctx)).toBe(1);
    expect(log.lines.some((l) => l.msg === 'XAVP bar[0] {temp=[4], foo=["bar foo"]}')).toBe(true);
  });

  it('xavp_push_dst sets the R-URI, $du and the send socket', async () => {
    const { ctx, fn, ksrPv } = await setup();
    ksrPv.sets!(ctx, '$xavp(dst=>uri)', 'sip:alice@server.test');
    ksrPv.sets!(ctx, '$xavp(dst[0]=>dsturi)', 'sip:proxy.test');
    ksrPv.sets!(ctx, '$xavp(dst[0]=>socket)', 'tcp:127.0.0.1:5060');
    expect(fn('xavp_push_dst')(ctx, 'dst')).toBe(1);
    expect(ksrPv.get!(ctx, '$ru')).toBe('sip:alice@server.test');
    expect(ksrPv.get!(ctx, '$du')).toBe('sip:proxy.test');
    expect(ctx.state.sendSocketId).toBe(1);
    ksrPv.sets!(ctx, '$xavp(bad=>socket)', 'udp:10.9.9.9:5060');
    expect(fn('xavp_push_dst')(ctx, 'bad')).toBe(-1);
    ksrPv.sets!(ctx, '$xavp(bad2=>uri)', 'not a uri');
    expect(fn('xavp_push_dst')(ctx, 'bad2')).toBe(-1);
    expect(fn('xavp_push_dst')(ctx, 'none')).toBe(-1);
  });
});

describe('KSR.pvx static branch ($sbranch)', () => {
  it('sbranch_set_ruri uses uri, dst_uri, path, flags and send_socket', async () => {
    const { ctx, fn, pv, ksrPv } = await setup();
    const set = (n: string, v: string | number) => {
      const a = pv.lookup(`$sbranch(${n})`);
      if (a instanceof PvNameError) throw a;
      return a.set!(ctx, v);
    };
    expect(fn('sbranch_set_ruri')(ctx)).toBe(-1); // no uri yet
    expect(set('uri', 'sip:127.0.0.1:5080')).toBe(true);
    expect(set('dst_uri', 'sip:127.0.0.1:5090')).toBe(true);
    expect(set('path', '<sip:127.0.0.1:5094;lr>')).toBe(true);
    expect(set('send_socket', 'udp:127.0.0.1:5060')).toBe(true);
    expect(set('flags', 6)).toBe(true);
    expect(set('q', '0.5')).toBe(true);
    expect(pvGet(pv, ctx, '$sbranch(q)')).toBe('0.5');
    expect(pvGet(pv, ctx, '$sbranch(count)')).toBe(1);
    expect(fn('sbranch_set_ruri')(ctx)).toBe(1);
    expect(ksrPv.get!(ctx, '$ru')).toBe('sip:127.0.0.1:5080');
    expect(ksrPv.get!(ctx, '$du')).toBe('sip:127.0.0.1:5090');
    expect(ctx.state.ruriPath).toBe('<sip:127.0.0.1:5094;lr>');
    expect(ctx.state.branchFlags[0]).toBe(6);
    expect(ctx.state.sendSocketId).toBe(0);
    expect(fn('sbranch_append')(ctx)).toBe(1);
    expect(ctx.state.branches).toEqual([{ uri: 'sip:127.0.0.1:5080', dstUri: 'sip:127.0.0.1:5090', path: '<sip:127.0.0.1:5094;lr>', q: 500, flags: 6, socketId: 0 }]);
    expect(fn('sbranch_reset')(ctx)).toBe(1);
    expect(pvGet(pv, ctx, '$sbranch(uri)')).toBeNull();
    expect(pvGet(pv, ctx, '$sbranch(q)')).toBeNull();
    expect(pvGet(pv, ctx, '$sbranch(count)')).toBe(0);
    expect(fn('sbranch_append')(ctx)).toBe(-1);
  });

  it('rejects bad attributes and values', async () => {
    const { ctx, fn, pv } = await setup();
    expect(pv.lookup('$sbranch(bogus)')).toBeInstanceOf(PvNameError);
    const a = (n: string) => {
      const x = pv.lookup(`$sbranch(${n})`);
      if (x instanceof PvNameError) throw x;
      return x;
    };
    expect(a('count').set).toBeUndefined();
    expect(a('q').set!(ctx, '2.5')).toBe(false);
    expect(a('q').set!(ctx, 1001)).toBe(false);
    expect(a('q').set!(ctx, 1000)).toBe(true);
    expect(a('flags').set!(ctx, 'x')).toBe(false);
    expect(a('flags').set!(ctx, '3')).toBe(true);
    a('uri').set!(ctx, 'not a uri');
    expect(fn('sbranch_set_ruri')(ctx)).toBe(-1);
    expect(fn('sbranch_append')(ctx)).toBe(-1);
    a('uri').set!(ctx, 'sip:x@y');
    a('send_socket').set!(ctx, 'udp:10.0.0.9:5060');
    expect(fn('sbranch_set_ruri')(ctx)).toBe(-1);
    expect(fn('sbranch_append')(ctx)).toBe(-1);
    a('send_socket').set!(ctx, null);
    for (let i = 0; i < 11; i++) expect(fn('sbranch_append')(ctx)).toBe(1);
    expect(fn('sbranch_append')(ctx)).toBe(-1); // 12 branches with the R-URI
  });

  it('sbranch_set_ruri needs a request', async () => {
    const { fn, pv } = await setup();
    const reply = makeContext(['SIP/2.0 200 OK', 'Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-1', 'From: <sip:a@x>;tag=1', 'To: <sip:b@y>;tag=2', 'Call-ID: c1', 'CSeq: 1 INVITE']);
    const u = pv.lookup('$sbranch(uri)');
    if (u instanceof PvNameError) throw u;
    u.set!(reply, 'sip:x@y');
    expect(fn('sbranch_set_ruri')(reply)).toBe(-1);
  });
});

describe('KSR.pvx.evalx', () => {
  it('evaluates pseudo-variables in the format and stores the text', async () => {
    const { ctx, fn, ksrPv } = await setup();
    fn('var_seti')(ctx, 'n', 3);
    expect(fn('evalx')(ctx, '$var(out)', 'method $rm from $si n=$var(n) $$5 $avp(none)')).toBe(1);
    expect(ksrPv.get!(ctx, '$var(out)')).toBe('method INVITE from 192.0.2.10 n=3 $5 <null>');
    expect(fn('evalx')(ctx, '$var(out)', 'plain')).toBe(1);
    expect(ksrPv.get!(ctx, '$var(out)')).toBe('plain');
  });

  it('fails on a bad format, a bad or read-only destination', async () => {
    const { ctx, fn } = await setup();
    expect(fn('evalx')(ctx, '$var(out)', 'x $bogus(1)')).toBe(-1);
    expect(fn('evalx')(ctx, '$var(out)', 'x $(')).toBe(-1);
    expect(fn('evalx')(ctx, '$ci', 'x')).toBe(-1);
    expect(fn('evalx')(ctx, 'novar', 'x')).toBe(-1);
  });
});

describe('export table', () => {
  it('uses Kamailio names and types', async () => {
    const { instance } = await setup();
    const types = Object.fromEntries((instance.exports ?? []).map((e) => [e.name, `${e.returns}(${e.params.join(',')})`]));
    expect(types).toEqual({
      var_seti: 'int(str,int)',
      var_sets: 'int(str,str)',
      var_get: 'xval(str)',
      shv_seti: 'int(str,int)',
      shv_sets: 'int(str,str)',
      shv_get: 'xval(str)',
      shvinc_get: 'xval(str)',
      avp_seti: 'int(str,int)',
      avp_sets: 'int(str,str)',
      avp_get: 'xval(str)',
      avp_gete: 'xval(str)',
      avp_getw: 'xval(str)',
      avp_rm: 'int(str)',
      avp_is_null: 'int(str)',
      xavp_seti: 'int(str,int)',
      xavp_sets: 'int(str,str)',
      xavp_get: 'xval(str)',
      xavp_gete: 'xval(str)',
      xavp_getw: 'xval(str)',
      xavp_rm: 'int(str)',
      xavp_is_null: 'int(str)',
      xavp_child_seti: 'int(str,str,int)',
      xavp_child_sets: 'int(str,str,str)',
      xavp_child_get: 'xval(str,str)',
      xavp_child_gete: 'xval(str,str)',
      xavp_child_getw: 'xval(str,str)',
      xavp_child_rm: 'int(str,str)',
      xavp_child_is_null: 'int(str,str)',
      xavp_params_explode: 'int(str,str)',
      xavp_xparams_explode: 'int(str,str,str)',
      xavp_params_implode: 'int(str,str)',
      xavp_params_implode_qval: 'int(str,str)',
      xavp_slist_explode: 'int(str,str,str,str)',
      xavp_lshift: 'int(str,int)',
      xavp_copy: 'int(str,int,str)',
      xavp_copy_dst: 'int(str,int,str,int)',
      xavp_push_dst: 'int(str)',
      pv_var_to_xavp: 'int(str,str)',
      pv_xavp_to_var: 'int(str)',
      pv_xavp_print: 'int()',
      sbranch_set_ruri: 'int()',
      sbranch_append: 'int()',
      sbranch_reset: 'int()',
      evalx: 'int(str,str)',
    });
  });
});
