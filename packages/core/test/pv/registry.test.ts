import { describe, expect, it } from 'vitest';
import {
  DEFAULT_PV_CACHE_LIMIT,
  createPvRegistry,
  parsePvName,
  pvRegistry,
  PvNameError,
  PvRegistry,
  registerPvClass,
  type PvAccessor,
} from '../../src/pv/index.js';
import { makeContext } from '../support/context.js';

describe('pseudo-variable name syntax', () => {
  it('parses the plain, parameter and parenthesised forms', () => {
    expect(parsePvName('$ru')).toEqual({ cls: 'ru', param: undefined, index: undefined, end: 3 });
    expect(parsePvName('$T_branch_idx').cls).toBe('T_branch_idx');
    expect(parsePvName('$hdr(Via)')).toMatchObject({ cls: 'hdr', param: 'Via', index: undefined });
    expect(parsePvName('$(ru)')).toMatchObject({ cls: 'ru', param: undefined });
    expect(parsePvName('$(hdr(Via)[1])')).toMatchObject({ cls: 'hdr', param: 'Via', index: { kind: 'int', n: 1 } });
    expect(parsePvName('$(avp(x)[-2])').index).toEqual({ kind: 'int', n: -2 });
    expect(parsePvName('$(avp(x)[*])').index).toEqual({ kind: 'all' });
    expect(parsePvName('$(hdr(Via)[$var(i)])').index).toEqual({ kind: 'pv', text: '$var(i)' });
    expect(parsePvName('$(hdr(Via)[$(avp(i)[0])])').index).toEqual({ kind: 'pv', text: '$(avp(i)[0])' });
    expect(parsePvName('$xavp(a[0]=>b)').param).toBe('a[0]=>b');
    expect(parsePvName('$cnt($avp(x))').param).toBe('$avp(x)');
    expect(parsePvName('$_s(a(b)c)').param).toBe('a(b)c');
  });

  it.each([
    ['', 'empty name'],
    ['$', 'missing name'],
    ['$(', 'missing name'],
    ['$hdr(', 'unbalanced parentheses'],
    ['$(hdr(Via)', "missing ')'"],
    ['$(hdr(Via)[1', "missing ']'"],
    ['$(hdr(Via)[x])', 'bad index'],
    ['ru', "starts with '$'"],
    ['$1ru', 'bad name start'],
    ['$ru x', 'after the name'],
    ['$hdr(Via)[1]', 'needs the $(hdr(...)[n]) form'],
    ['$(ru{s.len})', 'transformations'],
  ])('rejects %j (%s)', (name, why) => {
    expect(() => parsePvName(name)).toThrow(PvNameError);
    expect(() => parsePvName(name)).toThrow(why);
  });
});

describe('PvRegistry', () => {
  it('reports unknown classes and bad parameters as PvNameError with a code', () => {
    const reg = createPvRegistry();
    for (const [name, why] of [
      ['$nosuch', 'unknown pseudo-variable class $nosuch'],
      ['$sht(t=>k)', 'unknown pseudo-variable class $sht'],
      ['$ru(x)', '$ru takes no parameter'],
      ['$var()', '$var needs a parameter'],
      ['$hdr', '$hdr needs a parameter'],
      ['$(ru[1])', '$ru takes no index'],
      ['$(var(x)[1])', '$var takes no index'],
      ['$hdr(Bad Name)', 'bad header name'],
      ['$hdr($var(x))', 'dynamic header names are not supported'],
      ['$avp($var(x))', 'dynamic AVP names'],
      ['$avp(i:x)', 'bad integer AVP id'],
      ['$xavp(a=>)', 'bad XAVP name'],
      ['$xavp(a[x]=>b)', 'bad index'],
      ['$cnt(x)', '$cnt needs a pseudo-variable'],
      ['$cnt($ru)', '$cnt cannot count $ru'],
      ['$nh(x)', 'the key must be'],
      ['$time(century)', 'unknown key'],
      ['$_s(a $nosuch b)', 'in the format: unknown pseudo-variable class $nosuch'],
    ] as const) {
      const r = reg.lookup(name);
      expect(r, name).toBeInstanceOf(PvNameError);
      expect((r as PvNameError).code).toBe('KSR_ERR_PV_NAME');
      expect((r as PvNameError).pvName).toBe(name);
      expect((r as PvNameError).message, name).toContain(why);
    }
  });

  it('compiles a name once: the same accessor comes back from the cache', () => {
    const reg = createPvRegistry();
    const a = reg.lookup('$ru');
    expect(a).not.toBeInstanceOf(PvNameError);
    expect(reg.lookup('$ru')).toBe(a);
    expect(reg.lookup('$(hdr(Via)[1])')).toBe(reg.lookup('$(hdr(Via)[1])'));
    // compile() bypasses the cache
    expect(reg.compile('$ru')).not.toBe(a);
    // the process-wide registry caches too
    expect(pvRegistry.lookup('$ru')).toBe(pvRegistry.lookup('$ru'));
  });

  it('caches invalid names too (negative entries)', () => {
    const reg = createPvRegistry();
    const e = reg.lookup('$nosuch');
    expect(e).toBeInstanceOf(PvNameError);
    expect(reg.lookup('$nosuch')).toBe(e);
    expect(reg.cacheSize).toBe(1);
  });

  it('is bounded: an LRU of cacheLimit names', () => {
    const reg = createPvRegistry({ cacheLimit: 16 });
    const first = reg.lookup('$var(k0)');
    for (let i = 1; i < 16; i++) reg.lookup(`$var(k${i})`);
    expect(reg.cacheSize).toBe(16);
    // touching k0 makes k1 the least recently used
    expect(reg.lookup('$var(k0)')).toBe(first);
    const k2 = reg.lookup('$var(k2)');
    for (let i = 16; i < 40; i++) reg.lookup(`$var(k${i})`);
    expect(reg.cacheSize).toBe(16);
    // k0 and k2 were evicted by now; new lookups compile again
    expect(reg.lookup('$var(k0)')).not.toBe(first);
    expect(reg.lookup('$var(k2)')).not.toBe(k2);
    expect(reg.cacheSize).toBe(16);
  });

  it('keeps the most recently used names when full', () => {
    const reg = createPvRegistry({ cacheLimit: 3 });
    const a = reg.lookup('$ru');
    reg.lookup('$rU');
    reg.lookup('$rd');
    reg.lookup('$ru'); // a is now the newest
    reg.lookup('$rp'); // evicts $rU
    expect(reg.lookup('$ru')).toBe(a);
    expect(reg.cacheSize).toBe(3);
  });

  it('the process-wide cache holds at most 1024 names', () => {
    expect(pvRegistry.cacheLimit).toBe(DEFAULT_PV_CACHE_LIMIT);
    expect(DEFAULT_PV_CACHE_LIMIT).toBe(1024);
    for (let i = 0; i < 1100; i++) pvRegistry.lookup(`$var(fill_${i})`);
    expect(pvRegistry.cacheSize).toBe(1024);
  });

  it('rejects a bad cache limit', () => {
    expect(() => new PvRegistry({ cacheLimit: 0 })).toThrow(RangeError);
  });

  it('lets modules register classes; registering clears the cache (also of failed names)', () => {
    const reg = createPvRegistry();
    const before = reg.lookup('$sht(t=>k)');
    expect(before).toBeInstanceOf(PvNameError);
    const table = new Map<string, string>([['t=>k', 'v']]);
    reg.register(
      'sht',
      (spec): PvAccessor => ({
        name: spec.text,
        get: () => table.get(spec.param!) ?? null,
        set: (_ctx, v) => {
          if (v === null) table.delete(spec.param!);
          else table.set(spec.param!, String(v));
          return true;
        },
      }),
      { param: 'required' },
    );
    expect(reg.cacheSize).toBe(0);
    const a = reg.lookup('$sht(t=>k)');
    expect(a).not.toBeInstanceOf(PvNameError);
    expect((a as PvAccessor).get(makeContext())).toBe('v');
    expect(reg.classNames()).toContain('sht');
  });

  it('refuses duplicate and badly named classes unless replace is set', () => {
    const reg = createPvRegistry();
    const f = (): PvAccessor => ({ name: '$x', get: () => 1 });
    expect(() => reg.register('ru', f)).toThrow('already registered');
    expect(() => reg.register('bad-name', f)).toThrow('invalid pseudo-variable class name');
    // tm replaces the placeholder
    const ctx = makeContext();
    expect((reg.lookup('$T_reply_code') as PvAccessor).get(ctx)).toBe(0);
    reg.register('T_reply_code', (spec) => ({ name: spec.text, get: () => 200 }), { replace: true });
    expect((reg.lookup('$T_reply_code') as PvAccessor).get(ctx)).toBe(200);
  });

  it('registerPvClass adds to the process-wide registry', () => {
    const name = `ksrtest_${process.pid}`;
    registerPvClass(name, (spec) => ({ name: spec.text, get: () => 'x' }));
    expect((pvRegistry.lookup(`$${name}`) as PvAccessor).get(makeContext())).toBe('x');
  });

  it('has every core class', () => {
    const names = createPvRegistry().classNames();
    for (const n of ['ru', 'rU', 'rd', 'rp', 'rz', 'rm', 'rs', 'rr', 'du', 'fu', 'fU', 'fd', 'fn', 'ft', 'tu', 'tU', 'td', 'tn', 'tt', 'ci', 'cs', 'ct', 'ua', 'si', 'sp', 'Ri', 'Rp', 'pr', 'proto', 'hdr', 'hdrc', 'mb', 'ml', 'rb', 'bs', 'cl', 'au', 'ar', 'ad', 'T_branch_idx', 'T_reply_code', 'rc', 'retcode', 'var', 'avp', 'xavp', 'shv', 'ou', 'op', 'oU', 'od', 'Tf', 'Ts', 'pp', 'rv']) {
      expect(names, n).toContain(n);
    }
    expect(names).not.toContain('sht');
  });
});
