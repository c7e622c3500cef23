/**
 * The module interface (Kamailio's module exports + fastify's plugin contract): a module is a
 * static definition — name, parameter schema, dependencies — and a `create` function that builds
 * its instance once the config is known. The instance carries the module's KEMI export table
 * (bound as KSR.<kemiName>), an optional typed API for modules that depend on it, and cleanup.
 * Modules import only @ksr/core; they reach each other only through `ctx.api(name)`.
 */
import type { KsrConfig, ModuleParamSpec, ModuleSchema } from '../config/index.js';
import type { KemiExportDef } from '../kemi/types.js';
import type { Logger } from '../log.js';
import type { PvRegistry } from '../pv/index.js';
import type { RpcCommand } from '../rpc/index.js';
import type { RouteContext, SharedVars, WorkerVars } from '../routing/context.js';
import type { SipResponse } from '../sip/index.js';
import type { StatsRegistry } from '../stats/index.js';
import type { ReceiveInfo } from '../transport/index.js';

/** A module's modparams, by parameter name; repeated parameters keep every value in order. */
export class ModuleParams {
  constructor(
    readonly module: string,
    private readonly values: ReadonlyMap<string, ReadonlyArray<string | number>>,
  ) {}

  has(name: string): boolean {
    return this.values.has(name);
  }

  /** The last value given (Kamailio: a later modparam overrides an earlier one). */
  get(name: string): string | number | undefined {
    return this.values.get(name)?.at(-1);
  }

  /** Every value given, for parameters that may repeat (htable "htable", pv "shvset"). */
  all(name: string): ReadonlyArray<string | number> {
    return this.values.get(name) ?? [];
  }

  int(name: string, dflt: number): number {
    const v = this.get(name);
    if (v === undefined) return dflt;
    const n = typeof v === 'number' ? v : Number(v);
    return Number.isFinite(n) ? Math.trunc(n) : dflt;
  }

  str(name: string, dflt: string): string {
    const v = this.get(name);
    return v === undefined ? dflt : String(v);
  }
}

/** Timers through one door, so tests can drive expiry with a fake clock. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** A repeating timer that does not keep the process alive. */
  every(ms: number, fn: () => void): { cancel(): void };
}

export const systemClock: Clock = {
  now: () => Date.now(),
  every(ms, fn) {
    const t = setInterval(fn, ms);
    t.unref();
    return { cancel: () => clearInterval(t) };
  },
};

/**
 * Run-time event routes (Kamailio's per-module `event_callback`): the script function `callback` is
 * called with the event name (e.g. "htable:expired:ipban"), synchronously, on a faked message.
 */
export interface ModuleEvents {
  /** false when no routing engine is attached yet or the script lacks the function (logged). */
  run(callback: string, event: string): boolean;
}

export interface ModuleContext {
  readonly name: string;
  readonly logger: Logger;
  readonly params: ModuleParams;
  readonly config: KsrConfig;
  readonly clock: Clock;
  readonly stats: StatsRegistry;
  /** The pseudo-variable classes (a module may add its own, e.g. htable's $sht). */
  readonly pv: PvRegistry;
  /** $shv storage (pv module's shvset). */
  readonly shv: SharedVars;
  /** $var storage of this worker (pv module's varset). */
  readonly vars: WorkerVars;
  /**
   * The API of a module this one declared in `dependencies`, or in `optionalDependencies` (undefined
   * when that module is not loaded). Throws for a module it did not declare.
   */
  api<T>(module: string): T;
  /** Run-time event routes; absent where no server runs the module (unit tests build contexts by hand). */
  readonly events?: ModuleEvents;
}

export interface ModuleInstance {
  /** The KEMI export table, bound as KSR.<kemiName>. */
  readonly exports?: readonly KemiExportDef<RouteContext>[];
  /** What dependent modules get from ctx.api(name). */
  readonly api?: unknown;
  /**
   * Called for every request before the request route runs; returning true absorbs the request
   * (sl: an ACK to one of its own replies). Keep it cheap: it runs on every request.
   */
  filterRequest?(ctx: RouteContext): boolean;
  /**
   * Called for every reply after the core reply route (unless it dropped the reply) and before
   * stateless forwarding; returning true means the module took the reply (tm: a reply of one of
   * its transactions).
   */
  filterResponse?(res: SipResponse, info: ReceiveInfo): boolean;
  /**
   * Event routes to run once the script is loaded (e.g. htable's `htable:mod-init` with the
   * function named by its event_callback modparam): the function is called with the event name.
   */
  readonly startupEvents?: ReadonlyArray<{ readonly event: string; readonly callback: string }>;
  /** RPC commands of the module ("ul.dump" …), served by jsonrpcs / `ksr ctl`. */
  readonly rpc?: readonly RpcCommand[];
  /** Stop timers, flush state. */
  destroy?(): void | Promise<void>;
}

export interface KsrModuleDef {
  /** The name `loadmodule "<name>.so"` uses. */
  readonly name: string;
  /** KSR.<kemiName>; defaults to `name`; null when the module exports no KEMI functions. */
  readonly kemiName?: string | null;
  /** The modparam schema the config loader checks. */
  readonly params: Readonly<Record<string, ModuleParamSpec>>;
  /** Modules that must be loaded (before this one) for it to work. */
  readonly dependencies?: readonly string[];
  /** Modules used when loaded (their API may be absent). */
  readonly optionalDependencies?: readonly string[];
  create(ctx: ModuleContext): ModuleInstance | Promise<ModuleInstance>;
}

/** Identity with type checking: `export default defineModule({ … })`. */
export function defineModule(def: KsrModuleDef): KsrModuleDef {
  return def;
}

/** The part of a module the config loader needs. */
export function moduleSchema(def: KsrModuleDef): ModuleSchema {
  return { name: def.name, params: def.params };
}
