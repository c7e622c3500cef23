/**
 * Types for the part of fengari 0.1.5 (Lua 5.3 in JS, MIT) that engine-lua uses. fengari ships
 * no typings; these mirror its C-API-shaped JS API (`lua.h`, `lauxlib.h`, `lualib.h`).
 * Strings on the Lua side are byte arrays (`LuaString`); most entry points also accept a JS
 * string and convert it.
 */
declare module 'fengari' {
  /** A Lua string: raw bytes. */
  export type LuaString = Uint8Array;
  /** A Lua thread (the main state or a coroutine). Opaque. */
  export interface LuaState {
    readonly __luaState: unique symbol;
  }
  /** A JS function callable from Lua: reads its arguments from the stack, returns the result count. */
  export type LuaJsFunction = (L: LuaState) => number;
  export type LuaHook = (L: LuaState, ar: LuaDebug) => void;

  export interface LuaDebug {
    event: number;
    name: LuaString | null;
    namewhat: LuaString | null;
    what: LuaString | null;
    source: LuaString | null;
    currentline: number;
    linedefined: number;
    lastlinedefined: number;
    short_src: LuaString | null;
    istailcall: number | boolean;
  }

  interface LuaApi {
    readonly LUA_OK: number;
    readonly LUA_YIELD: number;
    readonly LUA_ERRRUN: number;
    readonly LUA_ERRSYNTAX: number;
    readonly LUA_ERRMEM: number;
    readonly LUA_ERRERR: number;
    readonly LUA_TNONE: number;
    readonly LUA_TNIL: number;
    readonly LUA_TBOOLEAN: number;
    readonly LUA_TLIGHTUSERDATA: number;
    readonly LUA_TNUMBER: number;
    readonly LUA_TSTRING: number;
    readonly LUA_TTABLE: number;
    readonly LUA_TFUNCTION: number;
    readonly LUA_TUSERDATA: number;
    readonly LUA_TTHREAD: number;
    readonly LUA_MASKCOUNT: number;
    readonly LUA_MULTRET: number;
    readonly LUA_REGISTRYINDEX: number;
    readonly lua_Debug: new () => LuaDebug;

    lua_absindex(L: LuaState, idx: number): number;
    lua_atnativeerror(L: LuaState, f: LuaJsFunction | null): LuaJsFunction | null;
    lua_call(L: LuaState, nargs: number, nresults: number): void;
    lua_close(L: LuaState): void;
    lua_concat(L: LuaState, n: number): void;
    lua_createtable(L: LuaState, narr: number, nrec: number): void;
    lua_error(L: LuaState): never;
    lua_getfield(L: LuaState, idx: number, k: LuaString | string): number;
    lua_getglobal(L: LuaState, name: LuaString | string): number;
    lua_gethookcount(L: LuaState): number;
    lua_getinfo(L: LuaState, what: LuaString | string, ar: LuaDebug): number;
    lua_getstack(L: LuaState, level: number, ar: LuaDebug): number;
    lua_gettop(L: LuaState): number;
    lua_insert(L: LuaState, idx: number): void;
    lua_isinteger(L: LuaState, idx: number): boolean;
    lua_pcall(L: LuaState, nargs: number, nresults: number, msgh: number): number;
    lua_pop(L: LuaState, n: number): void;
    lua_pushboolean(L: LuaState, b: boolean | number): void;
    lua_pushglobaltable(L: LuaState): void;
    lua_pushinteger(L: LuaState, n: number): void;
    lua_pushjsfunction(L: LuaState, f: LuaJsFunction): void;
    lua_pushlightuserdata(L: LuaState, p: object): void;
    lua_pushnil(L: LuaState): void;
    lua_pushnumber(L: LuaState, n: number): void;
    lua_pushstring(L: LuaState, s: LuaString | string): LuaString;
    lua_pushvalue(L: LuaState, idx: number): void;
    lua_rawequal(L: LuaState, a: number, b: number): boolean | number;
    lua_rawget(L: LuaState, idx: number): number;
    lua_rawlen(L: LuaState, idx: number): number;
    lua_rawset(L: LuaState, idx: number): void;
    lua_remove(L: LuaState, idx: number): void;
    lua_replace(L: LuaState, idx: number): void;
    lua_setfield(L: LuaState, idx: number, k: LuaString | string): void;
    lua_setglobal(L: LuaState, name: LuaString | string): void;
    lua_sethook(L: LuaState, f: LuaHook | null, mask: number, count: number): void;
    lua_settop(L: LuaState, idx: number): void;
    lua_toboolean(L: LuaState, idx: number): boolean;
    lua_tocfunction(L: LuaState, idx: number): LuaJsFunction | null;
    lua_tointeger(L: LuaState, idx: number): number;
    lua_tojsstring(L: LuaState, idx: number): string | null;
    lua_tolstring(L: LuaState, idx: number): LuaString | null;
    lua_tonumber(L: LuaState, idx: number): number;
    lua_touserdata(L: LuaState, idx: number): unknown;
    lua_type(L: LuaState, idx: number): number;
    lua_typename(L: LuaState, t: number): LuaString;
  }

  interface LauxApi {
    readonly LUA_LOADED_TABLE: LuaString;
    luaL_callmeta(L: LuaState, obj: number, event: LuaString | string): boolean;
    luaL_checkinteger(L: LuaState, arg: number): number;
    luaL_getsubtable(L: LuaState, idx: number, fname: LuaString | string): boolean;
    luaL_loadbufferx(L: LuaState, buff: LuaString, size: number | null, name: LuaString | string, mode: LuaString | string | null): number;
    luaL_newstate(): LuaState;
    luaL_requiref(L: LuaState, modname: LuaString | string, openf: LuaJsFunction, glb: boolean | number): void;
    luaL_tolstring(L: LuaState, idx: number): LuaString;
    luaL_traceback(L: LuaState, L1: LuaState, msg: LuaString | string | null, level: number): void;
    luaL_where(L: LuaState, level: number): void;
  }

  interface LualibApi {
    luaopen_base: LuaJsFunction;
    luaopen_coroutine: LuaJsFunction;
    luaopen_math: LuaJsFunction;
    luaopen_os: LuaJsFunction;
    luaopen_string: LuaJsFunction;
    luaopen_table: LuaJsFunction;
    luaopen_utf8: LuaJsFunction;
  }

  const fengari: {
    readonly lua: LuaApi;
    readonly lauxlib: LauxApi;
    readonly lualib: LualibApi;
    to_luastring(s: string, cache?: boolean): LuaString;
    to_jsstring(s: LuaString, from?: number, to?: number, replacementChar?: boolean): string;
  };
  export default fengari;
}
