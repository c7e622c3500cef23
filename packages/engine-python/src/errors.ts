/**
 * Python errors as ksr sees them. The runtime (ksr_runtime.py) describes an exception as JSON:
 * `{ message: "Type: text", file, line, stack }`, where file:line is the innermost frame of the
 * script's own files (the main script or a module next to it, compiled with their host paths),
 * never a frame of the stdlib or of the runtime.
 */
import type { ScriptError } from '@ksr/core';

export interface PyErrorInfo {
  message?: string;
  type?: string;
  file?: string;
  line?: number;
  stack?: string;
}

export const MAX_STACK_CHARS = 4000;

export function parseErrorInfo(json: unknown): PyErrorInfo {
  if (typeof json !== 'string') return { message: 'unknown Python error' };
  try {
    const v = JSON.parse(json) as PyErrorInfo;
    return typeof v === 'object' && v !== null ? v : { message: 'unknown Python error' };
  } catch {
    return { message: 'unknown Python error' };
  }
}

export function toScriptError(info: PyErrorInfo, func?: string): ScriptError {
  const err: ScriptError = { message: info.message ?? 'unknown Python error' };
  if (info.file) err.file = info.file;
  if (typeof info.line === 'number') err.line = info.line;
  if (func !== undefined) err.func = func;
  if (info.stack) err.stack = info.stack.length > MAX_STACK_CHARS ? `${info.stack.slice(0, MAX_STACK_CHARS)}…` : info.stack;
  return err;
}

/** "file:line: message" for KsrError(SCRIPT_LOAD). */
export function formatLoadError(info: PyErrorInfo, fallbackFile: string): string {
  const file = info.file ?? fallbackFile;
  return `${file}${typeof info.line === 'number' ? `:${info.line}` : ''}: ${info.message ?? 'unknown Python error'}`;
}

export function describeHostError(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message.split('\n')[0]}`;
  return String(err);
}

/**
 * Did this exception, thrown out of a call into Pyodide, leave the interpreter unusable? Only a
 * PythonError (a Python exception that crossed an entry point) leaves it consistent; anything
 * else (a native stack overflow unwinding through the wasm frames, an exit, Pyodide's own fatal
 * error) means its state is unknown: it must never be called again.
 */
export function isFatal(err: unknown): boolean {
  const e = err as { name?: unknown } | null;
  return !(e && typeof e === 'object' && e.name === 'PythonError');
}
