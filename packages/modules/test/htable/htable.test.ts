import { PvNameError, createPvRegistry, type PvRegistry, type RouteContext } from '@ksr/core';
import { beforeEach, describe, expect, it } from 'vitest';
import { makeContext, testServices } from '../../../core/test/support/context.js';
import { HT_NOINTVAL, htableModule, parseHtableSpec, type HtableApi } from '../../src/htable/index.js';
import { FakeClock, instantiate, moduleContext, recordingLogger } from './support.js';

const TABLES = ['ipban=>size=8;autoexpire=300;', 'a=>size=4;', 'cnt=>initval=0;autoexpire=60;updateexpire=1', 'sticky=>autoexpire=60;updateexpire=0;'];

async function setup(params: Record<string, string | number | Array<string | number>> = { htable: TABLES }) {
  const clock = new FakeClock();
  const pv = createPvRegistry();
  const log = recordingLogger();
  const mctx = moduleContext('htable', params, { clock, pv, logger: log.logger });
  const { instance, fn } = await instantiate(htableModule, mctx);
  const services = testServices({ logger: log.logger });
  const ctx = makeContext(undefined, { services });
  return { clock, pv, instance, fn, api: instance.api as HtableApi, ctx, log };
}

function pvGet(pv: PvRegistry, ctx: RouteContext, name: string) {
  const a = pv.lookup(name);
  if (a instanceof PvNameError) throw a;
  return a.get(ctx);
}
function pvSet(pv: PvRegistry, ctx: RouteContext, name: string, v: string | number | null) {
  const a = pv.lookup(name);
  if (a instanceof PvNameError) throw a;
  return a.set!(ctx, v);
}

describe('htable definitions (modparam htable)', () => {
  it('parses Kamailio attributes', () => {
    expect(parseHtableSpec('ipban=>size=8;autoexpire=300;')).toMatchObject({ name: 'ipban', size: 8, autoexpire: 300, initval: undefined, updateexpire: true });
    expect(parseHtableSpec('c=>size=4;autoexpire=7200;initval=1;dmqreplicate=1;')).toMatchObject({ initval: 1, dmqreplicate: true });
    expect(parseHtableSpec(' t => initval=-5 ; updateexpire=0 ')).toMatchObject({ name: 't', initval: -5, updateexpire: false });
    expect(parseHtableSpec('d=>dbtable=htable_a;cols="key_name,key_value";dbmode=1;coldelim=,;colnull=;reloadat=60')).toMatchObject({ dbtable: 'htable_a', dbmode: 1 });
    expect(parseHtableSpec('e=>')).toMatchObject({ name: 'e', autoexpire: 0 });
  });

  it('rejects bad definitions', () => {
    expect(() => parseHtableSpec('noarrow')).toThrow(/expected/);
    expect(() => parseHtableSpec('=>size=4')).toThrow(/bad table name/);
    expect(() => parseHtableSpec('a b=>size=4')).toThrow(/bad table name/);
    expect(() => parseHtableSpec('a=>size=x')).toThrow(/size must be/);
    expect(() => parseHtableSpec('a=>autoexpire=-1')).toThrow(/autoexpire/);
    expect(() => parseHtableSpec('a=>initval=abc')).toThrow(/initval/);
    expect(() => parseHtableSpec('a=>bogus=1')).toThrow(/unknown attribute "bogus"/);
    expect(() => parseHtableSpec('a=>coldelim=ab')).toThrow(/one character/);
  });

  it('reports bad definitions through the modparam check, and duplicates at create', async () => {
    expect(htableModule.params.htable!.check!('a=>bogus=1')).toMatch(/unknown attribute/);
    expect(htableModule.params.htable!.check!('a=>size=4')).toBeUndefined();
    expect(htableModule.params.timer_interval!.check!(0)).toMatch(/greater than 0/);
    await expect(setup({ htable: ['a=>', 'a=>size=2'] })).rejects.toThrow(/defined twice/);
  });

  it('warns about database and DMQ attributes it ignores', async () => {
    const { log } = await setup({ htable: ['d=>dbtable=x;dmqreplicate=1'], db_url: 'mysql://x', enable_dmq: 1 });
    const msgs = log.lines.map((l) => l.msg).join('\n');
    expect(msgs).toMatch(/dbtable=x is ignored/);
    expect(msgs).toMatch(/dmqreplicate is ignored/);
    expect(msgs).toMatch(/modparam db_url/);
  });

  it('runs no startup event without event_callback, htable:mod-init with it', async () => {
    expect((await setup()).instance.startupEvents).toEqual([]);
    const { instance, api } = await setup({ htable: TABLES, event_callback: 'ksr_htable_event', event_callback_mode: 1 });
    expect(instance.startupEvents).toEqual([{ event: 'htable:mod-init', callback: 'ksr_htable_event' }]);
    expect(api.events).toEqual([{ name: 'htable:mod-init', callback: 'ksr_htable_event' }]);
  });
});

describe('KSR.htable exports', () => {
  let t: Awaited<ReturnType<typeof setup>>;
  beforeEach(async () => {
    t = await setup();
  });

  it('sets and gets strings and integers, with the three null modes', () => {
    const { fn, ctx } = t;
    expect(fn('sht_sets')(ctx, 'a', 'k1', 'v1')).toBe(1);
    expect(fn('sht_seti')(ctx, 'a', 'k2', 42)).toBe(1);
    expect(fn('sht_get')(ctx, 'a', 'k1')).toBe('v1');
    expect(fn('sht_get')(ctx, 'a', 'k2')).toBe(42);
    expect(fn('sht_get')(ctx, 'a', 'nope')).toBeNull();
    expect(fn('sht_gete')(ctx, 'a', 'nope')).toBe('');
    expect(fn('sht_getw')(ctx, 'a', 'nope')).toBe('<<null>>');
    // initval
    expect(fn('sht_get')(ctx, 'cnt', 'nope')).toBe(0);
    // overwrite changes the type
    fn('sht_seti')(ctx, 'a', 'k1', 7);
    expect(fn('sht_get')(ctx, 'a', 'k1')).toBe(7);
  });

  it('fails on an unknown table (and logs it)', () => {
    const { fn, ctx, log } = t;
    expect(fn('sht_sets')(ctx, 'zz', 'k', 'v')).toBe(-1);
    expect(fn('sht_seti')(ctx, 'zz', 'k', 1)).toBe(-1);
    expect(fn('sht_setxs')(ctx, 'zz', 'k', 'v', 5)).toBe(-1);
    expect(fn('sht_setxi')(ctx, 'zz', 'k', 1, 5)).toBe(-1);
    expect(fn('sht_setex')(ctx, 'zz', 'k', 5)).toBe(-1);
    expect(fn('sht_get')(ctx, 'zz', 'k')).toBeNull();
    expect(fn('sht_rm')(ctx, 'zz', 'k')).toBe(-1);
    expect(fn('sht_rm_name_re')(ctx, 'zz', '.*')).toBe(-1);
    expect(fn('sht_rm_value_re')(ctx, 'zz', '.*')).toBe(-1);
    expect(fn('sht_rm_name')(ctx, 'zz', 're', '.*')).toBe(-1);
    expect(fn('sht_rm_value')(ctx, 'zz', 're', '.*')).toBe(-1);
    expect(fn('sht_is_null')(ctx, 'zz', 'k')).toBe(2);
    expect(fn('sht_inc')(ctx, 'zz', 'k')).toBe(HT_NOINTVAL);
    expect(fn('sht_dec')(ctx, 'zz', 'k')).toBe(HT_NOINTVAL);
    expect(fn('sht_match_name')(ctx, 'zz', 'eq', 'k')).toBe(-1);
    expect(fn('sht_match_str_value')(ctx, 'zz', 'eq', 'k')).toBe(-1);
    expect(fn('sht_reset')(ctx, 'zz')).toBe(-1);
    expect(fn('sht_lock')(ctx, 'zz', 'k')).toBe(-1);
    expect(fn('sht_unlock')(ctx, 'zz', 'k')).toBe(-1);
    expect(fn('sht_iterator_start')(ctx, 'i1', 'zz')).toBe(-1);
    expect(log.lines.some((l) => /no such htable "zz"/.test(l.msg))).toBe(true);
  });

  it('declares Kamailio parameter types', () => {
    const types = Object.fromEntries((t.instance.exports ?? []).map((e) => [e.name, `${e.returns}(${e.params.join(',')})`]));
    expect(types).toMatchObject({
      sht_get: 'xval(str,str)',
      sht_gete: 'xval(str,str)',
      sht_getw: 'xval(str,str)',
      sht_sets: 'int(str,str,str)',
      sht_seti: 'int(str,str,int)',
      sht_setex: 'int(str,str,int)',
      sht_setxs: 'int(str,str,str,int)',
      sht_setxi: 'int(str,str,int,int)',
      sht_rm: 'int(str,str)',
      sht_rm_name_re: 'int(str,str)',
      sht_rm_value_re: 'int(str,str)',
      sht_rm_name: 'int(str,str,str)',
      sht_rm_value: 'int(str,str,str)',
      sht_is_null: 'int(str,str)',
      sht_inc: 'int(str,str)',
      sht_dec: 'int(str,str)',
      sht_match_name: 'int(str,str,str)',
      sht_match_str_value: 'int(str,str,str)',
      sht_has_name: 'int(str,str,str)',
      sht_has_str_value: 'int(str,str,str)',
      sht_reset: 'int(str)',
      sht_lock: 'int(str,str)',
      sht_unlock: 'int(str,str)',
      sht_iterator_start: 'int(str,str)',
      sht_iterator_next: 'int(str)',
      sht_iterator_end: 'int(str)',
      sht_iterator_rm: 'int(str)',
      sht_iterator_sets: 'int(str,str)',
      sht_iterator_seti: 'int(str,int)',
      sht_iterator_setex: 'int(str,int)',
    });
  });

  it('sht_rm and sht_is_null', () => {
    const { fn, ctx } = t;
    fn('sht_sets')(ctx, 'a', 'k', 'v');
    expect(fn('sht_is_null')(ctx, 'a', 'k')).toBe(-1);
    expect(fn('sht_rm')(ctx, 'a', 'k')).toBe(1);
    expect(fn('sht_is_null')(ctx, 'a', 'k')).toBe(1);
    expect(fn('sht_rm')(ctx, 'a', 'k')).toBe(1); // absent: still fine
  });

  it('sht_inc / sht_dec: integers, initval, strings and missing items', () => {
    const { fn, ctx } = t;
    expect(fn('sht_inc')(ctx, 'cnt', 'x')).toBe(1);
    expect(fn('sht_inc')(ctx, 'cnt', 'x')).toBe(2);
    expect(fn('sht_dec')(ctx, 'cnt', 'x')).toBe(1);
    expect(fn('sht_inc')(ctx, 'a', 'missing')).toBe(HT_NOINTVAL); // no initval
    fn('sht_seti')(ctx, 'a', 'n', 10);
    expect(fn('sht_dec')(ctx, 'a', 'n')).toBe(9);
    fn('sht_sets')(ctx, 'a', 's', 'text');
    expect(fn('sht_inc')(ctx, 'a', 's')).toBe(HT_NOINTVAL);
  });

  it('sht_rm_name_re / sht_rm_value_re (case-insensitive), and bad regexps', () => {
    const { fn, ctx } = t;
    for (const [k, v] of [
      ['alice', 'ONE'],
      ['Alicia', 'two'],
      ['bob', 'one'],
    ]) fn('sht_sets')(ctx, 'a', k, v);
    fn('sht_seti')(ctx, 'a', 'num', 1);
    expect(fn('sht_rm_name_re')(ctx, 'a', '^ali')).toBe(1);
    expect(fn('sht_get')(ctx, 'a', 'alice')).toBeNull();
    expect(fn('sht_get')(ctx, 'a', 'Alicia')).toBeNull();
    expect(fn('sht_get')(ctx, 'a', 'bob')).toBe('one');
    expect(fn('sht_rm_value_re')(ctx, 'a', '^ONE$')).toBe(1);
    expect(fn('sht_get')(ctx, 'a', 'bob')).toBeNull();
    expect(fn('sht_get')(ctx, 'a', 'num')).toBe(1); // integers never match a value regexp
    expect(fn('sht_rm_name_re')(ctx, 'a', '(')).toBe(-1);
    expect(fn('sht_rm_name_re')(ctx, 'a', '')).toBe(-1);
  });

  it('sht_rm_name / sht_rm_value with re, sw, ew, in; unknown operators fail', () => {
    const { fn, ctx } = t;
    const fill = () => {
      fn('sht_reset')(ctx, 'a');
      for (const k of ['pre-1', 'pre-2', 'x-post', 'mid-in-dle']) fn('sht_sets')(ctx, 'a', k, `val-${k}`);
    };
    const keys = () => t.api.dump('a')!.map((i) => i.name).sort();
    fill();
    expect(fn('sht_rm_name')(ctx, 'a', 'sw', 'pre-')).toBe(1);
    expect(keys()).toEqual(['mid-in-dle', 'x-post']);
    fill();
    expect(fn('sht_rm_name')(ctx, 'a', 'ew', 'post')).toBe(1);
    expect(keys()).toEqual(['mid-in-dle', 'pre-1', 'pre-2']);
    fill();
    expect(fn('sht_rm_name')(ctx, 'a', 'in', '-in-')).toBe(1);
    expect(keys()).toEqual(['pre-1', 'pre-2', 'x-post']);
    fill();
    expect(fn('sht_rm_name')(ctx, 'a', 're', '[0-9]$')).toBe(1);
    expect(keys()).toEqual(['mid-in-dle', 'x-post']);
    fill();
    expect(fn('sht_rm_value')(ctx, 'a', 'sw', 'val-pre')).toBe(1);
    expect(keys()).toEqual(['mid-in-dle', 'x-post']);
    expect(fn('sht_rm_name')(ctx, 'a', 'eq', 'x')).toBe(-1);
    expect(fn('sht_rm_value')(ctx, 'a', 'bogus', 'x')).toBe(-1);
    expect(fn('sht_rm_name')(ctx, 'a', 're', '[')).toBe(-1);
    expect(fn('sht_rm_name')(ctx, 'a', 'sw', '')).toBe(-1);
  });

  it('sht_match_name / sht_match_str_value (and the sht_has_* names)', () => {
    const { fn, ctx } = t;
    fn('sht_seti')(ctx, 'ipban', '10.0.0.1', 1);
    fn('sht_sets')(ctx, 'a', 'u', 'alice');
    fn('sht_seti')(ctx, 'a', 'n', 5);
    expect(fn('sht_match_name')(ctx, 'ipban', 'eq', '10.0.0.1')).toBe(1);
    expect(fn('sht_match_name')(ctx, 'ipban', 'eq', '10.0.0.2')).toBe(-1);
    expect(fn('sht_match_name')(ctx, 'ipban', 'ne', '10.0.0.2')).toBe(1);
    expect(fn('sht_match_name')(ctx, 'ipban', 'ne', '10.0.0.1')).toBe(-1);
    expect(fn('sht_match_name')(ctx, 'ipban', 'sw', '10.')).toBe(1);
    expect(fn('sht_match_name')(ctx, 'ipban', 're', '^10\\.0')).toBe(1);
    expect(fn('sht_has_name')(ctx, 'ipban', 'eq', '10.0.0.1')).toBe(1);
    expect(fn('sht_match_str_value')(ctx, 'a', 'eq', 'alice')).toBe(1);
    expect(fn('sht_has_str_value')(ctx, 'a', 'eq', 'ALICE')).toBe(-1);
    expect(fn('sht_has_str_value')(ctx, 'a', 're', 'ALICE')).toBe(1);
    expect(fn('sht_match_str_value')(ctx, 'a', 'eq', '5')).toBe(-1); // integer values are not strings
    expect(fn('sht_match_name')(ctx, 'a', 'ew', 'u')).toBe(-1); // not an operator of match
    expect(fn('sht_match_name')(ctx, 'a', 're', '(')).toBe(-1);
    expect(fn('sht_match_name')(ctx, 'a', 'eq', '')).toBe(-1);
  });

  it('sht_reset, sht_lock and sht_unlock', () => {
    const { fn, ctx, api } = t;
    fn('sht_seti')(ctx, 'a', 'x', 1);
    fn('sht_seti')(ctx, 'a', 'y', 2);
    expect(fn('sht_lock')(ctx, 'a', 'x')).toBe(1);
    expect(fn('sht_unlock')(ctx, 'a', 'x')).toBe(1);
    expect(fn('sht_reset')(ctx, 'a')).toBe(1);
    expect(api.dump('a')).toEqual([]);
  });
});

describe('expiry (fake clock)', () => {
  it('autoexpire removes items after the table lifetime; reads see it at once, the timer frees them', async () => {
    const { fn, ctx, clock, api } = await setup({ htable: TABLES, timer_interval: 10 });
    fn('sht_seti')(ctx, 'ipban', '1.2.3.4', 1);
    clock.advance(299_000);
    expect(fn('sht_get')(ctx, 'ipban', '1.2.3.4')).toBe(1);
    expect(api.item('ipban', '1.2.3.4')?.expires).toBe(1);
    clock.advance(1_000);
    expect(fn('sht_get')(ctx, 'ipban', '1.2.3.4')).toBeNull();
    expect(fn('sht_is_null')(ctx, 'ipban', '1.2.3.4')).toBe(1);
    clock.advance(10_000);
    expect(api.stats().find((s) => s.name === 'ipban')?.items).toBe(0);
  });

  it('updateexpire=1 restarts the lifetime on update, updateexpire=0 keeps it', async () => {
    const { fn, ctx, clock } = await setup();
    fn('sht_seti')(ctx, 'cnt', 'k', 1);
    fn('sht_seti')(ctx, 'sticky', 'k', 1);
    clock.advance(50_000);
    fn('sht_seti')(ctx, 'cnt', 'k', 2);
    fn('sht_seti')(ctx, 'sticky', 'k', 2);
    clock.advance(20_000);
    expect(fn('sht_get')(ctx, 'cnt', 'k')).toBe(2);
    expect(fn('sht_get')(ctx, 'sticky', 'k')).toBeNull();
    // sht_inc restarts it too (cnt has updateexpire)
    clock.advance(30_000);
    expect(fn('sht_inc')(ctx, 'cnt', 'k')).toBe(3);
    clock.advance(59_000);
    expect(fn('sht_get')(ctx, 'cnt', 'k')).toBe(3);
  });

  it('an expired integer item restarts from initval on sht_inc', async () => {
    const { fn, ctx, clock } = await setup();
    fn('sht_seti')(ctx, 'cnt', 'k', 10);
    clock.advance(61_000);
    expect(fn('sht_inc')(ctx, 'cnt', 'k')).toBe(1);
  });

  it('sht_setxs / sht_setxi give an item its own lifetime, also in tables without autoexpire', async () => {
    const { fn, ctx, clock } = await setup();
    expect(fn('sht_setxs')(ctx, 'a', 's', 'v', 5)).toBe(1);
    expect(fn('sht_setxi')(ctx, 'ipban', 'i', 1, 1000)).toBe(1);
    expect(fn('sht_setxi')(ctx, 'ipban', 'j', 1, 0)).toBe(1); // 0: the table's autoexpire
    clock.advance(5_000);
    expect(fn('sht_get')(ctx, 'a', 's')).toBeNull();
    clock.advance(300_000);
    expect(fn('sht_get')(ctx, 'ipban', 'i')).toBe(1);
    expect(fn('sht_get')(ctx, 'ipban', 'j')).toBeNull();
  });

  it('sht_setex changes the lifetime of an existing item; 0 = never', async () => {
    const { fn, ctx, clock } = await setup();
    fn('sht_seti')(ctx, 'ipban', 'x', 1);
    fn('sht_seti')(ctx, 'ipban', 'y', 1);
    expect(fn('sht_setex')(ctx, 'ipban', 'x', 10)).toBe(1);
    expect(fn('sht_setex')(ctx, 'ipban', 'y', 0)).toBe(1);
    expect(fn('sht_setex')(ctx, 'ipban', 'absent', 10)).toBe(1);
    clock.advance(10_000);
    expect(fn('sht_get')(ctx, 'ipban', 'x')).toBeNull();
    clock.advance(1_000_000);
    expect(fn('sht_get')(ctx, 'ipban', 'y')).toBe(1);
  });

  it('tells expiry listeners, with $shtrecord set while they run; destroy stops the timer', async () => {
    const { fn, ctx, clock, api, pv, instance } = await setup();
    fn('sht_sets')(ctx, 'ipban', 'k', 'v');
    const seen: unknown[] = [];
    const off = api.onExpired((table, key, value) => seen.push([table, key, value, pvGet(pv, ctx, '$shtrecord(key)'), pvGet(pv, ctx, '$shtrecord(value)')]));
    clock.advance(320_000);
    expect(seen).toEqual([['ipban', 'k', 'v', 'k', 'v']]);
    expect(pvGet(pv, ctx, '$shtrecord(key)')).toBeNull();
    off();
    fn('sht_sets')(ctx, 'ipban', 'k2', 'v');
    clock.advance(320_000);
    expect(seen).toHaveLength(1);
    expect(clock.activeTimers).toBe(1);
    await instance.destroy?.();
    expect(clock.activeTimers).toBe(0);
  });
});

describe('htable:expired:<table> event route', () => {
  it('runs the event_callback function for every expired item, with $shtrecord set', async () => {
    const clock = new FakeClock();
    const pv = createPvRegistry();
    const ctx = makeContext(undefined, { services: testServices() });
    const runs: unknown[] = [];
    const mctx = {
      ...moduleContext('htable', { htable: TABLES, event_callback: 'ksr_htable_event' }, { clock, pv }),
      events: {
        run(callback: string, event: string) {
          runs.push([callback, event, pvGet(pv, ctx, '$shtrecord(key)'), pvGet(pv, ctx, '$shtrecord(value)')]);
          return true;
        },
      },
    };
    const { instance, fn } = await instantiate(htableModule, mctx);
    expect(instance.startupEvents).toEqual([{ event: 'htable:mod-init', callback: 'ksr_htable_event' }]);
    fn('sht_sets')(ctx, 'ipban', '192.0.2.1', 'banned');
    clock.advance(320_000);
    expect(runs).toEqual([['ksr_htable_event', 'htable:expired:ipban', '192.0.2.1', 'banned']]);
    await instance.destroy?.();
  });

  it('without event_callback nothing runs', async () => {
    const clock = new FakeClock();
    const runs: string[] = [];
    const mctx = { ...moduleContext('htable', { htable: TABLES }, { clock }), events: { run: (_c: string, e: string) => (runs.push(e), true) } };
    const { instance, fn } = await instantiate(htableModule, mctx);
    fn('sht_sets')(makeContext(undefined, { services: testServices() }), 'ipban', 'k', 'v');
    clock.advance(320_000);
    expect(runs).toEqual([]);
    await instance.destroy?.();
  });
});

describe('iterators', () => {
  it('walks every item; $shtitkey / $shtitval; end', async () => {
    const { fn, ctx, pv } = await setup();
    fn('sht_seti')(ctx, 'a', 'x', 1);
    fn('sht_sets')(ctx, 'a', 'y', 'two');
    expect(fn('sht_iterator_start')(ctx, 'i1', 'a')).toBe(1);
    const seen: unknown[] = [];
    while (fn('sht_iterator_next')(ctx, 'i1') === 1) seen.push([pvGet(pv, ctx, '$shtitkey(i1)'), pvGet(pv, ctx, '$shtitval(i1)')]);
    expect(seen).toEqual([
      ['x', 1],
      ['y', 'two'],
    ]);
    expect(pvGet(pv, ctx, '$shtitkey(i1)')).toBeNull();
    expect(fn('sht_iterator_end')(ctx, 'i1')).toBe(1);
    expect(fn('sht_iterator_end')(ctx, 'i1')).toBe(-1);
    expect(fn('sht_iterator_next')(ctx, 'i1')).toBe(-1);
  });

  it('updates and removes the current item', async () => {
    const { fn, ctx, clock, api } = await setup();
    for (const k of ['a1', 'a2', 'a3']) fn('sht_seti')(ctx, 'ipban', k, 1);
    fn('sht_iterator_start')(ctx, 'it', 'ipban');
    // not on an item yet
    expect(fn('sht_iterator_sets')(ctx, 'it', 'x')).toBe(-1);
    expect(fn('sht_iterator_rm')(ctx, 'it')).toBe(-1);
    fn('sht_iterator_next')(ctx, 'it');
    expect(fn('sht_iterator_sets')(ctx, 'it', 'first')).toBe(1);
    fn('sht_iterator_next')(ctx, 'it');
    expect(fn('sht_iterator_rm')(ctx, 'it')).toBe(1);
    expect(fn('sht_iterator_seti')(ctx, 'it', 5)).toBe(-1); // removed: no current item
    expect(fn('sht_iterator_next')(ctx, 'it')).toBe(1);
    expect(fn('sht_iterator_seti')(ctx, 'it', 3)).toBe(1);
    expect(fn('sht_iterator_setex')(ctx, 'it', 10)).toBe(1);
    expect(fn('sht_iterator_next')(ctx, 'it')).toBe(-1);
    fn('sht_iterator_end')(ctx, 'it');
    expect(api.dump('ipban')!.map((i) => [i.name, i.value])).toEqual([
      ['a1', 'first'],
      ['a3', 3],
    ]);
    clock.advance(11_000);
    expect(api.get('ipban', 'a3')).toBeNull();
  });

  it('allows 4 iterators with names under 32 characters; restarting one is fine', async () => {
    const { fn, ctx } = await setup();
    for (const n of ['i1', 'i2', 'i3', 'i4']) expect(fn('sht_iterator_start')(ctx, n, 'a')).toBe(1);
    expect(fn('sht_iterator_start')(ctx, 'i5', 'a')).toBe(-1);
    expect(fn('sht_iterator_start')(ctx, 'i1', 'ipban')).toBe(1);
    fn('sht_iterator_end')(ctx, 'i4');
    expect(fn('sht_iterator_start')(ctx, 'x'.repeat(32), 'a')).toBe(-1);
    expect(fn('sht_iterator_start')(ctx, '', 'a')).toBe(-1);
    expect(fn('sht_iterator_start')(ctx, 'x'.repeat(31), 'a')).toBe(1);
    expect(fn('sht_iterator_next')(ctx, 'unknown')).toBe(-1);
    expect(fn('sht_iterator_setex')(ctx, 'unknown', 1)).toBe(-1);
  });
});

describe('$sht and the other pseudo-variables', () => {
  it('reads and writes $sht with a dynamic key ($si), deletes with $null', async () => {
    const { pv, ctx, api } = await setup();
    expect(pvGet(pv, ctx, '$sht(ipban=>$si)')).toBeNull();
    expect(pvSet(pv, ctx, '$sht(ipban=>$si)', 1)).toBe(true);
    expect(api.get('ipban', '192.0.2.10')).toBe(1);
    expect(pvGet(pv, ctx, '$sht(ipban=>$si)')).toBe(1);
    expect(pvSet(pv, ctx, '$sht(a=>$si::$rm::x)', 'str')).toBe(true);
    expect(api.get('a', '192.0.2.10::INVITE::x')).toBe('str');
    expect(pvSet(pv, ctx, '$sht(a=>cost$$)', 2.9)).toBe(true);
    expect(api.get('a', 'cost$')).toBe(2);
    expect(pvSet(pv, ctx, '$sht(ipban=>$si)', null)).toBe(true);
    expect(pvGet(pv, ctx, '$sht(ipban=>$si)')).toBeNull();
    expect(pvGet(pv, ctx, '$sht(cnt=>anything)')).toBe(0);
  });

  it('shares its tables with KSR.pv ($sht set by a KEMI call reads back through the registry)', async () => {
    const { pv, ctx, fn } = await setup();
    fn('sht_sets')(ctx, 'a', 'k', 'v');
    expect(pvGet(pv, ctx, '$sht(a=>k)')).toBe('v');
  });

  it('rejects bad names and unknown tables', async () => {
    const { pv, ctx, log } = await setup();
    for (const bad of ['$sht(nokey)', '$sht(=>k)', '$sht(a=>)', '$sht(a=>$bogus)', '$shtrecord(other)', '$shtitkey($var(x))', '$shtex(a)']) {
      expect(pv.lookup(bad)).toBeInstanceOf(PvNameError);
    }
    expect(pvGet(pv, ctx, '$sht(zz=>k)')).toBeNull();
    expect(pvSet(pv, ctx, '$sht(zz=>k)', 1)).toBe(false);
    expect(log.lines.some((l) => /no such htable "zz"/.test(l.msg))).toBe(true);
    expect(pvGet(pv, ctx, '$shtex(zz=>k)')).toBeNull();
    expect(pvGet(pv, ctx, '$shtcn(zz=>**)')).toBeNull();
    expect(pvGet(pv, ctx, '$shtinc(zz=>k)')).toBeNull();
  });

  it('$shtex reads and sets the lifetime', async () => {
    const { pv, ctx, clock, api } = await setup();
    api.seti('ipban', 'k', 1);
    api.seti('a', 'forever', 1);
    expect(pvGet(pv, ctx, '$shtex(ipban=>k)')).toBe(300);
    expect(pvGet(pv, ctx, '$shtex(a=>forever)')).toBe(0);
    expect(pvGet(pv, ctx, '$shtex(ipban=>absent)')).toBe(0);
    clock.advance(100_500);
    expect(pvGet(pv, ctx, '$shtex(ipban=>k)')).toBe(200);
    expect(pvSet(pv, ctx, '$shtex(ipban=>k)', 5)).toBe(true);
    expect(pvGet(pv, ctx, '$shtex(ipban=>k)')).toBe(5);
    expect(pvSet(pv, ctx, '$shtex(ipban=>k)', '0')).toBe(true);
    expect(pvGet(pv, ctx, '$shtex(ipban=>k)')).toBe(0);
    expect(pvSet(pv, ctx, '$shtex(zz=>k)', 5)).toBe(false);
  });

  it('$shtcn / $shtcv count by name / value with Kamailio match prefixes', async () => {
    const { pv, ctx, api } = await setup();
    api.sets('a', 'alice', 'sip:alice@x');
    api.sets('a', 'alina', 'sip:alina@y');
    api.sets('a', 'bob', 'sip:bob@x');
    api.seti('a', 'n1', 5);
    api.seti('a', 'n2', 5);
    expect(pvGet(pv, ctx, '$shtcn(a=>**)')).toBe(5);
    expect(pvGet(pv, ctx, '$shtcn(a=>^ali)')).toBe(2);
    expect(pvGet(pv, ctx, '$shtcn(a=>~~^AL)')).toBe(2);
    expect(pvGet(pv, ctx, '$shtcn(a=>%~al)')).toBe(2);
    expect(pvGet(pv, ctx, '$shtcn(a=>~%b)')).toBe(1);
    expect(pvGet(pv, ctx, '$shtcn(a=>==bob)')).toBe(1);
    expect(pvGet(pv, ctx, '$shtcn(a=>eq5)')).toBe(0);
    expect(pvGet(pv, ctx, '$shtcv(a=>eq5)')).toBe(2);
    expect(pvGet(pv, ctx, '$shtcv(a=>~%@x)')).toBe(2);
    expect(pvGet(pv, ctx, '$shtcv(a=>==sip:bob@x)')).toBe(1);
    expect(pvGet(pv, ctx, '$shtcn(a=>$rU)')).toBe(1); // key format: $rU is "bob"
    expect(pvGet(pv, ctx, '$shtcn(a=>~~[)')).toBe(0); // bad regexp: logged, 0
  });

  it('$shtinc / $shtdec', async () => {
    const { pv, ctx, api } = await setup();
    expect(pvGet(pv, ctx, '$shtinc(cnt=>k)')).toBe(1);
    expect(pvGet(pv, ctx, '$shtinc(cnt=>k)')).toBe(2);
    expect(pvGet(pv, ctx, '$shtdec(cnt=>k)')).toBe(1);
    expect(pvGet(pv, ctx, '$shtinc(a=>none)')).toBeNull();
    api.sets('a', 's', 'x');
    expect(pvGet(pv, ctx, '$shtinc(a=>s)')).toBeNull();
  });
});

describe('HtableApi (for other modules and the RPC layer)', () => {
  it('lists tables and serves get/item/set/setex/delete/add/dump/flush/stats', async () => {
    const { api, clock } = await setup();
    expect(api.tables().map((t) => t.name).sort()).toEqual(['a', 'cnt', 'ipban', 'sticky']);
    expect(api.tables().find((t) => t.name === 'ipban')).toEqual({
      name: 'ipban',
      autoexpire: 300,
      initval: null,
      updateexpire: true,
      size: 8,
      dbtable: null,
      dbmode: 0,
      dmqreplicate: false,
    });
    expect(api.hasTable('ipban')).toBe(true);
    expect(api.hasTable('zz')).toBe(false);
    expect(api.get('zz', 'k')).toBeUndefined();
    expect(api.get('ipban', 'k')).toBeNull();
    expect(api.get('cnt', 'k')).toBe(0);
    expect(api.set('ipban', 'k', 1)).toBe(true);
    expect(api.set('ipban', 'k2', 'v', 30)).toBe(true);
    expect(api.set('zz', 'k', 1)).toBe(false);
    expect(api.set('ipban', 'bad', 1.5)).toBe(false);
    expect(api.sets('a', 's', 'x')).toBe(true);
    expect(api.seti('a', 'i', 3)).toBe(true);
    expect(api.item('ipban', 'k2')).toEqual({ name: 'k2', value: 'v', expires: 30 });
    expect(api.item('ipban', 'none')).toBeUndefined();
    expect(api.item('zz', 'k')).toBeUndefined();
    expect(api.setex('ipban', 'k', 10)).toBe(true);
    expect(api.setex('ipban', 'none', 10)).toBe(false);
    expect(api.setex('zz', 'k', 10)).toBe(false);
    expect(api.add('a', 'i', 2)).toBe(5);
    expect(api.add('zz', 'i', 2)).toBeNull();
    expect(api.dump('ipban')).toEqual([
      { name: 'k', value: 1, expires: 10 },
      { name: 'k2', value: 'v', expires: 30 },
    ]);
    expect(api.dump('zz')).toBeUndefined();
    expect(api.delete('a', 's')).toBe(true);
    expect(api.delete('a', 's')).toBe(false);
    expect(api.delete('zz', 's')).toBe(false);
    clock.advance(10_000);
    expect(api.stats().find((s) => s.name === 'ipban')).toEqual({ name: 'ipban', items: 1 });
    expect(api.flush('ipban')).toBe(2); // the expired one was still stored
    expect(api.flush('zz')).toBeUndefined();
    expect(api.dump('ipban')).toEqual([]);
  });
});
