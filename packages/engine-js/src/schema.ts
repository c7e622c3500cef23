/**
 * The app_jsdt module: its modparams as the config loader checks them, and how engine-js reads
 * them. Kept free of QuickJS so listing the engine costs nothing until a JS script is loaded.
 */
import { ROUTE_TIME_LIMIT, intInRange, loadTimeLimitMs, nonEmpty, type ModuleSchema } from '@ksr/core';

/** Default per-route time budget (ms): core's, shared by every engine. */
export const DEFAULT_ROUTE_TIME_LIMIT_MS = ROUTE_TIME_LIMIT.defaultMs;
/** Upper bound accepted for route_time_limit (ms): a route is not a batch job. */
export const MAX_ROUTE_TIME_LIMIT_MS = ROUTE_TIME_LIMIT.maxMs;

/** Default heap budget (MB) of one interpreter, on top of the fixed 16 MB base (see README). */
export const DEFAULT_MEMORY_LIMIT_MB = 64;
export const MIN_MEMORY_LIMIT_MB = 8;
/** wasm32 linear memory ends at 4 GB; Emscripten's build here stops growing at 2 GB. */
export const MAX_MEMORY_LIMIT_MB = 2000;

/**
 * Default JS stack budget (KB). Deliberately below the 256 KB first planned: QuickJS checks its
 * stack limit against the wasm shadow stack, but some C paths (JSON.parse/stringify of deeply
 * nested data, Array.prototype.join/toString of nested arrays) recurse mostly on the *native*
 * V8 stack. From a shallow Node stack, 64 KB kept every probed path inside QuickJS ("stack
 * overflow" InternalError), while 128 KB already let JSON.stringify overflow V8 and 256 KB let
 * JSON.parse do it. 64 KB still allows ~370 nested plain JS calls. Larger values are accepted;
 * a native overflow is then contained by rebuilding the interpreter (README, "Crash recovery").
 */
export const DEFAULT_STACK_LIMIT_KB = 64;
export const MIN_STACK_LIMIT_KB = 16;
/** Above this even plain JS recursion can overflow the host (V8) stack before QuickJS notices. */
export const MAX_STACK_LIMIT_KB = 256;

/**
 * modparam("app_jsdt", …):
 *  - load (str): the script file. Given several times, the last one wins (Kamailio keeps one).
 *  - mode (int, 0/1, default 1): Kamailio's switch for its module (require) API. In ksr, 1 allows
 *    `import` / `import()` of files from the script's folder, 0 refuses every import.
 *  - route_time_limit (int, ms, ksr only, default 100): time budget of one route run; 0 = none.
 *  - memory_limit (int, MB, ksr only, default 64): heap budget of the interpreter.
 *  - stack_limit (int, KB, ksr only, default 64): JS stack budget (see DEFAULT_STACK_LIMIT_KB).
 */
export const appJsdtModule: ModuleSchema = {
  name: 'app_jsdt',
  params: {
    load: { type: 'str', check: nonEmpty('path') },
    mode: { type: 'int', check: intInRange(0, 1) },
    route_time_limit: { type: 'int', check: intInRange(0, MAX_ROUTE_TIME_LIMIT_MS) },
    memory_limit: { type: 'int', check: intInRange(MIN_MEMORY_LIMIT_MB, MAX_MEMORY_LIMIT_MB) },
    stack_limit: { type: 'int', check: intInRange(MIN_STACK_LIMIT_KB, MAX_STACK_LIMIT_KB) },
  },
};

export interface JsdtSettings {
  /** Route time budget in ms; 0 = unlimited. */
  routeTimeLimitMs: number;
  /** Budget for evaluating the script at load (and at a rebuild); 0 = unlimited. */
  loadTimeLimitMs: number;
  memoryLimitMb: number;
  stackLimitKb: number;
  /** 1: imports from the script folder allowed; 0: no module loading. */
  mode: number;
}

function last(values: ReadonlyArray<string | number> | undefined): string | number | undefined {
  return values && values.length > 0 ? values[values.length - 1] : undefined;
}

function intParam(values: ReadonlyArray<string | number> | undefined, dflt: number, min: number, max: number, name: string): number {
  const v = last(values);
  if (v === undefined) return dflt;
  const n = typeof v === 'number' ? v : Number(String(v).trim());
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new RangeError(`modparam app_jsdt ${name}: expected an integer between ${min} and ${max}, got ${String(v)}`);
  }
  return n;
}

/** Read the engine settings from the module's modparams (values already checked by the config loader). */
export function readSettings(params: ReadonlyMap<string, ReadonlyArray<string | number>>): JsdtSettings {
  const routeTimeLimitMs = intParam(params.get('route_time_limit'), DEFAULT_ROUTE_TIME_LIMIT_MS, 0, MAX_ROUTE_TIME_LIMIT_MS, 'route_time_limit');
  return {
    routeTimeLimitMs,
    loadTimeLimitMs: loadTimeLimitMs(routeTimeLimitMs),
    memoryLimitMb: intParam(params.get('memory_limit'), DEFAULT_MEMORY_LIMIT_MB, MIN_MEMORY_LIMIT_MB, MAX_MEMORY_LIMIT_MB, 'memory_limit'),
    stackLimitKb: intParam(params.get('stack_limit'), DEFAULT_STACK_LIMIT_KB, MIN_STACK_LIMIT_KB, MAX_STACK_LIMIT_KB, 'stack_limit'),
    mode: intParam(params.get('mode'), 1, 0, 1, 'mode'),
  };
}
