/**
 * Pseudo-variables ($ru, $hdr(Name), $var(x), …): the types shared by the parser, the registry,
 * the core classes and the modules that add their own classes (htable's $sht, tm's $T_*, …).
 */
import { ErrorCodes } from '../errors.js';
import type { RouteContext } from '../routing/context.js';

/** A pseudo-variable value, as Kamailio has them: a string, an integer, or null ($null). */
export type PvValue = string | number | null;

/**
 * A compiled pseudo-variable name. `get` never throws: a value that is absent is null, and a
 * failure at run time (a dynamic index that is not a number, …) is logged and gives null.
 * `set` is present only on writable pseudo-variables; it returns false (and logs why) when the
 * value cannot be stored. Setting null is Kamailio's `$x = $null`.
 */
export interface PvAccessor {
  /** The name as it was compiled, e.g. "$(hdr(Via)[1])". */
  readonly name: string;
  get(ctx: RouteContext): PvValue;
  set?(ctx: RouteContext, value: PvValue): boolean;
  /** For $cnt(...): how many values the name refers to ($avp, $xavp). */
  count?(ctx: RouteContext): number;
}

/** The index of `$(name(param)[index])`. */
export type PvIndex =
  | { readonly kind: 'int'; readonly n: number }
  | { readonly kind: 'all' }
  /** A dynamic index: `$(hdr(Via)[$var(i)])`. */
  | { readonly kind: 'pv'; readonly pv: PvAccessor };

/** What a class factory receives: the parsed name. */
export interface PvSpec {
  /** The whole name, e.g. "$(avp(x)[2])". */
  readonly text: string;
  /** The class name: "ru", "hdr", "avp", "sht", … */
  readonly cls: string;
  /** The text between the parentheses after the class name; undefined when there were none. */
  readonly param: string | undefined;
  /** `[index]` of the parenthesised form; undefined when absent. */
  readonly index: PvIndex | undefined;
}

/**
 * Builds the accessor for one name of a class. It validates `spec.param` and throws a
 * PvNameError when the name is invalid. `compile` compiles a nested name (for $cnt(...),
 * $_s(...) and dynamic parts).
 */
export type PvFactory = (spec: PvSpec, compile: (name: string) => PvAccessor) => PvAccessor;

export interface PvClassOptions {
  /** Whether the class takes `(param)`: 'none' (default), 'required' or 'optional'. */
  param?: 'none' | 'required' | 'optional';
  /** Whether `$(cls(param)[index])` is accepted (default false). */
  index?: boolean;
  /** Replace an existing class of the same name (e.g. tm replacing the $T_reply_code placeholder). */
  replace?: boolean;
}


/** An invalid pseudo-variable name: bad syntax, unknown class, bad parameter. */
export class PvNameError extends Error {
  readonly code = ErrorCodes.PV_NAME;
  /** The name that failed. */
  readonly pvName: string;
  /** Why, without the name. */
  readonly reason: string;
  constructor(pvName: string, reason: string) {
    super(`invalid pseudo-variable ${JSON.stringify(pvName.length > 80 ? `${pvName.slice(0, 80)}…` : pvName)}: ${reason}`);
    this.name = 'PvNameError';
    this.pvName = pvName;
    this.reason = reason;
  }
}
