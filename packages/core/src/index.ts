/**
 * @ksr/core public entry point. Engines and modules import only from here (or "@ksr/core/sip").
 */
export * from './errors.js';
export { createLogger, silentLogger, kamailioDebugToLevel, type Logger, type LoggerOptions } from './log.js';
export * as sip from './sip/index.js';
export {
  parseMessage,
  parseUri,
  uriEquals,
  buildReply,
  buildReplyBytes,
  SipParseError,
  SipRequest,
  SipResponse,
  isRequest,
  type SipUri,
  type NameAddr,
  type Via,
} from './sip/index.js';
export * from './transport/index.js';
export {
  loadConfig,
  parsePreprocessed,
  parseNumber,
  preprocess,
  parseDefineArg,
  lookupGlobal,
  createModuleCatalogue,
  moduleNameFromPath,
  GLOBAL_PARAMS,
  intInRange,
  nonEmpty,
  type KsrConfig,
  type ConfigValue,
  type ListenSpec as ConfigListenSpec,
  type ListenProto,
  type AliasSpec,
  type ModParam,
  type RouteBlock,
  type RouteKind,
  type CfgEngineName,
  type LoadConfigOptions,
  type ConfigWarning,
  type ModuleCatalogue,
  type ModuleSchema,
  type ModuleParamSpec,
} from './config/index.js';
export * from './server/index.js';
export * from './kemi/index.js';
export * from './routing/index.js';
export * from './pv/index.js';
export * from './stats/index.js';
export * from './module/index.js';
export * from './transaction/index.js';
export * from './rpc/index.js';
export type { Db, DbQuery, DbRow, DbValue, DbWhere } from './db/types.js';
export {
  openDb,
  parseDbUrl,
  maskDbUrl,
  initSchema,
  ensureTable,
  tableVersion,
  locationTable,
  tableDdl,
  toDbDatetime,
  fromDbDatetime,
  KAMAILIO_TABLES,
  DEFAULT_DB_URL,
  type DbUrl,
  type OpenDbOptions,
  type TableDef,
} from './db/index.js';
