/**
 * @ksr/engine-js: the sandboxed JavaScript routing engine (Kamailio's app_jsdt on QuickJS).
 *
 *   loadmodule "app_jsdt.so"
 *   modparam("app_jsdt", "load", "/etc/ksr/ksr.js")
 *   cfgengine "jsdt"        # or "js"
 *
 * The descriptor is cheap to import: QuickJS is only loaded when a script is.
 */
import type { EngineDescriptor } from '@ksr/core';
import { appJsdtModule } from './schema.js';

export const jsdtEngine: EngineDescriptor = {
  name: 'jsdt',
  cfgengineNames: ['jsdt', 'js'],
  module: appJsdtModule,
  scriptParams: ['load'],
  load: async (opts) => {
    const { JsdtEngine } = await import('./engine.js');
    return JsdtEngine.load(opts);
  },
};

export { appJsdtModule, readSettings, type JsdtSettings } from './schema.js';
export type { JsdtEngine, MemoryUsage } from './engine.js';
