import type { EngineDescriptor, ModuleSchema } from '@ksr/core';
import { jsdtEngine } from '@ksr/engine-js';
import { luaEngine } from '@ksr/engine-lua';
import { python3sEngine, pythonEngine } from '@ksr/engine-python';

/**
 * The script engines this build of ksr offers (cfgengine names → descriptor). Engines are
 * loaded lazily by their descriptor; the engine packages add themselves here as they land
 * (engine-lua, engine-js, engine-python).
 */
export function availableEngines(): readonly EngineDescriptor[] {
  return [luaEngine, jsdtEngine, pythonEngine, python3sEngine];
}

/** The engines' modules (app_lua, app_jsdt, …) for the config's module catalogue. */
export function engineModules(): readonly ModuleSchema[] {
  return availableEngines().map((e) => e.module);
}
