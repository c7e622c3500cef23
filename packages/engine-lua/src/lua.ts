/**
 * The fengari API as flat constants and functions (looked up once, not per call), plus the small
 * helpers the engine shares between its files.
 */
import type { LuaState, LuaString } from 'fengari';
import { fengari } from './fengari-loader.js';

export const { lua, lauxlib, lualib, to_luastring, to_jsstring } = fengari;

export const {
  LUA_OK,
  LUA_ERRERR,
  LUA_ERRRUN,
  LUA_ERRSYNTAX,
  LUA_ERRMEM,
  LUA_TNONE,
  LUA_TNIL,
  LUA_TBOOLEAN,
  LUA_TLIGHTUSERDATA,
  LUA_TNUMBER,
  LUA_TSTRING,
  LUA_TTABLE,
  LUA_TFUNCTION,
  LUA_TUSERDATA,
  LUA_TTHREAD,
  LUA_MASKCOUNT,
  LUA_REGISTRYINDEX,
  lua_Debug,
  lua_atnativeerror,
  lua_call,
  lua_close,
  lua_concat,
  lua_createtable,
  lua_error,
  lua_getfield,
  lua_getglobal,
  lua_gethookcount,
  lua_getinfo,
  lua_getstack,
  lua_gettop,
  lua_isinteger,
  lua_pcall,
  lua_pop,
  lua_pushboolean,
  lua_pushglobaltable,
  lua_pushinteger,
  lua_pushjsfunction,
  lua_pushlightuserdata,
  lua_pushnil,
  lua_pushnumber,
  lua_pushstring,
  lua_pushvalue,
  lua_rawget,
  lua_rawlen,
  lua_remove,
  lua_replace,
  lua_setfield,
  lua_setglobal,
  lua_sethook,
  lua_settop,
  lua_toboolean,
  lua_tocfunction,
  lua_tointeger,
  lua_tojsstring,
  lua_tolstring,
  lua_tonumber,
  lua_touserdata,
  lua_type,
  lua_typename,
} = fengari.lua;

export const {
  LUA_LOADED_TABLE,
  luaL_callmeta,
  luaL_checkinteger,
  luaL_getsubtable,
  luaL_loadbufferx,
  luaL_newstate,
  luaL_requiref,
  luaL_tolstring,
  luaL_where,
} = fengari.lauxlib;

/** A JS string as Lua bytes (UTF-8). Buffer.from is the fastest encoder in Node for short strings. */
export function luaString(s: string): LuaString {
  return Buffer.from(s, 'utf8');
}

const decoder = new TextDecoder('utf-8');

/**
 * The Lua string at `idx` as a JS string (invalid UTF-8 becomes U+FFFD), decoded natively from
 * fengari's own bytes (no copy). Only for values that are strings (lua_tolstring converts
 * numbers in place).
 */
export function stringAt(L: LuaState, idx: number): string {
  const s = lua_tolstring(L, idx);
  return s ? decoder.decode(s) : '';
}

/** Lua bytes as a JS string (invalid UTF-8 becomes U+FFFD). */
export function jsString(s: LuaString | null | undefined): string {
  return s ? to_jsstring(s, undefined, undefined, true) : '';
}

export function typeName(L: LuaState, idx: number): string {
  return jsString(lua_typename(L, lua_type(L, idx)));
}

/** Like luaL_error: prefix the position of the Lua code that called the running JS function. */
export function raiseAt(L: LuaState, message: string): never {
  luaL_where(L, 1);
  lua_pushstring(L, luaString(message));
  lua_concat(L, 2);
  return lua_error(L);
}

export const S_SL = to_luastring('Sl');
export const S_SLNT = to_luastring('Slnt');
export const S_TEXT_MODE = to_luastring('t');
