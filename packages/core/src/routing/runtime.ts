/**
 * The route runtime: runs a script's route functions for each message, and is the single door
 * through which every KSR function call passes (argument checks, the current context, errors).
 */
import { ErrorCodes, KsrError } from '../errors.js';
import { coerceArgs, normaliseReturn } from '../kemi/convention.js';
import type { FrozenKemiRegistry } from '../kemi/registry.js';
import { failureValue, type KemiExport } from '../kemi/types.js';
import type { Logger } from '../log.js';
import type { RouteContext } from './context.js';
import type { EngineRunResult, ScriptEngine, ScriptError } from './engine.js';

/**
 * Thrown by KSR.x.exit() / KSR.x.drop() to end the route. It is one object that only the
 * runtime and the engines know (not a string a script could throw or match). Engines unwind the
 * script when a KSR call throws it and report `{ kind: 'exit' }`.
 */
export class RouteExitSignal {
  readonly name = 'RouteExitSignal';
  toString(): string {
    return 'route exit';
  }
}
export const ROUTE_EXIT: RouteExitSignal = Object.freeze(new RouteExitSignal());

export function isRouteExit(e: unknown): e is RouteExitSignal {
  return e === ROUTE_EXIT;
}

/** What happens to a request whose route raised an error before it was answered or relayed. */
export type ErrorOutcome = { kind: 'reply'; status: number; reason: string } | { kind: 'drop' };

type LogLevelName = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/** The latency_* settings (see RouteRuntimeOptions). */
export interface LatencySettings {
  latencyLogLevel?: LogLevelName;
  latencyLimitUs?: number;
  actionLatency?: { limitUs: number; level: LogLevelName };
}

export interface RouteRuntimeOptions {
  registry: FrozenKemiRegistry<RouteContext>;
  logger: Logger;
  /** Default: reply 500 "Server Internal Error". */
  errorOutcome?: ErrorOutcome;
  /**
   * Log "request-route executed in: N usec" (and reply-route) at this pino level for every run,
   * like Kamailio's latency_cfg_log; undefined = off.
   */
  latencyLogLevel?: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
  /** latency_limit_cfg: only runs that took at least this many microseconds are logged (default 0). */
  latencyLimitUs?: number;
  /**
   * latency_limit_action / latency_log: a KSR call that takes at least `limitUs` microseconds is
   * logged at `level` naming KSR.module.function and the script location. Off when absent or 0.
   */
  actionLatency?: { limitUs: number; level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' };
  /**
   * Told of every route run once it ended: its context, function, duration in seconds and
   * outcome (the server's statistics and the route-time histogram).
   */
  onRouteDone?: (ctx: RouteContext, func: string, seconds: number, kind: EngineRunResult['kind']) => void;
  /** A context used when a KSR function runs outside any route (script init code). */
  initContext?: () => RouteContext;
}

export interface RouteRunResult {
  kind: EngineRunResult['kind'];
  /** KSR.x.drop() / set_drop() was called: the message of this route is not sent. */
  dropped: boolean;
}

const MAX_LOGGED_ERROR = 2000;

function truncate(s: string, max = MAX_LOGGED_ERROR): string {
  return s.length > max ? `${s.slice(0, max)}… (${s.length - max} more characters)` : s;
}

export function formatScriptError(e: ScriptError): string {
  const where = e.file ? `${e.file}${e.line !== undefined ? `:${e.line}` : ''}` : 'unknown location';
  return `${where}${e.func ? ` in ${e.func}` : ''}: ${truncate(e.message)}`;
}

export class RouteRuntime {
  private readonly exports: readonly KemiExport<RouteContext>[];
  private readonly log: Logger;
  private readonly opts: RouteRuntimeOptions;
  private currentCtx: RouteContext | undefined;
  private fallbackCtx: RouteContext | undefined;
  /** Route runs are timed when something wants the time (latency log, observer). */
  private timed = false;
  private latencyLevel: LatencySettings['latencyLogLevel'];
  private latencyLimitUs = 0;
  /** latency_limit_action in nanoseconds; 0n = KSR calls are not timed. */
  private actionLimitNs = 0n;
  private actionLevel: LogLevelName = 'error';
  /** Bound once so engines can keep a plain function reference. */
  readonly invoke: (id: number, args: readonly unknown[], where?: () => string | undefined) => unknown;

  constructor(opts: RouteRuntimeOptions) {
    this.opts = opts;
    this.exports = opts.registry.exports;
    this.log = opts.logger.child({ mod: 'kemi' });
    this.invoke = (id, args, where) => this.call(id, args, where);
    this.setLatency(opts);
  }

  /**
   * Change the latency settings at run time (cfg.set core latency_*): the route-time log level
   * and threshold, and the slow-call alert. Fields left out are turned off.
   */
  setLatency(l: LatencySettings): void {
    this.latencyLevel = l.latencyLogLevel;
    this.latencyLimitUs = l.latencyLimitUs ?? 0;
    const limit = l.actionLatency?.limitUs ?? 0;
    this.actionLimitNs = limit > 0 ? BigInt(Math.trunc(limit)) * 1000n : 0n;
    this.actionLevel = l.actionLatency?.level ?? 'error';
    this.timed = this.latencyLevel !== undefined || this.opts.onRouteDone !== undefined;
  }

  /** The context of the route that is running, if any. */
  get current(): RouteContext | undefined {
    return this.currentCtx;
  }

  private contextForCall(): RouteContext | undefined {
    if (this.currentCtx) return this.currentCtx;
    if (!this.opts.initContext) return undefined;
    this.fallbackCtx ??= this.opts.initContext();
    return this.fallbackCtx;
  }

  private call(id: number, args: readonly unknown[], where?: () => string | undefined): unknown {
    const exp = this.exports[id];
    if (!exp) throw new KsrError(ErrorCodes.KEMI_INVALID, `no KSR export with id ${id}`);
    const ctx = this.contextForCall();
    if (!ctx) {
      this.log.error(`${exp.qualified} called outside a route${this.at(where)}`);
      return failureValue(exp.returns);
    }
    // A script that caught the exit signal (pcall, try/catch) is ended again at its next call.
    if (ctx.exitRequested && this.currentCtx) throw ROUTE_EXIT;
    const coerced = coerceArgs(exp, args);
    if (typeof coerced === 'string') {
      this.log.error(`${coerced}${this.at(where)}`);
      return failureValue(exp.returns);
    }
    let raw: unknown;
    // latency_limit_action: one comparison when off
    const t0 = this.actionLimitNs !== 0n ? process.hrtime.bigint() : 0n;
    try {
      raw = exp.fn(ctx, ...coerced);
    } catch (err) {
      if (err === ROUTE_EXIT) throw err;
      this.log.error({ err }, `${exp.qualified} failed: ${(err as Error)?.message ?? String(err)}${this.at(where)}`);
      return failureValue(exp.returns);
    } finally {
      if (t0 !== 0n) this.checkActionLatency(exp.qualified, t0, where);
    }
    const n = normaliseReturn(exp.returns, raw);
    if (n.bug) this.log.error(`${exp.qualified} ${n.bug} (a ksr bug)`);
    if (exp.returns === 'int') ctx.lastReturn = n.value as number;
    return n.value;
  }

  private checkActionLatency(qualified: string, t0: bigint, where?: () => string | undefined): void {
    const ns = process.hrtime.bigint() - t0;
    if (ns < this.actionLimitNs) return;
    const level = this.actionLevel;
    this.log[level](`alert - action ${qualified}(...) took too long [${ns / 1000n} us]${this.at(where)}`);
  }

  private at(where?: () => string | undefined): string {
    if (!where) return '';
    let loc: string | undefined;
    try {
      loc = where();
    } catch {
      loc = undefined;
    }
    return loc ? ` (at ${loc})` : '';
  }

  /**
   * Run `func` of the engine's script for `ctx`. Script flags start at 0 and are restored after;
   * nested runs (a route function triggered while another runs) save and restore the current
   * context. Errors are logged with file, line, function and Call-ID, and a request that was not
   * answered or relayed gets the error outcome.
   */
  run(engine: ScriptEngine, ctx: RouteContext, func: string, args: readonly string[] = []): RouteRunResult {
    const prevCtx = this.currentCtx;
    const prevFlags = ctx.scriptFlags;
    const prevExit = ctx.exitRequested;
    ctx.scriptFlags = 0;
    ctx.exitRequested = false;
    this.currentCtx = ctx;
    const t0 = this.timed ? process.hrtime.bigint() : 0n;
    let res: EngineRunResult;
    try {
      res = engine.run(func, args);
    } catch (err) {
      // engines promise not to throw; if one does, it is still the script's failure, not the server's
      res = err === ROUTE_EXIT ? { kind: 'exit' } : { kind: 'error', error: { message: (err as Error)?.message ?? String(err) } };
    } finally {
      this.currentCtx = prevCtx;
      ctx.scriptFlags = prevFlags;
    }
    if (this.timed) {
      const ns = process.hrtime.bigint() - t0;
      const us = Number(ns / 1000n);
      const level = this.latencyLevel;
      if (level && us >= this.latencyLimitUs && this.log.isLevelEnabled(level)) {
        const label = ctx.routeType === 'request' ? 'request-route' : ctx.routeType === 'reply' ? 'reply-route' : `${ctx.routeType}-route`;
        this.log[level](`${label} executed in: ${us} usec`);
      }
      if (this.opts.onRouteDone) {
        try {
          this.opts.onRouteDone(ctx, func, Number(ns) / 1e9, res.kind);
        } catch (err) {
          this.log.warn({ err }, 'route observer failed');
        }
      }
    }
    ctx.exitRequested = prevExit;
    if (res.kind === 'error') this.scriptFailed(engine, ctx, func, res.error);
    return { kind: res.kind, dropped: ctx.dropRequested };
  }

  private scriptFailed(engine: ScriptEngine, ctx: RouteContext, func: string, error: ScriptError): void {
    const e: ScriptError = { ...error, func: error.func ?? func, file: error.file ?? engine.scriptPath };
    this.log.error(
      { callId: ctx.msg.callId, route: ctx.routeType, ...(e.stack ? { stack: truncate(e.stack) } : {}) },
      `script error: ${formatScriptError(e)} (Call-ID ${ctx.msg.callId})`,
    );
    const req = ctx.request;
    if (!req || ctx.routeType !== 'request' || ctx.replied || ctx.relayed || req.method === 'ACK') return;
    const outcome = this.opts.errorOutcome ?? { kind: 'reply', status: 500, reason: 'Server Internal Error' };
    if (outcome.kind === 'drop') {
      ctx.dropRequested = true;
      return;
    }
    ctx.replied = true;
    void ctx.services.reply(ctx, outcome.status, outcome.reason).then((ok) => {
      if (!ok) this.log.warn({ callId: req.callId }, 'could not send the error reply');
    });
  }
}
