/**
 * The JavaScript engine (cfgengine "jsdt" / "js") on QuickJS compiled to WebAssembly.
 *
 * One interpreter = one Generation: its own WebAssembly instance (own capped linear memory), one
 * QuickJS runtime and one context, KSR built once from the frozen registry, the script evaluated.
 * KSR functions are raw host functions (QTS_NewFunction with host-ref ids; one C→host callback per
 * context) that read their arguments straight from the JSValue words and call the route runtime's
 * `invoke` with the export id. See README.md for the sandbox, limits and exit semantics.
 */
import path from 'node:path';
import {
  ErrorCodes,
  KsrError,
  isRouteExit,
  type EngineLoadOptions,
  type EngineRunResult,
  type FrozenKemiRegistry,
  type Invoke,
  type KemiExport,
  type Logger,
  type RouteContext,
  type ScriptEngine,
  type ScriptError,
} from '@ksr/core';
import { EvalFlags, type HostRefId, type JSContextPointer, type JSRuntimePointer, type JSValueConstPointer, type JSValuePointer, type QuickJSContext, type QuickJSFFI, type QuickJSRuntime } from 'quickjs-emscripten-core';
import { INTERNAL_FILE, firstScriptFrame, formatLoadError, toScriptError, truncateMessage, type ThrownInfo } from './errors.js';
import { JSVALUE_SIZE, TAG, isFloatTag, reachInternals, verifyValueLayout, type CallFunction, type EmModule } from './internals.js';
import { ScriptFiles, looksLikeModule } from './loader.js';
import { readSettings, type JsdtSettings } from './schema.js';
import { newWasmInstance, type WasmInstance } from './wasm.js';

/** Bytes of the per-generation scratch buffer used to pass strings into QuickJS. */
const SCRATCH_BYTES = 16 * 1024;
/** Route-function arguments passed through the preallocated argv area (more use malloc). */
const ARGV_SLOTS = 8;
/** Once the linear memory is at its cap, the heap counts as exhausted if this much cannot be allocated. */
const OOM_PROBE_MAX_BYTES = 4 * 1024 * 1024;
/** Upper bound of microtask-queue drains after one route run. */
const MAX_JOB_DRAINS = 10_000;

/** What a KSR function receives for an argument that is an object, array or function. */
const OBJECT_ARG: object = Object.freeze({});
/** …and for a symbol. */
const SYMBOL_ARG = Symbol('symbol');
const NO_ARGS: readonly unknown[] = Object.freeze([]);

const SETUP_CODE = `(function (KSR, version) {
  "use strict";
  var freeze = Object.freeze, define = Object.defineProperty, keys = Object.keys(KSR);
  for (var i = 0; i < keys.length; i++) {
    var v = KSR[keys[i]];
    if (typeof v === "object" && v !== null) freeze(v);
  }
  freeze(KSR);
  define(globalThis, "KSR", { value: KSR });
  define(globalThis, "KSRVERSION", { value: version });
  var E = Error;
  var exit = freeze({ name: "KsrExit", message: "~~ksr~exit~~", toString: function () { return "~~ksr~exit~~"; } });
  return [exit, function () { return new E("where").stack; }];
})`;

type StopReason = 'deadline';

interface MemoryUsage {
  /** Current size of the WebAssembly linear memory. */
  heapBytes: number;
  /** Its cap (16 MB base + memory_limit). */
  maxHeapBytes: number;
  /** QuickJS's own counters (JS_ComputeMemoryUsage). */
  mallocCount: number;
  objCount: number;
  strCount: number;
  atomCount: number;
  shapeCount: number;
  propCount: number;
  jsFuncCount: number;
  arrayCount: number;
}

/** Everything of one interpreter: wasm instance, runtime, context and raw handles. */
class Generation {
  readonly ffi: QuickJSFFI;
  readonly module: EmModule;
  readonly ctx: JSContextPointer;
  readonly rtPtr: JSRuntimePointer;
  private heap32: Int32Array;
  private scratchView: Uint8Array;
  /** Boxed JSValues owned by the engine (freed on dispose). */
  readonly owned: number[] = [];
  readonly scratch: number;
  readonly argv: number;
  /** A JSValue box holding JS_EXCEPTION: lets us clear a pending exception. */
  private readonly exceptionBox: number;
  readonly undefinedPtr: JSValueConstPointer;
  readonly nullPtr: JSValueConstPointer;
  readonly truePtr: JSValueConstPointer;
  readonly falsePtr: JSValueConstPointer;
  readonly keys: Record<'name' | 'message' | 'stack' | 'fileName' | 'lineNumber', number>;
  globalPtr = 0;
  nsPtr = 0;
  exitPtr = 0;
  wherePtr = 0;
  readonly fnCache = new Map<string, number>();
  /** Set when an exception escaped the wasm code: the instance must not be used again. */
  poisoned: string | undefined;
  /** Set when the heap stayed exhausted after an out-of-memory error. */
  needsRecycle = false;
  private disposed = false;
  private readonly encoder = new TextEncoder();

  constructor(
    readonly wasm: WasmInstance,
    readonly rt: QuickJSRuntime,
    readonly vm: QuickJSContext,
  ) {
    const int = reachInternals(wasm.qjs, rt, vm);
    this.ffi = int.ffi;
    this.module = int.module;
    this.ctx = int.ctx;
    this.rtPtr = int.rt;
    this.heap32 = new Int32Array(wasm.memory.buffer);
    verifyValueLayout(int);
    this.scratch = this.malloc(SCRATCH_BYTES);
    this.scratchView = new Uint8Array(wasm.memory.buffer, this.scratch, SCRATCH_BYTES);
    this.argv = this.malloc(ARGV_SLOTS * 4);
    this.exceptionBox = this.malloc(JSVALUE_SIZE);
    this.words()[this.exceptionBox >> 2] = 0;
    this.words()[(this.exceptionBox >> 2) + 1] = TAG.EXCEPTION;
    this.undefinedPtr = this.ffi.QTS_GetUndefined();
    this.nullPtr = this.ffi.QTS_GetNull();
    this.truePtr = this.ffi.QTS_GetTrue();
    this.falsePtr = this.ffi.QTS_GetFalse();
    this.keys = {
      name: this.own(this.newString('name')),
      message: this.own(this.newString('message')),
      stack: this.own(this.newString('stack')),
      fileName: this.own(this.newString('fileName')),
      lineNumber: this.own(this.newString('lineNumber')),
    };
    this.globalPtr = this.own(this.ffi.QTS_GetGlobalObject(this.ctx));
    this.hostRefs = int.hostRefs;
    this.callbacks = int.callbacks;
  }

  readonly hostRefs: { put(value: object): HostRefId };
  readonly callbacks: { setContextCallbacks(ctx: JSContextPointer, cb: { callFunction: CallFunction }): void };

  malloc(bytes: number): number {
    const p = this.module._malloc(bytes);
    if (p === 0) throw new Error('out of memory in the JS engine heap');
    return p;
  }

  /** The linear memory as 32-bit words (re-created after the memory grew). */
  words(): Int32Array {
    if (this.heap32.length === 0) this.heap32 = new Int32Array(this.wasm.memory.buffer);
    return this.heap32;
  }

  own(ptr: number): number {
    if (ptr === 0) throw new Error('out of memory in the JS engine heap');
    this.owned.push(ptr);
    return ptr;
  }

  tagOf(ptr: number): number {
    return this.words()[(ptr >> 2) + 1]!;
  }

  sameValue(a: number, b: number): boolean {
    const w = this.words();
    return w[a >> 2] === w[b >> 2] && w[(a >> 2) + 1] === w[(b >> 2) + 1];
  }

  /** Drop a pending exception (after a QuickJS call that signalled failure without a value). */
  clearException(): void {
    const e = this.ffi.QTS_ResolveException(this.ctx, this.exceptionBox as JSValuePointer);
    if (e) this.ffi.QTS_FreeValuePointer(this.ctx, e);
  }

  free(ptr: number): void {
    if (ptr) this.ffi.QTS_FreeValuePointer(this.ctx, ptr as JSValuePointer);
  }

  /** A new JSValue box holding the string (0 if even the box could not be allocated). */
  newString(s: string): JSValuePointer {
    let view = this.scratchView;
    if (view.length === 0) view = this.scratchView = new Uint8Array(this.wasm.memory.buffer, this.scratch, SCRATCH_BYTES);
    if (s.length < SCRATCH_BYTES) {
      const r = this.encoder.encodeInto(s, view);
      if (r.read === s.length && r.written < SCRATCH_BYTES) {
        view[r.written] = 0;
        return this.ffi.QTS_NewString(this.ctx, this.scratch as never);
      }
    }
    const bytes = this.module.lengthBytesUTF8(s) + 1;
    const p = this.module._malloc(bytes);
    if (p === 0) return 0 as JSValuePointer;
    this.module.stringToUTF8(s, p, bytes);
    const v = this.ffi.QTS_NewString(this.ctx, p as never);
    this.module._free(p);
    return v;
  }

  /** Read a JSValue that QuickJS knows to be a string (or bigint): its UTF-8 text. */
  readString(ptr: number): string | undefined {
    const cs = this.ffi.QTS_GetString(this.ctx, ptr as JSValueConstPointer);
    if (!cs) {
      this.clearException();
      return undefined;
    }
    const s = this.module.UTF8ToString(cs);
    this.ffi.QTS_FreeCString(this.ctx, cs);
    return s;
  }

  /** A script value as the host sees it (for KSR arguments). Never runs script code. */
  readValue(ptr: number): unknown {
    const w = this.words();
    const i = ptr >> 2;
    const hi = w[i + 1]!;
    switch (hi) {
      case TAG.INT:
        return w[i]!;
      case TAG.BOOL:
        return w[i] !== 0;
      case TAG.NULL:
        return null;
      case TAG.UNDEFINED:
        return undefined;
      case TAG.STRING:
      case TAG.STRING_ROPE:
        return this.readString(ptr);
      case TAG.BIG_INT:
      case TAG.SHORT_BIG_INT: {
        const s = this.readString(ptr);
        return s === undefined ? undefined : BigInt(s);
      }
      case TAG.SYMBOL:
        return SYMBOL_ARG;
      case TAG.OBJECT:
        return OBJECT_ARG;
      default:
        return isFloatTag(hi) ? this.ffi.QTS_GetFloat64(this.ctx, ptr as JSValueConstPointer) : OBJECT_ARG;
    }
  }

  /** A host value as a new JSValue box for QuickJS (0 = undefined). */
  writeValue(v: unknown): JSValuePointer {
    switch (typeof v) {
      case 'number':
        return this.ffi.QTS_NewFloat64(this.ctx, v);
      case 'string':
        return this.newString(v);
      case 'boolean':
        return this.ffi.QTS_DupValuePointer(this.ctx, v ? this.truePtr : this.falsePtr);
      case 'bigint':
        return this.ffi.QTS_NewFloat64(this.ctx, Number(v));
      case 'object':
        if (v === null) return this.ffi.QTS_DupValuePointer(this.ctx, this.nullPtr);
        return 0 as JSValuePointer;
      default:
        return 0 as JSValuePointer;
    }
  }

  /** Throw a new Error(message) into QuickJS; the return value is what a host function returns. */
  throwError(message: string): JSValuePointer {
    const err = this.ffi.QTS_NewError(this.ctx);
    const msg = this.newString(message);
    if (msg) {
      this.ffi.QTS_SetProp(this.ctx, err, this.keys.message as JSValuePointer, msg);
      this.free(msg);
    }
    const r = this.ffi.QTS_Throw(this.ctx, err);
    this.free(err);
    return r;
  }

  /** A property of an object, or undefined if reading it failed. The caller frees the box. */
  getProp(obj: number, key: number): number {
    const v = this.ffi.QTS_GetProp(this.ctx, obj as JSValuePointer, key as JSValuePointer);
    const e = this.ffi.QTS_ResolveException(this.ctx, v);
    if (e) {
      this.free(e);
      this.free(v);
      return 0;
    }
    return v;
  }

  private stringProp(obj: number, key: number): string | undefined {
    const v = this.getProp(obj, key);
    if (!v) return undefined;
    const tag = this.tagOf(v);
    const s = tag === TAG.STRING || tag === TAG.STRING_ROPE ? this.readString(v) : undefined;
    this.free(v);
    return s;
  }

  private numberProp(obj: number, key: number): number | undefined {
    const v = this.getProp(obj, key);
    if (!v) return undefined;
    const n = this.readValue(v);
    this.free(v);
    return typeof n === 'number' ? n : undefined;
  }

  /** What a thrown value says about itself. Getters on it run under the current deadline. */
  describeThrown(ptr: number): ThrownInfo {
    const tag = this.tagOf(ptr);
    if (tag === TAG.NULL) return { isNull: true };
    if (tag === TAG.OBJECT) {
      const t: ThrownInfo = {};
      const name = this.stringProp(ptr, this.keys.name);
      const message = this.stringProp(ptr, this.keys.message);
      const stack = this.stringProp(ptr, this.keys.stack);
      const fileName = this.stringProp(ptr, this.keys.fileName);
      const lineNumber = this.numberProp(ptr, this.keys.lineNumber);
      if (name !== undefined) t.name = name;
      if (message !== undefined) t.message = message;
      if (stack !== undefined) t.stack = stack;
      if (fileName !== undefined && lineNumber !== undefined) {
        t.fileName = fileName;
        t.lineNumber = lineNumber;
      }
      return t;
    }
    const v = this.readValue(ptr);
    if (v === SYMBOL_ARG) return { primitive: 'Symbol()' };
    if (typeof v === 'string') return { primitive: JSON.stringify(truncateMessage(v, 200)) };
    return { primitive: String(v) };
  }

  isFunction(ptr: number): boolean {
    if (this.tagOf(ptr) !== TAG.OBJECT) return false;
    const t = this.ffi.QTS_Typeof(this.ctx, ptr as JSValuePointer);
    if (!t) return false;
    const s = this.module.UTF8ToString(t);
    this.module._free(t);
    return s === 'function';
  }

  /** A route function by name: module export first, then global. Cached once found. */
  resolveFunction(name: string): number {
    const cached = this.fnCache.get(name);
    if (cached !== undefined) return cached;
    const key = this.newString(name);
    if (!key) return 0;
    let found = 0;
    for (const container of [this.nsPtr, this.globalPtr]) {
      if (!container) continue;
      const v = this.getProp(container, key);
      if (!v) continue;
      if (this.isFunction(v)) {
        found = v;
        break;
      }
      this.free(v);
    }
    this.free(key);
    if (found) this.fnCache.set(name, found);
    return found;
  }

  /** "file:line" of the innermost script frame calling into the host, if any. */
  where(): string | undefined {
    if (!this.wherePtr || this.poisoned) return undefined;
    let r: JSValuePointer;
    try {
      r = this.ffi.QTS_Call(this.ctx, this.wherePtr as JSValuePointer, this.undefinedPtr, 0, 0 as never);
    } catch (err) {
      this.poisoned = describeHostError(err);
      return undefined;
    }
    const e = this.ffi.QTS_ResolveException(this.ctx, r);
    if (e) {
      this.free(e);
      this.free(r);
      return undefined;
    }
    const tag = this.tagOf(r);
    const stack = tag === TAG.STRING || tag === TAG.STRING_ROPE ? this.readString(r) : undefined;
    this.free(r);
    const f = stack ? firstScriptFrame(stack) : undefined;
    return f ? `${f.file}:${f.line}` : undefined;
  }

  memoryUsage(): MemoryUsage {
    const box = this.ffi.QTS_RuntimeComputeMemoryUsage(this.rtPtr, this.ctx);
    const json = this.ffi.QTS_Dump(this.ctx, box);
    const raw = JSON.parse(this.module.UTF8ToString(json)) as Record<string, number>;
    this.ffi.QTS_FreeCString(this.ctx, json);
    this.free(box);
    return {
      heapBytes: this.wasm.memory.buffer.byteLength,
      maxHeapBytes: this.wasm.maxBytes,
      mallocCount: raw['malloc_count'] ?? 0,
      objCount: raw['obj_count'] ?? 0,
      strCount: raw['str_count'] ?? 0,
      atomCount: raw['atom_count'] ?? 0,
      shapeCount: raw['shape_count'] ?? 0,
      propCount: raw['prop_count'] ?? 0,
      jsFuncCount: raw['js_func_count'] ?? 0,
      arrayCount: raw['array_count'] ?? 0,
    };
  }

  /** Free every handle, the context and the runtime. The wasm instance goes with the last reference. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.poisoned) return; // never call into a broken instance
    for (const p of this.fnCache.values()) this.free(p);
    this.fnCache.clear();
    this.free(this.nsPtr);
    this.free(this.exitPtr);
    this.free(this.wherePtr);
    this.nsPtr = this.exitPtr = this.wherePtr = 0;
    for (const p of this.owned) this.free(p);
    this.owned.length = 0;
    this.module._free(this.scratch);
    this.module._free(this.argv);
    this.module._free(this.exceptionBox);
    this.vm.dispose();
    this.rt.dispose();
  }
}

function errorResult(message: string, extra: Partial<ScriptError> = {}): EngineRunResult {
  return { kind: 'error', error: { ...extra, message } };
}

function describeHostError(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}

export class JsdtEngine implements ScriptEngine {
  readonly engineName = 'jsdt';
  readonly scriptPath: string;
  private gen: Generation | undefined;
  private readonly files: ScriptFiles;
  private readonly registry: FrozenKemiRegistry<RouteContext>;
  private readonly invoke: Invoke;
  private readonly log: Logger;
  private readonly settings: JsdtSettings;
  private readonly version: string;
  private readonly requiredFunctions: readonly string[];
  private readonly isModule: boolean;
  /** performance.now() after which the running script is interrupted; 0 = no deadline. */
  private deadline = 0;
  private stopped: StopReason | undefined;
  /** KSR.x.exit()/drop() (or a KSR call after them) ended the current run. */
  private exitRaised = false;
  /** Running jobs left over by a run that already ended: KSR calls are refused. */
  private draining = false;
  private depth = 0;
  private disposed = false;
  /** dispose() was called while a route ran: free everything when it returns. */
  private disposeWhenIdle = false;
  /** Why the engine cannot run scripts any more (a rebuild failed). */
  private broken: string | undefined;
  private rebuilding: Promise<void> | undefined;
  private rebuildCount = 0;
  private recycleCount = 0;

  private constructor(opts: EngineLoadOptions, settings: JsdtSettings, scriptPath: string, files: ScriptFiles, source: string) {
    this.scriptPath = scriptPath;
    this.registry = opts.registry;
    this.invoke = opts.invoke;
    this.log = opts.logger.child({ mod: 'app_jsdt' });
    this.settings = settings;
    this.version = opts.version;
    this.requiredFunctions = opts.requiredFunctions;
    this.files = files;
    this.isModule = looksLikeModule(scriptPath, source);
  }

  /** Build an interpreter for opts.script; rejects with KsrError(SCRIPT_LOAD) naming file:line. */
  static async load(opts: EngineLoadOptions): Promise<JsdtEngine> {
    const scriptPath = path.resolve(opts.script);
    let settings: JsdtSettings;
    try {
      settings = readSettings(opts.params);
    } catch (err) {
      throw new KsrError(ErrorCodes.SCRIPT_LOAD, (err as Error).message);
    }
    const files = new ScriptFiles(scriptPath, settings.mode === 1);
    let source: string;
    try {
      source = files.read(scriptPath);
    } catch (err) {
      throw new KsrError(ErrorCodes.SCRIPT_LOAD, `${scriptPath}: cannot read the script: ${(err as Error).message}`, { cause: err });
    }
    const engine = new JsdtEngine(opts, settings, scriptPath, files, source);
    let wasm: WasmInstance;
    try {
      wasm = await newWasmInstance(settings.memoryLimitMb);
    } catch (err) {
      throw new KsrError(ErrorCodes.SCRIPT_LOAD, `${scriptPath}: cannot start the JavaScript engine: ${describeHostError(err)}`, { cause: err });
    }
    engine.gen = engine.build(wasm);
    return engine;
  }

  // ---------------------------------------------------------------- building a generation

  /** Create runtime + context on `wasm`, bind KSR and evaluate the script. Throws KsrError. */
  private build(wasm: WasmInstance): Generation {
    const rt = wasm.qjs.newRuntime();
    let vm: QuickJSContext | undefined;
    let gen: Generation | undefined;
    const savedDeadline = this.deadline;
    try {
      rt.setMaxStackSize(this.settings.stackLimitKb * 1024);
      rt.setMemoryLimit(this.settings.memoryLimitMb * 1024 * 1024);
      rt.setModuleLoader(
        (name) => {
          const r = this.files.load(name);
          return 'error' in r ? { error: new Error(r.error) } : r.source;
        },
        (base, requested) => this.files.normalize(base, requested),
      );
      vm = rt.newContext();
      const g = (gen = new Generation(wasm, rt, vm));
      rt.setInterruptHandler(() => this.shouldInterrupt(g));
      this.bindKsr(g);
      this.deadline = this.settings.loadTimeLimitMs > 0 ? performance.now() + this.settings.loadTimeLimitMs : 0;
      this.stopped = undefined;
      this.exitRaised = false;
      this.evaluateScript(g);
      for (const name of this.requiredFunctions) {
        if (!g.resolveFunction(name)) {
          throw new KsrError(
            ErrorCodes.SCRIPT_LOAD,
            `${this.scriptPath}: function ${name} is not defined (define it at the top level of a classic script, or export it from a module script)`,
          );
        }
      }
      return g;
    } catch (err) {
      // A KsrError is a script problem on a healthy instance; anything else escaped the wasm code.
      if (gen && !(err instanceof KsrError)) gen.poisoned = describeHostError(err);
      try {
        if (gen) gen.dispose();
        else if (!(err instanceof KsrError)) {
          // nothing more to free on a broken instance
        } else {
          vm?.dispose();
          rt.dispose();
        }
      } catch {
        // the load error is what matters
      }
      if (err instanceof KsrError) throw err;
      throw new KsrError(ErrorCodes.SCRIPT_LOAD, `${this.scriptPath}: ${describeHostError(err)}`, { cause: err });
    } finally {
      this.deadline = savedDeadline;
      this.stopped = undefined;
      this.exitRaised = false;
    }
  }

  /** KSR and KSR.<module> with one host function per export, frozen; KSRVERSION; engine helpers. */
  private bindKsr(g: Generation): void {
    const { ffi, ctx } = g;
    const exports = this.registry.exports;
    // Host-ref ids: on a fresh runtime they are allocated contiguously; fall back to a map if not.
    const ids: HostRefId[] = exports.map((e) => g.hostRefs.put(e));
    const base = ids.length > 0 ? ids[0]! : 0;
    const contiguous = ids.every((id, i) => id === base + i);
    const byId = contiguous ? undefined : new Map(ids.map((id, i) => [id, i] as const));
    const bound: KemiExport<RouteContext>[] = [...exports];
    const where = (): string | undefined => g.where();
    const callFunction: CallFunction = (ctxPtr, _thisPtr, argc, argv, fnId) => this.onCall(g, bound, base, byId, where, ctxPtr, argc, argv, fnId);
    g.callbacks.setContextCallbacks(ctx, { callFunction });

    const ksr = g.own(ffi.QTS_NewObject(ctx));
    for (const module of this.registry.modules) {
      let target = ksr;
      if (module !== '') {
        target = ffi.QTS_NewObject(ctx);
        const key = g.newString(module);
        ffi.QTS_SetProp(ctx, ksr as JSValuePointer, key, target as JSValuePointer);
        g.free(key);
      }
      for (const exp of this.registry.exportsOf(module)) {
        const fn = ffi.QTS_NewFunction(ctx, exp.name, exp.params.length, false, ids[exp.id]!);
        const key = g.newString(exp.name);
        ffi.QTS_SetProp(ctx, target as JSValuePointer, key, fn);
        g.free(key);
        g.free(fn);
      }
      if (target !== ksr) g.free(target);
    }
    const setup = this.evalRaw(g, SETUP_CODE, INTERNAL_FILE, EvalFlags.JS_EVAL_TYPE_GLOBAL);
    const version = g.newString(this.version);
    const argv = new Int32Array(g.wasm.memory.buffer, g.argv, 2);
    argv[0] = ksr;
    argv[1] = version;
    const res = ffi.QTS_Call(ctx, setup as JSValuePointer, g.undefinedPtr, 2, g.argv as never);
    g.free(version);
    g.free(setup);
    const exc = ffi.QTS_ResolveException(ctx, res);
    if (exc) {
      const info = g.describeThrown(exc);
      g.free(exc);
      g.free(res);
      throw new Error(`KSR setup failed: ${info.message ?? info.primitive ?? 'unknown'}`);
    }
    g.exitPtr = ffi.QTS_GetPropNumber(ctx, res, 0);
    g.wherePtr = ffi.QTS_GetPropNumber(ctx, res, 1);
    g.free(res);
  }

  /** Evaluate code; returns the result box or throws KsrError(SCRIPT_LOAD) with file:line. */
  private evalRaw(g: Generation, code: string, file: string, flags: number): number {
    const bytes = g.module.lengthBytesUTF8(code) + 1;
    const src = g.malloc(bytes);
    g.module.stringToUTF8(code, src, bytes);
    const res = g.ffi.QTS_Eval(g.ctx, src as never, bytes - 1, file, 0 as never, flags as never);
    g.module._free(src);
    const exc = g.ffi.QTS_ResolveException(g.ctx, res);
    if (exc) {
      g.free(res);
      throw this.loadError(g, exc);
    }
    return res;
  }

  private loadError(g: Generation, exc: number): KsrError {
    if (g.exitPtr && g.sameValue(exc, g.exitPtr)) {
      g.free(exc);
      return new KsrError(ErrorCodes.SCRIPT_LOAD, `${this.scriptPath}: KSR.x.exit() called while loading the script`);
    }
    const info = g.describeThrown(exc);
    g.free(exc);
    const err = toScriptError(info, this.scriptPath);
    if (this.stopped === 'deadline') {
      err.message = `loading the script took longer than ${this.settings.loadTimeLimitMs} ms (10 × route_time_limit, at least 1 s)`;
    } else if (info.isNull || info.message === 'out of memory') {
      err.message = `out of memory while loading the script (app_jsdt memory_limit ${this.settings.memoryLimitMb} MB)`;
    }
    return new KsrError(ErrorCodes.SCRIPT_LOAD, formatLoadError(err, this.scriptPath));
  }

  private evaluateScript(g: Generation): void {
    const source = this.files.read(this.scriptPath);
    const flags = this.isModule ? EvalFlags.JS_EVAL_TYPE_MODULE : EvalFlags.JS_EVAL_TYPE_GLOBAL;
    const res = this.evalRaw(g, source, this.scriptPath, flags);
    // Top-level await and dynamic imports at load: settle them now.
    let jobExc = 0;
    this.drainJobs(g, (exc) => {
      if (jobExc) g.free(exc);
      else jobExc = exc;
    });
    if (jobExc) {
      g.free(res);
      throw this.loadError(g, jobExc);
    }
    if (this.isModule) {
      const state = g.ffi.QTS_PromiseState(g.ctx, res as JSValuePointer);
      if (state < 0) {
        g.nsPtr = res; // the module namespace
      } else if (state === 1) {
        g.nsPtr = g.ffi.QTS_PromiseResult(g.ctx, res as JSValuePointer);
        g.free(res);
      } else if (state === 2) {
        const reason = g.ffi.QTS_PromiseResult(g.ctx, res as JSValuePointer);
        g.free(res);
        throw this.loadError(g, reason);
      } else {
        g.free(res);
        throw new KsrError(ErrorCodes.SCRIPT_LOAD, `${this.scriptPath}: the module's top-level await never settled`);
      }
    } else {
      g.free(res);
    }
  }

  /**
   * Run pending jobs (promise reactions, dynamic imports) until none is left. `onError` gets the
   * exception of a failing job (and must free or keep it).
   */
  private drainJobs(g: Generation, onError: (exc: number) => void): void {
    const { ffi, rtPtr } = g;
    for (let i = 0; i < MAX_JOB_DRAINS && ffi.QTS_IsJobPending(rtPtr); i++) {
      const r = g.rt.executePendingJobs();
      if (r.error) {
        const exc = ffi.QTS_DupValuePointer(g.ctx, r.error.value);
        r.error.dispose();
        onError(exc);
      } else {
        r.dispose();
      }
    }
    if (ffi.QTS_IsJobPending(rtPtr)) {
      // A job queue that never empties: drop the runtime (and its queue) after this run.
      g.needsRecycle = true;
    }
  }

  // ---------------------------------------------------------------- guest → host

  private onCall(
    g: Generation,
    bound: readonly KemiExport<RouteContext>[],
    base: number,
    byId: ReadonlyMap<number, number> | undefined,
    where: () => string | undefined,
    ctxPtr: JSContextPointer,
    argc: number,
    argv: JSValueConstPointer,
    fnId: HostRefId,
  ): JSValuePointer {
    try {
      if (ctxPtr !== g.ctx || g.poisoned) return g.throwError('this JS interpreter is no longer usable');
      const exp = bound[byId ? (byId.get(fnId) ?? -1) : fnId - base];
      if (!exp) return g.throwError(`unknown KSR function (host ref ${fnId})`);
      if (this.draining) return g.ffi.QTS_Throw(g.ctx, g.exitPtr as JSValuePointer);
      let args: readonly unknown[] = NO_ARGS;
      if (argc > 0) {
        const a = new Array<unknown>(argc);
        for (let i = 0; i < argc; i++) a[i] = g.readValue(argv + i * JSVALUE_SIZE);
        args = a;
      }
      let value: unknown;
      try {
        value = this.invoke(exp.id, args, where);
      } catch (err) {
        if (isRouteExit(err)) {
          this.exitRaised = true;
          return g.ffi.QTS_Throw(g.ctx, g.exitPtr as JSValuePointer);
        }
        return g.throwError(`${exp.qualified}: ${err instanceof Error ? err.message : String(err)}`);
      }
      // A nested run (an export that runs another route function) may have crashed the instance.
      if (g.poisoned) return 0 as JSValuePointer;
      return g.writeValue(value);
    } catch (err) {
      // Marshalling failed: our own bug, or the host stack ran out inside a call into the wasm
      // code. The instance may be inconsistent: stop it (the interrupt handler now fires at once)
      // and rebuild it after the run.
      if (!g.poisoned) {
        g.poisoned = describeHostError(err);
        this.log.error({ err }, `JavaScript interpreter failed inside a KSR call (${g.poisoned}); rebuilding it`);
      }
      return 0 as JSValuePointer;
    }
  }

  private shouldInterrupt(g: Generation): boolean {
    if (g.poisoned) return true;
    if (this.deadline !== 0 && performance.now() > this.deadline) {
      this.stopped = 'deadline';
      return true;
    }
    return false;
  }

  // ---------------------------------------------------------------- host → guest

  hasFunction(name: string): boolean {
    const g = this.gen;
    if (!g || g.poisoned || this.disposed) return false;
    const saved = this.deadline;
    if (this.depth === 0 && this.settings.routeTimeLimitMs > 0) this.deadline = performance.now() + this.settings.routeTimeLimitMs;
    try {
      return g.resolveFunction(name) !== 0;
    } catch (err) {
      g.poisoned = describeHostError(err);
      this.log.error({ err }, `JavaScript interpreter crashed looking up ${name} (${g.poisoned}); rebuilding it`);
      if (this.depth === 0) this.startRebuild();
      return false;
    } finally {
      this.deadline = saved;
      if (this.depth === 0) this.stopped = undefined;
    }
  }

  run(func: string, args: readonly string[]): EngineRunResult {
    if (this.disposed) return errorResult('the JavaScript interpreter was disposed');
    const g = this.gen;
    if (!g || g.poisoned) {
      if (this.depth === 0 && g?.poisoned) this.startRebuild();
      return errorResult(this.broken ?? 'the JavaScript interpreter is being rebuilt after a crash; the message was not routed');
    }
    const saved = { deadline: this.deadline, stopped: this.stopped, exitRaised: this.exitRaised, draining: this.draining };
    const limit = this.settings.routeTimeLimitMs;
    if (limit > 0) {
      const d = performance.now() + limit;
      this.deadline = saved.deadline !== 0 && saved.deadline < d ? saved.deadline : d;
    }
    this.stopped = undefined;
    this.exitRaised = false;
    this.draining = false;
    this.depth++;
    const argBoxes: number[] = [];
    let argvPtr = g.argv;
    try {
      const fn = g.resolveFunction(func);
      if (!fn) return { kind: 'missing' };
      if (args.length > ARGV_SLOTS) {
        argvPtr = g.module._malloc(args.length * 4);
        if (argvPtr === 0) {
          argvPtr = g.argv;
          return errorResult('out of memory passing the route arguments');
        }
      }
      for (let i = 0; i < args.length; i++) {
        const box = g.newString(args[i]!);
        if (!box) return errorResult('out of memory passing the route arguments');
        argBoxes.push(box);
        g.words()[(argvPtr >> 2) + i] = box;
      }
      const res = g.ffi.QTS_Call(g.ctx, fn as JSValuePointer, g.undefinedPtr, args.length, argvPtr as never);
      return this.finishRun(g, res, func);
    } catch (err) {
      // An exception out of the wasm code (typically the host stack ran out inside a deep native
      // recursion): the instance's state is unknown. Never touch it again; rebuild from scratch.
      g.poisoned = describeHostError(err);
      this.log.error({ err }, `JavaScript interpreter crashed running ${func} (${g.poisoned}); rebuilding it`);
      return errorResult(`the JavaScript interpreter crashed: ${g.poisoned}`, { func });
    } finally {
      if (!g.poisoned) {
        for (const b of argBoxes) g.free(b);
        if (argvPtr !== g.argv) g.module._free(argvPtr);
      }
      this.depth--;
      this.deadline = saved.deadline;
      this.stopped = saved.stopped;
      this.exitRaised = saved.exitRaised;
      this.draining = saved.draining;
      if (this.depth === 0) {
        if (this.disposeWhenIdle) this.dispose();
        else if (g.poisoned) this.startRebuild();
        else if (g === this.gen && (g.needsRecycle || this.heapExhausted(g))) this.recycle(g);
      }
    }
  }

  private finishRun(g: Generation, res: JSValuePointer, func: string): EngineRunResult {
    const { ffi, ctx } = g;
    let exc: number = ffi.QTS_ResolveException(ctx, res);
    let value = 0;
    if (exc) g.free(res);
    else value = res;
    // Promise reactions queued by the route run now, under its deadline. Once the route has ended
    // (exit, error, interrupt) the jobs still run, but their KSR calls are refused.
    if (ffi.QTS_IsJobPending(g.rtPtr)) {
      if (exc || this.exitRaised || this.stopped) this.draining = true;
      this.drainJobs(g, (jobExc) => {
        if (!exc) exc = jobExc;
        else g.free(jobExc);
      });
    }
    if (value) {
      // An async route function: its promise tells whether it failed.
      if (!exc && ffi.QTS_PromiseState(ctx, value as JSValuePointer) === 2) exc = ffi.QTS_PromiseResult(ctx, value as JSValuePointer);
      g.free(value);
    }
    if (g.poisoned) {
      if (exc) g.free(exc);
      return errorResult(`the JavaScript interpreter crashed: ${g.poisoned}`, { func });
    }
    let info: ThrownInfo | undefined;
    if (exc) {
      if (g.sameValue(exc, g.exitPtr)) {
        g.free(exc);
        return { kind: 'exit' };
      }
      info = g.describeThrown(exc);
      g.free(exc);
    }
    const oom = info !== undefined && (info.isNull === true || (info.name === 'InternalError' && info.message === 'out of memory'));
    if (this.exitRaised) {
      // The script caught the exit and went on; the route still ended with KSR.x.exit().
      if (this.stopped === 'deadline') this.log.warn(`${func}: the script caught KSR.x.exit() and then ran past route_time_limit (${this.settings.routeTimeLimitMs} ms)`);
      else if (oom) this.log.warn(`${func}: the script caught KSR.x.exit() and then ran out of memory`);
      return { kind: 'exit' };
    }
    if (this.stopped === 'deadline') {
      const err = toScriptError(info ?? {}, this.scriptPath);
      err.message = `the route ran longer than route_time_limit (${this.settings.routeTimeLimitMs} ms) and was stopped`;
      err.func = func;
      return { kind: 'error', error: err };
    }
    if (info) {
      const err = toScriptError(info, this.scriptPath);
      if (oom) err.message = `out of memory (app_jsdt memory_limit ${this.settings.memoryLimitMb} MB)`;
      err.func = func;
      return { kind: 'error', error: err };
    }
    return { kind: 'ok' };
  }

  /**
   * Is the heap (nearly) exhausted? Only asked when the linear memory is (nearly) at its cap: then a
   * probe allocation of a quarter of memory_limit (at most 4 MB) must still succeed. It fails when
   * the script keeps the memory (globals), or when cyclic garbage piled up: QuickJS's GC trigger
   * counts allocations, not bytes, in this build (see README), so big cyclic garbage can fill the
   * heap before a collection runs. Recycling frees both, between two messages.
   */
  private heapExhausted(g: Generation): boolean {
    const probe = Math.min(OOM_PROBE_MAX_BYTES, Math.floor((this.settings.memoryLimitMb * 1024 * 1024) / 4));
    // While the memory can still grow by the probe size, malloc cannot fail for lack of room.
    if (g.wasm.memory.buffer.byteLength + probe <= g.wasm.maxBytes) return false;
    const p = g.module._malloc(probe);
    if (p === 0) return true;
    g.module._free(p);
    return false;
  }

  /**
   * Replace the generation by a fresh runtime + context on the same wasm instance (synchronous):
   * used when the heap is still exhausted after an out-of-memory error, or the job queue never
   * empties. The script is evaluated again, as on a reload.
   */
  private recycle(old: Generation): void {
    this.gen = undefined;
    this.recycleCount++;
    this.log.warn(
      `recycling the JavaScript interpreter of ${this.scriptPath} (${old.needsRecycle ? 'runaway promise jobs' : `heap exhausted, memory_limit ${this.settings.memoryLimitMb} MB`}); the script is evaluated again`,
    );
    try {
      old.dispose();
      this.gen = this.build(old.wasm);
    } catch (err) {
      this.broken = `the JavaScript interpreter could not be rebuilt: ${(err as Error).message}`;
      this.log.error({ err }, this.broken);
    }
  }

  /** After a crash: a new wasm instance (async), then the script evaluated again. */
  private startRebuild(): void {
    if (this.rebuilding || this.disposed) return;
    const old = this.gen;
    if (old) old.dispose(); // poisoned: drops references only
    this.gen = undefined;
    this.rebuildCount++;
    this.rebuilding = newWasmInstance(this.settings.memoryLimitMb)
      .then((wasm) => {
        if (this.disposed) return;
        this.gen = this.build(wasm);
        this.log.warn(`the JavaScript interpreter of ${this.scriptPath} was rebuilt after a crash`);
      })
      .catch((err: unknown) => {
        this.broken = `the JavaScript interpreter could not be rebuilt: ${(err as Error)?.message ?? String(err)}`;
        this.log.error({ err }, this.broken);
      })
      .finally(() => {
        this.rebuilding = undefined;
      });
  }

  // ---------------------------------------------------------------- introspection

  /** Resolves when no rebuild is in progress (tests; the server never needs to wait). */
  async settled(): Promise<void> {
    while (this.rebuilding) await this.rebuilding;
  }

  /** Interpreter statistics for tests and diagnostics. */
  stats(): { rebuilds: number; recycles: number; broken: string | undefined; files: string[]; module: boolean } {
    return { rebuilds: this.rebuildCount, recycles: this.recycleCount, broken: this.broken, files: this.files.loaded, module: this.isModule };
  }

  /** Allocation counters of the current interpreter (undefined while none is usable). */
  memoryUsage(): MemoryUsage | undefined {
    const g = this.gen;
    if (!g || g.poisoned || this.disposed) return undefined;
    try {
      return g.memoryUsage();
    } catch (err) {
      g.poisoned = describeHostError(err);
      return undefined;
    }
  }

  dispose(): void {
    if (this.disposed) return;
    if (this.depth > 0) {
      // never free a runtime that has frames on the stack
      this.disposeWhenIdle = true;
      return;
    }
    this.disposed = true;
    const g = this.gen;
    this.gen = undefined;
    try {
      g?.dispose();
    } catch (err) {
      this.log.warn({ err }, `disposing the JavaScript interpreter of ${this.scriptPath} failed`);
    }
  }
}

export type { MemoryUsage };
