/**
 * The process-wide Pyodide instance. Pyodide has no destroy API and a start costs seconds, so
 * there is one per process (per worker thread), loaded lazily by the first Python script, from
 * the installed npm package (offline, no CDN). Every loaded script is a "generation" inside it
 * (see ksr_runtime.py); reloads are generations too.
 *
 * Hardening done here, below Python (a script cannot undo it from Python):
 *  - the WebAssembly imports that reach the host are replaced before the module is instantiated:
 *    `system()` (which Pyodide runs through child_process in Node), `emscripten_run_script*`
 *    (JS eval), sockets / DNS / WebSockets / wget (network) and `dlopen` (no native code is
 *    loaded after start: the stdlib's extension modules are built in);
 *  - Pyodide's `js` module is a proxy of an empty object instead of globalThis;
 *  - no NODEFS mount: the virtual filesystem is Pyodide's in-memory one.
 * The Python half (ksr_runtime.setup) then hides the bridge modules and refuses unsafe imports.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Logger } from '@ksr/core';
import { loadPyodide, type PyodideAPI } from 'pyodide';
import { Watchdog, absoluteNow } from './watchdog.js';

/** A PyProxy of a Python callable (only called, never inspected). */
export type PyCallable = ((...args: unknown[]) => unknown) & { destroy(): void };

/** Modules no Python code may import (the Pyodide bridge, ctypes, CPython test modules). */
export const DENIED_MODULES: readonly string[] = [
  'js',
  'pyodide_js',
  'pyodide',
  '_pyodide',
  '_pyodide_core',
  'micropip',
  'ctypes',
  '_ctypes',
  '_testcapi',
  '_testinternalcapi',
  '_testlimitedcapi',
  '_testbuffer',
  '_testclinic',
  '_testclinic_limited',
  '_testmultiphase',
  '_testsinglephase',
  '_xxtestfuzz',
  '_remote_debugging',
];

/** Modules refused to scripts only (stdlib code may still use them). */
export const DENIED_FOR_SCRIPTS: readonly string[] = [
  // networking is switched off below Python anyway; refusing the import gives a clear error
  'socket',
  '_socket',
  'ssl',
  '_ssl',
  'subprocess',
  '_posixsubprocess',
  'multiprocessing',
  '_multiprocessing',
  // SIGINT is how the route deadline stops a script
  'signal',
  '_signal',
];

/** Emscripten errno values (they differ from Linux). */
const EPERM = 63;
const EAI_FAIL = -4;

export interface RuntimeApi {
  genCreate: PyCallable;
  genLoad: PyCallable;
  genInit: PyCallable;
  run: PyCallable;
  lastError: PyCallable;
  where: PyCallable;
  hasFunction: PyCallable;
  genDrop: PyCallable;
  stats: PyCallable;
  reset: PyCallable;
}

interface PyodideInternals {
  _module: { _hiwire_num_refs?: () => number };
  ffi: { PyProxy: abstract new (...args: never[]) => object };
}

let instance: Promise<PyodideHost> | undefined;

/** The Pyodide package folder (indexURL), from node_modules. */
export function pyodideDir(): string {
  const require = createRequire(import.meta.url);
  return path.dirname(require.resolve('pyodide/package.json'));
}

/** Replace the WebAssembly imports that would reach the host. */
function hardenImports(env: Record<string, unknown>): string[] {
  const patched: string[] = [];
  const set = (name: string, fn: (...a: number[]) => number | void): void => {
    const orig = env[name] as ({ sig?: string } & ((...a: unknown[]) => unknown)) | undefined;
    if (typeof orig !== 'function') return;
    const f = fn as typeof fn & { sig?: string };
    if (orig.sig !== undefined) f.sig = orig.sig;
    env[name] = f;
    patched.push(name);
  };
  // system(): Pyodide runs the command with child_process in Node
  set('_emscripten_system', () => -1);
  // JS eval reachable from C (and from ctypes)
  set('emscripten_run_script', () => undefined);
  set('emscripten_run_script_int', () => 0);
  set('emscripten_run_script_string', () => 0);
  set('emscripten_async_run_script', () => undefined);
  set('emscripten_async_load_script', () => undefined);
  // network: sockets, name resolution, WebSockets, HTTP fetches
  for (const name of ['__syscall_socket', '__syscall_connect', '__syscall_bind', '__syscall_listen', '__syscall_accept4', '__syscall_sendto', '__syscall_recvfrom', '__syscall_sendmsg', '__syscall_recvmsg']) {
    set(name, () => -EPERM);
  }
  set('getaddrinfo', () => EAI_FAIL);
  set('getnameinfo', () => EAI_FAIL);
  set('_emscripten_lookup_name', () => 0);
  set('_maybe_connect_async', () => -EPERM);
  set('emscripten_websocket_new', () => -1);
  for (const name of Object.keys(env)) {
    if (/^emscripten_(async_)?wget/.test(name)) set(name, () => -1);
  }
  // no native code after start (the stdlib's extension modules are linked in)
  set('_dlopen_js', () => 0);
  set('_emscripten_dlopen_js', () => undefined);
  return patched;
}

export class PyodideHost {
  private gidCounter = 0;
  /** Set when the interpreter died (a fatal error or exit): it is never called again. */
  dead: string | undefined;
  /** Where print() and stderr go: the engine whose script runs (innermost), else the host log. */
  readonly outputStack: Logger[] = [];

  private constructor(
    readonly py: PyodideAPI,
    readonly api: RuntimeApi,
    readonly watchdog: Watchdog,
    readonly interrupt: Int32Array,
    readonly log: Logger,
    readonly startupMs: number,
    readonly pythonVersion: string,
  ) {}

  /** The shared instance (loaded on first use; a dead one is replaced). */
  static async get(logger: Logger): Promise<PyodideHost> {
    if (instance) {
      const h = await instance.catch(() => undefined);
      if (h && !h.dead) return h;
      instance = undefined;
    }
    const p = PyodideHost.create(logger);
    instance = p;
    p.catch(() => {
      if (instance === p) instance = undefined;
    });
    return p;
  }

  /** The shared instance if it is loaded (tests, diagnostics). */
  static async current(): Promise<PyodideHost | undefined> {
    return instance?.catch(() => undefined);
  }

  private static async create(logger: Logger): Promise<PyodideHost> {
    const log = logger.child({ mod: 'app_python3' });
    const t0 = performance.now();
    const dir = pyodideDir();
    const asmUrl = pathToFileURL(path.join(dir, 'pyodide.asm.mjs')).href;
    const createModule = ((await import(asmUrl)) as { default: (settings: Record<string, unknown>) => Promise<unknown> }).default;
    let patched: string[] = [];
    let host: PyodideHost | undefined;
    const emit = (level: 'info' | 'warn', line: string): void => {
      const target = host?.outputStack[host.outputStack.length - 1] ?? log;
      target[level](`python ${level === 'info' ? 'stdout' : 'stderr'}: ${line.length > 2000 ? `${line.slice(0, 2000)}…` : line}`);
    };
    const py = await loadPyodide({
      indexURL: `${dir}${path.sep}`,
      env: { HOME: '/home/pyodide' },
      args: [],
      jsglobals: Object.freeze(Object.create(null) as object),
      stdout: (s: string) => emit('info', s),
      stderr: (s: string) => emit('warn', s),
      stdin: () => null,
      checkAPIVersion: true,
      createPyodideModule: ((settings: Record<string, unknown>) => {
        const instantiate = settings['instantiateWasm'] as (imports: Record<string, Record<string, unknown>>, cb: unknown) => unknown;
        settings['instantiateWasm'] = (imports: Record<string, Record<string, unknown>>, cb: unknown) => {
          if (imports['env']) patched = hardenImports(imports['env']);
          if (imports['wasi_snapshot_preview1'] && imports['wasi_snapshot_preview1'] !== imports['env']) {
            hardenImports(imports['wasi_snapshot_preview1']);
          }
          return instantiate(imports, cb);
        };
        return createModule(settings);
      }) as never,
    });
    if (!patched.includes('_emscripten_system') || !patched.includes('__syscall_socket')) {
      throw new Error(`pyodide ${py.version}: the WebAssembly imports ksr must replace were not found (patched: ${patched.join(', ')})`);
    }
    const interrupt = new Int32Array(new SharedArrayBuffer(4));
    py.setInterruptBuffer(interrupt);
    const source = readFileSync(fileURLToPath(new URL('./ksr_runtime.py', import.meta.url)), 'utf8');
    const ns = py.runPython('dict()') as { get(k: string): PyCallable; destroy(): void };
    py.runPython(source, { globals: ns as never, filename: '<ksr-runtime>' });
    const fn = (name: string): PyCallable => {
      const f = ns.get(name);
      if (!f) throw new Error(`ksr_runtime.py has no ${name}`);
      return f;
    };
    const setup = fn('setup');
    const setupInfo = JSON.parse(String(setup(JSON.stringify(DENIED_MODULES), JSON.stringify(DENIED_FOR_SCRIPTS)))) as { python: string; monitoring_tool: number | null };
    setup.destroy();
    const api: RuntimeApi = {
      genCreate: fn('gen_create'),
      genLoad: fn('gen_load'),
      genInit: fn('gen_init'),
      run: fn('run'),
      lastError: fn('last_error'),
      where: fn('where'),
      hasFunction: fn('has_function'),
      genDrop: fn('gen_drop'),
      stats: fn('stats'),
      reset: fn('reset'),
    };
    ns.destroy();
    if (setupInfo.monitoring_tool === null) log.warn('no free sys.monitoring tool id: a script that catches the route deadline cannot be stopped');
    const startupMs = performance.now() - t0;
    host = new PyodideHost(py, api, new Watchdog(interrupt), interrupt, log, startupMs, setupInfo.python);
    log.debug(`Pyodide ${py.version} (Python ${setupInfo.python}) started in ${startupMs.toFixed(0)} ms`);
    return host;
  }

  nextGid(): number {
    return ++this.gidCounter;
  }

  /** Deadlines of the Python calls in progress (0 = none), innermost last. */
  private readonly deadlines: number[] = [];

  /**
   * Before calling into Python: arm the watchdog for `limitMs` (0 = no limit), or the deadline of
   * the call this one is nested in if that is earlier, and send print() output to `out`.
   */
  enter(limitMs: number, out: Logger): void {
    const n = this.deadlines.length;
    const outer = n > 0 ? this.deadlines[n - 1]! : 0;
    let d = limitMs > 0 ? absoluteNow() + limitMs : 0;
    if (outer !== 0 && (d === 0 || outer < d)) d = outer;
    if (n === 0) Atomics.store(this.interrupt, 0, 0);
    this.deadlines.push(d);
    this.outputStack.push(out);
    if (d !== 0) this.watchdog.arm(d);
    else if (n > 0) this.watchdog.disarm();
  }

  /** After the Python call: back to the enclosing call's deadline, or disarmed. */
  leave(): void {
    this.deadlines.pop();
    this.outputStack.pop();
    const n = this.deadlines.length;
    const outer = n > 0 ? this.deadlines[n - 1]! : 0;
    if (outer !== 0) this.watchdog.arm(outer);
    else this.watchdog.disarm();
  }

  /** Is a Python call in progress (a nested run)? */
  get busy(): boolean {
    return this.deadlines.length > 0;
  }

  /** Is this a PyProxy (a Python object handed to JS)? */
  isPyProxy(v: unknown): v is { destroy(): void } {
    return v instanceof (this.py as unknown as PyodideInternals).ffi.PyProxy;
  }

  /** Live JS references held by Python (JsProxies): must not grow per message. */
  jsRefCount(): number | undefined {
    return (this.py as unknown as PyodideInternals)._module._hiwire_num_refs?.();
  }

  /** Mark the interpreter unusable after an error escaped the wasm code (exit, fatal error). */
  markDead(reason: string): void {
    if (this.dead) return;
    this.dead = reason;
    this.watchdog.stop();
    this.log.error(`the Python interpreter stopped (${reason}); the next load starts a new one`);
  }
}
