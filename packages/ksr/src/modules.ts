import {
  ConfigError,
  ModuleParams,
  StatsRegistry,
  pvRegistry,
  systemClock,
  type Clock,
  type KemiExportDef,
  type KsrConfig,
  type KsrModuleDef,
  type Logger,
  type ModuleInstance,
  type RouteContext,
  type RouteServices,
  type ReceiveInfo,
  type SipResponse,
} from '@ksr/core';

export interface LoadedModule {
  readonly def: KsrModuleDef;
  readonly instance: ModuleInstance;
}

export interface LoadedModules {
  readonly list: readonly LoadedModule[];
  readonly stats: StatsRegistry;
  /** KEMI tables to register: [KSR name, exports], in load order. */
  kemiTables(): Array<[string, readonly KemiExportDef<RouteContext>[]]>;
  api<T>(module: string): T | undefined;
  /** Attach the routing that runs modules' run-time event routes (before: run() logs and returns false). */
  attachEvents(run: (callback: string, event: string) => boolean): void;
  /** The modules' request filters (run before the request route), in load order. */
  requestFilters(): Array<(ctx: RouteContext) => boolean>;
  /** The modules' response filters (run after the reply route, before stateless forwarding). */
  responseFilters(): Array<(res: SipResponse, info: ReceiveInfo) => boolean>;
  destroy(): Promise<void>;
}

/**
 * Instantiate the modules the config loads (`loadmodule`), in config order. A module's
 * dependencies must be loaded before it (as Kamailio requires); modules ksr implements in core
 * (kemix) or as script engines (app_*) are skipped here.
 */
export async function loadModules(
  cfg: KsrConfig,
  defs: readonly KsrModuleDef[],
  services: RouteServices,
  logger: Logger,
  opts: { clock?: Clock; stats?: StatsRegistry } = {},
): Promise<LoadedModules> {
  const byName = new Map(defs.map((d) => [d.name, d]));
  const stats = opts.stats ?? new StatsRegistry();
  const loaded: LoadedModule[] = [];
  const apis = new Map<string, unknown>();
  const seen = new Set<string>();
  let eventRunner: ((callback: string, event: string) => boolean) | undefined;
  const events = {
    run(callback: string, event: string): boolean {
      if (!eventRunner) {
        logger.warn(`event ${event}: no routing engine to run ${callback}`);
        return false;
      }
      return eventRunner(callback, event);
    },
  };
  for (const { name, loc } of cfg.modules) {
    const def = byName.get(name);
    if (!def || seen.has(name)) continue;
    seen.add(name);
    for (const dep of def.dependencies ?? []) {
      if (!seen.has(dep)) {
        const later = cfg.modules.some((m) => m.name === dep);
        throw new ConfigError(`module "${name}" needs module "${dep}"${later ? ' loaded before it' : ''}: add loadmodule "${dep}.so"`, loc);
      }
    }
    const values = new Map<string, Array<string | number>>();
    for (const mp of cfg.modparams) {
      if (mp.module !== name) continue;
      const list = values.get(mp.param) ?? [];
      list.push(mp.value);
      values.set(mp.param, list);
    }
    const allowed = new Set([...(def.dependencies ?? []), ...(def.optionalDependencies ?? [])]);
    let instance: ModuleInstance;
    try {
      instance = await def.create({
        name,
        logger: logger.child({ mod: name }),
        params: new ModuleParams(name, values),
        config: cfg,
        clock: opts.clock ?? systemClock,
        stats,
        pv: pvRegistry,
        shv: services.shv,
        vars: services.vars,
        events,
        api<T>(dep: string): T {
          if (!allowed.has(dep)) throw new Error(`module ${name} asked for the API of ${dep}, which it does not declare as a dependency`);
          return apis.get(dep) as T;
        },
      });
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      throw new ConfigError(`module "${name}" failed to initialise: ${(err as Error).message}`, loc, { cause: err });
    }
    if (instance.api !== undefined) apis.set(name, instance.api);
    loaded.push({ def, instance });
  }
  return {
    list: loaded,
    stats,
    kemiTables() {
      const out: Array<[string, readonly KemiExportDef<RouteContext>[]]> = [];
      for (const { def, instance } of loaded) {
        const kemi = def.kemiName === undefined ? def.name : def.kemiName;
        if (kemi === null || !instance.exports || instance.exports.length === 0) continue;
        out.push([kemi, instance.exports]);
      }
      return out;
    },
    api<T>(module: string): T | undefined {
      return apis.get(module) as T | undefined;
    },
    attachEvents(run) {
      eventRunner = run;
    },
    responseFilters() {
      const out: Array<(res: SipResponse, info: ReceiveInfo) => boolean> = [];
      for (const { instance } of loaded) if (instance.filterResponse) out.push((res, info) => instance.filterResponse!(res, info));
      return out;
    },
    requestFilters() {
      const out: Array<(ctx: RouteContext) => boolean> = [];
      for (const { instance } of loaded) if (instance.filterRequest) out.push((ctx) => instance.filterRequest!(ctx));
      return out;
    },
    async destroy() {
      for (const { def, instance } of [...loaded].reverse()) {
        try {
          await instance.destroy?.();
        } catch (err) {
          logger.warn({ err }, `module ${def.name}: destroy failed`);
        }
      }
    },
  };
}
