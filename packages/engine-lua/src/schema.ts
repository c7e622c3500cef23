/**
 * The app_lua module: its modparams, as the config loader checks them, and how engine-lua reads
 * them. Kept free of fengari so listing the engine costs nothing until a Lua script is loaded.
 */
import { ROUTE_TIME_LIMIT, intInRange, loadTimeLimitMs, nonEmpty, type ModuleSchema } from '@ksr/core';

/** Default per-route time budget (ms): core's, shared by every engine. */
export const DEFAULT_ROUTE_TIME_LIMIT_MS = ROUTE_TIME_LIMIT.defaultMs;
/** Upper bound accepted for route_time_limit (ms): a route is not a batch job. */
export const MAX_ROUTE_TIME_LIMIT_MS = ROUTE_TIME_LIMIT.maxMs;
/** Default longest string (bytes) a script may make: 16 MiB. */
export const DEFAULT_MAX_STRING_SIZE = 16 * 1024 * 1024;
/** Upper bound accepted for max_string_size: fengari's own limit (2 GiB - 1). */
export const MAX_MAX_STRING_SIZE = 2_147_483_647;
/** Lower bound accepted for max_string_size (other than 0): error messages must still fit. */
export const MIN_MAX_STRING_SIZE = 1024;

function stringSize(v: string | number): string | undefined {
  const n = typeof v === 'number' ? v : Number(v);
  if (Number.isInteger(n) && (n === 0 || (n >= MIN_MAX_STRING_SIZE && n <= MAX_MAX_STRING_SIZE))) return undefined;
  return `expected 0 (no limit) or a size in bytes between ${MIN_MAX_STRING_SIZE} and ${MAX_MAX_STRING_SIZE}, got ${String(v)}`;
}

const nonEmptyPath = nonEmpty('path');

/**
 * modparam("app_lua", …):
 *  - load (str, repeatable): the script(s). The server routes with the one it names as the
 *    script; when several are given they are all loaded into the same interpreter.
 *  - reload (int): Kamailio's switch for the app_lua.reload RPC (reloads always build a fresh
 *    interpreter in ksr; the RPC layer may honour the switch).
 *  - log_mode (int): bit 1 logs every KSR function bound into the interpreter.
 *  - register (str, repeatable): the pre-KEMI app_lua "sr" submodule list; accepted and ignored
 *    (KSR.* follows the loaded modules).
 *  - route_time_limit (int, ms, ksr only): time budget of one route run; 0 = no limit.
 *  - search_path (str, repeatable, ksr only): folders `require` searches after the script's own.
 *  - max_string_size (int, bytes, ksr only): longest string a script may make (`..`, string.rep,
 *    gsub, format, table.concat, …), at least 1024; 0 = only fengari's own limit (2 GiB).
 */
export const appLuaModule: ModuleSchema = {
  name: 'app_lua',
  params: {
    load: { type: 'str', multi: true, check: nonEmptyPath },
    reload: { type: 'int', check: intInRange(0, 1) },
    log_mode: { type: 'int', check: intInRange(0, 0xffff) },
    register: { type: 'str', multi: true },
    route_time_limit: { type: 'int', check: intInRange(0, MAX_ROUTE_TIME_LIMIT_MS) },
    search_path: { type: 'str', multi: true, check: nonEmptyPath },
    max_string_size: { type: 'int', check: stringSize },
  },
};

export interface LuaEngineSettings {
  /** Route time budget in ms; 0 = unlimited. */
  routeTimeLimitMs: number;
  /** Budget for running the script's main chunk at load. */
  loadTimeLimitMs: number;
  /** Longest string (bytes) a script may make; Infinity = no limit of ksr's own. */
  maxStringSize: number;
  logMode: number;
  /** Extra require folders, as configured (resolved by the caller). */
  searchPaths: string[];
  /** Every `load` value, in modparam order. */
  loads: string[];
  /** Values of the ignored `register` param. */
  register: string[];
}

function last(values: ReadonlyArray<string | number> | undefined): string | number | undefined {
  return values && values.length > 0 ? values[values.length - 1] : undefined;
}

function intParam(values: ReadonlyArray<string | number> | undefined, dflt: number): number {
  const v = last(values);
  if (v === undefined) return dflt;
  const n = typeof v === 'number' ? v : Number(String(v).trim());
  return Number.isInteger(n) && n >= 0 ? n : dflt;
}

function strings(values: ReadonlyArray<string | number> | undefined): string[] {
  return (values ?? []).filter((v): v is string => typeof v === 'string' && v.trim() !== '');
}

export function readSettings(params: ReadonlyMap<string, ReadonlyArray<string | number>>): LuaEngineSettings {
  const routeTimeLimitMs = Math.min(intParam(params.get('route_time_limit'), DEFAULT_ROUTE_TIME_LIMIT_MS), MAX_ROUTE_TIME_LIMIT_MS);
  const maxString = Math.min(intParam(params.get('max_string_size'), DEFAULT_MAX_STRING_SIZE), MAX_MAX_STRING_SIZE);
  return {
    routeTimeLimitMs,
    loadTimeLimitMs: loadTimeLimitMs(routeTimeLimitMs),
    maxStringSize: maxString === 0 ? Infinity : Math.max(maxString, MIN_MAX_STRING_SIZE),
    logMode: intParam(params.get('log_mode'), 0),
    searchPaths: strings(params.get('search_path')),
    loads: strings(params.get('load')),
    register: strings(params.get('register')),
  };
}
