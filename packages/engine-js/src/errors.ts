/**
 * Turning QuickJS exceptions into ScriptError values: location from the stack, bounded sizes.
 *
 * QuickJS stacks look like
 *     at ksr_request_route (/etc/ksr/main.js:12:9)
 *     at <eval> (/etc/ksr/main.js:40:1)
 *     at send_reply (native)
 * and syntax errors carry `    at /etc/ksr/main.js:3:5` plus fileName/lineNumber properties.
 * A stack overflow can produce tens of KB of stack text: messages and stacks are truncated here.
 */
import type { ScriptError } from '@ksr/core';

/** Longest error message kept (characters). */
export const MAX_MESSAGE_CHARS = 1000;
/** Longest stack kept: this many frames and characters. */
export const MAX_STACK_FRAMES = 30;
export const MAX_STACK_CHARS = 4000;

/** File name of the engine's own helper code (skipped when locating the script's caller). */
export const INTERNAL_FILE = '<ksr>';

export function truncateMessage(s: string, max = MAX_MESSAGE_CHARS): string {
  return s.length > max ? `${s.slice(0, max)}… (${s.length - max} more characters)` : s;
}

export function truncateStack(stack: string): string {
  const lines = stack.split('\n').filter((l) => l.trim() !== '');
  let kept = lines.slice(0, MAX_STACK_FRAMES);
  let out = kept.join('\n');
  while (out.length > MAX_STACK_CHARS && kept.length > 1) {
    kept = kept.slice(0, -1);
    out = kept.join('\n');
  }
  if (out.length > MAX_STACK_CHARS) out = out.slice(0, MAX_STACK_CHARS);
  const dropped = lines.length - kept.length;
  return dropped > 0 ? `${out}\n    … ${dropped} more frames` : out;
}

export interface Frame {
  func?: string;
  file: string;
  line: number;
}

const FRAME_RE = /^\s*at (?:(.+?) \()?([^()]+?):(\d+)(?::\d+)?\)?\s*$/;

/** The frames of a QuickJS stack that name a file and line (native frames are skipped). */
export function parseFrames(stack: string): Frame[] {
  const out: Frame[] = [];
  for (const line of stack.split('\n')) {
    const m = FRAME_RE.exec(line);
    if (!m) continue;
    const func = m[1];
    const frame: Frame = { file: m[2]!, line: Number(m[3]) };
    if (func !== undefined && func !== '<eval>' && func !== '<anonymous>') frame.func = func;
    out.push(frame);
  }
  return out;
}

/** The first frame that belongs to the script (not to the engine's helpers). */
export function firstScriptFrame(stack: string): Frame | undefined {
  return parseFrames(stack).find((f) => f.file !== INTERNAL_FILE && !f.file.startsWith('<'));
}

/** What was read from a thrown value. */
export interface ThrownInfo {
  name?: string;
  message?: string;
  stack?: string;
  fileName?: string;
  lineNumber?: number;
  /** For thrown primitives (`throw "x"`): their string form. */
  primitive?: string;
  /** The thrown value was null (QuickJS throws null when it cannot even allocate the error). */
  isNull?: boolean;
}

/**
 * Build a ScriptError from what was read off the thrown value: file and line of the innermost
 * script frame. `func` is left to the caller (the route function that was run, as every engine
 * reports it; the stack names the inner functions).
 */
export function toScriptError(t: ThrownInfo, fallbackFile?: string): ScriptError {
  let message: string;
  if (t.primitive !== undefined) message = `uncaught exception: ${t.primitive}`;
  else if (t.isNull) message = 'uncaught exception: null';
  else if (t.message !== undefined || t.name !== undefined) message = t.name && t.message !== undefined ? `${t.name}: ${t.message}` : (t.message ?? t.name ?? '');
  else message = 'uncaught exception (an object without message)';
  const err: ScriptError = { message: truncateMessage(message) };
  const frame = t.stack ? firstScriptFrame(t.stack) : undefined;
  if (t.fileName !== undefined && t.lineNumber !== undefined) {
    err.file = t.fileName;
    err.line = t.lineNumber;
  } else if (frame) {
    err.file = frame.file;
    err.line = frame.line;
  } else if (fallbackFile !== undefined) {
    err.file = fallbackFile;
  }
  if (t.stack) err.stack = truncateStack(t.stack);
  return err;
}

/** "file:line: message" for load errors (KsrError SCRIPT_LOAD). */
export function formatLoadError(e: ScriptError, fallbackFile: string): string {
  const file = e.file ?? fallbackFile;
  return `${file}${e.line !== undefined ? `:${e.line}` : ''}: ${e.message}`;
}
