/**
 * The raw FFI layer of quickjs-emscripten that engine-js binds against.
 *
 * `vm.newFunction` costs 8-10 µs per guest→host call (research: engine-bindings.md §1); the raw
 * path (our own C→host callback for the context, QTS_NewFunction with host-ref ids, marshalling
 * with QTS_* calls and direct reads of the JSValue words) costs well under 1 µs. It needs members
 * that quickjs-emscripten-core 0.32 keeps protected/private: they are reached here, in one place,
 * checked, and covered by test/internals.test.ts. The dependency is pinned to 0.32.0 for this.
 */
import type { HostRefId, JSContextPointer, JSRuntimePointer, JSValueConstPointer, JSValuePointer, QuickJSContext, QuickJSFFI, QuickJSRuntime, QuickJSWASMModule } from 'quickjs-emscripten-core';

/** The Emscripten module members used (a subset of QuickJSEmscriptenModule). */
export interface EmModule {
  HEAPU8: Uint8Array;
  _malloc(bytes: number): number;
  _free(ptr: number): void;
  UTF8ToString(ptr: number, maxBytesToRead?: number): string;
  stringToUTF8(str: string, outPtr: number, maxBytesToWrite: number): void;
  lengthBytesUTF8(str: string): number;
}

export type CallFunction = (ctx: JSContextPointer, thisPtr: JSValueConstPointer, argc: number, argv: JSValueConstPointer, fnId: HostRefId) => JSValuePointer;

interface ModuleCallbacks {
  setContextCallbacks(ctx: JSContextPointer, callbacks: { callFunction: CallFunction }): void;
}

interface HostRefMap {
  put(value: object): HostRefId;
}

export interface Internals {
  readonly ffi: QuickJSFFI;
  readonly module: EmModule;
  readonly callbacks: ModuleCallbacks;
  readonly hostRefs: HostRefMap;
  readonly rt: JSRuntimePointer;
  readonly ctx: JSContextPointer;
}

function need(cond: unknown, what: string): asserts cond {
  if (!cond) throw new Error(`quickjs-emscripten internals changed (${what}); engine-js needs quickjs-emscripten-core 0.32.x`);
}

/** Reach the protected members of a module, runtime and context created by it. */
export function reachInternals(qjs: QuickJSWASMModule, runtime: QuickJSRuntime, context: QuickJSContext): Internals {
  const q = qjs as unknown as { ffi?: QuickJSFFI; module?: EmModule; callbacks?: ModuleCallbacks };
  const r = runtime as unknown as { hostRefs?: HostRefMap; rt?: { value: JSRuntimePointer } };
  const c = context as unknown as { ctx?: { value: JSContextPointer } };
  need(q.ffi && typeof q.ffi.QTS_NewFunction === 'function' && typeof q.ffi.QTS_Call === 'function', 'QuickJSWASMModule.ffi');
  need(q.module && q.module.HEAPU8 instanceof Uint8Array && typeof q.module._malloc === 'function', 'QuickJSWASMModule.module');
  need(typeof q.module.UTF8ToString === 'function' && typeof q.module.stringToUTF8 === 'function', 'module string helpers');
  need(q.callbacks && typeof q.callbacks.setContextCallbacks === 'function', 'QuickJSWASMModule.callbacks');
  need(r.hostRefs && typeof r.hostRefs.put === 'function', 'QuickJSRuntime.hostRefs');
  need(r.rt && typeof r.rt.value === 'number', 'QuickJSRuntime.rt');
  need(c.ctx && typeof c.ctx.value === 'number', 'QuickJSContext.ctx');
  return { ffi: q.ffi, module: q.module, callbacks: q.callbacks, hostRefs: r.hostRefs, rt: r.rt.value, ctx: c.ctx.value };
}

/**
 * QuickJS 2025-09-13 on wasm32 uses NaN-boxing: a JSValue is 8 bytes, the tag is the high
 * 32-bit word, the payload (int, bool, pointer) the low word. Tags outside [TAG_FIRST, TAG_FLOAT64)
 * are doubles. verifyValueLayout() checks these against values the engine itself creates.
 */
export const TAG = {
  FIRST: -9,
  BIG_INT: -9,
  SYMBOL: -8,
  STRING: -7,
  STRING_ROPE: -6,
  OBJECT: -1,
  INT: 0,
  BOOL: 1,
  NULL: 2,
  UNDEFINED: 3,
  EXCEPTION: 6,
  SHORT_BIG_INT: 7,
  FLOAT64: 8,
} as const;

export const JSVALUE_SIZE = 8;

export function isFloatTag(tag: number): boolean {
  return (tag - TAG.FIRST) >>> 0 >= TAG.FLOAT64 - TAG.FIRST;
}

/**
 * Check the value layout assumptions against real values: evaluates a few expressions and reads
 * their tags. Throws (the engine refuses to load) if this build differs.
 */
export function verifyValueLayout(int: Internals): void {
  const { ffi, module, ctx } = int;
  const samples: Array<[string, (hi: number, lo: number) => boolean]> = [
    ['undefined', (hi) => hi === TAG.UNDEFINED],
    ['null', (hi) => hi === TAG.NULL],
    ['true', (hi, lo) => hi === TAG.BOOL && lo === 1],
    ['false', (hi, lo) => hi === TAG.BOOL && lo === 0],
    ['-42', (hi, lo) => hi === TAG.INT && lo === -42],
    ['1.5', (hi) => isFloatTag(hi)],
    ['"abc"', (hi) => hi === TAG.STRING],
    ['"x".repeat(2000) + "y".repeat(2000)', (hi) => hi === TAG.STRING || hi === TAG.STRING_ROPE],
    ['({})', (hi) => hi === TAG.OBJECT],
    ['Symbol()', (hi) => hi === TAG.SYMBOL],
    ['1n', (hi) => hi === TAG.SHORT_BIG_INT || hi === TAG.BIG_INT],
    ['2n ** 100n', (hi) => hi === TAG.BIG_INT],
  ];
  for (const [code, ok] of samples) {
    const bytes = module.lengthBytesUTF8(code) + 1;
    const src = module._malloc(bytes);
    need(src !== 0, 'malloc');
    module.stringToUTF8(code, src, bytes);
    const v = ffi.QTS_Eval(ctx, src as never, bytes - 1, '<ksr-selftest>', 0 as never, 0 as never);
    module._free(src);
    const words = new Int32Array(module.HEAPU8.buffer, v, 2);
    const lo = words[0]!;
    const hi = words[1]!;
    ffi.QTS_FreeValuePointer(ctx, v);
    need(ok(hi, lo), `value layout of ${code}: tag ${hi}`);
  }
  need(ffi.QTS_ArgvGetJSValueConstPointer(1000 as never, 3) === 1000 + 3 * JSVALUE_SIZE, 'argv stride');
}
