/**
 * htable's RPC commands (Kamailio's htable.* names and result shapes): get, sets, seti, setex,
 * delete, dump, flush, stats, listTables.
 */
import { RpcError, rpcParams, type RpcCommand, type ScriptValue } from '@ksr/core';
import type { HtableApi } from './api.js';

function typeOf(v: ScriptValue | null): 'int' | 'str' {
  return typeof v === 'number' ? 'int' : 'str';
}

export function htableRpc(api: HtableApi): RpcCommand[] {
  const table = (params: readonly unknown[]): string => {
    const name = rpcParams.str(params, 0, 'htable name');
    if (!api.hasTable(name)) throw new RpcError(500, `No such htable: ${name}`);
    return name;
  };
  return [
    {
      name: 'htable.get',
      doc: 'Get one key from a hash table: htable.get htable key',
      handler(params) {
        const t = table(params);
        const key = rpcParams.str(params, 1, 'key name');
        const item = api.item(t, key);
        if (!item) throw new RpcError(404, "Key name doesn't exist in htable.");
        return { item: { name: item.name, value: item.value } };
      },
    },
    {
      name: 'htable.sets',
      doc: 'Set a key to a string value: htable.sets htable key value',
      handler(params) {
        const t = table(params);
        api.sets(t, rpcParams.str(params, 1, 'key name'), rpcParams.str(params, 2, 'value'));
        return null;
      },
    },
    {
      name: 'htable.seti',
      doc: 'Set a key to an integer value: htable.seti htable key value',
      handler(params) {
        const t = table(params);
        api.seti(t, rpcParams.str(params, 1, 'key name'), rpcParams.int(params, 2, 'value'));
        return null;
      },
    },
    {
      name: 'htable.setex',
      doc: 'Set the expire time of a key: htable.setex htable key seconds',
      handler(params) {
        const t = table(params);
        const key = rpcParams.str(params, 1, 'key name');
        if (!api.setex(t, key, rpcParams.int(params, 2, 'expire'))) throw new RpcError(500, 'Failed to set expire');
        return null;
      },
    },
    {
      name: 'htable.delete',
      doc: 'Delete a key from a hash table: htable.delete htable key',
      handler(params) {
        const t = table(params);
        api.delete(t, rpcParams.str(params, 1, 'key name'));
        return null;
      },
    },
    {
      name: 'htable.dump',
      doc: 'Dump the content of a hash table: htable.dump htable',
      handler(params) {
        const t = table(params);
        const items = api.dump(t) ?? [];
        // ksr's tables are not bucketed: one entry holds every item
        return items.length === 0 ? [] : [{ entry: 0, size: items.length, slot: items.map((i) => ({ name: i.name, value: i.value, type: typeOf(i.value) })) }];
      },
    },
    {
      name: 'htable.flush',
      doc: 'Remove every item of a hash table: htable.flush htable',
      handler(params) {
        api.flush(table(params));
        return null;
      },
    },
    {
      name: 'htable.stats',
      doc: 'Item counts of every hash table',
      handler() {
        const sizes = new Map(api.tables().map((t) => [t.name, t.size]));
        return api.stats().map((s) => ({ name: s.name, slots: sizes.get(s.name) ?? 0, all: s.items, min: s.items, max: s.items }));
      },
    },
    {
      name: 'htable.listTables',
      doc: 'The defined hash tables and their attributes',
      handler() {
        return api.tables().map((t) => ({
          name: t.name,
          dbtable: t.dbtable ?? '',
          dbmode: t.dbmode,
          expire: t.autoexpire,
          updateexpire: t.updateexpire ? 1 : 0,
          size: t.size,
          dmqreplicate: t.dmqreplicate ? 1 : 0,
        }));
      },
    },
  ];
}
