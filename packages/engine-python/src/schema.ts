/**
 * The app_python3 and app_python3s modules: their modparams as the config loader checks them,
 * and how engine-python reads them. Kept free of Pyodide so listing the engines costs nothing
 * until a Python script is loaded.
 */
import { ROUTE_TIME_LIMIT, intInRange, loadTimeLimitMs, nonEmpty, type ModuleSchema } from '@ksr/core';

/** Default per-route time budget (ms): core's, shared by every engine. */
export const DEFAULT_ROUTE_TIME_LIMIT_MS = ROUTE_TIME_LIMIT.defaultMs;
/** Upper bound accepted for route_time_limit (ms). */
export const MAX_ROUTE_TIME_LIMIT_MS = ROUTE_TIME_LIMIT.maxMs;
/** The rank passed to child_init / script_child_init: ksr routes in one worker, Kamailio's first SIP worker is rank 1. */
export const CHILD_RANK = 1;

function identifier(v: string | number): string | undefined {
  return typeof v === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(v) ? undefined : 'expected a Python function name';
}

function optionalIdentifier(v: string | number): string | undefined {
  return v === '' ? undefined : identifier(v);
}

/**
 * modparam("app_python3", …) — class style:
 *  - load / script_name (str): the script (the last one given wins, as in Kamailio).
 *  - mod_init_function (str, default "mod_init"): called once at load; returns the handler object.
 *  - child_init_method (str, default "child_init"): handler method called with the worker rank.
 *  - threads_mode (int 0/1): accepted for compatibility; Pyodide has no threads.
 *  - route_time_limit (int, ms, ksr only, default 100): time budget of a route run; 0 = none.
 */
export const appPython3Module: ModuleSchema = {
  name: 'app_python3',
  params: {
    load: { type: 'str', check: nonEmpty('string') },
    script_name: { type: 'str', check: nonEmpty('string') },
    mod_init_function: { type: 'str', check: identifier },
    child_init_method: { type: 'str', check: optionalIdentifier },
    threads_mode: { type: 'int', check: intInRange(0, 1) },
    route_time_limit: { type: 'int', check: intInRange(0, MAX_ROUTE_TIME_LIMIT_MS) },
  },
};

/**
 * modparam("app_python3s", …) — script style:
 *  - load (str): the script.
 *  - script_init (str, default "script_init"): module function called once at load, if defined.
 *  - script_child_init (str, default "script_child_init"): module function called with the
 *    worker rank, if defined.
 *  - threads_mode (int 0/1): accepted for compatibility.
 *  - route_time_limit (int, ms, ksr only, default 100).
 */
export const appPython3sModule: ModuleSchema = {
  name: 'app_python3s',
  params: {
    load: { type: 'str', check: nonEmpty('string') },
    script_init: { type: 'str', check: optionalIdentifier },
    script_child_init: { type: 'str', check: optionalIdentifier },
    threads_mode: { type: 'int', check: intInRange(0, 1) },
    route_time_limit: { type: 'int', check: intInRange(0, MAX_ROUTE_TIME_LIMIT_MS) },
  },
};

export type PythonStyle = 'class' | 'script';

export interface PythonSettings {
  style: PythonStyle;
  /** Route time budget in ms; 0 = unlimited. */
  routeTimeLimitMs: number;
  /** Budget for loading the script (top level + init functions); 0 = unlimited. */
  loadTimeLimitMs: number;
  modInit: string;
  childInit: string;
  scriptInit: string;
  scriptChildInit: string;
}

type Params = ReadonlyMap<string, ReadonlyArray<string | number>>;

function last(params: Params, name: string): string | number | undefined {
  const v = params.get(name);
  return v && v.length > 0 ? v[v.length - 1] : undefined;
}

function str(params: Params, name: string, dflt: string): string {
  const v = last(params, name);
  return v === undefined ? dflt : String(v).trim();
}

function int(params: Params, name: string, dflt: number, min: number, max: number, module: string): number {
  const v = last(params, name);
  if (v === undefined) return dflt;
  const n = typeof v === 'number' ? v : Number(String(v).trim());
  if (!Number.isInteger(n) || n < min || n > max) throw new RangeError(`modparam ${module} ${name}: expected an integer between ${min} and ${max}, got ${String(v)}`);
  return n;
}

/** Read the engine settings from the modparams (already checked by the config loader). */
export function readSettings(style: PythonStyle, params: Params): PythonSettings {
  const module = style === 'class' ? 'app_python3' : 'app_python3s';
  const routeTimeLimitMs = int(params, 'route_time_limit', DEFAULT_ROUTE_TIME_LIMIT_MS, 0, MAX_ROUTE_TIME_LIMIT_MS, module);
  const s: PythonSettings = {
    style,
    routeTimeLimitMs,
    loadTimeLimitMs: loadTimeLimitMs(routeTimeLimitMs),
    modInit: str(params, 'mod_init_function', 'mod_init'),
    childInit: str(params, 'child_init_method', 'child_init'),
    scriptInit: str(params, 'script_init', 'script_init'),
    scriptChildInit: str(params, 'script_child_init', 'script_child_init'),
  };
  for (const [k, v] of [['mod_init_function', s.modInit]] as const) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(v)) throw new RangeError(`modparam ${module} ${k}: expected a Python function name, got ${v}`);
  }
  return s;
}
