/**
 * The calling convention every engine shares (tested once, for all of them).
 *
 * Arguments: each export declares its parameter types; a call must pass exactly that many.
 *  - 'str'  accepts a string, or a finite number (converted with String(): 5 → "5").
 *  - 'int'  accepts an integer number in the signed 32-bit range, or a string holding one
 *           ("42", " -7 "); anything else (1.5, "abc", true, null, 2^31) is an error.
 *  - 'long' like 'int' within ±(2^53−1); bigints in range are accepted too.
 * A mismatch is never coerced silently: the call does not happen, an error naming
 * KSR.module.function, the argument position and the script location is logged, and the call
 * returns the failure value of its return type (int −1, bool false, xval null).
 *
 * Returns: int exports give numbers (>0 ok, <0 failure, 0 stop), bool exports give booleans,
 * xval exports give string | number | null, 'none' exports give undefined. A module function that
 * returns the wrong kind is normalised here (and logged, since it is a bug in ksr).
 */
import type { KemiArg, KemiExport, KemiParamType, KemiReturnType, KemiXval } from './types.js';

const INT_MIN = -2147483648;
const INT_MAX = 2147483647;
const INT_STRING = /^\s*[+-]?\d+\s*$/;

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'nothing';
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (typeof v === 'number') return `number ${v}`;
  if (typeof v === 'bigint') return `integer ${v}`;
  return typeof v;
}

function coerceInteger(v: unknown, min: number, max: number, what: string): number | string {
  let n: number;
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) return `expected ${what}, got ${describe(v)}`;
    n = v;
  } else if (typeof v === 'bigint') {
    if (v < BigInt(min) || v > BigInt(max)) return `${what} out of range: ${v}`;
    return Number(v);
  } else if (typeof v === 'string' && INT_STRING.test(v)) {
    n = Number(v.trim());
  } else {
    return `expected ${what}, got ${describe(v)}`;
  }
  if (n < min || n > max) return `${what} out of range: ${n}`;
  return n === 0 ? 0 : n; // no -0
}

/** Check and coerce one argument. Returns the value, or a string describing the problem. */
export function coerceArg(type: KemiParamType, v: unknown): KemiArg | { problem: string } {
  switch (type) {
    case 'str':
      if (typeof v === 'string') return v;
      if (typeof v === 'number' && Number.isFinite(v)) return String(v);
      if (typeof v === 'bigint') return String(v);
      return { problem: `expected string, got ${describe(v)}` };
    case 'int': {
      const r = coerceInteger(v, INT_MIN, INT_MAX, '32-bit integer');
      return typeof r === 'string' ? { problem: r } : r;
    }
    case 'long': {
      const r = coerceInteger(v, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, 'integer');
      return typeof r === 'string' ? { problem: r } : r;
    }
  }
}

/**
 * Check and coerce a whole argument list against an export. Returns the coerced arguments, or
 * the complete error message (without the script location, which the caller adds).
 */
export function coerceArgs(exp: Pick<KemiExport, 'qualified' | 'params'>, args: readonly unknown[]): KemiArg[] | string {
  if (args.length !== exp.params.length) {
    const sig = exp.params.length === 0 ? 'no arguments' : `${exp.params.length} argument${exp.params.length > 1 ? 's' : ''} (${exp.params.join(', ')})`;
    return `${exp.qualified}: expects ${sig}, got ${args.length}`;
  }
  const out: KemiArg[] = new Array<KemiArg>(args.length);
  for (let i = 0; i < args.length; i++) {
    const r = coerceArg(exp.params[i]!, args[i]);
    if (typeof r === 'object') return `${exp.qualified}: argument ${i + 1}: ${r.problem}`;
    out[i] = r;
  }
  return out;
}

/**
 * Normalise a module function's result to its declared return type. Returns the value and, when
 * the function broke its contract, a note for the log.
 */
export function normaliseReturn(returns: KemiReturnType, v: unknown): { value: number | boolean | KemiXval | undefined; bug?: string } {
  switch (returns) {
    case 'int':
      if (typeof v === 'number' && Number.isInteger(v)) return { value: v };
      if (typeof v === 'boolean') return { value: v ? 1 : -1, bug: 'returned a boolean for an int export' };
      return { value: -1, bug: `returned ${describe(v)} for an int export` };
    case 'bool':
      if (typeof v === 'boolean') return { value: v };
      if (typeof v === 'number') return { value: v > 0, bug: 'returned a number for a bool export' };
      return { value: false, bug: `returned ${describe(v)} for a bool export` };
    case 'xval':
      if (v === undefined || v === null) return { value: null };
      if (typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v))) return { value: v };
      return { value: null, bug: `returned ${describe(v)} for an xval export` };
    case 'none':
      return { value: undefined };
  }
}

/**
 * The null modes of Kamailio's getter families:
 *   get → null, gete → "" (empty), getw → "<<null>>" (print), and "zero" → 0.
 */
export type NullMode = 'null' | 'empty' | 'print' | 'zero';

export function applyNullMode(v: KemiXval | undefined, mode: NullMode): KemiXval {
  if (v !== null && v !== undefined) return v;
  switch (mode) {
    case 'null':
      return null;
    case 'empty':
      return '';
    case 'print':
      return '<<null>>';
    case 'zero':
      return 0;
  }
}
