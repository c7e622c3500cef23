/**
 * RPC commands (Kamailio's RPC interface, reached over JSON-RPC by the jsonrpcs module and by
 * `ksr ctl`). Modules contribute commands through `ModuleInstance.rpc`; the server and the
 * engines add their own (core.*, app_lua.*). Names follow Kamailio: "<group>.<command>".
 */

import { ErrorCodes } from '../errors.js';

/** One command: `handler` gets the positional params as received (JSON values). */
export interface RpcCommand {
  /** "ul.dump", "core.uptime" … */
  readonly name: string;
  /** One line for system.methodHelp. */
  readonly doc: string;
  /** Throw RpcError for bad params or a failed command; any other throw is a 500. */
  handler(params: readonly unknown[]): unknown;
}

/** A failed command with Kamailio's RPC fault code (400 bad params, 404 not found, 500 failure …). */
export class RpcError extends Error {
  readonly code = ErrorCodes.RPC;
  constructor(
    readonly rpcCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'RpcError';
  }
}

export { RpcRegistry, rpcParams, type RpcDispatcher } from './registry.js';
