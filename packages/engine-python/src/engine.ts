/**
 * The Python engine: one loaded script = one PythonEngine = one generation inside the shared
 * Pyodide instance (src/host.ts). Both Kamailio styles:
 *  - "class" (app_python3, cfgengine "python"): mod_init() returns a handler object; route
 *    functions are its methods, called as handler.f(msg[, evname]);
 *  - "script" (app_python3s, cfgengine "python3s"): route functions are module-level functions,
 *    called as f([evname]).
 * KSR.* is built once per generation from the frozen registry: every export is a JS function
 * bound to its id (calling the runtime's invoke), wrapped by one Python function. See README.md.
 *
 * If the interpreter dies (Pyodide cannot survive a native stack overflow, e.g. repr() of a
 * 100000-deep list), the engine loads a new Pyodide in the background and rebuilds its
 * generation from the sources it loaded; runs fail with an error meanwhile.
 */
import path from 'node:path';
import {
  ErrorCodes,
  KsrError,
  isRouteExit,
  type EngineLoadOptions,
  type EngineRunResult,
  type Invoke,
  type Logger,
  type ScriptEngine,
} from '@ksr/core';
import { describeHostError, formatLoadError, isFatal, parseErrorInfo, toScriptError, type PyErrorInfo } from './errors.js';
import { MAX_FILES, MAX_TOTAL_BYTES, removeTree, snapshotScript, vfsDirOf, writeSnapshot, type ScriptSnapshot } from './files.js';
import { PyodideHost } from './host.js';
import { CHILD_RANK, readSettings, type PythonSettings, type PythonStyle } from './schema.js';

/** Result codes of ksr_runtime.run / gen_load / gen_init. */
const R_OK = 0;
const R_EXIT = 1;
const R_MISSING = 2;
const R_TIMEOUT = 4;
const R_SYSEXIT = 5;

/** What the JS side of a KSR function throws for KSR.x.exit()/drop(); the Python wrapper turns it into KsrExit. */
const EXIT_SIGNAL = new Error('~~ksr~exit~~');
/** What an export receives for an argument that is a Python object (list, dict, …): refused by the convention. */
const OBJECT_ARG: object = Object.freeze({});

function errorResult(message: string, func?: string): EngineRunResult {
  return { kind: 'error', error: func === undefined ? { message } : { message, func } };
}

/** One loaded copy of the script in one Pyodide instance. */
interface Generation {
  host: PyodideHost;
  gid: number;
  /** gen_create succeeded: Python holds state to free. */
  created: boolean;
}

export class PythonEngine implements ScriptEngine {
  readonly engineName: string;
  readonly scriptPath: string;
  private gen: Generation | undefined;
  /** The generation being built (its top level may call KSR functions before it is `gen`). */
  private building: Generation | undefined;
  private readonly log: Logger;
  /** KSR.x.exit()/drop() was raised during the current run (saved/restored around nested runs). */
  private exitRaised = false;
  private depth = 0;
  private disposed = false;
  private disposeWhenIdle = false;
  private rebuilding: Promise<void> | undefined;
  private rebuildCount = 0;
  /** Why the engine cannot run scripts any more (a rebuild failed). */
  private broken: string | undefined;

  private constructor(
    private readonly settings: PythonSettings,
    private readonly opts: EngineLoadOptions,
    private readonly snapshot: ScriptSnapshot,
    engineName: string,
    scriptPath: string,
  ) {
    this.engineName = engineName;
    this.scriptPath = scriptPath;
    this.log = opts.logger.child({ mod: settings.style === 'class' ? 'app_python3' : 'app_python3s' });
  }

  /** Load a script into a new generation; rejects with KsrError(SCRIPT_LOAD) naming file:line. */
  static async load(opts: EngineLoadOptions, style: PythonStyle, engineName: string): Promise<PythonEngine> {
    let settings: PythonSettings;
    try {
      settings = readSettings(style, opts.params);
    } catch (err) {
      throw new KsrError(ErrorCodes.SCRIPT_LOAD, (err as Error).message);
    }
    const scriptPath = path.resolve(opts.script);
    let snapshot: ScriptSnapshot;
    try {
      snapshot = snapshotScript(scriptPath);
    } catch (err) {
      throw new KsrError(ErrorCodes.SCRIPT_LOAD, `${scriptPath}: cannot read the script: ${(err as Error).message}`, { cause: err });
    }
    const host = await PythonEngine.host(opts.logger, scriptPath);
    const engine = new PythonEngine(settings, opts, snapshot, engineName, scriptPath);
    if (snapshot.truncated) {
      engine.log.warn(`${path.dirname(scriptPath)}: more than ${MAX_FILES} Python files or ${MAX_TOTAL_BYTES} bytes; only those read first can be imported`);
    }
    engine.gen = engine.build(host);
    return engine;
  }

  private static async host(logger: Logger, scriptPath: string): Promise<PyodideHost> {
    try {
      return await PyodideHost.get(logger);
    } catch (err) {
      throw new KsrError(ErrorCodes.SCRIPT_LOAD, `${scriptPath}: cannot start the Python interpreter (Pyodide): ${describeHostError(err)}`, { cause: err });
    }
  }

  // ---------------------------------------------------------------- loading

  /** Create, load and initialise a generation on `host`. Throws KsrError; frees what it made on failure. */
  private build(host: PyodideHost): Generation {
    const g: Generation = { host, gid: host.nextGid(), created: false };
    const dir = vfsDirOf(g.gid);
    this.building = g;
    try {
      writeSnapshot(host.py.FS, this.snapshot, dir);
      const files: Record<string, [string, string, boolean]> = {};
      for (const f of this.snapshot.modules) files[f.module] = [`${dir}/${f.rel}`, f.hostPath, f.isPackage];
      const { fns, meta } = this.bindExports();
      const api = host.api;
      const created = this.callPython(g, () => api.genCreate(g.gid, this.settings.style, this.scriptPath, this.opts.version, fns, JSON.stringify(meta), JSON.stringify(files)), 0);
      const c = JSON.parse(String(created)) as { ok?: boolean; error?: string };
      if (!c.ok) throw new KsrError(ErrorCodes.SCRIPT_LOAD, `${this.scriptPath}: cannot bind KSR: ${c.error ?? 'unknown error'}`);
      g.created = true;
      const limit = this.settings.loadTimeLimitMs;
      const loaded = this.callPython(g, () => api.genLoad(g.gid, `${dir}/${this.snapshot.main.rel}`), limit) as number;
      this.checkLoadStep(g, loaded, 'running the script');
      const spec = {
        rank: CHILD_RANK,
        mod_init: this.settings.modInit,
        child_init: this.settings.childInit,
        script_init: this.settings.scriptInit,
        script_child_init: this.settings.scriptChildInit,
        required: this.opts.requiredFunctions,
      };
      const inited = this.callPython(g, () => api.genInit(g.gid, JSON.stringify(spec)), limit) as number;
      this.checkLoadStep(g, inited, this.settings.style === 'class' ? `${this.settings.modInit}()` : 'the script init functions');
      return g;
    } catch (err) {
      this.free(g);
      if (err instanceof KsrError) throw err;
      throw new KsrError(ErrorCodes.SCRIPT_LOAD, `${this.scriptPath}: ${describeHostError(err)}`, { cause: err });
    } finally {
      this.exitRaised = false;
      this.building = undefined;
    }
  }

  private checkLoadStep(g: Generation, code: number, what: string): void {
    if (code === R_OK) return;
    if (code === R_EXIT) throw new KsrError(ErrorCodes.SCRIPT_LOAD, `${this.scriptPath}: KSR.x.exit() called while ${what}`);
    if (code === R_SYSEXIT) throw new KsrError(ErrorCodes.SCRIPT_LOAD, `${this.scriptPath}: sys.exit() called while ${what}`);
    const info = this.lastError(g);
    if (code === R_TIMEOUT) {
      info.message = `${what} took longer than ${this.settings.loadTimeLimitMs} ms (10 × route_time_limit, at least 1 s) and was stopped`;
    }
    throw new KsrError(ErrorCodes.SCRIPT_LOAD, formatLoadError(info, this.scriptPath));
  }

  /**
   * The per-export JS functions Python calls (KSR.<module>.<name> wraps fns[id]) and the names
   * in id order. Arguments arrive converted by Pyodide (str, int, float, bool, None → undefined,
   * big ints → BigInt); Python objects arrive as PyProxies, which are freed and refused.
   */
  private bindExports(): { fns: Array<(...args: unknown[]) => unknown>; meta: { modules: string[]; exports: Array<[string, string]> } } {
    const invoke: Invoke = this.opts.invoke;
    const where = (): string | undefined => {
      const g = this.gen ?? this.building;
      if (!g || g.host.dead) return undefined;
      try {
        const w = g.host.api.where();
        return typeof w === 'string' ? w : undefined;
      } catch {
        return undefined;
      }
    };
    const make = (id: number, qualified: string) => {
      return (...args: unknown[]): unknown => {
        for (let i = 0; i < args.length; i++) {
          const a = args[i];
          if ((typeof a === 'object' && a !== null) || typeof a === 'function') {
            if ((this.gen ?? this.building)?.host.isPyProxy(a)) a.destroy();
            args[i] = OBJECT_ARG;
          }
        }
        let r: unknown;
        try {
          r = invoke(id, args, where);
        } catch (err) {
          if (isRouteExit(err)) {
            this.exitRaised = true;
            throw EXIT_SIGNAL;
          }
          this.log.error({ err }, `${qualified} failed: ${describeHostError(err)}`);
          return undefined;
        }
        return r === null ? undefined : r;
      };
    };
    const exports = this.opts.registry.exports;
    return {
      fns: exports.map((e) => make(e.id, e.qualified)),
      meta: { modules: [...this.opts.registry.modules], exports: exports.map((e) => [e.module, e.name] as [string, string]) },
    };
  }

  private lastError(g: Generation): PyErrorInfo {
    try {
      return parseErrorInfo(g.host.api.lastError());
    } catch (err) {
      return { message: describeHostError(err) };
    }
  }

  /**
   * Call into Python with the watchdog armed for `limitMs` (0 = none). An exception out of the
   * interpreter means it died (exit, fatal error: the host is marked dead and a rebuild starts)
   * or, in theory, that an entry point failed (the runtime's bookkeeping is reset). Rethrows.
   */
  private callPython<T>(g: Generation, fn: () => T, limitMs: number): T {
    const exitCode = process.exitCode;
    g.host.enter(limitMs, this.log);
    try {
      return fn();
    } catch (err) {
      if (isFatal(err)) {
        process.exitCode = exitCode; // Pyodide's exit sets the Node process exit code
        g.host.markDead(describeHostError(err));
      }
      throw err;
    } finally {
      g.host.leave();
      if (!g.host.dead && !g.host.busy && this.depth === 0) this.resetAfterEscape(g);
    }
  }

  private escaped = false;

  private resetAfterEscape(g: Generation): void {
    if (!this.escaped) return;
    this.escaped = false;
    try {
      g.host.api.reset();
    } catch {
      // the next call will tell
    }
  }

  // ---------------------------------------------------------------- routes

  /** The generation to run in, or why there is none. */
  private usable(): Generation | string {
    if (this.disposed) return 'the Python script was unloaded';
    if (this.broken) return this.broken;
    const g = this.gen;
    if (!g || g.host.dead) {
      if (this.depth === 0) this.startRebuild();
      return 'the Python interpreter is being restarted after a fatal error; the message was not routed';
    }
    return g;
  }

  hasFunction(name: string): boolean {
    if (typeof name !== 'string' || name === '') return false;
    const g = this.usable();
    if (typeof g === 'string') return false;
    try {
      return this.callPython(g, () => g.host.api.hasFunction(g.gid, name), this.settings.routeTimeLimitMs) === true;
    } catch (err) {
      this.failed(g, err, `looking up ${name}`);
      return false;
    }
  }

  run(func: string, args: readonly string[]): EngineRunResult {
    const g = this.usable();
    if (typeof g === 'string') return errorResult(g, func);
    const savedExit = this.exitRaised;
    this.exitRaised = false;
    this.depth++;
    let code: number;
    let exitRaised: boolean;
    try {
      code = this.callPython(g, () => (args.length === 0 ? g.host.api.run(g.gid, func) : g.host.api.run(g.gid, func, ...args)), this.settings.routeTimeLimitMs) as number;
    } catch (err) {
      this.depth--;
      this.exitRaised = savedExit;
      this.failed(g, err, `running ${func}`);
      this.afterRun();
      return errorResult(`the Python interpreter failed: ${describeHostError(err)}`, func);
    }
    exitRaised = this.exitRaised;
    this.exitRaised = savedExit;
    this.depth--;
    try {
      return this.result(g, code, func, exitRaised);
    } finally {
      this.afterRun();
    }
  }

  /** An exception came out of the interpreter. */
  private failed(g: Generation, err: unknown, what: string): void {
    if (g.host.dead) {
      this.log.error(`the Python interpreter died ${what} in ${this.scriptPath}: ${describeHostError(err)}`);
      if (this.depth === 0) this.startRebuild();
    } else {
      this.log.error({ err }, `the Python runtime failed ${what} in ${this.scriptPath}: ${describeHostError(err)}`);
      this.escaped = true;
      if (this.depth === 0 && !g.host.busy) this.resetAfterEscape(g);
    }
  }

  private result(g: Generation, code: number, func: string, exitRaised: boolean): EngineRunResult {
    switch (code) {
      case R_OK:
        return exitRaised ? { kind: 'exit' } : { kind: 'ok' };
      case R_EXIT:
        return { kind: 'exit' };
      case R_MISSING:
        return { kind: 'missing' };
      case R_SYSEXIT:
        this.log.debug(`${func}: sys.exit() ended the route`);
        return { kind: 'exit' };
      case R_TIMEOUT: {
        if (exitRaised) {
          this.log.warn(`${func}: the script caught KSR.x.exit() and then ran past route_time_limit (${this.settings.routeTimeLimitMs} ms)`);
          return { kind: 'exit' };
        }
        const err = toScriptError(this.lastError(g), func);
        err.message = `the route ran longer than route_time_limit (${this.settings.routeTimeLimitMs} ms) and was stopped`;
        return { kind: 'error', error: err };
      }
      default: {
        if (exitRaised) return { kind: 'exit' };
        return { kind: 'error', error: toScriptError(this.lastError(g), func) };
      }
    }
  }

  private afterRun(): void {
    if (this.depth !== 0) return;
    if (this.disposeWhenIdle) this.dispose();
    else if (this.gen?.host.dead) this.startRebuild();
  }

  // ---------------------------------------------------------------- crash recovery

  /** After the interpreter died: a new Pyodide (shared by every engine), then this script again. */
  private startRebuild(): void {
    if (this.rebuilding || this.disposed || this.broken) return;
    this.gen = undefined; // the dead instance is never called again
    this.rebuildCount++;
    this.rebuilding = PyodideHost.get(this.opts.logger)
      .then((host) => {
        if (this.disposed) return;
        this.gen = this.build(host);
        this.log.warn(`the Python interpreter of ${this.scriptPath} was restarted after a fatal error`);
      })
      .catch((err: unknown) => {
        this.broken = `the Python interpreter could not be restarted: ${describeHostError(err)}`;
        this.log.error(this.broken);
      })
      .finally(() => {
        this.rebuilding = undefined;
      });
  }

  /** Resolves when no restart is in progress (tests; the server never needs to wait). */
  async settled(): Promise<void> {
    while (this.rebuilding) await this.rebuilding;
  }

  // ---------------------------------------------------------------- lifecycle

  private free(g: Generation): void {
    if (g.host.dead) return;
    if (g.created) {
      try {
        this.callPython(g, () => g.host.api.genDrop(g.gid), this.settings.routeTimeLimitMs);
      } catch (err) {
        this.log.warn(`freeing the Python generation of ${this.scriptPath} failed: ${describeHostError(err)}`);
      }
      g.created = false;
    }
    try {
      if (!g.host.dead) removeTree(g.host.py.FS, vfsDirOf(g.gid));
    } catch {
      // a dead interpreter's filesystem is gone with it
    }
  }

  dispose(): void {
    if (this.disposed) return;
    if (this.depth > 0) {
      this.disposeWhenIdle = true;
      return;
    }
    this.disposed = true;
    const g = this.gen;
    this.gen = undefined;
    if (g) this.free(g);
  }

  /** Diagnostics (tests): JS references held by Python, Python objects, live generations, restarts. */
  stats(): { jsRefs: number | undefined; pythonObjects: number; generations: number[]; startupMs: number; python: string; restarts: number } {
    const g = this.gen;
    if (!g) throw new Error(this.broken ?? 'no Python generation (unloaded or restarting)');
    const s = JSON.parse(String(this.callPython(g, () => g.host.api.stats(), 0))) as { objects: number; generations: number[] };
    return { jsRefs: g.host.jsRefCount(), pythonObjects: s.objects, generations: s.generations, startupMs: g.host.startupMs, python: g.host.pythonVersion, restarts: this.rebuildCount };
  }
}
