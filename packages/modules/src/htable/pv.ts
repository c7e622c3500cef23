/**
 * The htable pseudo-variables:
 *
 *   $sht(t=>key)      RW  item value (initval or null when absent); `= $null` deletes
 *   $shtex(t=>key)    RW  seconds before the item expires (0 = never / absent); `= n` sets it
 *   $shtcn(t=>exp)        number of items whose name matches exp ($shtcv: string value)
 *   $shtinc(t=>key)       increment and read ($shtdec: decrement); null when not an integer
 *   $shtitkey(i)          key / value of iterator i's current item ($shtitval)
 *   $shtrecord(key|value) the item being expired, while expiry listeners run
 *
 * The table name is static; the key (or exp) may contain pseudo-variables, as in Kamailio:
 * `$sht(ipban=>$si)`, `$sht(a=>$au::auth_count)`. `$$` is a literal '$'.
 */
import { PvNameError, compilePvFormat, renderPvFormat, type PvAccessor, type PvFormat, type PvRegistry, type PvSpec, type PvValue, type RouteContext, type ScriptValue } from '@ksr/core';
import type { Htable, Htables } from './tables.js';

const TABLE_NAME = /^[^\s=$()]+$/;

/** `table=>keyformat` of $sht, $shtex, $shtcn, $shtcv, $shtinc, $shtdec. */
function parseTableKey(spec: PvSpec, compile: (name: string) => PvAccessor): { table: string; key: PvFormat } {
  const p = spec.param ?? '';
  const arrow = p.indexOf('=>');
  if (arrow === -1) throw new PvNameError(spec.text, `expected $${spec.cls}(table=>key)`);
  const table = p.slice(0, arrow).trim();
  if (!TABLE_NAME.test(table)) throw new PvNameError(spec.text, `bad table name ${JSON.stringify(table)}`);
  const keyText = p.slice(arrow + 2);
  if (keyText === '') throw new PvNameError(spec.text, 'empty key');
  return { table, key: compilePvFormat(spec, keyText, compile, 'key') };
}

/** A value for storing: integers stay numbers (fractions truncated), the rest strings. */
function storable(v: PvValue): ScriptValue | null {
  if (v === null) return null;
  if (typeof v === 'number') return Number.isFinite(v) ? Math.trunc(v) : String(v);
  return v;
}

function intOf(v: PvValue): number {
  if (typeof v === 'number') return Number.isFinite(v) ? Math.trunc(v) : 0;
  if (typeof v === 'string' && /^\s*[+-]?\d+\s*$/.test(v)) return Number(v.trim());
  return 0;
}

export interface ExpiredRecord {
  key: string;
  value: ScriptValue;
}

/** Register the classes on a registry (replacing those of an earlier instance). */
export function registerHtablePvs(reg: PvRegistry, tables: Htables, expiring: () => ExpiredRecord | undefined): void {
  const err = (ctx: RouteContext, name: string, why: string): void => ctx.logger.error({ mod: 'htable' }, `${name}: ${why}`);
  const tableOf = (ctx: RouteContext, spec: PvSpec, name: string, quiet = false): Htable | undefined => {
    const t = tables.get(name);
    if (!t && !quiet) err(ctx, spec.text, `no such htable ${JSON.stringify(name)}`);
    return t;
  };
  const opts = { param: 'required' as const, replace: true };

  reg.register(
    'sht',
    (spec, compile) => {
      const { table, key } = parseTableKey(spec, compile);
      return {
        name: spec.text,
        get(ctx) {
          const t = tableOf(ctx, spec, table, true);
          return t ? tables.value(t, renderPvFormat(ctx, key)) : null;
        },
        set(ctx, v) {
          const t = tableOf(ctx, spec, table);
          if (!t) return false;
          const k = renderPvFormat(ctx, key);
          const val = storable(v);
          if (val === null) tables.delete(t, k);
          else tables.set(t, k, val);
          return true;
        },
      };
    },
    opts,
  );

  reg.register(
    'shtex',
    (spec, compile) => {
      const { table, key } = parseTableKey(spec, compile);
      return {
        name: spec.text,
        get(ctx) {
          const t = tableOf(ctx, spec, table, true);
          return t ? tables.expiresIn(t, renderPvFormat(ctx, key)) : null;
        },
        set(ctx, v) {
          const t = tableOf(ctx, spec, table);
          if (!t) return false;
          tables.setExpire(t, renderPvFormat(ctx, key), Math.max(0, intOf(v)));
          return true;
        },
      };
    },
    opts,
  );

  for (const [cls, target] of [
    ['shtcn', 'name'],
    ['shtcv', 'value'],
  ] as const) {
    reg.register(
      cls,
      (spec, compile) => {
        const { table, key } = parseTableKey(spec, compile);
        return {
          name: spec.text,
          get(ctx) {
            const t = tableOf(ctx, spec, table, true);
            if (!t) return null;
            try {
              return tables.count(t, target, renderPvFormat(ctx, key));
            } catch (e) {
              err(ctx, spec.text, (e as Error).message);
              return 0;
            }
          },
        };
      },
      opts,
    );
  }

  for (const [cls, delta] of [
    ['shtinc', 1],
    ['shtdec', -1],
  ] as const) {
    reg.register(
      cls,
      (spec, compile) => {
        const { table, key } = parseTableKey(spec, compile);
        return {
          name: spec.text,
          get(ctx) {
            const t = tableOf(ctx, spec, table, true);
            return t ? tables.add(t, renderPvFormat(ctx, key), delta) : null;
          },
        };
      },
      opts,
    );
  }

  const iterName = (spec: PvSpec): string => {
    const n = spec.param ?? '';
    if (n.includes('$')) throw new PvNameError(spec.text, 'dynamic iterator names are not supported');
    return n;
  };
  reg.register(
    'shtitkey',
    (spec) => {
      const name = iterName(spec);
      return { name: spec.text, get: () => tables.iteratorCurrent(name)?.key ?? null };
    },
    opts,
  );
  reg.register(
    'shtitval',
    (spec) => {
      const name = iterName(spec);
      return {
        name: spec.text,
        get() {
          const cur = tables.iteratorCurrent(name);
          return cur ? (tables.cell(cur.table, cur.key)?.value ?? null) : null;
        },
      };
    },
    opts,
  );

  reg.register(
    'shtrecord',
    (spec) => {
      const what = spec.param;
      if (what !== 'key' && what !== 'value') throw new PvNameError(spec.text, 'expected $shtrecord(key) or $shtrecord(value)');
      return {
        name: spec.text,
        get() {
          const r = expiring();
          return r ? r[what] : null;
        },
      };
    },
    opts,
  );
}
