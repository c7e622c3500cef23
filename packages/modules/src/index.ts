/**
 * @ksr/modules: Kamailio-style modules, one folder each (src/<name>/index.ts exporting a
 * defineModule() definition): its modparam schema, dependencies and KEMI export table.
 * `builtinModules` is what `loadmodule` can name.
 */
import type { KsrModuleDef } from '@ksr/core';
import { kexModule } from './kex/index.js';
import { maxfwdModule } from './maxfwd/index.js';
import { sanityModule } from './sanity/index.js';
import { slModule } from './sl/index.js';
import { xlogModule } from './xlog/index.js';

export { kexModule, maxfwdModule, sanityModule, slModule, xlogModule };
export type { SlApi } from './sl/api.js';

/** Every module ksr ships. */
export const builtinModules: readonly KsrModuleDef[] = [kexModule, slModule, maxfwdModule, sanityModule, xlogModule];
