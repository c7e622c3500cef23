/** pike.top (Kamailio's pike RPC): the tracked addresses, hottest first. */
import { RpcError, rpcParams, type RpcCommand } from '@ksr/core';
import type { PikeApi, PikeTopFilter } from './api.js';

export function pikeRpc(api: PikeApi): RpcCommand[] {
  return [
    {
      name: 'pike.top',
      doc: 'Tracked source addresses: pike.top [HOT|WARM|ALL] (default HOT)',
      handler(params) {
        rpcParams.max(params, 1);
        const f = (rpcParams.optStr(params, 0, 'filter') ?? 'HOT').toUpperCase();
        if (f !== 'HOT' && f !== 'WARM' && f !== 'ALL') throw new RpcError(400, `filter must be HOT, WARM or ALL, not ${f}`);
        return api.top(f as PikeTopFilter).map((e) => ({
          ip_addr: e.ip,
          leaf_hits_prev: e.hitsPrev,
          leaf_hits_curr: e.hitsCurr,
          expires: e.expires,
          status: e.status,
          blocked: e.blocked ? 1 : 0,
        }));
      },
    },
  ];
}
