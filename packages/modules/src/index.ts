/**
 * @ksr/modules: Kamailio-style modules, one folder each, each a table of exports plus its
 * parameter schema. The catalogue below is what `loadmodule` can name; the config loader checks
 * every `modparam` against the schema of its module.
 */
import type { ModuleCatalogue, ModuleSchema } from '@ksr/core';

/** Every module ksr ships. Modules are added here as they are implemented. */
export const builtinModules: readonly ModuleSchema[] = [];

export const moduleCatalogue: ModuleCatalogue = {
  get(name: string): ModuleSchema | undefined {
    return builtinModules.find((m) => m.name === name);
  },
};
