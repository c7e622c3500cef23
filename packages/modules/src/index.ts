/**
 * @ksr/modules: Kamailio-style modules, one folder each (src/<name>/index.ts exporting a
 * defineModule() definition): its modparam schema, dependencies and KEMI export table.
 * `builtinModules` is what `loadmodule` can name.
 */
import type { KsrModuleDef } from '@ksr/core';

/** Every module ksr ships, in the order they are listed in docs. */
export const builtinModules: readonly KsrModuleDef[] = [];
