/**
 * jsonrpcs: JSON-RPC 2.0 control interface (Kamailio's jsonrpcs module), over HTTP
 * (POST /RPC, plus GET /metrics for Prometheus) and over a Unix stream socket.
 *
 * The module opens its listeners when it is created (so a port in use or a missing token stops
 * the start-up); the server wires the command table in once every module and the routing engine
 * are loaded (`api.attach`). Requests that arrive before get a 503 error.
 */
import type { Server as HttpServer } from 'node:http';
import type { Server as NetServer } from 'node:net';
import { defineModule, intInRange, type RpcDispatcher } from '@ksr/core';
import { listenerProblem, parseHttpListen } from './access.js';
import { Metrics } from './metrics.js';
import { closeUnixSocket, startHttp, startUnixSocket } from './server.js';

/** Default Unix socket path (modparam "socket"); `ksr ctl` uses the same default. */
export const DEFAULT_RPC_SOCKET = '/tmp/ksr_rpc.sock';
/** Default HTTP listener (modparam "http_listen"). */
export const DEFAULT_HTTP_LISTEN = '127.0.0.1:5080';

export interface JsonrpcsApi {
  /** Give the module the command table (the server calls it once everything is loaded). */
  attach(rpc: RpcDispatcher): void;
  /** Record one route run for the route-time histogram (seconds). No-op when metrics are off. */
  observeRoute(route: string, engine: string, seconds: number): void;
  /** Where the module listens: the HTTP address/port (the real port when 0 was asked) and the socket path. */
  readonly http: { address: string; port: number } | undefined;
  readonly socket: string | undefined;
}

const checkListen = (v: string | number): string | undefined => {
  if (String(v).trim() === '') return undefined;
  try {
    parseHttpListen(String(v));
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
};

export const jsonrpcsModule = defineModule({
  name: 'jsonrpcs',
  kemiName: null,
  params: {
    /** 0 all (HTTP + Unix socket), 1 HTTP only, 2 FIFO (not supported), 3 Unix socket only (Kamailio's DATAGRAM). */
    transport: { type: 'int', check: intInRange(0, 3) },
    /** Unix stream socket path ("" = off). `dgram_socket` (Kamailio's name) means the same. */
    socket: { type: 'str' },
    dgram_socket: { type: 'str' },
    /** Permissions of the socket file (default 0660, as Kamailio's dgram_mode). */
    socket_mode: { type: 'int', check: intInRange(0, 0o777) },
    /** "address:port" of the HTTP listener ("" = off); default 127.0.0.1:5080. */
    http_listen: { type: 'str', check: checkListen },
    /** Shared secret every HTTP request must carry; required for a non-loopback http_listen. */
    token: { type: 'str' },
    /** Indented JSON replies over HTTP (Kamailio's pretty_format). */
    pretty_format: { type: 'int', check: intInRange(0, 1) },
    /** Serve GET /metrics (default 1). */
    metrics: { type: 'int', check: intInRange(0, 1) },
    /** Metric name prefix: "ksr" (default) or "kamailio" for xhttp_prom-style names. */
    metrics_prefix: { type: 'str', check: (v) => (/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(String(v)) ? undefined : 'expected a Prometheus name prefix ([a-zA-Z_][a-zA-Z0-9_]*)') },
    /** Which statistic groups to expose: "all" (default) or a list (xhttp_prom_stats). */
    metrics_stats: { type: 'str' },
    /** Expose Node's process metrics (heap, event loop lag, GC …) too (default 1). */
    metrics_process: { type: 'int', check: intInRange(0, 1) },
  },
  async create(ctx) {
    const p = ctx.params;
    const transport = p.int('transport', 0);
    if (transport === 2) throw new Error('transport 2 (FIFO) is not supported by ksr: use 0 (all), 1 (HTTP) or 3 (Unix socket)');
    const token = p.str('token', '');
    const httpText = transport === 3 ? '' : p.str('http_listen', DEFAULT_HTTP_LISTEN).trim();
    const socketPath = transport === 1 ? '' : (p.has('socket') ? p.str('socket', '') : p.str('dgram_socket', DEFAULT_RPC_SOCKET)).trim();
    const httpAt = httpText === '' ? undefined : parseHttpListen(httpText);
    if (httpAt) {
      const problem = listenerProblem(httpAt.address, token);
      if (problem) throw new Error(problem);
    }
    const prefix = p.str('metrics_prefix', 'ksr');
    const metrics =
      httpAt && p.int('metrics', 1) === 1
        ? new Metrics(ctx.stats, { prefix, groups: p.str('metrics_stats', 'all'), processMetrics: p.int('metrics_process', 1) === 1 })
        : undefined;
    let dispatcher: RpcDispatcher | undefined;
    const src = { dispatcher: () => dispatcher, pretty: p.int('pretty_format', 0) === 1 };
    let http: HttpServer | undefined;
    let sock: NetServer | undefined;
    let httpBound: { address: string; port: number } | undefined;
    try {
      if (httpAt) {
        http = await startHttp(src, { ...httpAt, token, metrics, logger: ctx.logger });
        const a = http.address();
        httpBound = a && typeof a === 'object' ? { address: a.address, port: a.port } : httpAt;
        ctx.logger.info(`JSON-RPC over HTTP on http://${httpBound.address.includes(':') ? `[${httpBound.address}]` : httpBound.address}:${httpBound.port}/RPC${metrics ? ' (metrics on /metrics)' : ''}`);
      }
      if (socketPath !== '') {
        sock = await startUnixSocket(src, socketPath, p.int('socket_mode', 0o660), ctx.logger);
        ctx.logger.info(`JSON-RPC on the Unix socket ${socketPath}`);
      }
    } catch (err) {
      http?.close();
      sock?.close();
      throw err;
    }
    if (!http && !sock) ctx.logger.warn('jsonrpcs: no transport is enabled (http_listen and socket are both empty)');
    const api: JsonrpcsApi = {
      attach(rpc) {
        dispatcher = rpc;
      },
      observeRoute(route, engine, seconds) {
        metrics?.observeRoute(route, engine, seconds);
      },
      http: httpBound,
      socket: sock ? socketPath : undefined,
    };
    return {
      api,
      async destroy() {
        const closing: Array<Promise<void>> = [];
        if (http) {
          const h = http;
          closing.push(new Promise<void>((resolve) => h.close(() => resolve())));
          h.closeAllConnections();
        }
        if (sock) closing.push(closeUnixSocket(sock));
        await Promise.all(closing);
        metrics?.destroy();
      },
    };
  },
});
