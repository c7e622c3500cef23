/**
 * The KEMI registry the reference docs and editor stubs are generated from: exactly what the
 * server binds into the script engines (packages/ksr buildRegistry()) when every module ksr ships
 * is loaded, so the docs and the server can never disagree.
 */
import { detachedServices, silentLogger, type FrozenKemiRegistry, type KsrConfig, type RouteContext, type RouteServices } from '../packages/core/src/index.js';
import { builtinModules } from '../packages/modules/src/index.js';
import { loadModules } from '../packages/ksr/src/modules.js';
import { buildRegistry } from '../packages/ksr/src/routing.js';

export async function registryForDocs(): Promise<FrozenKemiRegistry<RouteContext>> {
  const loc = { file: 'docs', line: 0 };
  const cfg: KsrConfig = {
    file: 'docs',
    defines: new Map(),
    globals: new Map(),
    listen: [],
    aliases: [],
    modules: builtinModules.map((m) => ({ name: m.name, loc })),
    modparams: [],
    routeBlocks: [],
    warnings: [],
    files: [],
  };
  // modules only build their tables here: nothing is routed, sent or timed
  const services: RouteServices = detachedServices({ myselfHosts: [], reply: async () => false });
  const modules = await loadModules(cfg, builtinModules, services, silentLogger, { clock: { now: () => 0, every: () => ({ cancel() {} }) } });
  try {
    return buildRegistry(modules.kemiTables());
  } finally {
    await modules.destroy();
  }
}
