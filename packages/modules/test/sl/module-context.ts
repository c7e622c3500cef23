/**
 * Module instances for unit tests (sl, maxfwd, sanity, kex, xlog): a hand-built ModuleContext
 * with modparams, a fresh statistics registry, a logger that records what it was given, and the
 * APIs of other modules passed in by name.
 */
import {
  StatsRegistry,
  createPvRegistry,
  silentLogger,
  type KemiExportDef,
  type KsrConfig,
  type KsrModuleDef,
  type Logger,
  type ModuleContext,
  type ModuleInstance,
  type PvRegistry,
  type RouteContext,
} from '@ksr/core';
import { testConfig, testModuleContext } from '../support/common.js';

export { testConfig } from '../support/common.js';

export interface LoggedLine {
  level: string;
  obj: Record<string, unknown>;
  msg: string;
}

/** A pino-like logger that records every line at or above its level. */
export function recordingLogger(level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' = 'trace'): Logger & { lines: LoggedLine[] } {
  const order = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];
  const lines: LoggedLine[] = [];
  const state = { level: level as string };
  const at =
    (lv: string) =>
    (a: unknown, b?: unknown): void => {
      if (order.indexOf(lv) < order.indexOf(state.level)) return;
      if (typeof a === 'string') lines.push({ level: lv, obj: {}, msg: a });
      else lines.push({ level: lv, obj: (a ?? {}) as Record<string, unknown>, msg: typeof b === 'string' ? b : '' });
    };
  const logger = {
    lines,
    get level() {
      return state.level;
    },
    set level(v: string) {
      state.level = v;
    },
    isLevelEnabled: (lv: string) => order.indexOf(lv) >= order.indexOf(state.level),
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    fatal: at('fatal'),
    child: () => logger,
  };
  return logger as unknown as Logger & { lines: LoggedLine[] };
}

export interface TestModule {
  instance: ModuleInstance;
  stats: StatsRegistry;
  logger: Logger & { lines: LoggedLine[] };
  pv: PvRegistry;
  /** The export named `name` (throws when absent). */
  fn(name: string): KemiExportDef<RouteContext>['fn'];
  exp(name: string): KemiExportDef<RouteContext>;
  api<T>(): T;
}

export async function createModule(
  def: KsrModuleDef,
  opts: {
    params?: Record<string, string | number | Array<string | number>>;
    apis?: Record<string, unknown>;
    config?: KsrConfig;
    stats?: StatsRegistry;
    pv?: PvRegistry;
  } = {},
): Promise<TestModule> {
  const values = new Map<string, Array<string | number>>();
  for (const [k, v] of Object.entries(opts.params ?? {})) values.set(k, Array.isArray(v) ? v : [v]);
  for (const [k, vs] of values) {
    const spec = def.params[k];
    if (!spec) throw new Error(`module ${def.name} has no parameter ${k}`);
    for (const v of vs) {
      const err = spec.check?.(v);
      if (err) throw new Error(`modparam ${def.name} ${k}: ${err}`);
    }
  }
  const stats = opts.stats ?? new StatsRegistry();
  const logger = recordingLogger();
  const pv = opts.pv ?? createPvRegistry();
  const mctx: ModuleContext = testModuleContext(def.name, values, {
    logger,
    config: opts.config ?? testConfig(),
    clock: { now: () => Date.now(), every: () => ({ cancel() {} }) },
    stats,
    pv,
    ...(opts.apis ? { apis: opts.apis } : {}),
    declared: [...(def.dependencies ?? []), ...(def.optionalDependencies ?? [])],
  });
  const instance = await def.create(mctx);
  const exp = (name: string): KemiExportDef<RouteContext> => {
    const e = instance.exports?.find((x) => x.name === name);
    if (!e) throw new Error(`module ${def.name} has no export ${name}`);
    return e;
  };
  return {
    instance,
    stats,
    logger,
    pv,
    exp,
    fn: (name) => exp(name).fn,
    api: <T>() => instance.api as T,
  };
}

export { silentLogger };
