/**
 * Test support shared by the module tests: a manual clock that drives module timers, a logger
 * that keeps every line, and an empty config to build module contexts from.
 */
import { Writable } from 'node:stream';
import {
  MemorySharedVars,
  ModuleParams,
  StatsRegistry,
  createLogger,
  createPvRegistry,
  type Clock,
  type KemiExportDef,
  type KsrConfig,
  type KsrModuleDef,
  type Logger,
  type ModuleContext,
  type ModuleInstance,
  type PvRegistry,
  type SharedVars,
  type WorkerVars,
} from '@ksr/core';

/** A Clock whose time only moves when the test says so. */
export class FakeClock implements Clock {
  private timers: Array<{ every: number; due: number; fn: () => void; cancelled: boolean }> = [];
  constructor(public t = 1_700_000_000_000) {}
  now(): number {
    return this.t;
  }
  every(ms: number, fn: () => void): { cancel(): void } {
    const timer = { every: ms, due: this.t + ms, fn, cancelled: false };
    this.timers.push(timer);
    return {
      cancel: () => {
        timer.cancelled = true;
      },
    };
  }
  /** Move time forward, running each timer as often as it falls due, in time order. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const next = this.timers.filter((x) => !x.cancelled && x.due <= end).sort((a, b) => a.due - b.due)[0];
      if (!next) break;
      this.t = next.due;
      next.due += next.every;
      next.fn();
    }
    this.t = end;
  }
  get activeTimers(): number {
    return this.timers.filter((x) => !x.cancelled).length;
  }
}

/** A logger that keeps every line (parsed JSON) for assertions. */
export function recordingLogger(): { logger: Logger; lines: Array<{ level: number; msg: string }> } {
  const lines: Array<{ level: number; msg: string }> = [];
  const dest = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim()) lines.push(JSON.parse(l) as { level: number; msg: string });
      cb();
    },
  });
  return { logger: createLogger({ level: 'trace', destination: dest }), lines };
}

/** A config with nothing in it, optionally with some fields set. */
export function testConfig(over: Partial<KsrConfig> = {}): KsrConfig {
  return {
    file: 'test.cfg',
    defines: new Map(),
    globals: new Map(),
    listen: [],
    aliases: [],
    modules: [],
    modparams: [],
    routeBlocks: [],
    warnings: [],
    files: [],
    ...over,
  };
}

export interface TestModuleContextOptions {
  clock?: Clock;
  logger?: Logger;
  pv?: PvRegistry;
  stats?: StatsRegistry;
  shv?: SharedVars;
  vars?: WorkerVars;
  config?: KsrConfig;
  /** APIs of other modules, by module name. */
  apis?: Record<string, unknown>;
  /** When given, api() refuses modules outside this list, as the server does for undeclared dependencies. */
  declared?: readonly string[];
}

/**
 * A hand-built ModuleContext: modparams by name (an array for a repeated modparam), a fake clock,
 * fresh PV/stats/vars stores unless the test passes its own.
 */
export function testModuleContext(
  name: string,
  params: Record<string, string | number | Array<string | number>> | ReadonlyMap<string, ReadonlyArray<string | number>> = {},
  opts: TestModuleContextOptions = {},
): ModuleContext & { shv: SharedVars; vars: WorkerVars } {
  const values =
    params instanceof Map
      ? (params as ReadonlyMap<string, ReadonlyArray<string | number>>)
      : new Map(Object.entries(params as Record<string, string | number | Array<string | number>>).map(([k, v]) => [k, Array.isArray(v) ? v : [v]]));
  const allowed = opts.declared ? new Set(opts.declared) : undefined;
  return {
    name,
    logger: opts.logger ?? recordingLogger().logger,
    params: new ModuleParams(name, values),
    config: opts.config ?? testConfig(),
    clock: opts.clock ?? new FakeClock(),
    stats: opts.stats ?? new StatsRegistry(),
    pv: opts.pv ?? createPvRegistry(),
    shv: opts.shv ?? new MemorySharedVars(),
    vars: opts.vars ?? new Map(),
    api<T>(dep: string): T {
      if (allowed && !allowed.has(dep)) throw new Error(`module ${name} asked for the API of ${dep}, which it does not declare`);
      return opts.apis?.[dep] as T;
    },
  };
}

/** Create a module instance and index its KEMI exports by name. */
export type Fn = (...args: unknown[]) => unknown;

export async function instantiate(def: KsrModuleDef, ctx: ModuleContext): Promise<{ instance: ModuleInstance; fn: (name: string) => Fn; defs: Map<string, KemiExportDef> }> {
  const instance = await def.create(ctx);
  const defs = new Map((instance.exports ?? []).map((e) => [e.name, e as KemiExportDef]));
  return {
    instance,
    defs,
    fn: (name) => {
      const e = defs.get(name);
      if (!e) throw new Error(`no export ${name}`);
      return e.fn as Fn;
    },
  };
}
