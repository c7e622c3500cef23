/**
 * The engine interface: how a script engine (Lua, JavaScript, Python, or a plain TypeScript test
 * engine) plugs into the route runtime. Core never imports an engine; the wiring hands core a
 * descriptor, and the descriptor loads an engine bound to the frozen registry.
 */
import type { ModuleSchema } from '../config/index.js';
import type { FrozenKemiRegistry } from '../kemi/registry.js';
import type { Logger } from '../log.js';
import type { RouteContext } from './context.js';

/** Where and why a script failed. `file`/`line`/`func` are filled in when the engine knows them. */
export interface ScriptError {
  message: string;
  file?: string;
  line?: number;
  func?: string;
  stack?: string;
}

export type EngineRunResult =
  /** The function returned normally (its return value does not matter, as in Kamailio). */
  | { kind: 'ok' }
  /** The script called KSR.x.exit() or KSR.x.drop() (or the Python equivalents). */
  | { kind: 'exit' }
  /** The script defines no function of that name. */
  | { kind: 'missing' }
  /** The script raised an error, ran past its time budget or memory limit. */
  | { kind: 'error'; error: ScriptError };

/**
 * The single entry point engines call for every KSR function: export id, the arguments as the
 * script passed them, and a way to ask for the script location (only called when an error is
 * logged). Returns the export's value; throws only the route-exit signal.
 */
export type Invoke = (id: number, args: readonly unknown[], where?: () => string | undefined) => unknown;

export interface ScriptEngine {
  /** Engine name as in cfgengine ("lua", "jsdt", "python", "python3s", …). */
  readonly engineName: string;
  /** The script file this interpreter loaded. */
  readonly scriptPath: string;
  hasFunction(name: string): boolean;
  /**
   * Run a function of the script with string arguments (the event name for event routes).
   * Never throws: every failure is a result.
   */
  run(func: string, args: readonly string[]): EngineRunResult;
  /** Free the interpreter. Called when no route runs in it any more. */
  dispose(): void;
}

export interface EngineLoadOptions {
  readonly registry: FrozenKemiRegistry<RouteContext>;
  readonly invoke: Invoke;
  readonly logger: Logger;
  /** Path of the script to load. */
  readonly script: string;
  /** The engine module's modparams (e.g. app_lua "reload"), by name; repeated params keep every value. */
  readonly params: ReadonlyMap<string, ReadonlyArray<string | number>>;
  /** Functions the script must define to be accepted (ksr_request_route or its configured name). */
  readonly requiredFunctions: readonly string[];
  /** Value of the KSRVERSION-like global engines expose. */
  readonly version: string;
}

export interface EngineDescriptor {
  /** Canonical engine name. */
  readonly name: string;
  /** Names `cfgengine` may use for it ("jsdt" and "js", …). */
  readonly cfgengineNames: readonly string[];
  /** The module `loadmodule` names to enable it (app_lua, app_jsdt, …) with its parameter schema. */
  readonly module: ModuleSchema;
  /** The modparam that names the script ("load", or "script_name" too for Python). */
  readonly scriptParams: readonly string[];
  /**
   * Build a fresh interpreter, bind the registry as KSR.*, load and validate the script.
   * Rejects with KsrError(KSR_ERR_SCRIPT_LOAD) naming file:line on a syntax error or a missing
   * required function.
   */
  load(opts: EngineLoadOptions): Promise<ScriptEngine>;
}

/**
 * The time budget every engine applies to a route run (modparam `route_time_limit`, ms; 0 = no
 * limit), and to loading a script: its top-level code gets `loadFactor` times the route budget,
 * at least `minLoadMs`.
 */
export const ROUTE_TIME_LIMIT = { defaultMs: 100, maxMs: 60_000, loadFactor: 10, minLoadMs: 1000 } as const;

/** The load-time budget for a route budget (0 stays 0: no limit). */
export function loadTimeLimitMs(routeMs: number): number {
  return routeMs === 0 ? 0 : Math.max(routeMs * ROUTE_TIME_LIMIT.loadFactor, ROUTE_TIME_LIMIT.minLoadMs);
}
