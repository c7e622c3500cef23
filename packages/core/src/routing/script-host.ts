import { ErrorCodes, KsrError } from '../errors.js';
import type { Logger } from '../log.js';
import type { RouteContext } from './context.js';
import type { EngineDescriptor, EngineLoadOptions, ScriptEngine } from './engine.js';
import type { RouteRunResult, RouteRuntime } from './runtime.js';

export type ReloadOutcome = { ok: true; generation: number; ms: number } | { ok: false; error: string; generation: number };

/**
 * Owns the interpreter generations of one engine. `reload()` builds a fresh interpreter, loads
 * and validates the script there, and only then swaps it in. Route runs are synchronous, so the
 * swap always falls between two messages; the old interpreter is disposed once no run is using
 * it. A failed reload keeps the running interpreter and returns the error text to the caller.
 */
export class ScriptHost {
  private engine: ScriptEngine | undefined;
  private gen = 0;
  private running = 0;
  private retired: ScriptEngine[] = [];
  private reloading: Promise<ReloadOutcome> | undefined;
  private readonly log: Logger;

  constructor(
    readonly descriptor: EngineDescriptor,
    private readonly loadOptions: EngineLoadOptions,
  ) {
    this.log = loadOptions.logger.child({ mod: `engine-${descriptor.name}` });
  }

  get generation(): number {
    return this.gen;
  }

  /** The interpreter serving now. */
  get current(): ScriptEngine {
    if (!this.engine) throw new KsrError(ErrorCodes.SCRIPT_LOAD, `engine ${this.descriptor.name} is not loaded`);
    return this.engine;
  }

  /** First load; rejects with KsrError(SCRIPT_LOAD) naming file:line. */
  async start(): Promise<void> {
    this.engine = await this.descriptor.load(this.loadOptions);
    this.gen = 1;
  }

  /** Mark a route run in the current interpreter (wrap synchronous runs with enter/leave). */
  enter(): ScriptEngine {
    this.running++;
    return this.current;
  }

  leave(): void {
    this.running--;
    if (this.running === 0 && this.retired.length > 0) this.disposeRetired();
  }

  /** Run `func` for `ctx` in the current interpreter (see RouteRuntime.run). */
  run(runtime: RouteRuntime, ctx: RouteContext, func: string, args: readonly string[] = []): RouteRunResult {
    const engine = this.enter();
    try {
      return runtime.run(engine, ctx, func, args);
    } finally {
      this.leave();
    }
  }

  /** Load the script into a fresh interpreter and swap it in; concurrent calls share one reload. */
  reload(): Promise<ReloadOutcome> {
    this.reloading ??= this.doReload().finally(() => {
      this.reloading = undefined;
    });
    return this.reloading;
  }

  private async doReload(): Promise<ReloadOutcome> {
    const t0 = performance.now();
    let fresh: ScriptEngine;
    try {
      fresh = await this.descriptor.load(this.loadOptions);
    } catch (err) {
      const error = (err as Error)?.message ?? String(err);
      this.log.error(`reload of ${this.loadOptions.script} failed, keeping generation ${this.gen}: ${error}`);
      return { ok: false, error, generation: this.gen };
    }
    const old = this.engine;
    this.engine = fresh;
    this.gen++;
    if (old) {
      this.retired.push(old);
      if (this.running === 0) this.disposeRetired();
    }
    const ms = performance.now() - t0;
    this.log.info(`reloaded ${this.loadOptions.script}: generation ${this.gen} (${ms.toFixed(1)} ms)`);
    return { ok: true, generation: this.gen, ms };
  }

  private disposeRetired(): void {
    for (const e of this.retired.splice(0)) {
      try {
        e.dispose();
      } catch (err) {
        this.log.warn({ err }, 'disposing an old interpreter failed');
      }
    }
  }

  dispose(): void {
    this.disposeRetired();
    this.engine?.dispose();
    this.engine = undefined;
  }
}
