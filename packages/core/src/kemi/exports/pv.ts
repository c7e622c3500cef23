/**
 * KSR.pv: pseudo-variables by name (Kamailio's `_sr_kemi_pv`, module "pv").
 *
 *   get / gete / getw(name)   value or null / "" / "<<null>>"
 *   geti(name)                int: integers as they are, integer strings parsed, null, other strings
 *                             and errors 0
 *   getl(name)                like geti, for "long" values (any safe integer), returned as an xval
 *   getvn(name, int) / getvs(name, str)   the value, or the default when it is null (or on error)
 *   seti / setl / sets(name, value), unset(name)   true when stored; unset is `name = $null`
 *   is_null(name)             true when the value is null, and also when the name is invalid
 *
 * Names are compiled once and cached (pv/registry.ts). An invalid name, or a set on a read-only
 * pseudo-variable, logs an error and gives null (get), 0 (geti), the default (getvn/getvs),
 * false (set*, unset) or true (is_null). Nothing throws into the script.
 */
import { pvRegistry } from '../../pv/index.js';
import type { PvRegistry } from '../../pv/registry.js';
import { PvNameError, type PvAccessor, type PvValue } from '../../pv/types.js';
import { strToInt } from '../../pv/util.js';
import type { RouteContext } from '../../routing/context.js';
import type { KemiExportDef, KemiXval } from '../types.js';
import { getterVariants } from '../variants.js';

type Def = KemiExportDef<RouteContext>;

const INT_MIN = -2147483648;
const INT_MAX = 2147483647;

/** The KSR.pv exports over a registry (the process-wide one by default). */
export function createPvExports(registry: PvRegistry = pvRegistry): readonly Def[] {
  const accessor = (ctx: RouteContext, fn: string, name: string): PvAccessor | undefined => {
    const a = registry.lookup(name);
    if (a instanceof PvNameError) {
      ctx.logger.error({ mod: 'pv' }, `KSR.pv.${fn}: ${a.message}`);
      return undefined;
    }
    return a;
  };

  const read = (ctx: RouteContext, fn: string, name: string): PvValue | undefined => {
    const a = accessor(ctx, fn, name);
    return a ? a.get(ctx) : undefined;
  };

  const write = (ctx: RouteContext, fn: string, name: string, value: PvValue): boolean => {
    const a = accessor(ctx, fn, name);
    if (!a) return false;
    if (!a.set) {
      ctx.logger.error({ mod: 'pv' }, `KSR.pv.${fn}: ${name} is read-only`);
      return false;
    }
    return a.set(ctx, value);
  };

  /** A value as an integer: integers as they are (fractions truncated), integer strings parsed, the rest 0. */
  const integer = (v: PvValue | undefined, min: number, max: number): number => {
    let n: number | undefined;
    if (typeof v === 'number') n = Number.isFinite(v) ? Math.trunc(v) : undefined;
    else if (typeof v === 'string') n = strToInt(v);
    if (n === undefined || n < min || n > max) return 0;
    return n === 0 ? 0 : n;
  };

  return [
    ...getterVariants<RouteContext>(
      { null: 'get', empty: 'gete', print: 'getw' },
      ['str'],
      (ctx: RouteContext, name: string): KemiXval => read(ctx, 'get', name) ?? null,
      'Value of the pseudo-variable',
      ['pvname'],
    ),
    {
      name: 'geti',
      returns: 'int',
      params: ['str'],
      paramNames: ['pvname'],
      doc: 'Value of the pseudo-variable as an integer (0 when null, not numeric or invalid)',
      fn: (ctx: RouteContext, name: string) => integer(read(ctx, 'geti', name), INT_MIN, INT_MAX),
    },
    {
      name: 'getl',
      returns: 'xval',
      params: ['str'],
      paramNames: ['pvname'],
      doc: 'Value of the pseudo-variable as a long integer (0 when null, not numeric or invalid)',
      fn: (ctx: RouteContext, name: string) => integer(read(ctx, 'getl', name), Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER),
    },
    {
      name: 'getvn',
      returns: 'xval',
      params: ['str', 'int'],
      paramNames: ['pvname', 'vn'],
      doc: 'Value of the pseudo-variable, or vn when it is null or the name is invalid',
      fn: (ctx: RouteContext, name: string, dflt: number) => read(ctx, 'getvn', name) ?? dflt,
    },
    {
      name: 'getvs',
      returns: 'xval',
      params: ['str', 'str'],
      paramNames: ['pvname', 'vs'],
      doc: 'Value of the pseudo-variable, or vs when it is null or the name is invalid',
      fn: (ctx: RouteContext, name: string, dflt: string) => read(ctx, 'getvs', name) ?? dflt,
    },
    {
      name: 'seti',
      returns: 'bool',
      params: ['str', 'int'],
      paramNames: ['pvname', 'val'],
      doc: 'Set the pseudo-variable to an integer',
      fn: (ctx: RouteContext, name: string, v: number) => write(ctx, 'seti', name, v),
    },
    {
      name: 'setl',
      returns: 'bool',
      params: ['str', 'long'],
      paramNames: ['pvname', 'val'],
      doc: 'Set the pseudo-variable to a long integer',
      fn: (ctx: RouteContext, name: string, v: number) => write(ctx, 'setl', name, v),
    },
    {
      name: 'sets',
      returns: 'bool',
      params: ['str', 'str'],
      paramNames: ['pvname', 'val'],
      doc: 'Set the pseudo-variable to a string',
      fn: (ctx: RouteContext, name: string, v: string) => write(ctx, 'sets', name, v),
    },
    {
      name: 'unset',
      returns: 'bool',
      params: ['str'],
      paramNames: ['pvname'],
      doc: 'Set the pseudo-variable to $null',
      fn: (ctx: RouteContext, name: string) => write(ctx, 'unset', name, null),
    },
    {
      name: 'is_null',
      returns: 'bool',
      params: ['str'],
      paramNames: ['pvname'],
      doc: 'True when the pseudo-variable is null (and when the name is invalid)',
      fn: (ctx: RouteContext, name: string) => (read(ctx, 'is_null', name) ?? null) === null,
    },
  ];
}

/** KSR.pv over the process-wide pseudo-variable registry. */
export const pvExports: readonly Def[] = createPvExports();
