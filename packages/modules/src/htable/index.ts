/**
 * htable: named in-memory hash tables for the routing script (Kamailio's htable module).
 *
 *   modparam("htable", "htable", "ipban=>size=8;autoexpire=300;")
 *   KSR.htable.sht_seti("ipban", KSR.kx.get_srcip(), 1)   /   $sht(ipban=>$si)
 *
 * Tables are defined by the repeatable `htable` modparam (spec.ts), stored behind HtableStore
 * (store.ts; in memory by default), expired by a timer on ctx.clock every `timer_interval`
 * seconds (and lazily on every read). KEMI exports: KSR.htable.sht_*; pseudo-variables: $sht &
 * co (pv.ts); API for other modules and the RPC layer: HtableApi (api.ts). See README.md.
 */
import { defineModule, getterVariants, type KemiExportDef, type KsrModuleDef, type ModuleContext, type RouteContext, type ScriptValue } from '@ksr/core';
import type { HtableApi, HtableItem } from './api.js';
import { registerHtablePvs, type ExpiredRecord } from './pv.js';
import { htableRpc } from './rpc.js';
import { parseHtableSpec } from './spec.js';
import { MemoryHtableStore, type HtableStore } from './store.js';
import { Htables, MATCH_OPS, RM_OPS, matcher, type Htable, type MatchTarget } from './tables.js';

export type { HtableApi, HtableInfo, HtableItem, HtableStats } from './api.js';
export type { HtableStore, HtableTableStore, HtableCell } from './store.js';
export { MemoryHtableStore } from './store.js';
export { parseHtableSpec, type HtableSpec } from './spec.js';

type Def = KemiExportDef<RouteContext>;

/** sht_inc / sht_dec when the item cannot be incremented (Kamailio's KSR_HT_KEMI_NOINTVAL). */
export const HT_NOINTVAL = -255;

const checkSpec = (v: string | number): string | undefined => {
  try {
    parseHtableSpec(String(v));
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
};

const positive = (v: string | number): string | undefined => (Number(v) > 0 ? undefined : 'must be greater than 0');

function buildExports(tables: Htables): Def[] {
  const table = (ctx: RouteContext, fn: string, name: string): Htable | undefined => {
    const t = tables.get(name);
    if (!t) ctx.logger.error({ mod: 'htable' }, `KSR.htable.${fn}: no such htable ${JSON.stringify(name)}`);
    return t;
  };
  const fail = (ctx: RouteContext, fn: string, why: string): number => {
    ctx.logger.error({ mod: 'htable' }, `KSR.htable.${fn}: ${why}`);
    return -1;
  };

  const rmBy = (fn: string, target: MatchTarget): Def => ({
    name: fn,
    returns: 'int',
    params: ['str', 'str', 'str'],
    paramNames: ['sname', 'sop', 'sval'],
    doc: `Remove the items whose ${target === 'name' ? 'name' : 'string value'} matches sval with sop (re, sw, ew, in)`,
    fn: (ctx: RouteContext, name: string, op: string, val: string) => {
      const t = table(ctx, fn, name);
      if (!t) return -1;
      if (val === '') return fail(ctx, fn, 'empty match value');
      try {
        tables.removeWhere(t, target, matcher(op, val, RM_OPS));
      } catch (e) {
        return fail(ctx, fn, (e as Error).message);
      }
      return 1;
    },
  });

  const rmRe = (fn: string, target: MatchTarget): Def => ({
    name: fn,
    returns: 'int',
    params: ['str', 'str'],
    paramNames: ['htname', 'rexp'],
    doc: `Remove the items whose ${target === 'name' ? 'name' : 'string value'} matches the regular expression (case-insensitive)`,
    fn: (ctx: RouteContext, name: string, re: string) => {
      const t = table(ctx, fn, name);
      if (!t) return -1;
      if (re === '') return fail(ctx, fn, 'empty regular expression');
      try {
        tables.removeWhere(t, target, matcher('re', re, ['re']));
      } catch (e) {
        return fail(ctx, fn, (e as Error).message);
      }
      return 1;
    },
  });

  const matchBy = (fn: string, target: MatchTarget): Def => ({
    name: fn,
    returns: 'int',
    params: ['str', 'str', 'str'],
    paramNames: ['sname', 'sop', 'sval'],
    doc: `1 when an item's ${target === 'name' ? 'name' : 'string value'} matches sval with sop (eq, ne, re, sw), else -1`,
    fn: (ctx: RouteContext, name: string, op: string, val: string) => {
      const t = table(ctx, fn, name);
      if (!t) return -1;
      if (val === '') return fail(ctx, fn, 'empty match value');
      try {
        return tables.some(t, target, matcher(op, val, MATCH_OPS)) ? 1 : -1;
      } catch (e) {
        return fail(ctx, fn, (e as Error).message);
      }
    },
  });

  const setter = (fn: string, params: Def['params'], paramNames: string[], doc: string, withEx: boolean): Def => ({
    name: fn,
    returns: 'int',
    params,
    paramNames,
    doc,
    fn: (ctx: RouteContext, name: string, key: string, value: ScriptValue, ex?: number) => {
      const t = table(ctx, fn, name);
      if (!t) return -1;
      tables.set(t, key, value, withEx ? Math.max(0, ex ?? 0) : 0);
      return 1;
    },
  });

  const addOp = (fn: string, delta: number): Def => ({
    name: fn,
    returns: 'int',
    params: ['str', 'str'],
    paramNames: ['htname', 'itname'],
    doc: `${delta > 0 ? 'Increment' : 'Decrement'} an integer item and return the new value (${HT_NOINTVAL} when the table or the integer item does not exist)`,
    fn: (ctx: RouteContext, name: string, key: string) => {
      const t = tables.get(name);
      if (!t) return HT_NOINTVAL;
      return tables.add(t, key, delta) ?? HT_NOINTVAL;
    },
  });

  const iter = (fn: string, params: Def['params'], paramNames: string[], doc: string, op: (name: string, arg: string | number) => void): Def => ({
    name: fn,
    returns: 'int',
    params,
    paramNames,
    doc,
    fn: (ctx: RouteContext, name: string, arg: string | number) => {
      try {
        op(name, arg);
        return 1;
      } catch (e) {
        return fail(ctx, fn, (e as Error).message);
      }
    },
  });

  return [
    ...getterVariants<RouteContext>(
      { null: 'sht_get', empty: 'sht_gete', print: 'sht_getw' },
      ['str', 'str'],
      (ctx: RouteContext, name: string, key: string) => {
        const t = table(ctx, 'sht_get', name);
        return t ? tables.value(t, key) : null;
      },
      'Value of the item (the table initval when absent)',
      ['htname', 'itname'],
    ),
    setter('sht_sets', ['str', 'str', 'str'], ['htname', 'itname', 'itval'], 'Set the item to a string', false),
    setter('sht_seti', ['str', 'str', 'int'], ['htname', 'itname', 'itval'], 'Set the item to an integer', false),
    setter('sht_setxs', ['str', 'str', 'str', 'int'], ['htname', 'itname', 'itval', 'exval'], 'Set the item to a string that expires after exval seconds (0: the table rules)', true),
    setter('sht_setxi', ['str', 'str', 'int', 'int'], ['htname', 'itname', 'itval', 'exval'], 'Set the item to an integer that expires after exval seconds (0: the table rules)', true),
    {
      name: 'sht_setex',
      returns: 'int',
      params: ['str', 'str', 'int'],
      paramNames: ['htname', 'itname', 'itval'],
      doc: 'Set the item to expire after itval seconds (0: never)',
      fn: (ctx: RouteContext, name: string, key: string, ex: number) => {
        const t = table(ctx, 'sht_setex', name);
        if (!t) return -1;
        tables.setExpire(t, key, Math.max(0, ex));
        return 1;
      },
    },
    {
      name: 'sht_rm',
      returns: 'int',
      params: ['str', 'str'],
      paramNames: ['hname', 'iname'],
      doc: 'Remove the item ($sht(t=>k) = $null)',
      fn: (ctx: RouteContext, name: string, key: string) => {
        const t = table(ctx, 'sht_rm', name);
        if (!t) return -1;
        tables.delete(t, key);
        return 1;
      },
    },
    rmRe('sht_rm_name_re', 'name'),
    rmRe('sht_rm_value_re', 'value'),
    rmBy('sht_rm_name', 'name'),
    rmBy('sht_rm_value', 'value'),
    {
      name: 'sht_is_null',
      returns: 'int',
      params: ['str', 'str'],
      paramNames: ['htname', 'itname'],
      doc: '1 when the item does not exist, -1 when it does, 2 when the table does not exist',
      fn: (_ctx: RouteContext, name: string, key: string) => {
        const t = tables.get(name);
        if (!t) return 2;
        return tables.cell(t, key) ? -1 : 1;
      },
    },
    addOp('sht_inc', 1),
    addOp('sht_dec', -1),
    matchBy('sht_match_name', 'name'),
    matchBy('sht_match_str_value', 'value'),
    // the cfg-script names of the same functions (Kamailio exports them to KEMI as sht_match_*)
    matchBy('sht_has_name', 'name'),
    matchBy('sht_has_str_value', 'value'),
    {
      name: 'sht_reset',
      returns: 'int',
      params: ['str'],
      paramNames: ['hname'],
      doc: 'Remove every item of the table',
      fn: (ctx: RouteContext, name: string) => {
        const t = table(ctx, 'sht_reset', name);
        if (!t) return -1;
        tables.reset(t);
        return 1;
      },
    },
    ...(['sht_lock', 'sht_unlock'] as const).map(
      (fn): Def => ({
        name: fn,
        returns: 'int',
        params: ['str', 'str'],
        paramNames: ['htname', 'skey'],
        doc: 'Accepted for compatibility: a worker runs one route at a time, so items need no lock (1 when the table exists)',
        fn: (ctx: RouteContext, name: string) => (table(ctx, fn, name) ? 1 : -1),
      }),
    ),
    iter('sht_iterator_start', ['str', 'str'], ['iname', 'hname'], 'Start the iterator iname over table hname (at most 4 iterators)', (name, hname) => {
      const t = tables.get(String(hname));
      if (!t) throw new Error(`no such htable ${JSON.stringify(hname)}`);
      tables.iteratorStart(name, t);
    }),
    {
      name: 'sht_iterator_next',
      returns: 'int',
      params: ['str'],
      paramNames: ['iname'],
      doc: 'Move the iterator to the next item: 1, or -1 when there is none ($shtitkey(iname), $shtitval(iname))',
      fn: (ctx: RouteContext, name: string) => {
        try {
          return tables.iteratorNext(name) ? 1 : -1;
        } catch (e) {
          return fail(ctx, 'sht_iterator_next', (e as Error).message);
        }
      },
    },
    iter('sht_iterator_end', ['str'], ['iname'], 'Close the iterator', (name) => tables.iteratorEnd(name)),
    iter('sht_iterator_rm', ['str'], ['iname'], 'Remove the current item of the iterator', (name) => tables.iteratorRemove(name)),
    iter('sht_iterator_sets', ['str', 'str'], ['iname', 'sval'], 'Set the current item of the iterator to a string', (name, v) => {
      const { table: t, key } = tables.iteratorItem(name);
      tables.set(t, key, String(v));
    }),
    iter('sht_iterator_seti', ['str', 'int'], ['iname', 'ival'], 'Set the current item of the iterator to an integer', (name, v) => {
      const { table: t, key } = tables.iteratorItem(name);
      tables.set(t, key, Number(v));
    }),
    iter('sht_iterator_setex', ['str', 'int'], ['iname', 'exval'], 'Set the current item of the iterator to expire after exval seconds (0: never)', (name, v) => {
      const { table: t, key } = tables.iteratorItem(name);
      tables.setExpire(t, key, Math.max(0, Number(v)));
    }),
  ];
}

export interface HtableModuleOptions {
  /** The storage (default: in memory). */
  store?: () => HtableStore;
}

/** The htable module over a chosen store (tests, shared memory, …). */
export function createHtableModule(opts: HtableModuleOptions = {}): KsrModuleDef {
  return defineModule({
    name: 'htable',
    params: {
      htable: { type: 'str', multi: true, check: checkSpec },
      timer_interval: { type: 'int', check: positive },
      event_callback: { type: 'str' },
      event_callback_mode: { type: 'int' },
      // database loading, DMQ replication and timer processes: accepted, without effect
      db_url: { type: 'str' },
      key_name_column: { type: 'str' },
      key_type_column: { type: 'str' },
      value_type_column: { type: 'str' },
      key_value_column: { type: 'str' },
      expires_column: { type: 'str' },
      array_size_suffix: { type: 'str' },
      fetch_rows: { type: 'int' },
      db_expires: { type: 'int' },
      enable_dmq: { type: 'int' },
      dmq_init_sync: { type: 'int' },
      timer_procs: { type: 'int' },
    },
    create(ctx: ModuleContext) {
      const specs = ctx.params.all('htable').map((v) => parseHtableSpec(String(v)));
      for (const p of ['db_url', 'enable_dmq']) {
        if (ctx.params.has(p)) ctx.logger.warn(`modparam ${p}: ksr's htable has no database loading or DMQ replication; ignored`);
      }
      for (const s of specs) {
        if (s.dbtable !== undefined) ctx.logger.warn(`htable ${s.name}: dbtable=${s.dbtable} is ignored (no database loading)`);
        if (s.dmqreplicate) ctx.logger.warn(`htable ${s.name}: dmqreplicate is ignored (no DMQ replication)`);
      }
      const tables = new Htables(specs, opts.store ? opts.store() : new MemoryHtableStore(), ctx.clock);

      let expiring: ExpiredRecord | undefined;
      const listeners = new Set<(table: string, key: string, value: ScriptValue) => void>();
      registerHtablePvs(ctx.pv, tables, () => expiring);

      // htable:expired:<table> runs the event_callback function for every item the timer expires
      const callback = ctx.params.str('event_callback', '');
      if (callback !== '' && ctx.events) {
        const ev = ctx.events;
        listeners.add((table) => {
          ev.run(callback, `htable:expired:${table}`);
        });
      }
      const sweep = (): void => {
        const gone = tables.sweep();
        if (listeners.size === 0) return;
        for (const item of gone) {
          expiring = { key: item.key, value: item.value };
          for (const l of listeners) {
            try {
              l(item.table, item.key, item.value);
            } catch (err) {
              ctx.logger.error({ err }, `htable: expiry listener failed for ${item.table}=>${item.key}`);
            }
          }
          expiring = undefined;
        }
      };
      const timer = ctx.clock.every(ctx.params.int('timer_interval', 20) * 1000, sweep);

      const events = callback !== '' ? [{ name: 'htable:mod-init', callback }] : [];

      const itemOf = (t: Htable, key: string): HtableItem | undefined => {
        const c = tables.cell(t, key);
        return c ? { name: key, value: c.value, expires: tables.expiresIn(t, key) } : undefined;
      };
      const api: HtableApi = {
        tables: () =>
          tables.list().map(({ spec: s }) => ({
            name: s.name,
            autoexpire: s.autoexpire,
            initval: s.initval ?? null,
            updateexpire: s.updateexpire,
            size: s.size,
            dbtable: s.dbtable ?? null,
            dbmode: s.dbmode,
            dmqreplicate: s.dmqreplicate,
          })),
        hasTable: (name) => tables.get(name) !== undefined,
        get(name, key) {
          const t = tables.get(name);
          return t ? tables.value(t, key) : undefined;
        },
        item(name, key) {
          const t = tables.get(name);
          return t ? itemOf(t, key) : undefined;
        },
        set(name, key, value, exSec = 0) {
          const t = tables.get(name);
          if (!t || (typeof value !== 'string' && !Number.isSafeInteger(value))) return false;
          tables.set(t, key, value, Math.max(0, exSec));
          return true;
        },
        sets: (name, key, value) => api.set(name, key, String(value)),
        seti: (name, key, value) => api.set(name, key, value),
        setex(name, key, exSec) {
          const t = tables.get(name);
          return t ? tables.setExpire(t, key, Math.max(0, exSec)) : false;
        },
        delete(name, key) {
          const t = tables.get(name);
          return t ? tables.delete(t, key) : false;
        },
        add(name, key, delta) {
          const t = tables.get(name);
          return t ? tables.add(t, key, delta) : null;
        },
        dump(name) {
          const t = tables.get(name);
          if (!t) return undefined;
          const out: HtableItem[] = [];
          for (const [key] of tables.items(t)) {
            const it = itemOf(t, key);
            if (it) out.push(it);
          }
          return out;
        },
        flush(name) {
          const t = tables.get(name);
          return t ? tables.reset(t) : undefined;
        },
        stats: () => tables.list().map((t) => ({ name: t.spec.name, items: tables.liveSize(t) })),
        onExpired(listener) {
          listeners.add(listener);
          return () => listeners.delete(listener);
        },
        events,
      };

      return {
        exports: buildExports(tables),
        api,
        rpc: htableRpc(api),
        startupEvents: events.map((e) => ({ event: e.name, callback: e.callback })),
        destroy() {
          timer.cancel();
        },
      };
    },
  });
}

export const htableModule: KsrModuleDef = createHtableModule();
