/** sl.stats (Kamailio's sl RPC): the stateless reply counters by code and class. */
import type { RpcCommand, StatsRegistry } from '@ksr/core';

const KEYS = ['200', '202', '2xx', '300', '301', '302', '3xx', '400', '401', '403', '404', '407', '408', '483', '4xx', '500', '5xx', '6xx', 'xxx'] as const;

export function slRpc(stats: StatsRegistry): RpcCommand[] {
  return [
    {
      name: 'sl.stats',
      doc: 'Replies sent by sl, per code and class',
      handler() {
        const out: Record<string, number> = {};
        for (const k of KEYS) out[k] = stats.counter('sl', `${k}_replies`).value;
        return out;
      },
    },
  ];
}
