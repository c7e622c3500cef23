/**
 * What the config loader needs to know about modules to check `loadmodule`
 * and `modparam` lines. The module implementations (packages/modules) provide
 * the real catalogue; tests use small fakes.
 */

export interface ModuleParamSpec {
  /**
   * Value type. As in Kamailio the type must match what is written:
   * an `int` parameter takes an unquoted number (`yes`/`no` count as 1/0),
   * a `str` parameter takes a quoted string, `any` takes both.
   */
  type: 'int' | 'str' | 'any';
  /** The parameter may be given several times (each value is kept). */
  multi?: boolean;
  /** Extra validation; returns an error text, or undefined when the value is fine. */
  check?: (v: string | number) => string | undefined;
}

export interface ModuleSchema {
  name: string;
  params: Record<string, ModuleParamSpec>;
}

export interface ModuleCatalogue {
  get(name: string): ModuleSchema | undefined;
}

/** A catalogue over a fixed list of schemas. Names match case-sensitively. */
export function createModuleCatalogue(schemas: Iterable<ModuleSchema>): ModuleCatalogue {
  const byName = new Map<string, ModuleSchema>();
  for (const s of schemas) byName.set(s.name, s);
  return { get: (name) => byName.get(name) };
}

/**
 * The module name from a `loadmodule` argument:
 * `"tm.so"`, `"tm"` and `"/usr/lib/kamailio/modules/tm.so"` all give `tm`.
 */
export function moduleNameFromPath(p: string): string {
  let name = p.trim();
  const slash = name.lastIndexOf('/');
  if (slash >= 0) name = name.slice(slash + 1);
  if (name.length > 3 && name.endsWith('.so')) name = name.slice(0, -3);
  return name;
}
