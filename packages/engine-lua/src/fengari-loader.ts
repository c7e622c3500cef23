/**
 * fengari, loaded once with ksr's configuration and its string-size guard.
 *
 * Two things have to happen before fengari's modules are first loaded, because fengari reads
 * them at load time:
 *
 *  - Its configuration (`process.env.FENGARICONF`, JSON, read once by `luaconf.js`): ksr lowers
 *    LUAI_MAXSTACK from 1,000,000 to LUA_MAX_STACK slots so a runaway recursion hits "stack
 *    overflow" quickly. A FENGARICONF the user set is merged (their keys win); the variable is
 *    put back as it was once fengari has read it.
 *
 *  - The string-size guard. fengari has no allocator hook, so the guard sits where strings are
 *    made: `luaS_bless` / `luaS_new` (every Lua string value: `..`, lua_pushstring, library
 *    results) and the luaL_Buffer functions the string, table, os and utf8 libraries build their
 *    results with (string.rep, gsub, format, pack, table.concat, os.date, …). fengari's modules
 *    take these functions by destructuring `require()` at load, so replacing the exports before
 *    the rest of fengari loads puts the checks on every path. While a script runs the engine sets
 *    `stringGuard.limit`; a buffer that would grow past it, or a string longer than it, raises
 *    the Lua error "string too large (N bytes > limit)" (a library buffer is refused before it
 *    grows; the bytes of a `..` result are put together before fengari makes them a string, so
 *    that one can briefly exceed the limit). Large strings and buffers also check the run's
 *    clock (`timeCheck`). Outside runs the limit is Infinity; the checks cost a comparison or two.
 *
 * If fengari was already loaded by someone else in this process (it is not, in ksr), neither can
 * be applied: `fengariSetup` says so and the engine logs a warning.
 */
import { createRequire } from 'node:module';
import type fengariModule from 'fengari';
import type { LuaDebug, LuaState, LuaString } from 'fengari';

type Fengari = typeof fengariModule;

/** Lua stack slots per state (fengari's default is 1,000,000). See README "Limits". */
export const LUA_MAX_STACK = 200_000;
/** Reservations up to this size (fengari's luaL_prepbuffer, a number in string.format) are never refused. */
const SMALL_RESERVE = 8192;
/** Strings of at least this size, and every such step of a growing buffer, also check the clock. */
const CLOCK_STEP_BITS = 16; // 64 KiB
const CLOCK_STEP = 1 << CLOCK_STEP_BITS;

/** The size limit in force (bytes), shared by every copy of this module in the process. */
export interface StringGuard {
  /** Longest string (in bytes) a script may make right now; Infinity outside runs. */
  limit: number;
  /**
   * Called while a large string is being made (every 64 KiB): returns the message to raise when
   * the run is out of time. The count hook only runs between VM instructions, and one library
   * call can take long (string.rep, gsub, os.date on large input), so this lets a loop of such
   * calls stop at its deadline too. Undefined outside runs.
   */
  timeCheck: ((L: LuaState) => string | undefined) | undefined;
  /** Whether the checks are in fengari (false if fengari was loaded before this module). */
  readonly installed: boolean;
}

interface LuaBuffer {
  L: LuaState | null;
  b: Uint8Array;
  n: number;
}

type AnyFn = (...args: never[]) => unknown;
type Exports = Record<string | symbol, unknown>;

const GUARD = Symbol.for('ksr.engine-lua.string-guard');
const require = createRequire(import.meta.url);

function isLoaded(id: string): boolean {
  try {
    return require.cache[require.resolve(id)] !== undefined;
  } catch {
    return false;
  }
}

/** FENGARICONF with ksr's defaults under what the user set (their keys win). */
export function mergeFengariConf(current: string | undefined): string | undefined {
  let user: Record<string, unknown> = {};
  if (current !== undefined && current.trim() !== '') {
    try {
      const v: unknown = JSON.parse(current);
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
      user = v as Record<string, unknown>;
    } catch {
      return undefined; // leave a broken value alone: fengari reports it
    }
  }
  return JSON.stringify({ LUAI_MAXSTACK: LUA_MAX_STACK, ...user });
}

function load(): { fengari: Fengari; guard: StringGuard } {
  const before = process.env.FENGARICONF;
  const confLoaded = isLoaded('fengari/src/luaconf.js');
  // the modules that take luaS_bless/luaS_new and the luaL_Buffer functions at load
  const consumersLoaded = ['fengari/src/lvm.js', 'fengari/src/lapi.js', 'fengari/src/lobject.js', 'fengari/src/lstrlib.js', 'fengari/src/ltablib.js'].some(isLoaded);
  if (!confLoaded) {
    const conf = mergeFengariConf(before);
    if (conf !== undefined) process.env.FENGARICONF = conf;
  }
  try {
    const lstring = require('fengari/src/lstring.js') as Exports;
    let guard = lstring[GUARD] as StringGuard | undefined;
    if (!guard) {
      guard = { limit: Infinity, timeCheck: undefined, installed: !consumersLoaded };
      lstring[GUARD] = guard;
      if (guard.installed) patchStrings(lstring, guard);
      const lauxlib = require('fengari/src/lauxlib.js') as Exports;
      if (guard.installed) patchBuffers(lauxlib, guard);
    }
    const fengari = require('fengari') as Fengari;
    api = fengari.lua;
    ldebug = require('fengari/src/ldebug.js') as typeof ldebug;
    ar = new fengari.lua.lua_Debug();
    toLua = fengari.to_luastring;
    toJs = fengari.to_jsstring;
    S_SL = toLua('Sl');
    S_PERCENT_S = toLua('%s');
    return { fengari, guard };
  } finally {
    if (before === undefined) delete process.env.FENGARICONF;
    else process.env.FENGARICONF = before;
  }
}

// set once fengari is loaded (the patched functions only run after that)
let api: Fengari['lua'];
let ldebug: { luaG_runerror(L: LuaState, fmt: LuaString, ...args: unknown[]): never };
let ar: LuaDebug;
let toLua: Fengari['to_luastring'];
let toJs: Fengari['to_jsstring'];
let S_SL: LuaString;
let S_PERCENT_S: LuaString;

/**
 * Raise `message` as a Lua error where the string was being made: fengari's own luaG_runerror
 * (safe inside the VM: it grows the stack as needed) adds the position when a Lua function is
 * running (`..`); inside a library function the position is its caller's, as luaL_error gives it.
 */
function raise(L: LuaState, message: string): never {
  let where = '';
  if (!(api.lua_getstack(L, 0, ar) && api.lua_getinfo(L, S_SL, ar) && ar.currentline > 0)) {
    if (api.lua_getstack(L, 1, ar) && api.lua_getinfo(L, S_SL, ar) && ar.currentline > 0) {
      where = `${toJs(ar.short_src ?? new Uint8Array(0))}:${ar.currentline}: `;
    }
  }
  return ldebug.luaG_runerror(L, S_PERCENT_S, toLua(`${where}${message}`));
}

/** The error for a string of `size` bytes over the limit. */
export function tooLargeMessage(size: number, limit: number): string {
  return `string too large (${size} bytes > ${limit})`;
}

function tooLarge(L: LuaState, guard: StringGuard, size: number): never {
  return raise(L, tooLargeMessage(size, guard.limit));
}

function clock(L: LuaState, guard: StringGuard): void {
  const check = guard.timeCheck;
  if (check) {
    const message = check(L);
    if (message !== undefined) raise(L, message);
  }
}

/** A string (or a buffer) of `size` bytes is about to be made. */
function made(L: LuaState | null, guard: StringGuard, size: number): void {
  if (L && (size > guard.limit || size >= CLOCK_STEP)) {
    if (size > guard.limit) tooLarge(L, guard, size);
    clock(L, guard);
  }
}

/** A buffer grows from `from` to `to` bytes. */
function grows(L: LuaState | null, guard: StringGuard, from: number, to: number): void {
  if (L && (to > guard.limit || to >>> CLOCK_STEP_BITS !== from >>> CLOCK_STEP_BITS)) {
    if (to > guard.limit) tooLarge(L, guard, to);
    clock(L, guard);
  }
}

function patchStrings(lstring: Exports, guard: StringGuard): void {
  const bless = lstring.luaS_bless as (L: LuaState, s: Uint8Array) => unknown;
  const copy = lstring.luaS_new as (L: LuaState, s: Uint8Array) => unknown;
  // plain functions, not arrows: ltm.js calls `new luaS_new(…)`
  lstring.luaS_bless = function luaS_bless(L: LuaState, s: Uint8Array) {
    if (s.length > guard.limit || s.length >= CLOCK_STEP) made(L, guard, s.length);
    return bless(L, s);
  };
  lstring.luaS_new = function luaS_new(L: LuaState, s: Uint8Array) {
    if (s.length > guard.limit || s.length >= CLOCK_STEP) made(L, guard, s.length);
    return copy(L, s);
  };
}

function patchBuffers(lauxlib: Exports, guard: StringGuard): void {
  const fn = <T extends AnyFn>(name: string): T => lauxlib[name] as T;
  const prepbuffsize = fn<(B: LuaBuffer, sz: number) => Uint8Array>('luaL_prepbuffsize');
  const buffinitsize = fn<(L: LuaState, B: LuaBuffer, sz: number) => Uint8Array>('luaL_buffinitsize');
  const prepbuffer = fn<(B: LuaBuffer) => Uint8Array>('luaL_prepbuffer');
  const addlstring = fn<(B: LuaBuffer, s: Uint8Array | string, l: number) => void>('luaL_addlstring');
  const addstring = fn<(B: LuaBuffer, s: Uint8Array | string) => void>('luaL_addstring');
  const addchar = fn<(B: LuaBuffer, c: number) => void>('luaL_addchar');
  const addvalue = fn<(B: LuaBuffer) => void>('luaL_addvalue');
  const addsize = fn<(B: LuaBuffer, n: number) => void>('luaL_addsize');
  const pushresultsize = fn<(B: LuaBuffer, n: number) => void>('luaL_pushresultsize');

  // Space reserved (prepbuffsize) may run past the limit by a little: what is written into it is
  // checked by luaL_addsize, and the result by luaS_bless.
  const reserve = (B: LuaBuffer, sz: number): void => {
    if (B.n + sz > guard.limit && (sz > SMALL_RESERVE || B.n > guard.limit) && B.L) tooLarge(B.L, guard, B.n + sz);
    if (sz >= CLOCK_STEP && B.L) clock(B.L, guard);
  };

  lauxlib.luaL_prepbuffsize = function luaL_prepbuffsize(B: LuaBuffer, sz: number) {
    reserve(B, sz);
    return prepbuffsize(B, sz);
  };
  lauxlib.luaL_buffinitsize = function luaL_buffinitsize(L: LuaState, B: LuaBuffer, sz: number) {
    made(L, guard, sz);
    return buffinitsize(L, B, sz);
  };
  lauxlib.luaL_prepbuffer = function luaL_prepbuffer(B: LuaBuffer) {
    reserve(B, SMALL_RESERVE);
    return prepbuffer(B);
  };
  lauxlib.luaL_addlstring = function luaL_addlstring(B: LuaBuffer, s: Uint8Array | string, l: number) {
    grows(B.L, guard, B.n, B.n + l);
    addlstring(B, s, l);
  };
  lauxlib.luaL_addstring = function luaL_addstring(B: LuaBuffer, s: Uint8Array | string) {
    grows(B.L, guard, B.n, B.n + s.length);
    addstring(B, s);
  };
  lauxlib.luaL_addchar = function luaL_addchar(B: LuaBuffer, c: number) {
    if ((B.n & (CLOCK_STEP - 1)) === CLOCK_STEP - 1 || B.n >= guard.limit) grows(B.L, guard, B.n, B.n + 1);
    addchar(B, c);
  };
  lauxlib.luaL_addvalue = function luaL_addvalue(B: LuaBuffer) {
    if (B.L) {
      const s = api.lua_tolstring(B.L, -1); // what luaL_addvalue does first (numbers become strings)
      if (s) grows(B.L, guard, B.n, B.n + s.length);
    }
    addvalue(B);
  };
  lauxlib.luaL_addsize = function luaL_addsize(B: LuaBuffer, n: number) {
    grows(B.L, guard, B.n, B.n + n);
    addsize(B, n);
  };
  lauxlib.luaL_pushresultsize = function luaL_pushresultsize(B: LuaBuffer, n: number) {
    grows(B.L, guard, B.n, B.n + n);
    pushresultsize(B, n);
  };
}

interface CallInfo {
  previous: CallInfo | null;
}

/**
 * lua_getstack for the levels 1…`top` and the last `bottom` levels of L's stack, in two walks
 * over its call records: `visit(level, ar)` gets `ar` set as lua_getstack(L, level, ar) sets it
 * (ready for lua_getinfo). Returns the number of levels above level 0.
 *
 * lua_getstack(L, n) walks n records, so asking it for every level, or searching for the
 * deepest one, is O(depth²) or O(depth·log depth) — tens of ms after a stack overflow (~10⁵
 * levels). This reads fengari 0.1.5's internals (`L.ci`, `ci.previous`, `L.base_ci`,
 * `ar.i_ci`) exactly as its lua_getstack does.
 */
export function walkStack(L: LuaState, top: number, bottom: number, ar: LuaDebug, visit: (level: number, ar: LuaDebug) => void): number {
  const state = L as unknown as { ci: CallInfo; base_ci: CallInfo };
  const base = state.base_ci;
  let depth = -1;
  for (let ci: CallInfo | null = state.ci; ci && ci !== base; ci = ci.previous) depth++;
  const from = Math.max(top + 1, depth - bottom + 1);
  let level = 0;
  for (let ci: CallInfo | null = state.ci; ci && ci !== base; ci = ci.previous, level++) {
    if (level === 0 || (level > top && level < from)) continue;
    (ar as unknown as { i_ci: CallInfo }).i_ci = ci;
    visit(level, ar);
  }
  return Math.max(depth, 0);
}

const loaded = load();

/** fengari itself (as `import fengari from 'fengari'` would give it). */
export const fengari: Fengari = loaded.fengari;
/** The string-size limit in force; the engine sets it around every protected call. */
export const stringGuard: StringGuard = loaded.guard;
/** What the setup achieved, for the engine to report. */
export const fengariSetup = {
  /** fengari's LUAI_MAXSTACK as it was loaded. */
  maxStack: (loaded.fengari as unknown as { luaconf: { LUAI_MAXSTACK: number } }).luaconf.LUAI_MAXSTACK,
  stringGuard: loaded.guard.installed,
};
