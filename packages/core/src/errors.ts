/**
 * Every coded error that core raises, in one place (fastify's model).
 *
 * Codes are stable strings (`KSR_ERR_*`) that callers and tests branch on;
 * messages are for humans. docs/errors.md lists the same codes.
 *
 * The SIP message layer (src/sip) keeps its own `SipParseError` because it
 * imports nothing else of ours; its code `KSR_ERR_SIP_PARSE` is listed here too.
 */

export const ErrorCodes = {
  /** Malformed SIP message (raised by src/sip as SipParseError). */
  SIP_PARSE: 'KSR_ERR_SIP_PARSE',
  /** Config file: syntax error, unknown module, bad modparam, missing include. */
  CONFIG: 'KSR_ERR_CONFIG',
  /** A listen= socket could not be opened. */
  LISTEN: 'KSR_ERR_LISTEN',
  /** Sending a message failed (no route to the target transport, closed connection). */
  SEND: 'KSR_ERR_SEND',
  /** A stream (TCP) carried bytes that cannot be framed as SIP. */
  FRAMING: 'KSR_ERR_FRAMING',
  /** Command-line usage error. */
  USAGE: 'KSR_ERR_USAGE',
  /** A KEMI export table is invalid (bad name, too many params, unknown type). */
  KEMI_INVALID: 'KSR_ERR_KEMI_INVALID',
  /** The same KSR.module.function registered twice, or the same module twice. */
  KEMI_DUPLICATE: 'KSR_ERR_KEMI_DUPLICATE',
  /** Registration after the registry was frozen (engines bind a frozen registry). */
  KEMI_FROZEN: 'KSR_ERR_KEMI_FROZEN',
  /** A KSR function was called outside a route (no current message). */
  KEMI_NO_CONTEXT: 'KSR_ERR_KEMI_NO_CONTEXT',
  /** A transaction was asked for something its state does not allow (e.g. a second final reply). */
  TRANSACTION_STATE: 'KSR_ERR_TRANSACTION_STATE',
  /** A pseudo-variable name does not parse (raised by src/pv as PvNameError). */
  PV_NAME: 'KSR_ERR_PV_NAME',
  /** A routing script failed to load or validate (syntax error, missing ksr_request_route). */
  SCRIPT_LOAD: 'KSR_ERR_SCRIPT_LOAD',
  /** A db_url does not parse or names an unsupported database (the password is masked in the message). */
  DB_URL: 'KSR_ERR_DB_URL',
  /** The database cannot be opened or reached (SQLite file, PostgreSQL host:port/db). */
  DB_CONNECT: 'KSR_ERR_DB_CONNECT',
  /** A database query did not answer in time (PostgreSQL worker). */
  DB_TIMEOUT: 'KSR_ERR_DB_TIMEOUT',
  /** A database query failed (SQL error, constraint, bad table or column name). */
  DB_QUERY: 'KSR_ERR_DB_QUERY',
  /** An RPC command failed or got bad params (RpcError, carries Kamailio's fault code). */
  RPC: 'KSR_ERR_RPC',
  /** Two RPC commands with the same name (two modules, or a module and core): a startup error. */
  RPC_DUPLICATE: 'KSR_ERR_RPC_DUPLICATE',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export class KsrError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KsrError';
    this.code = code;
  }
}

/** A position in a config file, for messages of the form `file:line: text`. */
export interface SourceLocation {
  file: string;
  line: number;
}

export function formatLocation(loc: SourceLocation): string {
  return `${loc.file}:${loc.line}`;
}

/** Config errors always name file:line, so an operator can jump to the mistake. */
export class ConfigError extends KsrError {
  readonly location: SourceLocation | undefined;
  readonly reason: string;
  constructor(reason: string, location?: SourceLocation, options?: { cause?: unknown }) {
    super(ErrorCodes.CONFIG, location ? `${formatLocation(location)}: ${reason}` : reason, options);
    this.name = 'ConfigError';
    this.reason = reason;
    this.location = location;
  }
}
