/**
 * @ksr/modules: Kamailio-style modules, one folder each, each a table of exports plus its
 * parameter schema. `builtinModules` is what `loadmodule` can name; the config loader checks
 * every `modparam` against the schema of its module.
 */
import type { ModuleSchema } from '@ksr/core';

/** Every module ksr ships. Modules are added here as they are implemented. */
export const builtinModules: readonly ModuleSchema[] = [];
