/**
 * Test support for module unit tests: a ModuleContext built by hand, a fake clock whose timers run
 * when the test advances it, and a logger that records what was logged.
 */
import { Writable } from 'node:stream';
import {
  MemorySharedVars,
  ModuleParams,
  StatsRegistry,
  createLogger,
  createPvRegistry,
  type Clock,
  type KsrConfig,
  type KsrModuleDef,
  type Logger,
  type ModuleContext,
  type ModuleInstance,
  type PvRegistry,
  type SharedVars,
  type WorkerVars,
} from '@ksr/core';

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

export function emptyConfig(): KsrConfig {
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
  };
}

export interface TestModuleContext extends ModuleContext {
  readonly clock: FakeClock;
  readonly pv: PvRegistry;
  readonly shv: SharedVars;
  readonly vars: WorkerVars;
}

/** A hand-built ModuleContext: params by name (an array for a repeated modparam). */
export function moduleContext(
  name: string,
  params: Record<string, string | number | Array<string | number>> = {},
  opts: { clock?: FakeClock; logger?: Logger; pv?: PvRegistry; shv?: SharedVars; vars?: WorkerVars; apis?: Record<string, unknown> } = {},
): TestModuleContext {
  const values = new Map<string, Array<string | number>>();
  for (const [k, v] of Object.entries(params)) values.set(k, Array.isArray(v) ? v : [v]);
  const logger = opts.logger ?? recordingLogger().logger;
  return {
    name,
    logger,
    params: new ModuleParams(name, values),
    config: emptyConfig(),
    clock: opts.clock ?? new FakeClock(),
    stats: new StatsRegistry(),
    pv: opts.pv ?? createPvRegistry(),
    shv: opts.shv ?? new MemorySharedVars(),
    vars: opts.vars ?? new Map(),
    api<T>(dep: string): T {
      return opts.apis?.[dep] as T;
    },
  };
}

/** Create a module instance and index its exports by name. */
export async function instantiate(
  def: KsrModuleDef,
  ctx: ModuleContext,
): Promise<{ instance: ModuleInstance; fn: (name: string) => (...args: unknown[]) => unknown }> {
  const instance = await def.create(ctx);
  const byName = new Map((instance.exports ?? []).map((e) => [e.name, e]));
  return {
    instance,
    fn(name) {
      const e = byName.get(name);
      if (!e) throw new Error(`no export ${name}`);
      return e.fn as (...args: unknown[]) => unknown;
    },
  };
}
