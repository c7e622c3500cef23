/**
 * Config loader: preprocess + parse the global part of a kamailio.cfg.
 * See README.md in this folder for the accepted syntax.
 */

export {
  loadConfig,
  parsePreprocessed,
  parseNumber,
  type KsrConfig,
  type ConfigValue,
  type ListenSpec,
  type ListenProto,
  type AliasSpec,
  type ModParam,
  type RouteBlock,
  type RouteKind,
  type CfgEngineName,
  type LoadConfigOptions,
} from './parse.js';
export {
  preprocess,
  parseDefineArg,
  DEFAULT_MAX_INCLUDE_DEPTH,
  type PreprocessOptions,
  type PreprocessResult,
  type SourceLine,
  type ConfigWarning,
} from './preprocess.js';
export { GLOBAL_PARAMS, GLOBAL_ALIASES, lookupGlobal, type GlobalSpec, type GlobalType } from './globals.js';
export {
  createModuleCatalogue,
  moduleNameFromPath,
  type ModuleCatalogue,
  type ModuleSchema,
  type ModuleParamSpec,
} from './modules.js';
export { parseSubst, applySubst, type SubstRule } from './subst.js';
export { intInRange, nonEmpty } from './param-checks.js';
