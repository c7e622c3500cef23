/**
 * The Lua environment a routing script gets: the standard libraries a SIP routing script needs,
 * without anything that reaches the file system, the process or the VM internals.
 *
 *   base       without dofile / loadfile; `load` compiles text only (never binary chunks);
 *              `print` goes to the ksr log; `collectgarbage` is a no-op (fengari has no Lua GC)
 *   string, table, math, utf8, coroutine   (string.rep and string.gsub check the result size
 *              first; every string is size-checked as it is made, see fengari-loader.ts)
 *   os         time, clock, date, difftime only (no exit, getenv, execute, remove, …)
 *   require    ksr's own: `<name>.lua` from the script's folder and the search_path folders
 *   package    { loaded = … } only (no loadlib, path, searchers)
 *   no io, no debug, no fengari
 */
import type { LuaJsFunction, LuaState } from 'fengari';
import { stringGuard, tooLargeMessage, type StringGuard } from './fengari-loader.js';
import {
  LUA_LOADED_TABLE,
  LUA_OK,
  LUA_REGISTRYINDEX,
  LUA_TNUMBER,
  LUA_TSTRING,
  S_TEXT_MODE,
  luaL_checkinteger,
  raiseAt,
  lua_call,
  lua_createtable,
  lua_getfield,
  lua_getglobal,
  lua_gettop,
  lua_pcall,
  lua_pop,
  lua_pushinteger,
  lua_pushjsfunction,
  lua_pushnil,
  lua_pushstring,
  lua_pushvalue,
  lua_remove,
  lua_replace,
  lua_setfield,
  lua_setglobal,
  lua_settop,
  lua_tocfunction,
  lua_tointeger,
  lua_tolstring,
  lua_tonumber,
  lua_type,
  luaL_getsubtable,
  luaL_requiref,
  lualib,
  to_luastring,
} from './lua.js';

export const OS_FUNCTIONS = ['time', 'clock', 'date', 'difftime'] as const;
export const REMOVED_GLOBALS = ['dofile', 'loadfile'] as const;

export interface SandboxHooks {
  /** Replacement for `print` (writes to the ksr log). */
  print: LuaJsFunction;
  /** ksr's `require`. */
  require: LuaJsFunction;
}

/** A `collectgarbage` that does nothing (fengari leaves memory to the JS GC and has no lua_gc). */
const collectgarbage: LuaJsFunction = (L) => {
  lua_pushinteger(L, 0);
  return 1;
};

const isStringy = (t: number): boolean => t === LUA_TSTRING || t === LUA_TNUMBER;
/** fengari's own limit on string.rep results (its MAXSIZE). */
const REP_MAXSIZE = 2_147_483_647;

/**
 * string.rep: fengari's copies the piece once per repetition (16 MiB of "x" takes ~0.7 s, and
 * `string.rep("", 2^31 - 1)` loops for ~50 s making nothing), and the count hook cannot
 * interrupt a library function. This one checks the size first (the same "string too large"
 * error as everywhere, before any memory is taken), returns "" at once for empty pieces, and
 * builds the result by doubling (a few copies). Arguments it does not expect (a numeric string
 * as the count, a wrong type) go to fengari's string.rep, which reports them as usual.
 * Installed in the `string` table itself, which is also the string metatable's __index, so
 * `("x"):rep(n)` gets it too.
 */
function fastRep(rep: LuaJsFunction, guard: StringGuard): LuaJsFunction {
  const empty = new Uint8Array(0);
  return (L) => {
    const t3 = lua_type(L, 3);
    if (!isStringy(lua_type(L, 1)) || lua_type(L, 2) !== LUA_TNUMBER || !(t3 <= 0 || isStringy(t3))) return rep(L);
    const n = luaL_checkinteger(L, 2); // the same "number has no integer representation" error
    const piece = lua_tolstring(L, 1) ?? empty;
    const sep = t3 <= 0 ? empty : (lua_tolstring(L, 3) ?? empty);
    const unit = piece.length + sep.length;
    if (n <= 0 || unit === 0) {
      lua_pushstring(L, empty);
      return 1;
    }
    const total = n * unit - sep.length;
    if (total > guard.limit) return raiseAt(L, tooLargeMessage(total, guard.limit));
    if (total > REP_MAXSIZE) return rep(L); // "resulting string too large"
    const out = new Uint8Array(total);
    out.set(piece, 0);
    if (sep.length > 0 && total > piece.length) out.set(sep, piece.length);
    for (let filled = Math.min(unit, total); filled < total; filled *= 2) out.copyWithin(filled, 0, Math.min(filled, total - filled));
    lua_pushstring(L, out);
    return 1;
  };
}

/**
 * string.gsub that refuses at once a call with a string replacement whose result is bound to
 * be larger than the string size limit — `s:gsub("x", s)` on a 64 KiB `s` is 4 GiB — instead of
 * building max_string_size bytes of it (byte by byte) before the buffer check stops it.
 *
 * Cheap upper bound first: the subject, plus per match (at most #s + 1, or the `n` given) the
 * replacement's literal bytes and ≤ 11 bytes per capture reference, plus #s per reference
 * (matches do not overlap, so captures add up to at most #s). Only when that exceeds the limit
 * are the matches counted (the same gsub with "" as the replacement: cheap, and its result is
 * no larger than the subject), and the call is refused when the count times the literal bytes
 * alone exceeds the limit. Otherwise fengari's gsub runs, its result still checked as it grows
 * (as with function and table replacements).
 */
function guardedGsub(gsub: LuaJsFunction, guard: StringGuard): LuaJsFunction {
  const nothing = to_luastring('');
  return (L) => {
    const limit = guard.limit;
    const tn = lua_type(L, 4);
    if (
      limit !== Infinity &&
      isStringy(lua_type(L, 1)) &&
      isStringy(lua_type(L, 2)) &&
      isStringy(lua_type(L, 3)) &&
      (tn <= 0 || tn === LUA_TNUMBER)
    ) {
      const subject = lua_tolstring(L, 1)?.length ?? 0; // numbers become strings, as gsub does
      const repl = lua_tolstring(L, 3) ?? new Uint8Array(0);
      let literal = 0;
      let refs = 0;
      for (let i = 0; i < repl.length; i++) {
        if (repl[i] === 0x25 /* % */ && i + 1 < repl.length) {
          const c = repl[++i]!;
          if (c >= 0x30 && c <= 0x39) refs++;
          else literal++; // "%%"
        } else literal++;
      }
      const maxMatches = tn <= 0 ? subject + 1 : Math.min(subject + 1, Math.max(0, Math.floor(lua_tonumber(L, 4))));
      if (subject + maxMatches * (literal + 11 * refs) + refs * subject > limit) {
        const top = lua_gettop(L);
        lua_pushjsfunction(L, gsub);
        lua_pushvalue(L, 1);
        lua_pushvalue(L, 2);
        lua_pushstring(L, nothing);
        if (tn <= 0) lua_pushnil(L);
        else lua_pushvalue(L, 4);
        // a failure (bad pattern, …) is left to the real call to report
        if (lua_pcall(L, 4, 2, 0) === LUA_OK) {
          const atLeast = lua_tointeger(L, -1) * literal;
          if (atLeast > limit) return raiseAt(L, tooLargeMessage(atLeast, limit));
        }
        lua_settop(L, top);
      }
    }
    return gsub(L);
  };
}

/** Replace `lib[name]` (the table at the top of the stack) by `wrap(original)`. */
function wrapField(L: LuaState, name: string, wrap: (original: LuaJsFunction) => LuaJsFunction): void {
  lua_getfield(L, -1, to_luastring(name));
  const original = lua_tocfunction(L, -1);
  lua_pop(L, 1);
  if (!original) throw new Error(`fengari string library has no ${name} function`);
  lua_pushjsfunction(L, wrap(original));
  lua_setfield(L, -2, to_luastring(name));
}

/** Open the sandboxed libraries into a fresh state. Run inside a protected call. */
export function openSandbox(L: LuaState, hooks: SandboxHooks): void {
  const libs: Array<[string, LuaJsFunction]> = [
    ['_G', lualib.luaopen_base],
    ['string', lualib.luaopen_string],
    ['table', lualib.luaopen_table],
    ['math', lualib.luaopen_math],
    ['utf8', lualib.luaopen_utf8],
    ['coroutine', lualib.luaopen_coroutine],
  ];
  for (const [name, open] of libs) {
    luaL_requiref(L, to_luastring(name), open, 1);
    lua_pop(L, 1);
  }

  // in the string table itself: it is also the string metatable's __index (("x"):rep(n))
  lua_getglobal(L, to_luastring('string'));
  wrapField(L, 'rep', (rep) => fastRep(rep, stringGuard));
  wrapField(L, 'gsub', (gsub) => guardedGsub(gsub, stringGuard));
  lua_pop(L, 1);

  // os: keep the clock and calendar functions only
  lua_pushjsfunction(L, lualib.luaopen_os);
  lua_call(L, 0, 1);
  lua_createtable(L, 0, OS_FUNCTIONS.length);
  for (const k of OS_FUNCTIONS) {
    lua_getfield(L, -2, to_luastring(k));
    lua_setfield(L, -2, to_luastring(k));
  }
  lua_remove(L, -2);
  lua_pushvalue(L, -1);
  lua_setglobal(L, to_luastring('os'));
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  lua_pushvalue(L, -2);
  lua_setfield(L, -2, to_luastring('os'));
  lua_pop(L, 2);

  for (const g of REMOVED_GLOBALS) {
    lua_pushnil(L);
    lua_setglobal(L, to_luastring(g));
  }

  // load(chunk [, chunkname [, mode [, env]]]): the mode is always "t"
  lua_getglobal(L, to_luastring('load'));
  const baseLoad = lua_tocfunction(L, -1);
  lua_pop(L, 1);
  if (!baseLoad) throw new Error('fengari base library has no load function');
  const textLoad: LuaJsFunction = (L1) => {
    if (lua_gettop(L1) < 3) lua_settop(L1, 3);
    lua_pushstring(L1, S_TEXT_MODE);
    lua_replace(L1, 3);
    return baseLoad(L1);
  };
  lua_pushjsfunction(L, textLoad);
  lua_setglobal(L, to_luastring('load'));

  lua_pushjsfunction(L, hooks.print);
  lua_setglobal(L, to_luastring('print'));
  lua_pushjsfunction(L, collectgarbage);
  lua_setglobal(L, to_luastring('collectgarbage'));
  lua_pushjsfunction(L, hooks.require);
  lua_setglobal(L, to_luastring('require'));

  // package = { loaded = <the registry's loaded table> }
  lua_createtable(L, 0, 1);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  lua_pushvalue(L, -2);
  lua_setfield(L, -2, to_luastring('package'));
  lua_setfield(L, -2, to_luastring('loaded'));
  lua_setglobal(L, to_luastring('package'));
}
