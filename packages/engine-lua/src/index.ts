/**
 * @ksr/engine-lua: routing scripts in Lua 5.3 (fengari), Kamailio app_lua style.
 *
 *   cfgengine "lua"
 *   loadmodule "app_lua.so"
 *   modparam("app_lua", "load", "/etc/ksr/routing.lua")
 *
 * The descriptor is cheap to import: fengari (and the interpreter code) are loaded the first
 * time a script is.
 */
import type { EngineDescriptor, EngineLoadOptions, ScriptEngine } from '@ksr/core';
import { appLuaModule } from './schema.js';

export { appLuaModule, DEFAULT_MAX_STRING_SIZE, DEFAULT_ROUTE_TIME_LIMIT_MS, readSettings, type LuaEngineSettings } from './schema.js';

export const luaEngine: EngineDescriptor = {
  name: 'lua',
  cfgengineNames: ['lua'],
  module: appLuaModule,
  scriptParams: ['load'],
  async load(opts: EngineLoadOptions): Promise<ScriptEngine> {
    const { loadLuaEngine } = await import('./engine.js');
    return loadLuaEngine(opts);
  },
};
