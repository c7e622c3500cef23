/**
 * KSR.* for Lua: the `KSR` table and one table per KEMI module, built once per interpreter from
 * the frozen registry. Every member is a JS function bound to its export's id, with argument
 * readers and a return pusher chosen for its signature when the interpreter is built — a call
 * does no name lookup, no metamethod and no Lua-side wrapper.
 *
 * Arguments cross as: string → JS string, integer → number, float → number (the shared calling
 * convention rejects non-integers for int params), boolean → boolean, nil → null, anything else
 * → a placeholder the convention reports as a wrong type. The arity is checked by the
 * convention too: a call with the wrong number of arguments is logged and returns the failure
 * value of its return type.
 *
 * Returns: int → Lua integer (a value outside Lua's 32-bit integers raises an error rather than
 * wrapping), bool → boolean, xval → string / integer / float / nil (integers beyond 32 bits, the
 * 'long' values, become floats, exact up to 2^53), none → no value.
 */
import type { FrozenKemiRegistry, Invoke, KemiExport, Logger, RouteContext } from '@ksr/core';
import type { LuaJsFunction, LuaState } from 'fengari';
import {
  LUA_TBOOLEAN,
  LUA_TFUNCTION,
  LUA_TNIL,
  LUA_TNONE,
  LUA_TNUMBER,
  LUA_TSTRING,
  LUA_TTABLE,
  lua_createtable,
  lua_gettop,
  lua_isinteger,
  lua_pushboolean,
  lua_pushinteger,
  lua_pushjsfunction,
  lua_pushnil,
  lua_pushnumber,
  lua_pushstring,
  lua_setfield,
  lua_setglobal,
  lua_toboolean,
  lua_tointeger,
  lua_tonumber,
  lua_type,
  luaString,
  raiseAt,
  stringAt,
  to_luastring,
} from './lua.js';

/** What the KSR functions need from the interpreter that owns them. */
export interface KsrHost {
  readonly invoke: Invoke;
  /** "file:line" of the Lua code calling the current KSR function (computed only when asked). */
  readonly where: () => string | undefined;
  /** The Lua thread of the running KSR call (the main state or a coroutine). */
  currentL: LuaState | undefined;
  /** Turn what `invoke` threw (the route-exit signal, or a host failure) into a Lua error. */
  raiseHostError(L: LuaState, err: unknown, exp: KemiExport<RouteContext>): never;
}

type Reader = (L: LuaState, i: number) => unknown;
type Pusher = (L: LuaState, v: unknown) => number;

const NO_ARGS: readonly unknown[] = Object.freeze([]);
/** Stand-ins for Lua values that have no JS counterpart; the convention names their type. */
const TABLE_ARG: object = Object.freeze({ luaType: 'table' });
const OTHER_ARG: object = Object.freeze({ luaType: 'userdata' });
const FUNCTION_ARG = Object.freeze(function luaFunction(): void {});

/** Any Lua value as a KSR argument. */
export function toJs(L: LuaState, i: number): unknown {
  switch (lua_type(L, i)) {
    case LUA_TSTRING:
      return stringAt(L, i);
    case LUA_TNUMBER:
      return lua_isinteger(L, i) ? lua_tointeger(L, i) : lua_tonumber(L, i);
    case LUA_TBOOLEAN:
      return lua_toboolean(L, i);
    case LUA_TNIL:
    case LUA_TNONE:
      return null;
    case LUA_TFUNCTION:
      return FUNCTION_ARG;
    case LUA_TTABLE:
      return TABLE_ARG;
    default:
      return OTHER_ARG;
  }
}

/** A 'str' parameter: the common case (a Lua string) first. */
const readStr: Reader = (L, i) => (lua_type(L, i) === LUA_TSTRING ? stringAt(L, i) : toJs(L, i));
/** An 'int' or 'long' parameter: the common case (a Lua integer) first. */
const readInt: Reader = (L, i) => (lua_isinteger(L, i) ? lua_tointeger(L, i) : toJs(L, i));

const pushNone: Pusher = () => 0;

const pushBool: Pusher = (L, v) => {
  lua_pushboolean(L, v === true);
  return 1;
};

const pushXval: Pusher = (L, v) => {
  if (typeof v === 'string') {
    lua_pushstring(L, luaString(v));
  } else if (typeof v === 'number') {
    if ((v | 0) === v) lua_pushinteger(L, v);
    else lua_pushnumber(L, v); // floats, and integers beyond 32 bits ('long' values)
  } else if (typeof v === 'boolean') {
    lua_pushboolean(L, v);
  } else {
    lua_pushnil(L);
  }
  return 1;
};

function intPusher(qualified: string): Pusher {
  return (L, v) => {
    if (typeof v === 'number' && (v | 0) === v) {
      lua_pushinteger(L, v);
      return 1;
    }
    return raiseAt(L, `${qualified} returned ${String(v)}, which does not fit in a Lua integer (32-bit in this Lua)`);
  };
}

function pusherFor(exp: KemiExport<RouteContext>): Pusher {
  switch (exp.returns) {
    case 'none':
      return pushNone;
    case 'bool':
      return pushBool;
    case 'int':
      return intPusher(exp.qualified);
    case 'xval':
      return pushXval;
  }
}

/** The JS function behind KSR.<module>.<name>: specialised for the export's arity and types. */
export function makeThunk(exp: KemiExport<RouteContext>, host: KsrHost): LuaJsFunction {
  const id = exp.id;
  const invoke = host.invoke;
  const where = host.where;
  const push = pusherFor(exp);

  const call = (L: LuaState, args: readonly unknown[]): number => {
    host.currentL = L;
    let v: unknown;
    try {
      v = invoke(id, args, where);
    } catch (err) {
      return host.raiseHostError(L, err, exp);
    }
    return push(L, v);
  };
  /** Wrong argument count: hand everything over and let the convention report it. */
  const generic = (L: LuaState): number => {
    const top = lua_gettop(L);
    const args = new Array<unknown>(top);
    for (let i = 0; i < top; i++) args[i] = toJs(L, i + 1);
    return call(L, args);
  };

  const r = exp.params.map((p) => (p === 'str' ? readStr : readInt));
  switch (r.length) {
    case 0:
      return (L) => (lua_gettop(L) === 0 ? call(L, NO_ARGS) : generic(L));
    case 1: {
      const [r0] = r as [Reader];
      return (L) => (lua_gettop(L) === 1 ? call(L, [r0(L, 1)]) : generic(L));
    }
    case 2: {
      const [r0, r1] = r as [Reader, Reader];
      return (L) => (lua_gettop(L) === 2 ? call(L, [r0(L, 1), r1(L, 2)]) : generic(L));
    }
    case 3: {
      const [r0, r1, r2] = r as [Reader, Reader, Reader];
      return (L) => (lua_gettop(L) === 3 ? call(L, [r0(L, 1), r1(L, 2), r2(L, 3)]) : generic(L));
    }
    case 4: {
      const [r0, r1, r2, r3] = r as [Reader, Reader, Reader, Reader];
      return (L) => (lua_gettop(L) === 4 ? call(L, [r0(L, 1), r1(L, 2), r2(L, 3), r3(L, 4)]) : generic(L));
    }
    case 5: {
      const [r0, r1, r2, r3, r4] = r as [Reader, Reader, Reader, Reader, Reader];
      return (L) => (lua_gettop(L) === 5 ? call(L, [r0(L, 1), r1(L, 2), r2(L, 3), r3(L, 4), r4(L, 5)]) : generic(L));
    }
    default: {
      const [r0, r1, r2, r3, r4, r5] = r as [Reader, Reader, Reader, Reader, Reader, Reader];
      if (r.length !== 6) throw new Error(`${exp.qualified}: ${r.length} parameters are not supported`);
      return (L) => (lua_gettop(L) === 6 ? call(L, [r0(L, 1), r1(L, 2), r2(L, 3), r3(L, 4), r4(L, 5), r5(L, 6)]) : generic(L));
    }
  }
}

/**
 * Build `KSR` (core functions at its root) and `KSR.<module>` for every registered module, and
 * set the global. Modules that are not registered have no table, so `if KSR.auth then` works as
 * feature detection. Must run inside a protected call (it allocates Lua tables).
 */
export function bindKsr(L: LuaState, registry: FrozenKemiRegistry<RouteContext>, host: KsrHost, log?: Logger): number {
  let count = 0;
  const core = registry.exportsOf('');
  lua_createtable(L, 0, core.length + registry.modules.length);
  for (const module of registry.modules) {
    const exports = registry.exportsOf(module);
    if (module !== '') lua_createtable(L, 0, exports.length);
    for (const exp of exports) {
      lua_pushjsfunction(L, makeThunk(exp, host));
      lua_setfield(L, -2, to_luastring(exp.name));
      log?.info(`app_lua: exporting ${exp.qualified}(${exp.params.join(', ')}) -> ${exp.returns}`);
      count++;
    }
    if (module !== '') lua_setfield(L, -2, to_luastring(module));
  }
  lua_setglobal(L, to_luastring('KSR'));
  return count;
}
