/**
 * The RPC command table of one server: every loaded module's `ModuleInstance.rpc`, plus the
 * commands the server and the engines add (core.*, stats.*, app_lua.* …). Transports (the
 * jsonrpcs module) only see `RpcDispatcher`.
 */
import { ErrorCodes, KsrError } from '../errors.js';
import { RpcError, type RpcCommand } from './index.js';

/** What a transport needs: the method names, their help, and a way to call one. */
export interface RpcDispatcher {
  /** Every command name, sorted (system.listMethods). */
  names(): string[];
  /** The one-line doc of a command; undefined when there is no such command. */
  help(name: string): string | undefined;
  has(name: string): boolean;
  /**
   * Run a command. Rejects with RpcError: 404 for an unknown command (transports map it to
   * JSON-RPC -32601), the handler's own RpcError, or 500 for any other failure.
   */
  call(name: string, params: readonly unknown[]): Promise<unknown>;
}

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$/;

export class RpcRegistry implements RpcDispatcher {
  private readonly commands = new Map<string, { cmd: RpcCommand; owner: string }>();

  /**
   * Add commands on behalf of `owner` (a module name, "core", an engine module). A name already
   * taken is a startup error (KSR_ERR_RPC_DUPLICATE naming both owners).
   */
  add(owner: string, commands: readonly RpcCommand[]): this {
    for (const cmd of commands) {
      if (!NAME_RE.test(cmd.name)) throw new KsrError(ErrorCodes.RPC, `${owner}: RPC command name "${cmd.name}" is not of the form group.command`);
      const prev = this.commands.get(cmd.name);
      if (prev) {
        throw new KsrError(ErrorCodes.RPC_DUPLICATE, `RPC command ${cmd.name} is registered twice (by ${prev.owner} and by ${owner})`);
      }
      this.commands.set(cmd.name, { cmd, owner });
    }
    return this;
  }

  names(): string[] {
    return [...this.commands.keys()].sort();
  }

  help(name: string): string | undefined {
    return this.commands.get(name)?.cmd.doc;
  }

  has(name: string): boolean {
    return this.commands.has(name);
  }

  /** Who registered a command (a module name, "core" …). */
  owner(name: string): string | undefined {
    return this.commands.get(name)?.owner;
  }

  async call(name: string, params: readonly unknown[]): Promise<unknown> {
    const entry = this.commands.get(name);
    if (!entry) throw new RpcError(404, `command ${name} not found`);
    try {
      return await entry.cmd.handler(params);
    } catch (err) {
      if (err instanceof RpcError) throw err;
      throw new RpcError(500, `${name} failed: ${(err as Error)?.message ?? String(err)}`);
    }
  }
}

/** Parameter helpers for handlers: positional params as JSON values, Kamailio's 400 on a mistake. */
export const rpcParams = {
  str(params: readonly unknown[], i: number, what: string): string {
    const v = params[i];
    if (typeof v === 'string') return v;
    if (typeof v === 'number' && Number.isFinite(v)) return String(v);
    throw new RpcError(400, v === undefined ? `missing parameter ${i + 1} (${what})` : `parameter ${i + 1} (${what}) must be a string`);
  },
  optStr(params: readonly unknown[], i: number, what: string): string | undefined {
    return params[i] === undefined || params[i] === null ? undefined : rpcParams.str(params, i, what);
  },
  int(params: readonly unknown[], i: number, what: string): number {
    const v = params[i];
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^[+-]?\d+$/.test(v.trim()) ? Number(v) : NaN;
    if (Number.isSafeInteger(n)) return n;
    throw new RpcError(400, v === undefined ? `missing parameter ${i + 1} (${what})` : `parameter ${i + 1} (${what}) must be an integer`);
  },
  optInt(params: readonly unknown[], i: number, what: string): number | undefined {
    return params[i] === undefined || params[i] === null ? undefined : rpcParams.int(params, i, what);
  },
  /** At most `max` params. */
  max(params: readonly unknown[], max: number): void {
    if (params.length > max) throw new RpcError(400, `too many parameters (at most ${max})`);
  },
};
