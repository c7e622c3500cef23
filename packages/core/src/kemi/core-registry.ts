import type { RouteContext } from '../routing/context.js';
import { xExports } from '../routing/x.js';
import { coreExports } from './exports/core.js';
import { hdrExports } from './exports/hdr.js';
import { kxExports } from './exports/kx.js';
import { pvExports } from './exports/pv.js';
import { KemiRegistry } from './registry.js';

/**
 * A registry holding everything core exports, in Kamailio's order: the core functions (KSR.*),
 * then pv, hdr, kx and x. Not frozen: the server adds each loaded module's table, then freezes.
 */
export function buildCoreRegistry(): KemiRegistry<RouteContext> {
  const reg = new KemiRegistry<RouteContext>();
  reg.addModule('', coreExports);
  reg.addModule('pv', pvExports);
  reg.addModule('hdr', hdrExports);
  reg.addModule('kx', kxExports);
  reg.addModule('x', xExports);
  return reg;
}
