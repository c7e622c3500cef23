import { silentLogger } from '../log.js';
import { MemorySharedVars, type RouteServices } from './context.js';

/**
 * Route services with no server behind them: for tools that run KSR functions outside a serving
 * process (docs generation, benchmarks, engine and module tests). Replies are recorded and
 * reported as sent, sends are dropped, "myself" is 127.0.0.1 and ksr.test unless `myself` says
 * otherwise; anything can be overridden.
 */
export function detachedServices(
  overrides: Partial<RouteServices> & { myselfHosts?: readonly string[] } = {},
): RouteServices & { replies: Array<{ status: number; reason: string }> } {
  const replies: Array<{ status: number; reason: string }> = [];
  const hosts = new Set((overrides.myselfHosts ?? ['127.0.0.1', 'ksr.test']).map((h) => h.toLowerCase()));
  const { myselfHosts: _hosts, ...rest } = overrides;
  return {
    logger: silentLogger,
    myself: { isMyself: (host: string) => hosts.has(host.toLowerCase().replace(/^\[|\]$/g, '')) },
    defines: new Map(),
    debugLevel: () => 2,
    vars: new Map(),
    shv: new MemorySharedVars(),
    reply: async (_ctx, status, reason) => {
      replies.push({ status, reason });
      return true;
    },
    send: async () => {},
    localAddress: () => ({ host: '127.0.0.1', port: 5060 }),
    sockets: () => [],
    setDebugLevel: () => {},
    ...rest,
    replies,
  };
}
