/**
 * Pseudo-variables: `$ru`, `$hdr(Via)`, `$(avp(x)[1])`, `$xavp(a[0]=>b)`, … compiled once into
 * accessors with get/set. See README.md in this directory.
 *
 * `pvRegistry` is the process-wide registry used by KSR.pv; modules add their classes to it with
 * `registerPvClass` before the server starts (htable: $sht, tm: $T_*).
 */
import { registerCorePvs } from './core.js';
export { compilePvFormat, renderPvFormat, type PvFormat } from './core.js';
import { PvRegistry } from './registry.js';
import type { PvClassOptions, PvFactory } from './types.js';
import { registerVarPvs } from './vars.js';

export * from './types.js';
export { PvRegistry, DEFAULT_PV_CACHE_LIMIT } from './registry.js';
export { parsePvName, parsePvAt } from './parser.js';
export { XAVP_VALUE, printValue } from './vars.js';
export { parseDigestCredentials, requestCredentials, type DigestCredentials } from './auth.js';

/** A registry with every core class ($ru … $var, $avp, $xavp, $shv, …). */
export function createPvRegistry(opts: { cacheLimit?: number } = {}): PvRegistry {
  const reg = new PvRegistry(opts);
  registerCorePvs(reg);
  registerVarPvs(reg);
  return reg;
}

/** The registry KSR.pv uses. */
export const pvRegistry: PvRegistry = createPvRegistry();

/** Add a pseudo-variable class to the process-wide registry (see PvRegistry.register). */
export function registerPvClass(name: string, factory: PvFactory, opts?: PvClassOptions): void {
  pvRegistry.register(name, factory, opts);
}
