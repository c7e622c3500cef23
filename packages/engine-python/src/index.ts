/**
 * @ksr/engine-python: routing scripts in Python 3 (CPython on Pyodide/WebAssembly), in both
 * styles of Kamailio's KEMI Python modules:
 *
 *   loadmodule "app_python3.so"                      loadmodule "app_python3s.so"
 *   modparam("app_python3", "load", "/etc/ksr/r.py") modparam("app_python3s", "load", "/etc/ksr/r.py")
 *   cfgengine "python"                               cfgengine "python3s"
 *
 * The descriptors are cheap to import: Pyodide is loaded (once per process) by the first script.
 */
import type { EngineDescriptor, EngineLoadOptions, ScriptEngine } from '@ksr/core';
import { appPython3Module, appPython3sModule } from './schema.js';

/** app_python3: class style (mod_init() returns the handler object; methods take (self, msg[, evname])). */
export const pythonEngine: EngineDescriptor = {
  name: 'python',
  cfgengineNames: ['python'],
  module: appPython3Module,
  scriptParams: ['load', 'script_name'],
  async load(opts: EngineLoadOptions): Promise<ScriptEngine> {
    const { PythonEngine } = await import('./engine.js');
    return PythonEngine.load(opts, 'class', 'python');
  },
};

/** app_python3s: script style (module-level functions, no msg argument). */
export const python3sEngine: EngineDescriptor = {
  name: 'python3s',
  cfgengineNames: ['python3s', 'python'],
  module: appPython3sModule,
  scriptParams: ['load'],
  async load(opts: EngineLoadOptions): Promise<ScriptEngine> {
    const { PythonEngine } = await import('./engine.js');
    return PythonEngine.load(opts, 'script', 'python3s');
  },
};

export {
  appPython3Module,
  appPython3sModule,
  readSettings,
  DEFAULT_ROUTE_TIME_LIMIT_MS,
  CHILD_RANK,
  type PythonSettings,
  type PythonStyle,
} from './schema.js';
export type { PythonEngine } from './engine.js';
