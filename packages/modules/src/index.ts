/**
 * @ksr/modules: Kamailio-style modules, one folder each (src/<name>/index.ts exporting a
 * defineModule() definition): its modparam schema, dependencies and KEMI export table.
 * `builtinModules` is what `loadmodule` can name.
 */
import type { KsrModuleDef } from '@ksr/core';
import { authModule } from './auth/index.js';
import { authDbModule } from './auth_db/index.js';
import { corexModule } from './corex/index.js';
import { htableModule } from './htable/index.js';
import { jsonrpcsModule } from './jsonrpcs/index.js';
import { kexModule } from './kex/index.js';
import { maxfwdModule } from './maxfwd/index.js';
import { permissionsModule } from './permissions/index.js';
import { pikeModule } from './pike/index.js';
import { pvModule } from './pv/index.js';
import { registrarModule } from './registrar/index.js';
import { rrModule } from './rr/index.js';
import { sanityModule } from './sanity/index.js';
import { siputilsModule } from './siputils/index.js';
import { slModule } from './sl/index.js';
import { textopsModule } from './textops/index.js';
import { textopsxModule } from './textopsx/index.js';
import { tmModule } from './tm/index.js';
import { tmxModule } from './tmx/index.js';
import { usrlocModule } from './usrloc/index.js';
import { xlogModule } from './xlog/index.js';

export {
  corexModule,
  siputilsModule,
  textopsModule,
  textopsxModule,
  tmModule,
  tmxModule,
  htableModule,
  kexModule, maxfwdModule, pikeModule, pvModule, registrarModule, rrModule, sanityModule, slModule, usrlocModule, xlogModule };
export type { UsrlocApi } from './usrloc/api.js';
export type { RrApi } from './rr/index.js';
export type { TmApi } from './tm/api.js';
export type { HtableApi } from './htable/api.js';
export type { PikeApi } from './pike/api.js';
export type { PvModuleApi } from './pv/api.js';
export type { SlApi } from './sl/api.js';
export { authModule, authDbModule, permissionsModule };
export type { AuthApi } from './auth/api.js';
export { jsonrpcsModule, DEFAULT_RPC_SOCKET, DEFAULT_HTTP_LISTEN, type JsonrpcsApi } from './jsonrpcs/index.js';

/** Every module ksr ships. */
export const builtinModules: readonly KsrModuleDef[] = [
  kexModule,
  slModule,
  authModule,
  authDbModule,
  permissionsModule,
  maxfwdModule,
  sanityModule,
  xlogModule,
  corexModule,
  textopsModule,
  textopsxModule,
  siputilsModule,
  pvModule,
  htableModule,
  pikeModule,
  usrlocModule,
  registrarModule,
  rrModule,
  tmModule,
  tmxModule,
  jsonrpcsModule,
];
