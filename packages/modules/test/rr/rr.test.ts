import { describe, expect, it } from 'vitest';
import { MessageState, createPvRegistry, type RouteContext, type SipRequest } from '@ksr/core';
import { rrModule, type RrApi } from '../../src/rr/index.js';
import { context, instantiate, invite, moduleContext, sentHeaders, services, type Fn } from '../registrar/support.js';

async function setup(params: Record<string, string | number> = {}) {
  const pv = createPvRegistry();
  const { instance, fn } = await instantiate(rrModule, moduleContext('rr', params, { pv }));
  const svc = services();
  const ctx = (lines: string[], o: Parameters<typeof context>[1] = {}) => context(lines, { services: svc, ...o });
  return { fn, ctx, pv, api: instance.api as RrApi, instance };
}

const rrOf = (ctx: RouteContext) => sentHeaders(ctx).filter((l) => /^Record-Route:/i.test(l));
const routeOf = (ctx: RouteContext) => sentHeaders(ctx).filter((l) => /^Route:/i.test(l));
const ruriOf = (ctx: RouteContext) => (ctx.msg as SipRequest).newRequestUri ?? (ctx.msg as SipRequest).uri;

describe('rr record_route', () => {
  it('adds one Record-Route with our address, lr and the From tag, before everything else', async () => {
    const { fn, ctx } = await setup();
    const c = ctx(invite('sip:bob@192.0.2.50', ['Record-Route: <sip:upstream.test;lr>']));
    expect(fn('record_route')(c)).toBe(1);
    const lines = sentHeaders(c);
    expect(lines[1]).toBe('Record-Route: <sip:127.0.0.1:5060;lr;ftag=a1>');
    expect(rrOf(c)).toEqual(['Record-Route: <sip:127.0.0.1:5060;lr;ftag=a1>', 'Record-Route: <sip:upstream.test;lr>']);
  });

  it('enable_full_lr writes lr=on; append_fromtag 0 leaves ftag out', async () => {
    const { fn, ctx } = await setup({ enable_full_lr: 1, append_fromtag: 0 });
    const c = ctx(invite('sip:bob@192.0.2.50'));
    fn('record_route')(c);
    expect(rrOf(c)).toEqual(['Record-Route: <sip:127.0.0.1:5060;lr=on>']);
  });

  it('double Record-Route when the request leaves over another protocol (transport on the TCP one)', async () => {
    const { fn, ctx } = await setup();
    const c = ctx(invite('sip:bob@192.0.2.50;transport=tcp'));
    expect(fn('record_route')(c)).toBe(1);
    expect(rrOf(c)).toEqual([
      'Record-Route: <sip:127.0.0.1:5060;transport=tcp;r2=on;lr;ftag=a1>',
      'Record-Route: <sip:127.0.0.1:5060;r2=on;lr;ftag=a1>',
    ]);
    // received over TCP, sent over UDP: the UDP side (outbound) first
    const t = ctx(invite('sip:bob@192.0.2.50'), { info: { proto: 'tcp', socketId: 1 } });
    fn('record_route')(t);
    expect(rrOf(t)).toEqual(['Record-Route: <sip:127.0.0.1:5060;r2=on;lr;ftag=a1>', 'Record-Route: <sip:127.0.0.1:5060;transport=tcp;r2=on;lr;ftag=a1>']);
  });

  it('double Record-Route when the send socket is another address; $du decides the protocol', async () => {
    const { fn, ctx } = await setup();
    const st = new MessageState();
    st.sendSocketId = 2;
    const c = ctx(invite('sip:bob@192.0.2.50'), { state: st });
    fn('record_route')(c);
    expect(rrOf(c)).toEqual(['Record-Route: <sip:10.0.0.1:5060;r2=on;lr;ftag=a1>', 'Record-Route: <sip:127.0.0.1:5060;r2=on;lr;ftag=a1>']);
    const st2 = new MessageState();
    st2.dstUri = 'sip:192.0.2.99;transport=tcp';
    const d = ctx(invite('sip:bob@192.0.2.50'), { state: st2 });
    fn('record_route')(d);
    expect(rrOf(d)).toHaveLength(2);
  });

  it('enable_double_rr 0: one entry for the outgoing side; 2: always two with explicit transports', async () => {
    const off = await setup({ enable_double_rr: 0 });
    const c = off.ctx(invite('sip:bob@192.0.2.50;transport=tcp'));
    off.fn('record_route')(c);
    expect(rrOf(c)).toEqual(['Record-Route: <sip:127.0.0.1:5060;transport=tcp;lr;ftag=a1>']);
    const always = await setup({ enable_double_rr: 2 });
    const d = always.ctx(invite('sip:bob@192.0.2.50'));
    always.fn('record_route')(d);
    expect(rrOf(d)).toEqual([
      'Record-Route: <sip:127.0.0.1:5060;transport=udp;r2=on;lr;ftag=a1>',
      'Record-Route: <sip:127.0.0.1:5060;transport=udp;r2=on;lr;ftag=a1>',
    ]);
  });

  it('a second record_route is refused until remove_record_route (allowed again in a branch route)', async () => {
    const { fn, ctx } = await setup();
    const c = ctx(invite('sip:bob@192.0.2.50'));
    expect(fn('record_route')(c)).toBe(1);
    expect(fn('record_route')(c)).toBe(-1);
    expect(fn('record_route_preset')(c, '1.2.3.4', '')).toBe(-1);
    expect(fn('remove_record_route')(c)).toBe(1);
    expect(rrOf(c)).toEqual([]);
    expect(fn('record_route')(c)).toBe(1);
    expect(rrOf(c)).toHaveLength(1);
    const b = ctx(invite('sip:bob@192.0.2.50'), { routeType: 'branch' });
    expect(fn('record_route')(b)).toBe(1);
    expect(fn('record_route')(b)).toBe(1);
    expect(rrOf(b)).toHaveLength(1);
  });

  it('record_route_params and add_rr_param (before or after) add URI parameters; bad ones → -1', async () => {
    const { fn, ctx } = await setup();
    const c = ctx(invite('sip:bob@192.0.2.50'));
    expect(fn('add_rr_param')(c, ';nat=yes')).toBe(1);
    expect(fn('record_route_params')(c, ';p1=v1')).toBe(1);
    expect(fn('add_rr_param')(c, 'x=1')).toBe(1); // the leading ';' may be left out
    expect(rrOf(c)).toEqual(['Record-Route: <sip:127.0.0.1:5060;lr;ftag=a1;p1=v1;nat=yes;x=1>']);
    expect(fn('add_rr_param')(c, ';bad param')).toBe(-1);
    expect(fn('add_rr_param')(c, '')).toBe(-1);
    expect(fn('add_rr_param')(c, ';a\r\nX: y')).toBe(-1);
    expect(fn('record_route_params')(ctx(invite('sip:bob@192.0.2.50')), ';<no>')).toBe(-1);
    // double RR: the parameter goes into both
    const d = ctx(invite('sip:bob@192.0.2.50;transport=tcp'));
    fn('record_route')(d);
    fn('add_rr_param')(d, ';k=v');
    expect(rrOf(d).every((l) => l.endsWith(';k=v>'))).toBe(true);
  });

  it('re-rendering finds our entry by value when the script inserted another Record-Route since', async () => {
    const { fn, ctx } = await setup();
    const c = ctx(invite('sip:bob@192.0.2.50'));
    fn('record_route')(c);
    (c.msg as SipRequest).insertHeader('Record-Route', '<sip:script.test;lr>');
    fn('add_rr_param')(c, ';late=1');
    expect(rrOf(c)).toEqual(['Record-Route: <sip:127.0.0.1:5060;lr;ftag=a1;late=1>', 'Record-Route: <sip:script.test;lr>']);
    fn('remove_record_route')(c);
    expect(rrOf(c)).toEqual(['Record-Route: <sip:script.test;lr>']);
  });

  it('add_username puts the R-URI user (or custom_user_avp) in the URI', async () => {
    const { fn, ctx } = await setup({ add_username: 1 });
    const c = ctx(invite('sip:bob@192.0.2.50'));
    fn('record_route')(c);
    expect(rrOf(c)).toEqual(['Record-Route: <sip:bob@127.0.0.1:5060;lr;ftag=a1>']);
    const cu = await setup({ add_username: 1, custom_user_avp: '$avp(rruser)' });
    const st = new MessageState();
    st.avps.set('rruser', ['mo']);
    const d = cu.ctx(invite('sip:bob@192.0.2.50'), { state: st });
    cu.fn('record_route')(d);
    expect(rrOf(d)).toEqual(['Record-Route: <sip:mo@127.0.0.1:5060;lr;ftag=a1>']);
    await expect(Promise.resolve().then(() => rrModule.create(moduleContext('rr', { custom_user_avp: '$nonsense(' })))).rejects.toThrow(/custom_user_avp/);
  });

  it('sips R-URI → sips Record-Route unless ignore_sips; advertised address/port of the message', async () => {
    const { fn, ctx } = await setup({ enable_double_rr: 0 });
    const c = ctx(invite('sips:bob@192.0.2.50'));
    fn('record_route')(c);
    expect(rrOf(c)[0]).toMatch(/^Record-Route: <sips:/);
    const ig = await setup({ ignore_sips: 1, enable_double_rr: 0 });
    const d = ig.ctx(invite('sips:bob@192.0.2.50'));
    ig.fn('record_route')(d);
    expect(rrOf(d)[0]).toMatch(/^Record-Route: <sip:/);
    const st = new MessageState();
    st.advertisedAddress = '203.0.113.1';
    st.advertisedPort = '5080';
    const e = ctx(invite('sip:bob@192.0.2.50'), { state: st });
    fn('record_route')(e);
    expect(rrOf(e)).toEqual(['Record-Route: <sip:203.0.113.1:5080;lr;ftag=a1>']);
  });

  it('refresh (API) renders it again for the destination chosen after record_route()', async () => {
    const { fn, ctx, api } = await setup();
    const c = ctx(invite('sip:bob@ksr.test'));
    fn('record_route')(c);
    expect(rrOf(c)).toHaveLength(1);
    (c.msg as SipRequest).setRequestUri('sip:bob@192.0.2.50;transport=tcp'); // e.g. lookup()
    api.refresh(c);
    expect(rrOf(c)).toHaveLength(2);
  });

  it('record_route_preset / record_route_preset_one / record_route_advertised_address', async () => {
    const { fn, ctx } = await setup();
    const c = ctx(invite('sip:bob@192.0.2.50'));
    expect(fn('record_route_preset')(c, '1.2.3.4:5090', '')).toBe(1);
    expect(rrOf(c)).toEqual(['Record-Route: <sip:1.2.3.4:5090;lr;ftag=a1>']);
    const d = ctx(invite('sip:bob@192.0.2.50'));
    expect(fn('record_route_preset')(d, '1.2.3.4:5090;r2=on', '5.6.7.8;r2=on')).toBe(1);
    fn('add_rr_param')(d, ';z=1');
    expect(rrOf(d)).toEqual(['Record-Route: <sip:1.2.3.4:5090;r2=on;lr;ftag=a1;z=1>', 'Record-Route: <sip:5.6.7.8;r2=on;lr;ftag=a1;z=1>']);
    const e = ctx(invite('sip:bob@192.0.2.50'));
    expect(fn('record_route_preset_one')(e, 'proxy.test')).toBe(1);
    expect(rrOf(e)).toEqual(['Record-Route: <sip:proxy.test;lr;ftag=a1>']);
    for (const bad of ['sip:1.2.3.4', '', 'a b', 'u@h', '<x>']) expect(fn('record_route_preset_one')(ctx(invite('sip:bob@192.0.2.50')), bad)).toBe(-1);
    const f = ctx(invite('sip:bob@192.0.2.50'));
    expect(fn('record_route_advertised_address')(f, '198.51.100.1:5080')).toBe(1);
    expect(rrOf(f)).toEqual(['Record-Route: <sip:198.51.100.1:5080;lr;ftag=a1>']);
    const g = ctx(invite('sip:bob@192.0.2.50;transport=tcp'));
    expect(fn('record_route_advertised_address')(g, '198.51.100.1')).toBe(1);
    expect(rrOf(g)).toEqual(['Record-Route: <sip:198.51.100.1;transport=tcp;r2=on;lr;ftag=a1>', 'Record-Route: <sip:198.51.100.1;r2=on;lr;ftag=a1>']);
    expect(fn('record_route_advertised_address')(ctx(invite('sip:bob@192.0.2.50')), 'x;y=1')).toBe(-1);
    const off = await setup({ enable_double_rr: 0 });
    expect(off.fn('record_route_preset')(off.ctx(invite('sip:bob@192.0.2.50')), '1.2.3.4', '5.6.7.8')).toBe(-1);
  });

  it('all of them refuse a reply', async () => {
    const { fn, ctx } = await setup();
    const res = ctx(['SIP/2.0 200 OK', 'Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-1', 'From: <sip:a@ksr.test>;tag=1', 'To: <sip:b@ksr.test>;tag=2', 'Call-ID: r1', 'CSeq: 1 INVITE'], {
      routeType: 'reply',
    });
    for (const [name, args] of [
      ['record_route', []],
      ['record_route_params', [';a=1']],
      ['record_route_preset', ['1.2.3.4', '']],
      ['record_route_preset_one', ['1.2.3.4']],
      ['record_route_advertised_address', ['1.2.3.4']],
      ['add_rr_param', [';a=1']],
      ['remove_record_route', []],
      ['loose_route', []],
      ['loose_route_mode', [0]],
      ['loose_route_preloaded', []],
      ['check_route_param', ['a']],
      ['is_direction', ['downstream']],
      ['next_hop_route', []],
    ] as Array<[string, unknown[]]>) {
      expect((fn(name) as Fn)(res, ...args), name).toBe(-1);
    }
  });
});

describe('rr loose_route', () => {
  const ours = '<sip:127.0.0.1:5060;lr;ftag=a1;nat=yes>';

  it('-1 without Route headers', async () => {
    const { fn, ctx } = await setup();
    expect(fn('loose_route')(ctx(invite('sip:bob@192.0.2.50', [], { toTag: 'b1' })))).toBe(-1);
  });

  it('in-dialog: removes our entry, the next Route becomes $du (1); next_hop_route, check_route_param', async () => {
    const { fn, ctx } = await setup();
    const c = ctx(invite('sip:bob@192.0.2.50', [`Route: ${ours}, <sip:10.9.9.9;lr>`], { toTag: 'b1' }));
    expect(fn('next_hop_route')(c)).toBe(-1);
    expect(fn('loose_route')(c)).toBe(1);
    expect(c.state.dstUri).toBe('sip:10.9.9.9;lr');
    expect(routeOf(c)).toEqual(['Route: <sip:10.9.9.9;lr>']);
    expect(ruriOf(c)).toBe('sip:bob@192.0.2.50');
    expect(fn('next_hop_route')(c)).toBe(1);
    expect(fn('check_route_param')(c, 'nat=yes')).toBe(1);
    expect(fn('check_route_param')(c, '^;lr;ftag=a1')).toBe(1);
    expect(fn('check_route_param')(c, 'nat=no')).toBe(-1);
    expect(fn('check_route_param')(c, '([')).toBe(-1);
  });

  it('in-dialog with only our entry: removed, the R-URI is the next hop (1)', async () => {
    const { fn, ctx } = await setup();
    const c = ctx(invite('sip:bob@192.0.2.50', [`Route: ${ours}`], { toTag: 'b1' }));
    expect(fn('loose_route')(c)).toBe(1);
    expect(c.state.dstUri).toBeUndefined();
    expect(routeOf(c)).toEqual([]);
    expect(fn('next_hop_route')(c)).toBe(-1);
  });

  it('initial request with only our entry: removed, -3 (loose_route_preloaded → 1)', async () => {
    const { fn, ctx } = await setup();
    const c = ctx(invite('sip:bob@192.0.2.50', [`Route: ${ours}`]));
    expect(fn('loose_route')(c)).toBe(-3);
    expect(routeOf(c)).toEqual([]);
    expect(fn('loose_route_preloaded')(ctx(invite('sip:bob@192.0.2.50', [`Route: ${ours}`])))).toBe(1);
    expect(fn('loose_route_preloaded')(ctx(invite('sip:bob@192.0.2.50', [`Route: ${ours}`], { toTag: 'b1' })))).toBe(-1);
  });

  it('preloaded foreign route: the first Route is the next hop, kept in the message (1)', async () => {
    const { fn, ctx } = await setup();
    const c = ctx(invite('sip:bob@192.0.2.50', ['Route: <sip:proxy2.test;lr>']));
    expect(fn('loose_route')(c)).toBe(1);
    expect(c.state.dstUri).toBe('sip:proxy2.test;lr');
    expect(routeOf(c)).toEqual(['Route: <sip:proxy2.test;lr>']);
    expect(fn('next_hop_route')(c)).toBe(-1);
    expect(fn('check_route_param')(c, 'lr')).toBe(-1); // not our entry
    const d = ctx(invite('sip:bob@192.0.2.50', [`Route: ${ours}`, 'Route: <sip:proxy2.test;lr>']));
    expect(fn('loose_route')(d)).toBe(1);
    expect(d.state.dstUri).toBe('sip:proxy2.test;lr');
    expect(routeOf(d)).toEqual(['Route: <sip:proxy2.test;lr>']);
  });

  it('previous hop a strict router (R-URI is ours): the last Route becomes the R-URI', async () => {
    const { fn, ctx } = await setup();
    const c = ctx(invite('sip:127.0.0.1:5060;ftag=a1;nat=yes', ['Route: <sip:10.9.9.9;lr>, <sip:bob@192.0.2.50:5070>'], { toTag: 'b1' }));
    expect(fn('loose_route')(c)).toBe(1);
    expect(ruriOf(c)).toBe('sip:bob@192.0.2.50:5070');
    expect(c.state.dstUri).toBe('sip:10.9.9.9;lr');
    expect(routeOf(c)).toEqual(['Route: <sip:10.9.9.9;lr>']);
    expect(fn('check_route_param')(c, 'nat=yes')).toBe(1);
    // only the remote target in the route set
    const d = ctx(invite('sip:127.0.0.1:5060', ['Route: <sip:bob@192.0.2.50:5070>'], { toTag: 'b1' }));
    expect(fn('loose_route')(d)).toBe(1);
    expect(ruriOf(d)).toBe('sip:bob@192.0.2.50:5070');
    expect(d.state.dstUri).toBeUndefined();
    expect(routeOf(d)).toEqual([]);
    // loose_route_mode(1) / modparam loose_route_mode 1: no strict-router check
    const e = ctx(invite('sip:127.0.0.1:5060', ['Route: <sip:10.9.9.9;lr>'], { toTag: 'b1' }));
    expect(fn('loose_route_mode')(e, 1)).toBe(1);
    expect(ruriOf(e)).toBe('sip:127.0.0.1:5060');
    expect(e.state.dstUri).toBe('sip:10.9.9.9;lr');
    const m = await setup({ loose_route_mode: 1 });
    const f = m.ctx(invite('sip:127.0.0.1:5060', ['Route: <sip:10.9.9.9;lr>'], { toTag: 'b1' }));
    expect(m.fn('loose_route')(f)).toBe(1);
    expect(ruriOf(f)).toBe('sip:127.0.0.1:5060');
  });

  it('next hop a strict router: it becomes the R-URI, the R-URI goes to the end of the route set', async () => {
    const { fn, ctx } = await setup();
    const c = ctx(invite('sip:bob@192.0.2.50', [`Route: ${ours}`, 'Route: <sip:10.9.9.9>, <sip:10.8.8.8;lr>'], { toTag: 'b1' }));
    expect(fn('loose_route')(c)).toBe(1);
    expect(ruriOf(c)).toBe('sip:10.9.9.9');
    expect(c.state.dstUri).toBeUndefined();
    expect(routeOf(c)).toEqual(['Route: <sip:10.8.8.8;lr>, <sip:bob@192.0.2.50>']);
  });

  it('double Record-Route entries: both removed, the send socket follows the second', async () => {
    const { fn, ctx } = await setup();
    const c = ctx(
      invite('sip:bob@192.0.2.50', ['Route: <sip:127.0.0.1:5060;transport=tcp;r2=on;lr;ftag=a1>, <sip:127.0.0.1:5060;r2=on;lr;ftag=a1>, <sip:10.9.9.9;lr>'], { toTag: 'b1' }),
      { info: { proto: 'tcp', socketId: 1 } },
    );
    expect(fn('loose_route')(c)).toBe(1);
    expect(routeOf(c)).toEqual(['Route: <sip:10.9.9.9;lr>']);
    expect(c.state.sendSocketId).toBe(0);
    expect(c.state.dstUri).toBe('sip:10.9.9.9;lr');
  });

  it('force_send_socket: our single entry forces its socket; maddr is the destination host', async () => {
    const { fn, ctx } = await setup({ force_send_socket: 1 });
    const c = ctx(invite('sip:bob@192.0.2.50', ['Route: <sip:10.0.0.1:5060;lr>, <sip:proxy.test;lr;maddr=10.1.1.1>'], { toTag: 'b1' }));
    expect(fn('loose_route')(c)).toBe(1);
    expect(c.state.sendSocketId).toBe(2);
    expect(c.state.dstUri).toBe('sip:10.1.1.1;lr');
  });

  it('is_direction: ftag of our Route vs the From tag; $fti / $tti / $rdir', async () => {
    const { fn, ctx, pv } = await setup();
    const get = (c: RouteContext, name: string) => {
      const a = pv.lookup(name);
      if (a instanceof Error) throw a;
      return a.get(c);
    };
    const down = ctx(invite('sip:bob@192.0.2.50', [`Route: ${ours}`], { toTag: 'b1' }));
    fn('loose_route')(down);
    expect(fn('is_direction')(down, 'downstream')).toBe(1);
    expect(fn('is_direction')(down, 'upstream')).toBe(-1);
    expect(get(down, '$fti')).toBe('a1');
    expect(get(down, '$tti')).toBe('b1');
    expect(get(down, '$rdir(name)')).toBe('downstream');
    expect(get(down, '$rdir')).toBe(1);

    // the callee sends a BYE: From tag b1, To tag a1, Route ftag=a1
    const upLines = [
      'BYE sip:alice@192.0.2.10:5070 SIP/2.0',
      'Via: SIP/2.0/UDP 192.0.2.50:5060;branch=z9hG4bK-up1',
      'From: <sip:bob@ksr.test>;tag=b1',
      'To: <sip:alice@atlanta.test>;tag=a1',
      'Call-ID: up-1',
      'CSeq: 1 BYE',
      `Route: ${ours}`,
    ];
    const up = ctx(upLines);
    // before loose_route: the first Route (ours) is used
    expect(fn('is_direction')(up, 'upstream')).toBe(1);
    fn('loose_route')(up);
    expect(fn('is_direction')(up, 'upstream')).toBe(1);
    expect(fn('is_direction')(up, 'DOWNSTREAM')).toBe(-1);
    expect(get(up, '$fti')).toBe('a1');
    expect(get(up, '$tti')).toBe('b1');
    expect(get(up, '$rdir(name)')).toBe('upstream');
    expect(get(up, '$rdir(id)')).toBe(2);
    expect(pv.lookup('$rdir(x)')).toBeInstanceOf(Error);
    // record_route() for an upstream request puts the initial From tag (the To tag here)
    const up2 = ctx(upLines);
    fn('loose_route')(up2);
    fn('record_route')(up2);
    expect(rrOf(up2)[0]).toContain(';ftag=a1');

    // no ftag → downstream; bad direction → -1
    const noTag = ctx(invite('sip:bob@192.0.2.50', ['Route: <sip:127.0.0.1:5060;lr>'], { toTag: 'b1' }));
    fn('loose_route')(noTag);
    expect(fn('is_direction')(noTag, 'downstream')).toBe(1);
    expect(fn('is_direction')(noTag, 'sideways')).toBe(-1);
    const off = await setup({ append_fromtag: 0 });
    expect(off.fn('is_direction')(off.ctx(invite('sip:bob@192.0.2.50', [`Route: ${ours}`], { toTag: 'b1' })), 'downstream')).toBe(-1);
  });

  it('getRouteParam (API) reads a parameter of our Route entry', async () => {
    const { fn, ctx, api } = await setup();
    const c = ctx(invite('sip:bob@192.0.2.50', [`Route: ${ours}`], { toTag: 'b1' }));
    fn('loose_route')(c);
    expect(api.getRouteParam(c, 'nat')).toBe('yes');
    expect(api.getRouteParam(c, 'lr')).toBe('');
    expect(api.getRouteParam(c, 'none')).toBeUndefined();
  });

  it('exports Kamailio\'s KEMI names and types', async () => {
    const { instance } = await setup();
    const sig = Object.fromEntries((instance.exports ?? []).map((e) => [e.name, `${e.returns}(${e.params.join(',')})`]));
    expect(sig).toEqual({
      record_route: 'int()',
      record_route_params: 'int(str)',
      loose_route: 'int()',
      loose_route_preloaded: 'int()',
      loose_route_mode: 'int(int)',
      remove_record_route: 'int()',
      add_rr_param: 'int(str)',
      check_route_param: 'int(str)',
      is_direction: 'int(str)',
      record_route_preset_one: 'int(str)',
      record_route_preset: 'int(str,str)',
      record_route_advertised_address: 'int(str)',
      next_hop_route: 'int()',
    });
    expect(rrModule.params.enable_double_rr!.check!(3)).toBeDefined();
  });
});
