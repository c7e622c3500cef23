/**
 * One Lua interpreter (a fengari state) with a routing script loaded: KSR.* bound, sandboxed
 * libraries, a per-run time budget, the KSR.x.exit() sentinel, and errors reported with the
 * script's file, line and function.
 */
import { statSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  ErrorCodes,
  KsrError,
  isRouteExit,
  type EngineLoadOptions,
  type EngineRunResult,
  type Invoke,
  type KemiExport,
  type Logger,
  type RouteContext,
  type ScriptEngine,
  type ScriptError,
} from '@ksr/core';
import type { LuaDebug, LuaHook, LuaJsFunction, LuaState, LuaString } from 'fengari';
import { bindKsr, type KsrHost } from './bind.js';
import {
  LUA_ERRERR,
  LUA_ERRMEM,
  LUA_ERRSYNTAX,
  LUA_LOADED_TABLE,
  LUA_MASKCOUNT,
  LUA_OK,
  LUA_REGISTRYINDEX,
  LUA_TFUNCTION,
  LUA_TLIGHTUSERDATA,
  LUA_TNIL,
  LUA_TNUMBER,
  LUA_TSTRING,
  S_SL,
  S_SLNT,
  S_TEXT_MODE,
  jsString,
  luaL_callmeta,
  luaL_getsubtable,
  luaL_loadbufferx,
  luaL_newstate,
  luaL_tolstring,
  luaL_where,
  luaString,
  lua_Debug,
  lua_atnativeerror,
  lua_call,
  lua_close,
  lua_concat,
  lua_error,
  lua_getfield,
  lua_gethookcount,
  lua_getinfo,
  lua_getstack,
  lua_gettop,
  lua_isinteger,
  lua_pcall,
  lua_pop,
  lua_pushboolean,
  lua_pushglobaltable,
  lua_pushjsfunction,
  lua_pushlightuserdata,
  lua_pushstring,
  lua_pushvalue,
  lua_rawget,
  lua_remove,
  lua_setfield,
  lua_setglobal,
  lua_sethook,
  lua_settop,
  lua_toboolean,
  lua_tointeger,
  lua_tojsstring,
  lua_tonumber,
  lua_touserdata,
  lua_type,
  raiseAt,
  to_luastring,
  typeName,
} from './lua.js';
import { fengariSetup, stringGuard, walkStack } from './fengari-loader.js';
import { openSandbox } from './sandbox.js';
import { readSettings, type LuaEngineSettings } from './schema.js';

/**
 * The value raised as a Lua error when a KSR call ends the route (KSR.x.exit/drop): a light
 * userdata holding this object. Scripts cannot make one (no string or table compares equal).
 */
const EXIT_SENTINEL: object = Object.freeze({ ksr: 'route exit' });
/** Instructions between two deadline checks while a run is within its budget. */
export const HOOK_COUNT = 1000;
/** Frames kept in a reported stack: the innermost ones and the outermost ones (as luaL_traceback). */
const STACK_FRAMES_TOP = 12;
const STACK_FRAMES_BOTTOM = 11;
/** Names accepted by require: dotted identifiers, no path syntax. */
const MODULE_NAME = /^[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*$/;
/** "<chunk>:<line>: <message>" as Lua formats positions. */
const POSITION = /^(.+?):(\d+): ([\s\S]*)$/;
const NAME_CACHE_MAX = 1024;

const RESULT_OK: EngineRunResult = Object.freeze({ kind: 'ok' });
const RESULT_EXIT: EngineRunResult = Object.freeze({ kind: 'exit' });
const RESULT_MISSING: EngineRunResult = Object.freeze({ kind: 'missing' });

function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.name && err.name !== 'Error' && err.name !== 'KsrError' ? `${err.name}: ${err.message}` : err.message;
  return String(err);
}

/**
 * A Lua error on its way to the protected call that catches it: fengari throws the pcall's
 * jump record (a plain object), which JS code must never swallow.
 */
export function isLuaThrow(err: unknown): boolean {
  return typeof err === 'object' && err !== null && !(err instanceof Error) && 'status' in err && 'previous' in err;
}

function isFile(p: string): boolean {
  try {
    return statSync(p, { throwIfNoEntry: false })?.isFile() ?? false;
  } catch {
    return false;
  }
}

/** Drop a UTF-8 BOM and a first line starting with '#' (keeping the line count), like luaL_loadfile. */
function chunkBytes(bytes: Uint8Array): Uint8Array {
  let b = bytes;
  if (b.length >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) b = b.subarray(3);
  if (b.length > 0 && b[0] === 0x23 /* # */) {
    const nl = b.indexOf(0x0a);
    b = nl < 0 ? new Uint8Array(0) : b.subarray(nl);
  }
  return b;
}

export class LuaScriptEngine implements ScriptEngine, KsrHost {
  readonly engineName = 'lua';
  readonly scriptPath: string;
  readonly invoke: Invoke;
  currentL: LuaState | undefined;

  private L: LuaState | undefined;
  private readonly log: Logger;
  private readonly settings: LuaEngineSettings;
  /** Folders require searches, in order. */
  private readonly requireDirs: string[];
  /** Files loaded as chunks (scripts and required modules), to map Lua's shortened chunk names back. */
  private readonly chunkFiles: string[] = [];
  private readonly requiring = new Set<string>();
  private readonly names = new Map<string, LuaString>();
  /** Scratch record for lua_getstack/lua_getinfo (reused: no allocation per lookup). */
  private ar: LuaDebug = new lua_Debug();

  // state of the run in progress (saved and restored around nested runs)
  private deadline = Infinity;
  private limitText = '';
  private exitSeen = false;
  private failure: ScriptError | undefined;
  private depth = 0;
  /** The route function being run (names the outermost frame in stacks). */
  private runningFunc: string | undefined;
  private readonly routeLimitText: string;

  constructor(opts: EngineLoadOptions, settings: LuaEngineSettings, scriptPath: string) {
    this.scriptPath = scriptPath;
    this.invoke = opts.invoke;
    this.settings = settings;
    this.routeLimitText = `route time limit of ${settings.routeTimeLimitMs} ms exceeded`;
    this.log = opts.logger.child({ mod: 'engine-lua' });
    if (!fengariSetup.stringGuard) {
      this.log.warn('fengari was loaded before engine-lua: max_string_size is not enforced (and LUAI_MAXSTACK is fengari\'s)');
    }
    const dirs = [path.dirname(scriptPath), ...settings.searchPaths.map((p) => path.resolve(p))];
    this.requireDirs = [...new Set(dirs)];
    const L = luaL_newstate();
    if (!L) throw new KsrError(ErrorCodes.SCRIPT_LOAD, `${scriptPath}: cannot create a Lua state`);
    this.L = L;
    lua_atnativeerror(L, this.nativeError);
    lua_sethook(L, this.hook, LUA_MASKCOUNT, HOOK_COUNT);
    const setup: LuaJsFunction = (L1) => {
      openSandbox(L1, { print: this.print, require: this.require });
      const n = bindKsr(L1, opts.registry, this, settings.logMode & 1 ? this.log : undefined);
      lua_pushstring(L1, luaString(opts.version));
      lua_setglobal(L1, to_luastring('KSRVERSION'));
      this.log.debug(`Lua interpreter ready: ${n} KSR functions bound`);
      return 0;
    };
    lua_pushjsfunction(L, this.msgh);
    lua_pushjsfunction(L, setup);
    this.failure = undefined;
    const status = this.protectedCall(L, 1, 0, 0, '');
    if (status !== LUA_OK) {
      const message = this.failureOf(L, status).message;
      this.dispose();
      throw new KsrError(ErrorCodes.SCRIPT_LOAD, `${scriptPath}: cannot set up the Lua interpreter: ${message}`);
    }
    lua_settop(L, 0);
  }

  // ---------------------------------------------------------------------------------------
  // ScriptEngine

  hasFunction(name: string): boolean {
    const L = this.L;
    if (!L) return false;
    const top = lua_gettop(L);
    const t = this.pushGlobal(L, name);
    lua_settop(L, top);
    return t === LUA_TFUNCTION;
  }

  run(func: string, args: readonly string[]): EngineRunResult {
    const L = this.L;
    if (!L) return { kind: 'error', error: { message: 'the Lua interpreter was disposed', file: this.scriptPath, func } };
    const top = lua_gettop(L);
    try {
      lua_pushjsfunction(L, this.msgh);
      if (this.pushGlobal(L, func) !== LUA_TFUNCTION) return RESULT_MISSING;
      for (let i = 0; i < args.length; i++) lua_pushstring(L, luaString(args[i]!));
      const savedFailure = this.failure;
      const savedExit = this.exitSeen;
      const savedFunc = this.runningFunc;
      this.failure = undefined;
      this.exitSeen = false;
      this.runningFunc = func;
      try {
        const status = this.protectedCall(L, top + 1, args.length, this.settings.routeTimeLimitMs, this.routeLimitText);
        if (status === LUA_OK) return this.exitSeen ? RESULT_EXIT : RESULT_OK;
        if (this.isExitValue(L, -1)) return RESULT_EXIT;
        // func names the route function that was run (the stack shows the innermost function)
        return { kind: 'error', error: { ...this.failureOf(L, status), func } };
      } finally {
        this.failure = savedFailure;
        this.exitSeen = savedExit;
        this.runningFunc = savedFunc;
      }
    } catch (err) {
      // a nested run (from inside a KSR call) must let a Lua error reach its protected call
      if (this.depth > 0 && isLuaThrow(err)) throw err;
      // fengari threw outside a protected call: an engine bug, still the script's failure
      if (isRouteExit(err)) return RESULT_EXIT;
      return { kind: 'error', error: { message: `Lua engine failure: ${errorMessage(err)}`, file: this.scriptPath, func } };
    } finally {
      if (this.L) lua_settop(L, top);
    }
  }

  dispose(): void {
    const L = this.L;
    if (!L) return;
    this.L = undefined;
    this.currentL = undefined;
    this.names.clear();
    this.ar = new lua_Debug(); // drop its reference to a frame of the closed state
    try {
      lua_close(L);
    } catch (err) {
      this.log.warn({ err }, 'closing the Lua state failed');
    }
  }

  // ---------------------------------------------------------------------------------------
  // loading

  /** Compile and run one script file (its main chunk) in this interpreter. Throws KsrError(SCRIPT_LOAD). */
  loadScript(file: string, bytes: Uint8Array): void {
    const L = this.L;
    if (!L) throw new KsrError(ErrorCodes.SCRIPT_LOAD, `${file}: the Lua interpreter was disposed`);
    const top = lua_gettop(L);
    try {
      lua_pushjsfunction(L, this.msgh);
      const st = this.loadChunk(L, file, bytes);
      if (st !== LUA_OK) {
        const raw = (lua_tojsstring(L, -1) ?? '');
        const loc = this.splitPosition(raw);
        const text = loc ? `${loc.file}:${loc.line}: ${loc.message}` : `${file}: ${raw}`;
        throw new KsrError(ErrorCodes.SCRIPT_LOAD, st === LUA_ERRSYNTAX ? text : `${file}: cannot load: ${raw}`);
      }
      const limit = this.settings.loadTimeLimitMs;
      this.exitSeen = false;
      this.failure = undefined;
      const status = this.protectedCall(L, top + 1, 0, limit, `script load time limit of ${limit} ms exceeded`);
      if (status === LUA_OK) {
        if (this.exitSeen) this.log.warn(`${file}: KSR.x.exit()/drop() while loading the script ended its main chunk early`);
        return;
      }
      if (this.isExitValue(L, -1)) {
        this.log.warn(`${file}: KSR.x.exit()/drop() while loading the script ended its main chunk early`);
        return;
      }
      const e = this.failureOf(L, status);
      const where = e.file ? `${e.file}${e.line !== undefined ? `:${e.line}` : ''}` : file;
      if (e.stack) this.log.debug(`error while loading ${file}:\n${e.stack}`);
      throw new KsrError(ErrorCodes.SCRIPT_LOAD, `${where}: ${e.message}`);
    } finally {
      if (this.L) lua_settop(L, top);
      this.exitSeen = false;
      this.failure = undefined;
    }
  }

  /** Reject the script when a required route function is not defined. */
  checkRequired(names: readonly string[]): void {
    const missing = names.filter((n) => !this.hasFunction(n));
    if (missing.length > 0) {
      const list = missing.map((n) => `${n}()`).join(', ');
      throw new KsrError(ErrorCodes.SCRIPT_LOAD, `${this.scriptPath}: the script does not define ${list} (required as a route function)`);
    }
  }

  /** luaL_loadbuffer with chunk name "@<absolute path>", text mode only. Pushes the chunk or the error. */
  private loadChunk(L: LuaState, file: string, bytes: Uint8Array): number {
    if (!this.chunkFiles.includes(file)) this.chunkFiles.push(file);
    return luaL_loadbufferx(L, chunkBytes(bytes), null, luaString(`@${file}`), S_TEXT_MODE);
  }

  // ---------------------------------------------------------------------------------------
  // running

  /**
   * lua_pcall of the function above `handler` (the message handler's stack index) with `nargs`
   * arguments, under a time budget. Nested runs (a route started from inside a KSR call) get at
   * most what is left of the outer budget.
   */
  private protectedCall(L: LuaState, handler: number, nargs: number, limitMs: number, limitText: string): number {
    const savedDeadline = this.deadline;
    const savedText = this.limitText;
    const savedCurrent = this.currentL;
    const savedStringLimit = stringGuard.limit;
    const savedTimeCheck = stringGuard.timeCheck;
    const own = limitMs > 0 ? performance.now() + limitMs : Infinity;
    if (own <= savedDeadline) {
      this.deadline = own;
      this.limitText = limitText;
    }
    this.depth++;
    stringGuard.limit = this.settings.maxStringSize;
    stringGuard.timeCheck = this.timeCheck;
    // (re)arm the count hook: a run that hit its deadline left it firing on every instruction
    lua_sethook(L, this.hook, LUA_MASKCOUNT, HOOK_COUNT);
    try {
      return lua_pcall(L, nargs, 0, handler);
    } finally {
      stringGuard.limit = savedStringLimit;
      stringGuard.timeCheck = savedTimeCheck;
      this.depth--;
      this.deadline = this.depth === 0 ? Infinity : savedDeadline;
      this.limitText = savedText;
      this.currentL = savedCurrent;
      if (this.L) lua_sethook(L, this.hook, LUA_MASKCOUNT, HOOK_COUNT);
    }
  }

  /** The count hook: checks the deadline; once past it, fires on every instruction (sticky). */
  private readonly hook: LuaHook = (L) => {
    if (performance.now() < this.deadline) {
      if (lua_gethookcount(L) !== HOOK_COUNT) lua_sethook(L, this.hook, LUA_MASKCOUNT, HOOK_COUNT);
      return;
    }
    // Sticky: a pcall in the script that caught this error gets it again at its next instruction.
    lua_sethook(L, this.hook, LUA_MASKCOUNT, 1);
    luaL_where(L, 0);
    lua_pushstring(L, luaString(this.limitText || 'time limit exceeded'));
    lua_concat(L, 2);
    lua_error(L);
  };

  /**
   * stringGuard.timeCheck: a large string is being made inside one instruction or library call
   * (where the count hook cannot look). Past the deadline, arms the sticky hook as the hook does
   * and returns the message the guard raises.
   */
  private readonly timeCheck = (L: LuaState): string | undefined => {
    if (performance.now() < this.deadline) return undefined;
    lua_sethook(L, this.hook, LUA_MASKCOUNT, 1);
    return this.limitText || 'time limit exceeded';
  };

  /** Message handler of the host's pcall: records message, position, function and stack. */
  private readonly msgh: LuaJsFunction = (L) => {
    if (this.isExitValue(L, 1)) return 1;
    try {
      this.failure = this.describeError(L, 1);
    } catch (err) {
      if (isLuaThrow(err)) throw err; // e.g. a failing __tostring: Lua reports "error in error handling"
      this.failure = { message: `error while describing a Lua error: ${errorMessage(err)}` };
    }
    lua_settop(L, 1);
    return 1;
  };

  /** A JS exception thrown inside Lua (from a host function or fengari) becomes a Lua error. */
  private readonly nativeError: LuaJsFunction = (L) => {
    const e = lua_touserdata(L, 1);
    if (isRouteExit(e)) {
      this.exitSeen = true;
      lua_pushlightuserdata(L, EXIT_SENTINEL);
      return 1;
    }
    const loc = this.luaLocation(L, 1);
    lua_pushstring(L, luaString(`${loc ? `${loc}: ` : ''}${errorMessage(e)}`));
    return 1;
  };

  /** KsrHost: what `invoke` threw. */
  raiseHostError(L: LuaState, err: unknown, exp: KemiExport<RouteContext>): never {
    if (isLuaThrow(err)) throw err;
    if (isRouteExit(err)) {
      this.exitSeen = true;
      lua_pushlightuserdata(L, EXIT_SENTINEL);
      return lua_error(L);
    }
    return raiseAt(L, `${exp.qualified}: ${errorMessage(err)}`);
  }

  /** KsrHost: "file:line" of the Lua code that made the current KSR call. */
  readonly where = (): string | undefined => {
    const L = this.currentL;
    if (!L || !this.L) return undefined;
    try {
      return this.luaLocation(L, 1);
    } catch (err) {
      if (isLuaThrow(err)) throw err;
      return undefined;
    }
  };

  private isExitValue(L: LuaState, idx: number): boolean {
    return lua_type(L, idx) === LUA_TLIGHTUSERDATA && lua_touserdata(L, idx) === EXIT_SENTINEL;
  }

  // ---------------------------------------------------------------------------------------
  // sandbox functions

  private readonly print: LuaJsFunction = (L) => {
    const n = lua_gettop(L);
    const parts: string[] = [];
    for (let i = 1; i <= n; i++) {
      parts.push(jsString(luaL_tolstring(L, i)));
      lua_pop(L, 1);
    }
    this.log.info(parts.join('\t'));
    return 0;
  };

  /**
   * require(name): `<name>.lua` (dots → folders) from the script's folder, then the search_path
   * folders; cached in package.loaded. Names are letters, digits, '_' and '.' only.
   */
  private readonly require: LuaJsFunction = (L) => {
    if (lua_type(L, 1) !== LUA_TSTRING) return raiseAt(L, `bad argument #1 to 'require' (string expected, got ${typeName(L, 1)})`);
    const name = lua_tojsstring(L, 1) ?? '';
    lua_settop(L, 1);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE); // 2: package.loaded
    const key = luaString(name);
    lua_getfield(L, 2, key);
    if (lua_toboolean(L, 3)) return 1; // already loaded
    lua_settop(L, 2);
    if (!MODULE_NAME.test(name)) {
      return raiseAt(L, `module '${name}' not found: require takes a module name (letters, digits, '_', '.'), not a path`);
    }
    if (this.requiring.has(name)) return raiseAt(L, `loop or previous error loading module '${name}'`);
    const rel = `${name.split('.').join('/')}.lua`;
    const tried: string[] = [];
    let file: string | undefined;
    for (const dir of this.requireDirs) {
      const p = path.join(dir, rel);
      tried.push(p);
      if (isFile(p)) {
        file = p;
        break;
      }
    }
    if (!file) return raiseAt(L, `module '${name}' not found:${tried.map((p) => `\n\tno file '${p}'`).join('')}`);
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(file);
    } catch (err) {
      return raiseAt(L, `cannot read module '${name}' from '${file}': ${errorMessage(err)}`);
    }
    if (this.loadChunk(L, file, bytes) !== LUA_OK) {
      const msg = (lua_tojsstring(L, -1) ?? '');
      return raiseAt(L, `error loading module '${name}' from file '${file}':\n\t${this.fullPositions(msg)}`);
    }
    lua_pushstring(L, key);
    lua_pushstring(L, luaString(file));
    this.requiring.add(name);
    try {
      lua_call(L, 2, 1);
    } finally {
      this.requiring.delete(name);
    }
    if (lua_type(L, -1) !== LUA_TNIL) lua_setfield(L, 2, key);
    else lua_pop(L, 1);
    if (lua_getfield(L, 2, key) === LUA_TNIL) {
      lua_pop(L, 1);
      lua_pushboolean(L, true);
      lua_pushvalue(L, -1);
      lua_setfield(L, 2, key);
    }
    return 1;
  };

  // ---------------------------------------------------------------------------------------
  // errors and positions

  /** Push the global `name` (raw access: no metamethod of the script runs). Returns its type. */
  private pushGlobal(L: LuaState, name: string): number {
    let key = this.names.get(name);
    if (!key) {
      key = luaString(name);
      if (this.names.size < NAME_CACHE_MAX) this.names.set(name, key);
    }
    lua_pushglobaltable(L);
    lua_pushstring(L, key);
    const t = lua_rawget(L, -2);
    lua_remove(L, -2); // the globals table
    return t;
  }

  private sourceName(src: LuaString | null): string {
    const s = jsString(src);
    return s.startsWith('@') || s.startsWith('=') ? s.slice(1) : s;
  }

  /** "file:line" of the first Lua function at or above `level`. */
  private luaLocation(L: LuaState, level: number): string | undefined {
    const ar = this.ar;
    for (let lv = level; lv < level + 32 && lua_getstack(L, lv, ar); lv++) {
      lua_getinfo(L, S_SL, ar);
      if (ar.currentline > 0) return `${this.sourceName(ar.source)}:${ar.currentline}`;
    }
    return undefined;
  }

  /** Lua shortens long chunk names to "...<tail>"; give back the full path of a loaded file. */
  private fullFile(chunk: string): string {
    if (chunk.startsWith('...')) {
      const tail = chunk.slice(3);
      const f = this.chunkFiles.find((p) => p.endsWith(tail));
      if (f) return f;
    }
    return chunk;
  }

  private splitPosition(msg: string): { file: string; line: number; message: string } | undefined {
    const m = POSITION.exec(msg);
    if (!m) return undefined;
    return { file: this.fullFile(m[1]!), line: Number(m[2]), message: m[3]! };
  }

  /** Replace shortened chunk names at the start of a message by full paths. */
  private fullPositions(msg: string): string {
    const p = this.splitPosition(msg);
    return p ? `${p.file}:${p.line}: ${p.message}` : msg;
  }

  /** Describe the error value at `idx` (inside the message handler: the failing frames are still there). */
  private describeError(L: LuaState, idx: number): ScriptError {
    let message: string;
    const t = lua_type(L, idx);
    if (t === LUA_TSTRING) message = lua_tojsstring(L, idx) ?? '';
    else if (t === LUA_TNUMBER) message = String(lua_isinteger(L, idx) ? lua_tointeger(L, idx) : lua_tonumber(L, idx));
    else if (t !== LUA_TNIL && performance.now() < this.deadline && luaL_callmeta(L, idx, to_luastring('__tostring')) && lua_type(L, -1) === LUA_TSTRING) {
      message = lua_tojsstring(L, -1) ?? '';
    } else message = `(error object is a ${typeName(L, idx)} value)`;

    // The frames, innermost first (level 0 is this handler): the first STACK_FRAMES_TOP and the
    // last STACK_FRAMES_BOTTOM, as luaL_traceback shows them, found in one walk over the stack
    // (a stack overflow leaves ~10^5 levels: asking lua_getstack for each would take long).
    const frames: Frame[] = [];
    let last = 0;
    const total = walkStack(L, STACK_FRAMES_TOP, STACK_FRAMES_BOTTOM, this.ar, (level, ar) => {
      if (level > last + 1) frames.push(SKIPPED);
      last = level;
      lua_getinfo(L, S_SLNT, ar);
      const what = jsString(ar.what);
      frames.push({
        tail: Boolean(ar.istailcall),
        lua: what === 'Lua' || what === 'main',
        main: what === 'main',
        src: this.sourceName(ar.source),
        line: ar.currentline,
        defined: ar.linedefined,
        name: ar.name ? jsString(ar.name) : undefined,
      });
    });
    const skipped = total - (frames.length - (frames.includes(SKIPPED) ? 1 : 0));
    const luaFrames = frames.filter((f) => f.lua && f.line > 0);
    const first = luaFrames[0];
    const outermost = luaFrames[luaFrames.length - 1];
    // the route function was run by the host: its frame has no name (unless a tail call replaced it)
    const nameOf = (f: Frame): string | undefined =>
      f.main ? 'main chunk' : (f.name ?? (f === outermost && !f.tail ? this.runningFunc : undefined));
    const lines: string[] = [];
    for (const f of frames) {
      if (f === SKIPPED) {
        lines.push(`\t... (${skipped} more)`);
        continue;
      }
      if (!f.lua) lines.push(`\t[host]: in ${f.name ? `function '${f.name}'` : 'a host function'}`);
      else {
        const n = nameOf(f);
        lines.push(`\t${f.src}:${f.line}: in ${f.main ? 'main chunk' : n ? `function '${n}'` : `function <${f.src}:${f.defined}>`}`);
      }
      if (f.tail) lines.push('\t(...tail calls...)');
    }

    const pos = t === LUA_TSTRING ? this.splitPosition(message) : undefined;
    const error: ScriptError = { message: pos ? pos.message : message };
    if (pos) {
      error.file = pos.file;
      error.line = pos.line;
    } else if (first) {
      error.file = first.src;
      error.line = first.line;
    }
    error.stack = `${pos ? `${pos.file}:${pos.line}: ${pos.message}` : message}\nstack traceback:\n${lines.join('\n')}`;
    return error;
  }

  /** The error of a failed pcall: what the message handler recorded, or the raw error value. */
  private failureOf(L: LuaState, status: number): ScriptError {
    if (this.failure) return this.failure;
    let message: string;
    const t = lua_type(L, -1);
    if (t === LUA_TSTRING || t === LUA_TNUMBER) message = (lua_tojsstring(L, -1) ?? '');
    else message = `(error object is a ${typeName(L, -1)} value)`;
    if (status === LUA_ERRERR) message = `error in the Lua error handler: ${message}`;
    else if (status === LUA_ERRMEM) message = `out of memory: ${message}`;
    else if (status < 0) message = `JS error inside Lua (not converted): ${message}`;
    const pos = this.splitPosition(message);
    return pos ? { message: pos.message, file: pos.file, line: pos.line } : { message };
  }
}

interface Frame {
  lua: boolean;
  /** Called by a tail call: the frames of its callers are gone. */
  tail: boolean;
  main: boolean;
  src: string;
  line: number;
  defined: number;
  name: string | undefined;
}
/** Marks where frames were left out of a reported stack. */
const SKIPPED: Frame = Object.freeze({ lua: false, tail: false, main: false, src: '', line: 0, defined: 0, name: undefined });

/** Kamailio loads every `load` script into the one interpreter, last modparam first. */
function scriptFiles(primary: string, loads: readonly string[]): string[] {
  const resolved = loads.map((p) => path.resolve(p));
  if (resolved.length > 1 && resolved.includes(primary)) return [...new Set([...resolved].reverse())];
  return [primary];
}

/** EngineDescriptor.load for Lua: a fresh, independent interpreter per call. */
export async function loadLuaEngine(opts: EngineLoadOptions): Promise<ScriptEngine> {
  const settings = readSettings(opts.params);
  const scriptPath = path.resolve(opts.script);
  const files = scriptFiles(scriptPath, settings.loads);
  const sources: Array<{ file: string; bytes: Uint8Array }> = [];
  for (const file of files) {
    try {
      sources.push({ file, bytes: await readFile(file) });
    } catch (err) {
      throw new KsrError(ErrorCodes.SCRIPT_LOAD, `${file}: cannot read the Lua script: ${errorMessage(err)}`, { cause: err });
    }
  }
  const log = opts.logger.child({ mod: 'engine-lua' });
  if (settings.register.length > 0) {
    log.warn(`modparam("app_lua", "register", …) is ignored: KSR.* offers the functions of every loaded module`);
  }
  const engine = new LuaScriptEngine(opts, settings, scriptPath);
  try {
    for (const s of sources) engine.loadScript(s.file, s.bytes);
    engine.checkRequired(opts.requiredFunctions);
  } catch (err) {
    engine.dispose();
    if (err instanceof KsrError) throw err;
    throw new KsrError(ErrorCodes.SCRIPT_LOAD, `${scriptPath}: ${errorMessage(err)}`, { cause: err });
  }
  return engine;
}
