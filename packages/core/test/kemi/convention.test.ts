import { describe, expect, it } from 'vitest';
import { applyNullMode, coerceArg, coerceArgs, normaliseReturn, type NullMode } from '../../src/kemi/convention.js';
import { failureValue, type KemiParamType } from '../../src/kemi/types.js';
import { getterVariants } from '../../src/kemi/variants.js';

const INT_MAX = 2 ** 31 - 1;
const INT_MIN = -(2 ** 31);

/** The problem text coerceArg reports, or fails the test when the value was accepted. */
function problem(type: KemiParamType, v: unknown): string {
  const r = coerceArg(type, v);
  if (typeof r !== 'object') throw new Error(`expected ${String(v)} to be refused as ${type}, got ${JSON.stringify(r)}`);
  return r.problem;
}

describe("coerceArg 'str'", () => {
  it('passes strings through unchanged (including empty and non-ASCII)', () => {
    for (const s of ['', 'abc', ' 42 ', 'héllo ✓ 😀', 'a"b\\c\n\t', '\u0000x']) expect(coerceArg('str', s)).toBe(s);
  });
  it('converts finite numbers with String()', () => {
    expect(coerceArg('str', 5)).toBe('5');
    expect(coerceArg('str', -12)).toBe('-12');
    expect(coerceArg('str', 1.5)).toBe('1.5');
    expect(coerceArg('str', 0)).toBe('0');
    expect(coerceArg('str', -0)).toBe('0');
    expect(coerceArg('str', 2 ** 40)).toBe('1099511627776');
  });
  it('converts bigints', () => {
    expect(coerceArg('str', 12345678901234567890n)).toBe('12345678901234567890');
  });
  it('refuses non-finite numbers, null, nothing, booleans and objects', () => {
    expect(problem('str', NaN)).toBe('expected string, got number NaN');
    expect(problem('str', Infinity)).toBe('expected string, got number Infinity');
    expect(problem('str', null)).toBe('expected string, got null');
    expect(problem('str', undefined)).toBe('expected string, got nothing');
    expect(problem('str', true)).toBe('expected string, got boolean');
    expect(problem('str', {})).toBe('expected string, got object');
    expect(problem('str', [])).toBe('expected string, got object');
    expect(problem('str', () => 1)).toBe('expected string, got function');
  });
});

describe("coerceArg 'int'", () => {
  it('accepts integers in the signed 32-bit range, both ends included', () => {
    for (const n of [0, 1, -1, 42, INT_MAX, INT_MIN]) expect(coerceArg('int', n)).toBe(n);
  });
  it('never yields -0', () => {
    expect(Object.is(coerceArg('int', -0), 0)).toBe(true);
    expect(Object.is(coerceArg('int', '-0'), 0)).toBe(true);
  });
  it('accepts strings holding a decimal integer, with sign and surrounding blanks', () => {
    expect(coerceArg('int', '42')).toBe(42);
    expect(coerceArg('int', ' -7 ')).toBe(-7);
    expect(coerceArg('int', '+3')).toBe(3);
    expect(coerceArg('int', '007')).toBe(7);
    expect(coerceArg('int', '\t12\n')).toBe(12);
    expect(coerceArg('int', String(INT_MIN))).toBe(INT_MIN);
  });
  it('accepts bigints in range', () => {
    expect(coerceArg('int', 5n)).toBe(5);
    expect(coerceArg('int', BigInt(INT_MIN))).toBe(INT_MIN);
  });
  it('refuses fractions, non-numeric strings, booleans, null and nothing', () => {
    expect(problem('int', 1.5)).toBe('expected 32-bit integer, got number 1.5');
    expect(problem('int', 'abc')).toBe('expected 32-bit integer, got string "abc"');
    expect(problem('int', '1.5')).toBe('expected 32-bit integer, got string "1.5"');
    expect(problem('int', '')).toBe('expected 32-bit integer, got string ""');
    expect(problem('int', '0x10')).toBe('expected 32-bit integer, got string "0x10"');
    expect(problem('int', '1e3')).toBe('expected 32-bit integer, got string "1e3"');
    expect(problem('int', '- 1')).toBe('expected 32-bit integer, got string "- 1"');
    expect(problem('int', true)).toBe('expected 32-bit integer, got boolean');
    expect(problem('int', false)).toBe('expected 32-bit integer, got boolean');
    expect(problem('int', null)).toBe('expected 32-bit integer, got null');
    expect(problem('int', undefined)).toBe('expected 32-bit integer, got nothing');
    expect(problem('int', NaN)).toBe('expected 32-bit integer, got number NaN');
    expect(problem('int', Infinity)).toBe('expected 32-bit integer, got number Infinity');
    expect(problem('int', {})).toBe('expected 32-bit integer, got object');
  });
  it('refuses values outside the 32-bit range (2^31, -2^31-1), as numbers, strings and bigints', () => {
    expect(problem('int', 2 ** 31)).toBe('32-bit integer out of range: 2147483648');
    expect(problem('int', INT_MIN - 1)).toBe('32-bit integer out of range: -2147483649');
    expect(problem('int', '2147483648')).toBe('32-bit integer out of range: 2147483648');
    expect(problem('int', 2n ** 31n)).toBe('32-bit integer out of range: 2147483648');
    expect(problem('int', 2 ** 53)).toContain('out of range');
  });
  it('shortens long strings in the message', () => {
    const msg = problem('int', 'x'.repeat(100));
    expect(msg).toBe(`expected 32-bit integer, got string "${'x'.repeat(40)}…"`);
  });
});

describe("coerceArg 'long'", () => {
  it('accepts integers up to ±(2^53-1), beyond the int range', () => {
    for (const n of [0, 2 ** 31, -(2 ** 31) - 1, 2 ** 40, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]) expect(coerceArg('long', n)).toBe(n);
  });
  it('accepts numeric strings and bigints in range', () => {
    expect(coerceArg('long', '1099511627776')).toBe(2 ** 40);
    expect(coerceArg('long', ' -12345678901 ')).toBe(-12345678901);
    expect(coerceArg('long', 2n ** 40n)).toBe(2 ** 40);
    expect(coerceArg('long', BigInt(Number.MIN_SAFE_INTEGER))).toBe(Number.MIN_SAFE_INTEGER);
  });
  it('refuses values beyond 2^53-1 (numbers, strings, bigints)', () => {
    expect(problem('long', Number.MAX_SAFE_INTEGER + 1)).toBe('integer out of range: 9007199254740992');
    expect(problem('long', '9007199254740992')).toBe('integer out of range: 9007199254740992');
    expect(problem('long', 2n ** 53n)).toBe('integer out of range: 9007199254740992');
    expect(problem('long', -(2n ** 53n))).toBe('integer out of range: -9007199254740992');
  });
  it('refuses what int refuses', () => {
    expect(problem('long', 1.5)).toBe('expected integer, got number 1.5');
    expect(problem('long', 'abc')).toBe('expected integer, got string "abc"');
    expect(problem('long', true)).toBe('expected integer, got boolean');
    expect(problem('long', null)).toBe('expected integer, got null');
  });
});

describe('coerceArgs', () => {
  const sendReply = { qualified: 'KSR.sl.send_reply', params: ['int', 'str'] as const };
  const isInvite = { qualified: 'KSR.is_INVITE', params: [] as const };
  const remove = { qualified: 'KSR.hdr.remove', params: ['str'] as const };
  const six = { qualified: 'KSR.tm.t_uac_send', params: ['str', 'str', 'str', 'str', 'str', 'int'] as const };

  it('coerces a whole argument list', () => {
    expect(coerceArgs(sendReply, ['404', 200])).toEqual([404, '200']);
    expect(coerceArgs(isInvite, [])).toEqual([]);
    expect(coerceArgs(six, ['a', 'b', 'c', 'd', 'e', '6'])).toEqual(['a', 'b', 'c', 'd', 'e', 6]);
  });
  it('names KSR.module.function and the expected signature on an arity mismatch', () => {
    expect(coerceArgs(sendReply, [404])).toBe('KSR.sl.send_reply: expects 2 arguments (int, str), got 1');
    expect(coerceArgs(sendReply, [404, 'Not Found', 'x'])).toBe('KSR.sl.send_reply: expects 2 arguments (int, str), got 3');
    expect(coerceArgs(isInvite, [1])).toBe('KSR.is_INVITE: expects no arguments, got 1');
    expect(coerceArgs(remove, [])).toBe('KSR.hdr.remove: expects 1 argument (str), got 0');
  });
  it('names KSR.module.function and the 1-based argument position on a type mismatch', () => {
    expect(coerceArgs(sendReply, ['abc', 'Not Found'])).toBe('KSR.sl.send_reply: argument 1: expected 32-bit integer, got string "abc"');
    expect(coerceArgs(sendReply, [404, null])).toBe('KSR.sl.send_reply: argument 2: expected string, got null');
    expect(coerceArgs(six, ['a', 'b', 'c', 'd', 'e', 1.5])).toBe('KSR.tm.t_uac_send: argument 6: expected 32-bit integer, got number 1.5');
  });
  it('reports the first bad argument', () => {
    expect(coerceArgs(sendReply, [true, null])).toBe('KSR.sl.send_reply: argument 1: expected 32-bit integer, got boolean');
  });
  it('counts a trailing undefined as an argument (engines pass what the script passed)', () => {
    expect(coerceArgs(remove, ['X-A', undefined])).toBe('KSR.hdr.remove: expects 1 argument (str), got 2');
  });
});

describe('failureValue', () => {
  it('is -1 for int, false for bool, null for xval, undefined for none', () => {
    expect(failureValue('int')).toBe(-1);
    expect(failureValue('bool')).toBe(false);
    expect(failureValue('xval')).toBeNull();
    expect(failureValue('none')).toBeUndefined();
  });
});

describe('normaliseReturn', () => {
  it('int: integers pass, including 0 and negatives', () => {
    for (const n of [1, 0, -1, -255, INT_MAX]) expect(normaliseReturn('int', n)).toEqual({ value: n });
  });
  it('int: a boolean becomes 1/-1 and is reported as a bug', () => {
    expect(normaliseReturn('int', true)).toEqual({ value: 1, bug: 'returned a boolean for an int export' });
    expect(normaliseReturn('int', false)).toEqual({ value: -1, bug: 'returned a boolean for an int export' });
  });
  it('int: anything else becomes -1 and is reported', () => {
    expect(normaliseReturn('int', 1.5)).toEqual({ value: -1, bug: 'returned number 1.5 for an int export' });
    expect(normaliseReturn('int', '1')).toEqual({ value: -1, bug: 'returned string "1" for an int export' });
    expect(normaliseReturn('int', undefined)).toEqual({ value: -1, bug: 'returned nothing for an int export' });
    expect(normaliseReturn('int', null)).toEqual({ value: -1, bug: 'returned null for an int export' });
  });
  it('bool: booleans pass; numbers map to >0; anything else is false and reported', () => {
    expect(normaliseReturn('bool', true)).toEqual({ value: true });
    expect(normaliseReturn('bool', false)).toEqual({ value: false });
    expect(normaliseReturn('bool', 1)).toEqual({ value: true, bug: 'returned a number for a bool export' });
    expect(normaliseReturn('bool', -1)).toEqual({ value: false, bug: 'returned a number for a bool export' });
    expect(normaliseReturn('bool', 0)).toEqual({ value: false, bug: 'returned a number for a bool export' });
    expect(normaliseReturn('bool', 'yes')).toEqual({ value: false, bug: 'returned string "yes" for a bool export' });
    expect(normaliseReturn('bool', undefined)).toEqual({ value: false, bug: 'returned nothing for a bool export' });
  });
  it('xval: strings, finite numbers and null pass; undefined becomes null', () => {
    for (const v of ['', 'abc', 0, -7, 42, 1.5, null]) expect(normaliseReturn('xval', v)).toEqual({ value: v });
    expect(normaliseReturn('xval', undefined)).toEqual({ value: null });
  });
  it('xval: anything else becomes null and is reported', () => {
    expect(normaliseReturn('xval', true)).toEqual({ value: null, bug: 'returned boolean for an xval export' });
    expect(normaliseReturn('xval', NaN)).toEqual({ value: null, bug: 'returned number NaN for an xval export' });
    expect(normaliseReturn('xval', { a: 1 })).toEqual({ value: null, bug: 'returned object for an xval export' });
  });
  it('none: always undefined, whatever the function returned', () => {
    for (const v of [undefined, null, 1, 'x', true]) expect(normaliseReturn('none', v)).toEqual({ value: undefined });
  });
});

describe('applyNullMode', () => {
  const modes: Array<[NullMode, unknown]> = [
    ['null', null],
    ['empty', ''],
    ['print', '<<null>>'],
    ['zero', 0],
  ];
  for (const [mode, expected] of modes) {
    it(`${mode}: null and undefined become ${JSON.stringify(expected)}`, () => {
      expect(applyNullMode(null, mode)).toBe(expected);
      expect(applyNullMode(undefined, mode)).toBe(expected);
    });
    it(`${mode}: values pass unchanged, including falsy ones`, () => {
      for (const v of ['x', '', 0, -1, 5]) expect(applyNullMode(v, mode)).toBe(v);
    });
  }
});

describe('getterVariants', () => {
  const table = new Map<string, string | number>([
    ['present', 'v'],
    ['zero', 0],
    ['empty', ''],
  ]);
  const lookup = (_ctx: unknown, name: string): string | number | undefined => table.get(name);

  it('builds get/gete/getw from one lookup, in the order given, as xval exports with the same params', () => {
    const defs = getterVariants<unknown>({ null: 'get', empty: 'gete', print: 'getw' }, ['str'], lookup, 'Get a header body', ['hname']);
    expect(defs.map((d) => [d.name, d.returns, d.params, d.paramNames])).toEqual([
      ['get', 'xval', ['str'], ['hname']],
      ['gete', 'xval', ['str'], ['hname']],
      ['getw', 'xval', ['str'], ['hname']],
    ]);
    expect(defs.map((d) => d.doc)).toEqual(['Get a header body (null when absent)', 'Get a header body ("" when absent)', 'Get a header body ("<<null>>" when absent)']);
  });

  it('applies the null mode of each variant only to absent values', () => {
    const defs = getterVariants<unknown>({ null: 'get', empty: 'gete', print: 'getw', zero: 'getz' }, ['str'], lookup);
    const call = (name: string, arg: string): unknown => defs.find((d) => d.name === name)!.fn(undefined, arg);
    expect(['get', 'gete', 'getw', 'getz'].map((n) => call(n, 'missing'))).toEqual([null, '', '<<null>>', 0]);
    expect(['get', 'gete', 'getw', 'getz'].map((n) => call(n, 'present'))).toEqual(['v', 'v', 'v', 'v']);
    expect(['get', 'gete', 'getw', 'getz'].map((n) => call(n, 'zero'))).toEqual([0, 0, 0, 0]);
    expect(['get', 'gete', 'getw', 'getz'].map((n) => call(n, 'empty'))).toEqual(['', '', '', '']);
  });

  it('without a doc line, documents the null mode alone and leaves paramNames out', () => {
    const [d] = getterVariants<unknown>({ print: 'getw_idx' }, ['str', 'int'], lookup);
    expect(d).toMatchObject({ name: 'getw_idx', params: ['str', 'int'], doc: '"<<null>>" when absent' });
    expect(d && 'paramNames' in d).toBe(false);
  });
});
