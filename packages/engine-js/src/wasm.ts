/**
 * One QuickJS WebAssembly instance per interpreter generation, with its own capped linear memory.
 *
 * The .wasm file is compiled once per process (a WebAssembly.Module is immutable and shareable);
 * each instance then only costs an instantiation (a few ms) and its memory. The memory is a
 * WebAssembly.Memory we create with a `maximum`: QuickJS's own setMemoryLimit is not a byte quota
 * in this build (every allocation is charged 8 bytes), so the real quota is the linear memory
 * itself. When it is full, malloc fails inside QuickJS and the script gets "out of memory".
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import * as variantPackage from '@jitl/quickjs-wasmfile-release-sync';
import { newQuickJSWASMModuleFromVariant, newVariant, type QuickJSSyncVariant, type QuickJSWASMModule } from 'quickjs-emscripten-core';

/** The parts of the WebAssembly API we use (lib.dom is not part of this repo's TS libs). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
interface WasmApi {
  compile(bytes: Uint8Array): Promise<object>;
  Memory: new (descriptor: { initial: number; maximum?: number }) => WasmMemory;
}
const wasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

const PAGE = 65536;
/**
 * Linear memory every instance starts with: Emscripten's static data (~90 KB), its 5 MB C stack
 * and the first ~11 MB of heap (the runtime, the context, KSR, the script's code). memory_limit
 * is added on top of this.
 */
export const BASE_MEMORY_BYTES = 16 * 1024 * 1024;

const require = createRequire(import.meta.url);
let compiled: Promise<object> | undefined;

function compiledModule(): Promise<object> {
  compiled ??= readFile(require.resolve('@jitl/quickjs-wasmfile-release-sync/wasm'))
    .then((bytes) => wasmApi.compile(bytes))
    .catch((err: unknown) => {
      compiled = undefined; // let the next load try again
      throw err;
    });
  return compiled;
}

function releaseSyncVariant(): QuickJSSyncVariant {
  // The package is dual CJS/ESM: depending on the loader the variant is `default` or `default.default`.
  let v: unknown = variantPackage;
  for (let i = 0; i < 3 && v && typeof v === 'object' && !('importFFI' in v) && 'default' in v; i++) {
    v = (v as { default: unknown }).default;
  }
  if (!v || typeof v !== 'object' || !('importFFI' in v)) throw new Error('@jitl/quickjs-wasmfile-release-sync: no variant export found');
  return v as QuickJSSyncVariant;
}

export interface WasmInstance {
  readonly qjs: QuickJSWASMModule;
  readonly memory: WasmMemory;
  /** Maximum size of the linear memory in bytes. */
  readonly maxBytes: number;
}

/** A fresh QuickJS instance whose linear memory may grow to BASE_MEMORY_BYTES + memoryLimitMb. */
export async function newWasmInstance(memoryLimitMb: number): Promise<WasmInstance> {
  const maxBytes = BASE_MEMORY_BYTES + memoryLimitMb * 1024 * 1024;
  const memory = new wasmApi.Memory({ initial: BASE_MEMORY_BYTES / PAGE, maximum: maxBytes / PAGE });
  const variant = newVariant(releaseSyncVariant(), {
    wasmModule: compiledModule as never,
    wasmMemory: memory as never,
  });
  const qjs = await newQuickJSWASMModuleFromVariant(variant);
  const heap = (qjs as unknown as { module?: { HEAPU8?: Uint8Array } }).module?.HEAPU8;
  if (!heap || heap.buffer !== memory.buffer) {
    // Without our memory the quota would silently be the 2 GB default: refuse instead.
    throw new Error('quickjs-emscripten did not use the supplied WebAssembly.Memory (unsupported version?)');
  }
  return { qjs, memory, maxBytes };
}
