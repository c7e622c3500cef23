/**
 * The KEMI export model: what a module offers to routing scripts as `KSR.<module>.<name>`.
 *
 * Mirrors Kamailio's `sr_kemi_t`: a module name ("" = core, reached as `KSR.<name>`), a function
 * name, a return type and up to six typed parameters. Engines never see `fn`; they call exports
 * by integer id through the route runtime, which applies the calling convention (convention.ts).
 */

export type KemiParamType = 'int' | 'str' | 'long';
export type KemiReturnType = 'int' | 'bool' | 'xval' | 'none';

/** An extended value: what `xval` exports return. */
export type KemiXval = string | number | null;

/** An argument after the calling convention checked and coerced it. */
export type KemiArg = string | number;

export const KEMI_PARAMS_MAX = 6;

/**
 * What a module writes. `fn` receives the route context first, then the arguments already
 * checked and coerced to the declared types ('int' and 'long' as numbers, 'str' as strings).
 *
 * Return: 'int' → an integer (>0 ok, <0 failure, 0 "stop"); 'bool' → a boolean; 'xval' → a
 * string, a number or null; 'none' → nothing.
 */
export interface KemiExportDef<Ctx = unknown> {
  readonly name: string;
  readonly returns: KemiReturnType;
  readonly params: readonly KemiParamType[];
  // The parameter list varies per export; the runtime guarantees the types declared in `params`.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly fn: (ctx: Ctx, ...args: any[]) => number | boolean | KemiXval | void;
  /** One line for the generated reference (docs/kemi-api.md) and the editor stubs. */
  readonly doc?: string;
  /** Parameter names for the reference and stubs (default p1, p2, …). */
  readonly paramNames?: readonly string[];
}

/** A registered export: the definition plus its dense, stable id. */
export interface KemiExport<Ctx = unknown> extends KemiExportDef<Ctx> {
  readonly id: number;
  /** "" for core functions. */
  readonly module: string;
  /** "KSR.sl.send_reply", "KSR.is_INVITE" — for messages and docs. */
  readonly qualified: string;
}

/** The failure value of each return type, used when a call cannot be made (bad arguments). */
export function failureValue(returns: KemiReturnType): number | boolean | null | undefined {
  switch (returns) {
    case 'int':
      return -1;
    case 'bool':
      return false;
    case 'xval':
      return null;
    case 'none':
      return undefined;
  }
}
