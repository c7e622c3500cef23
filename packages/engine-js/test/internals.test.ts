/**
 * engine-js binds quickjs-emscripten's raw FFI through members that 0.32 keeps protected; these
 * tests pin that version and fail loudly if an upgrade changes what the engine relies on.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { TAG, isFloatTag, reachInternals, verifyValueLayout } from '../src/internals.js';
import { BASE_MEMORY_BYTES, newWasmInstance } from '../src/wasm.js';

const require = createRequire(import.meta.url);

describe('quickjs-emscripten internals', () => {
  it('is pinned to 0.32.0 (core and wasm variant)', () => {
    const own = JSON.parse(readFileSync(fileURLToPath(new URL('../package.json', import.meta.url)), 'utf8')) as { dependencies: Record<string, string> };
    expect(own.dependencies['quickjs-emscripten-core']).toBe('0.32.0');
    expect(own.dependencies['@jitl/quickjs-wasmfile-release-sync']).toBe('0.32.0');
    const core = JSON.parse(readFileSync(path.join(path.dirname(require.resolve('quickjs-emscripten-core')), '..', 'package.json'), 'utf8')) as { version: string };
    expect(core.version).toBe('0.32.0');
  });

  it('creates instances on our capped memory and reaches the raw FFI', async () => {
    const wasm = await newWasmInstance(8);
    expect(wasm.maxBytes).toBe(BASE_MEMORY_BYTES + 8 * 1024 * 1024);
    expect(wasm.memory.buffer.byteLength).toBe(BASE_MEMORY_BYTES);
    const rt = wasm.qjs.newRuntime();
    const vm = rt.newContext();
    const int = reachInternals(wasm.qjs, rt, vm);
    expect(int.module.HEAPU8.buffer).toBe(wasm.memory.buffer);
    expect(() => verifyValueLayout(int)).not.toThrow();

    // host-ref ids of a fresh runtime are contiguous (the engine maps fn id → export by subtraction)
    const ids = [1, 2, 3, 4].map(() => int.hostRefs.put({}));
    expect(ids.map((id) => id - ids[0]!)).toEqual([0, 1, 2, 3]);

    // a raw host function through our own context callback
    const seen: number[] = [];
    int.callbacks.setContextCallbacks(int.ctx, {
      callFunction: (_ctx, _this, argc, argv, fnId) => {
        seen.push(fnId, argc, new Int32Array(int.module.HEAPU8.buffer)[argv >> 2]!);
        return int.ffi.QTS_NewFloat64(int.ctx, 41 + argc);
      },
    });
    const id = int.hostRefs.put({});
    const fn = int.ffi.QTS_NewFunction(int.ctx, 'probe', 1, false, id);
    const global = int.ffi.QTS_GetGlobalObject(int.ctx);
    const key = vm.newString('probe');
    int.ffi.QTS_SetProp(int.ctx, global, key.value, fn);
    key.dispose();
    int.ffi.QTS_FreeValuePointer(int.ctx, fn);
    int.ffi.QTS_FreeValuePointer(int.ctx, global);
    const r = vm.evalCode('probe(7)');
    expect(vm.getNumber(r.unwrap())).toBe(42);
    r.dispose();
    expect(seen).toEqual([id, 1, 7]);
    vm.dispose();
    rt.dispose();
  });

  it('classifies tags', () => {
    expect(isFloatTag(TAG.INT)).toBe(false);
    expect(isFloatTag(TAG.STRING)).toBe(false);
    expect(isFloatTag(TAG.SHORT_BIG_INT)).toBe(false);
    expect(isFloatTag(-10)).toBe(true);
    expect(isFloatTag(TAG.FLOAT64)).toBe(true);
    expect(isFloatTag(0x7ff80000)).toBe(true);
  });
});
