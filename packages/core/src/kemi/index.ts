export * from './types.js';
export { KemiRegistry, FrozenKemiRegistry } from './registry.js';
export { coerceArg, coerceArgs, normaliseReturn, applyNullMode, type NullMode } from './convention.js';
export { getterVariants } from './variants.js';
export { coreExports, statelessBranch, forwardReply, MAX_BRANCHES } from './exports/core.js';
export { hdrExports, parseHeaderText } from './exports/hdr.js';
export { pvExports, createPvExports } from './exports/pv.js';
export { kxExports } from './exports/kx.js';
