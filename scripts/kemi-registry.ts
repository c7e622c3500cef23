/**
 * The KEMI registry the reference docs and editor stubs are generated from: exactly what the
 * server binds into the script engines (packages/ksr buildRegistry()), so the docs and the server
 * can never disagree.
 */
import type { FrozenKemiRegistry, RouteContext } from '../packages/core/src/index.js';
import { buildRegistry } from '../packages/ksr/src/routing.js';

export async function registryForDocs(): Promise<FrozenKemiRegistry<RouteContext>> {
  return buildRegistry();
}
