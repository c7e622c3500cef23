/**
 * JSON-RPC 2.0 over any transport: one request text in, one response text out (or nothing for a
 * notification). Positional params only, as Kamailio's jsonrpcs. Error codes: the JSON-RPC ones
 * for protocol mistakes (-32700 parse error, -32600 invalid request, -32601 method not found,
 * -32602 params not an array) and the command's own Kamailio fault code otherwise (400 bad
 * params, 404 not found, 500 failure …), as Kamailio's jsonrpcs sends them.
 */
import { RpcError, type RpcDispatcher } from '@ksr/core';

export const JSONRPC_PARSE_ERROR = -32700;
export const JSONRPC_INVALID_REQUEST = -32600;
export const JSONRPC_METHOD_NOT_FOUND = -32601;
export const JSONRPC_INVALID_PARAMS = -32602;
export const JSONRPC_INTERNAL = -32603;

type Id = string | number | null;

export interface JsonRpcResponse {
  jsonrpc: '2.0';
  id: Id;
  result?: unknown;
  error?: { code: number; message: string };
}

function errorResponse(id: Id, code: number, message: string): JsonRpcResponse {
  return { jsonrpc: '2.0', id, error: { code, message } };
}

/** Make handler results JSON-safe: bigint → number/string, undefined → null, Map → object. */
function jsonSafe(v: unknown, depth = 0): unknown {
  if (depth > 64) return null;
  if (v === undefined) return null;
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (v === null || typeof v !== 'object') return v;
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  if (Array.isArray(v)) return v.map((x) => jsonSafe(x, depth + 1));
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [String(k), jsonSafe(x, depth + 1)]));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = jsonSafe(x, depth + 1);
  return out;
}

function validId(id: unknown): id is Id {
  return id === null || typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id));
}

async function one(req: unknown, rpc: RpcDispatcher | undefined): Promise<JsonRpcResponse | undefined> {
  if (req === null || typeof req !== 'object' || Array.isArray(req)) return errorResponse(null, JSONRPC_INVALID_REQUEST, 'Invalid Request');
  const r = req as Record<string, unknown>;
  const hasId = Object.hasOwn(r, 'id');
  const id: Id = hasId && validId(r.id) ? r.id : null;
  if ((r.jsonrpc !== undefined && r.jsonrpc !== '2.0') || typeof r.method !== 'string' || r.method === '' || (hasId && !validId(r.id))) {
    return errorResponse(id, JSONRPC_INVALID_REQUEST, 'Invalid Request');
  }
  let params: readonly unknown[] = [];
  if (r.params !== undefined) {
    if (!Array.isArray(r.params)) return errorResponse(id, JSONRPC_INVALID_PARAMS, 'Invalid params: positional params (an array) expected');
    params = r.params;
  }
  let response: JsonRpcResponse;
  if (!rpc) {
    response = errorResponse(id, 503, 'the server is starting: RPC commands are not available yet');
  } else if (!rpc.has(r.method)) {
    response = errorResponse(id, JSONRPC_METHOD_NOT_FOUND, `Method not found: ${r.method}`);
  } else {
    try {
      response = { jsonrpc: '2.0', id, result: jsonSafe(await rpc.call(r.method, params)) };
    } catch (err) {
      response =
        err instanceof RpcError
          ? errorResponse(id, err.rpcCode, err.message)
          : errorResponse(id, JSONRPC_INTERNAL, `Internal error: ${(err as Error)?.message ?? String(err)}`);
    }
  }
  // a notification (no id member) gets no response
  return hasId ? response : undefined;
}

/**
 * Answer one JSON-RPC message (a request or a batch). Returns the response text, or undefined
 * when nothing is to be sent (notifications only).
 */
export async function handleJsonRpc(text: string, rpc: RpcDispatcher | undefined, pretty = false): Promise<string | undefined> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return JSON.stringify(errorResponse(null, JSONRPC_PARSE_ERROR, 'Parse error'));
  }
  const fmt = (v: unknown): string => (pretty ? JSON.stringify(v, null, 2) : JSON.stringify(v));
  if (Array.isArray(parsed)) {
    if (parsed.length === 0) return fmt(errorResponse(null, JSONRPC_INVALID_REQUEST, 'Invalid Request'));
    const out: JsonRpcResponse[] = [];
    // in order, one after the other: commands may change state (htable.sets then htable.get)
    for (const item of parsed) {
      const res = await one(item, rpc);
      if (res) out.push(res);
    }
    return out.length > 0 ? fmt(out) : undefined;
  }
  const res = await one(parsed, rpc);
  return res ? fmt(res) : undefined;
}
