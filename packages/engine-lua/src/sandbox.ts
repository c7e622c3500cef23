/**
 * The Lua environment a routing script gets: the standard libraries a SIP routing script needs,
 * without anything that reaches the file system, the process or the VM internals.
 *
 *   base       without dofile / loadfile; `load` compiles text only (never binary chunks);
 *              `print` goes to the ksr log; `collectgarbage` is a no-op (fengari has no Lua GC)
 *   string, table, math, utf8, coroutine
 *   os         time, clock, date, difftime only (no exit, getenv, execute, remove, …)
 *   require    ksr's own: `<name>.lua` from the script's folder and the search_path folders
 *   package    { loaded = … } only (no loadlib, path, searchers)
 *   no io, no debug, no fengari
 */
import type { LuaJsFunction, LuaState } from 'fengari';
import {
  LUA_LOADED_TABLE,
  LUA_REGISTRYINDEX,
  S_TEXT_MODE,
  lua_call,
  lua_createtable,
  lua_getfield,
  lua_getglobal,
  lua_gettop,
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
