/**
 * The conformance registry: a `test` module whose exports cover every parameter-type combination
 * for arities 0..3 (int/str), representative ones for 4..6 and 'long', every return type and the
 * get/gete/getw null modes; two core functions (KSR.ping, KSR.echo) to check root binding; and
 * KSR.x (exit/drop).
 *
 * Values cross the boundary both ways and are written into one ordered event list:
 *  - exports that take arguments record what the host received ("args_is(i:1,s:v2)");
 *  - the script records what it got back through KSR.test.record(show(value)).
 * `show` is the same small function in every fixture language: null/nil/None → "null",
 * booleans → "true"/"false", integers → "i:<n>", other numbers → "f:<n>", strings → "s:<text>".
 */
import { KemiRegistry, getterVariants, xExports, type FrozenKemiRegistry, type KemiExportDef, type KemiParamType, type RouteContext } from '@ksr/core';

/** Signatures of the args_* exports: i = int, s = str, l = long. '' is arity 0 (args_0). */
export const ARG_SIGNATURES: readonly string[] = [
  '',
  // every int/str combination for arities 1..3
  'i', 's',
  'ii', 'is', 'si', 'ss',
  'iii', 'iis', 'isi', 'iss', 'sii', 'sis', 'ssi', 'sss',
  // representative ones for 4..6
  'ssss', 'iiii', 'isis', 'siis',
  'sssss', 'iiiii', 'isiss', 'ssiii',
  'ssssss', 'iiiiii', 'sisisi', 'iissss',
  // long (Kamailio has one: pv.setl(s, l))
  'l', 'sl', 'ili',
];

const PARAM_OF: Record<string, KemiParamType> = { i: 'int', s: 'str', l: 'long' };

/** 2^40: a long that does not fit 32 bits. */
export const LONG_BASE = 1099511627776;

export function argsExportName(sig: string): string {
  return sig === '' ? 'args_0' : `args_${sig}`;
}

/** The argument the fixtures pass at 1-based position k for a type letter. */
export function argValue(letter: string, k: number): number | string {
  return letter === 'i' ? k : letter === 's' ? `v${k}` : LONG_BASE + k;
}

/** The host-side twin of the fixtures' show(), for values after the calling convention. */
export function showHost(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'number') return Number.isInteger(v) ? `i:${v}` : `f:${v}`;
  if (typeof v === 'string') return `s:${v}`;
  return `?:${typeof v}`;
}

/** Return-type exports: name, return type, value returned, and what the script must see. */
export const RETURN_CASES: ReadonlyArray<readonly [name: string, returns: 'int' | 'bool' | 'xval' | 'none', value: unknown, shown: string]> = [
  ['ret_int_pos', 'int', 1, 'i:1'],
  ['ret_int_zero', 'int', 0, 'i:0'],
  ['ret_int_neg', 'int', -1, 'i:-1'],
  ['ret_int_max', 'int', 2147483647, 'i:2147483647'],
  ['ret_int_min', 'int', -2147483648, 'i:-2147483648'],
  ['ret_true', 'bool', true, 'true'],
  ['ret_false', 'bool', false, 'false'],
  ['ret_xval_str', 'xval', 'hello', 's:hello'],
  ['ret_xval_empty', 'xval', '', 's:'],
  ['ret_xval_int', 'xval', 42, 'i:42'],
  ['ret_xval_zero', 'xval', 0, 'i:0'],
  ['ret_xval_neg', 'xval', -7, 'i:-7'],
  ['ret_null', 'xval', null, 'null'],
  ['ret_none', 'none', undefined, 'null'],
];

/** What KSR.test.get/gete/getw look up. */
export const LOOKUP_TABLE: ReadonlyMap<string, string | number> = new Map<string, string | number>([
  ['present', 'value'],
  ['number', 5],
  ['empty', ''],
]);

export interface ConformanceHooks {
  /** KSR.test.record(s) and the args_* exports write here. */
  record(event: string): void;
  /** KSR.test.run_nested(name): run another function of the same script on this context. Returns the run kind. */
  runNested(ctx: RouteContext, func: string): string;
}

type Def = KemiExportDef<RouteContext>;

/** The `test` module's export table. */
export function testExports(hooks: ConformanceHooks): Def[] {
  const defs: Def[] = [
    { name: 'record', returns: 'none', params: ['str'], paramNames: ['event'], doc: 'Append an event to the conformance log.', fn: (_ctx, s: string) => hooks.record(s) },
  ];
  for (const sig of ARG_SIGNATURES) {
    const name = argsExportName(sig);
    defs.push({
      name,
      returns: 'int',
      params: [...sig].map((c) => PARAM_OF[c]!),
      doc: 'Record the arguments received; return the arity.',
      fn: (_ctx, ...args: unknown[]) => {
        hooks.record(`${name}(${args.map(showHost).join(',')})`);
        return args.length;
      },
    });
  }
  for (const [name, returns, value] of RETURN_CASES) defs.push({ name, returns, params: [], fn: () => value as number });
  defs.push(
    { name: 'echo_s', returns: 'xval', params: ['str'], fn: (_ctx, s: string) => s },
    { name: 'echo_i', returns: 'int', params: ['int'], fn: (_ctx, n: number) => n },
    { name: 'echo_l', returns: 'xval', params: ['long'], fn: (_ctx, n: number) => n },
    ...getterVariants<RouteContext>({ null: 'get', empty: 'gete', print: 'getw' }, ['str'], (_ctx, key: string) => LOOKUP_TABLE.get(key)),
    {
      name: 'throws',
      returns: 'int',
      params: [],
      fn: () => {
        throw new Error('export failed');
      },
    },
    { name: 'sflag_set', returns: 'int', params: ['int'], fn: (ctx, bit: number) => ((ctx.scriptFlags |= 1 << bit), 1) },
    { name: 'sflags', returns: 'int', params: [], fn: (ctx) => ctx.scriptFlags },
    { name: 'run_nested', returns: 'xval', params: ['str'], fn: (ctx, func: string) => hooks.runNested(ctx, func) },
  );
  return defs;
}

/** Core functions (KSR.ping, KSR.echo): engines must bind the core at the KSR root. */
export function conformanceCoreExports(): Def[] {
  return [
    { name: 'ping', returns: 'int', params: [], fn: () => 7 },
    { name: 'echo', returns: 'xval', params: ['str'], fn: (_ctx, s: string) => s },
  ];
}

/** The frozen registry the conformance suite binds: core, `test`, `x`. */
export function buildConformanceRegistry(hooks: ConformanceHooks): FrozenKemiRegistry<RouteContext> {
  const reg = new KemiRegistry<RouteContext>();
  reg.addModule('', conformanceCoreExports());
  reg.addModule('test', testExports(hooks));
  reg.addModule('x', xExports);
  return reg.freeze();
}
